import type { AnalyzedFace, Point } from "../types.ts";
import { LM, eyeOpennessLeft, eyeOpennessRight, headPose, landmarksBox, mouthOpenness, pointOf } from "./geometry.ts";

/** What the detector and the crop contribute; everything else about a face follows from its landmarks. */
export interface FaceEvidence {
  score: number;
  meshScore: number;
  keypoints: Point[];
  /** Variance of the Laplacian on the aligned crop (see quality.ts). */
  sharpness: number;
}

/**
 * An AnalyzedFace from its 468 landmarks: box, pose and quality measures are derived here, in one
 * place, whether the landmarks come fresh from the models or from a saved template.
 */
export function describeFace(landmarks: Float32Array, evidence: FaceEvidence): AnalyzedFace {
  const box = landmarksBox(landmarks);
  return {
    box,
    score: evidence.score,
    keypoints: evidence.keypoints,
    landmarks,
    meshScore: evidence.meshScore,
    pose: headPose(landmarks),
    quality: {
      faceSizePx: Math.max(box.width, box.height),
      eyeOpennessLeft: eyeOpennessLeft(landmarks),
      eyeOpennessRight: eyeOpennessRight(landmarks),
      mouthOpenness: mouthOpenness(landmarks),
      sharpness: evidence.sharpness,
    },
  };
}

/** The same face in its picture resized by `k`: landmarks, keypoints and irises scale, and the rest follows. */
export function scaledFace(face: AnalyzedFace, k: number): AnalyzedFace {
  const scaled = describeFace(
    face.landmarks.map((v) => v * k),
    { score: face.score, meshScore: face.meshScore, keypoints: face.keypoints.map((p) => ({ x: p.x * k, y: p.y * k })), sharpness: face.quality.sharpness },
  );
  return face.irises ? { ...scaled, irises: face.irises.map((v) => v * k) } : scaled;
}

const mid = (lm: Float32Array, a: number, b: number): Point => {
  const p = pointOf(lm, a);
  const q = pointOf(lm, b);
  return { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 };
};

/** BlazeFace-style keypoints (right eye, left eye, nose, mouth, right ear, left ear) read off the mesh. */
export function keypointsFromLandmarks(lm: Float32Array): Point[] {
  return [
    mid(lm, LM.rightEyeOuter, LM.rightEyeInner),
    mid(lm, LM.leftEyeInner, LM.leftEyeOuter),
    pointOf(lm, 1),
    mid(lm, LM.upperInnerLip, LM.lowerInnerLip),
    pointOf(lm, 234),
    pointOf(lm, 454),
  ];
}
