/**
 * The generator inside a worker process: loaded at warm-up when this worker's settings name it (see
 * WorkerPool's generatorWorkers), advertised as a capability only once its models loaded, and used by the
 * meme and animated handlers for the jobs the queue routed here.
 */
import { createHash } from "node:crypto";
import type { WorkerSettings } from "../requests.ts";
import { MimicError } from "../errors.ts";
import { logger } from "../logger.ts";
import { swapOnGenerator } from "./refusals.ts";
import { generatorTransfer, LivePortraitEngine, type GeneratorReaction, type GeneratorTransferResult } from "../pipeline/generator/index.ts";
import type { Regions } from "../pipeline/transfer/index.ts";
import type { AnalyzedFace, RgbImage } from "../pipeline/types.ts";
import type { EnrolledTemplate } from "../templates/templates.ts";
import type { AnimatedJob, MemeJob } from "./jobs.ts";

let engine: LivePortraitEngine | undefined;

/** Loads the generator when this worker is meant to run it; a failure leaves it a mesh-only worker (and says why). */
export async function loadGeneratorIfAssigned(settings: WorkerSettings): Promise<void> {
  if (!settings.generator || engine) return;
  try {
    engine = await LivePortraitEngine.load(settings.generator);
  } catch (err) {
    logger.error({ err }, "the generator could not load: this worker serves mesh jobs only");
  }
}

export function capabilities(): string[] {
  return engine ? ["mesh", "liveportrait"] : ["mesh"];
}

/**
 * Whether the job runs on the generator: mimic memes and animations that the queue stamped for it. A face
 * swap is not something LivePortrait does (it moves a face, it does not put one into another picture), so a
 * swap job asking for the generator is refused, never quietly drawn by the mesh engine instead; the queue
 * stamps swap jobs "mesh" (see withGenerator).
 */
export function usesGenerator(job: MemeJob | AnimatedJob): boolean {
  if (job.generator !== "liveportrait") return false;
  if (job.mode === "swap") throw swapOnGenerator();
  return true;
}

function loadedEngine(): LivePortraitEngine {
  if (!engine) {
    // The queue routes generator jobs only to workers that advertise it; reaching here is a routing fault.
    throw new MimicError("BUSY", "The picture generator is not running right now. Please try again later.", {
      retryAfterSeconds: 60,
      logMessage: "generator job on a worker without the generator",
    });
  }
  return engine;
}

/** The saved face's content key (its stored crop), under which its appearance features are cached. */
export function templateKey(t: EnrolledTemplate): string {
  return createHash("sha256").update(t.cropPng).digest("hex");
}

export interface GeneratorFramesInput {
  template: RgbImage;
  templateFace: AnalyzedFace;
  templateKey: string;
  reactions: GeneratorReaction[];
  intensity: number;
  regions?: Regions;
}

export function generateFrames(input: GeneratorFramesInput): Promise<GeneratorTransferResult> {
  return generatorTransfer(loadedEngine(), input);
}
