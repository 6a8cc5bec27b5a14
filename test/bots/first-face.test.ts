import { describe, expect, it } from "vitest";
import { memeFromFirstFace } from "../../src/bots/first-face.ts";
import type { Reply } from "../../src/core/index.ts";

const picture = (number: number) => ({ image: { kind: "bytes" as const, bytes: new Uint8Array([number]) }, number });

describe("memeFromFirstFace's wording", () => {
  it("a later picture refused for another reason keeps the core's refusal as a sentence of its own", async () => {
    const replies: Reply[] = [
      { text: "I couldn't find a face in that picture.", ephemeral: true, errorCode: "NO_FACE" },
      { text: "That file is empty (0 bytes).", ephemeral: true, errorCode: "BAD_INPUT" },
    ];
    const reply = await memeFromFirstFace([picture(1), picture(2)], async () => replies.shift()!);
    expect(reply.text).toBe("Picture 1 has no face I can use, and picture 2 could not be used. That file is empty (0 bytes).");
  });
});
