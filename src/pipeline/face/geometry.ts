import { squareCropTransform } from "../image/transform.ts";
import type { Affine } from "../image/transform.ts";
import type { Box, HeadPose, Point } from "../types.ts";
import type { Detection } from "./nms.ts";

/**
 * Face geometry on the 468-point MediaPipe mesh: regions of interest for aligned crops, head pose and the
 * openness measures. Landmark indices follow MediaPipe's canonical mesh; "left"/"right" are the subject's.
 */
export const MESH_POINTS = 468;

export const LM = {
  rightEyeOuter: 33,
  rightEyeInner: 133,
  leftEyeInner: 362,
  leftEyeOuter: 263,
  /** Eyelid pairs (upper, lower) across each eye, outer → inner. */
  rightEyeLids: [
    [160, 144],
    [159, 145],
    [158, 153],
  ],
  leftEyeLids: [
    [385, 380],
    [386, 374],
    [387, 373],
  ],
  mouthLeftCorner: 291,
  mouthRightCorner: 61,
  upperInnerLip: 13,
  lowerInnerLip: 14,
  foreheadTop: 10,
  chin: 152,
} as const;

/** An upright square region of a face: centre and side in image pixels, roll in radians (y down). */
export interface FaceRoi {
  cx: number;
  cy: number;
  side: number;
  angle: number;
}

/** Detector ROI, as MediaPipe builds it for the mesh model: box centre, eye-line roll, long side × scale. */
export function roiFromDetection(det: Detection, scale: number): FaceRoi {
  const [re, le] = det.keypoints; // subject's right eye (image left), left eye
  return {
    cx: det.box.x + det.box.width / 2,
    cy: det.box.y + det.box.height / 2,
    side: Math.max(det.box.width, det.box.height) * scale,
    angle: Math.atan2(le.y - re.y, le.x - re.x),
  };
}

const px = (lm: Float32Array, i: number) => lm[3 * i];
const py = (lm: Float32Array, i: number) => lm[3 * i + 1];

/** Roll from the eye centres of a mesh (radians, image coordinates: positive = clockwise on screen). */
export function meshRoll(lm: Float32Array): number {
  const rx = (px(lm, LM.rightEyeOuter) + px(lm, LM.rightEyeInner)) / 2;
  const ry = (py(lm, LM.rightEyeOuter) + py(lm, LM.rightEyeInner)) / 2;
  const lx = (px(lm, LM.leftEyeOuter) + px(lm, LM.leftEyeInner)) / 2;
  const ly = (py(lm, LM.leftEyeOuter) + py(lm, LM.leftEyeInner)) / 2;
  return Math.atan2(ly - ry, lx - rx);
}

/**
 * ROI around a mesh: rolled to the eye line, centred on the mesh's extent in that rolled frame, side =
 * the larger extent × marginScale. Deterministic from the landmarks alone, so a stored face re-crops alike.
 */
export function roiFromLandmarks(lm: Float32Array, marginScale: number): FaceRoi {
  const angle = meshRoll(lm);
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  let u0 = Infinity;
  let u1 = -Infinity;
  let v0 = Infinity;
  let v1 = -Infinity;
  for (let i = 0; i < lm.length; i += 3) {
    const u = c * lm[i] + s * lm[i + 1];
    const v = -s * lm[i] + c * lm[i + 1];
    if (u < u0) u0 = u;
    if (u > u1) u1 = u;
    if (v < v0) v0 = v;
    if (v > v1) v1 = v;
  }
  const uc = (u0 + u1) / 2;
  const vc = (v0 + v1) / 2;
  return { cx: c * uc - s * vc, cy: s * uc + c * vc, side: Math.max(u1 - u0, v1 - v0) * marginScale, angle };
}

export function roiTransform(roi: FaceRoi, size: number): Affine {
  return squareCropTransform(roi.cx, roi.cy, roi.side, roi.angle, size);
}

/** Axis-aligned bounding box of the mesh in image pixels. */
export function landmarksBox(lm: Float32Array): Box {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < lm.length; i += 3) {
    if (lm[i] < x0) x0 = lm[i];
    if (lm[i] > x1) x1 = lm[i];
    if (lm[i + 1] < y0) y0 = lm[i + 1];
    if (lm[i + 1] > y1) y1 = lm[i + 1];
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

type Vec3 = [number, number, number];
const at = (lm: Float32Array, i: number): Vec3 => [lm[3 * i], lm[3 * i + 1], lm[3 * i + 2]];
const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);
const unit = (a: Vec3): Vec3 => {
  const n = norm(a) || 1;
  return [a[0] / n, a[1] / n, a[2] / n];
};
const deg = (r: number) => (r * 180) / Math.PI;

/**
 * Head pose from the 3-D mesh (camera frame: x right, y down, z away from the camera). The face's own
 * axes are its eye line (x), forehead→chin (y, re-orthogonalised) and their cross product (into the head);
 * the facing direction is minus that. Signs as HeadPose documents: yaw > 0 faces the image's right,
 * pitch > 0 looks up, roll > 0 is clockwise on screen.
 */
export function headPose(lm: Float32Array): HeadPose {
  const xAxis = unit(sub(at(lm, LM.leftEyeOuter), at(lm, LM.rightEyeOuter)));
  const down = unit(sub(at(lm, LM.chin), at(lm, LM.foreheadTop)));
  const zAxis = unit(cross(xAxis, down));
  const facing: Vec3 = [-zAxis[0], -zAxis[1], -zAxis[2]];
  return {
    yaw: deg(Math.atan2(facing[0], -facing[2])),
    pitch: deg(Math.atan2(-facing[1], Math.hypot(facing[0], facing[2]))),
    roll: deg(Math.atan2(xAxis[1], xAxis[0])),
  };
}

const dist3 = (lm: Float32Array, i: number, j: number) => norm(sub(at(lm, i), at(lm, j)));

/** Mean eyelid gap over the eye's width (3-D distances, so turning the head changes it little). */
function eyeOpenness(lm: Float32Array, lids: readonly (readonly number[])[], cornerA: number, cornerB: number): number {
  let gap = 0;
  for (const [u, l] of lids) gap += dist3(lm, u, l);
  const width = dist3(lm, cornerA, cornerB);
  return width > 0 ? gap / lids.length / width : 0;
}

export function eyeOpennessRight(lm: Float32Array): number {
  return eyeOpenness(lm, LM.rightEyeLids, LM.rightEyeOuter, LM.rightEyeInner);
}

export function eyeOpennessLeft(lm: Float32Array): number {
  return eyeOpenness(lm, LM.leftEyeLids, LM.leftEyeOuter, LM.leftEyeInner);
}

/** Inner-lip gap over the corner-to-corner mouth width. */
export function mouthOpenness(lm: Float32Array): number {
  const width = dist3(lm, LM.mouthLeftCorner, LM.mouthRightCorner);
  return width > 0 ? dist3(lm, LM.upperInnerLip, LM.lowerInnerLip) / width : 0;
}

export function pointOf(lm: Float32Array, i: number): Point {
  return { x: lm[3 * i], y: lm[3 * i + 1] };
}
