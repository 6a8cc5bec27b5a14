import { readFileSync } from "node:fs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPlayground, type Playground } from "../../../src/bots/playground/server.ts";
import { findFfmpeg } from "../../../src/pipeline/video/index.ts";
import { startTestApp, type TestApp } from "../../bots/harness.ts";
import { FACE_JPG, describeImage, reactionGif, reactionMp4 } from "../../core/images.ts";
import { writeApng } from "./apng-writer.ts";

/**
 * Animated reactions through the real playground HTTP server, command core, queue and pipeline handlers (face
 * models included): an APNG animates; a GIF whose logical screen dwarfs its frames is read at its frames' area.
 */

const FFMPEG = findFfmpeg();
if (!FFMPEG) console.warn("big-screen GIF test skipped: no ffmpeg binary (@ffmpeg-installer ships none for this platform), and a GIF of more than 48 frames is read by ffmpeg");
const fixture = (name: string) => new URL(`../../fixtures/faces/${name}`, import.meta.url).pathname;

let app: TestApp;
let playground: Playground;

interface Answer {
  ok: boolean;
  text: string;
  errorCode?: string;
  file?: { mime: string; dataUrl: string };
}

async function post(path: string, fields: Record<string, string>, file: { field: string; bytes: Uint8Array; name: string }): Promise<Answer> {
  const form = new FormData();
  form.set(file.field, new Blob([file.bytes]), file.name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const res = await fetch(new URL(path, playground.url), { method: "POST", body: form, headers: { "x-mimic": "1" } });
  return (await res.json()) as Answer;
}

const meme = (bytes: Uint8Array, name: string) => post("/api/meme", {}, { field: "image", bytes, name });
const answerFile = (a: Answer) => new Uint8Array(Buffer.from(a.file!.dataUrl.split(",")[1]!, "base64"));

/** RGBA of the reaction photos at 240 px: franck at rest, then laughing. */
async function restAndLaugh() {
  return Promise.all(
    ["franck_01829.jpg", "franck_04117.jpg"].map(async (f) => {
      const { data, info } = await sharp(fixture(f)).resize({ width: 240 }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      return { rgba: new Uint8Array(data), width: info.width, height: info.height };
    }),
  );
}

/** The laugh beside grace at half size (as one JPEG): a group reaction, the laugh the larger face. */
async function twoFaces(): Promise<Uint8Array> {
  const laugh = sharp(fixture("franck_04117.jpg"));
  const { width = 0, height = 0 } = await laugh.metadata();
  const grace = await sharp(fixture("grace_hopper_512x512.jpg")).resize(256).toBuffer();
  const pair = laugh.extend({ right: 300, background: "#808080" }).composite([{ input: grace, left: width + 20, top: Math.round((height - 256) / 2) }]);
  return new Uint8Array(await pair.jpeg().toBuffer());
}

const DAMAGED = "That file looks damaged or incomplete (maybe the upload was cut off). Please send it again.";

beforeAll(async () => {
  app = await startTestApp();
  playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: 25 * 1024 * 1024 });
  const saved = await post("/api/faces", { name: "me" }, { field: "photo", bytes: FACE_JPG, name: "me.jpg" });
  expect(saved.text).toContain("Saved your face");
});
afterAll(async () => {
  await playground?.close();
  await app?.close();
});

describe("playground: animated reactions", () => {
  it("an APNG gives an animated answer, like the same frames as a GIF (it was a still PNG, with no word why)", async () => {
    const [rest, laugh] = await restAndLaugh();
    const apng = writeApng(rest!.width, rest!.height, [rest, rest, laugh, laugh].map((im) => ({ width: im!.width, height: im!.height, rgba: im!.rgba, delayMs: 200 })));
    const a = await meme(apng, "reaction.png");
    expect(a.text).toContain("Here you go");
    expect(a.file?.mime).toBe("image/gif");
    expect((await describeImage(answerFile(a))).pages).toBeGreaterThan(1);
  });

  it.skipIf(!FFMPEG)("a GIF of 60 frames with a 65535×65535 logical screen is animated quickly, not called a damaged video", async () => {
    const [rest, laugh] = await restAndLaugh();
    const { GIFEncoder, quantize, applyPalette } = (await import("gifenc")) as unknown as {
      GIFEncoder: () => { writeFrame(i: Uint8Array, w: number, h: number, o: { palette: number[][]; delay?: number }): void; finish(): void; bytes(): Uint8Array };
      quantize: (rgba: Uint8Array, n: number) => number[][];
      applyPalette: (rgba: Uint8Array, p: number[][]) => Uint8Array;
    };
    const palette = quantize(new Uint8Array([...rest!.rgba, ...laugh!.rgba]), 256);
    const [ri, li] = [applyPalette(rest!.rgba, palette), applyPalette(laugh!.rgba, palette)];
    const enc = GIFEncoder();
    for (let i = 0; i < 60; i++) enc.writeFrame(Math.floor(i / 10) % 2 ? li : ri, rest!.width, rest!.height, { palette, delay: 100 });
    enc.finish();
    const bytes = enc.bytes().slice();
    // The header claims a screen of 65535×65535; the frames sit at 0,0.
    new DataView(bytes.buffer).setUint16(6, 65535, true);
    new DataView(bytes.buffer).setUint16(8, 65535, true);
    const t0 = performance.now();
    const a = await meme(bytes, "huge-screen.gif");
    expect(a.text).not.toMatch(/video/);
    expect(a).toMatchObject({ ok: true });
    expect(a.file?.mime).toBe("image/gif");
    expect((await describeImage(answerFile(a))).pages).toBeGreaterThan(1);
    expect(performance.now() - t0).toBeLessThan(60_000);
  });
});

describe("playground: what every answer says", () => {
  it("a reaction with two faces says which it used, still or animated", async () => {
    const note = "The reaction shows 2 faces; I used the largest.";
    const pair = await twoFaces();
    const still = await meme(pair, "pair.jpg");
    expect(still).toMatchObject({ ok: true });
    expect(still.text).toContain(note);
    // The same picture animated: a morph into its largest face's expression.
    const morphed = await post("/api/morph", {}, { field: "image", bytes: pair, name: "pair.jpg" });
    expect(morphed.file?.mime).toBe("image/gif");
    expect(morphed.text).toContain(note);
    const animatedStill = await post("/api/meme", { animated: "on" }, { field: "image", bytes: pair, name: "pair.jpg" });
    expect(animatedStill.file?.mime).toBe("image/gif");
    expect(animatedStill.text).toContain(note);
    // An animated reaction: its faces are found frame by frame in the pipeline.
    const moving = await meme(await reactionGif(Buffer.from(pair), 3, 800), "pair.gif");
    expect(moving.file?.mime).toBe("image/gif");
    expect(moving.text).toContain(note);
  });

  it.skipIf(!FFMPEG)("a clip cut off on its way is damaged, in the same words as a picture", async () => {
    const clip = await reactionMp4(FFMPEG!);
    expect(await meme(clip.slice(0, 600), "cut.mp4")).toMatchObject({ ok: false, errorCode: "NOT_AN_IMAGE", text: DAMAGED });
  });

  it("a PNG cut off after 20 bytes is damaged, as a face and as a reaction", async () => {
    const cut = new Uint8Array(readFileSync(fixture("astronaut.png")).subarray(0, 20));
    expect(await meme(cut, "cut.png")).toMatchObject({ ok: false, errorCode: "NOT_AN_IMAGE", text: DAMAGED });
    expect(await post("/api/faces", { name: "cut" }, { field: "photo", bytes: cut, name: "cut.png" })).toMatchObject({ ok: false, errorCode: "NOT_AN_IMAGE", text: DAMAGED });
  });
});
