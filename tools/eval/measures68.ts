/**
 * The evaluation's expression measures read from the 68-point (iBUG 300-W) layout of the second judge, so that
 * both judges fill the same record: same definitions as src/pipeline/transfer/measure.ts, mapped onto the 68
 * points, in a face-local frame whose unit is the distance between the outer eye corners.
 *
 * 68-point indices (0-based; "right" = the subject's right, on the image's left for a frontal face):
 * brows 17–21 (right) and 22–26 (left); nose bridge top 27, nose bottom 33; right eye 36 (outer) 37 38 39 (inner)
 * 40 41; left eye 42 (inner) 43 44 45 (outer) 46 47; mouth corners 48 (right) and 54 (left); inner lips 60–67
 * (61 62 63 upper, 65 66 67 lower).
 */
import { localFrame, toLocal, type LocalFrame } from "../../src/pipeline/transfer/geometry.ts";
import type { Measures } from "./ratio.ts";

export const POINTS_68 = 68;

/** x,y pairs (68 × 2) → x,y,z triples with z = 0, the layout the local-frame helpers take. */
export function to3d(xy: ArrayLike<number>): Float32Array {
  if (xy.length !== POINTS_68 * 2) throw new Error(`expected ${POINTS_68} x,y points, got ${xy.length / 2}`);
  const out = new Float32Array(POINTS_68 * 3);
  for (let i = 0; i < POINTS_68; i++) {
    out[3 * i] = xy[2 * i]!;
    out[3 * i + 1] = xy[2 * i + 1]!;
  }
  return out;
}

/**
 * The face-local frame of a 68-point mesh (x,y,z triples): the 468-point frame's construction on the matching
 * points: x from the right to the left outer eye corner (36 → 45), y down the nose (27 → 33).
 */
export function localFrame68(lm: Float32Array): LocalFrame {
  // localFrame reads points 33, 263, 168 and 2 of a 468 mesh; place the 68-point equivalents there.
  const probe = new Float32Array(264 * 3);
  const put = (dst: number, src: number) => probe.set(lm.subarray(3 * src, 3 * src + 3), 3 * dst);
  put(33, 36);
  put(263, 45);
  put(168, 27);
  put(2, 33);
  return localFrame(probe);
}

export function measure68(lm: Float32Array): Measures {
  const loc = toLocal(localFrame68(lm), lm);
  const x = (i: number) => loc[3 * i]!;
  const y = (i: number) => loc[3 * i + 1]!;
  const mean = (idx: number[], f: (i: number) => number) => idx.reduce((s, i) => s + f(i), 0) / idx.length;
  const gap = ((y(67) - y(61)) + (y(66) - y(62)) + (y(65) - y(63))) / 3;
  const eye = (top: [number, number], bottom: [number, number], a: number, b: number) =>
    Math.max(0, ((y(bottom[0]) - y(top[0])) + (y(bottom[1]) - y(top[1]))) / 2 / (Math.hypot(x(a) - x(b), y(a) - y(b)) || 1));
  const right = [36, 37, 38, 39, 40, 41], left = [42, 43, 44, 45, 46, 47];
  return {
    mouthOpen: Math.max(0, gap),
    cornerLift: (y(62) + y(66)) / 2 - (y(48) + y(54)) / 2,
    mouthWidth: Math.hypot(x(54) - x(48), y(54) - y(48)),
    eyeOpenRight: eye([37, 38], [41, 40], 36, 39),
    eyeOpenLeft: eye([43, 44], [47, 46], 42, 45),
    browRight: mean(right, y) - mean([17, 18, 19, 20, 21], y),
    browLeft: mean(left, y) - mean([22, 23, 24, 25, 26], y),
  };
}
