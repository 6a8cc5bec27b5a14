/**
 * The shared inference queue. `createQueue(config)` gives the in-process queue (worker processes
 * started by this one) by default, or with QUEUE_URL=redis://… a BullMQ-backed client whose jobs run in
 * `mimic worker` processes — the same InferenceQueue interface either way.
 */
import type { Config } from "../config.ts";
import type { InferenceQueue, Job } from "./jobs.ts";
import { createLocalQueue, type QueueOptions } from "./local.ts";
import { queueModule } from "./modules.ts";
import { swapOnGenerator } from "./refusals.ts";
import { createRedisQueue } from "./redis.ts";
export { checkRedisReachable } from "./redis.ts";
import { workerSettings } from "./settings.ts";

export type * from "./jobs.ts";
export { createLocalQueue } from "./local.ts";
export { createRedisQueue, startRedisWorker } from "./redis.ts";
export { checkGeneratorAtStartup, defaultWorkerSettings, workerSettings } from "./settings.ts";

/** The real pipeline handlers, loaded inside every worker process. */
export const DEFAULT_HANDLERS = queueModule("./handlers.ts");


/**
 * With MIMIC_GENERATOR=liveportrait, mimic-mode memes and animations go to the generator; swap jobs are
 * stamped "mesh" (LivePortrait does not swap faces), and a swap job that asks for the generator is refused.
 */
export function withGenerator(config: Config, queue: InferenceQueue): InferenceQueue {
  if (config.MIMIC_GENERATOR !== "liveportrait") return queue;
  const stamp = (job: Job): Job => {
    if (job.kind === "enrol") return job;
    if (job.mode === "swap") {
      if (job.generator === "liveportrait") throw swapOnGenerator();
      return { ...job, generator: "mesh" };
    }
    return job.generator === undefined ? { ...job, generator: "liveportrait" } : job;
  };
  return { ...queue, submit: async (job, opts) => queue.submit(stamp(job), opts) };
}

export function queueOptions(config: Config, handlersUrl: string | URL = DEFAULT_HANDLERS): QueueOptions {
  return {
    workers: config.QUEUE_WORKERS,
    capacity: config.QUEUE_CAPACITY,
    perUserLimit: config.QUEUE_PER_USER,
    jobTimeoutMs: config.QUEUE_JOB_TIMEOUT_MS,
    cheapFirst: config.QUEUE_CHEAP_FIRST,
    handlersUrl,
    settings: workerSettings(config),
    generatorWorkers: config.MIMIC_GENERATOR_WORKERS,
  };
}

/** `storeIdentity`: the store this front end uses, without credentials (Redis mode: compared with the other front ends'). */
export function createQueue(config: Config, deps: { handlers?: string | URL; storeIdentity?: string } = {}): InferenceQueue {
  const opts = queueOptions(config, deps.handlers);
  if (config.QUEUE_URL) {
    return withGenerator(config, createRedisQueue({
      ...opts,
      url: config.QUEUE_URL,
      prefix: config.QUEUE_PREFIX,
      resultTtlSeconds: config.QUEUE_RESULT_TTL_S,
      maxPayloadBytes: config.QUEUE_MAX_PAYLOAD_BYTES,
      noWorkerGraceMs: config.QUEUE_NO_WORKER_GRACE_MS,
      storeIdentity: deps.storeIdentity,
    }));
  }
  return withGenerator(config, createLocalQueue(opts));
}
