import type { RgbImage } from "../types.ts";
import { warpTriangles } from "../warp/index.ts";
import { INNER_LIP_RING } from "../warp/landmarks.ts";
import { blendPatch, featherInside, patchMean, pointsBox } from "./blend.ts";
import { innerLipPolygon } from "./measure.ts";

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

/** Per-channel gain that brings `from`'s skin tone to `to`'s, bounded so a bad sample cannot wreck the colours. */
export function skinGain(to: RgbImage, toLm: Float32Array, from: RgbImage, fromLm: Float32Array, faceSize: number): number[] {
  const r = Math.max(1, faceSize * 0.02);
  const a = patchMean(to, skinPoints(toLm), r);
  const b = patchMean(from, skinPoints(fromLm), r);
  return a.map((v, c) => Math.min(1.8, Math.max(0.55, (v + 1) / (b[c]! + 1))));
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

/**
 * Paints the inside of the mouth of `outLm` (the new inner-lip ring) into `out` from the reaction's own mouth
 * interior (teeth, tongue, darkness), warped ring to ring, colour-matched by `gain` and blended with a
 * soft edge so the lips' inner border stays the template's.
 */
export function paintMouthInterior(
  out: RgbImage,
  outLm: Float32Array,
  reaction: RgbImage,
  reactionLm: Float32Array,
  gain: readonly number[],
): void {
  const n = INNER_LIP_RING.length;
  const dstRing = innerLipPolygon(outLm);
  const srcRing = innerLipPolygon(reactionLm);
  // Warp a ring grown by GROW px so the feathered edge (kept inside the grown ring) crosses the lip line
  // itself: the teeth fade into the template's lips instead of meeting them at a hard edge.
  const GROW = 2.5;
  const dst = withCentroid(growRing(dstRing, GROW, 1));
  const src = withCentroid(growRing(srcRing, GROW, ringSize(srcRing) / Math.max(1e-3, ringSize(dstRing))));
  const box = pointsBox(dst, out.width, out.height, 2);
  if (box.width === 0 || box.height === 0) return;
  // Work in a box-sized canvas: the mouth is small, the image may be large.
  const shifted = new Float32Array(dst.length);
  for (let k = 0; k < dst.length; k += 2) {
    shifted[k] = dst[k]! - box.x;
    shifted[k + 1] = dst[k + 1]! - box.y;
  }
  const canvas: RgbImage = { width: box.width, height: box.height, data: new Uint8Array(box.width * box.height * 3) };
  const cover = new Float32Array(box.width * box.height);
  warpTriangles(reaction, src, shifted, fan(n), canvas, cover);
  featherInside(cover, box.width, box.height, GROW);
  blendPatch(out, canvas, cover, box.x, box.y, gain);
}

/** Mean distance of ring points from their centroid. */
function ringSize(ring: Float32Array): number {
  const c = withCentroid(ring);
  const n = ring.length / 2;
  let s = 0;
  for (let k = 0; k < n; k++) s += Math.hypot(ring[2 * k]! - c[2 * n]!, ring[2 * k + 1]! - c[2 * n + 1]!);
  return s / n;
}

/** Pushes each ring point `px * scale` pixels away from the centroid. */
function growRing(ring: Float32Array, px: number, scale: number): Float32Array {
  const c = withCentroid(ring);
  const n = ring.length / 2;
  const out = new Float32Array(ring.length);
  for (let k = 0; k < n; k++) {
    const dx = ring[2 * k]! - c[2 * n]!, dy = ring[2 * k + 1]! - c[2 * n + 1]!;
    const d = Math.hypot(dx, dy) || 1;
    out[2 * k] = ring[2 * k]! + (dx / d) * px * scale;
    out[2 * k + 1] = ring[2 * k + 1]! + (dy / d) * px * scale;
  }
  return out;
}


