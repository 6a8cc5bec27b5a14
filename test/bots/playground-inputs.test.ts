import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startPlayground, type Playground } from "../../src/bots/playground/server.ts";
import type { CommandContext } from "../../src/core/index.ts";
import { FACE_JPG, NOT_AN_IMAGE, REACTION_LAUGH_JPG, reactionGif } from "../core/images.ts";
import { postForm } from "../helpers/playground-form.ts";
import { DOUBLE_HANDLERS, startTestApp, type TestApp } from "./harness.ts";

/**
 * What the real playground server says of unusable uploads, and its settings that could shut its one user out
 * (double handlers: no face models; the refusals here come before any job, or from the front door).
 */

let app: TestApp;
let playground: Playground | undefined;

beforeEach(async () => {
  app = await startTestApp({}, { handlers: DOUBLE_HANDLERS });
});
afterEach(async () => {
  await playground?.close();
  playground = undefined;
  await app?.close();
});

const start = async () => (playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: 3 << 20 }));

const post = (path: string, fields: Record<string, string>, file?: Parameters<typeof postForm>[3]) => postForm(playground!.url, path, fields, file);

const saveFace = () => post("/api/faces", { name: "me" }, { field: "photo", bytes: FACE_JPG, filename: "me.jpg" });
const meme = () => post("/api/meme", {}, { field: "image", bytes: REACTION_LAUGH_JPG, filename: "r.jpg" });

const EMPTY = "That file is empty (0 bytes). Please send the picture again.";
const DAMAGED = "That file looks damaged or incomplete (maybe the upload was cut off). Please send it again.";

describe("playground: unusable uploads", () => {
  it("a 0-byte file is called empty (face and reaction alike); a file input left blank is still no file", async () => {
    await start();
    const empty = (path: string) => post(path, path === "/api/faces" ? { name: "me" } : {}, { field: "image", bytes: new Uint8Array(0), filename: "empty.png" });
    expect(await empty("/api/faces")).toMatchObject({ ok: false, errorCode: "BAD_INPUT", text: EMPTY });
    expect(await saveFace()).toMatchObject({ ok: true });
    expect(await empty("/api/meme")).toMatchObject({ ok: false, errorCode: "BAD_INPUT", text: EMPTY });
    expect(await empty("/api/morph")).toMatchObject({ ok: false, errorCode: "BAD_INPUT", text: EMPTY });
    const blank = await post("/api/meme", {}, { field: "image", bytes: new Uint8Array(0), filename: "" });
    expect(blank).toMatchObject({ ok: false, errorCode: "BAD_INPUT", text: "Choose a picture first." });
  });

  it("a GIF cut off in its header is damaged, in the words every entry point uses; a non-picture names only what each form takes", async () => {
    await start();
    expect(await saveFace()).toMatchObject({ ok: true });
    const cut = (await reactionGif(undefined, 4, 240)).subarray(0, 100);
    expect(await post("/api/meme", {}, { field: "image", bytes: cut, filename: "cut.gif" })).toMatchObject({ ok: false, errorCode: "NOT_AN_IMAGE", text: DAMAGED });
    // A reaction may be a clip; a face photo may not.
    expect((await post("/api/meme", {}, { field: "image", bytes: NOT_AN_IMAGE, filename: "doc.png" })).text).toBe(
      "That file is not a picture I can use. Please send a JPEG, PNG, WebP or GIF image, or an MP4 or WebM clip.",
    );
    expect((await post("/api/faces", { name: "doc" }, { field: "photo", bytes: NOT_AN_IMAGE, filename: "doc.png" })).text).toBe(
      "That file is not a picture I can use. Please send a JPEG, PNG, WebP or GIF image.",
    );
  });
});

describe("playground: its one user cannot shut themselves out", () => {
  it("refuses switching Mimic off or keeping it to channels, saying why; memes go on", async () => {
    await start();
    expect(await saveFace()).toMatchObject({ ok: true });
    for (const value of ["off", "OFF", "0", "disabled"]) {
      const off = await post("/api/config", { key: "enabled", value });
      expect(off, value).toMatchObject({ ok: false, errorCode: "BAD_INPUT", text: "The playground cannot be switched off: you are its only user. To stop it, press Ctrl+C where it runs." });
    }
    expect(await post("/api/config", { key: "channel", value: "add 123" })).toMatchObject({ ok: false, text: "The playground has no channels: Mimic answers on this page only." });
    expect((await meme()).text).toContain("Here you go");
    // What cannot shut anyone out still reaches the core.
    expect((await post("/api/config", { key: "enabled", value: "on" })).ok).toBe(true);
    expect((await post("/api/config", { key: "channel", value: "all" })).ok).toBe(true);
    expect((await post("/api/config", { key: "animated", value: "off" })).ok).toBe(true);
    expect((await post("/api/config", {})).text).toContain("• enabled: on");
  });

  it("refusals name the playground, not a server", async () => {
    await start();
    expect(await saveFace()).toMatchObject({ ok: true });
    expect((await post("/api/config", { key: "server_quota", value: "1" })).ok).toBe(true);
    expect((await meme()).text).toContain("Here you go");
    expect(await meme()).toMatchObject({ ok: false, errorCode: "QUOTA_EXCEEDED", text: expect.stringMatching(/^The playground has used its one meme for today\. More in /) });
  });

  it("a store switched off (or kept to another channel) before is usable again once the playground starts", async () => {
    // The playground's own user and server, as the playground's requests name them.
    const local: CommandContext = { platform: "playground", userId: "local", serverId: "playground", channelId: "playground", isAdmin: true, requestId: "t", attachmentLimitBytes: 3 << 20 };
    expect((await app.core.config(local, { key: "enabled", value: "off" })).errorCode).toBeUndefined();
    expect((await app.core.config(local, { key: "channel", value: "add 123" })).errorCode).toBeUndefined();
    await start();
    expect(await saveFace()).toMatchObject({ ok: true });
    expect((await meme()).text).toContain("Here you go");
  });
});
