import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPlayground, type Playground } from "../../src/bots/playground/server.ts";
import { FACE_JPG, REACTION_LAUGH_JPG, describeImage, reactionGif } from "../core/images.ts";
import { startTestApp, type TestApp } from "./harness.ts";

/**
 * Issue #15's "one front door" defects, each through the real playground HTTP server, the real command
 * core, queue and pipeline handlers (face models included).
 */

let app: TestApp;
let playground: Playground;

interface Answer {
  status: number;
  body: { ok: boolean; text: string; errorCode?: string; file?: { mime: string; dataUrl: string; width: number; height: number } };
}

async function post(path: string, fields: Record<string, string>, file?: { field: string; bytes: Uint8Array; name: string }): Promise<Answer> {
  const form = new FormData();
  if (file) form.set(file.field, new Blob([file.bytes]), file.name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const res = await fetch(new URL(path, playground.url), { method: "POST", body: form, headers: { "x-mimic": "1" } });
  return { status: res.status, body: (await res.json()) as Answer["body"] };
}

const meme = (fields: Record<string, string>, bytes: Uint8Array = REACTION_LAUGH_JPG, name = "r.jpg") =>
  post("/api/meme", fields, { field: "image", bytes, name });

beforeAll(async () => {
  app = await startTestApp();
  playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: 25 * 1024 * 1024 });
  const saved = await post("/api/faces", { name: "me" }, { field: "photo", bytes: FACE_JPG, name: "me.jpg" });
  expect(saved.body.text).toContain("Saved your face");
});
afterAll(async () => {
  await playground?.close();
  await app?.close();
});

describe("playground: one front door", () => {
  it("refuses an unknown mode by name (mode=evil was accepted)", async () => {
    const a = await meme({ mode: "evil" });
    expect(a.body).toMatchObject({ ok: false, errorCode: "BAD_INPUT" });
    expect(a.body.text).toBe("mode must be mimic or swap (got “evil”).");
    expect((await meme({ mode: "swap" })).body.file?.mime).toBe("image/png");
  });

  it("refuses TIFF in the same words as the CLI", async () => {
    const tiff = await sharp(REACTION_LAUGH_JPG).tiff().toBuffer();
    const a = await meme({}, new Uint8Array(tiff), "r.tiff");
    expect(a.body).toMatchObject({ ok: false, errorCode: "NOT_AN_IMAGE" });
    expect(a.body.text).toBe("That file is not a picture I can use. Please send a JPEG, PNG, WebP or GIF image, or an MP4 or WebM clip.");
  });

  it("refuses an unknown field by name", async () => {
    const a = await meme({ top: "hi", colour: "red" });
    expect(a.body).toMatchObject({ ok: false, errorCode: "BAD_INPUT" });
    expect(a.body.text).toMatch(/^Unknown field “colour”\. Known fields: top, bottom, template, intensity, mode, regions, animated, keepCase\.$/);
    // An adapter's own flag is no form field either.
    expect((await meme({ top: "hi", othersToTry: "true" })).body.text).toMatch(/^Unknown field “othersToTry”\. Known fields: /);
    const face = await post("/api/faces", { name: "x", extra: "1" }, { field: "photo", bytes: FACE_JPG, name: "me.jpg" });
    expect(face.body.text).toMatch(/^Unknown field “extra”/);
  });

  it("a caption over the limit is refused by its length, not cut at 4096 bytes (2,100 × é)", async () => {
    const a = await meme({ top: "é".repeat(2100) });
    expect(a.body).toMatchObject({ ok: false, errorCode: "BAD_INPUT" });
    expect(a.body.text).toBe("The top caption is too long (2100 characters): the limit is 200 characters per caption.");
    // A field longer than any caption can be is refused by name, never truncated.
    const b = await meme({ top: "x".repeat(20_000) });
    expect(b.body.text).toMatch(/^The field “top” is too long: the limit is \d+ bytes\.$/);
  });

  it("captions are prepared once, in the worker that draws them: what it left out reaches the reply", async () => {
    // Ethiopic has no bundled font; 30 stacked marks are cut to 4. The front door only checks the length.
    const a = await meme({ top: "hi ሰ", bottom: "o" + "\u0301".repeat(30) });
    expect(a.body).toMatchObject({ ok: true, file: { mime: "image/png" } });
    expect(a.body.text).toMatch(/^Here you go, using your face “me”\. /);
    expect(a.body.text).toContain("I have no font for ሰ (U+1230), so it was left out of the caption.");
    expect(a.body.text).toContain("Stacked marks were cut to 4 per letter.");
    // The same for animations (prepared by the same assembly).
    const gif = await meme({ top: "hi ሰ", animated: "on" });
    expect(gif.body.file?.mime).toBe("image/gif");
    expect(gif.body.text).toContain("I have no font for ሰ (U+1230)");
  });

  it("fields beyond the 20th refuse the form instead of being dropped (the caption among them)", async () => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < 20; i++) fields[`pad${i}`] = "x";
    fields.top = "dropped before";
    const a = await meme(fields);
    expect(a.body).toMatchObject({ ok: false, errorCode: "BAD_INPUT", text: "Too many form fields: the limit is 20." });
  });

  it("a file sent to a form that takes none is refused in words, not 'the limit is 0.00 MiB'", async () => {
    const a = await post("/api/faces/default", { name: "me" }, { field: "photo", bytes: FACE_JPG, name: "me.jpg" });
    expect(a.body).toMatchObject({ ok: false, errorCode: "BAD_INPUT", text: "This request takes no file." });
    expect(a.body.text).not.toMatch(/MiB/);
  });

  it("an animated WebP gives an animated answer, like a GIF (it became a still PNG)", async () => {
    const webp = await sharp(await reactionGif(REACTION_LAUGH_JPG, 3), { animated: true }).webp({ lossless: true }).toBuffer();
    expect((await describeImage(webp)).pages).toBe(3);
    const a = await meme({}, new Uint8Array(webp), "r.webp");
    expect(a.body.text).toContain("Here you go");
    expect(a.body.file?.mime).toBe("image/gif");
    const gif = Buffer.from(a.body.file!.dataUrl.split(",")[1]!, "base64");
    expect((await describeImage(gif)).pages).toBeGreaterThan(1);
  });

  it("a still GIF larger than an animation may be is a still picture (was 'at most 0 frames fit')", async () => {
    const big = await sharp(REACTION_LAUGH_JPG).resize(3600, 3600).gif({ colours: 32, effort: 1 }).toBuffer();
    expect((await describeImage(big)).pages).toBe(1);
    const a = await meme({ top: "big" }, new Uint8Array(big), "big.gif");
    expect(a.body.text).not.toMatch(/frames fit/);
    expect(a.body).toMatchObject({ ok: true });
    expect(a.body.file).toMatchObject({ mime: "image/png" });
  });

  it("form strings are read by the same rules as typed options: intensity, switches", async () => {
    expect((await meme({ intensity: "150" })).body.text).toBe("intensity must be a number from 0 to 100 (percent) (got “150”).");
    expect((await meme({ animated: "maybe" })).body.text).toBe("animated must be on or off (got “maybe”).");
    const gif = await meme({ animated: "on", intensity: "50" });
    expect(gif.body.file?.mime).toBe("image/gif");
  });
});
