import os from "node:os";

/**
 * The pipeline's settings and their defaults. The pipeline never reads the environment: callers pass these
 * (the composition root from the validated configuration, src/config.ts, which takes its defaults from here).
 */

export type ExecutionProvider = "cpu" | "cuda";

/** Guards against hostile uploads: larger files and pictures are refused before any pixel is decoded. */
export interface InputLimits {
  maxPixels: number;
  maxBytes: number;
}

/** onnxruntime sessions: where they run and with how many intra-op threads. */
export interface InferenceOptions {
  provider: ExecutionProvider;
  threads: number;
  /** Folder for onnxruntime's optimised graphs of the bundled models (CPU only): later processes start faster. */
  modelCacheDir?: string;
}

export const DEFAULT_MAX_INPUT_PIXELS = 40_000_000;
export const DEFAULT_MAX_INPUT_BYTES = 25 * 1024 * 1024;
export const DEFAULT_INPUT_LIMITS: InputLimits = { maxPixels: DEFAULT_MAX_INPUT_PIXELS, maxBytes: DEFAULT_MAX_INPUT_BYTES };
/** More intra-op threads than 4 hardly speed up these small models. */
export const DEFAULT_INFERENCE_THREADS = Math.max(1, Math.min(os.availableParallelism(), 4));
export const DEFAULT_INFERENCE: InferenceOptions = { provider: "cpu", threads: DEFAULT_INFERENCE_THREADS };
