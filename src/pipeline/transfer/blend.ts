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
  boxBlurMask(mask, width, height, r, tmp);
  for (let i = 0; i < mask.length; i++) mask[i] = mask[i]! > 0.999 ? 1 : 0;
  boxBlurMask(mask, width, height, half, tmp);
  boxBlurMask(mask, width, height, half, tmp);
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

/** Per-channel mean and standard deviation of `img` weighted by `mask` inside `box`. */
export function maskedStats(img: RgbImage, mask: Float32Array, box: Box): { mean: number[]; std: number[] } {
  const sum = [0, 0, 0], sq = [0, 0, 0];
  let wsum = 0;
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      const w = mask[y * img.width + x]!;
      if (w <= 0) continue;
      const o = (y * img.width + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = img.data[o + c]!;
        sum[c]! += w * v;
        sq[c]! += w * v * v;
      }
      wsum += w;
    }
  }
  const mean = sum.map((v) => (wsum ? v / wsum : 0));
  const std = sq.map((v, c) => (wsum ? Math.sqrt(Math.max(1, v / wsum - mean[c]! ** 2)) : 1));
  return { mean, std };
}

/**
 * out = out*(1-a) + src*a inside `box` where a = mask, with `src` first passed through a per-channel affine
 * colour map (gain, offset).
 */
export function blendInto(
  out: RgbImage,
  src: RgbImage,
  mask: Float32Array,
  box: Box,
  gain: readonly number[] = [1, 1, 1],
  offset: readonly number[] = [0, 0, 0],
): void {
  const g0 = gain[0]!, g1 = gain[1]!, g2 = gain[2]!, o0 = offset[0]!, o1 = offset[1]!, o2 = offset[2]!;
  const od = out.data, sd = src.data, w = out.width;
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      const a = mask[y * w + x]!;
      if (a <= 0) continue;
      const o = (y * w + x) * 3;
      const r = clamp255(sd[o]! * g0 + o0), g = clamp255(sd[o + 1]! * g1 + o1), b = clamp255(sd[o + 2]! * g2 + o2);
      od[o] = od[o]! + (r - od[o]!) * a + 0.5;
      od[o + 1] = od[o + 1]! + (g - od[o + 1]!) * a + 0.5;
      od[o + 2] = od[o + 2]! + (b - od[o + 2]!) * a + 0.5;
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

/** Smallest box holding every pixel where a and b differ (null if identical). */
export function diffBox(a: RgbImage, b: RgbImage): Box | null {
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  const w = a.width;
  for (let y = 0; y < a.height; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
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
