/**
 * The shared inference queue. `createQueue(config)` gives the in-process queue (worker processes
 * started by this one) by default, or with QUEUE_URL=redis://… a BullMQ-backed client whose jobs run in
 * `mimic worker` processes — the same InferenceQueue interface either way.
 */
import type { Config } from "../config.ts";
import type { InferenceQueue } from "./jobs.ts";
import { createLocalQueue, type QueueOptions } from "./local.ts";
import { queueModule } from "./modules.ts";
import { createRedisQueue } from "./redis.ts";

export type * from "./jobs.ts";
export { createLocalQueue } from "./local.ts";
export { createRedisQueue, startRedisWorker } from "./redis.ts";

/** The real pipeline handlers, loaded inside every worker process. */
export const DEFAULT_HANDLERS = queueModule("./handlers.ts");

/**
 * Worker processes × onnxruntime intra-op threads should not exceed the cores: each worker runs one job
 * flat out, so ORT_THREADS is split between them (2 cores → 2 workers × 1 ORT thread).
 */
export function threadEnv(config: Config): Record<string, string> {
  return {
    ORT_THREADS: String(Math.max(1, Math.floor(config.ORT_THREADS / config.QUEUE_WORKERS))),
    // The threads encode animations: they must use the binary this configuration names.
    ...(config.FFMPEG_PATH !== undefined ? { FFMPEG_PATH: config.FFMPEG_PATH } : {}),
  };
}

export function queueOptions(config: Config, handlersUrl: string | URL = DEFAULT_HANDLERS): QueueOptions {
  return {
    workers: config.QUEUE_WORKERS,
    capacity: config.QUEUE_CAPACITY,
    perUserLimit: config.QUEUE_PER_USER,
    jobTimeoutMs: config.QUEUE_JOB_TIMEOUT_MS,
    cheapFirst: config.QUEUE_CHEAP_FIRST,
    handlersUrl,
    threadEnv: threadEnv(config),
  };
}

export function createQueue(config: Config, deps: { handlers?: string | URL } = {}): InferenceQueue {
  const opts = queueOptions(config, deps.handlers);
  if (config.QUEUE_URL) {
    return createRedisQueue({
      ...opts,
      url: config.QUEUE_URL,
      prefix: config.QUEUE_PREFIX,
      resultTtlSeconds: config.QUEUE_RESULT_TTL_S,
      maxPayloadBytes: config.QUEUE_MAX_PAYLOAD_BYTES,
    });
  }
  return createLocalQueue(opts);
}
