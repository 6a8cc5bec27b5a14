import type { RgbImage } from "../types.ts";
import { faceMeshPoints, faceOvalCentre, movedTriangles, triangulate, warpTriangles } from "../warp/index.ts";
import { MESH_POINTS } from "../warp/landmarks.ts";
import { cropImage, resizeImage } from "../image/index.ts";
import { lerpPoints, trianglesInBox } from "./geometry.ts";
import { easeInOut, morphTiming, type LoopMode } from "./schedule.ts";
import { runThrough, type Steps } from "../steps.ts";

/** A mesh point moving less than this (px) in a morph frame counts as still: its triangles are not resampled. */
const MOVED_PX = 1e-3;

export interface MorphOptions {
  /** Frames in the whole animation (default 24). */
  frames?: number;
  /** Playback rate (default 20). */
  fps?: number;
  /** pingpong (there and back, default) or forward. */
  loop?: LoopMode;
  /** How long the two extreme frames stay (default 600 ms). */
  holdMs?: number;
}

export interface MorphFrames {
  frames: RgbImage[];
  delaysMs: number[];
  /** Eased progress of each frame, 0 = first endpoint, 1 = second. */
  progress: number[];
}

/** Ring anchors around the face (as in transfer): the warp never moves hair, neck or background. */
const RING_SCALE = 1.45;
/** A pixel of the transferred image counts as "texture changed" (not explained by the warp) above this. */
const RESIDUAL_THRESHOLD = 10;
const MASK_DILATE = 2;
const MASK_FEATHER = 3;

const copy = (img: RgbImage): RgbImage => ({ data: Uint8Array.from(img.data), width: img.width, height: img.height });

export interface ExpressionMorphInput extends MorphOptions {
  /** The user's face photo and its 468-point landmarks (pixels). */
  template: RgbImage;
  from: Float32Array;
  /** The transferred result (same size) and its landmarks. */
  result: RgbImage;
  to: Float32Array;
}

/**
 * Animates the user's face from its own expression to the transferred one. Geometry is interpolated on the
 * face mesh (eased) and the template is warped along it; only where the transferred image has texture the
 * warp cannot explain (a mouth that opens onto teeth, re-shaded lips) is that texture, carried along the
 * same mesh, faded in. The first frame is the template and the last the result, exactly.
 */
export function morphExpression(input: ExpressionMorphInput): MorphFrames {
  return runThrough(expressionMorphSteps(input));
}

/** morphExpression in steps (src/pipeline/steps.ts): a yield after the residual mask and after each frame. */
export function* expressionMorphSteps(input: ExpressionMorphInput): Steps<MorphFrames> {
  const { template, result, from, to } = input;
  const { width: w, height: h } = template;
  if (result.width !== w || result.height !== h) throw new Error("morphExpression: template and result sizes differ");
  const timing = morphTiming(input.frames, input.loop, input.fps, input.holdMs);
  const p0 = faceMeshPoints(from, { width: w, height: h, ringScale: RING_SCALE, border: true });
  // Only the 468 landmarks move; ring and border anchors stay where the template's are (as in transfer),
  // so hair, neck and background are never resampled.
  const p1 = Float32Array.from(p0);
  for (let i = 0; i < MESH_POINTS; i++) {
    p1[2 * i] = to[3 * i];
    p1[2 * i + 1] = to[3 * i + 1];
  }

  // Texture the warp alone does not produce: where the result differs from the template warped to the end shape.
  const warpedEnd = copy(template);
  warpTriangles(template, p0, p1, movedTriangles(triangulate(p1), p0, p1, MOVED_PX), warpedEnd);
  const residual = residualMask(result, warpedEnd);
  yield;

  const progress: number[] = [];
  const frames: RgbImage[] = [];
  for (const t of timing.t) {
    const e = easeInOut(t);
    progress.push(e);
    if (e <= 0) frames.push(copy(template));
    else if (e >= 1) frames.push(copy(result));
    else {
      const pe = lerpPoints(p0, p1, e);
      const tri = triangulate(pe);
      const frame = copy(template);
      warpTriangles(template, p0, pe, movedTriangles(tri, p0, pe, MOVED_PX), frame);
      if (residual) blendResidual(frame, result, residual, p1, pe, tri, e);
      frames.push(frame);
    }
    yield { made: frames.length, of: timing.t.length };
  }
  return { frames, delaysMs: timing.delaysMs, progress };
}

interface Residual {
  /** Feathered weight 0..255 in channel 0 (an RgbImage so the mesh warp can carry it). */
  mask: RgbImage;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function residualMask(result: RgbImage, warped: RgbImage): Residual | null {
  const { width: w, height: h } = result;
  const hard = new Uint8Array(w * h);
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let i = 0, p = 0; i < w * h; i++, p += 3) {
    const d = Math.max(
      Math.abs(result.data[p] - warped.data[p]),
      Math.abs(result.data[p + 1] - warped.data[p + 1]),
      Math.abs(result.data[p + 2] - warped.data[p + 2]),
    );
    if (d > RESIDUAL_THRESHOLD) {
      hard[i] = 1;
      const x = i % w, y = (i / w) | 0;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) return null;
  const m = MASK_DILATE + MASK_FEATHER;
  x0 = Math.max(0, x0 - m); y0 = Math.max(0, y0 - m);
  x1 = Math.min(w - 1, x1 + m); y1 = Math.min(h - 1, y1 + m);
  // Dilate (max filter), then feather (box blur) inside the box only.
  const dil = new Float32Array(w * h);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let v = 0;
      for (let dy = -MASK_DILATE; dy <= MASK_DILATE && !v; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -MASK_DILATE; dx <= MASK_DILATE; dx++) {
          const xx = x + dx;
          if (xx >= 0 && xx < w && hard[yy * w + xx]) { v = 1; break; }
        }
      }
      dil[y * w + x] = v;
    }
  }
  const mask: RgbImage = { data: new Uint8Array(w * h * 3), width: w, height: h };
  const r = MASK_FEATHER;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let s = 0, n = 0;
      for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) {
        for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) { s += dil[yy * w + xx]; n++; }
      }
      mask.data[(y * w + x) * 3] = Math.round((255 * s) / n);
    }
  }
  return { mask, x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/** Fades the result's own texture in where the residual mask says, carried along the mesh to shape pe. */
function blendResidual(frame: RgbImage, result: RgbImage, res: Residual, p1: Float32Array, pe: Float32Array, tri: Uint32Array, e: number): void {
  const { width: w, height: h } = frame;
  const near = trianglesInBox(tri, p1, res.x0 - 1, res.y0 - 1, res.x1 + 1, res.y1 + 1);
  const tex: RgbImage = { data: new Uint8Array(w * h * 3), width: w, height: h };
  const weight: RgbImage = { data: new Uint8Array(w * h * 3), width: w, height: h };
  warpTriangles(result, p1, pe, near, tex);
  warpTriangles(res.mask, p1, pe, near, weight);
  // The warped region's bounds at pe.
  let x0 = w, y0 = h, x1 = 0, y1 = 0;
  for (let t = 0; t < near.length; t++) {
    const i = near[t];
    x0 = Math.min(x0, pe[2 * i]); x1 = Math.max(x1, pe[2 * i]);
    y0 = Math.min(y0, pe[2 * i + 1]); y1 = Math.max(y1, pe[2 * i + 1]);
  }
  const xa = Math.max(0, Math.floor(x0)), xb = Math.min(w, Math.ceil(x1) + 1);
  const ya = Math.max(0, Math.floor(y0)), yb = Math.min(h, Math.ceil(y1) + 1);
  const k = e / 255;
  for (let y = ya; y < yb; y++) {
    for (let x = xa; x < xb; x++) {
      const p = (y * w + x) * 3;
      const a = weight.data[p] * k;
      if (a === 0) continue;
      for (let c = 0; c < 3; c++) frame.data[p + c] = frame.data[p + c] + (tex.data[p + c] - frame.data[p + c]) * a + 0.5;
    }
  }
}

export interface FaceMorphInput extends MorphOptions {
  /** First face: its image defines the output frame (resize it to the output size first). */
  a: RgbImage;
  aLandmarks: Float32Array;
  /** Second face, any size: the last frame is this photo, cut to a's shape around its face and scaled to a's size. */
  b: RgbImage;
  bLandmarks: Float32Array;
}

export interface FaceMorphFrames extends MorphFrames {
  /** The second endpoint: b's photo in a's frame (the last frame of a forward morph, exactly). */
  fittedB: RgbImage;
}

/**
 * The classic face morph between two different faces: each photo keeps its own framing (b is cut to a's shape
 * around its face and scaled to a's size, never rotated or shifted into a's pose), and every frame warps BOTH
 * photos to the interpolated mesh and cross-dissolves them, so eyes, nose and mouth stay single (no ghosting)
 * while identity, body and background blend. Image borders are shared anchors and a ring around each face
 * moves with it, so both photos cover the whole frame at every step: the first frame is a and the last b.
 */
export function morphFaces(input: FaceMorphInput): FaceMorphFrames {
  const { a } = input;
  const { width: w, height: h } = a;
  const timing = morphTiming(input.frames, input.loop, input.fps, input.holdMs);
  const { image: b, landmarks: bLm } = fitPhoto(input.b, input.bLandmarks, w, h, faceOvalCentre(input.aLandmarks));
  const pa = faceMeshPoints(input.aLandmarks, { width: w, height: h, ringScale: RING_SCALE, border: true });
  const pb = faceMeshPoints(bLm, { width: w, height: h, ringScale: RING_SCALE, border: true });
  const wa: RgbImage = { data: new Uint8Array(w * h * 3), width: w, height: h };
  const wb: RgbImage = { data: new Uint8Array(w * h * 3), width: w, height: h };
  const blendAt = (e: number): RgbImage => {
    const pe = lerpPoints(pa, pb, e);
    const tri = triangulate(pe);
    warpTriangles(a, pa, pe, tri, wa);
    warpTriangles(b, pb, pe, tri, wb);
    const out = new Uint8Array(w * h * 3);
    for (let i = 0; i < out.length; i++) out[i] = wa.data[i] + (wb.data[i] - wa.data[i]) * e + 0.5;
    return { data: out, width: w, height: h };
  };
  const progress: number[] = [];
  const frames = timing.t.map((t) => {
    const e = easeInOut(t);
    progress.push(e);
    if (e <= 0) return copy(a);
    if (e >= 1) return copy(b);
    return blendAt(e);
  });
  return { frames, delaysMs: timing.delaysMs, progress, fittedB: b };
}

/**
 * `img` cut to the aspect of a w × h frame (the largest such window, placed so its face sits where `at` is in
 * the frame, as far as the photo allows) and scaled to w × h, with its landmarks carried along.
 */
function fitPhoto(img: RgbImage, lm: Float32Array, w: number, h: number, at: [number, number]): { image: RgbImage; landmarks: Float32Array } {
  let cw = img.width;
  let ch = (img.width * h) / w;
  if (ch > img.height) {
    ch = img.height;
    cw = (img.height * w) / h;
  }
  const [fx, fy] = faceOvalCentre(lm);
  const clamp = (v: number, hi: number) => Math.min(Math.max(0, v), Math.max(0, hi));
  const x = Math.round(clamp(fx - (at[0] * cw) / w, img.width - cw));
  const y = Math.round(clamp(fy - (at[1] * ch) / h, img.height - ch));
  const cut = cropImage(img, { x, y, width: Math.max(1, Math.round(cw)), height: Math.max(1, Math.round(ch)) });
  const sx = w / cut.width;
  const sy = h / cut.height;
  const landmarks = new Float32Array(lm.length);
  for (let i = 0; i < lm.length; i += 3) {
    landmarks[i] = (lm[i] - x) * sx;
    landmarks[i + 1] = (lm[i + 1] - y) * sy;
    landmarks[i + 2] = lm[i + 2] * sx;
  }
  const image = cut.width === w && cut.height === h ? cut : resizeImage(cut, w, h);
  return { image, landmarks };
}
