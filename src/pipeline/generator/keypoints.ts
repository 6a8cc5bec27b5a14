/**
 * LivePortrait's implicit-keypoint maths: head angles from the motion extractor's 66 bins, the rotation
 * matrix, the keypoint transform, the expression blend with upper/lower face regions, and the eye and lip
 * opening ratios that drive the retargeters. Pure functions on plain arrays (21 keypoints × xyz, row-major).
 */
import type { Regions } from "../transfer/index.ts";

export const KEYPOINTS = 21;
/** Bins of the head-angle classifier: 66 bins of 3° centred from -97.5° (LivePortrait's convention). */
export const ANGLE_BINS = 66;
const BIN_DEGREES = 3;
const BIN_OFFSET = 97.5;

/** Degrees from one angle's 66 logits: the softmax expectation of the bin index, 3° per bin, minus 97.5°. */
export function binsToDegrees(logits: ArrayLike<number>): number {
  if (logits.length !== ANGLE_BINS) throw new RangeError(`expected ${ANGLE_BINS} bins, got ${logits.length}`);
  let max = -Infinity;
  for (let i = 0; i < ANGLE_BINS; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < ANGLE_BINS; i++) {
    const e = Math.exp(logits[i]! - max);
    sum += e;
    weighted += e * i;
  }
  return (weighted / sum) * BIN_DEGREES - BIN_OFFSET;
}

/** An angle output: 66 logits are converted, a single value is already in degrees (FaceFusion's export). */
export function angleDegrees(values: ArrayLike<number>): number {
  if (values.length === ANGLE_BINS) return binsToDegrees(values);
  if (values.length === 1) return values[0]!;
  throw new RangeError(`a head angle is 1 value (degrees) or ${ANGLE_BINS} bins, got ${values.length}`);
}

/**
 * R = Rz(roll) · Ry(yaw) · Rx(pitch), degrees, row-major 3×3 (extrinsic x-y-z rotations, as LivePortrait
 * builds its head rotation).
 */
export function rotationMatrix(pitchDeg: number, yawDeg: number, rollDeg: number): Float64Array {
  const rad = Math.PI / 180;
  const [cp, sp] = [Math.cos(pitchDeg * rad), Math.sin(pitchDeg * rad)];
  const [cy, sy] = [Math.cos(yawDeg * rad), Math.sin(yawDeg * rad)];
  const [cr, sr] = [Math.cos(rollDeg * rad), Math.sin(rollDeg * rad)];
  // Rz·Ry·Rx multiplied out.
  return new Float64Array([
    cr * cy, cr * sy * sp - sr * cp, cr * sy * cp + sr * sp,
    sr * cy, sr * sy * sp + cr * cp, sr * sy * cp - cr * sp,
    -sy, cy * sp, cy * cp,
  ]);
}

export interface Motion {
  pitch: number;
  yaw: number;
  roll: number;
  scale: number;
  /** tx, ty, tz. */
  translation: [number, number, number];
  /** 21 × 3 expression offsets. */
  expression: Float32Array;
  /** 21 × 3 canonical keypoints (the face's shape, before pose and expression). */
  points: Float32Array;
}

/**
 * The driving keypoints: x = s · (R·p + e) + t for each keypoint p with expression offset e. Only t's x
 * and y apply: LivePortrait renders an orthographic crop, where a depth shift would only move the warp.
 */
export function transformKeypoints(points: Float32Array, rotation: Float64Array, expression: Float32Array, scale: number, translation: readonly number[]): Float32Array {
  const out = new Float32Array(KEYPOINTS * 3);
  const r = rotation;
  for (let k = 0; k < KEYPOINTS; k++) {
    const [x, y, z] = [points[3 * k]!, points[3 * k + 1]!, points[3 * k + 2]!];
    out[3 * k] = scale * (r[0]! * x + r[1]! * y + r[2]! * z + expression[3 * k]!) + translation[0]!;
    out[3 * k + 1] = scale * (r[3]! * x + r[4]! * y + r[5]! * z + expression[3 * k + 1]!) + translation[1]!;
    out[3 * k + 2] = scale * (r[6]! * x + r[7]! * y + r[8]! * z + expression[3 * k + 2]!);
  }
  return out;
}

/** A face's keypoints as its own photo shows them. */
export function posedKeypoints(m: Motion, expression: Float32Array = m.expression): Float32Array {
  return transformKeypoints(m.points, rotationMatrix(m.pitch, m.yaw, m.roll), expression, m.scale, m.translation);
}

/**
 * Which implicit keypoints carry which part of the face (FaceFusion's expression restorer groups them so):
 * brows and eyes, mouth and jaw, and the ones tied to head shape that always stay the user's own.
 */
export const UPPER_FACE = [1, 2, 6, 10, 11, 12, 13, 15, 16] as const;
export const LOWER_FACE = [3, 7, 14, 17, 18, 19, 20] as const;
export const OWN_SHAPE = [0, 4, 5, 8, 9] as const;

/** Per keypoint, whether the reaction's expression reaches it for these regions. */
export function regionMask(regions: Regions = "all"): boolean[] {
  const mask = new Array<boolean>(KEYPOINTS).fill(false);
  if (regions === "all" || regions === "upper") for (const k of UPPER_FACE) mask[k] = true;
  if (regions === "all" || regions === "lower") for (const k of LOWER_FACE) mask[k] = true;
  return mask;
}

/**
 * The expression the user's face wears: the template's own offsets moved `intensity` of the way to the
 * reaction's, on the keypoints of the chosen regions only. A blend of two real expressions (intensity ≤ 1)
 * stays inside the range the networks produce, so no clamping is needed.
 */
export function blendExpression(template: Float32Array, reaction: Float32Array, intensity: number, regions: Regions = "all"): Float32Array {
  return relativeExpression(template, reaction, template, intensity, regions);
}

/**
 * The expression for an animation frame whose shot shows its person at rest (LivePortrait's relative motion): the
 * template's own offsets plus `intensity` of the frame's change from that rest frame, on the chosen regions. The
 * reaction person's own rest shape, which the absolute blend carries onto the user's face, cancels out.
 */
export function relativeExpression(template: Float32Array, reaction: Float32Array, rest: Float32Array, intensity: number, regions: Regions = "all"): Float32Array {
  const w = Math.min(1, Math.max(0, intensity));
  const mask = regionMask(regions);
  const out = Float32Array.from(template);
  for (let k = 0; k < KEYPOINTS; k++) {
    if (!mask[k]) continue;
    for (let c = 0; c < 3; c++) out[3 * k + c] = template[3 * k + c]! + w * (reaction[3 * k + c]! - rest[3 * k + c]!);
  }
  return out;
}

/** Face-mesh (468) points of the eye lids and corners, the inner lips and the mouth corners. */
const RIGHT_EYE = { top: 159, bottom: 145, a: 33, b: 133 };
const LEFT_EYE = { top: 386, bottom: 374, a: 362, b: 263 };
const LIPS = { top: 13, bottom: 14, a: 61, b: 291 };

function ratio(lm: ArrayLike<number>, p: { top: number; bottom: number; a: number; b: number }, stride: number): number {
  const d = (i: number, j: number) => Math.hypot(lm[stride * i]! - lm[stride * j]!, lm[stride * i + 1]! - lm[stride * j + 1]!);
  return d(p.top, p.bottom) / (d(p.a, p.b) + 1e-6);
}

export interface OpeningRatios {
  /** Lid gap over eye width, subject's left and right eye (image-plane). */
  eyeLeft: number;
  eyeRight: number;
  /** Inner-lip gap over mouth width. */
  lip: number;
}

/**
 * The openings the retargeters should reach: the eyes' mean and the lips'. Without a rest frame, the reaction's
 * own. With one whose eyes pass as its person's rest (`restEyesOwn`), each eye is the template's own scaled by
 * the frame's over the rest frame's, as the mesh engine scales apertures; the lips stay the reaction's (a closed
 * mouth is 0 for anyone).
 */
export function wantedOpenings(own: OpeningRatios, frame: OpeningRatios, rest?: OpeningRatios): { eye: number; lip: number } {
  const scaled = (mine: number, now: number, then: number) => (then > 1e-3 ? (mine * now) / then : now);
  const eye = rest
    ? (scaled(own.eyeLeft, frame.eyeLeft, rest.eyeLeft) + scaled(own.eyeRight, frame.eyeRight, rest.eyeRight)) / 2
    : (frame.eyeLeft + frame.eyeRight) / 2;
  return { eye, lip: frame.lip };
}

/** The retargeters' conditioning ratios from a 468-point face mesh (x, y[, z] per point). */
export function openingRatios(landmarks: ArrayLike<number>, stride = 3): OpeningRatios {
  return { eyeLeft: ratio(landmarks, LEFT_EYE, stride), eyeRight: ratio(landmarks, RIGHT_EYE, stride), lip: ratio(landmarks, LIPS, stride) };
}

/** The eye retargeter's input row: keypoints (63), the face's own eye ratios, and the wanted ratio. */
export function eyeRetargetInput(kp: Float32Array, own: OpeningRatios, target: number): Float32Array {
  const row = new Float32Array(66);
  row.set(kp);
  row[63] = own.eyeLeft;
  row[64] = own.eyeRight;
  row[65] = target;
  return row;
}

/** The lip retargeter's input row: keypoints (63), the face's own lip ratio, and the wanted one. */
export function lipRetargetInput(kp: Float32Array, own: OpeningRatios, target: number): Float32Array {
  const row = new Float32Array(65);
  row.set(kp);
  row[63] = own.lip;
  row[64] = target;
  return row;
}

/** a + w · b, elementwise (applying a retargeter's keypoint delta). */
export function addScaled(a: Float32Array, b: ArrayLike<number>, w: number): Float32Array {
  const out = Float32Array.from(a);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! + w * b[i]!;
  return out;
}
