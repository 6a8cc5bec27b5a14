import type { RgbImage } from "../types.ts";
import { gifenc } from "./gifenc.ts";

/**
 * Palettes are flat RGB byte arrays (n × 3). Quantisation uses gifenc's pairwise-nearest-neighbour
 * quantiser (good on photos and smooth gradients) on a bounded pixel sample, so the cost no longer grows
 * with frame count or size: ~128 K sampled pixels give the same palette quality as all of them for faces.
 */
export interface Palette {
  colors: Uint8Array;
  count: number;
}

const SAMPLE_PIXELS = 1 << 17;
const PNN_SEED_DIVISOR = 4;
const PNN_MIN_SEED = 8192;
const RGB565_MAX_BINS = 8192;
/** k-means points (non-empty 6-bit buckets) beyond this are subsampled: cost is points × colours per round. */
const REFINE_MAX_POINTS = 16384;

/**
 * Builds one palette of at most maxColors from a deterministic, evenly spread sample of the given frames.
 * `maxSeed` caps the pixels PNN seeds on (the k-means rounds still fit the whole sample): PNN is quadratic
 * in distinct colours, and a sample of poorly served pixels is nearly all distinct (on bench/gif.ts's morph a
 * 2048-pixel seed costs 0.02 dB against a 10 K one, at a third of the time).
 */
export function buildPalette(
  frames: RgbImage[],
  maxColors: number,
  samplePixels = SAMPLE_PIXELS,
  refineIterations = 3,
  maxSeed = Infinity,
): Palette {
  let total = 0;
  for (const f of frames) total += f.width * f.height;
  // Odd stride so a sample does not lock onto one image column.
  let stride = Math.max(1, Math.floor(total / samplePixels));
  if (stride > 1 && stride % 2 === 0) stride += 1;
  const count = Math.ceil(total / stride) + frames.length;
  const rgba = new Uint8Array(count * 4);
  let o = 0;
  let phase = 0;
  for (const f of frames) {
    const d = f.data;
    const n = f.width * f.height;
    let i = phase;
    for (; i < n; i += stride) {
      const s = i * 3;
      rgba[o++] = d[s];
      rgba[o++] = d[s + 1];
      rgba[o++] = d[s + 2];
      rgba[o++] = 255;
    }
    phase = i - n;
  }
  const used = rgba.subarray(0, o);
  // gifenc views the input as a Uint32Array over its whole buffer: give it a buffer of its own.
  const sample = new Uint8Array(used);
  // PNN's cost grows with distinct colours: it seeds on a quarter of the sample, and the k-means rounds
  // below (cheap, on a histogram) fit the colours to the whole sample.
  const pixels = sample.length / 4;
  const seedEvery = Math.max(1, Math.min(PNN_SEED_DIVISOR, Math.floor(pixels / PNN_MIN_SEED)), Math.ceil(pixels / maxSeed));
  const seed = new Uint8Array(Math.ceil(sample.length / 4 / seedEvery) * 4);
  for (let i = 0, j = 0; i < sample.length; i += 4 * seedEvery, j += 4) {
    seed[j] = sample[i];
    seed[j + 1] = sample[i + 1];
    seed[j + 2] = sample[i + 2];
    seed[j + 3] = 255;
  }
  const pal = gifenc.quantize(seed, Math.max(2, Math.min(256, maxColors)), { format: pnnFormat(seed) });
  const colors = new Uint8Array(pal.length * 3);
  for (let k = 0; k < pal.length; k++) {
    colors[k * 3] = pal[k][0];
    colors[k * 3 + 1] = pal[k][1];
    colors[k * 3 + 2] = pal[k][2];
  }
  const palette = { colors, count: pal.length };
  refinePalette(palette, sample, refineIterations);
  return palette;
}

/**
 * PNN merges bins pairwise and slows down with the square of their count: noise-like content fills all
 * 65 536 rgb565 bins (seconds per palette). Past RGB565_MAX_BINS distinct bins the seed is binned rgb444
 * (4096 bins; the k-means rounds recover the precision). On photos rgb565 is 0.2 dB better.
 */
function pnnFormat(seed: Uint8Array): "rgb565" | "rgb444" {
  const seen = new Uint8Array(1 << 16);
  let distinct = 0;
  for (let i = 0; i < seed.length; i += 4) {
    const key = ((seed[i] >> 3) << 11) | ((seed[i + 1] >> 2) << 5) | (seed[i + 2] >> 3);
    if (!seen[key]) {
      seen[key] = 1;
      if (++distinct > RGB565_MAX_BINS) return "rgb444";
    }
  }
  return "rgb565";
}

/**
 * Lloyd (k-means) refinement of a palette on the sample's 6-bit histogram. PNN merges on rgb565 bins and
 * leaves each colour at its bin average; a few weighted k-means rounds move colours to the centroids of
 * the pixels that actually map to them (+0.5–1 dB on photos, measured in bench/gif.ts).
 */
function refinePalette(pal: Palette, rgba: Uint8Array, iterations: number): void {
  if (iterations <= 0 || pal.count < 2) return;
  const cnt = new Uint32Array(BUCKETS);
  const sum = new Float64Array(BUCKETS * 3);
  for (let i = 0; i < rgba.length; i += 4) {
    const r = rgba[i];
    const g = rgba[i + 1];
    const b = rgba[i + 2];
    const key = ((r >> 2) << 12) | ((g >> 2) << 6) | (b >> 2);
    cnt[key]++;
    sum[key * 3] += r;
    sum[key * 3 + 1] += g;
    sum[key * 3 + 2] += b;
  }
  let nonEmpty = 0;
  for (let k = 0; k < BUCKETS; k++) if (cnt[k] > 0) nonEmpty++;
  const every = Math.max(1, Math.ceil(nonEmpty / REFINE_MAX_POINTS));
  const n = Math.ceil(nonEmpty / every);
  const w = new Float64Array(n);
  const pts = new Float64Array(n * 3);
  for (let k = 0, j = 0, seen = 0; k < BUCKETS && j < n; k++) {
    if (cnt[k] === 0 || seen++ % every !== 0) continue;
    w[j] = cnt[k];
    pts[j * 3] = sum[k * 3] / cnt[k];
    pts[j * 3 + 1] = sum[k * 3 + 1] / cnt[k];
    pts[j * 3 + 2] = sum[k * 3 + 2] / cnt[k];
    j++;
  }
  const acc = new Float64Array(pal.count * 4);
  const c = pal.colors;
  const order = new Int32Array(pal.count);
  const reds = new Float64Array(pal.count);
  // The point being placed and the nearest colour found so far (ties: the lowest index, as a plain scan).
  let r = 0;
  let g = 0;
  let b = 0;
  let best = 0;
  let bestD = Infinity;
  /** Walks the colours sorted by red from `from` by `step`, until the red difference alone exceeds the best distance. */
  const walk = (from: number, step: 1 | -1) => {
    for (let i = from; i >= 0 && i < pal.count; i += step) {
      const dr = reds[i] - r;
      if (dr * dr > bestD) return;
      const k = order[i];
      const dg = c[k * 3 + 1] - g;
      const db = c[k * 3 + 2] - b;
      const d = dr * dr + dg * dg + db * db;
      if (d < bestD || (d === bestD && k < best)) {
        bestD = d;
        best = k;
      }
    }
  };
  for (let it = 0; it < iterations; it++) {
    acc.fill(0);
    // Colours sorted by red: the search walks outwards from the point's red on each side (either order finds
    // the same colour: a candidate as near as the best is never cut off, since the stop is strict).
    for (let k = 0; k < pal.count; k++) order[k] = k;
    order.sort((x, y) => c[x * 3] - c[y * 3] || x - y);
    for (let k = 0; k < pal.count; k++) reds[k] = c[order[k] * 3];
    for (let j = 0; j < n; j++) {
      r = pts[j * 3];
      g = pts[j * 3 + 1];
      b = pts[j * 3 + 2];
      let lo = 0;
      let hi = pal.count;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (reds[mid] < r) lo = mid + 1;
        else hi = mid;
      }
      best = 0;
      bestD = Infinity;
      walk(lo, 1);
      walk(lo - 1, -1);
      const a = best * 4;
      acc[a] += w[j] * r;
      acc[a + 1] += w[j] * g;
      acc[a + 2] += w[j] * b;
      acc[a + 3] += w[j];
    }
    for (let k = 0; k < pal.count; k++) {
      const a = k * 4;
      if (acc[a + 3] === 0) continue; // unused colour: keep it (it may serve another frame)
      c[k * 3] = Math.round(acc[a] / acc[a + 3]);
      c[k * 3 + 1] = Math.round(acc[a + 1] / acc[a + 3]);
      c[k * 3 + 2] = Math.round(acc[a + 2] / acc[a + 3]);
    }
  }
}

/** 6 bits per channel: 2^18 buckets of 4 × 4 × 4 colour levels. */
const BUCKETS = 1 << 18;

/**
 * Exact nearest-palette-colour lookup, fast: each 6-bit bucket lazily gets the short list of palette colours
 * that can be nearest to ANY colour inside it (those whose distance to the bucket's cube is within the
 * smallest farthest-corner distance). Pixels then search 1–4 candidates instead of 256. A plain per-bucket
 * cache (one index per bucket) was measured 0.3 dB worse on photos.
 */
export class NearestColor {
  /** Per bucket: offset of its [len, k…] list in `pool`, or -1 until first needed (read by hot loops). */
  readonly start = new Int32Array(BUCKETS).fill(-1);
  pool: Uint8Array = new Uint8Array(1 << 16);
  private used = 0;
  /** Second level: 4-bit cells (16³ levels) whose candidate lists seed the 6-bit buckets' lists. */
  private readonly cellStart = new Int32Array(1 << 12).fill(-1);
  private cellPool: Uint8Array = new Uint8Array(1 << 14);
  private cellUsed = 0;
  private readonly all: Uint8Array;
  private readonly dmin: Float64Array;

  constructor(readonly pal: Palette) {
    this.dmin = new Float64Array(pal.count);
    this.all = new Uint8Array(pal.count + 1);
    this.all[0] = pal.count;
    for (let k = 0; k < pal.count; k++) this.all[k + 1] = k;
  }

  index(r: number, g: number, b: number): number {
    const key = ((r >> 2) << 12) | ((g >> 2) << 6) | (b >> 2);
    let s = this.start[key];
    if (s < 0) s = this.fillBucket(key, r >> 2, g >> 2, b >> 2);
    const len = this.pool[s];
    if (len === 1) return this.pool[s + 1];
    const c = this.pal.colors;
    let best = 0;
    let bestD = Infinity;
    for (let j = s + 1; j <= s + len; j++) {
      const k = this.pool[j];
      const p = k * 3;
      const dr = c[p] - r;
      const dg = c[p + 1] - g;
      const db = c[p + 2] - b;
      const d = dr * dr + dg * dg + db * db;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    return best;
  }

  /** Fills a bucket's candidate list; returns its offset in `pool` (which may have been reallocated). */
  fillBucket(key: number, br: number, bg: number, bb: number): number {
    const cell = ((br >> 2) << 8) | ((bg >> 2) << 4) | (bb >> 2);
    let cs = this.cellStart[cell];
    if (cs < 0) {
      this.cellPool = reserve(this.cellPool, this.cellUsed + this.pal.count + 1);
      cs = this.cellUsed;
      this.cellUsed = this.candidates((br >> 2) << 4, (bg >> 2) << 4, (bb >> 2) << 4, 15, this.all, 0, this.cellPool, cs);
      this.cellStart[cell] = cs;
    }
    this.pool = reserve(this.pool, this.used + this.cellPool[cs] + 1);
    const s = this.used;
    this.used = this.candidates(br << 2, bg << 2, bb << 2, 3, this.cellPool, cs, this.pool, s);
    this.start[key] = s;
    return s;
  }

  /**
   * Writes [len, k…] to `out` at `at`: the colours of list `src` (at `from`) that may be nearest to some
   * colour in the cube [r0, r0 + size] × … — those no farther from the cube than the best farthest-corner
   * distance. Returns the next free position.
   */
  private candidates(r0: number, g0: number, b0: number, size: number, src: Uint8Array, from: number, out: Uint8Array, at: number): number {
    const c = this.pal.colors;
    const n = src[from];
    let bound = Infinity;
    for (let j = 1; j <= n; j++) {
      const p = src[from + j] * 3;
      let near = 0;
      let far = 0;
      for (let ch = 0; ch < 3; ch++) {
        const v = c[p + ch];
        const lo = ch === 0 ? r0 : ch === 1 ? g0 : b0;
        const hi = lo + size;
        const dn = v < lo ? lo - v : v > hi ? v - hi : 0;
        const df = v - lo > hi - v ? v - lo : hi - v;
        near += dn * dn;
        far += df * df;
      }
      this.dmin[j - 1] = near;
      if (far < bound) bound = far;
    }
    let o = at + 1;
    for (let j = 1; j <= n; j++) if (this.dmin[j - 1] <= bound) out[o++] = src[from + j];
    out[at] = o - at - 1;
    return o;
  }
}

function reserve(pool: Uint8Array, need: number): Uint8Array {
  if (need <= pool.length) return pool;
  const grown = new Uint8Array(Math.max(pool.length * 2, need));
  grown.set(pool);
  return grown;
}

/** Mean squared error (per channel) of mapping a sample of one frame to the palette, without dithering. */
export function paletteError(frame: RgbImage, nearest: NearestColor, samplePixels = 4096): number {
  const d = frame.data;
  const n = frame.width * frame.height;
  let stride = Math.max(1, Math.floor(n / samplePixels));
  if (stride > 1 && stride % 2 === 0) stride += 1;
  const c = nearest.pal.colors;
  let sse = 0;
  let m = 0;
  for (let i = 0; i < n; i += stride) {
    const s = i * 3;
    const r = d[s];
    const g = d[s + 1];
    const b = d[s + 2];
    const p = nearest.index(r, g, b) * 3;
    sse += (c[p] - r) ** 2 + (c[p + 1] - g) ** 2 + (c[p + 2] - b) ** 2;
    m++;
  }
  return sse / (m * 3);
}
