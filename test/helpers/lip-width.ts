import { fromLocal, localFrame, toLocal } from "../../src/pipeline/transfer/geometry.ts";
import {
  LIPS_INNER_LOWER,
  LIPS_INNER_UPPER,
  LIPS_MID_LOWER,
  LIPS_MID_UPPER,
  LIPS_OUTER_LOWER,
  LIPS_OUTER_UPPER,
  LIPS_SEMI_OUTER_LOWER,
  LIPS_SEMI_OUTER_UPPER,
  MOUTH_CORNER_LEFT,
  MOUTH_CORNER_RIGHT,
} from "../../src/pipeline/warp/landmarks.ts";

const LIPS = [...new Set([LIPS_INNER_LOWER, LIPS_INNER_UPPER, LIPS_MID_LOWER, LIPS_MID_UPPER, LIPS_OUTER_LOWER, LIPS_OUTER_UPPER, LIPS_SEMI_OUTER_LOWER, LIPS_SEMI_OUTER_UPPER].flat())];

/**
 * A face mesh (468×3, image pixels) whose lips are `factor` as wide: every lip point's distance from the mouth's
 * centre along the face's eye axis scaled (0.9: the corners pulled in, a narrowing mouth; 1.1: widened). The
 * rest of the face, and the lips' heights, stay. Synthetic reactions made from a fixture's own mesh.
 */
export function withLipWidth(landmarks: Float32Array, factor: number): Float32Array {
  const frame = localFrame(landmarks);
  const loc = toLocal(frame, landmarks);
  const cx = (loc[3 * MOUTH_CORNER_LEFT]! + loc[3 * MOUTH_CORNER_RIGHT]!) / 2;
  for (const i of LIPS) loc[3 * i] = cx + (loc[3 * i]! - cx) * factor;
  return fromLocal(frame, loc);
}
