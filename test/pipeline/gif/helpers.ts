import sharp from "sharp";
import type { RgbImage } from "../../../src/pipeline/types.ts";

/** Decodes every frame of a GIF as the viewer shows it (sharp composes sub-rectangles and transparency). */
export async function decodeGifFrames(bytes: Uint8Array): Promise<{ frames: RgbImage[]; delays: number[] }> {
  const meta = await sharp(bytes).metadata();
  const { data, info } = await sharp(bytes, { pages: -1 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const h = (info as { pageHeight?: number }).pageHeight ?? info.height;
  const n = info.height / h;
  const frames: RgbImage[] = [];
  for (let i = 0; i < n; i++) {
    frames.push({ data: new Uint8Array(data.subarray(i * info.width * h * 3, (i + 1) * info.width * h * 3)), width: info.width, height: h });
  }
  return { frames, delays: meta.delay ?? [] };
}

export function psnr(a: RgbImage, b: RgbImage): number {
  let sse = 0;
  for (let i = 0; i < a.data.length; i++) sse += (a.data[i] - b.data[i]) ** 2;
  return sse === 0 ? Infinity : 10 * Math.log10((255 * 255) / (sse / a.data.length));
}

/** Deterministic pseudo-random generator (tests must be reproducible). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function image(width: number, height: number, f: (x: number, y: number) => [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3);
  }
  return { data, width, height };
}
