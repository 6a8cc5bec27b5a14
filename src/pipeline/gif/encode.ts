import sharp from "sharp";
import { MimicError } from "../../errors.ts";
import type { RgbImage } from "../types.ts";
import { GifWriter, tableBits, type GifFrameBlock } from "./container.ts";
import { encodeLossyLzw } from "./lzw.ts";
import { mapFrame } from "./map-frame.ts";
import { buildPalette, NearestColor, paletteError, type Palette } from "./palette.ts";
import { checkpoint, runSteps, runThrough, type Steps } from "../steps.ts";

export interface EncodeGifOptions {
  /** Display time per frame (one value for all frames, or one per frame), milliseconds. */
  delaysMs: number[] | number;
  /** Loop forever (default true); false plays once. */
  loop?: boolean;
  /** Byte budget, met by reducing quality, size or frames — never by failing. Default 10 MiB. */
  maxBytes?: number;
  /** Floyd–Steinberg dithering (default false: smaller files, less shimmer between frames). */
  dither?: boolean;
  /** Upper bound on palette colours, 2..255 (one slot stays reserved for "unchanged"). Default 255. */
  maxColors?: number;
  /**
   * Draws the frames afresh at a smaller size when the budget needs one (captions laid out there, so they are
   * not shrunk with the pixels); default: the frames resized. The encoder knows nothing of what is drawn.
   */
  redraw?: RedrawFrames;
  /**
   * Cancellation: looked at between frames and between the budget's attempts (the event loop gets a turn at
   * each, so a job's cancel message is heard); once it has fired the encode throws its reason.
   */
  signal?: AbortSignal;
}

/** Every frame of the animation drawn at width × height. */
export type RedrawFrames = (width: number, height: number) => Promise<RgbImage[]>;

export interface EncodedGif {
  bytes: Uint8Array;
  /** Frames written (unchanged frames are merged into the previous one's delay). */
  frames: number;
  width: number;
  height: number;
  /** Colours in the global palette. */
  colors: number;
  /** What was given up to meet maxBytes, in the order applied; empty when the first encode fitted. */
  reductions: string[];
}

export const DEFAULT_GIF_MAX_BYTES = 10 * 1024 * 1024;
/** Below this no meaningful animation fits; a caller passing less has a bug, not a big image. */
export const MIN_GIF_MAX_BYTES = 4096;
/**
 * Squared RGB distance an unchanged pixel may lose against re-writing it: ~5 levels per channel by default,
 * ~9 levels in the budget's lossier step. Bench figures: bench/README.md, "GIF".
 */
const KEEP_STANDARD = 80;
const KEEP_LOSSY = 243;
/**
 * The standard step's threshold where two palettes are used (splitPalettes): the global palette, fitted to what
 * moves, serves the face finely, so more of it is rewritten at a given threshold; 120 keeps the bytes of one
 * palette at 80 (figures: bench/README.md, "GIF").
 */
const KEEP_SPLIT = 120;
/**
 * Lossy LZW (encodeLossyLzw), per keep threshold: the extra squared error a substituted colour and a kept
 * pixel may have over the mapped choice when that continues the current code string. The standard step
 * keeps no pixel beyond the frame difference's own threshold: such stale pixels pile up on a moving face
 * and show as grain that jumps when the loop turns back to the first frame.
 */
const LZW_TOLERANCE = {
  [KEEP_STANDARD]: { write: 80, keep: KEEP_STANDARD },
  [KEEP_SPLIT]: { write: 80, keep: KEEP_SPLIT },
  [KEEP_LOSSY]: { write: 120, keep: 400 },
} as Record<number, { write: number; keep: number } | undefined>;
/**
 * With splitPalettes, a looping animation whose still pixels (equal in every frame) are at least this share
 * of the picture gets two palettes: the first frame's own and the global one, fitted to what moves.
 */
const SPLIT_MIN_STILL_SHARE = 0.25;
/** Pixels sampled for each of the two palettes, and the PNN seed (a small seed fits these samples better). */
const SPLIT_STILL_SAMPLE = 1 << 17;
const SPLIT_MOVING_SAMPLE = 1 << 15;
const SPLIT_SEED = 4096;
/** k-means rounds for the first frame's palette: its colours serve the background of every frame. */
const SPLIT_STILL_ROUNDS = 10;
/**
 * Loop tail (loopTail): a looping animation's last frames whose moving pixels have mostly come back to the first
 * frame's (within ANCHOR_TOL_SQ, squared RGB distance in the source) are drawn with the first frame's palette,
 * those pixels exactly as the first frame draws them, so the loop turn changes only what the source changes.
 */
const ANCHOR_TOL_SQ = 120;
const TAIL_MIN_SHARE = 0.4;
/** The tail is at most this share of the frames (a pingpong's way back, not its way out). */
const TAIL_MAX_SHARE = 0.25;
/**
 * Refinement palette (residualPalette): sample and PNN seed sizes, and the fewest poorly served pixels worth a
 * local colour table.
 */
const REFINE_SAMPLE = 1 << 15;
const REFINE_SEED = 2048;
const REFINE_MIN_PIXELS = 1024;
/** Frames whose global-palette error is this much above the median get a local palette if it helps enough. */
const LOCAL_PALETTE_OUTLIER = 2;
const LOCAL_PALETTE_MIN_MSE = 25;
const LOCAL_PALETTE_GAIN = 0.6;
/** Smallest side the budget loop scales down to (a 16 × 16 frame is < 1.2 KB even with 256 colours). */
const MIN_SIDE = 16;
/** The first scaling phase stops at this fraction of the original side (bench/gif.ts: best bytes per dB). */
const FIRST_SCALE_FLOOR = 0.6;

export interface EncodeParams {
  colors: number;
  dither: boolean;
  /** Squared RGB distance an unchanged pixel may lose against re-writing it. */
  keepThresholdSq: number;
  /** "auto" (default): local palettes only for frames the global one serves badly; "per-frame": always. */
  palettes?: "auto" | "per-frame";
  /** Default true: the second frame gets a palette fitted to the pixels the global one serves worst. */
  refine?: boolean;
  /** Default true (without dithering): lossy LZW choices within the keep threshold's tolerances. */
  lossyLzw?: boolean;
  /**
   * Default true: a looping animation with a still background gets a first-frame palette of its own (a better
   * background), the global one fitted to what moves, and the standard threshold becomes KEEP_SPLIT. The loop
   * tail (below) draws the last frames with the first frame's palette, so the face does not change palette at
   * the loop turn.
   */
  splitPalettes?: boolean;
  /**
   * Default true (looping animations): the last frames, where what moves is back near the first frame, are drawn
   * with the first frame's palette and its colours, so the loop turn changes only what the source changes.
   */
  loopTail?: boolean;
}
type Params = EncodeParams;

/** The encoder's two frame-difference settings (bench/gif.ts measures the budget steps with them). */
export const KEEP_THRESHOLDS = { standard: KEEP_STANDARD, lossy: KEEP_LOSSY } as const;

/** One encode with fixed settings and no budget (for measurements; encodeGif is the API). */
export function encodeWith(frames: RgbImage[], delaysMs: number[], params: EncodeParams, loop = true): { bytes: Uint8Array; frames: number; colors: number } {
  return runThrough(encodeOnce(frames, delaysMs, params, loop));
}

interface Attempt {
  bytes: Uint8Array;
  frames: number;
  colors: number;
}

/**
 * Encodes RGB frames as an animated GIF: one global palette (frames that it serves badly get their own,
 * decided by measured error; the second frame gets one fitted to the worst-served pixels, re-quantising
 * them with a second set of colours; a looping animation with a still background instead gives the first
 * frame a palette of its own and fits the global one to what moves), unchanged pixels written as transparent
 * inside the changed sub-rectangle, lossy LZW on later frames (textured areas only), optional dithering. A
 * looping animation's last frames, where what moves comes back to the first frame, are drawn with the first
 * frame's palette and converge on its pixels, so the loop turn changes only what the source changes. If the result is over maxBytes, reductions follow the order measured in
 * bench/gif.ts (see the loop): dithering off, size (to 60 %), lossier frame difference, fewer colours,
 * size again, then every other frame — re-encoding after each, so it stops as soon as the budget is met.
 */
export async function encodeGif(frames: RgbImage[], opts: EncodeGifOptions): Promise<EncodedGif> {
  validate(frames, opts);
  const maxBytes = opts.maxBytes ?? DEFAULT_GIF_MAX_BYTES;
  const loop = opts.loop ?? true;
  let work = frames;
  let delaysMs = frames.map((_, i) => (typeof opts.delaysMs === "number" ? opts.delaysMs : opts.delaysMs[i]));
  const params: Params = {
    colors: Math.max(2, Math.min(255, Math.floor(opts.maxColors ?? 255))),
    dither: opts.dither ?? false,
    keepThresholdSq: KEEP_STANDARD,
  };
  const reductions: string[] = [];
  const attemptWith = (frames: RgbImage[], delays: number[]) => runSteps(encodeOnce(frames, delays, params, loop), opts.signal);
  let attempt = await attemptWith(work, delaysMs);
  const originalSide = Math.min(work[0].width, work[0].height);
  // Scaling comes before any frame is dropped (see the order below), so a redraw gives every frame.
  const drawAt = async (width: number, height: number) => {
    const drawn = await (opts.redraw ? opts.redraw(width, height) : resizeFrames(work, width, height));
    await checkpoint(opts.signal);
    return drawn;
  };
  while (attempt.bytes.length > maxBytes) {
    const ratio = attempt.bytes.length / maxBytes;
    const w = work[0].width;
    const h = work[0].height;
    // Measured order (bench/gif.ts, "% of bytes saved per dB lost"): dithering off gains both; then size
    // (best per dB) down to FIRST_SCALE_FLOOR of the original side; then the lossier frame difference;
    // then fewer colours; then size again down to MIN_SIDE; frames last (worst per dB, and motion suffers).
    const side = Math.min(w, h);
    const scaleTo = (floor: number) => {
      const s = Math.max(floor / side, Math.min(0.9, Math.sqrt(1 / ratio) * 0.92));
      return [Math.max(MIN_SIDE, Math.round(w * s)), Math.max(MIN_SIDE, Math.round(h * s))] as const;
    };
    const firstFloor = Math.max(MIN_SIDE, Math.round(originalSide * FIRST_SCALE_FLOOR));
    const lastFloor = work.length < 3 ? MIN_SIDE : Math.min(side, 96);
    if (params.dither) {
      params.dither = false;
      reductions.push("dithering off");
    } else if (side > firstFloor) {
      const [nw, nh] = scaleTo(firstFloor);
      work = await drawAt(nw, nh);
      reductions.push(`scaled to ${nw}×${nh}`);
    } else if (params.keepThresholdSq < KEEP_LOSSY) {
      params.keepThresholdSq = KEEP_LOSSY;
      reductions.push("lossier frame difference");
    } else if (params.colors > 64) {
      params.colors = params.colors > 128 ? 128 : 64;
      reductions.push(`${params.colors} colours`);
    } else if (side > lastFloor) {
      const [nw, nh] = scaleTo(lastFloor);
      work = await drawAt(nw, nh);
      reductions.push(`scaled to ${nw}×${nh}`);
    } else {
      const before = work.length;
      const kept: RgbImage[] = [];
      const keptDelays: number[] = [];
      for (let i = 0; i < work.length; i += 2) {
        kept.push(work[i]);
        keptDelays.push(delaysMs[i] + (i + 1 < work.length ? delaysMs[i + 1] : 0));
      }
      work = kept;
      delaysMs = keptDelays;
      reductions.push(`frames ${before}→${work.length}`);
    }
    attempt = await attemptWith(work, delaysMs);
  }
  return {
    bytes: attempt.bytes,
    frames: attempt.frames,
    width: work[0].width,
    height: work[0].height,
    colors: attempt.colors,
    reductions,
  };
}

function validate(frames: RgbImage[], opts: EncodeGifOptions): void {
  if (!Array.isArray(frames) || frames.length === 0) {
    throw new MimicError("BAD_INPUT", "There is nothing to animate: no frames were given.");
  }
  const { width, height } = frames[0];
  if (width < 1 || height < 1 || width > 65535 || height > 65535) {
    throw new MimicError("BAD_INPUT", `A GIF frame must be 1–65535 pixels per side (got ${width}×${height}).`);
  }
  for (const f of frames) {
    if (f.width !== width || f.height !== height || f.data.length !== width * height * 3) {
      throw new MimicError("BAD_INPUT", "All animation frames must have the same size.", {
        details: { expected: [width, height], got: [f.width, f.height] },
      });
    }
  }
  const d = opts.delaysMs;
  const delays = typeof d === "number" ? [d] : d;
  if (!Array.isArray(delays) || (typeof d !== "number" && d.length !== frames.length)) {
    throw new MimicError("BAD_INPUT", `Give one frame delay, or one per frame (${frames.length}).`);
  }
  if (delays.some((x) => !Number.isFinite(x) || x < 0 || x > 655_350)) {
    throw new MimicError("BAD_INPUT", "Frame delays must be between 0 and 655350 ms.");
  }
  if (opts.maxBytes !== undefined && !(Number.isFinite(opts.maxBytes) && opts.maxBytes >= MIN_GIF_MAX_BYTES)) {
    throw new MimicError("BAD_INPUT", `The GIF size limit must be at least ${MIN_GIF_MAX_BYTES} bytes.`);
  }
}

/**
 * GIF delays are centiseconds; rounding is done on the running total so long animations keep their
 * duration. Browsers play delays under 2 cs as 10 cs, so 2 cs is the floor.
 */
export function toCentiseconds(delaysMs: number[]): number[] {
  const out: number[] = [];
  let t = 0;
  let shown = 0;
  for (const d of delaysMs) {
    t += d;
    const cs = Math.max(2, Math.round(t / 10) - shown);
    out.push(cs);
    shown += cs;
  }
  return out;
}

/** Each frame's local palette, or null where the global one serves it (a step after each palette built). */
function* choosePalettes(frames: RgbImage[], global: NearestColor, colors: number, mode: EncodeParams["palettes"]): Steps<(NearestColor | null)[]> {
  const locals: (NearestColor | null)[] = [];
  if (mode === "per-frame") {
    for (let i = 0; i < frames.length; i++) {
      locals.push(i === 0 ? null : new NearestColor(buildPalette([frames[i]], colors, 1 << 15)));
      yield;
    }
    return locals;
  }
  const errs = frames.map((f) => paletteError(f, global));
  const sorted = [...errs].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1];
  for (let i = 0; i < frames.length; i++) {
    if (frames.length === 1 || errs[i] < Math.max(LOCAL_PALETTE_OUTLIER * median, LOCAL_PALETTE_MIN_MSE)) {
      locals.push(null);
      continue;
    }
    const local = new NearestColor(buildPalette([frames[i]], colors, 1 << 15));
    locals.push(paletteError(frames[i], local) < LOCAL_PALETTE_GAIN * errs[i] ? local : null);
    yield;
  }
  return locals;
}

/** One encode with fixed settings, in steps (src/pipeline/steps.ts): after the palettes and after each frame. */
function* encodeOnce(frames: RgbImage[], delaysMs: number[], p: Params, loop: boolean): Steps<Attempt> {
  const { width: w, height: h } = frames[0];
  // A looping GIF redraws the first frame whole at each turn: a pixel that never changes must stay as the first
  // frame drew it, or a later frame's palette re-colours it and every turn flickers.
  const still = loop && frames.length > 1 ? stillPixels(frames) : null;
  const split = still !== null && p.splitPalettes !== false && p.palettes !== "per-frame" && splitWorthwhile(still);
  const keep = split && p.keepThresholdSq === KEEP_STANDARD ? KEEP_SPLIT : p.keepThresholdSq;
  yield;
  // Split: the still background is drawn once, by the first frame, so it gets a palette of its own; the global
  // palette serves only what moves (every later frame). Otherwise one palette fitted to all frames.
  const global = split ? buildPalette([movingSample(frames, still)], p.colors, SPLIT_MOVING_SAMPLE, 3, SPLIT_SEED) : buildPalette(frames, p.colors);
  const globalNearest = new NearestColor(global);
  yield;
  const locals = yield* choosePalettes(frames, globalNearest, p.colors, p.palettes);
  if (split) {
    // Fitted to the whole first frame: a palette that saw only part of its face draws that face coarsely.
    locals[0] = new NearestColor(buildPalette([frames[0]], p.colors, SPLIT_STILL_SAMPLE, SPLIT_STILL_ROUNDS, SPLIT_SEED));
    yield;
  }
  // The last frames, where what moves has come back to the first frame: drawn with its palette, anchored to it.
  const tail = still !== null && p.loopTail !== false && p.palettes !== "per-frame" ? loopTail(frames, still, w) : [];
  const tailFrom = frames.length - tail.length;
  const tolerance = p.lossyLzw !== false && !p.dither ? LZW_TOLERANCE[keep] : undefined;
  const globalSlots = global.count + 1; // + "unchanged" (transparent) slot
  const writer = new GifWriter(w, h, global, globalSlots, loop);
  const delaysCs = toCentiseconds(delaysMs);
  const canvas = new Uint8Array(w * h * 3);
  const out = new Uint8Array(w * h);
  const errRows = new Float32Array((w + 2) * 6);
  let pending: GifFrameBlock | null = null;
  let written = 0;
  // The refinement re-quantises what the first frame's palette serves badly; split palettes already do.
  let refinePending = p.refine !== false && frames.length > 1 && !split;
  // Frame 0's indices: the tail's anchored pixels are drawn with them, through frame 0's palette, so the face does
  // not change palette at the turn (the global palette's nearest colours cost more: bench/README.md, "GIF").
  let firstIndex: Uint8Array | null = null;
  for (let i = 0; i < frames.length; i++) {
    const anchored = i >= tailFrom && i > 0 ? tail[i - tailFrom] : null;
    let local = anchored ? locals[0] : locals[i];
    if (refinePending && i > 0 && !local && !anchored) {
      // Once, on the first later frame without a palette of its own: colours for the worst-served pixels.
      refinePending = false;
      local = residualPalette(frames[i], canvas, keep, p.colors, still);
    }
    const nearest = local ?? globalNearest;
    const transparentIndex = nearest.pal.count;
    const lossy = i > 0 && tolerance !== undefined;
    // Lossy LZW must not substitute an anchored pixel's colour: it locks them as it locks still ones.
    const lzwLock = anchored ? orMasks(anchored, still) : still;
    const r = mapFrame({
      src: frames[i].data,
      width: w,
      height: h,
      canvas,
      nearest,
      first: i === 0,
      keepThresholdSq: keep,
      dither: p.dither,
      transparentIndex,
      out,
      errRows,
      lock: still,
      updateCanvas: !lossy,
      anchor: anchored && firstIndex ? { mask: anchored, index: firstIndex } : null,
    });
    // The first frame is never coded lossily: its indices are what the viewer sees at each turn.
    if (i === 0 && tail.length > 0) firstIndex = out.slice();
    if (pending && r.maxX < 0) {
      pending.delayCs += delaysCs[i]; // nothing changed: show the previous frame longer
      yield;
      continue;
    }
    if (pending) {
      writer.writeFrame(pending, globalSlots);
      written++;
    }
    const x0 = i === 0 ? 0 : r.minX;
    const y0 = i === 0 ? 0 : r.minY;
    const bw = i === 0 ? w : r.maxX - r.minX + 1;
    const bh = i === 0 ? h : r.maxY - r.minY + 1;
    const block: GifFrameBlock = {
      index: out,
      x: x0,
      y: y0,
      width: bw,
      height: bh,
      delayCs: delaysCs[i],
      localPalette: local ? local.pal : null,
      transparentIndex: i === 0 ? -1 : transparentIndex,
    };
    if (lossy) {
      const slots = local ? local.pal.count + 1 : globalSlots;
      block.data = encodeLossyLzw({
        out,
        stride: w,
        x: x0,
        y: y0,
        width: bw,
        height: bh,
        src: frames[i].data,
        canvas,
        colors: nearest.pal.colors,
        transparentIndex,
        lock: lzwLock,
        writeTolSq: tolerance.write,
        keepTolSq: tolerance.keep,
        minCodeSize: Math.max(2, tableBits(slots)),
      });
    } else block.index = crop(out, w, x0, y0, bw, bh);
    pending = block;
    yield;
  }
  if (pending) {
    writer.writeFrame(pending, globalSlots);
    written++;
  }
  return { bytes: writer.finish(), frames: written, colors: global.count };
}

/**
 * A local palette fitted to the pixels of `frame` that the viewer's canvas shows worse than `minErrSq`
 * (the keep threshold: better-served pixels could never be rewritten). Written as that frame's palette it
 * re-quantises those pixels with a second set of colours — most of the static background, which the
 * frame difference would otherwise show with the global palette's error for the whole animation (in a GIF
 * that plays once: a looping one leaves its `still` pixels as the first frame drew them). Null when too few
 * pixels qualify to be worth 768 bytes of colour table.
 */
function residualPalette(frame: RgbImage, canvas: Uint8Array, minErrSq: number, colors: number, still: Uint8Array | null): NearestColor | null {
  const d = frame.data;
  const picked = new Uint8Array(d.length);
  let o = 0;
  for (let s = 0; s < d.length; s += 3) {
    if (still?.[s / 3]) continue; // never rewritten in a looping GIF (mapFrame's lock)
    const er = d[s] - canvas[s];
    const eg = d[s + 1] - canvas[s + 1];
    const eb = d[s + 2] - canvas[s + 2];
    if (er * er + eg * eg + eb * eb > minErrSq) {
      picked[o++] = d[s];
      picked[o++] = d[s + 1];
      picked[o++] = d[s + 2];
    }
  }
  if (o < 3 * REFINE_MIN_PIXELS) return null;
  const poorlyServed = { data: picked.subarray(0, o), width: o / 3, height: 1 };
  return new NearestColor(buildPalette([poorlyServed], colors, REFINE_SAMPLE, 3, REFINE_SEED));
}

/** 1 where a pixel is the same in every frame. */
function stillPixels(frames: RgbImage[]): Uint8Array {
  const first = frames[0].data;
  const still = new Uint8Array(first.length / 3).fill(1);
  // Compared four bytes at a time where the buffers allow it, then byte by byte inside a word that differs.
  const words = first.length >> 2;
  const first32 = first.byteOffset % 4 === 0 ? new Uint32Array(first.buffer, first.byteOffset, words) : null;
  for (let f = 1; f < frames.length; f++) {
    const d = frames[f].data;
    let from = 0;
    if (first32 && d.byteOffset % 4 === 0) {
      const d32 = new Uint32Array(d.buffer, d.byteOffset, words);
      for (let q = 0; q < words; q++) {
        if (d32[q] === first32[q]) continue;
        for (let b = q << 2; b < (q << 2) + 4; b++) if (d[b] !== first[b]) still[(b / 3) | 0] = 0;
      }
      from = words << 2;
    }
    for (let b = from; b < first.length; b++) if (d[b] !== first[b]) still[(b / 3) | 0] = 0;
  }
  return still;
}

/**
 * The loop tail: for each of the last frames (oldest first), the mask of its moving pixels within ANCHOR_TOL_SQ
 * of the first frame's, for as many frames back from the end as such pixels are at least TAIL_MIN_SHARE of
 * those that move. Empty when the animation does not come back to its first frame.
 */
function loopTail(frames: RgbImage[], still: Uint8Array, width: number): Uint8Array[] {
  const first = frames[0].data;
  let moving = 0;
  for (let i = 0; i < still.length; i++) if (still[i] === 0) moving++;
  const tail: Uint8Array[] = [];
  if (moving === 0 || frames.length < 3) return tail;
  const from = Math.max(1, frames.length - Math.floor(TAIL_MAX_SHARE * frames.length));
  for (let f = frames.length - 1; f >= from; f--) {
    const d = frames[f].data;
    const mask = new Uint8Array(still.length);
    let near = 0;
    for (let i = 0, s = 0; i < still.length; i++, s += 3) {
      if (still[i] !== 0) continue;
      const dr = d[s] - first[s];
      const dg = d[s + 1] - first[s + 1];
      const db = d[s + 2] - first[s + 2];
      if (dr * dr + dg * dg + db * db <= ANCHOR_TOL_SQ) {
        mask[i] = 1;
        near++;
      }
    }
    if (near < TAIL_MIN_SHARE * moving) break;
    tail.unshift(mask);
  }
  // Spread over the tail: in its k-th frame (of L) a pixel is anchored only if its rank in an 8 × 8 ordered
  // pattern is under (k + 1) / L, so the colours that change to the first frame's do not all change at once.
  const L = tail.length;
  for (let k = 0; k < L - 1; k++) {
    const mask = tail[k];
    const limit = ((k + 1) * 64) / L;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] === 0) continue;
      const y = (i / width) | 0;
      const x = i - y * width;
      if (BAYER8[((y & 7) << 3) | (x & 7)] >= limit) mask[i] = 0;
    }
  }
  return tail;
}

/** The 8 × 8 ordered-dither (Bayer) ranks 0..63: any first n of them are spread evenly over the square. */
const BAYER8 = (() => {
  const m = new Uint8Array(64);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      let v = 0;
      for (let bit = 0, xx = x, yy = y ^ x; bit < 3; bit++, xx >>= 1, yy >>= 1) v = (v << 2) | ((yy & 1) << 1) | (xx & 1);
      m[(y << 3) | x] = v;
    }
  }
  return m;
})();

function orMasks(a: Uint8Array, b: Uint8Array | null): Uint8Array {
  if (b === null) return a;
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] | b[i];
  return out;
}

/** Whether a looping animation's still pixels are enough of the picture, and what moves enough, for two palettes. */
function splitWorthwhile(still: Uint8Array): boolean {
  let stillCount = 0;
  for (let i = 0; i < still.length; i++) stillCount += still[i];
  return stillCount >= SPLIT_MIN_STILL_SHARE * still.length && still.length - stillCount >= REFINE_MIN_PIXELS;
}

/** An evenly spread sample (about SPLIT_MOVING_SAMPLE pixels) of the pixels that move, over all frames. */
function movingSample(frames: RgbImage[], still: Uint8Array): RgbImage {
  let moving = 0;
  for (let i = 0; i < still.length; i++) if (still[i] === 0) moving++;
  const at = new Int32Array(moving);
  for (let i = 0, k = 0; i < still.length; i++) if (still[i] === 0) at[k++] = i * 3;
  const total = moving * frames.length;
  // Odd stride so a sample does not lock onto one image column.
  let stride = Math.max(1, Math.floor(total / SPLIT_MOVING_SAMPLE));
  if (stride > 1 && stride % 2 === 0) stride += 1;
  const data = new Uint8Array(Math.ceil(total / stride) * 3);
  let o = 0;
  for (let t = 0; t < total; t += stride) {
    const d = frames[(t / moving) | 0].data;
    const s = at[t % moving];
    data[o++] = d[s];
    data[o++] = d[s + 1];
    data[o++] = d[s + 2];
  }
  return { data: data.subarray(0, o), width: o / 3, height: 1 };
}

function crop(index: Uint8Array, stride: number, x: number, y: number, w: number, h: number): Uint8Array {
  if (x === 0 && w === stride) return index.slice(y * stride, (y + h) * stride);
  const out = new Uint8Array(w * h);
  for (let r = 0; r < h; r++) out.set(index.subarray((y + r) * stride + x, (y + r) * stride + x + w), r * w);
  return out;
}

async function resizeFrames(frames: RgbImage[], width: number, height: number): Promise<RgbImage[]> {
  return Promise.all(
    frames.map(async (f) => {
      const data = await sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } })
        .resize(width, height, { fit: "fill" })
        .raw()
        .toBuffer();
      return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width, height };
    }),
  );
}
