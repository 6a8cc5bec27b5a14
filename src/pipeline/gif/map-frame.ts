import type { NearestColor } from "./palette.ts";

/**
 * Maps one frame to palette indices against what the viewer currently shows (`canvas`), in one pass:
 *  - a pixel whose shown colour is (within `keepThreshold`) as close to the source as the best palette
 *    colour is left transparent: unchanged pixels cost almost nothing after LZW, and the changed area
 *    shrinks to a sub-rectangle;
 *  - optional Floyd–Steinberg error diffusion; the error of a kept pixel is diffused too, so kept
 *    areas do not band.
 * The canvas is updated in place to what the viewer will show after this frame. No allocation per pixel.
 */
export interface MapFrameInput {
  src: Uint8Array;
  width: number;
  height: number;
  /** What the viewer shows before this frame (RGB, same size); updated in place. */
  canvas: Uint8Array;
  nearest: NearestColor;
  /** First frame: every pixel is written, no transparency. */
  first: boolean;
  /** Squared distance a kept pixel may lose against the best palette colour (0 = never worse). */
  keepThresholdSq: number;
  dither: boolean;
  transparentIndex: number;
  /** Output indices, width × height. */
  out: Uint8Array;
  /** Scratch: (width + 2) × 2 rows × 3 channels. */
  errRows: Float32Array;
  /** Pixels left as shown whatever the source says (1), or null; without dithering they add nothing to `sse`. */
  lock?: Uint8Array | null;
  /** Default true. False: `canvas` is left as it was (a later pass, encodeLossyLzw, paints the final choices). */
  updateCanvas?: boolean;
  /**
   * Pixels (mask 1) drawn exactly as given by `index` (indices into this frame's palette), or kept where the
   * canvas already shows that colour: a looping animation's last frames draw the face as the first frame
   * will, so nothing changes at the loop turn that the source does not change. Null: none.
   */
  anchor?: { mask: Uint8Array; index: Uint8Array } | null;
}

export interface MapFrameResult {
  /** Sum of squared errors against the source, all channels. */
  sse: number;
  /** Bounding box of written (non-transparent) pixels; minX > maxX when nothing changed. */
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/** Diffused error is capped so a run of saturated pixels cannot build up a streak. */
const ERR_CAP = 48;

export function mapFrame(inp: MapFrameInput): MapFrameResult {
  return inp.dither ? mapFrameDither(inp) : mapFrameExact(inp);
}

/**
 * The same rules without error diffusion: all-integer arithmetic, one pass, no scratch rows.
 * Pixels already shown within the keep threshold skip the palette lookup (most of a morph's background).
 */
function mapFrameExact(inp: MapFrameInput): MapFrameResult {
  const { src, width: w, height: h, canvas, nearest, first, keepThresholdSq, transparentIndex, out } = inp;
  const lock = first ? null : (inp.lock ?? null);
  const paint = inp.updateCanvas !== false;
  const anchorMask = first ? null : (inp.anchor?.mask ?? null);
  const anchorIndex = inp.anchor?.index ?? out;
  const c = nearest.pal.colors;
  const start = nearest.start;
  let pool = nearest.pool;
  let sse = 0;
  let minX = w;
  let minY = h;
  let maxX = -1;
  let maxY = -1;
  const n = w * h;
  for (let i = 0, s = 0; i < n; i++, s += 3) {
    const r = src[s];
    const g = src[s + 1];
    const b = src[s + 2];
    let dKeep = 0;
    if (lock !== null && lock[i] !== 0) {
      out[i] = transparentIndex;
      continue;
    }
    let idx: number;
    if (anchorMask !== null && anchorMask[i] !== 0) {
      // Drawn as the anchor says; kept only where the canvas shows exactly that colour.
      idx = anchorIndex[i];
      const q = idx * 3;
      if (canvas[s] === c[q] && canvas[s + 1] === c[q + 1] && canvas[s + 2] === c[q + 2]) {
        out[i] = transparentIndex;
        sse += (c[q] - r) * (c[q] - r) + (c[q + 1] - g) * (c[q + 1] - g) + (c[q + 2] - b) * (c[q + 2] - b);
        continue;
      }
    } else {
      if (!first) {
        const kr = canvas[s] - r;
        const kg = canvas[s + 1] - g;
        const kb = canvas[s + 2] - b;
        dKeep = kr * kr + kg * kg + kb * kb;
        // Within the threshold the shown pixel is kept whatever the palette offers: skip the lookup.
        if (dKeep <= keepThresholdSq) {
          out[i] = transparentIndex;
          sse += dKeep;
          continue;
        }
      }
      // Inlined NearestColor.index (palette.ts): a call per pixel costs more than the lookup.
      const key = ((r >> 2) << 12) | ((g >> 2) << 6) | (b >> 2);
      let at = start[key];
      if (at < 0) {
        at = nearest.fillBucket(key, r >> 2, g >> 2, b >> 2);
        pool = nearest.pool;
      }
      idx = pool[at + 1];
      const len = pool[at];
      if (len > 1) {
        let bestD = 1 << 30;
        for (let j = at + 1; j <= at + len; j++) {
          const q = pool[j] * 3;
          const dr = c[q] - r;
          const dg = c[q + 1] - g;
          const db = c[q + 2] - b;
          const d = dr * dr + dg * dg + db * db;
          if (d < bestD) {
            bestD = d;
            idx = pool[j];
          }
        }
      }
      if (!first) {
        const p = idx * 3;
        const er = c[p] - r;
        const eg = c[p + 1] - g;
        const eb = c[p + 2] - b;
        if (dKeep <= er * er + eg * eg + eb * eb + keepThresholdSq) {
          out[i] = transparentIndex;
          sse += dKeep;
          continue;
        }
      }
    }
    const p = idx * 3;
    const pr = c[p];
    const pg = c[p + 1];
    const pb = c[p + 2];
    out[i] = idx;
    if (paint) {
      canvas[s] = pr;
      canvas[s + 1] = pg;
      canvas[s + 2] = pb;
    }
    const y = (i / w) | 0;
    const x = i - y * w;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
    sse += (pr - r) * (pr - r) + (pg - g) * (pg - g) + (pb - b) * (pb - b);
  }
  return { sse, minX, minY, maxX, maxY };
}

function mapFrameDither(inp: MapFrameInput): MapFrameResult {
  const { src, width: w, height: h, canvas, nearest, first, keepThresholdSq, dither, transparentIndex, out } = inp;
  const lock = first ? null : (inp.lock ?? null);
  const paint = inp.updateCanvas !== false;
  const anchorMask = first ? null : (inp.anchor?.mask ?? null);
  const anchorIndex = inp.anchor?.index ?? out;
  const c = nearest.pal.colors;
  const start = nearest.start;
  let pool = nearest.pool;
  const rowLen = (w + 2) * 3;
  const err = inp.errRows;
  if (dither) err.fill(0);
  let cur = 0;
  let next = rowLen;
  let sse = 0;
  let minX = w;
  let minY = h;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < h; y++) {
    if (dither) err.fill(0, next, next + rowLen);
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const s = i * 3;
      const sr = src[s];
      const sg = src[s + 1];
      const sb = src[s + 2];
      let r = sr;
      let g = sg;
      let b = sb;
      const e = cur + (x + 1) * 3;
      if (dither) {
        r += err[e];
        g += err[e + 1];
        b += err[e + 2];
        r = r < 0 ? 0 : r > 255 ? 255 : r;
        g = g < 0 ? 0 : g > 255 ? 255 : g;
        b = b < 0 ? 0 : b > 255 ? 255 : b;
      }
      const ri = r | 0;
      const gi = g | 0;
      const bi = b | 0;
      // Inlined NearestColor.index: most buckets hold one candidate.
      const key = ((ri >> 2) << 12) | ((gi >> 2) << 6) | (bi >> 2);
      let at = start[key];
      if (at < 0) {
        at = nearest.fillBucket(key, ri >> 2, gi >> 2, bi >> 2);
        pool = nearest.pool;
      }
      let idx = pool[at + 1];
      const len = pool[at];
      if (len > 1) {
        let bestD = Infinity;
        for (let j = at + 1; j <= at + len; j++) {
          const q = pool[j] * 3;
          const d = (c[q] - ri) * (c[q] - ri) + (c[q + 1] - gi) * (c[q + 1] - gi) + (c[q + 2] - bi) * (c[q + 2] - bi);
          if (d < bestD) {
            bestD = d;
            idx = pool[j];
          }
        }
      }
      const p = idx * 3;
      let or = c[p];
      let og = c[p + 1];
      let ob = c[p + 2];
      let written = true;
      if (anchorMask !== null && anchorMask[i] !== 0 && (lock === null || lock[i] === 0)) {
        // As in mapFrameExact: the anchor's colour, kept only where the canvas already shows it.
        idx = anchorIndex[i];
        or = c[idx * 3];
        og = c[idx * 3 + 1];
        ob = c[idx * 3 + 2];
        written = canvas[s] !== or || canvas[s + 1] !== og || canvas[s + 2] !== ob;
      } else if (!first) {
        const cr = canvas[s];
        const cg = canvas[s + 1];
        const cb = canvas[s + 2];
        const dKeep = (r - cr) * (r - cr) + (g - cg) * (g - cg) + (b - cb) * (b - cb);
        const dPal = (r - or) * (r - or) + (g - og) * (g - og) + (b - ob) * (b - ob);
        if (dKeep <= dPal + keepThresholdSq || (lock !== null && lock[i] !== 0)) {
          or = cr;
          og = cg;
          ob = cb;
          written = false;
        }
      }
      if (written) {
        out[i] = idx;
        if (paint) {
          canvas[s] = or;
          canvas[s + 1] = og;
          canvas[s + 2] = ob;
        }
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        maxY = y;
      } else {
        out[i] = transparentIndex;
      }
      sse += (sr - or) * (sr - or) + (sg - og) * (sg - og) + (sb - ob) * (sb - ob);
      if (dither) {
        let er = r - or;
        let eg = g - og;
        let eb = b - ob;
        er = er > ERR_CAP ? ERR_CAP : er < -ERR_CAP ? -ERR_CAP : er;
        eg = eg > ERR_CAP ? ERR_CAP : eg < -ERR_CAP ? -ERR_CAP : eg;
        eb = eb > ERR_CAP ? ERR_CAP : eb < -ERR_CAP ? -ERR_CAP : eb;
        // Floyd–Steinberg: 7/16 right, 3/16 below-left, 5/16 below, 1/16 below-right.
        err[e + 3] += er * 0.4375;
        err[e + 4] += eg * 0.4375;
        err[e + 5] += eb * 0.4375;
        const d = next + (x + 1) * 3;
        err[d - 3] += er * 0.1875;
        err[d - 2] += eg * 0.1875;
        err[d - 1] += eb * 0.1875;
        err[d] += er * 0.3125;
        err[d + 1] += eg * 0.3125;
        err[d + 2] += eb * 0.3125;
        err[d + 3] += er * 0.0625;
        err[d + 4] += eg * 0.0625;
        err[d + 5] += eb * 0.0625;
      }
    }
    const t = cur;
    cur = next;
    next = t;
  }
  return { sse, minX, minY, maxX, maxY };
}
