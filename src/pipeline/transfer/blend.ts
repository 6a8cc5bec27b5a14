import type { Box, RgbImage } from "../types.ts";

/**
 * Mask and colour helpers on typed arrays. Masks are Float32Array of width*height in 0..1.
 */

/** In-place separable box blur of a mask (running sums: O(pixels) whatever the radius). */
export function boxBlurMask(mask: Float32Array, width: number, height: number, radius: number, tmp?: Float32Array): void {
  const r = Math.max(0, Math.round(radius));
  if (r === 0) return;
  const t = tmp ?? new Float32Array(mask.length);
  const norm = 1 / (2 * r + 1);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let acc = 0;
    for (let k = -r; k <= r; k++) acc += mask[row + Math.min(width - 1, Math.max(0, k))]!;
    for (let x = 0; x < width; x++) {
      t[row + x] = acc * norm;
      const add = Math.min(width - 1, x + r + 1);
      const sub = Math.max(0, x - r);
      acc += mask[row + add]! - mask[row + sub]!;
    }
  }
  for (let x = 0; x < width; x++) {
    let acc = 0;
    for (let k = -r; k <= r; k++) acc += t[Math.min(height - 1, Math.max(0, k)) * width + x]!;
    for (let y = 0; y < height; y++) {
      mask[y * width + x] = acc * norm;
      const add = Math.min(height - 1, y + r + 1);
      const sub = Math.max(0, y - r);
      acc += t[add * width + x]! - t[sub * width + x]!;
    }
  }
}

/**
 * Turns a hard 0/1 mask into a soft one that stays strictly inside it: erode by `radius`, then two box blurs of
 * radius/2 (a tent of total half-width `radius`), so alpha ramps 0 → 1 over ~`radius` pixels inside the edge.
 */
export function featherInside(mask: Float32Array, width: number, height: number, radius: number): void {
  const r = Math.max(1, Math.round(radius));
  const half = Math.max(1, Math.round(r / 2));
  const tmp = new Float32Array(mask.length);
  const hard = mask.slice();
  boxBlurMask(mask, width, height, r, tmp);
  for (let i = 0; i < mask.length; i++) mask[i] = mask[i]! > 0.999 ? 1 : 0;
  boxBlurMask(mask, width, height, half, tmp);
  boxBlurMask(mask, width, height, half, tmp);
  // The tent reaches 2 × half out from the eroded edge, one pixel past the mask when r is odd: cut it there.
  for (let i = 0; i < mask.length; i++) if (!(hard[i]! > 0)) mask[i] = 0;
}

/** Mean RGB of small patches around given points (x,y pairs), skipping points outside the image. */
export function patchMean(img: RgbImage, pts: ArrayLike<number>, radius: number): [number, number, number] {
  const s = [0, 0, 0];
  let n = 0;
  const r = Math.max(1, Math.round(radius));
  for (let k = 0; k + 1 < pts.length; k += 2) {
    const cx = Math.round(pts[k]!), cy = Math.round(pts[k + 1]!);
    for (let y = cy - r; y <= cy + r; y++) {
      if (y < 0 || y >= img.height) continue;
      for (let x = cx - r; x <= cx + r; x++) {
        if (x < 0 || x >= img.width) continue;
        const o = (y * img.width + x) * 3;
        s[0]! += img.data[o]!;
        s[1]! += img.data[o + 1]!;
        s[2]! += img.data[o + 2]!;
        n++;
      }
    }
  }
  return n ? [s[0]! / n, s[1]! / n, s[2]! / n] : [128, 128, 128];
}

/** Per-channel mean and standard deviation of `img` over the pixels where `mask` is set. */
export function maskedStats(img: RgbImage, mask: Uint8Array): { mean: number[]; std: number[] } {
  const sum = [0, 0, 0], sq = [0, 0, 0];
  let n = 0;
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    for (let c = 0; c < 3; c++) {
      const v = img.data[p * 3 + c]!;
      sum[c]! += v;
      sq[c]! += v * v;
    }
    n++;
  }
  const mean = sum.map((v) => (n ? v / n : 0));
  const std = sq.map((v, c) => (n ? Math.sqrt(Math.max(1, v / n - mean[c]! ** 2)) : 1));
  return { mean, std };
}

/** In place: v ↦ clamp(v * gain + offset) per channel. */
export function mapColours(img: RgbImage, gain: readonly number[], offset: readonly number[]): void {
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) {
    for (let c = 0; c < 3; c++) d[i + c] = clamp255(d[i + c]! * gain[c]! + offset[c]!) + 0.5;
  }
}

/** Mean and standard deviation of Rec. 601 luma over the pixels where `mask` is set. */
export function maskedLuma(img: RgbImage, mask: Uint8Array): { mean: number; std: number } {
  let s = 0, s2 = 0, n = 0;
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    const o = p * 3, y = 0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!;
    s += y;
    s2 += y * y;
    n++;
  }
  const mean = n ? s / n : 0;
  return { mean, std: n ? Math.sqrt(Math.max(1, s2 / n - mean * mean)) : 1 };
}

/** Mean spread between a pixel's channels (max − min) over the pixels where `mask` is set: 0 for a grey picture. */
export function meanSpread(img: { data: ArrayLike<number> }, mask: Uint8Array): number {
  let sum = 0, n = 0;
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    const o = p * 3, r = img.data[o]!, g = img.data[o + 1]!, b = img.data[o + 2]!;
    sum += Math.max(r, g, b) - Math.min(r, g, b);
    n++;
  }
  return n ? sum / n : 0;
}

/** Hard 0/1 mask of the pixels at least `radius` px inside a coverage mask. */
export function erodeMask(cover: Float32Array, width: number, height: number, radius: number): Uint8Array {
  const m = cover.slice();
  boxBlurMask(m, width, height, radius);
  const out = new Uint8Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = m[i]! > 0.999 ? 1 : 0;
  return out;
}

/** out[ox+x, oy+y] = mix(out, patch * gain, mask) over the patch (mask is patch-sized). */
export function blendPatch(out: RgbImage, patch: RgbImage, mask: Float32Array, ox: number, oy: number, gain: readonly number[] = [1, 1, 1]): void {
  const w = patch.width;
  for (let y = 0; y < patch.height; y++) {
    for (let x = 0; x < w; x++) {
      const a = mask[y * w + x]!;
      if (a <= 0) continue;
      const p = (y * w + x) * 3;
      const o = ((y + oy) * out.width + x + ox) * 3;
      for (let c = 0; c < 3; c++) {
        const v = clamp255(patch.data[p + c]! * gain[c]!);
        out.data[o + c] = out.data[o + c]! + (v - out.data[o + c]!) * a + 0.5;
      }
    }
  }
}

const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Bounding box of points (x,y pairs) grown by `margin`, clipped to the image; may be empty. */
export function pointsBox(pts: ArrayLike<number>, width: number, height: number, margin: number, count = pts.length / 2): Box {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let k = 0; k < count; k++) {
    const x = pts[2 * k]!, y = pts[2 * k + 1]!;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  const bx = Math.max(0, Math.floor(x0 - margin)), by = Math.max(0, Math.floor(y0 - margin));
  const ex = Math.min(width, Math.ceil(x1 + margin) + 1), ey = Math.min(height, Math.ceil(y1 + margin) + 1);
  return { x: bx, y: by, width: Math.max(0, ex - bx), height: Math.max(0, ey - by) };
}

/** Smallest box holding every pixel where a and b differ (null if identical), searched inside `within`. */
export function diffBox(a: RgbImage, b: RgbImage, within: Box = { x: 0, y: 0, width: a.width, height: a.height }): Box | null {
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  const w = a.width;
  for (let y = within.y; y < within.y + within.height; y++) {
    const row = y * w * 3;
    for (let x = within.x; x < within.x + within.width; x++) {
      const o = row + x * 3;
      if (a.data[o] !== b.data[o] || a.data[o + 1] !== b.data[o + 1] || a.data[o + 2] !== b.data[o + 2]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/**
 * Seamless-cloning correction by membrane interpolation (the fast equivalent of Poisson cloning used by
 * "instant image cloning", Farbman et al. 2009): the colour difference `target − source` measured on the
 * boundary of `hard` is spread smoothly over the whole area with a push-pull pyramid. Adding the result
 * to the source makes it meet the target without a seam while keeping its own detail (gradients).
 * The source may hold unclipped floats (swap's colour match). Returns 3 floats per pixel (width*height*3).
 * `limit` bounds the correction per channel.
 */
export function membraneCorrection(
  source: { width: number; height: number; data: ArrayLike<number> },
  target: RgbImage,
  hard: Uint8Array,
  limit = 45,
): Float32Array {
  const { width: w, height: h } = source;
  const val = new Float32Array(w * h * 3);
  const wt = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (!hard[p]) continue;
      const edge = x === 0 || y === 0 || x === w - 1 || y === h - 1 || !hard[p - 1] || !hard[p + 1] || !hard[p - w] || !hard[p + w];
      if (!edge) continue;
      for (let c = 0; c < 3; c++) {
        const d = target.data[p * 3 + c]! - source.data[p * 3 + c]!;
        val[p * 3 + c] = d < -limit ? -limit : d > limit ? limit : d;
      }
      wt[p] = 1;
    }
  }
  pushPull(val, wt, w, h);
  return val;
}

/** Fills pixels of weight < 1 from coarser levels (weighted averages down, bilinear back up). In place. */
function pushPull(val: Float32Array, wt: Float32Array, w: number, h: number): void {
  if (w <= 1 && h <= 1) return;
  const cw = Math.max(1, (w + 1) >> 1), ch = Math.max(1, (h + 1) >> 1);
  const cv = new Float32Array(cw * ch * 3);
  const cwt = new Float32Array(cw * ch);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const a = wt[p]!;
      if (a === 0) continue;
      const q = (y >> 1) * cw + (x >> 1);
      cwt[q]! += a;
      for (let c = 0; c < 3; c++) cv[q * 3 + c]! += a * val[p * 3 + c]!;
    }
  }
  for (let q = 0; q < cw * ch; q++) {
    const a = cwt[q]!;
    if (a > 0) for (let c = 0; c < 3; c++) cv[q * 3 + c]! /= a;
    cwt[q] = a > 1 ? 1 : a;
  }
  if (cw < w || ch < h) pushPull(cv, cwt, cw, ch);
  for (let y = 0; y < h; y++) {
    // Bilinear up-sampling of the coarse level (pixel centres at 2i + 0.5).
    const fy = Math.min(ch - 1, Math.max(0, (y - 0.5) / 2));
    const y0 = Math.floor(fy), y1 = Math.min(ch - 1, y0 + 1), ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const a = wt[p]!;
      if (a >= 1) continue;
      const fx = Math.min(cw - 1, Math.max(0, (x - 0.5) / 2));
      const x0 = Math.floor(fx), x1 = Math.min(cw - 1, x0 + 1), tx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const v =
          (cv[(y0 * cw + x0) * 3 + c]! * (1 - tx) + cv[(y0 * cw + x1) * 3 + c]! * tx) * (1 - ty) +
          (cv[(y1 * cw + x0) * 3 + c]! * (1 - tx) + cv[(y1 * cw + x1) * 3 + c]! * tx) * ty;
        val[p * 3 + c] = a * val[p * 3 + c]! + (1 - a) * v;
      }
    }
  }
}
