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

  it("passes over pictures refused for themselves (no face, a face it cannot use, not a picture), each reason said once; a result too large stops there", async () => {
    const replies: Reply[] = [
      { text: "no face", ephemeral: true, errorCode: "NO_FACE" },
      { text: "not a picture", ephemeral: true, errorCode: "NOT_AN_IMAGE" },
      { text: "also no face", ephemeral: true, errorCode: "NO_FACE" },
      { text: "Here you go.", ephemeral: false },
    ];
    const made = await memeFromFirstFace([1, 2, 3, 4].map(picture), async () => replies.shift()!);
    expect(made.text).toBe("Here you go. Pictures 1 and 3 have no face I can use, picture 2 is not a picture I can read, so this is made from picture 4.");
    const none = await memeFromFirstFace([1, 2].map(picture), async (image) =>
      image.kind === "bytes" && image.bytes[0] === 1
        ? { text: "not a picture", ephemeral: true, errorCode: "NOT_AN_IMAGE" }
        : { text: "Cut off: send the whole face.", ephemeral: true, errorCode: "FACE_UNUSABLE" },
    );
    // IMAGE_TOO_LARGE is also the core's word for a result too large for the chat: no reason to render the next one.
    const tooLarge = await memeFromFirstFace([1, 2].map(picture), async () => ({ text: "The result is larger than this chat allows.", ephemeral: true, errorCode: "IMAGE_TOO_LARGE" }));
    expect(tooLarge.text).toBe("The result is larger than this chat allows.");
    expect(none).toMatchObject({
      errorCode: "FACE_UNUSABLE",
      text: "None of the 2 pictures in that message could be used. Picture 1 is not a picture I can read, picture 2 has a face I could not use. Cut off: send the whole face.",
    });
  });
});
