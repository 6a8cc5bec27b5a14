import { invertAffine, shrinkByBox, squareCropTransform, warpAffineToTensor } from "../image/transform.ts";
import type { Affine } from "../image/transform.ts";
import type { Box, RgbImage } from "../types.ts";
import type { Detection } from "./nms.ts";

/**
 * BlazeFace input planning and output decoding. BlazeFace sees a 256×256 picture and finds faces down
 * to roughly a tenth of its side, so a large photo is looked at twice: once whole (letterboxed, finds big
 * faces) and as overlapping square tiles (finds small ones). All views are axis-aligned scale+offset.
 */

export const DETECTOR_SIZE = 256;
/**
 * BlazeFace "front" (MediaPipe's short-range model, 128×128 input, same 896-anchor layout at half the
 * strides): several times cheaper than the 256 model and as sure of a face that is a
 * large part of the picture, so it is tried first on photos too small to need tiles (see FaceAnalyzer).
 */
export const FRONT_DETECTOR_SIZE = 128;
/** Regression values per anchor: box centre dx/dy, box w/h, 6 keypoints × (dx, dy). */
export const DETECTOR_STRIDE = 16;
export const KEYPOINT_COUNT = 6;

export interface DetectorView {
  /** detector input ← image. */
  inputFromImage: Affine;
  /** The part of the image this view covers (tiles), in image pixels. */
  region: Box;
  isTile: boolean;
  /** Side of the detector input this view fills (default DETECTOR_SIZE). */
  inputSize?: number;
}

export interface TilingOptions {
  /** Smallest tile side in source pixels (default 512). */
  minTileSide?: number;
  /** Tile only images whose longer side exceeds this (default 768). */
  tileAbove?: number;
  /** Tile overlap as a fraction of the tile side (default 0.25). */
  overlap?: number;
}

/**
 * The whole image letterboxed (centred, black padding) into the detector square. `padding` > 1 shrinks
 * it further inside the square: BlazeFace misses a face that fills the whole frame (a tight crop).
 */
export function letterboxView(width: number, height: number, padding = 1, inputSize = DETECTOR_SIZE): DetectorView {
  const side = Math.max(width, height) * padding;
  return squareView(-(side - width) / 2, -(side - height) / 2, side, { x: 0, y: 0, width, height }, false, inputSize);
}

function squareView(x0: number, y0: number, side: number, region: Box, isTile: boolean, inputSize = DETECTOR_SIZE): DetectorView {
  const s = inputSize / side;
  return { inputFromImage: [s, 0, -x0 * s, 0, s, -y0 * s], region, isTile, inputSize };
}

/**
 * The whole image letterboxed and turned by `angle` radians (quarter turns in practice): BlazeFace only
 * finds roughly upright faces, so a sideways or upside-down photo without EXIF orientation is searched
 * this way when the upright search finds nothing.
 */
export function rotatedView(width: number, height: number, angle: number): DetectorView {
  const side = Math.max(width, height);
  return {
    inputFromImage: squareCropTransform(width / 2, height / 2, side, angle, DETECTOR_SIZE),
    region: { x: 0, y: 0, width, height },
    isTile: false,
  };
}

/** Evenly spaced tile origins along one axis so consecutive tiles overlap by at least `overlap`. */
function tileOrigins(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const step = tile * (1 - overlap);
  const n = Math.ceil((length - tile) / step) + 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.round(((length - tile) * i) / (n - 1)));
  return out;
}

const needsTiles = (width: number, height: number, opts: TilingOptions) => Math.max(width, height) > (opts.tileAbove ?? 768);

/**
 * The cheap first look (FRONT_DETECTOR_SIZE, whole image letterboxed) for a photo small enough not to need
 * tiles; undefined for a large one, whose small faces only the 256-px detector and tiles find.
 */
export function quickDetectorView(width: number, height: number, opts: TilingOptions = {}): DetectorView | undefined {
  return needsTiles(width, height, opts) ? undefined : letterboxView(width, height, 1, FRONT_DETECTOR_SIZE);
}

/** Letterboxed whole image first, then tiles when the image is large. */
export function planDetectorViews(width: number, height: number, opts: TilingOptions = {}): DetectorView[] {
  const views = [letterboxView(width, height)];
  const longSide = Math.max(width, height);
  if (!needsTiles(width, height, opts)) return views;
  // A third of the long side keeps the count at ≤ 4×4 tiles for any image; never below minTileSide.
  const tile = Math.max(opts.minTileSide ?? 512, Math.ceil(longSide / 3));
  const overlap = opts.overlap ?? 0.25;
  for (const ty of tileOrigins(height, tile, overlap)) {
    for (const tx of tileOrigins(width, tile, overlap)) {
      const region = { x: tx, y: ty, width: Math.min(tile, width - tx), height: Math.min(tile, height - ty) };
      views.push(squareView(tx, ty, tile, region, true));
    }
  }
  return views;
}

/** How much a view shrinks the image before sampling (1 = read the image directly). */
export function shrinkFactor(view: DetectorView): number {
  const m = view.inputFromImage;
  const k = Math.floor(1 / Math.hypot(m[0], m[3]) / 1.5);
  return k >= 2 ? k : 1;
}

/** A downscaled copy of the image; image x = sx · copy x (and y alike). */
export interface ShrunkImage {
  image: RgbImage;
  sx: number;
  sy: number;
}

/**
 * Fills one detector input (NHWC, values in [-1, 1]) for a view. Large downscales read from an
 * area-averaged copy (`shrunk`, keyed by shrinkFactor; made here with the pure-JS box filter when the
 * caller did not prepare one) so small faces are not aliased away.
 */
export function fillDetectorInput(
  img: RgbImage,
  view: DetectorView,
  out: Float32Array,
  offset: number,
  shrunk: Map<number, ShrunkImage>,
): void {
  let m: Affine = view.inputFromImage;
  const k = shrinkFactor(view);
  let src = img;
  if (k >= 2 && !view.isTile && m[1] === 0 && m[3] === 0 && !shrunk.has(k)) {
    // A whole-image view used once: average straight into the input (one pass) instead of making a
    // shrunk copy first (most of the quick look's preprocessing).
    boxSampleToTensor(img, m, view.inputSize ?? DETECTOR_SIZE, out, offset);
    return;
  }
  if (k >= 2) {
    let s = shrunk.get(k);
    if (!s) {
      const image = shrinkByBox(img, k);
      s = { image, sx: k, sy: k };
      shrunk.set(k, s);
    }
    src = s.image;
    // input ← image ← copy: copy pixel p covers image pixels [sx·p, sx·p + sx).
    m = [m[0] * s.sx, m[1] * s.sy, m[2], m[3] * s.sx, m[4] * s.sy, m[5]];
  }
  const size = view.inputSize ?? DETECTOR_SIZE;
  warpAffineToTensor(src, m, size, size, out, offset, 2 / 255, -1);
}

/**
 * Area sampling for an axis-aligned downscale (`m` = input ← image, no rotation): each input pixel is the
 * mean of the image pixels its footprint covers (rounded to whole pixels), pixels outside the image count
 * as black, as in warpAffineToTensor; written NHWC as v·2/255 − 1. Summed per input pixel: a shared
 * row-sum buffer was slower (Uint32 accumulators leave V8's small-integer fast path).
 */
function boxSampleToTensor(img: RgbImage, m: Affine, size: number, out: Float32Array, offset: number): void {
  const { width: w, height: h } = img;
  // A plain Uint8Array view (decoders hand out Buffers): keeps the hot loop's element access monomorphic.
  const data = new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.length);
  const stride = w * 3;
  // Footprint of input pixel p along one axis: [lo, hi) clamped to the image, count = unclamped length.
  const axis = (scale: number, shift: number, limit: number) => {
    const lo = new Int32Array(size);
    const hi = new Int32Array(size);
    const count = new Int32Array(size);
    for (let p = 0; p < size; p++) {
      const a = Math.round((p - shift) / scale);
      const b = Math.round((p + 1 - shift) / scale);
      count[p] = Math.max(1, b - a);
      lo[p] = Math.min(Math.max(a, 0), limit);
      hi[p] = Math.min(Math.max(b, 0), limit);
    }
    return { lo, hi, count };
  };
  const cx = axis(m[0], m[2], w);
  const cy = axis(m[4], m[5], h);
  let o = offset;
  for (let v = 0; v < size; v++) {
    const y0 = cy.lo[v];
    const y1 = cy.hi[v];
    for (let u = 0; u < size; u++, o += 3) {
      const x0 = cx.lo[u] * 3;
      const x1 = cx.hi[u] * 3;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let y = y0; y < y1; y++) {
        const row = y * stride;
        for (let x = row + x0; x < row + x1; x += 3) {
          r += data[x];
          g += data[x + 1];
          b += data[x + 2];
        }
      }
      const k = 2 / (255 * cx.count[u] * cy.count[v]);
      out[o] = r * k - 1;
      out[o + 1] = g * k - 1;
      out[o + 2] = b * k - 1;
    }
  }
}

/**
 * Tiles look for small faces only. A face over half a tile is also found by the whole-image view (which
 * sees faces down to ~a tenth of the long side, i.e. ~30 % of a tile), while a tile that holds only part
 * of a big face tends to report that part as a face of its own.
 */
const MAX_TILE_FACE = 0.5;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const logit = (p: number) => Math.log(p / (1 - p));

/**
 * Decodes one view's raw output (896 score logits, 896 × 16 regressions, in anchor order) into
 * detections in image pixels with score ≥ minScore. Box centre and keypoints are offsets from their
 * anchor, sizes are absolute, all in input pixels.
 */
export function decodeDetections(
  logits: Float32Array,
  raw: Float32Array,
  anchors: Float32Array,
  view: DetectorView,
  imageWidth: number,
  imageHeight: number,
  minScore: number,
): Detection[] {
  const out: Detection[] = [];
  const minLogit = logit(Math.min(Math.max(minScore, 1e-6), 1 - 1e-6));
  const inv = invertAffine(view.inputFromImage);
  const s = Math.hypot(inv[0], inv[3]); // image px per input px
  // The view may be turned: an upright input box becomes this axis-aligned box in the image.
  const cos = Math.abs(inv[0]) / s;
  const sin = Math.abs(inv[3]) / s;
  const n = anchors.length / 2;
  for (let i = 0; i < n; i++) {
    const lg = logits[i];
    if (!(lg >= minLogit)) continue;
    const r = i * DETECTOR_STRIDE;
    const ax = anchors[2 * i];
    const ay = anchors[2 * i + 1];
    const bw = raw[r + 2] * s;
    const bh = raw[r + 3] * s;
    if (!(bw > 0 && bh > 0)) continue;
    const ix = raw[r] + ax;
    const iy = raw[r + 1] + ay;
    const cx = inv[0] * ix + inv[1] * iy + inv[2];
    const cy = inv[3] * ix + inv[4] * iy + inv[5];
    const w = cos * bw + sin * bh;
    const h = sin * bw + cos * bh;
    const box = { x: cx - w / 2, y: cy - h / 2, width: w, height: h };
    if (view.isTile && (Math.max(w, h) > MAX_TILE_FACE * s * (view.inputSize ?? DETECTOR_SIZE) || crossesInnerTileEdge(box, view.region, imageWidth, imageHeight))) continue;
    const keypoints = [];
    for (let k = 0; k < KEYPOINT_COUNT; k++) {
      const kx = raw[r + 4 + 2 * k] + ax;
      const ky = raw[r + 5 + 2 * k] + ay;
      keypoints.push({ x: inv[0] * kx + inv[1] * ky + inv[2], y: inv[3] * kx + inv[4] * ky + inv[5] });
    }
    out.push({ box, score: sigmoid(Math.min(Math.max(lg, -80), 80)), keypoints });
  }
  return out;
}

/**
 * A tile cuts faces at its edges; such partial faces give poor boxes. Tiles overlap and the whole image is
 * also searched, so a face crossing an edge that is inside the image is left to the view that sees it whole.
 */
function crossesInnerTileEdge(b: Box, t: Box, imageWidth: number, imageHeight: number): boolean {
  const slack = 0.1 * Math.max(b.width, b.height);
  if (t.x > 0 && b.x < t.x - slack) return true;
  if (t.y > 0 && b.y < t.y - slack) return true;
  if (t.x + t.width < imageWidth && b.x + b.width > t.x + t.width + slack) return true;
  if (t.y + t.height < imageHeight && b.y + b.height > t.y + t.height + slack) return true;
  return false;
}
