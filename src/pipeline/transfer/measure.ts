import {
  INNER_LIP_RING,
  LEFT_BROW,
  LEFT_EYE_LOWER,
  LEFT_EYE_UPPER,
  LIPS_INNER_LOWER,
  LIPS_INNER_UPPER,
  MOUTH_CORNER_LEFT,
  MOUTH_CORNER_RIGHT,
  RIGHT_BROW,
  RIGHT_EYE_LOWER,
  RIGHT_EYE_UPPER,
} from "../warp/landmarks.ts";
import { localFrame, toLocal } from "./geometry.ts";

/**
 * Size- and pose-free expression measures of one face mesh, in its own local frame (unit = inter-ocular
 * distance between the outer eye corners). These are what the evaluation compares between a reaction and the
 * result, and what the neutral-shape estimate pulls back to rest values.
 */
export interface ExpressionMeasures {
  /** Inner-lip gap at the middle three columns / inter-ocular distance. */
  mouthOpen: number;
  /** Outer mouth corners distance / inter-ocular distance. */
  mouthWidth: number;
  /** Mouth corners above the inner-lip centre line (positive = smile) / inter-ocular distance. */
  cornerLift: number;
  /** Lid aperture (middle columns) / eye width, per eye (subject's right, left). */
  eyeOpenRight: number;
  eyeOpenLeft: number;
  /** Eye centre to brow centre height / inter-ocular distance, per side. */
  browRight: number;
  browLeft: number;
}

export function measureExpression(landmarks: Float32Array): ExpressionMeasures {
  return measureLocal(toLocal(localFrame(landmarks), landmarks));
}

/** Same measures on a mesh already in local coordinates. */
export function measureLocal(loc: Float64Array): ExpressionMeasures {
  const x = (i: number) => loc[3 * i]!;
  const y = (i: number) => loc[3 * i + 1]!;
  let gap = 0;
  for (let j = 4; j <= 6; j++) gap += y(LIPS_INNER_LOWER[j]!) - y(LIPS_INNER_UPPER[j]!);
  gap = Math.max(0, gap / 3);
  const mouthWidth = Math.hypot(x(MOUTH_CORNER_LEFT) - x(MOUTH_CORNER_RIGHT), y(MOUTH_CORNER_LEFT) - y(MOUTH_CORNER_RIGHT));
  const centreY = (y(LIPS_INNER_LOWER[5]!) + y(LIPS_INNER_UPPER[5]!)) / 2;
  const cornerLift = centreY - (y(MOUTH_CORNER_LEFT) + y(MOUTH_CORNER_RIGHT)) / 2;
  return {
    mouthOpen: gap,
    mouthWidth,
    cornerLift,
    eyeOpenRight: eyeOpen(loc, RIGHT_EYE_UPPER, RIGHT_EYE_LOWER),
    eyeOpenLeft: eyeOpen(loc, LEFT_EYE_UPPER, LEFT_EYE_LOWER),
    browRight: browHeight(loc, RIGHT_BROW, RIGHT_EYE_UPPER, RIGHT_EYE_LOWER),
    browLeft: browHeight(loc, LEFT_BROW, LEFT_EYE_UPPER, LEFT_EYE_LOWER),
  };
}

export function eyeOpen(loc: Float64Array, upper: readonly number[], lower: readonly number[]): number {
  const n = upper.length;
  const w = Math.hypot(loc[3 * upper[0]!]! - loc[3 * upper[n - 1]!]!, loc[3 * upper[0]! + 1]! - loc[3 * upper[n - 1]! + 1]!);
  let ap = 0;
  for (let j = 3; j <= 5; j++) ap += loc[3 * lower[j]! + 1]! - loc[3 * upper[j]! + 1]!;
  return Math.max(0, ap / 3 / (w || 1));
}

/** Eye centre (both lid lines) to the upper brow line's mean height, local units. */
export function browHeight(loc: Float64Array, brow: readonly number[], upper: readonly number[], lower: readonly number[]): number {
  let by = 0;
  for (let k = 0; k < 5; k++) by += loc[3 * brow[k]! + 1]!; // the upper brow line
  by /= 5;
  let ey = 0;
  for (const i of upper) ey += loc[3 * i + 1]!;
  for (const i of lower) ey += loc[3 * i + 1]!;
  ey /= upper.length + lower.length;
  return ey - by;
}

/** Inner-lip polygon (20 points) as x,y pairs in image pixels. */
export function innerLipPolygon(landmarks: Float32Array): Float32Array {
  const out = new Float32Array(INNER_LIP_RING.length * 2);
  INNER_LIP_RING.forEach((i, k) => {
    out[2 * k] = landmarks[3 * i]!;
    out[2 * k + 1] = landmarks[3 * i + 1]!;
  });
  return out;
}

/** Below this inner-lip gap (inter-ocular units) a mouth counts as closed. */
export const CLOSED_MOUTH = 0.04;
/** The mouth counts as "more open than the template shows" above this extra gap (inter-ocular units). */
export const MOUTH_OPEN_MARGIN = 0.015;
