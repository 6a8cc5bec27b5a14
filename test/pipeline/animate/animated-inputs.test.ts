import { readFileSync } from "node:fs";
import sharp, { type WebpOptions } from "sharp";
import { describe, expect, it } from "vitest";
import { frameCount } from "../../../src/core/input.ts";
import { MimicError } from "../../../src/errors.ts";
import { decodeReaction, MAX_REACTION_TOTAL_PIXELS, readReaction } from "../../../src/pipeline/animate/index.ts";
import { encodeGif } from "../../../src/pipeline/gif/index.ts";
import { pickFrames } from "../../../src/pipeline/image/compose.ts";
import { decodeAnimation, decodeImage } from "../../../src/pipeline/image/index.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";
import { decodeVideoReaction, findFfmpeg } from "../../../src/pipeline/video/index.ts";
import { pngData, solid, writeApng } from "./apng-writer.ts";
import { apngLayout, gifCutShort, gifLayout, gifSize, parseApng, parseWebpAnimation, webpSize } from "../../../src/pipeline/image/containers.ts";
import type { Job } from "../../../src/queue/jobs.ts";
import { workUnits } from "../../../src/queue/policy.ts";

const ONE_PIXEL = pngData(1, 1, solid(1, 1, [255, 0, 0, 255]));

/**
 * Animated (and rotated) reaction inputs read by the one path every entrance uses (readReaction, and the
 * decoders under it): a phone JPEG's EXIF orientation, APNG, long or large animated WebP, a GIF whose logical
 * screen dwarfs its frames.
 */

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../../fixtures/faces/${name}`, import.meta.url)));
const FFMPEG = findFfmpeg();
if (!FFMPEG) console.warn("GIF-through-ffmpeg tests skipped: no ffmpeg binary (@ffmpeg-installer ships none for this platform)");

const pixel = (img: RgbImage, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
const mean = (img: RgbImage) => img.data.reduce((a, b) => a + b, 0) / img.data.length;
const total = (delays: number[]) => delays.reduce((a, b) => a + b, 0);

/** A flat level with a black bar at `bar`, so no two frames are alike (an encoder merges repeats). */
function level(v: number, w: number, h: number, bar: number, alpha = false): Uint8Array {
  const c = alpha ? 4 : 3;
  const data = new Uint8Array(w * h * c).fill(v);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * c;
      if (x >= bar % (w - 4) && x < (bar % (w - 4)) + 4) data.fill(0, o, o + 3);
      if (alpha) data[o + 3] = 255;
    }
  }
  return data;
}

/** An animated WebP made by sharp (libwebp's animation encoder) from RGBA frames. */
async function webp(frames: Uint8Array[], w: number, h: number, delayMs: number, opts: WebpOptions = { quality: 60 }): Promise<Uint8Array> {
  const strip = new Uint8Array(w * h * 4 * frames.length);
  frames.forEach((f, i) => strip.set(f, i * w * h * 4));
  return new Uint8Array(
    await sharp(strip, { raw: { width: w, height: h * frames.length, channels: 4, pageHeight: h } })
      .webp({ ...opts, loop: 0, delay: frames.map(() => delayMs) })
      .toBuffer(),
  );
}

/** libwebp's own decoding of every frame (sharp reads the whole animation), flattened onto white. */
async function libwebpFrames(bytes: Uint8Array): Promise<RgbImage[]> {
  const { data, info } = await sharp(bytes, { pages: -1 }).flatten({ background: "#ffffff" }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const h = info.pageHeight ?? info.height;
  const size = info.width * h * 3;
  return Array.from({ length: info.height / h }, (_, i) => ({ width: info.width, height: h, data: new Uint8Array(data.subarray(i * size, (i + 1) * size)) }));
}

describe("EXIF orientation: a phone photo as a reaction", () => {
  it("is read upright as an animation's one frame (swap GIF, --animate, morph), as the still reader reads it", async () => {
    const upright = await decodeImage(fixture("franck_04117.jpg"));
    expect([upright.width, upright.height]).toEqual([720, 576]);
    // Stored sideways with the tag that says how to turn it, as phones write them (6: 90° clockwise, 8: anticlockwise).
    for (const [orientation, stored] of [[6, -90], [8, 90]] as const) {
      const jpeg = new Uint8Array(await sharp(fixture("franck_04117.jpg")).rotate(stored).withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer());
      expect((await sharp(jpeg).metadata()).width, "stored sideways").toBe(576);
      const still = await decodeImage(jpeg);
      for (const a of [await readReaction(jpeg), await decodeReaction(jpeg), await decodeAnimation(jpeg)]) {
        expect(a.frames.length).toBe(1);
        expect([a.width, a.height, a.frames[0]!.width, a.frames[0]!.height], `orientation ${orientation}`).toEqual([720, 576, 720, 576]);
        expect(Buffer.compare(a.frames[0]!.data, still.data), "same pixels as the still").toBe(0);
      }
    }
  });
});

describe("APNG: an animated PNG animates", () => {
  // 8×8: red, then a half-transparent blue square blended over it (and taken back), a green corner replacing
  // what is there (then cleared), a transparent square replacing the red below it.
  const frames = [
    { width: 8, height: 8, rgba: solid(8, 8, [255, 0, 0, 255]), delayMs: 100 },
    { x: 2, y: 2, width: 4, height: 4, rgba: solid(4, 4, [0, 0, 255, 128]), delayMs: 200, blend: 1, dispose: 2 },
    { width: 2, height: 2, rgba: solid(2, 2, [0, 255, 0, 255]), delayMs: 300, dispose: 1 },
    { x: 4, y: 4, width: 4, height: 4, rgba: solid(4, 4, [0, 0, 0, 0]), delayMs: 400 },
  ] as const;
  const apng = writeApng(8, 8, frames.map((f) => ({ ...f })));

  it("counts as moving at the front door, and every frame is read, drawn and cleared as browsers play it (no ffmpeg needed)", async () => {
    expect(await frameCount({ bytes: apng, mime: "image/png" })).toBe(4);
    const a = await readReaction(apng);
    expect(a.frames.length).toBe(4);
    expect(a.delaysMs).toEqual([100, 200, 300, 400]);
    const at = (f: number) => [pixel(a.frames[f]!, 0, 0), pixel(a.frames[f]!, 3, 3), pixel(a.frames[f]!, 5, 5)];
    expect(at(0)).toEqual([[255, 0, 0], [255, 0, 0], [255, 0, 0]]);
    // Half-transparent blue over red.
    expect(at(1)).toEqual([[255, 0, 0], [127, 0, 128], [127, 0, 128]]);
    // The blue square was taken back ("previous"); the green corner replaced the red.
    expect(at(2)).toEqual([[0, 255, 0], [255, 0, 0], [255, 0, 0]]);
    // The green corner was cleared ("background") and the transparent square replaced the red: white, as shown in a chat.
    expect(at(3)).toEqual([[255, 255, 255], [255, 0, 0], [255, 255, 255]]);
  });

  it("reads the same as ffmpeg's APNG reader", async () => {
    if (!FFMPEG) return;
    const { runFfmpeg } = await import("../../../src/pipeline/video/index.ts");
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "mimic-apng-"));
    try {
      writeFileSync(join(dir, "a.png"), apng);
      const ref = (await runFfmpeg(FFMPEG, ["-loglevel", "error", "-f", "apng", "-i", join(dir, "a.png"), "-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgba", "pipe:1"], { timeoutMs: 30_000 })).stdout;
      const a = await readReaction(apng);
      expect([a.frames.length, ref.length / 256]).toEqual([4, 4]);
      for (let f = 0; f < 4; f++) {
        for (let i = 0; i < 64; i++) {
          const alpha = ref[f * 256 + i * 4 + 3]!;
          for (let c = 0; c < 3; c++) {
            const onWhite = Math.round((ref[f * 256 + i * 4 + c]! * alpha + 255 * (255 - alpha)) / 255);
            expect(Math.abs(a.frames[f]!.data[i * 3 + c]! - onWhite), `frame ${f} pixel ${i}`).toBeLessThanOrEqual(1);
          }
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the front door counts frames from the chunk table as the decoder reads it, broken tables alike, without a record per frame", () => {
    const two = [
      { width: 8, height: 8, rgba: solid(8, 8, [255, 0, 0, 255]), delayMs: 100 },
      { width: 8, height: 8, rgba: solid(8, 8, [0, 0, 255, 255]), delayMs: 100 },
    ];
    const declaring = (n: number, bytes: Uint8Array) => {
      // acTL's frame count patched (its CRC is not checked by either reader).
      const out = bytes.slice();
      const at = Buffer.from(out).indexOf("acTL") + 4;
      new DataView(out.buffer).setUint32(at, n);
      return out;
    };
    const cases: Record<string, Uint8Array> = {
      valid: apng,
      "default image": writeApng(8, 8, two, { defaultImage: solid(8, 8, [0, 255, 0, 255]) }),
      "declares more": declaring(5, apng),
      "declares fewer": declaring(2, apng),
      "a frame outside the canvas": writeApng(8, 8, [two[0]!, { ...two[1]!, x: 4 }]),
      "a frame without data": writeApng(8, 8, [two[0]!, { ...two[1]!, data: Buffer.alloc(0) }]),
      "plain PNG": writeApng(8, 8, [two[0]!]),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      const parsed = parseApng(bytes);
      expect(apngLayout(bytes), name).toEqual(parsed && { width: parsed.width, height: parsed.height, frames: parsed.frames.length });
    }
    expect(apngLayout(apng)).toEqual({ width: 8, height: 8, frames: 4 });
    // acTL may follow the first frame control, as long as both come before the image data.
    const actlAt = Buffer.from(apng).indexOf("acTL") - 4;
    const fctlEnd = actlAt + 20 + 38;
    const late = new Uint8Array([...apng.subarray(0, actlAt), ...apng.subarray(actlAt + 20, fctlEnd), ...apng.subarray(actlAt, actlAt + 20), ...apng.subarray(fctlEnd)]);
    expect(Buffer.from(late).indexOf("fcTL")).toBeLessThan(Buffer.from(late).indexOf("acTL"));
    expect(apngLayout(late)).toEqual({ width: 8, height: 8, frames: 4 });
    expect(parseApng(late)?.frames).toHaveLength(4);
    // A 6 MB table of 200 000 one-pixel frames (QA: such a file stalled the bot's event loop for a second).
    const many = writeApng(4, 4, Array.from({ length: 200_000 }, (_, i) => ({ x: i % 4, y: 0, width: 1, height: 1, rgba: solid(1, 1, [i % 256, 0, 0, 255]), delayMs: 20, data: i === 0 ? undefined : ONE_PIXEL })).map((f, i) => (i === 0 ? { ...f, x: 0, width: 4, height: 4, rgba: solid(4, 4, [0, 0, 0, 255]) } : f)));
    expect(apngLayout(many)?.frames).toBe(200_000);
    expect(workUnits({ kind: "animated", reaction: { bytes: many, mime: "image/png" } } as Job)).toBeCloseTo((200_000 * 16) / 1e6, 6);
    // A GIF of as many frames, read without a record per frame as the front door and the queue read it.
    const gif = (n: number) => {
      const head = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 4, 0, 4, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255];
      const frame = [0x21, 0xf9, 4, 0, 2, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4c, 0x01, 0];
      return new Uint8Array([...head, ...Array.from({ length: n }, () => frame).flat(), 0x3b]);
    };
    expect(gifSize(gif(200_000))).toEqual({ width: 4, height: 4, frames: 200_000 });
    expect(gifSize(gif(3))?.frames).toBe(gifLayout(gif(3))!.frames.length);
    expect(gifCutShort(gif(3).subarray(0, 40))).toBe(true);
  });

  it("a still made from an APNG is its first frame, not a default image kept outside the animation", async () => {
    const withDefault = writeApng(8, 8, [
      { width: 8, height: 8, rgba: solid(8, 8, [0, 255, 0, 255]), delayMs: 100 },
      { width: 8, height: 8, rgba: solid(8, 8, [0, 0, 255, 255]), delayMs: 100 },
    ], { defaultImage: solid(8, 8, [255, 0, 0, 255]) });
    const still = await readReaction(withDefault, { still: true });
    expect(still.frames.length).toBe(1);
    expect(pixel(still.frames[0]!, 4, 4)).toEqual([0, 255, 0]);
    expect((await readReaction(withDefault)).frames.map((f) => pixel(f, 4, 4))).toEqual([[0, 255, 0], [0, 0, 255]]);
  });

  it("a long APNG is sampled over its whole length, a large one scaled; frames past 20 s are never read", async () => {
    // 100 frames of 40 ms, dark for the first half, bright for the second.
    const long = writeApng(96, 80, Array.from({ length: 100 }, (_, i) => ({ width: 96, height: 80, rgba: level(i < 50 ? 40 : 200, 96, 80, i, true), delayMs: 40 })));
    const a = await readReaction(long);
    expect(a.frames.length).toBe(48);
    expect(total(a.delaysMs)).toBe(4000);
    expect(mean(a.frames[0]!)).toBeLessThan(60);
    expect(mean(a.frames[47]!)).toBeGreaterThan(170);
    // 48 frames of 640×512: over the pixel budget, so scaled to fit.
    const frame = pngData(640, 512, level(120, 640, 512, 0, true));
    const large = writeApng(640, 512, Array.from({ length: 48 }, () => ({ width: 640, height: 512, rgba: new Uint8Array(0), data: frame, delayMs: 80 })));
    const fitted = await readReaction(large);
    expect(fitted.frames.length).toBe(48);
    expect(fitted.width * fitted.height * 48).toBeLessThanOrEqual(MAX_REACTION_TOTAL_PIXELS);
    expect(fitted.width / fitted.height).toBeCloseTo(1.25, 1);
    // Five minutes of 100 ms frames: only the first 20 s are read (each frame's brightness is its number).
    const minutes = writeApng(16, 16, Array.from({ length: 3000 }, (_, i) => ({ width: 16, height: 16, rgba: solid(16, 16, [i % 250, i % 250, i % 250, 255]), delayMs: 100 })));
    const m = await readReaction(minutes);
    expect(total(m.delaysMs)).toBe(20_000);
    expect(pixel(m.frames.at(-1)!, 0, 0)[0]).toBeLessThan(200);
  }, 60_000);
});

describe("animated WebP: read like a GIF, not cut or refused", () => {
  it("a WebP of more than 48 frames is sampled over its whole length (the laugh at its end arrives)", async () => {
    const frames = Array.from({ length: 100 }, (_, i) => level(i < 50 ? 40 : 200, 96, 80, i * 2, true));
    const bytes = await webp(frames, 96, 80, 40);
    // The queue sizes it on the main thread, counting what the decoder will read.
    expect(webpSize(bytes)).toEqual({ width: 96, height: 80, frames: parseWebpAnimation(bytes)!.frames.length });
    expect(workUnits({ kind: "animated", reaction: { bytes, mime: "image/webp" } } as Job)).toBeCloseTo((100 * 96 * 80) / 1e6, 6);
    const a = await readReaction(bytes);
    expect(a.frames.length).toBe(48);
    expect(total(a.delaysMs)).toBe(4000);
    expect(mean(a.frames[0]!)).toBeLessThan(60);
    expect(mean(a.frames[47]!)).toBeGreaterThan(170);
  }, 60_000);

  it("a WebP over the pixel budget is scaled to fit, not refused", async () => {
    const bytes = await webp(Array.from({ length: 48 }, (_, i) => level(120, 640, 512, i * 8, true)), 640, 512, 80, { quality: 30, effort: 0 });
    const a = await readReaction(bytes);
    expect(a.frames.length).toBe(48);
    expect(a.width * a.height * a.frames.length).toBeLessThanOrEqual(MAX_REACTION_TOTAL_PIXELS);
    expect(a.width / a.height).toBeCloseTo(1.25, 1);
  }, 60_000);

  it("each sampled frame is the one libwebp itself shows at that moment (sub-rectangles, blending, transparency)", async () => {
    // Lossy colour with an alpha plane; only a moving square changes, so libwebp stores sub-rectangles that blend.
    const w = 64, h = 48;
    const frames = Array.from({ length: 60 }, (_, i) => {
      const f = solid(w, h, [30, 120, 200, 255]);
      for (let y = 0; y < h; y++) for (let x = 0; x < 20; x++) f[(y * w + x) * 4 + 3] = 0;
      for (let y = 10; y < 20; y++) for (let x = 20 + (i % 40); x < 30 + (i % 40); x++) f.set([250, 240, 10, 255], (y * w + x) * 4);
      return f;
    });
    const bytes = await webp(frames, w, h, 30, { quality: 80, alphaQuality: 100 });
    const reference = await libwebpFrames(bytes);
    const a = await readReaction(bytes);
    const picked = pickFrames(frames.map(() => 30), 48);
    expect(a.frames.length).toBe(picked.index.length);
    picked.index.forEach((i, k) => expect(Buffer.compare(a.frames[k]!.data, reference[i]!.data), `frame ${k} (source ${i})`).toBe(0));
  }, 60_000);
});

describe.skipIf(!FFMPEG)("a GIF whose logical screen dwarfs its frames", () => {
  /** A GIF of `n` frames of 96×80 at 0,0 (dark, then bright), its header claiming a screen of `screen`². */
  async function bigScreenGif(n: number, screen: number): Promise<Uint8Array> {
    const frames = Array.from({ length: n }, (_, i) => ({ width: 96, height: 80, data: level(i < n / 2 ? 40 : 200, 96, 80, i * 2) }));
    const bytes = (await encodeGif(frames, { delaysMs: 50 })).bytes.slice();
    new DataView(bytes.buffer, bytes.byteOffset).setUint16(6, screen, true);
    new DataView(bytes.buffer, bytes.byteOffset).setUint16(8, screen, true);
    return bytes;
  }

  it("is read at its frames' area, quickly, by ffmpeg (more than 48 frames) as by sharp", async () => {
    for (const screen of [65535, 6000]) {
      const t0 = performance.now();
      const a = await readReaction(await bigScreenGif(60, screen), { ffmpegPath: FFMPEG });
      expect([a.frames.length, a.width, a.height], `screen ${screen}`).toEqual([48, 96, 80]);
      expect(performance.now() - t0, `screen ${screen}: ms`).toBeLessThan(10_000);
      expect(mean(a.frames[0]!)).toBeLessThan(60);
      expect(mean(a.frames[47]!)).toBeGreaterThan(170);
      const short = await readReaction(await bigScreenGif(3, screen), { ffmpegPath: FFMPEG });
      expect([short.frames.length, short.width, short.height]).toEqual([3, 96, 80]);
    }
  }, 60_000);

  it("a GIF ffmpeg cannot read is called damaged, not a video", async () => {
    const broken = new Uint8Array([...new TextEncoder().encode("GIF89a"), 0x60, 0, 0x50, 0, 0xf7, 0, 0, 1, 2, 3]);
    const e = await decodeVideoReaction(broken, FFMPEG!, { maxPixels: 40_000_000, maxFrames: 48, maxTotalPixels: MAX_REACTION_TOTAL_PIXELS, gif: true }).then(
      () => undefined,
      (x: unknown) => x as MimicError,
    );
    expect(e).toBeInstanceOf(MimicError);
    expect([e!.code, e!.userMessage]).toEqual(["NOT_AN_IMAGE", "That file looks damaged or incomplete (maybe the upload was cut off). Please send it again."]);
  }, 60_000);
});
