/**
 * Data shapes shared by every pipeline stage. Images are plain typed arrays so they move between
 * worker threads without copying (transfer the buffer) and hot loops never allocate per pixel.
 */

/** Interleaved 8-bit RGB, row-major, no padding: data.length === width * height * 3. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Degrees. yaw > 0: the face turns towards the image's right; pitch > 0: looks up; roll > 0: clockwise in the image. */
export interface HeadPose {
  yaw: number;
  pitch: number;
  roll: number;
}

export interface FaceQuality {
  /** Inter-ocular-normalised face size: the larger side of the face box, in source pixels. */
  faceSizePx: number;
  /** Eye aperture / eye width, per eye (0 closed … ~0.35 wide open). */
  eyeOpennessLeft: number;
  eyeOpennessRight: number;
  /** Inner-lip gap / mouth width (0 closed … ~0.8 wide open laugh). */
  mouthOpenness: number;
  /** Variance of the Laplacian on the aligned face crop (higher is sharper). */
  sharpness: number;
}

export interface DetectedFace {
  box: Box;
  /** Detector confidence 0..1. */
  score: number;
  /** BlazeFace keypoints in image pixels: right eye, left eye, nose, mouth, right ear, left ear (subject's sides). */
  keypoints: Point[];
}

export interface AnalyzedFace extends DetectedFace {
  /** 468 MediaPipe mesh points, x,y in source-image pixels, z in the same pixel scale (smaller = nearer the camera). */
  landmarks: Float32Array;
  /** Face-mesh presence confidence 0..1. */
  meshScore: number;
  pose: HeadPose;
  quality: FaceQuality;
}

export interface StageTimings {
  [stage: string]: number;
}

export interface FaceAnalysis {
  width: number;
  height: number;
  /** Sorted by face size, largest first. */
  faces: AnalyzedFace[];
  timingsMs: StageTimings;
}
