import { join } from "node:path";
import { MimicError } from "../../errors.ts";
import { DEFAULT_MODELS_DIR, createModelSession, runModel, type ExecutionProvider, type ModelSession } from "../face/session.ts";
import { resizeImage } from "../image/transform.ts";
import { DEFAULT_INFERENCE } from "../settings.ts";
import type { RgbImage } from "../types.ts";

/**
 * The NSFW gate's classifier: nsfwjs's MobileNetV2 (models/nsfw-mobilenetv2.onnx, converted by tools/convert),
 * 224×224 RGB in [0, 1] → softmax over its five classes. A picture's "unsafe" score is the probability of the
 * explicit classes (porn + hentai): "sexy" (swimwear, cleavage) and "drawing" are not refused.
 */
export const NSFW_CLASSES = ["drawing", "hentai", "neutral", "porn", "sexy"] as const;
export type NsfwClass = (typeof NSFW_CLASSES)[number];
export const NSFW_INPUT_SIZE = 224;
export { DEFAULT_NSFW_THRESHOLD } from "./thresholds.ts";

export interface NsfwScores {
  classes: Record<NsfwClass, number>;
  /** porn + hentai. */
  unsafe: number;
}

export class NsfwClassifier {
  private constructor(private readonly model: ModelSession) {}

  static async load(opts: { provider?: ExecutionProvider; threads?: number; modelsDir?: string; modelCacheDir?: string } = {}): Promise<NsfwClassifier> {
    const model = await createModelSession(join(opts.modelsDir ?? DEFAULT_MODELS_DIR, "nsfw-mobilenetv2.onnx"), "nsfw-mobilenetv2", {
      provider: opts.provider ?? DEFAULT_INFERENCE.provider,
      threads: opts.threads ?? DEFAULT_INFERENCE.threads,
      cacheDir: opts.modelCacheDir,
    });
    return new NsfwClassifier(model);
  }

  /** Scores each image (the whole picture, squeezed to 224×224 as nsfwjs does), in one batch. */
  async classify(images: RgbImage[]): Promise<NsfwScores[]> {
    if (images.length === 0) return [];
    const s = NSFW_INPUT_SIZE;
    const data = new Float32Array(images.length * s * s * 3);
    images.forEach((img, k) => {
      const small = img.width === s && img.height === s ? img : resizeImage(img, s, s);
      const px = small.data;
      const o = k * s * s * 3;
      for (let i = 0; i < px.length; i++) data[o + i] = px[i] / 255;
    });
    const out = await runModel(this.model, data, [images.length, s, s, 3]);
    const probs = out[this.model.outputNames[0]];
    return images.map((_, k) => {
      const classes = Object.fromEntries(NSFW_CLASSES.map((c, j) => [c, probs[k * 5 + j]])) as Record<NsfwClass, number>;
      return { classes, unsafe: classes.porn + classes.hentai };
    });
  }

  async release(): Promise<void> {
    await this.model.session.release();
  }
}

let shared: Promise<NsfwClassifier> | undefined;

/**
 * One classifier per process, loaded on first use with that call's options (a worker's warm-up passes its
 * settings first); a failed load is retried next time.
 */
export function getNsfwClassifier(opts: { provider?: ExecutionProvider; threads?: number; modelCacheDir?: string } = {}): Promise<NsfwClassifier> {
  shared ??= NsfwClassifier.load(opts).catch((e: unknown) => {
    shared = undefined;
    throw e;
  });
  return shared;
}

export type GateStage = "input" | "face" | "output";

/** Said where nobody rewords it (the CLI); the chat bots' core words a refusal for its platform from details.stage. */
const REFUSAL: Record<GateStage, string> = {
  input: "I can't use that picture: it looks like explicit content, which isn't allowed here. Nothing was kept.",
  face: "I can't save that photo: it looks like explicit content, which isn't allowed here. Nothing was kept.",
  output: "The result looked like explicit content, so I didn't send it. Nothing was kept. Try another picture.",
};

/**
 * Refuses (UNSAFE_CONTENT) when any image's unsafe score reaches the threshold. Returns the highest score
 * seen, for logs. The refusal names the stage, never the score (no hints for getting around it).
 */
export async function checkSafe(classifier: NsfwClassifier, images: RgbImage[], threshold: number, stage: GateStage): Promise<number> {
  const scores = await classifier.classify(images);
  const worst = Math.max(...scores.map((s) => s.unsafe));
  if (worst >= threshold) {
    throw new MimicError("UNSAFE_CONTENT", REFUSAL[stage], { details: { stage, score: worst, threshold }, logMessage: `nsfw gate refused ${stage}: ${worst.toFixed(3)} ≥ ${threshold}` });
  }
  return worst;
}

/** Frames to check of an animation: at most `max`, evenly spread, first and last included. */
export function sampleFrames<T>(frames: T[], max = 4): T[] {
  if (frames.length <= max) return frames;
  return Array.from({ length: max }, (_, k) => frames[Math.round((k * (frames.length - 1)) / (max - 1))]);
}
