import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captionFrames, renderFaceMorphGif } from "../../../src/pipeline/animate/index.ts";
import { createFaceAnalyzer, type FaceAnalyzer } from "../../../src/pipeline/face/index.ts";
import { decodeImage, resizeImage } from "../../../src/pipeline/image/index.ts";
import { prepareCaptions } from "../../../src/pipeline/render/index.ts";
import type { AnalyzedFace, RgbImage } from "../../../src/pipeline/types.ts";
import { decodeGifFrames, psnr } from "../gif/helpers.ts";

/**
 * A GIF over its byte budget is scaled down by the encoder's ladder. Its captions must then be laid out at the
 * size delivered (small-caption emoji and word gaps), not drawn at the animation's size and shrunk with it.
 */
const fixture = (n: string) => fileURLToPath(new URL(`../../fixtures/faces/${n}`, import.meta.url));
let analyzer: FaceAnalyzer;
const img: Record<string, RgbImage> = {};
const face: Record<string, AnalyzedFace> = {};

beforeAll(async () => {
  analyzer = await createFaceAnalyzer({ provider: "cpu", threads: 1 });
  for (const n of ["franck_02221.jpg", "grace_hopper_512x512.jpg"]) {
    img[n] = await decodeImage(new Uint8Array(readFileSync(fixture(n))));
    face[n] = (await analyzer.analyze(img[n])).faces[0]!;
  }
});
afterAll(async () => analyzer?.dispose());

describe("captions of an animation scaled to fit its byte budget", () => {
  it("are drawn at the delivered size: the first frame matches captions laid out there, not shrunk ones", async () => {
    const { captions } = prepareCaptions({ top: "КОГДА ДРУГ ПИШЕТ 😂😂", bottom: "ΑΥΤΟ ΕΙΝΑΙ 🔥 OK 👍" });
    const a = img["grace_hopper_512x512.jpg"];
    const { gif } = await renderFaceMorphGif({
      a,
      aFace: face["grace_hopper_512x512.jpg"],
      b: img["franck_02221.jpg"],
      bFace: face["franck_02221.jpg"],
      size: 384,
      captions,
      maxBytes: 40_000,
    });
    expect(gif.bytes.length).toBeLessThanOrEqual(40_000);
    expect(gif.reductions.some((r) => r.startsWith("scaled to "))).toBe(true);
    const { width, height } = gif;
    expect(width).toBeLessThan(384);
    // The morph's first frame is `a` itself at the animation's size.
    const first = resizeImage(a, 384, 384);
    const laidOut = (await captionFrames([resizeImage(first, width, height)], captions))[0];
    const shrunk = resizeImage((await captionFrames([first], captions))[0], width, height);
    const delivered = (await decodeGifFrames(gif.bytes)).frames[0];
    // The captions are what differs between the two references; the delivered frame is much nearer the first.
    expect(psnr(delivered, laidOut)).toBeGreaterThan(psnr(delivered, shrunk) + 3);
  }, 180_000);
});
