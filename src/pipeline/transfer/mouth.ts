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

/**
 * Gain that brings `from`'s lighting to `to`'s, measured on skin, bounded so a bad sample cannot wreck the
 * colours. Mostly one brightness factor for all channels, with only a little of the per-channel skin-tone
 * ratio: a full per-channel ratio tints the reaction's white teeth the template's skin colour (pink on
 * franck → orange on grace_hopper), and teeth that look like skin read as a closed mouth.
 */
export function skinGain(to: RgbImage, toLm: Float32Array, from: RgbImage, fromLm: Float32Array, faceSize: number, toneShare = SKIN_TONE_SHARE): number[] {
  const r = Math.max(1, faceSize * 0.02);
  const a = patchMean(to, skinPoints(toLm), r);
  const b = patchMean(from, skinPoints(fromLm), r);
  const grey = (v: readonly number[]) => 0.299 * v[0]! + 0.587 * v[1]! + 0.114 * v[2]!;
  const brightness = (grey(a) + 1) / (grey(b) + 1);
  return a.map((v, c) => {
    const tone = (v + 1) / (b[c]! + 1) / brightness;
    return Math.min(1.8, Math.max(0.55, brightness * tone ** toneShare));
  });
}

/**
 * How much of the per-channel skin-tone ratio (beyond brightness) an open mouth's interior takes on. A
 * closing mouth paints only lips and skin: pass 1 there.
 */
const SKIN_TONE_SHARE = 0.25;

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

/** Width (px) of the soft edge of the painted mouth interior. */
const FEATHER = 2.5;
/**
 * The feather erodes ~2 × FEATHER px off the painted ring before it reaches full cover; a closed mouth's ring
 * is a sliver, so a closing mouth's ring must grow by more than that to cover the squeezed teeth at all.
 */
export const CLOSED_MOUTH_GROW = 2 * FEATHER;

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
  grow = FEATHER,
): void {
  const n = INNER_LIP_RING.length;
  const dstRing = innerLipPolygon(outLm);
  const srcRing = innerLipPolygon(reactionLm);
  // Warp a ring grown by `grow` px so the feathered edge (kept inside the grown ring) crosses the lip line
  // itself: the teeth fade into the template's lips instead of meeting them at a hard edge.
  const GROW = FEATHER;
  // A thin (closing) ring grows across the mouth line too: grown only radially, its flat sides would stay a
  // sliver that the feather erodes away, leaving squeezed teeth visible towards the corners.
  const across = grow > FEATHER;
  const dst = withCentroid(growRing(dstRing, grow, 1, across));
  const src = withCentroid(growRing(srcRing, grow, ringSize(srcRing) / Math.max(1e-3, ringSize(dstRing)), across));
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


