/**
 * The worker processes' settings (src/requests.ts WorkerSettings) from the validated configuration:
 * built by whoever starts a pool (the app, or a `mimic worker`), handed to each worker process at start.
 */
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { generatorDir, modelCacheDir, type Config } from "../config.ts";
import { logger } from "../logger.ts";
import { checkGeneratorDir } from "../pipeline/generator/signatures.ts";
import type { WorkerSettings } from "../requests.ts";
import { DEFAULT_INFERENCE, DEFAULT_INPUT_LIMITS } from "../pipeline/settings.ts";
import { findFfmpeg } from "../pipeline/video/ffmpeg.ts";

/**
 * Worker processes × onnxruntime intra-op threads should not exceed the cores: each worker runs one job
 * flat out, so ORT_THREADS is split between them (2 cores → 2 workers × 1 ORT thread). FFMPEG_PATH is
 * resolved here once (the bundled binary when unset; null where there is none: animations stay GIF).
 */
export function workerSettings(config: Config): WorkerSettings {
  const inference = {
    provider: config.ORT_EXECUTION_PROVIDER,
    threads: Math.max(1, Math.floor(config.ORT_THREADS / config.QUEUE_WORKERS)),
    modelCacheDir: modelCacheDir(config),
  };
  return {
    limits: { maxPixels: config.MAX_INPUT_PIXELS, maxBytes: config.MAX_INPUT_BYTES },
    analyzer: inference,
    nsfw: inference,
    ffmpegPath: findFfmpeg(config.FFMPEG_PATH) ?? null,
    generator:
      config.MIMIC_GENERATOR === "liveportrait"
        ? { dir: generatorDir(config), provider: config.ORT_EXECUTION_PROVIDER, threads: inference.threads }
        : null,
  };
}

/**
 * Start-up check of a process that runs jobs (the app with the in-process queue, or `mimic worker`) when
 * MIMIC_GENERATOR=liveportrait: refuses to start unless every model file is there with FaceFusion's
 * signature, and warns when it would run on the CPU (about 21 s per frame; never the default). Whatever the
 * setting, it deletes the faces' appearance features that earlier versions kept on disk (engine.ts says why).
 */
export function checkGeneratorAtStartup(config: Config): void {
  removeRetiredFeatureCache(config.DATA_DIR);
  if (config.MIMIC_GENERATOR !== "liveportrait") return;
  checkGeneratorDir(generatorDir(config));
  if (config.ORT_EXECUTION_PROVIDER === "cpu") {
    logger.warn(
      { MIMIC_GENERATOR: "liveportrait", ORT_EXECUTION_PROVIDER: "cpu" },
      "the LivePortrait generator runs on the CPU here: about 21 s per frame on 2 cores (see bench/README.md); it is meant for a GPU worker (ORT_EXECUTION_PROVIDER=cuda)",
    );
  }
}

/** `<DATA_DIR>/generator-cache`: appearance features of saved faces, written there by earlier versions. */
function removeRetiredFeatureCache(dataDir: string): void {
  const dir = join(dataDir, "generator-cache");
  if (!statSync(dir, { throwIfNoEntry: false })) return;
  try {
    rmSync(dir, { recursive: true, force: true });
    logger.info({ dir }, "deleted the faces' appearance features an earlier version kept on disk");
  } catch (err) {
    logger.warn({ err, dir }, "could not delete the faces' appearance features an earlier version kept on disk: delete this folder");
  }
}

/** The pipeline's defaults (tests and benchmarks that build a pool without a configuration). */
export function defaultWorkerSettings(): WorkerSettings {
  return { limits: DEFAULT_INPUT_LIMITS, analyzer: DEFAULT_INFERENCE, nsfw: DEFAULT_INFERENCE, ffmpegPath: findFfmpeg() ?? null };
}
