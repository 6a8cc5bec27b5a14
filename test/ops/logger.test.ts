import { Writable } from "node:stream";
import { DiscordAPIError } from "@discordjs/rest";
import { GrammyError, InputFile } from "grammy";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { errWithoutBytes, logger } from "../../src/logger.ts";

/** One line as the app's logger writes it: its own serializers, into a string. */
function logged(err: unknown): string {
  let line = "";
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => ((line += chunk.toString()), done()) });
  const log = pino({ level: "error", serializers: { err: errWithoutBytes } }, sink);
  log.error({ err }, "upload failed");
  return line;
}

describe("logged errors carry no picture bytes", () => {
  const picture = new Uint8Array(200_000).fill(137);

  it("a failed Discord upload: the request body's file is its length, the rest of the error stays", () => {
    const err = new DiscordAPIError({ code: 50013, message: "Missing Permissions" }, 50013, 403, "PATCH", "https://discord.test/api/webhooks/1/t/messages/@original", {
      files: [{ name: "mimic-me.png", data: Buffer.from(picture), contentType: "image/png" }],
      body: { content: "Here you go" },
    });
    const line = logged(err);
    expect(line.length).toBeLessThan(3000);
    expect(line).toContain('"data":"[200000 bytes]"');
    expect(line).toContain('"status":403');
    expect(line).toContain("Missing Permissions");
    expect(line).not.toContain("137,137");
  });

  it("a failed Telegram upload: the InputFile's bytes in the payload are their length", () => {
    const err = new GrammyError("Call to 'sendPhoto' failed!", { ok: false, error_code: 400, description: "Bad Request: PHOTO_INVALID_DIMENSIONS" }, "sendPhoto", {
      chat_id: 1,
      photo: new InputFile(picture, "mimic.png"),
    });
    const line = logged(err);
    expect(line.length).toBeLessThan(3000);
    expect(line).toContain("PHOTO_INVALID_DIMENSIONS");
    expect(line).not.toContain("137,137");
  });

  it("is the app logger's serializer for `err`", () => {
    expect((logger as unknown as { [k: symbol]: unknown })[pino.symbols.serializersSym]).toMatchObject({ err: errWithoutBytes });
  });
});
