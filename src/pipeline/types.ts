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
  /** Face size: the larger side of the landmarks' bounding box (`AnalyzedFace.box`), in source pixels. */
  faceSizePx: number;
  /**
   * Per eye (the subject's left/right): mean of three upper–lower eyelid distances over the corner-to-corner
   * eye width, on the 3-D mesh (so head turns change it little). ~0.05 closed, 0.2–0.35 open.
   */
  eyeOpennessLeft: number;
  eyeOpennessRight: number;
  /** Inner-lip gap (mesh points 13–14) over mouth width (corners 61–291), 3-D: ~0–0.05 closed, ≥ 0.25 laughing. */
  mouthOpenness: number;
  /**
   * Variance of the 4-neighbour Laplacian of the grey, rotation-aligned 192×192 mesh crop (central 60 %,
   * 0..255 scale). Resolution-normalised by the crop: crisp faces read in the hundreds, blurred ones far lower.
   */
  sharpness: number;
}

export interface DetectedFace {
  box: Box;
  /** Detector confidence 0..1. */
  score: number;
  /** BlazeFace keypoints in image pixels: right eye, left eye, nose, mouth, right ear, left ear (subject's sides). */
  keypoints: Point[];
}

/** `box` here is the landmarks' axis-aligned bounding box; `score`/`keypoints` stay the detector's. */
export interface AnalyzedFace extends DetectedFace {
  /** 468 MediaPipe mesh points, x,y in source-image pixels, z in the same pixel scale (smaller = nearer the camera). */
  landmarks: Float32Array;
  /** Face-mesh presence confidence 0..1. */
  meshScore: number;
  pose: HeadPose;
  quality: FaceQuality;
  /**
   * The irises as circles, [cx, cy, r] of the subject's right then left iris (same units as the landmarks),
   * from the attention refinement; absent when it did not run (or for templates saved before it was kept).
   */
  irises?: Float32Array;
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
