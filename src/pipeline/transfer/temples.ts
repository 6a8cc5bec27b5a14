import type { RgbImage } from "../types.ts";
import { FACE_OVAL, LEFT_BROW, LEFT_EYE_LOWER, LEFT_EYE_UPPER, RIGHT_BROW, RIGHT_EYE_LOWER, RIGHT_EYE_UPPER } from "../warp/landmarks.ts";
import { faceOvalCentre } from "../warp/index.ts";
import { faceSize, insidePolygon } from "./geometry.ts";

/**
 * Spectacle frames at the temples, for swap. Glasses reach to the face outline and past it (endpieces, hinges,
 * the start of the arms), where the pasted face fades into the reaction's picture: their ends stayed there as
 * dark bars floating beside the user's face. They are found as thin dark structures across the lines that run
 * along the face's up, at eye height, that continue from well inside the outline (where the face will cover
 * the picture) and do not start at a brow or an eye; and filled from the picture above and below them. This
 * works on the reaction's own picture and landmarks, before it is bent to the user's outline. Hair, ears and
 * background further out are never touched, nor anything not joined to such a bar.
 */

/** The band searched, as shares of the face size: past the outline, and inside it. */
const REACH = 0.07;
const INSET = 0.1;
/** Deeper than this inside the outline (share of the face size), the pasted face always covers the picture. */
const HIDDEN = 0.055;
/** The band's extent above and below the line through the eyes' outer corners (shares of the face size). */
const ABOVE = 0.14;
const BELOW = 0.15;
/** Over how much (share of the face size) the fill fades out at the band's edges. */
const FADE = 0.03;
/** A bar is darker than the picture both above and below it within this distance (share of the face size). */
const BAR_HALF = 0.05;
/** How much darker (luma) than its surroundings a bar's pixel is: at least this, and this share of their luma. */
const MIN_DARK = 24;
const DARK_SHARE = 0.3;
/** A bar starts from at least (this × the face size)² of its pixels under the face. */
const MIN_START = 0.015;
/**
 * A frame's core is this share darker than its surroundings (hair shadows and brows seldom are), over at least
 * (MIN_CORE × the face size)² of the bar's pixels.
 */
const CORE = 0.6;
const MIN_CORE = 0.03;
/** Brows and eyes grown about their centres by this factor: dark shapes there are not frames. */
const FEATURE_GROW = 1.3;
/** The longest gap along a line (share of the face size) between two parts of a bar: a frame's highlights. */
const GAP = 0.02;
/** How far (share of the face size) a bar is grown for its soft edges. */
const GROW = 0.006;

/**
 * `image` with the ends of a spectacle frame at both temples of the face `lm` (its landmarks) filled in; the
 * same image where there are none.
 */
export function withoutFrameEnds(image: RgbImage, lm: Float32Array): RgbImage {
  const size = faceSize(lm);
  if (!(size > 0)) return image;
  const [cx, cy] = faceOvalCentre(lm);
  // The face's "up" (nose bottom to between the eyes) and "side" (image right for an upright face).
  let ux = lm[3 * 168]! - lm[3 * 2]!, uy = lm[3 * 168 + 1]! - lm[3 * 2 + 1]!;
  const ul = Math.hypot(ux, uy) || 1;
  ux /= ul;
  uy /= ul;
  const eyeV = ((lm[3 * 33]! + lm[3 * 263]!) / 2 - cx) * ux + ((lm[3 * 33 + 1]! + lm[3 * 263 + 1]!) / 2 - cy) * uy;
  const g: Frame = { cx, cy, ux, uy, sx: -uy, sy: ux, vlo: eyeV - BELOW * size, rows: Math.max(1, Math.round((ABOVE + BELOW) * size)) };
  const features = [ring(RIGHT_BROW.slice(0, 5), RIGHT_BROW.slice(5, 10)), ring(LEFT_BROW.slice(0, 5), LEFT_BROW.slice(5, 10)), ring(RIGHT_EYE_UPPER, RIGHT_EYE_LOWER), ring(LEFT_EYE_UPPER, LEFT_EYE_LOWER)].map((idx) => grownPolygon(lm, idx));
  let out: RgbImage | null = null;
  for (const side of [-1, 1] as const) {
    const found = findBars(image, lm, size, g, side, features);
    if (!found) continue;
    out ??= { width: image.width, height: image.height, data: image.data.slice() };
    fillBars(image, out, found);
  }
  return out ?? image;
}

interface Frame {
  cx: number;
  cy: number;
  ux: number;
  uy: number;
  sx: number;
  sy: number;
  /** The band's lowest "up" coordinate and its height in pixels. */
  vlo: number;
  rows: number;
}

/**
 * One temple's band, on lines that run along the image axis nearest the face's up (columns, or rows for a face
 * lying on its side: the bars cross them), stored line after line: pixel i of line l at l * len + i, which is
 * (bx + l, by + i) in the picture for columns and (bx + i, by + l) for rows. Each pixel's fill weight (-1 outside
 * the band) and whether it is filled.
 */
interface Bars {
  bx: number;
  by: number;
  columns: boolean;
  lines: number;
  len: number;
  weight: Float32Array;
  fill: Uint8Array;
}

const ring = (upper: readonly number[], lower: readonly number[]) => [...upper, ...[...lower].reverse()];

function insideAny(polys: Float32Array[], x: number, y: number): boolean {
  for (const poly of polys) if (insidePolygon(poly, x, y)) return true;
  return false;
}

/** The polygon through landmarks `idx` (x,y pairs), grown about its centre by FEATURE_GROW. */
function grownPolygon(lm: Float32Array, idx: readonly number[]): Float32Array {
  let mx = 0, my = 0;
  for (const i of idx) {
    mx += lm[3 * i]! / idx.length;
    my += lm[3 * i + 1]! / idx.length;
  }
  const poly = new Float32Array(idx.length * 2);
  idx.forEach((i, k) => {
    poly[2 * k] = mx + (lm[3 * i]! - mx) * FEATURE_GROW;
    poly[2 * k + 1] = my + (lm[3 * i + 1]! - my) * FEATURE_GROW;
  });
  return poly;
}

function findBars(image: RgbImage, lm: Float32Array, size: number, g: Frame, side: -1 | 1, features: Float32Array[]): Bars | null {
  const outline = outlineAcross(lm, g, side);
  let lo = Infinity, hi = -Infinity;
  for (let j = 0; j <= g.rows; j++) {
    if (!(outline[j]! > 0)) continue;
    lo = Math.min(lo, outline[j]!);
    hi = Math.max(hi, outline[j]!);
  }
  if (!(hi > 0)) return null;
  const reach = REACH * size, inset = INSET * size, hidden = HIDDEN * size, fade = Math.max(1, FADE * size);
  const half = Math.max(2, Math.round(BAR_HALF * size));
  // The band's box in the picture, with room for the bar test along the lines.
  const W = image.width, H = image.height;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const s of [side * (lo - inset), side * (hi + reach)]) {
    for (const v of [g.vlo, g.vlo + g.rows]) {
      const x = g.cx + s * g.sx + v * g.ux, y = g.cy + s * g.sy + v * g.uy;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  const columns = Math.abs(g.uy) >= Math.abs(g.ux);
  const mx = columns ? 0 : half, my = columns ? half : 0;
  const bx = Math.max(0, Math.floor(x0 - mx)), by = Math.max(0, Math.floor(y0 - my));
  const bw = Math.min(W, Math.ceil(x1 + mx) + 1) - bx, bh = Math.min(H, Math.ceil(y1 + my) + 1) - by;
  if (bw < 3 || bh < 3) return null;
  const lines = columns ? bw : bh, len = columns ? bh : bw, n = bw * bh;
  const lineStep = columns ? 3 : 3 * W, step = columns ? 3 * W : 3;
  // Per pixel: its fill weight in the band (-1 outside it), its luma, and whether the face covers it; per line,
  // the band's first and last pixel.
  const weight = new Float32Array(n).fill(-1);
  const luma = new Float32Array(n);
  const under = new Uint8Array(n);
  const first = new Int32Array(lines).fill(len), last = new Int32Array(lines).fill(-1);
  const d8 = image.data;
  for (let l = 0; l < lines; l++) {
    let o = (by * W + bx) * 3 + l * lineStep;
    for (let i = 0; i < len; i++, o += step) {
      const p = l * len + i;
      luma[p] = 0.299 * d8[o]! + 0.587 * d8[o + 1]! + 0.114 * d8[o + 2]!;
      const dx = (columns ? l : i) + bx - g.cx, dy = (columns ? i : l) + by - g.cy;
      const j = Math.round(dx * g.ux + dy * g.uy - g.vlo);
      if (j < 0 || j > g.rows || !(outline[j]! > 0)) continue;
      const d = side * (dx * g.sx + dy * g.sy) - outline[j]!;
      if (d < -inset || d > reach) continue;
      weight[p] = Math.min(1, (reach - d) / fade, (d + inset) / fade, j / fade, (g.rows - j) / fade);
      if (d < -hidden) under[p] = 1;
      if (i < first[l]!) first[l] = i;
      last[l] = i;
    }
  }
  // 1: a bar's pixel; 2: one as dark as a frame's core.
  const bar = new Uint8Array(n);
  const up = new Float32Array(len), down = new Float32Array(len);
  const queue = new Int32Array(len);
  for (let l = 0; l < lines; l++) {
    if (last[l]! < 0) continue;
    const base = l * len;
    slidingMax(luma, base, Math.max(0, first[l]! - half), Math.min(len - 1, last[l]! + half), half, up, down, queue);
    for (let i = first[l]!; i <= last[l]!; i++) {
      const p = base + i;
      if (weight[p]! < 0) continue;
      const around = Math.min(up[i]!, down[i]!), dark = around - luma[p]!;
      if (dark >= Math.max(MIN_DARK, DARK_SHARE * around)) bar[p] = dark >= CORE * around ? 2 : 1;
    }
  }
  // Bars start under the face, but not at a brow or an eye (their dark shapes reach the temples too).
  const start = under; // reused
  for (let p = 0; p < n; p++) {
    if (!start[p]) continue;
    const l = Math.floor(p / len), i = p - l * len;
    if (!bar[p] || insideAny(features, bx + (columns ? l : i), by + (columns ? i : l))) start[p] = 0;
  }
  // The bars joined to enough of a bar's start under the face (flood fill, one component at a time).
  const keep = new Uint8Array(n);
  const stack = new Int32Array(n), members = new Int32Array(n);
  const minStart = Math.max(4, (MIN_START * size) ** 2), minCore = Math.max(4, (MIN_CORE * size) ** 2);
  let any = false;
  for (let s = 0; s < n; s++) {
    if (!start[s] || keep[s]) continue;
    // Marked 2 while found, then 1 (kept) or 3 (too little of it under the face, or too faint): both stay out of later fills.
    let top = 0, count = 0, begun = 0, core = 0;
    keep[s] = 2;
    stack[top++] = s;
    while (top > 0) {
      const p = stack[--top]!;
      members[count++] = p;
      begun += start[p]!;
      if (bar[p] === 2) core++;
      const i = p % len;
      if (i > 0 && bar[p - 1] && !keep[p - 1]) (keep[p - 1] = 2), (stack[top++] = p - 1);
      if (i < len - 1 && bar[p + 1] && !keep[p + 1]) (keep[p + 1] = 2), (stack[top++] = p + 1);
      if (p >= len && bar[p - len] && !keep[p - len]) (keep[p - len] = 2), (stack[top++] = p - len);
      if (p < n - len && bar[p + len] && !keep[p + len]) (keep[p + len] = 2), (stack[top++] = p + len);
    }
    const mark = begun >= minStart && core >= minCore ? 1 : 3;
    if (mark === 1) any = true;
    for (let k = 0; k < count; k++) keep[members[k]!] = mark;
  }
  if (!any) return null;
  for (let p = 0; p < n; p++) if (keep[p] !== 1) keep[p] = 0;
  // Short gaps along a line between kept pixels are the bar too.
  const gap = Math.max(1, Math.round(GAP * size));
  for (let l = 0; l < lines; l++) {
    let prev = -1;
    for (let i = 0; i < len; i++) {
      if (!keep[l * len + i]) continue;
      if (prev >= 0 && i - prev > 1 && i - prev <= gap + 1) keep.fill(1, l * len + prev + 1, l * len + i);
      prev = i;
    }
  }
  // Grown for the bars' soft edges, within the band.
  const fill = bar; // reused
  fill.fill(0);
  const grow = Math.max(1, Math.round(GROW * size));
  for (let l = 0; l < lines; l++) {
    for (let i = 0; i < len; i++) {
      if (!keep[l * len + i]) continue;
      for (let ll = Math.max(0, l - grow); ll <= Math.min(lines - 1, l + grow); ll++) {
        for (let ii = Math.max(0, i - grow); ii <= Math.min(len - 1, i + grow); ii++) {
          const q = ll * len + ii;
          if (weight[q]! > 0) fill[q] = 1;
        }
      }
    }
  }
  return { bx, by, columns, lines, len, weight, fill };
}

/**
 * Each run of a line across a bar, filled from `src` into `out`: the pixels beyond both its ends mirrored into
 * it (so hair and skin keep their grain), blended by the distance to each end.
 */
function fillBars(src: RgbImage, out: RgbImage, b: Bars): void {
  const { lines, len, weight, fill } = b;
  const W = src.width, s = src.data, d = out.data;
  const lineStep = b.columns ? 3 : 3 * W, step = b.columns ? 3 * W : 3;
  for (let l = 0; l < lines; l++) {
    const base = l * len, o0 = (b.by * W + b.bx) * 3 + l * lineStep;
    let i = 0;
    while (i < len) {
      if (!fill[base + i]) {
        i++;
        continue;
      }
      const from = i;
      while (i < len && fill[base + i]) i++;
      // The run's ends: the pixels just before and after it (one of them where the run meets the box's edge).
      const before = from > 0 ? from - 1 : i < len ? i : -1;
      const after = i < len ? i : before;
      if (before < 0) continue;
      const span = after - before || 1;
      for (let k = from; k < i; k++) {
        const w = weight[base + k]!;
        if (!(w > 0)) continue;
        let ia = 2 * before - k, ib = 2 * after - k;
        if (ia < 0 || fill[base + ia]) ia = before;
        if (ib >= len || fill[base + ib]) ib = after;
        const oa = o0 + ia * step, ob = o0 + ib * step, o = o0 + k * step, t = (k - before) / span;
        for (let c = 0; c < 3; c++) {
          const v = s[oa + c]! + (s[ob + c]! - s[oa + c]!) * t;
          d[o + c] = s[o + c]! + (v - s[o + c]!) * w + 0.5;
        }
      }
    }
  }
}

/**
 * The face outline's distance from the centre along the side axis, on one side (outermost crossing), for each
 * pixel row of the band (index j: up coordinate vlo + j); NaN where the outline does not cross that row.
 */
function outlineAcross(lm: Float32Array, g: Frame, side: -1 | 1): Float32Array {
  const rows = new Float32Array(g.rows + 1).fill(Number.NaN);
  const n = FACE_OVAL.length;
  for (let k = 0; k < n; k++) {
    const a = FACE_OVAL[k]!, b = FACE_OVAL[(k + 1) % n]!;
    const ax = lm[3 * a]! - g.cx, ay = lm[3 * a + 1]! - g.cy, bx = lm[3 * b]! - g.cx, by = lm[3 * b + 1]! - g.cy;
    const sa = side * (ax * g.sx + ay * g.sy), sb = side * (bx * g.sx + by * g.sy);
    if (sa <= 0 || sb <= 0) continue;
    const va = ax * g.ux + ay * g.uy - g.vlo, vb = bx * g.ux + by * g.uy - g.vlo;
    const j0 = Math.max(0, Math.ceil(Math.min(va, vb))), j1 = Math.min(g.rows, Math.floor(Math.max(va, vb)));
    for (let j = j0; j <= j1; j++) {
      const t = vb === va ? 0 : (j - va) / (vb - va);
      const s = sa + (sb - sa) * t;
      if (!(rows[j]! >= s)) rows[j] = s;
    }
  }
  return rows;
}

/**
 * Over v[base + from] … v[base + to]: `up[i]` the largest of the `half` values before i and i itself, `down[i]`
 * of i and the `half` after it (monotonic queue, O(to - from)).
 */
function slidingMax(v: Float32Array, base: number, from: number, to: number, half: number, up: Float32Array, down: Float32Array, queue: Int32Array): void {
  let head = 0, tail = 0;
  for (let i = from; i <= to; i++) {
    const x = v[base + i]!;
    while (tail > head && v[base + queue[tail - 1]!]! <= x) tail--;
    queue[tail++] = i;
    if (queue[head]! < i - half) head++;
    up[i] = v[base + queue[head]!]!;
  }
  head = tail = 0;
  for (let i = to; i >= from; i--) {
    const x = v[base + i]!;
    while (tail > head && v[base + queue[tail - 1]!]! <= x) tail--;
    queue[tail++] = i;
    if (queue[head]! > i + half) head++;
    down[i] = v[base + queue[head]!]!;
  }
}
