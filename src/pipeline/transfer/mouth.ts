import type { RgbImage } from "../types.ts";
import { faceMeshPoints, warpTriangles } from "../warp/index.ts";
import {
  INNER_LIP_RING,
  LIPS_INNER_LOWER,
  LIPS_INNER_UPPER,
  LIPS_MID_LOWER,
  LIPS_MID_UPPER,
  LIPS_OUTER_LOWER,
  LIPS_OUTER_UPPER,
  LIPS_SEMI_OUTER_LOWER,
  LIPS_SEMI_OUTER_UPPER,
} from "../warp/landmarks.ts";
import { blendPatch, featherInside, mapColours, patchMean, pointsBox } from "./blend.ts";
import { scaleSaturation } from "./tones.ts";
import { insidePolygon } from "./geometry.ts";
import { CLOSED_MOUTH, innerLipPolygon, MOUTH_OPEN_MARGIN } from "./measure.ts";

/** Cheek, nose and forehead points whose colour stands for the face's skin tone and lighting. */
const SKIN_POINTS = [1, 4, 5, 195, 197, 117, 346, 50, 280, 205, 425, 151, 9, 108, 337] as const;

export function skinPoints(landmarks: Float32Array): Float32Array {
  const out = new Float32Array(SKIN_POINTS.length * 2);
  SKIN_POINTS.forEach((i, k) => {
    out[2 * k] = landmarks[3 * i]!;
    out[2 * k + 1] = landmarks[3 * i + 1]!;
  });
  return out;
}

/** How another face's pixels are brought to the template's colours (see skinMatch). */
export interface ColourMatch {
  /** Per-channel gain. */
  gain: readonly number[];
  /** Share of its colourfulness a pixel keeps after the gain (0: grey, 1: as it was). */
  saturation: number;
  /**
   * The template's own highlights around the face (luma, see faceHighlight): the painted interior's brightest
   * tones are brought down to it, never above. Absent: no bound (the reaction's mouth in its own picture).
   */
  highlight?: number;
  /**
   * Level taken off each channel of the reaction's pixels before the gain: the veil a half-transparent picture
   * gets from the background it was flattened onto (see reactionVeil). Absent: none.
   */
  veil?: readonly number[];
  /** A hue for an interior whose own colour cannot be trusted (a black-and-white reaction). Absent: none. */
  tint?: InteriorTint;
}

/**
 * The template's lip hue given to the painted interior's darker tones (cavity, tongue, gums), as a share of
 * `strength`; tones at the template's skin luma and brighter (teeth) keep their own colour. Each pixel keeps
 * its luma: the reaction still gives the light and shade.
 */
export interface InteriorTint {
  /** ln(channel / luma) of the template's lips, each bounded by TINT_LOG_MAX. */
  logs: readonly number[];
  /** 0 (the reaction's colour is trusted) … 1 (it has none). */
  strength: number;
  /** The template's skin luma: the tint fades out towards it. */
  skinLuma: number;
}

/** The reaction's pixels as they are (swap paints the reaction's mouth into the reaction's own picture). */
export const AS_IS: ColourMatch = { gain: [1, 1, 1], saturation: 1 };

/**
 * How `from`'s pixels are brought to `to`'s lighting and colourfulness, measured on skin. The gain is one
 * brightness factor (the skins' luma ratio: an exposure, however far off, scales every pixel) times a little of
 * the per-channel skin-tone ratio: a full ratio tints the reaction's white teeth the template's skin colour, and
 * teeth that look like skin read as a closed mouth. Each part is bounded on its own so a bad sample cannot
 * wreck the colours. The saturation follows the skin's, never above the reaction's own (a black-and-white photo
 * gets a grey mouth). The template's highlights around the face bound the painted interior (paintMouthInterior).
 * Where the reaction's own colour cannot be trusted for the interior, a veil (reactionVeil) is lifted off it and
 * a grey one takes the template's lip hue (InteriorTint); a colour photo gets neither.
 */
export function skinMatch(to: RgbImage, toLm: Float32Array, from: RgbImage, fromLm: Float32Array, faceSize: number, toneShare = SKIN_TONE_SHARE): ColourMatch {
  const r = Math.max(1, faceSize * 0.02);
  const a = patchMean(to, skinPoints(toLm), r);
  const veil = reactionVeil(from, fromLm);
  // The skin as it was under the veil: the gain then brings the lifted interior, not the veiled one, to the template.
  const b = patchMean(from, skinPoints(fromLm), r).map((v, c) => Math.max(0, v - (veil?.[c] ?? 0)));
  const brightness = bounded((luma(a) + 1) / (luma(b) + 1), BRIGHTNESS_MAX);
  const gain = a.map((v, c) => brightness * bounded(((v + 1) / (b[c]! + 1) / brightness) ** toneShare, TONE_MAX));
  const colourfulness = (v: readonly number[]) => (Math.max(...v) - Math.min(...v)) / (Math.max(...v) + 1);
  const match: ColourMatch = { gain, saturation: Math.min(1, colourfulness(a) / Math.max(1e-3, colourfulness(b))), highlight: faceHighlight(to, toLm) };
  if (veil) match.veil = veil;
  // A full tone match (a closing mouth's lips) already takes the template's skin colour.
  const untrusted = toneShare < 1 ? 1 - colourfulness(b) / Math.max(1e-3, colourfulness(a)) / TRUSTED_COLOURFULNESS : 0;
  if (untrusted > 0) match.tint = { logs: lipLogs(to, toLm), strength: Math.min(1, untrusted), skinLuma: luma(a) };
  return match;
}

/**
 * A reaction whose skin has at least this share of the template's skin colourfulness keeps its own interior
 * colours; below it the template's lip hue comes in (see InteriorTint), in full for a grey reaction.
 */
const TRUSTED_COLOURFULNESS = 0.3;
/** How strongly (times the lips' own ln(channel / luma)) the interior's darkest tones take the lip hue: a mouth's cavity is a deeper red than its lips. */
const TINT_DARK = 1.2;
/** The tint is full at and below this share of the template's skin luma, and fades out to none at the skin's luma. */
const TINT_FULL_BELOW = 0.25;
/** Bound on each channel's ln(lip / luma): a lipstick or a misread lip cannot paint the mouth purple. */
const TINT_LOG_MAX = 0.5;

/** ln(channel / luma) of the template's lip bodies (upper and lower together), bounded by TINT_LOG_MAX. */
function lipLogs(img: RgbImage, lm: Float32Array): number[] {
  const { upper, lower } = lipBodies(img, lm);
  const lip = [0, 1, 2].map((c) => (upper[c]! + lower[c]!) / 2);
  const y = luma(lip);
  return lip.map((v) => Math.min(TINT_LOG_MAX, Math.max(-TINT_LOG_MAX, Math.log((v + 1) / (y + 1)))));
}

/**
 * In place: each pixel's darker-than-skin tones take `tint`'s lip hue, full at TINT_FULL_BELOW of the skin luma
 * and none at the skin luma and above (teeth keep their white); each pixel keeps its luma.
 */
function tintInterior(img: RgbImage, tint: InteriorTint): void {
  const d = img.data;
  const skin = Math.max(1, tint.skinLuma);
  for (let i = 0; i < d.length; i += 3) {
    const y = luma([d[i]!, d[i + 1]!, d[i + 2]!]);
    const share = Math.min(1, Math.max(0, (skin - y) / (skin * (1 - TINT_FULL_BELOW))));
    if (share === 0 || y <= 0) continue;
    const k = tint.strength * TINT_DARK * share;
    const v = [0, 1, 2].map((c) => d[i + c]! * Math.exp(k * tint.logs[c]!));
    const keep = y / Math.max(1e-3, luma(v));
    for (let c = 0; c < 3; c++) d[i + c] = Math.min(255, v[c]! * keep) + 0.5;
  }
}

/** The low quantile of each channel over the face box taken as its darkest tones (pupils, nostrils, a mouth's cavity). */
const VEIL_QUANTILE = 0.01;
/** A face's darkest tones (their darkest channel) up to this level are a photo's own; the veil comes in above it … */
const VEIL_FROM = 56;
/** … and is lifted in full from this level. */
const VEIL_FULL = 104;
/** Where a face's darkest tones lie in an ordinary photo: what a lifted veil leaves them at. */
const PHOTO_BLACK = 24;

/**
 * The veil over a reaction whose face has no dark tones: a half-transparent picture flattened onto white (as
 * chat clients show it, and decodeImage reads it) lifts every dark to the background's half, and its mouth's
 * cavity would be painted pale grey. Modelled as a white (or grey) background seen through: one level for all
 * three channels, so the darks keep their own hue, taken from the face box's darkest channel at VEIL_QUANTILE
 * as if it were PHOTO_BLACK seen through the same opacity; it grows in between VEIL_FROM and VEIL_FULL of that
 * channel. What the veil leaves is the picture at its opacity, which skinMatch's gain brightens back.
 * Undefined for a photo with its darks.
 */
export function reactionVeil(img: RgbImage, lm: Float32Array): number[] | undefined {
  const box = pointsBox(faceMeshPoints(lm, { width: img.width, height: img.height, ringScale: 0 }), img.width, img.height, 0);
  const step = Math.max(1, Math.floor(Math.max(box.width, box.height) / HIGHLIGHT_SAMPLES));
  const hist = [new Uint32Array(256), new Uint32Array(256), new Uint32Array(256)];
  const d = img.data;
  let n = 0;
  for (let y = box.y; y < box.y + box.height; y += step) {
    for (let x = box.x, o = (y * img.width + x) * 3; x < box.x + box.width; x += step, o += 3 * step) {
      for (let c = 0; c < 3; c++) hist[c]![d[o + c]!]!++;
      n++;
    }
  }
  if (n === 0) return undefined;
  const dark = Math.min(...hist.map((h) => quantileOf(h, n, VEIL_QUANTILE)));
  const share = Math.min(1, Math.max(0, (dark - VEIL_FROM) / (VEIL_FULL - VEIL_FROM)));
  // dark = veil + opacity · PHOTO_BLACK, with veil = 255 · (1 − opacity) for a white background.
  const veil = (255 * (dark - PHOTO_BLACK)) / (255 - PHOTO_BLACK);
  return share > 0 ? [0, 1, 2].map(() => share * veil) : undefined;
}

/**
 * How much of the per-channel skin-tone ratio (beyond brightness) an open mouth's interior takes on. A
 * closing mouth paints only lips and skin: pass 1 there.
 */
const SKIN_TONE_SHARE = 0.25;
/** Bounds (x and 1/x) on skinMatch's brightness factor and on its per-channel tone factor. */
const BRIGHTNESS_MAX = 12;
const TONE_MAX = 1.8;
/** faceHighlight's level: the luma this share of the face box stays under (not its very brightest pixel, a glint on glasses). */
const FACE_HIGHLIGHT_QUANTILE = 0.999;
/** The share of the painted interior's pixels (the reaction's brightest teeth) that is held to faceHighlight. */
const INTERIOR_HIGHLIGHT_QUANTILE = 0.995;
/** faceHighlight samples at most about this many pixels across the face box (every k-th row and column beyond). */
const HIGHLIGHT_SAMPLES = 256;

const luma = (v: readonly number[]) => 0.299 * v[0]! + 0.587 * v[1]! + 0.114 * v[2]!;
const bounded = (v: number, max: number) => Math.min(max, Math.max(1 / max, v));

/**
 * The template's highlights around the face: the FACE_HIGHLIGHT_QUANTILE luma over the box of its face mesh
 * (skin sheen, eye whites, its own teeth), on a grid of about HIGHLIGHT_SAMPLES² pixels. A photo's exposure
 * shows in it as much as in the skin, and a mouth's interior is no brighter than the brightest things beside it.
 */
export function faceHighlight(img: RgbImage, lm: Float32Array): number {
  const box = pointsBox(faceMeshPoints(lm, { width: img.width, height: img.height, ringScale: 0 }), img.width, img.height, 0);
  const step = Math.max(1, Math.floor(Math.max(box.width, box.height) / HIGHLIGHT_SAMPLES));
  const hist = new Uint32Array(256);
  const d = img.data;
  let n = 0;
  for (let y = box.y; y < box.y + box.height; y += step) {
    for (let x = box.x, o = (y * img.width + x) * 3; x < box.x + box.width; x += step, o += 3 * step) {
      hist[(77 * d[o]! + 150 * d[o + 1]! + 29 * d[o + 2]! + 128) >> 8]!++; // Rec. 601 luma in integers
      n++;
    }
  }
  return quantileOf(hist, n, FACE_HIGHLIGHT_QUANTILE);
}

/** The `q` quantile (0..1) of a 256-bin histogram holding n values; 255 when empty. */
function quantileOf(hist: Uint32Array, n: number, q: number): number {
  let acc = 0;
  for (let v = 0; v < 256; v++) if ((acc += hist[v]!) > q * n) return v;
  return 255;
}

/**
 * `gain` scaled down so that the INTERIOR_HIGHLIGHT_QUANTILE luma of the warped interior (`canvas` where `cover`
 * is set), as painted (each channel clipped at 255), is at most `highlight`; as it is when it already is.
 * Clipping hides how far past 255 a channel was pushed, so the scale is refined a few times.
 */
function gainUnder(canvas: RgbImage, cover: Float32Array, gain: readonly number[], highlight: number): readonly number[] {
  const d = canvas.data;
  let g = gain;
  for (let it = 0; it < 4; it++) {
    const hist = new Uint32Array(256);
    let n = 0;
    for (let i = 0; i < cover.length; i++) {
      if (!(cover[i]! > 0)) continue;
      const o = 3 * i;
      const y = 0.299 * Math.min(255, g[0]! * d[o]!) + 0.587 * Math.min(255, g[1]! * d[o + 1]!) + 0.114 * Math.min(255, g[2]! * d[o + 2]!);
      hist[Math.round(y)]!++;
      n++;
    }
    const top = quantileOf(hist, n, INTERIOR_HIGHLIGHT_QUANTILE);
    if (n === 0 || top <= highlight) break;
    const k = Math.max(0, highlight) / top;
    g = g.map((v) => v * k);
  }
  return g;
}

/** Fan triangles over a closed ring of n points plus its centroid (index n): fine for the star-shaped lip ring. */
function fan(n: number): Uint32Array {
  const t = new Uint32Array(n * 3);
  for (let k = 0; k < n; k++) {
    t[3 * k] = k;
    t[3 * k + 1] = (k + 1) % n;
    t[3 * k + 2] = n;
  }
  return t;
}

function withCentroid(ring: Float32Array): Float32Array {
  const n = ring.length / 2;
  const out = new Float32Array(ring.length + 2);
  out.set(ring);
  let cx = 0, cy = 0;
  for (let k = 0; k < n; k++) {
    cx += ring[2 * k]!;
    cy += ring[2 * k + 1]!;
  }
  out[2 * n] = cx / n;
  out[2 * n + 1] = cy / n;
  return out;
}

const FEATHER_MAX = 2.5;
const FEATHER_SHARE = 0.01;

/**
 * How far a closing mouth's ring grows (px, every face size): the squeezed teeth reach past the new lip line by
 * about this much, and the ring must also outgrow the feather's erosion to cover them at all.
 */
const CLOSING_GROW = 2 * FEATHER_MAX;

/** An open mouth's interior edge (opening, or a swap's in place) is at most this share of its lip gap wide (at least 1 px). */
const OPENING_FEATHER_SHARE = 0.25;

/**
 * Width of the soft edge of the painted mouth interior: 2.5 px on faces of 250 px and more, less on small
 * faces (FEATHER_SHARE of the face size, at least 1 px). The feather erodes ~2 × its width off the painted
 * ring before full cover, so a fixed 2.5 px left a small face's 5-px gap (the astronaut's 104-px face) only
 * a sliver of real teeth: they showed through a grey veil of the lips and read as a wider, darker opening.
 */
export function mouthFeather(faceSize: number): number {
  return Math.min(FEATHER_MAX, Math.max(1, faceSize * FEATHER_SHARE));
}

/**
 * Where the painted mouth interior's edge lies:
 *  - "opening": the ring grows by the feather, so the feathered edge (kept inside the grown ring) crosses the
 *    lip line itself: the teeth fade into the template's lips instead of meeting them at a hard edge;
 *  - "closing": a closing mouth's sliver, grown across the mouth line by CLOSING_GROW;
 *  - "inPlace" (swap): the reaction's mouth is painted where it already is, so its teeth come with the inner
 *    edge of its own lips (the lip margin and the shadow it casts on the teeth), IN_PLACE_EDGE feathers of it.
 */
export type MouthEdge = "opening" | "closing" | "inPlace";

/**
 * How many feathers of the reaction's own lip edge a swap keeps around its teeth. With one, the swapped lips
 * met the teeth with a margin of their own (a closed mouth's seam, stretched) that read as a wider gap
 * (eval/FINDINGS.md, "Where some constants come from").
 */
const IN_PLACE_EDGE = 2;

/**
 * Paints the inside of the mouth of `outLm` (the new inner-lip ring) into `out` from the reaction's own mouth
 * interior (teeth, tongue, darkness), warped ring to ring, colour-matched by `colour` and blended with a
 * soft edge (mouthFeather of `faceSize`, px) so the lips' inner border stays the template's (see MouthEdge).
 */
export function paintMouthInterior(
  out: RgbImage,
  outLm: Float32Array,
  reaction: RgbImage,
  reactionLm: Float32Array,
  colour: ColourMatch,
  faceSize: number,
  edge: MouthEdge = "opening",
): void {
  const n = INNER_LIP_RING.length;
  const dstRing = innerLipPolygon(outLm);
  // Opening: the interior is the reaction's *visible* opening. The mesh's inner-lip points of an open mouth
  // often sit on the lip itself (franck_04117's lower ones ~8 px into it), and that strip of the reaction's
  // lip, pasted inside the template's lips, read as a swollen lower lip with a red rim.
  const srcRing = edge === "opening" ? visibleInnerRing(reaction, reactionLm) : innerLipPolygon(reactionLm);
  // An opening's soft edge (a swap's too) is kept to a share of its gap: a full feather left a small parting
  // (6 px) a veiled, lip-tinted core the analyzer read as half as open.
  const feather = edge !== "closing" ? Math.min(mouthFeather(faceSize), Math.max(1, middleGap(outLm) * OPENING_FEATHER_SHARE)) : mouthFeather(faceSize);
  // A thin (closing) ring grows across the mouth line too: grown only radially, its flat sides would stay a
  // sliver that the feather erodes away, leaving squeezed teeth visible towards the corners.
  const closing = edge === "closing";
  const grow = closing ? CLOSING_GROW : edge === "inPlace" ? IN_PLACE_EDGE * feather : feather;
  const dst = withCentroid(insideLips(growRing(dstRing, grow, 1, closing), outLm));
  // How much larger the reaction's mouth is than the one drawn: rings scale by it, and the interior is averaged over it.
  const shrink = ringSize(srcRing) / Math.max(1e-3, ringSize(dstRing));
  const src = withCentroid(growRing(srcRing, grow, shrink, closing));
  const box = pointsBox(dst, out.width, out.height, 2);
  if (box.width === 0 || box.height === 0) return;
  // Work in a box-sized canvas: the mouth is small, the image may be large.
  const shifted = new Float32Array(dst.length);
  for (let k = 0; k < dst.length; k += 2) {
    shifted[k] = dst[k]! - box.x;
    shifted[k + 1] = dst[k + 1]! - box.y;
  }
  const { canvas, cover } = warpInterior(reaction, src, shifted, fan(n), box.width, box.height, shrink);
  // Pixel-exact: a chord of the pulled-in ring can still cut across a dent of the lip line.
  const lips = outerLipPolygon(outLm);
  for (let i = 0; i < cover.length; i++) if (cover[i] && !insidePolygon(lips, (i % box.width) + box.x, Math.floor(i / box.width) + box.y)) cover[i] = 0;
  featherInside(cover, box.width, box.height, feather);
  if (colour.veil) mapColours(canvas, [1, 1, 1], colour.veil.map((v) => -v));
  const gain = colour.highlight === undefined ? colour.gain : gainUnder(canvas, cover, colour.gain, colour.highlight);
  if (colour.saturation >= 1 && !colour.tint) {
    blendPatch(out, canvas, cover, box.x, box.y, gain); // the common case: one rounding, in the blend
    return;
  }
  mapColours(canvas, gain, [0, 0, 0]);
  if (colour.saturation < 1) scaleSaturation(canvas.data, colour.saturation);
  if (colour.tint) tintInterior(canvas, colour.tint);
  blendPatch(out, canvas, cover, box.x, box.y);
}

/** The most samples per side a painted interior pixel is averaged from (see warpInterior). */
const MAX_INTERIOR_SUPERSAMPLE = 4;

/**
 * The reaction's interior warped onto a `width` × `height` canvas (`dst` in canvas pixels) with its coverage (1
 * where a triangle wrote). `shrink`: how many reaction pixels one canvas pixel spans. Bilinear sampling reads
 * 2 × 2 pixels per output pixel: shrinking the reaction's mouth by 1.5× or more it skips pixels, and the teeth's
 * edges (a few pixels each on a small face) turn stair-stepped and speckled. There each canvas pixel is the
 * mean of m × m samples (m = shrink rounded, at most MAX_INTERIOR_SUPERSAMPLE) over its area, every sample
 * about one reaction pixel apart. A pixel only partly inside the ring averages the samples that are, so its
 * colour is not darkened by the empty ones. Below 1.5× (m = 1) it is the plain warp.
 */
function warpInterior(reaction: RgbImage, src: Float32Array, dst: Float32Array, tris: Uint32Array, width: number, height: number, shrink: number) {
  const m = Math.min(MAX_INTERIOR_SUPERSAMPLE, Math.max(1, Math.round(shrink)));
  const canvas: RgbImage = { width, height, data: new Uint8Array(width * height * 3) };
  const cover = new Float32Array(width * height);
  if (m === 1) {
    warpTriangles(reaction, src, dst, tris, canvas, cover);
    return { canvas, cover };
  }
  const bw = width * m, bh = height * m;
  const big: RgbImage = { width: bw, height: bh, data: new Uint8Array(bw * bh * 3) };
  const bigCover = new Float32Array(bw * bh);
  // Canvas pixel (x, y) spans sub-pixels m·x … m·x + m − 1; a point's sub-pixel coordinate is (v + 0.5)·m − 0.5.
  const at = dst.map((v) => (v + 0.5) * m - 0.5);
  warpTriangles(reaction, src, at, tris, big, bigCover);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0, k = 0;
      for (let sy = y * m; sy < y * m + m; sy++) {
        for (let sx = x * m, p = sy * bw + sx; sx < x * m + m; sx++, p++) {
          if (!bigCover[p]) continue;
          r += big.data[3 * p]!;
          g += big.data[3 * p + 1]!;
          b += big.data[3 * p + 2]!;
          k++;
        }
      }
      if (k === 0) continue;
      const i = y * width + x;
      canvas.data[3 * i] = r / k + 0.5;
      canvas.data[3 * i + 1] = g / k + 0.5;
      canvas.data[3 * i + 2] = b / k + 0.5;
      // Covered as the plain warp's pixel centre would be: most of its area inside the ring (the feather softens it).
      cover[i] = 2 * k >= m * m ? 1 : 0;
    }
  }
  return { canvas, cover };
}

/**
 * A pixel counts as lip when it is at least LIP_MIN_LUMA of the lip body's brightness (the mouth's darkness is
 * not) and its chromaticity (r, g shares of R+G+B) is within LIP_CHROMA of the body's (teeth are greyer). By
 * chromaticity, not brightness, because a lip's inner edge often carries a bright wet highlight.
 */
const LIP_MIN_LUMA = 0.6;
const LIP_CHROMA = 0.045;
/** The visible edge is searched at most this share of a column's lip gap away from the mesh's inner-lip point. */
const LIP_EDGE_SEARCH = 0.25;

/**
 * The inner-lip ring (as innerLipPolygon) moved onto the visible edge of an open mouth: in each column the
 * inner-lip point walks towards the opposite lip while the pixel under it still has its lip's colour (the
 * lip body's mean, sampled between the mid and semi-outer lip rows), and stops at the first pixel that does
 * not (teeth, tongue, darkness). At most LIP_EDGE_SEARCH of the gap; corners stay.
 */
export function visibleInnerRing(img: RgbImage, lm: Float32Array): Float32Array {
  const ring = innerLipPolygon(lm);
  const n = LIPS_INNER_LOWER.length;
  const body = lipBodies(img, lm);
  for (let j = 1; j < n - 1; j++) {
    const lo = LIPS_INNER_LOWER[j]!, up = LIPS_INNER_UPPER[j]!;
    const lx = lm[3 * lo]!, ly = lm[3 * lo + 1]!, ux = lm[3 * up]!, uy = lm[3 * up + 1]!;
    const gap = Math.hypot(ux - lx, uy - ly);
    if (gap < 2) continue;
    // Ring layout: the lower row first (index j), then the upper row reversed (index 2n - 2 - j).
    for (const [k, fx, fy, tx, ty, colour] of [
      [j, lx, ly, ux, uy, body.lower],
      [2 * n - 2 - j, ux, uy, lx, ly, body.upper],
    ] as const) {
      const t = walkWhile(img, fx, fy, tx, ty, gap * LIP_EDGE_SEARCH, (r, g, b) => isLipColour(r, g, b, colour));
      ring[2 * k] = fx + (tx - fx) * t;
      ring[2 * k + 1] = fy + (ty - fy) * t;
    }
  }
  return ring;
}

/** A lip body's mean colour: r, g, b, their sum, and the r and g shares of it. */
type LipBody = readonly [number, number, number, number, number, number];

/** Upper and lower lip bodies' mean colours, sampled between the mid and semi-outer lip rows. */
function lipBodies(img: RgbImage, lm: Float32Array): { upper: LipBody; lower: LipBody } {
  const n = LIPS_INNER_LOWER.length;
  const body = (mid: readonly number[], semi: readonly number[]): LipBody => {
    const sum = [0, 0, 0];
    let k = 0;
    for (let j = 2; j < n - 2; j++) {
      const x = (lm[3 * mid[j]!]! + lm[3 * semi[j]!]!) / 2, y = (lm[3 * mid[j]! + 1]! + lm[3 * semi[j]! + 1]!) / 2;
      for (let c = 0; c < 3; c++) sum[c]! += pixelAt(img, x, y, c);
      k++;
    }
    const [r, g, b] = sum.map((v) => v / k) as [number, number, number];
    const total = r + g + b + 1e-3;
    return [r, g, b, total, r / total, g / total];
  };
  return { upper: body(LIPS_MID_UPPER, LIPS_SEMI_OUTER_UPPER), lower: body(LIPS_MID_LOWER, LIPS_SEMI_OUTER_LOWER) };
}

const pixelAt = (img: RgbImage, x: number, y: number, c: number) => {
  const xi = Math.min(img.width - 1, Math.max(0, Math.round(x))), yi = Math.min(img.height - 1, Math.max(0, Math.round(y)));
  return img.data[(yi * img.width + xi) * 3 + c]!;
};

function isLipColour(r: number, g: number, b: number, body: LipBody): boolean {
  const sum = r + g + b + 1e-3;
  return sum >= LIP_MIN_LUMA * body[3] && Math.abs(r / sum - body[4]) <= LIP_CHROMA && Math.abs(g / sum - body[5]) <= LIP_CHROMA;
}

/**
 * Walks from (fx, fy) towards (tx, ty) in half-pixel steps while `go` holds for the pixel under the next step,
 * at most `reach` px; returns how far it got as a share of the whole segment.
 */
function walkWhile(img: RgbImage, fx: number, fy: number, tx: number, ty: number, reach: number, go: (r: number, g: number, b: number) => boolean): number {
  const len = Math.hypot(tx - fx, ty - fy);
  if (len < 1e-6) return 0;
  const steps = Math.floor(reach / 0.5);
  let s = 0;
  for (; s < steps; s++) {
    const t = ((s + 1) * 0.5) / len;
    const x = fx + (tx - fx) * t, y = fy + (ty - fy) * t;
    if (!go(pixelAt(img, x, y, 0), pixelAt(img, x, y, 1), pixelAt(img, x, y, 2))) break;
  }
  return (s * 0.5) / len;
}

/** Outer lip line, corner 61 → lower lip → corner 291 → upper lip back. */
const OUTER_LIP_RING: readonly number[] = [...LIPS_OUTER_LOWER, ...LIPS_OUTER_UPPER.slice(1, -1).reverse()];

function outerLipPolygon(lm: Float32Array): Float32Array {
  const out = new Float32Array(OUTER_LIP_RING.length * 2);
  OUTER_LIP_RING.forEach((i, k) => {
    out[2 * k] = lm[3 * i]!;
    out[2 * k + 1] = lm[3 * i + 1]!;
  });
  return out;
}

/**
 * The ring (x,y pairs) with every point that lies beyond the outer lip line of `lm` pulled towards the ring's
 * centroid until it is half a pixel inside it: the painted interior then stays within the lips, also where the
 * new inner lips reach the outer ones (an "O" retargeted onto a wide mouth ends with its inner corners at or
 * past the outer corners, and the interior ran out over the cheeks). Returns a new array.
 */
function insideLips(ring: Float32Array, lm: Float32Array): Float32Array {
  const lips = outerLipPolygon(lm);
  const c = withCentroid(ring);
  const n = ring.length / 2;
  const cx = c[2 * n]!, cy = c[2 * n + 1]!;
  const out = ring.slice();
  if (!insidePolygon(lips, cx, cy)) return out;
  for (let k = 0; k < n; k++) {
    const dx = ring[2 * k]! - cx, dy = ring[2 * k + 1]! - cy;
    const d = Math.hypot(dx, dy);
    if (d < 1 || insidePolygon(lips, cx + dx * (1 - 0.5 / d), cy + dy * (1 - 0.5 / d))) continue;
    // Bisect for the farthest share of the way from the centroid that is still inside.
    let lo = 0, hi = 1;
    for (let it = 0; it < 16; it++) {
      const mid = (lo + hi) / 2;
      if (insidePolygon(lips, cx + dx * mid, cy + dy * mid)) lo = mid;
      else hi = mid;
    }
    const t = Math.max(0, lo - 0.5 / d);
    out[2 * k] = cx + dx * t;
    out[2 * k + 1] = cy + dy * t;
  }
  return out;
}

/** Mean distance of ring points from their centroid. */
function ringSize(ring: Float32Array): number {
  const c = withCentroid(ring);
  const n = ring.length / 2;
  let s = 0;
  for (let k = 0; k < n; k++) s += Math.hypot(ring[2 * k]! - c[2 * n]!, ring[2 * k + 1]! - c[2 * n + 1]!);
  return s / n;
}

/**
 * Pushes each ring point `px * scale` pixels away from the centroid; with `across`, also up or down across the
 * corner-to-corner line (ring points 0 and n/2 are the inner corners), so a flat ring thickens evenly.
 */
function growRing(ring: Float32Array, px: number, scale: number, across = false): Float32Array {
  const c = withCentroid(ring);
  const n = ring.length / 2;
  const half = n >> 1;
  let ax = ring[2 * half]! - ring[0]!, ay = ring[2 * half + 1]! - ring[1]!;
  const al = Math.hypot(ax, ay) || 1;
  ax /= al;
  ay /= al;
  const out = new Float32Array(ring.length);
  for (let k = 0; k < n; k++) {
    const dx = ring[2 * k]! - c[2 * n]!, dy = ring[2 * k + 1]! - c[2 * n + 1]!;
    const d = Math.hypot(dx, dy) || 1;
    out[2 * k] = ring[2 * k]! + (dx / d) * px * scale;
    out[2 * k + 1] = ring[2 * k + 1]! + (dy / d) * px * scale;
    if (across && k !== 0 && k !== half) {
      const side = k < half ? 1 : -1; // lower lip (ring starts with it): down; upper lip: up
      out[2 * k]! += -ay * side * px * scale;
      out[2 * k + 1]! += ax * side * px * scale;
    }
  }
  return out;
}


/**
 * Paints a shut mouth's lip line from the result's own lips instead of copying another face's: across a
 * band around the new inner-lip centre line, each pixel column blends the upper lip's colour (just above the
 * band) into the lower lip's (just below), with a thin seam shadow whose depth is the reaction's own (how much
 * darker its lip line is than its lips). Nothing inside the band comes from the squeezed mouth interior, so no
 * tooth can show through, and the lips meet at a line as thin as a real closed mouth's.
 * `outLm`: the result's mesh (468×3, pixels); `faceSize`: face size in pixels (band and seam widths scale with it).
 * Returns false (nothing painted) when the lip line is not a left-to-right curve (a face rolled past ~60°).
 */
export function paintClosedLips(out: RgbImage, outLm: Float32Array, reaction: RgbImage, reactionLm: Float32Array, faceSize: number): boolean {
  const n = LIPS_INNER_UPPER.length;
  const cx = new Float64Array(n), cy = new Float64Array(n), half = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const u = LIPS_INNER_UPPER[j]!, l = LIPS_INNER_LOWER[j]!;
    cx[j] = (outLm[3 * u]! + outLm[3 * l]!) / 2;
    cy[j] = (outLm[3 * u + 1]! + outLm[3 * l + 1]!) / 2;
    half[j] = Math.max(0, (outLm[3 * l + 1]! - outLm[3 * u + 1]!) / 2);
    if (j > 0 && !(cx[j]! > cx[j - 1]!)) return false;
  }
  // The band covers what the closing warp squeezed between the inner lips (teeth, darkness) with a margin.
  const grow = Math.max(1.5, faceSize * CLOSED_BAND);
  const seamWidth = Math.max(0.6, faceSize * CLOSED_SEAM);
  const depth = seamDepth(reaction, reactionLm);
  const x0 = Math.max(1, Math.ceil(cx[0]!)), x1 = Math.min(out.width - 2, Math.floor(cx[n - 1]!));
  if (x1 <= x0) return false;
  const W = out.width, d = out.data;
  const cols = x1 - x0 + 1;
  const centre = new Float64Array(cols), reach = new Float64Array(cols);
  const above = new Float64Array(cols * 3), below = new Float64Array(cols * 3);
  let j = 0;
  for (let k = 0; k < cols; k++) {
    const x = x0 + k;
    while (j < n - 2 && x > cx[j + 1]!) j++;
    const f = Math.min(1, Math.max(0, (x - cx[j]!) / (cx[j + 1]! - cx[j]!)));
    centre[k] = cy[j]! + (cy[j + 1]! - cy[j]!) * f;
    // Thinner towards the corners, where the lips are thin themselves.
    const along = (x - cx[0]!) / (cx[n - 1]! - cx[0]!);
    reach[k] = half[j]! + (half[j + 1]! - half[j]!) * f + grow * (0.4 + 0.6 * Math.sin(Math.PI * along));
    // Lip colours just outside the band, over a 3×3 patch so single pixels do not streak.
    for (const [sign, acc] of [[-1, above], [1, below]] as const) {
      const yc = Math.round(centre[k]! + sign * (reach[k]! + 2));
      for (let c = 0; c < 3; c++) acc[3 * k + c] = 0;
      let m = 0;
      for (let y = yc - 1; y <= yc + 1; y++) {
        if (y < 0 || y >= out.height) continue;
        for (let xx = x - 1; xx <= x + 1; xx++) {
          const o = (y * W + xx) * 3;
          for (let c = 0; c < 3; c++) acc[3 * k + c]! += d[o + c]!;
          m++;
        }
      }
      for (let c = 0; c < 3; c++) acc[3 * k + c] = m ? acc[3 * k + c]! / m : 128;
    }
  }
  // Smooth the sampled colours along the mouth (a lip's colour changes slowly from corner to corner).
  smoothColumns(above, cols, 3);
  smoothColumns(below, cols, 3);
  for (let k = 0; k < cols; k++) {
    const x = x0 + k, c0 = centre[k]!, h = reach[k]!;
    const yTop = Math.max(0, Math.floor(c0 - h - 1)), yBot = Math.min(out.height - 1, Math.ceil(c0 + h + 1));
    for (let y = yTop; y <= yBot; y++) {
      const dy = y - c0;
      const alpha = Math.min(1, Math.max(0, h + 1 - Math.abs(dy)));
      if (alpha === 0) continue;
      const t = Math.min(1, Math.max(0, (dy + h) / (2 * h)));
      const shade = 1 - depth * Math.exp(-(dy * dy) / (2 * seamWidth * seamWidth));
      const o = (y * W + x) * 3;
      const a = 3 * k;
      const luma =
        0.299 * (above[a]! * (1 - t) + below[a]! * t) + 0.587 * (above[a + 1]! * (1 - t) + below[a + 1]! * t) + 0.114 * (above[a + 2]! * (1 - t) + below[a + 2]! * t);
      for (let c = 0; c < 3; c++) {
        // A lip's shadow deepens its own colour (a red lip's is a deeper red, a grey lip's stays grey): a
        // channel brighter than the lip's luma darkens less, one darker more.
        const lip = above[a + c]! * (1 - t) + below[a + c]! * t;
        const v = lip * shade ** Math.min(SEAM_TINT_MAX, Math.max(1 / SEAM_TINT_MAX, (luma + 1) / (lip + 1)));
        d[o + c] = Math.min(255, Math.max(0, d[o + c]! * (1 - alpha) + v * alpha + 0.5));
      }
    }
  }
  return true;
}

/** Half-height of the synthesised closed-lip band beyond the lips' own gap, and the seam shadow's width (face-size units). */
const CLOSED_BAND = 0.012;
const CLOSED_SEAM = 0.006;
/** Bound on a channel's seam-shadow exponent (luma / channel), so a near-black channel cannot vanish. */
const SEAM_TINT_MAX = 2;

/**
 * How much darker a face's lip line is than its lips (0 … 1), measured on the reaction along its inner-lip
 * centre line versus the middle of each lip; bounded so an odd sample gives neither no seam nor a black slit.
 */
function seamDepth(img: RgbImage, lm: Float32Array): number {
  const lum = (x: number, y: number) => 0.299 * pixelAt(img, x, y, 0) + 0.587 * pixelAt(img, x, y, 1) + 0.114 * pixelAt(img, x, y, 2);
  let seam = 0, lips = 0;
  for (let j = 2; j <= 8; j++) {
    const u = LIPS_INNER_UPPER[j]!, l = LIPS_INNER_LOWER[j]!;
    // Darkest pixel across the line (the seam may fall between the two landmarks).
    let dark = Infinity;
    const y0 = lm[3 * u + 1]! - 1, y1 = lm[3 * l + 1]! + 1, x = (lm[3 * u]! + lm[3 * l]!) / 2;
    for (let y = y0; y <= y1; y += 0.5) dark = Math.min(dark, lum(x, y));
    seam += dark;
    lips += (lum(lm[3 * LIPS_MID_UPPER[j]!]!, lm[3 * LIPS_MID_UPPER[j]! + 1]!) + lum(lm[3 * LIPS_MID_LOWER[j]!]!, lm[3 * LIPS_MID_LOWER[j]! + 1]!)) / 2;
  }
  return Math.min(0.5, Math.max(0.2, 1 - seam / Math.max(1, lips)));
}

function smoothColumns(v: Float64Array, cols: number, radius: number): void {
  const src = v.slice();
  for (let k = 0; k < cols; k++) {
    const a = Math.max(0, k - radius), b = Math.min(cols - 1, k + radius);
    for (let c = 0; c < 3; c++) {
      let s = 0;
      for (let i = a; i <= b; i++) s += src[3 * i + c]!;
      v[3 * k + c] = s / (b - a + 1);
    }
  }
}

/** Mean distance (px) between the inner lips over the middle three columns. */
function middleGap(lm: Float32Array): number {
  let g = 0;
  for (let j = 4; j <= 6; j++) {
    const u = LIPS_INNER_UPPER[j]!, l = LIPS_INNER_LOWER[j]!;
    g += Math.hypot(lm[3 * u]! - lm[3 * l]!, lm[3 * u + 1]! - lm[3 * l + 1]!);
  }
  return g / 3;
}

/** Image-plane distance (px) between landmarks a and b of a mesh (x,y,z triples). */
const landmarkDistance = (lm: Float32Array, a: number, b: number) => Math.hypot(lm[3 * a]! - lm[3 * b]!, lm[3 * a + 1]! - lm[3 * b + 1]!);

/**
 * How far (0 inner lip … 1 outer lip line) a fully closing lip samples into itself where no lip colour is found
 * near it (a moustache, lips too pale to tell from teeth), and how far the closing inner corners move.
 */
const LIP_SAMPLE_SHIFT = 0.85;
/**
 * When the new mouth is less open than the template's, the inner-lip line would sample the template's teeth
 * and dark gap. In each column that closes, the lip's *source* rows (inner, middle, semi-outer) move in
 * proportion to how much it closes, the outer row fixed, until the inner one sits on the lip's visible edge
 * (as in visibleInnerRing), or where no lip colour is found by LIP_SAMPLE_SHIFT: the closed lips show the whole
 * lip, in its own order, with the teeth squeezed out. Mutates `src` (x,y pairs; landmark part only).
 */
export function sampleLipsWhereMouthCloses(src: Float32Array, img: RgbImage, template: Float32Array, target: Float32Array): void {
  const shift = (inner: number, outer: number, k: number) => {
    src[2 * inner] = template[3 * inner]! + (template[3 * outer]! - template[3 * inner]!) * k;
    src[2 * inner + 1] = template[3 * inner + 1]! + (template[3 * outer + 1]! - template[3 * inner + 1]!) * k;
  };
  const last = LIPS_INNER_UPPER.length - 1;
  // A column whose lips already (nearly) touch hides nothing to squeeze out: shifting its source points into
  // the lips would only fold the lip texture over itself (a closed mouth made "more closed" showed shards of
  // lip there). The shift fades in between half and all of CLOSED_MOUTH (inter-ocular units).
  const iod = landmarkDistance(template, 33, 263);
  const shut = 0.5 * CLOSED_MOUTH * iod, open = CLOSED_MOUTH * iod;
  // Read once, and only where a column closes (most templates' mouths are shut: nothing to close).
  let body: ReturnType<typeof lipBodies> | undefined;
  let sum = 0;
  for (let j = 1; j < last; j++) {
    const up = LIPS_INNER_UPPER[j]!, lo = LIPS_INNER_LOWER[j]!;
    const before = landmarkDistance(template, up, lo);
    const hides = Math.min(1, Math.max(0, (before - shut) / Math.max(1e-6, open - shut)));
    const closing = before < 1 ? 0 : hides * Math.min(1, Math.max(0, 1 - landmarkDistance(target, up, lo) / before));
    sum += closing;
    if (closing === 0) continue;
    body ??= lipBodies(img, template);
    for (const [rows, colour, opposite] of [
      [[up, LIPS_MID_UPPER[j]!, LIPS_SEMI_OUTER_UPPER[j]!, LIPS_OUTER_UPPER[j]!], body.upper, lo],
      [[lo, LIPS_MID_LOWER[j]!, LIPS_SEMI_OUTER_LOWER[j]!, LIPS_OUTER_LOWER[j]!], body.lower, up],
    ] as const) {
      const edge = lipEdge(img, template, rows[0], rows[3], opposite, before, colour) ?? LIP_SAMPLE_SHIFT;
      for (const i of rows.slice(0, 3)) shift(i, rows[3], edge * closing);
    }
  }
  // The inner corners sit in the dark fold of an open mouth: sample them from the outer corners' skin.
  const k = (LIP_SAMPLE_SHIFT * sum) / (last - 1);
  if (k > 0) {
    shift(LIPS_INNER_UPPER[0]!, LIPS_OUTER_UPPER[0]!, k);
    shift(LIPS_INNER_UPPER[last]!, LIPS_OUTER_UPPER[last]!, k);
  }
}

/**
 * Where a lip's visible edge lies in its column, as a share of the way from its inner-lip point towards its
 * outer one (negative: towards the opposite lip). From a point on the lip, the edge is the last lip-coloured
 * pixel towards the opposite lip (at most LIP_EDGE_SEARCH of the gap, as in visibleInnerRing); from one on
 * teeth or darkness, the first lip-coloured pixel towards the outer line (at most SEAM_SEARCH of the lip's
 * height). Undefined where no lip colour is found.
 */
function lipEdge(img: RgbImage, lm: Float32Array, inner: number, outer: number, opposite: number, gap: number, colour: LipBody): number | undefined {
  const fx = lm[3 * inner]!, fy = lm[3 * inner + 1]!, tx = lm[3 * outer]!, ty = lm[3 * outer + 1]!;
  const height = Math.hypot(tx - fx, ty - fy);
  if (height < 1) return undefined;
  const isLip = (x: number, y: number) => isLipColour(pixelAt(img, x, y, 0), pixelAt(img, x, y, 1), pixelAt(img, x, y, 2), colour);
  if (isLip(fx, fy)) {
    const ox = lm[3 * opposite]!, oy = lm[3 * opposite + 1]!;
    const t = walkWhile(img, fx, fy, ox, oy, gap * LIP_EDGE_SEARCH, (r, g, b) => isLipColour(r, g, b, colour));
    return -(t * gap) / height;
  }
  const reach = height * SEAM_SEARCH;
  const t = walkWhile(img, fx, fy, tx, ty, reach, (r, g, b) => !isLipColour(r, g, b, colour));
  return t * height > reach - 0.5 ? undefined : t;
}

/** How far (share of each lip's height) the seam of a closed mouth is searched for, from the inner-lip line. */
const SEAM_SEARCH = 0.5;

/**
 * A closed mouth's seam (the dark line where the lips meet) often lies a few pixels off the mesh's inner-lip
 * line, on a lip's middle row. Opened, the lip would carry it apart from the new gap, as a dark red rim along
 * its inner edge. In the middle columns that open (the corners keep their crease), the search walks from the
 * inner-lip point towards the outer lip line through the seam to the first pixel of the lip body's colour (as
 * in visibleInnerRing), and the column's *source* points (inner, middle and semi-outer rows) close up towards
 * the outer lip line until the inner one sits on the seam's darkest pixel: the seam lands on the new inner-lip
 * line, the lip's shadowed edge against the painted interior. Mutates `src` (x,y pairs; landmark part only).
 */
export function sampleLipsPastTheSeam(src: Float32Array, img: RgbImage, template: Float32Array, target: Float32Array): void {
  const iod = landmarkDistance(template, 33, 263);
  const body = lipBodies(img, template);
  const last = LIPS_INNER_UPPER.length - 1;
  for (let j = 3; j <= last - 3; j++) {
    const up = LIPS_INNER_UPPER[j]!, lo = LIPS_INNER_LOWER[j]!;
    const before = landmarkDistance(template, up, lo), opened = landmarkDistance(target, up, lo);
    if (before > CLOSED_MOUTH * iod || opened < before + MOUTH_OPEN_MARGIN * iod) continue;
    for (const [rows, colour] of [
      [[up, LIPS_MID_UPPER[j]!, LIPS_SEMI_OUTER_UPPER[j]!, LIPS_OUTER_UPPER[j]!], body.upper],
      [[lo, LIPS_MID_LOWER[j]!, LIPS_SEMI_OUTER_LOWER[j]!, LIPS_OUTER_LOWER[j]!], body.lower],
    ] as const) {
      const [inner, , , outer] = rows;
      const fx = template[3 * inner]!, fy = template[3 * inner + 1]!, tx = template[3 * outer]!, ty = template[3 * outer + 1]!;
      const height = Math.hypot(tx - fx, ty - fy), reach = height * SEAM_SEARCH;
      const t = walkWhile(img, fx, fy, tx, ty, reach, (r, g, b) => !isLipColour(r, g, b, colour));
      // No lip colour within reach (a moustache, lips too pale to tell): no seam found, the column stays.
      if (t * height > reach - 0.5) continue;
      // A parting narrower than the lip is tall moves its seam only part of the way: there the seam is already
      // the gap's own shadow (6–9 px partings re-read a fifth less open with it gone).
      const k = darkestAlong(img, fx, fy, tx, ty, t) * Math.min(1, (opened - before) / height);
      for (const i of rows.slice(0, 3)) {
        src[2 * i] = template[3 * i]! + (tx - template[3 * i]!) * k;
        src[2 * i + 1] = template[3 * i + 1]! + (ty - template[3 * i + 1]!) * k;
      }
    }
  }
}

/** Share (0 … upTo) of the segment from (fx, fy) to (tx, ty) at which its darkest pixel lies, in half-pixel steps. */
function darkestAlong(img: RgbImage, fx: number, fy: number, tx: number, ty: number, upTo: number): number {
  const len = Math.hypot(tx - fx, ty - fy);
  let best = 0, least = Infinity;
  for (let d = 0; d <= upTo * len; d += 0.5) {
    const x = fx + ((tx - fx) * d) / len, y = fy + ((ty - fy) * d) / len;
    const sum = pixelAt(img, x, y, 0) + pixelAt(img, x, y, 1) + pixelAt(img, x, y, 2);
    if (sum < least) (least = sum), (best = d / len);
  }
  return best;
}
