import type { Box, RgbImage } from "../types.ts";
import { faceMeshPoints, triangulate, warpTriangles } from "../warp/index.ts";
import { LEFT_BROW, LEFT_EYE_LOWER, LEFT_EYE_UPPER, LIPS_OUTER_LOWER, LIPS_OUTER_UPPER, MESH_POINTS, RIGHT_BROW, RIGHT_EYE_LOWER, RIGHT_EYE_UPPER } from "../warp/landmarks.ts";
import { boxBlurMask, pointsBox } from "./blend.ts";
import { faceSize, insidePolygon, meshPolygon } from "./geometry.ts";
import type { TransferInput } from "./transfer.ts";

/** The reaction and, where known, its person at rest (an animation's rest frame): picture and face mesh. */
export type ReactionPictures = Pick<TransferInput, "reaction" | "reactionFace" | "reactionRest" | "reactionRestImage">;

/** Swap's blended face: how much of each pixel of `box` (in the output) is the user's face. */
export interface DrawnFace {
  alpha: Float32Array;
  box: Box;
}

/** How much of the output pixel (x, y) is the user's face: swap's alpha there, 0 outside its box; 1 in mimic (no `drawn`). */
export function drawnShare(drawn: DrawnFace | undefined, x: number, y: number): number {
  if (!drawn) return 1;
  const dx = x - drawn.box.x, dy = y - drawn.box.y;
  return dx >= 0 && dy >= 0 && dx < drawn.box.width && dy < drawn.box.height ? drawn.alpha[dy * drawn.box.width + dx]! : 0;
}

/** Band-pass of the shading, as shares of the face size: finer is pores and noise, coarser is the light. */
const FINE = 0.008;
const COARSE = 0.08;
/** Faces this large (px) have their shading and where it goes worked out at half size. */
const HALF_SIZE_FACE = 250;
/** Strain (the rest → expression map's stretch or squeeze) under which skin counts as still, and at which lines show in full. */
const STILL_STRAIN = 0.02;
const FULL_STRAIN = 0.2;
/** How far (share of the face size) the strain of the mesh's triangles is spread into a smooth field. */
const STRAIN_SPREAD = 0.04;
/** Soft margin (share of the face size) kept around eyes, brows and lips. */
const FEATURE_MARGIN = 0.012;
/** The most a line may darken or lighten a pixel (log luma): a misregistered edge cannot black out a patch. */
const MAX_SHADE = 0.5;

/** The brows' outlines: the upper line out to in, the lower line back. */
const BROW_RING = (brow: readonly number[]) => [...brow.slice(0, 5), ...brow.slice(5, 10).reverse()];
const ring = (upper: readonly number[], lower: readonly number[]) => [...upper, ...[...lower].reverse()];
/** The person's own features: their lines never come from the reaction. */
const FEATURES = [
  ring(RIGHT_EYE_UPPER, RIGHT_EYE_LOWER),
  ring(LEFT_EYE_UPPER, LEFT_EYE_LOWER),
  ring(LIPS_OUTER_UPPER, LIPS_OUTER_LOWER),
  BROW_RING(RIGHT_BROW),
  BROW_RING(LEFT_BROW),
];

/**
 * Expression creases: the shading an expression adds to its person's face (a laugh's nasolabial folds and
 * crow's feet, raised brows' forehead lines) laid onto the result. It is the reaction's band-passed log luma
 * less its rest picture's, both carried onto the result's face by the mesh: an expression ratio image (Liu,
 * Shan & Zhang 2001), so the reaction's own skin, moles and light cancel. Applied only where the expression
 * strains the skin (`rest` → `expression`, the user's mesh) and never over eyes, brows or lips, so landmark
 * jitter at a feature's edge and the still parts of the face are left alone. `outMesh` is where the face is in
 * `out` (its size sets the blurs); `drawn` (swap) is how much of each pixel of its box is the user's face (the
 * reaction's own pixels around it already show the reaction's creases). A still has no rest picture of its
 * person and gets none: which of its lines the expression made cannot be told from that person's own
 * (eval/FINDINGS.md, "Expression creases").
 */
export function addExpressionCreases(
  out: RgbImage,
  outMesh: Float32Array,
  rest: Float32Array,
  expression: Float32Array,
  pictures: ReactionPictures,
  intensity: number,
  drawn?: DrawnFace,
): void {
  const { reaction, reactionFace, reactionRest, reactionRestImage } = pictures;
  if (!reactionRest || !reactionRestImage || intensity <= 0) return;
  const size = faceSize(outMesh);
  const pts = meshPoints(outMesh);
  const box = pointsBox(pts, out.width, out.height, 2);
  const bw = box.width, bh = box.height;
  if (bw < 4 || bh < 4) return;
  for (let i = 0; i < MESH_POINTS; i++) {
    pts[2 * i]! -= box.x;
    pts[2 * i + 1]! -= box.y;
  }
  // Where lines may go, on a grid of g × g pixel cells (both fields are smooth over several cells).
  const g = size >= HALF_SIZE_FACE ? 2 : 1;
  const gw = Math.ceil(bw / g), gh = Math.ceil(bh / g);
  const cells = pts.map((v) => (v + 0.5) / g - 0.5);
  const weight = strainField(cells, rest, expression, gw, gh, size / g);
  const features = featureMask(cells, gw, gh, size / g);
  for (let i = 0; i < weight.length; i++) weight[i]! *= Math.max(0, 1 - 2 * features[i]!) * intensity;

  const tris = triangulate(pts);
  const cover = new Float32Array(bw * bh);
  const now = warpedShading(reaction, reactionFace.landmarks, pts, tris, bw, bh, size, cover);
  const before = warpedShading(reactionRestImage, reactionRest, pts, tris, bw, bh, size, undefined, true);
  if (!now || !before) return;

  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const i = y * bw + x;
      if (!(cover[i]! > 0)) continue;
      const w = (g === 1 ? weight[i]! : bilinear(weight, gw, gh, (x + 0.5) / g - 0.5, (y + 0.5) / g - 0.5)) * drawnShare(drawn, x + box.x, y + box.y);
      if (w <= 0) continue;
      const shade = Math.max(-MAX_SHADE, Math.min(MAX_SHADE, w * (now[i]! - before[i]!)));
      const k = Math.exp(shade);
      const o = ((y + box.y) * out.width + x + box.x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = out.data[o + c]! * k;
        out.data[o + c] = v > 255 ? 255 : v + 0.5;
      }
    }
  }
}

/** The 468 landmarks' x,y pairs. */
export const meshPoints = (mesh: Float32Array) => faceMeshPoints(mesh, { width: 0, height: 0, ringScale: 0 });

/** A w × h field's value at (x, y), bilinear, clamped to its edge. */
function bilinear(f: Float32Array, w: number, h: number, x: number, y: number): number {
  const cx = Math.min(w - 1, Math.max(0, x)), cy = Math.min(h - 1, Math.max(0, y));
  const x0 = Math.floor(cx), y0 = Math.floor(cy);
  const x1 = Math.min(w - 1, x0 + 1), y1 = Math.min(h - 1, y0 + 1);
  const fx = cx - x0, fy = cy - y0;
  const top = f[y0 * w + x0]! + (f[y0 * w + x1]! - f[y0 * w + x0]!) * fx;
  const bottom = f[y1 * w + x0]! + (f[y1 * w + x1]! - f[y1 * w + x0]!) * fx;
  return top + (bottom - top) * fy;
}

/**
 * 0…1 per cell of a bw × bh grid over the face (`pts` in cells): how much the expression strains the skin
 * there. Each triangle's strain is the larger of its squeeze and its stretch (the singular values of its
 * rest → expression map); a laugh's folds lie where a squeezed cheek meets stretched skin by the mouth, so
 * both count.
 */
function strainField(pts: Float32Array, rest: Float32Array, expression: Float32Array, bw: number, bh: number, size: number): Float32Array {
  const tris = triangulate(meshPoints(rest));
  const sum = new Float32Array(bw * bh);
  const area = new Float32Array(bw * bh);
  for (let t = 0; t < tris.length; t += 3) {
    const a = tris[t]!, b = tris[t + 1]!, c = tris[t + 2]!;
    const p1x = rest[3 * b]! - rest[3 * a]!, p1y = rest[3 * b + 1]! - rest[3 * a + 1]!;
    const p2x = rest[3 * c]! - rest[3 * a]!, p2y = rest[3 * c + 1]! - rest[3 * a + 1]!;
    const q1x = expression[3 * b]! - expression[3 * a]!, q1y = expression[3 * b + 1]! - expression[3 * a + 1]!;
    const q2x = expression[3 * c]! - expression[3 * a]!, q2y = expression[3 * c + 1]! - expression[3 * a + 1]!;
    const det = p1x * p2y - p2x * p1y;
    if (!(Math.abs(det) > 1e-6)) continue;
    // M = Q P⁻¹; its singular values from the rotation and reflection parts of the 2 × 2 matrix.
    const m00 = (q1x * p2y - q2x * p1y) / det, m01 = (q2x * p1x - q1x * p2x) / det;
    const m10 = (q1y * p2y - q2y * p1y) / det, m11 = (q2y * p1x - q1y * p2x) / det;
    const r = Math.hypot((m00 + m11) / 2, (m10 - m01) / 2), s = Math.hypot((m00 - m11) / 2, (m10 + m01) / 2);
    const strain = Math.max(1 - Math.abs(r - s), r + s - 1);
    const cx = Math.round((pts[2 * a]! + pts[2 * b]! + pts[2 * c]!) / 3);
    const cy = Math.round((pts[2 * a + 1]! + pts[2 * b + 1]! + pts[2 * c + 1]!) / 3);
    if (cx < 0 || cy < 0 || cx >= bw || cy >= bh) continue;
    sum[cy * bw + cx]! += strain * Math.abs(det);
    area[cy * bw + cx]! += Math.abs(det);
  }
  const spread = Math.max(1, size * STRAIN_SPREAD);
  const tmp = new Float32Array(bw * bh);
  for (const f of [sum, area]) {
    boxBlurMask(f, bw, bh, spread, tmp);
    boxBlurMask(f, bw, bh, spread, tmp);
  }
  for (let i = 0; i < sum.length; i++) sum[i] = area[i]! > 0 ? Math.min(1, Math.max(0, sum[i]! / area[i]! - STILL_STRAIN) / FULL_STRAIN) : 0;
  return sum;
}

/** 0…1 per cell of a bw × bh grid over the face (`pts` in cells): inside eyes, brows and lips, softened by FEATURE_MARGIN. */
function featureMask(pts: Float32Array, bw: number, bh: number, size: number): Float32Array {
  const mask = new Float32Array(bw * bh);
  for (const idx of FEATURES) {
    const poly = meshPolygon(pts, idx);
    const pb = pointsBox(poly, bw, bh, 1);
    for (let y = pb.y; y < pb.y + pb.height; y++) for (let x = pb.x; x < pb.x + pb.width; x++) if (insidePolygon(poly, x, y)) mask[y * bw + x] = 1;
  }
  const pad = Math.max(1, size * FEATURE_MARGIN);
  const tmp = new Float32Array(bw * bh);
  boxBlurMask(mask, bw, bh, pad, tmp);
  boxBlurMask(mask, bw, bh, pad, tmp);
  return mask;
}

/**
 * A picture's shading (see shading) carried by the mesh from its face (`mesh`) onto `pts` in a bw × bh box,
 * 8-bit through the warp (1/256 in log luma, far under a line's depth). `cover` gets where the warp wrote.
 * None where the mesh lies off the picture.
 */
function warpedShading(
  image: RgbImage,
  mesh: Float32Array,
  pts: Float32Array,
  tris: Uint32Array,
  bw: number,
  bh: number,
  size: number,
  cover?: Float32Array,
  reuse = false,
): Float32Array | undefined {
  const from = meshPoints(mesh);
  const box = pointsBox(from, image.width, image.height, 2);
  if (box.width < 4 || box.height < 4) return undefined; // the mesh is not on this picture
  const faceSize = size * (box.width / Math.max(1, bw));
  // A large face's shading is worked out at half size: its finest lines are still two pixels wide there, and the
  // warp's bilinear sampling enlarges it back.
  const k = faceSize >= HALF_SIZE_FACE ? 2 : 1;
  const key = `${k} ${blurRadii(faceSize, k).join(" ")}`;
  const kept = reuse ? restShading.get(mesh) : undefined;
  let encoded: RgbImage;
  if (kept && kept.image === image && kept.key === key) encoded = kept.encoded;
  else {
    const band = shading(image, box, faceSize, k);
    const sw = Math.ceil(box.width / k), sh = Math.ceil(box.height / k);
    encoded = { width: sw, height: sh, data: new Uint8Array(sw * sh * 3) };
    for (let i = 0; i < band.length; i++) {
      const v = 128.5 + band[i]! * 256;
      encoded.data[3 * i] = encoded.data[3 * i + 1] = encoded.data[3 * i + 2] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    if (reuse) restShading.set(mesh, { image, key, encoded });
  }
  for (let i = 0; i < MESH_POINTS * 2; i += 2) {
    from[i] = (from[i]! - box.x + 0.5) / k - 0.5;
    from[i + 1] = (from[i + 1]! - box.y + 0.5) / k - 0.5;
  }
  const warped: RgbImage = { width: bw, height: bh, data: new Uint8Array(bw * bh * 3) };
  warpTriangles(encoded, from, pts, tris, warped, cover);
  const out = new Float32Array(bw * bh);
  for (let i = 0; i < out.length; i++) out[i] = (warped.data[3 * i]! - 128) / 256;
  return out;
}

/** The fine and the coarse blur's radii (whole pixels, as the box blur takes them) for a face `size` px across, at 1/k size. */
const blurRadii = (size: number, k: number) => [Math.round(Math.max(1, (size * FINE) / k)), Math.round(Math.max(2, (size * COARSE) / k))] as const;

/**
 * An animation's frames share one rest picture and mesh: its shading is worked out once (per blur size) and kept
 * while that mesh lives.
 */
const restShading = new WeakMap<Float32Array, { image: RgbImage; key: string; encoded: RgbImage }>();

/**
 * ln(luma blurred at FINE) − ln(luma blurred at COARSE) over a box of a face `size` px across, worked out on
 * k × k block means (ceil(box / k) values a side): folds, not pores or the light.
 */
function shading(img: RgbImage, box: Box, size: number, k: number): Float32Array {
  const sw = Math.ceil(box.width / k), sh = Math.ceil(box.height / k);
  const fine = new Float32Array(sw * sh);
  const count = new Float32Array(sw * sh);
  for (let y = 0; y < box.height; y++) {
    const row = Math.floor(y / k) * sw;
    for (let x = 0; x < box.width; x++) {
      const o = ((y + box.y) * img.width + x + box.x) * 3;
      const j = row + Math.floor(x / k);
      fine[j]! += 0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!;
      count[j]! += 1;
    }
  }
  for (let i = 0; i < fine.length; i++) fine[i]! /= count[i]!;
  const coarse = fine.slice();
  const tmp = new Float32Array(sw * sh);
  const [f, c] = blurRadii(size, k);
  boxBlurMask(fine, sw, sh, f, tmp);
  boxBlurMask(fine, sw, sh, f, tmp);
  boxBlurMask(coarse, sw, sh, c, tmp);
  boxBlurMask(coarse, sw, sh, c, tmp);
  // +4: a black pixel is a finite log, and noise in the darks does not swing it.
  for (let i = 0; i < fine.length; i++) fine[i] = Math.log((fine[i]! + 4) / (coarse[i]! + 4));
  return fine;
}
