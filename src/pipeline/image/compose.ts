import sharp, { type OutputInfo } from "sharp";
import { damagedFile, MimicError } from "../../errors.ts";
import type { RgbImage } from "../types.ts";
import type { AnimatedContainer, FrameRecord } from "./containers.ts";

/**
 * Plays an animation parsed by containers.ts the way a browser shows it: each frame decoded by sharp as a
 * picture of its own, drawn onto an RGBA canvas (blend, dispose), and the canvas taken at the chosen moments,
 * flattened onto white. Each frame is decoded once, so the cost is the frames' own areas plus the canvases
 * taken, both bounded up front.
 */

export interface ComposeOptions {
  maxFrames: number;
  maxTotalPixels: number;
  /**
   * Spread maxFrames over the whole length (its first MAX_SECONDS) and scale the frames down to fit
   * maxTotalPixels, as a clip is read; otherwise the first maxFrames frames at full size, or a refusal.
   */
  sample: boolean;
}

/** The longest stretch of an animation that is read when sampling (seconds), as for a clip. */
export const MAX_SECONDS = 20;
/**
 * Pixels decoded and drawn for one animation at most (the frames' rectangles plus each canvas taken): a file
 * of a few kilobytes can describe hundreds of full-size frames.
 */
export const MAX_DECODE_PIXELS = 300_000_000;

/** Browsers play a tiny delay as a standard one (decodeAnimation's rule for every format). */
export const displayMs = (d: number) => (d < 20 ? 100 : d);

export function animationTooLarge(frames: number, width: number, height: number, maxTotalPixels: number): MimicError {
  const fit = Math.floor(maxTotalPixels / (width * height));
  const advice =
    fit >= 2
      ? `at this size at most ${fit} frames fit. Please send a shorter or smaller animation.`
      : `its frames are too large to animate (at most ${Math.floor(maxTotalPixels / 2).toLocaleString("en")} pixels each). Please send a smaller animation.`;
  return new MimicError("IMAGE_TOO_LARGE", `That animation is too large (${frames} frames of ${width}×${height}): ${advice}`, {
    details: { frames, width, height, maxTotalPixels },
  });
}

/** An upload sharp could not decode: most often one cut off on its way (worded as every decoder's is). */
export function damagedUpload(what: "picture" | "animation", cause: unknown): MimicError {
  return damagedFile({ cause, logMessage: `${what === "picture" ? "image" : "animation frame"} decode failed: ${(cause as Error)?.message}` });
}

/** Which frames are shown (by index) and for how long: every frame, or maxFrames moments spread evenly in time. */
export function pickFrames(delaysMs: number[], maxFrames: number): { index: number[]; delaysMs: number[] } {
  const n = delaysMs.length;
  if (n <= maxFrames) return { index: delaysMs.map((_, i) => i), delaysMs: delaysMs.slice() };
  const starts = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) starts[i + 1] = starts[i]! + delaysMs[i]!;
  const total = starts[n]!;
  const index: number[] = [];
  const times: number[] = [];
  for (let k = 0, i = 0; k < maxFrames; k++) {
    const t = (k * total) / maxFrames;
    while (i + 1 < n && starts[i + 1]! <= t) i++;
    // A frame held over several moments is kept once, for all of them.
    if (index.at(-1) !== i) {
      index.push(i);
      times.push(Math.round(t));
    }
  }
  times.push(Math.round(total));
  return { index, delaysMs: index.map((_, k) => times[k + 1]! - times[k]!) };
}

/** A frame's pixels as RGBA (grey, RGB and 16-bit inputs alike). */
async function decodeFrame(f: FrameRecord): Promise<Uint8Array> {
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await sharp(f.file(), { limitInputPixels: f.width * f.height, failOn: "truncated" })
      .toColourspace("srgb")
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (cause) {
    throw damagedUpload("animation", cause);
  }
  const { width, height, channels } = raw.info;
  if (width !== f.width || height !== f.height || channels !== 4) throw damagedUpload("animation", new Error(`frame decoded as ${width}×${height}×${channels}, expected ${f.width}×${f.height}×4`));
  return raw.data;
}

/** Draws a frame's RGBA rectangle onto the canvas: replacing what is there, or alpha-composited over it. */
function draw(canvas: Uint8Array, cw: number, f: FrameRecord, src: Uint8Array): void {
  const rowBytes = f.width * 4;
  for (let y = 0; y < f.height; y++) {
    const s0 = y * rowBytes;
    const d0 = ((f.y + y) * cw + f.x) * 4;
    if (f.blend === "source") {
      canvas.set(src.subarray(s0, s0 + rowBytes), d0);
      continue;
    }
    for (let s = s0, d = d0, end = s0 + rowBytes; s < end; s += 4, d += 4) {
      const sa = src[s + 3]!;
      if (sa === 0) continue;
      if (sa === 255) {
        canvas[d] = src[s]!;
        canvas[d + 1] = src[s + 1]!;
        canvas[d + 2] = src[s + 2]!;
        canvas[d + 3] = 255;
        continue;
      }
      // Non-premultiplied "over": weights in units of 1/255².
      const under = canvas[d + 3]! * (255 - sa);
      const total = sa * 255 + under;
      canvas[d] = (src[s]! * sa * 255 + canvas[d]! * under + (total >> 1)) / total;
      canvas[d + 1] = (src[s + 1]! * sa * 255 + canvas[d + 1]! * under + (total >> 1)) / total;
      canvas[d + 2] = (src[s + 2]! * sa * 255 + canvas[d + 2]! * under + (total >> 1)) / total;
      canvas[d + 3] = (total + 127) / 255;
    }
  }
}

function copyRect(canvas: Uint8Array, cw: number, f: FrameRecord): Uint8Array {
  const rowBytes = f.width * 4;
  const out = new Uint8Array(rowBytes * f.height);
  for (let y = 0; y < f.height; y++) {
    const d0 = ((f.y + y) * cw + f.x) * 4;
    out.set(canvas.subarray(d0, d0 + rowBytes), y * rowBytes);
  }
  return out;
}

function restoreRect(canvas: Uint8Array, cw: number, f: FrameRecord, saved: Uint8Array | undefined): void {
  const rowBytes = f.width * 4;
  for (let y = 0; y < f.height; y++) {
    const d0 = ((f.y + y) * cw + f.x) * 4;
    if (saved) canvas.set(saved.subarray(y * rowBytes, (y + 1) * rowBytes), d0);
    else canvas.fill(0, d0, d0 + rowBytes);
  }
}

/** The canvas flattened onto white (as chat clients show transparency), at its size or scaled to w × h. */
async function snapshot(canvas: Uint8Array, cw: number, ch: number, w: number, h: number): Promise<RgbImage> {
  if (w !== cw || h !== ch) {
    const { data } = await sharp(canvas, { raw: { width: cw, height: ch, channels: 4 }, limitInputPixels: false })
      .resize(w, h, { fit: "fill" })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { width: w, height: h, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  }
  const n = cw * ch;
  const out = new Uint8Array(n * 3);
  for (let i = 0, s = 0, o = 0; i < n; i++, s += 4, o += 3) {
    const a = canvas[s + 3]!;
    const white = 255 * (255 - a) + 127;
    out[o] = (canvas[s]! * a + white) / 255;
    out[o + 1] = (canvas[s + 1]! * a + white) / 255;
    out[o + 2] = (canvas[s + 2]! * a + white) / 255;
  }
  return { width: cw, height: ch, data: out };
}

/** Decodes an animation parsed by containers.ts into flattened RGB frames and their display times. */
export async function composeAnimation(
  anim: AnimatedContainer,
  opts: ComposeOptions,
): Promise<{ frames: RgbImage[]; delaysMs: number[]; width: number; height: number }> {
  const { width: cw, height: ch } = anim;
  const canvasPixels = cw * ch;
  const maxFrames = Math.max(1, Math.floor(opts.maxFrames));
  // The frames that are read: the first maxFrames, or (sampling) those that start within MAX_SECONDS, as far as
  // the decoding budget goes (half of it for the frames' rectangles, half for the canvases taken).
  const decodeBudget = MAX_DECODE_PIXELS / 2;
  let read = 0;
  let decoded = 0;
  let elapsed = 0;
  const limit = opts.sample ? anim.frames.length : Math.min(maxFrames, anim.frames.length);
  while (read < limit) {
    const f = anim.frames[read]!;
    if (read > 0 && ((opts.sample && elapsed >= MAX_SECONDS * 1000) || decoded + f.width * f.height > decodeBudget)) break;
    decoded += f.width * f.height;
    elapsed += displayMs(f.delayMs);
    read++;
  }
  const keep = opts.sample ? Math.max(1, Math.min(maxFrames, Math.floor(decodeBudget / canvasPixels))) : read;
  const picked = pickFrames(anim.frames.slice(0, read).map((f) => displayMs(f.delayMs)), keep);
  const count = picked.index.length;
  let w = cw, h = ch;
  if (count > 1 && count * canvasPixels > opts.maxTotalPixels) {
    if (!opts.sample) throw animationTooLarge(count, cw, ch, opts.maxTotalPixels);
    const shrink = Math.sqrt(opts.maxTotalPixels / count / canvasPixels);
    w = Math.max(1, Math.floor(cw * shrink));
    h = Math.max(1, Math.floor(ch * shrink));
  }
  const canvas = new Uint8Array(canvasPixels * 4);
  const frames: RgbImage[] = [];
  const last = picked.index.at(-1)!;
  for (let i = 0, k = 0; i <= last; i++) {
    const f = anim.frames[i]!;
    const saved = f.dispose === "previous" ? copyRect(canvas, cw, f) : undefined;
    draw(canvas, cw, f, await decodeFrame(f));
    if (picked.index[k] === i) {
      frames.push(await snapshot(canvas, cw, ch, w, h));
      k++;
    }
    if (f.dispose !== "none") restoreRect(canvas, cw, f, saved);
  }
  return { frames, delaysMs: picked.delaysMs, width: w, height: h };
}
