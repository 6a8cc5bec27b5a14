import type { RgbImage } from "../types.ts";
import { sampleBilinear } from "../warp/index.ts";
import {
  LEFT_EYE_LOWER,
  LEFT_EYE_LOWER_FOLD,
  LEFT_EYE_UPPER,
  LEFT_EYE_UPPER_FOLD,
  MESH_POINTS,
  NOSE_BOTTOM,
  RIGHT_EYE_LOWER,
  RIGHT_EYE_LOWER_FOLD,
  RIGHT_EYE_UPPER,
  RIGHT_EYE_UPPER_FOLD,
} from "../warp/landmarks.ts";

/**
 * Eyelids that move over the eyeball instead of squeezing it.
 *
 * The mesh warp closes its triangles over each eye, so a lid that lowers squashes the iris and sclera into
 * the smaller opening (a flattened iris reads as a squashed eye, not a squint), and the skin between the
 * lid and the fold above it stretches, lashes and all, into a thick dark band that still looks open. Here
 * each eye's zone, from the skin fold above the upper lid to the one below the lower lid, is painted again
 * from the template column by column (u across the eye), with a 1-D map along the column (v):
 *  - lash lines keep their thickness and move with their lid; the lid skin between lash line and fold
 *    takes up the stretch (a closing lid unfolds skin, it does not grow lashes);
 *  - inside the opening a thin band along each lid (its shadow, BAND_UPPER / BAND_LOWER of the opening)
 *    moves with the lid, and between the bands the eyeball is copied unmoved relative to the eye corners:
 *    a closing lid covers part of the iris, which stays round; what it covers is simply not shown;
 *  - when the opening grows past what the template shows, the uncovered eyeball is drawn from the template's
 *    own: with the iris known (AnalyzedFace.irises) as a round iris (its texture mirrored across its centre)
 *    with sclera around it (taken from beside the iris), otherwise by continuing the still eyeball past its
 *    edge by reflection. Either way no skin or lash texture is pulled inside the eye.
 * At the fold curves the map meets the mesh warp (both send a fold to its template fold), so no seam.
 * Coordinates are per eye, in units of eye width: u from the outer (0) to the inner (1) corner, v across
 * the eye, increasing towards the cheek.
 */

/**
 * How much further lids are drawn than the mesh reads them move. The face mesh follows only about half of a
 * lid's motion, and a reaction's lids are read through the same model, so they really moved further than they
 * read. Below full compensation (2): small eyes closing into a squint became slits at 2. Evidence: eval/FINDINGS.md,
 * "Where some constants come from".
 */
export const LID_GAIN = 1.6;

/** Share of a column's opening that is the upper lid's shadow on the eyeball. */
const BAND_UPPER = 0.28;
/** Same for the lower lid. */
const BAND_LOWER = 0.2;
/** Lash line thickness outside the opening, in eye widths (capped at half the lid-to-fold distance). */
const LASH_UPPER = 0.07;
const LASH_LOWER = 0.04;
/** Lash lines start thinning when a lid column is closed below this share of its template opening... */
const LASH_THIN_FROM = 0.5;
/** ...down to this share of their thickness once shut. */
const LASH_SHUT = 0.4;
/** A column open less than this share of its template opening is drawn shut. */
const SHUT_BELOW = 0.12;
/** Lid-curve samples across each eye. */
const SAMPLES = 48;
/** A point moved less than this (pixels) counts as unmoved: the mesh warp's own result is kept. */
const MOVED_PX = 0.05;

/** One column of an eye: fold above, upper lid, lower lid, fold below (v, eye widths; increasing). */
export interface EyeColumn {
  fold: number;
  upper: number;
  lower: number;
  lowFold: number;
}

interface EyeFrame {
  ox: number;
  oy: number;
  /** Unit vector outer → inner corner, and the across-eye unit vector towards the cheek. */
  ux: number;
  uy: number;
  vx: number;
  vy: number;
  width: number;
  /** The four curves at u = k / (SAMPLES - 1). */
  fold: Float64Array;
  upper: Float64Array;
  lower: Float64Array;
  lowFold: Float64Array;
}

interface EyeRings {
  upper: readonly number[];
  lower: readonly number[];
  fold: readonly number[];
  lowFold: readonly number[];
}

/** Folds run corner to corner like the lids: the corners close both ends. */
const EYES: EyeRings[] = [
  {
    upper: RIGHT_EYE_UPPER,
    lower: RIGHT_EYE_LOWER,
    fold: [RIGHT_EYE_UPPER[0], ...RIGHT_EYE_UPPER_FOLD, RIGHT_EYE_UPPER[8]],
    lowFold: [RIGHT_EYE_LOWER[0], ...RIGHT_EYE_LOWER_FOLD.slice(1, -1), RIGHT_EYE_LOWER[8]],
  },
  {
    upper: LEFT_EYE_UPPER,
    lower: LEFT_EYE_LOWER,
    fold: [LEFT_EYE_UPPER[0], ...LEFT_EYE_UPPER_FOLD, LEFT_EYE_UPPER[8]],
    lowFold: [LEFT_EYE_LOWER[0], ...LEFT_EYE_LOWER_FOLD.slice(1, -1), LEFT_EYE_LOWER[8]],
  },
];

/**
 * Repaints both eye zones of `outLm` (the result's mesh) in `out` from `template` (whose mesh is
 * `templateLm`, whose irises are `templateIrises` when known: [cx, cy, r] right then left, template pixels);
 * `out` already holds the mesh warp. Eyes whose lids and folds did not move are left alone.
 * Returns how many eyes were repainted.
 */
export function paintEyes(out: RgbImage, outLm: Float32Array, template: RgbImage, templateLm: Float32Array, templateIrises?: Float32Array): number {
  let painted = 0;
  EYES.forEach((rings, k) => {
    if (!moved(outLm, templateLm, rings)) return;
    const to = eyeFrame(outLm, rings);
    const from = eyeFrame(templateLm, rings);
    if (!to || !from) return;
    paintEye(out, to, template, from, templateIrises ? irisInFrame(templateIrises, k, from) : null);
    painted++;
  });
  return painted;
}

/** An iris in its eye's frame (eye widths): centre u, v and radius r. */
export interface EyeIris {
  u: number;
  v: number;
  r: number;
}

/** Iris k of `irises` in the eye frame `f`, or null when it does not sit plausibly inside that eye. */
function irisInFrame(irises: Float32Array, k: number, f: EyeFrame): EyeIris | null {
  if (irises.length < 3 * k + 3) return null;
  const dx = irises[3 * k]! - f.ox, dy = irises[3 * k + 1]! - f.oy;
  const u = (dx * f.ux + dy * f.uy) / f.width;
  const v = (dx * f.vx + dy * f.vy) / f.width;
  const r = irises[3 * k + 2]! / f.width;
  if (!(u > 0.15 && u < 0.85 && r > 0.1 && r < 0.4)) return null;
  if (!(v > curveAt(f.fold, u) && v < curveAt(f.lowFold, u))) return null;
  return { u, v, r };
}

function moved(a: Float32Array, b: Float32Array, rings: EyeRings): boolean {
  return [rings.upper, rings.lower, rings.fold, rings.lowFold].some((ring) => ringMoved(a, b, ring));
}

function ringMoved(a: Float32Array, b: Float32Array, ring: readonly number[]): boolean {
  return ring.some((i) => Math.abs(a[3 * i]! - b[3 * i]!) > MOVED_PX || Math.abs(a[3 * i + 1]! - b[3 * i + 1]!) > MOVED_PX);
}

/** The eye's frame and curves, or null when the eye is degenerate (corners together, a curve not across it). */
function eyeFrame(lm: Float32Array, rings: EyeRings): EyeFrame | null {
  const outer = rings.upper[0]!, inner = rings.upper[rings.upper.length - 1]!;
  const ox = lm[3 * outer]!, oy = lm[3 * outer + 1]!;
  let ux = lm[3 * inner]! - ox, uy = lm[3 * inner + 1]! - oy;
  const width = Math.hypot(ux, uy);
  if (!(width >= 2)) return null;
  ux /= width;
  uy /= width;
  // Across the eye, pointing down the face (towards the nose bottom), whichever eye this is.
  let vx = -uy, vy = ux;
  const cx = ox + (ux * width) / 2, cy = oy + (uy * width) / 2;
  if ((lm[3 * NOSE_BOTTOM]! - cx) * vx + (lm[3 * NOSE_BOTTOM + 1]! - cy) * vy < 0) {
    vx = -vx;
    vy = -vy;
  }
  const f: EyeFrame = {
    ox, oy, ux, uy, vx, vy, width,
    fold: new Float64Array(SAMPLES), upper: new Float64Array(SAMPLES), lower: new Float64Array(SAMPLES), lowFold: new Float64Array(SAMPLES),
  };
  if (!curve(lm, rings.fold, f, f.fold) || !curve(lm, rings.upper, f, f.upper) || !curve(lm, rings.lower, f, f.lower) || !curve(lm, rings.lowFold, f, f.lowFold)) {
    return null;
  }
  // Curves out of order (a fit gone wrong) would give an inside-out zone: hold each at its neighbour.
  for (let k = 0; k < SAMPLES; k++) {
    f.upper[k] = Math.max(f.upper[k]!, f.fold[k]!);
    f.lower[k] = Math.max(f.lower[k]!, f.upper[k]!);
    f.lowFold[k] = Math.max(f.lowFold[k]!, f.lower[k]!);
  }
  return f;
}

/** Samples a polyline (outer → inner corner) at SAMPLES evenly spaced u; false if it does not run across the eye. */
function curve(lm: Float32Array, ring: readonly number[], f: EyeFrame, out: Float64Array): boolean {
  const n = ring.length;
  const us = new Float64Array(n);
  const vs = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const dx = lm[3 * ring[j]!]! - f.ox, dy = lm[3 * ring[j]! + 1]! - f.oy;
    // Monotone in u (a point folded back past its neighbour is held at it).
    us[j] = Math.max(j > 0 ? us[j - 1]! : -Infinity, (dx * f.ux + dy * f.uy) / f.width);
    vs[j] = (dx * f.vx + dy * f.vy) / f.width;
  }
  if (!(us[n - 1]! - us[0]! > 0.5)) return false;
  let j = 0;
  for (let k = 0; k < SAMPLES; k++) {
    const u = k / (SAMPLES - 1);
    while (j < n - 2 && us[j + 1]! < u) j++;
    const span = us[j + 1]! - us[j]!;
    const t = span > 1e-9 ? Math.min(1, Math.max(0, (u - us[j]!) / span)) : 0;
    out[k] = vs[j]! + (vs[j + 1]! - vs[j]!) * t;
  }
  return true;
}

/** A curve's value at u (0..1), linear between samples. */
function curveAt(c: Float64Array, u: number): number {
  const x = Math.min(1, Math.max(0, u)) * (SAMPLES - 1);
  const k = Math.min(SAMPLES - 2, x | 0);
  const t = x - k;
  return c[k]! * (1 - t) + c[k + 1]! * t;
}

/**
 * Where, along the template's column `t`, the result's point at `v` in its column `o` shows (same units).
 * Pure 1-D map, monotone except for the jump a closing lid makes over the eyeball it covers.
 */
export function eyeColumnSource(v: number, o: EyeColumn, t: EyeColumn): number {
  const thin = lashThinning(o, t);
  // Shut: the upper lid reaches the lower lash line; the slit left between them is lid, not eyeball.
  const upper = thin.shut ? o.lower : o.upper;
  if (v < upper) return lidSkin(v, o.fold, upper, t.fold, t.upper, LASH_UPPER, thin.k);
  if (v > o.lower) return 2 * t.lower - lidSkin(2 * o.lower - v, 2 * o.lower - o.lowFold, o.lower, 2 * t.lower - t.lowFold, t.lower, LASH_LOWER, thin.k);
  return opening(v, o.upper, o.lower, t.upper, t.lower);
}

/**
 * A lid coming down over the eyeball turns its lashes down: seen from the front the lash lines thin to a
 * line (k, × their template thickness), and an eye closed to a slit (shut) shows no eyeball at all.
 */
function lashThinning(o: EyeColumn, t: EyeColumn): { k: number; shut: boolean } {
  const open = t.lower - t.upper;
  const c = open > 1e-9 ? (o.lower - o.upper) / open : 1;
  const k = LASH_SHUT + (1 - LASH_SHUT) * Math.min(1, Math.max(0, (c - SHUT_BELOW) / (LASH_THIN_FROM - SHUT_BELOW)));
  return { k, shut: c < SHUT_BELOW };
}

/** How a column of a closing upper lid is drawn as unrolled lid skin (see coveringLid). */
export interface CoveringLid {
  /** How much of this layout replaces the plain stretch (0: none, 1: all), by how far the lid closed. */
  w: number;
  /** Template v shown 1:1 below the fold (the crease and the lid skin the template shows). */
  src: number;
  /** How much of the lid skin colour replaces that (0 by the fold, 1 on the unrolled skin). */
  fill: number;
  /** 0 at the top of the unrolled skin, 1 at the lash line (the lid turning under, in shade). */
  depth: number;
}

/**
 * A lid closing over the eyeball unrolls skin that the open eye hid under its crease, and the crease
 * flattens: below the fold the template's skin is shown unstretched, fading over the upper half of the lid
 * into the lid's own skin colour (lidSkinColours), a little darker towards the lash line where the lid turns
 * under. Stretching the template's lid band down instead drew its crease, highlight, lash shadow and makeup
 * as a tall banded strip that still looked (and read) like an open eye. False outside the upper lid's skin,
 * or when the column closed too little for this to apply.
 */
export function coveringLid(v: number, o: EyeColumn, t: EyeColumn, out: CoveringLid): boolean {
  const open = t.lower - t.upper;
  const c = open > 1e-9 ? (o.lower - o.upper) / open : 1;
  const w = Math.min(1, Math.max(0, (COVER_FROM - c) / (COVER_FROM - SHUT_BELOW)));
  if (w <= 0) return false;
  const thin = lashThinning(o, t);
  const lid = thin.shut ? o.lower : o.upper;
  const lashT = Math.min(LASH_UPPER, 0.5 * (t.upper - t.fold));
  const lashTop = lid - Math.min(lashT * thin.k, 0.5 * (lid - o.fold));
  if (!(v > o.fold && v < lashTop)) return false;
  const h = lashTop - o.fold;
  out.w = w;
  out.src = Math.min(t.fold + (v - o.fold), t.upper - lashT);
  out.fill = Math.min(1, (v - o.fold) / (FILL_RAMP * h));
  out.depth = (v - o.fold) / h;
  return true;
}

/** Closing below this share of its opening, a column starts to be drawn as unrolled lid skin (all of it when shut). */
const COVER_FROM = 0.6;
/** Share of the lid (fold to lash line) over which the template's skin by the fold fades into the lid skin. */
const FILL_RAMP = 0.5;
/** How much darker the unrolled lid is at its lash line than at its top. */
const LID_SHADE = 0.15;

/** Fold → lid (increasing v): the lash line next to the lid keeps its thickness (× thin), the skin above stretches. */
function lidSkin(v: number, fold: number, lid: number, foldT: number, lidT: number, lash: number, thin = 1): number {
  const lashT = Math.min(lash, 0.5 * (lidT - foldT));
  const lashO = Math.min(lashT * thin, 0.5 * (lid - fold));
  if (v >= lid - lashO) return lerp(v, lid - lashO, lid, lidT - lashT, lidT);
  return lerp(v, fold, lid - lashO, foldT, lidT - lashT);
}

/** Where a column's opening shows what (v, eye widths); see openingBands. */
export interface OpeningBands {
  /** Template: the clean eyeball between the two lid shadows. */
  topT: number;
  botT: number;
  /** Result: the same, its shadow bands moved with its lids. */
  topO: number;
  botO: number;
  /** Result: where the template's eyeball shows unmoved (empty when r0 >= r1). */
  r0: number;
  r1: number;
}

/** The bands of a result opening [a, b] over a template opening [at, bt], written into `out`. */
export function openingBands(a: number, b: number, at: number, bt: number, out: OpeningBands): OpeningBands {
  const open = bt - at;
  out.topT = at + BAND_UPPER * open; // template: end of the upper lid's shadow band
  out.botT = bt - BAND_LOWER * open; // template: start of the lower lid's
  // Result: the bands keep their template thickness, unless the opening is too thin to hold both.
  const bands = Math.min(1, Math.max(0, b - a) / Math.max(1e-9, (BAND_UPPER + BAND_LOWER) * open));
  out.topO = a + BAND_UPPER * open * bands;
  out.botO = b - BAND_LOWER * open * bands;
  // The still eyeball shows where the result's middle and the template's middle overlap.
  out.r0 = Math.max(out.topO, out.topT);
  out.r1 = Math.min(out.botO, out.botT);
  return out;
}

const scratchBands: OpeningBands = { topT: 0, botT: 0, topO: 0, botO: 0, r0: 0, r1: 0 };

/** Inside the opening [a, b], for a template opening [at, bt]: see the module comment. */
function opening(v: number, a: number, b: number, at: number, bt: number): number {
  const { topT, botT, topO, botO, r0, r1 } = openingBands(a, b, at, bt, scratchBands);
  const room = Math.max(0, b - a);
  if (r0 >= r1) {
    // Nearly shut (or shifted past the template's middle): only the two shadow bands, split in proportion.
    const split = a + (room * BAND_UPPER) / (BAND_UPPER + BAND_LOWER);
    return v <= split ? lerp(v, a, split, at, topT) : lerp(v, split, b, botT, bt);
  }
  // Each shadow band moves with its lid. A closing lid's band sits over eyeball it now covers (skipped).
  if (v < topO) return lerp(v, a, topO, at, topT);
  if (v > botO) return lerp(v, botO, b, botT, bt);
  // An opening lid uncovers eyeball the template never showed: continue the still eyeball past its edge by
  // reflection (iris stays iris, sclera stays sclera, no stretched texture and no repeated rows).
  return reflectInto(v, r0, r1);
}

/** v mirrored into [lo, hi] across the nearer end (once; held at the far end). */
function reflectInto(v: number, lo: number, hi: number): number {
  if (v < lo) return Math.min(hi, 2 * lo - v);
  if (v > hi) return Math.max(lo, 2 * hi - v);
  return v;
}

function lerp(v: number, a: number, b: number, fa: number, fb: number): number {
  return b - a > 1e-9 ? fa + ((v - a) / (b - a)) * (fb - fa) : fa;
}

/**
 * Where the template shows the eyeball for a point (u, v) that a widening lid uncovers, given the template
 * column's bands (`b`), when the iris is known: inside the iris circle the iris mirrored across its centre
 * row (an iris is round, its hidden cap looks like its visible one), outside it sclera from just beside the
 * iris at the same height. Writes [u, v] into `to`; false when the column needs nothing special (it does
 * not cross the iris), and the reflection applies.
 */
export function uncoveredEyeball(u: number, v: number, iris: EyeIris, b: OpeningBands, from: { upper: (u: number) => number; lower: (u: number) => number }, to: Float64Array): boolean {
  const du = u - iris.u, dv = v - iris.v;
  if (du * du + dv * dv < iris.r * iris.r) {
    to[0] = u;
    to[1] = Math.min(b.botT, Math.max(b.topT, 2 * iris.v - v));
    return true;
  }
  if (Math.abs(du) >= iris.r * SCLERA_BESIDE) return false;
  const us = Math.min(0.98, Math.max(0.02, iris.u + (du < 0 ? -1 : 1) * iris.r * SCLERA_BESIDE));
  const at = from.upper(us), bt = from.lower(us);
  const { topT, botT } = openingBands(at, bt, at, bt, scratchBands); // that column's clean eyeball
  to[0] = us;
  to[1] = topT >= botT ? (topT + botT) / 2 : reflectInto(v, topT, botT);
  return true;
}

/** Sclera for an uncovered point is taken this many iris radii from the iris centre (clear of the limbus). */
const SCLERA_BESIDE = 1.25;

function paintEye(out: RgbImage, to: EyeFrame, src: RgbImage, from: EyeFrame, iris: EyeIris | null): void {
  const W = out.width, H = out.height;
  // Bounding box of the result's zone.
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let k = 0; k < SAMPLES; k++) {
    const u = (k / (SAMPLES - 1)) * to.width;
    for (const v of [to.fold[k]! * to.width, to.lowFold[k]! * to.width]) {
      const x = to.ox + u * to.ux + v * to.vx, y = to.oy + u * to.uy + v * to.vy;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  const xs = Math.max(0, Math.floor(x0)), xe = Math.min(W - 1, Math.ceil(x1));
  const ys = Math.max(0, Math.floor(y0)), ye = Math.min(H - 1, Math.ceil(y1));
  const od = out.data;
  const o: EyeColumn = { fold: 0, upper: 0, lower: 0, lowFold: 0 };
  const t: EyeColumn = { fold: 0, upper: 0, lower: 0, lowFold: 0 };
  const bands: OpeningBands = { topT: 0, botT: 0, topO: 0, botO: 0, r0: 0, r1: 0 };
  const fromCurves = { upper: (u: number) => curveAt(from.upper, u), lower: (u: number) => curveAt(from.lower, u) };
  const uv = new Float64Array(2);
  const cover: CoveringLid = { w: 0, src: 0, fill: 0, depth: 0 };
  const px = new Uint8Array(3);
  let skin: Float64Array | null = null; // only for a closing lid (see coveringLid)
  for (let y = ys; y <= ye; y++) {
    for (let x = xs; x <= xe; x++) {
      const dx = x - to.ox, dy = y - to.oy;
      const u = (dx * to.ux + dy * to.uy) / to.width;
      if (u <= 0 || u >= 1) continue;
      const v = (dx * to.vx + dy * to.vy) / to.width;
      o.fold = curveAt(to.fold, u);
      o.lowFold = curveAt(to.lowFold, u);
      // Strictly inside the zone: the folds themselves (and everything outside) stay the mesh warp's.
      if (v <= o.fold || v >= o.lowFold) continue;
      o.upper = curveAt(to.upper, u);
      o.lower = curveAt(to.lower, u);
      t.fold = curveAt(from.fold, u);
      t.upper = curveAt(from.upper, u);
      t.lower = curveAt(from.lower, u);
      t.lowFold = curveAt(from.lowFold, u);
      let tu = u;
      let tv = eyeColumnSource(v, o, t);
      if (iris && v > o.upper && v < o.lower) {
        // Eyeball the template never showed (a widening lid): see uncoveredEyeball.
        const b = openingBands(o.upper, o.lower, t.upper, t.lower, bands);
        if (b.r0 < b.r1 && ((v >= b.topO && v < b.r0) || (v > b.r1 && v <= b.botO)) && uncoveredEyeball(u, v, iris, b, fromCurves, uv)) {
          tu = uv[0]!;
          tv = uv[1]!;
        }
      }
      const su = tu * from.width, sv = tv * from.width;
      const q = (y * W + x) * 3;
      sampleBilinear(src, from.ox + su * from.ux + sv * from.vx, from.oy + su * from.uy + sv * from.vy, od, q);
      if (coveringLid(v, o, t, cover)) {
        skin ??= lidSkinColours(src, from);
        const cv = cover.src * from.width;
        sampleBilinear(src, from.ox + su * from.ux + cv * from.vx, from.oy + su * from.uy + cv * from.vy, px, 0);
        const shade = 1 - LID_SHADE * cover.depth * cover.depth;
        const x = Math.min(1, Math.max(0, u)) * (SAMPLES - 1);
        const k = Math.min(SAMPLES - 2, x | 0), a = x - k;
        for (let c = 0; c < 3; c++) {
          const colour = skin[3 * k + c]! * (1 - a) + skin[3 * k + 3 + c]! * a;
          const layout = px[c]! + (colour * shade - px[c]!) * cover.fill;
          od[q + c] = Math.round(od[q + c]! + (layout - od[q + c]!) * cover.w);
        }
      }
    }
  }
}

/**
 * The template's own upper-lid skin, per lid column (SAMPLES columns across the eye, RGB): the mean of the
 * brighter part of the column's skin from a little above the fold to the lash line, smoothed across
 * neighbouring columns. A closing lid is drawn in it: the same skin, without the crease line and the
 * banding that sit inside the open eye's lid.
 */
function lidSkinColours(src: RgbImage, f: EyeFrame): Float64Array {
  const raw = new Float64Array(SAMPLES * 3);
  const px = new Uint8Array(3);
  const step = Math.max(0.005, 0.5 / f.width);
  for (let k = 0; k < SAMPLES; k++) {
    const u = k / (SAMPLES - 1);
    const fold = f.fold[k]!, upper = f.upper[k]!;
    const lash = Math.min(LASH_UPPER, 0.5 * (upper - fold));
    const su = u * f.width;
    const col: [number, number, number, number][] = [];
    for (let v = fold - SKIN_ABOVE; v <= upper - lash || col.length === 0; v += step) {
      const sv = v * f.width;
      sampleBilinear(src, f.ox + su * f.ux + sv * f.vx, f.oy + su * f.uy + sv * f.vy, px, 0);
      col.push([px[0]!, px[1]!, px[2]!, 0.299 * px[0]! + 0.587 * px[1]! + 0.114 * px[2]!]);
    }
    // The brighter part: crease, lash shadow and liner are darker than the skin that unrolls.
    col.sort((a, b) => b[3] - a[3]);
    const n = Math.max(1, Math.round(col.length * SKIN_BRIGHT));
    for (let j = 0; j < n; j++) for (let c = 0; c < 3; c++) raw[3 * k + c]! += col[j]![c]! / n;
  }
  const out = new Float64Array(SAMPLES * 3);
  for (let k = 0; k < SAMPLES; k++) {
    let n = 0;
    for (let j = Math.max(0, k - SKIN_SMOOTH); j <= Math.min(SAMPLES - 1, k + SKIN_SMOOTH); j++, n++) for (let c = 0; c < 3; c++) out[3 * k + c]! += raw[3 * j + c]!;
    for (let c = 0; c < 3; c++) out[3 * k + c]! /= n;
  }
  return out;
}

/** The lid skin is sampled from this far (eye widths) above the fold: the skin a closed lid continues. */
const SKIN_ABOVE = 0.1;
/** Share of a lid column's skin samples, brightest first, that give its colour. */
const SKIN_BRIGHT = 0.6;
/** Lid columns averaged each side for the lid skin (of SAMPLES across the eye). */
const SKIN_SMOOTH = 3;

/**
 * The mesh to draw for a template (`base`) wearing the read expression `read`: lids moved LID_GAIN× as far
 * (at most MAX_OPEN, or MAX_OPEN_WITH_IRIS when the template's irises are known, times the template's
 * aperture), and the skin under each lower lid carried along with it. Everything else as read.
 */
export function drawnEyelids(base: Float32Array, read: Float32Array, irisesKnown: boolean): Float32Array {
  return carryUnderEyeSkin(base, amplifyLidMotion(base, read, LID_GAIN, irisesKnown ? MAX_OPEN_WITH_IRIS : MAX_OPEN));
}

/**
 * The mesh as it should be drawn when lids read as `target` but the analyser follows only part of a lid's
 * real motion: each lid and fold point's motion relative to its eye corners is scaled by `gain`, and lids
 * are kept from crossing (an over-closed eye stays a thin slit).
 */
export function amplifyLidMotion(base: Float32Array, target: Float32Array, gain: number, maxOpen = MAX_OPEN): Float32Array {
  const out = target.slice();
  if (gain === 1) return out;
  for (const rings of EYES) {
    const oc = rings.upper[0]!, ic = rings.upper[rings.upper.length - 1]!;
    const dox = target[3 * oc]! - base[3 * oc]!, doy = target[3 * oc + 1]! - base[3 * oc + 1]!;
    const dix = target[3 * ic]! - base[3 * ic]!, diy = target[3 * ic + 1]! - base[3 * ic + 1]!;
    for (const ring of [rings.upper, rings.lower, rings.fold, rings.lowFold]) {
      const n = ring.length;
      for (let j = 1; j < n - 1; j++) {
        const i = ring[j]!;
        const t = j / (n - 1);
        const cx = dox + (dix - dox) * t, cy = doy + (diy - doy) * t;
        out[3 * i] = base[3 * i]! + cx + gain * (target[3 * i]! - base[3 * i]! - cx);
        out[3 * i + 1] = base[3 * i + 1]! + cy + gain * (target[3 * i + 1]! - base[3 * i + 1]! - cy);
      }
    }
    const f = eyeFrame(out, rings);
    if (!f) continue;
    const across = (lm: Float32Array, j: number) =>
      (lm[3 * rings.lower[j]!]! - lm[3 * rings.upper[j]!]!) * f.vx + (lm[3 * rings.lower[j]! + 1]! - lm[3 * rings.upper[j]! + 1]!) * f.vy;
    for (let j = 1; j < rings.upper.length - 1; j++) {
      // The gain stops at MAX_OPEN× the template's opening (a reaction read as opening further still gets
      // its read opening).
      const before = across(base, j), read = across(target, j), drawn = across(out, j);
      const limit = Math.max(read, before * maxOpen);
      if (drawn <= limit || drawn <= read) continue;
      const keep = (limit - read) / (drawn - read);
      for (const ring of [rings.upper, rings.lower, rings.fold, rings.lowFold]) {
        const i = ring[j]!;
        out[3 * i] = target[3 * i]! + keep * (out[3 * i]! - target[3 * i]!);
        out[3 * i + 1] = target[3 * i + 1]! + keep * (out[3 * i + 1]! - target[3 * i + 1]!);
      }
    }
    // Keep each lid column open by at least MIN_GAP eye widths, lower lid below the upper.
    for (let j = 1; j < rings.upper.length - 1; j++) {
      const u = rings.upper[j]!, l = rings.lower[j]!;
      const gap = across(out, j);
      // Never opener than the template or the read expression already were (an eye shut in both stays shut).
      const need = Math.min(MIN_GAP * f.width, Math.max(across(base, j), across(target, j))) - gap;
      if (need <= 0) continue;
      out[3 * u]! -= (need / 2) * f.vx;
      out[3 * u + 1]! -= (need / 2) * f.vy;
      out[3 * l]! += (need / 2) * f.vx;
      out[3 * l + 1]! += (need / 2) * f.vy;
    }
  }
  return out;
}

/**
 * How far the gain may open an eye beyond the template's own opening (× its aperture): past it the eyeball
 * continued by reflection shows as a squared-off iris. See amplifyLidMotion.
 */
export const MAX_OPEN = 1.35;
/** The same when the template's irises are known and uncovered eyeball is drawn as iris and sclera. */
export const MAX_OPEN_WITH_IRIS = 1.7;
/** Narrowest lid gap a drawn eye keeps (eye widths): shut eyes still show their lash line as a slit. */
const MIN_GAP = 0.02;

/**
 * How far below the lower lid (eye widths) the skin follows the lid's motion, fading linearly to nothing: a lid
 * that slides over skin that stays put does not read as a lid that moved (eval/FINDINGS.md, "Where some
 * constants come from").
 */
export const UNDER_EYE_DEPTH = 0.6;

/**
 * The drawn mesh with the skin under each lower lid carried along by the lid: a point below the lid, within
 * the eye's span (plus a tenth of its width each side), moves towards the lid's own motion (relative to the
 * eye corners) with a weight that is 1 at the lid, fades to 0 at UNDER_EYE_DEPTH below it and tapers to 0
 * at the span's ends. Eyes whose lower lid did not move are left alone; lids, folds above and everything
 * else keep their place. `base` is the template's mesh, `drawn` the mesh to draw (from amplifyLidMotion).
 */
export function carryUnderEyeSkin(base: Float32Array, drawn: Float32Array, depth = UNDER_EYE_DEPTH): Float32Array {
  const out = drawn.slice();
  for (const rings of EYES) {
    if (!ringMoved(drawn, base, rings.lower)) continue;
    const f = eyeFrame(base, rings);
    if (!f) continue;
    const oc = rings.upper[0]!, ic = rings.upper[rings.upper.length - 1]!;
    const cox = drawn[3 * oc]! - base[3 * oc]!, coy = drawn[3 * oc + 1]! - base[3 * oc + 1]!;
    const cix = drawn[3 * ic]! - base[3 * ic]!, ciy = drawn[3 * ic + 1]! - base[3 * ic + 1]!;
    // The lower lid's motion relative to its corners, at each of its points' u (template frame).
    const n = rings.lower.length;
    const lu = new Float64Array(n), lx = new Float64Array(n), ly = new Float64Array(n);
    const skip = new Set<number>([...rings.upper, ...rings.lower, ...rings.fold]);
    for (let j = 0; j < n; j++) {
      const i = rings.lower[j]!;
      const t = j / (n - 1);
      lu[j] = Math.max(j > 0 ? lu[j - 1]! : -Infinity, ((base[3 * i]! - f.ox) * f.ux + (base[3 * i + 1]! - f.oy) * f.uy) / f.width);
      lx[j] = drawn[3 * i]! - base[3 * i]! - (cox + (cix - cox) * t);
      ly[j] = drawn[3 * i + 1]! - base[3 * i + 1]! - (coy + (ciy - coy) * t);
    }
    for (let i = 0; i < MESH_POINTS; i++) {
      if (skip.has(i)) continue;
      const dx = base[3 * i]! - f.ox, dy = base[3 * i + 1]! - f.oy;
      const u = (dx * f.ux + dy * f.uy) / f.width;
      if (u <= -SPAN_MARGIN || u >= 1 + SPAN_MARGIN) continue;
      const below = (dx * f.vx + dy * f.vy) / f.width - curveAt(f.lower, u);
      if (below <= 0 || below >= depth) continue;
      const w = Math.sin((Math.PI * (u + SPAN_MARGIN)) / (1 + 2 * SPAN_MARGIN)) * (1 - below / depth);
      // The lid's relative motion at u (zero at and beyond the corners), and the corners' own motion there.
      let j = 0;
      while (j < n - 2 && lu[j + 1]! < u) j++;
      const span = lu[j + 1]! - lu[j]!;
      const s = span > 1e-9 ? Math.min(1, Math.max(0, (u - lu[j]!) / span)) : 0;
      const mx = lx[j]! + (lx[j + 1]! - lx[j]!) * s, my = ly[j]! + (ly[j + 1]! - ly[j]!) * s;
      const c = Math.min(1, Math.max(0, u));
      const cx = cox + (cix - cox) * c, cy = coy + (ciy - coy) * c;
      const rx = drawn[3 * i]! - base[3 * i]! - cx, ry = drawn[3 * i + 1]! - base[3 * i + 1]! - cy;
      out[3 * i] = base[3 * i]! + cx + rx + w * (mx - rx);
      out[3 * i + 1] = base[3 * i + 1]! + cy + ry + w * (my - ry);
    }
  }
  return out;
}

/** The under-eye zone reaches this far (eye widths) past each eye corner, tapering to nothing there. */
const SPAN_MARGIN = 0.1;
