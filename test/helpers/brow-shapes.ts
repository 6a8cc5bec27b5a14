import { fromLocal, localFrame, toLocal } from "../../src/pipeline/transfer/geometry.ts";
import { LEFT_BROW, RIGHT_BROW } from "../../src/pipeline/warp/landmarks.ts";

/** One brow's motion in inter-ocular units: the inner end's rise and its shift towards the midline; the outer end's rise. */
export interface BrowMove {
  innerUp: number;
  innerIn: number;
  outerUp: number;
}

const STILL: BrowMove = { innerUp: 0, innerIn: 0, outerUp: 0 };

/**
 * A face mesh (468×3, image pixels) with its brows moved, each point by its place along the brow (outer end 0,
 * inner end 1): a frown lowers the inner ends and draws them in, a worried face lifts them, surprise lifts
 * both ends. Synthetic reactions made from a fixture's own mesh; the rest of the face stays.
 */
export function withBrows(landmarks: Float32Array, right: Partial<BrowMove>, left: Partial<BrowMove> = right): Float32Array {
  const frame = localFrame(landmarks);
  const loc = toLocal(frame, landmarks);
  for (const [brow, m] of [[RIGHT_BROW, { ...STILL, ...right }], [LEFT_BROW, { ...STILL, ...left }]] as const) {
    const outerX = loc[3 * brow[0]]!, innerX = loc[3 * brow[4]]!;
    const towardMidline = -Math.sign(innerX);
    for (const i of brow) {
      const s = Math.min(1, Math.max(0, (loc[3 * i]! - outerX) / (innerX - outerX)));
      loc[3 * i + 1]! -= m.outerUp * (1 - s) + m.innerUp * s;
      loc[3 * i]! += towardMidline * m.innerIn * s;
    }
  }
  return fromLocal(frame, loc);
}

/** A brow's inner and outer ends (upper brow line) in a mesh's own local frame: heights above the eye line are −y. */
export function browEnds(landmarks: Float32Array, frameOf: Float32Array = landmarks): { right: { inner: [number, number]; outer: [number, number] }; left: { inner: [number, number]; outer: [number, number] } } {
  const loc = toLocal(localFrame(frameOf), landmarks);
  const at = (i: number): [number, number] => [loc[3 * i]!, loc[3 * i + 1]!];
  return {
    right: { inner: at(RIGHT_BROW[4]), outer: at(RIGHT_BROW[0]) },
    left: { inner: at(LEFT_BROW[4]), outer: at(LEFT_BROW[0]) },
  };
}
