/** Face analysis: detection, 468-point landmarks, pose, quality and identity embeddings (onnxruntime). */
export {
  FaceAnalyzer,
  analyzeBytes,
  cosineSimilarity,
  createFaceAnalyzer,
  getFaceAnalyzer,
  EMBED_SIZE,
  MESH_ROI_SCALE,
  MESH_SIZE,
} from "./analyzer.ts";
export type { AlignedCrop, AnalyzeOptions, FaceAnalyzerOptions } from "./analyzer.ts";
export { blazeFaceAnchors } from "./anchors.ts";
export { decodeDetections, letterboxView, planDetectorViews, rotatedView } from "./detect.ts";
export type { DetectorView, TilingOptions } from "./detect.ts";
export {
  LM,
  MESH_POINTS,
  eyeOpennessLeft,
  eyeOpennessRight,
  headPose,
  landmarksBox,
  meshRoll,
  mouthOpenness,
  pointOf,
  roiFromDetection,
  roiFromLandmarks,
  roiTransform,
} from "./geometry.ts";
export type { FaceRoi } from "./geometry.ts";
export { iou, nonMaxSuppression } from "./nms.ts";
export type { Detection } from "./nms.ts";
export { laplacianVariance } from "./quality.ts";
export { describeFace, keypointsFromLandmarks, scaledFace } from "./describe.ts";
export type { FaceEvidence } from "./describe.ts";
export { DEFAULT_MODELS_DIR } from "./session.ts";
export type { ExecutionProvider } from "./session.ts";
