/**
 * What travels through the inference queue. A job carries everything a worker needs (input bytes or a
 * bounded URL, the template's aligned crop + analysis, options) so a local worker process or a remote
 * `mimic worker` never touches the database. Everything is structured-clone data: Uint8Arrays
 * (copied over the worker's IPC channel), numbers, strings, plain objects.
 *
 * The shapes are a superset of `Job` / `JobResult` / `ProgressEvent` in src/core/ports.ts, so the
 * command core can hand its jobs to `InferenceQueue.submit` unchanged.
 */
import type { Logger } from "../logger.ts";
import type { WorkerSettings } from "../requests.ts";
import type { EnrolledTemplate } from "../templates/templates.ts";

export type JobKind = "enrol" | "meme" | "animated";
export const JOB_KINDS: readonly JobKind[] = ["enrol", "meme", "animated"];

/** An upload already in memory. */
export interface EncodedImage {
  bytes: Uint8Array;
  mime: string;
}

/**
 * The jobs themselves are the validated request types of the front door (src/requests.ts): a job
 * carries everything a worker needs (input bytes, the saved face's data, options), and the worker checks
 * it with parseJob before running it.
 */
export type { AnimatedJob, EnrolJob, ImageSource, Job, JobCaptions as Captions, MemeJob, TransferMode } from "../requests.ts";
import type { AnimatedJob, EnrolJob, Job, MemeJob } from "../requests.ts";

/** Which engine puts the expression on the face: the mesh engine (any CPU) or the LivePortrait generator (MIMIC_GENERATOR). */
export type GeneratorKind = "mesh" | "liveportrait";

/**
 * A saved face as produced by an `enrol` job and consumed by `meme` / `animated` jobs: the store's
 * EnrolledTemplate (aligned crop PNG, landmarks in crop pixels, embedding, analysis JSON). Plain data,
 * so any worker can use it without the database.
 */
export type TemplateData = EnrolledTemplate;

export interface EnrolledFace {
  /** A TemplateData (typed `unknown` at the core's border). */
  data: unknown;
  qualityNote?: string;
}

/** Milliseconds per pipeline stage inside the worker (for metrics); `modelLoad` when this job loaded the models. */
export type StageTimings = Record<string, number>;
export const MODEL_LOAD_STAGE = "modelLoad";

export interface EnrolResult {
  kind: "enrol";
  face: EnrolledFace;
  timingsMs?: StageTimings;
}

export interface ImageResult {
  kind: "meme" | "animated";
  bytes: Uint8Array;
  mime: "image/png" | "image/gif" | "video/mp4";
  /** What the user should know about the result (captions' left-out characters, an old template's close crop). */
  notes?: string[];
  width: number;
  height: number;
  timingsMs?: StageTimings;
}

export type JobResult = EnrolResult | ImageResult;

export type ProgressEvent =
  | { type: "queued"; position: number; etaSeconds: number }
  /** `worker` names the `mimic worker` process that took the job (Redis mode). */
  | { type: "started"; worker?: string }
  | { type: "done" }
  | { type: "failed"; message: string };

export interface SubmitOptions {
  /** The job's id (unique), chosen by the caller to name it later (abandon); the Redis queue uses it, the in-process one keeps its own. */
  jobId?: string;
  requestId: string;
  userId: string;
  /** null in private chats: all private chats share one fairness lane. */
  serverId: string | null;
  /** Lower runs first. Default: the kind's priority when QUEUE_CHEAP_FIRST is on, else 0. */
  priority?: number;
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
}

export interface QueueStats {
  mode: "local" | "redis";
  /** Jobs waiting for a worker (this process's view in local mode, global in redis mode). */
  waiting: number;
  running: number;
  capacity: number;
  workers: number;
  completed: number;
  failed: number;
  rejected: number;
  /** Measured mean service time per kind (ms), as used for ETAs and retry hints. */
  serviceMs: Record<JobKind, number>;
  /** How long the oldest job still waiting has waited (ms; 0 when none waits). Redis mode: the whole deployment. */
  oldestWaitMs?: number;
}

export interface InferenceQueue {
  /** Resolves with the result or rejects with a MimicError (BUSY, TIMEOUT, CANCELLED, pipeline errors). */
  submit(job: Job, opts: SubmitOptions): Promise<JobResult>;
  stats(): Promise<QueueStats>;
  /** Stops taking work, lets running/queued jobs finish for up to `drainMs`, then fails/hands back the rest. */
  close(opts?: { drainMs?: number }): Promise<void>;
  /**
   * Shared queues (Redis): a job whose producer died (another process's) is taken out: no worker starts it, and
   * its user's place is freed. One already running finishes for nobody. Absent where the queue dies with its producer.
   */
  abandon?(jobId: string): Promise<void>;
}

/** Per-job context a handler receives inside its worker process. */
export interface JobContext {
  requestId: string;
  /** The worker process's settings (limits, inference, ffmpeg), as validated at its start. */
  settings: WorkerSettings;
  /** Aborts on cancellation or timeout; a handler that ignores it is stopped by killing its process. */
  signal: AbortSignal;
  log: Logger;
}

export type Handler<J extends Job = Job> = (job: J, ctx: JobContext) => Promise<JobResult>;

/**
 * A handler module (loaded inside worker processes by URL) exports `handlers: HandlerSet`.
 * The real one is src/queue/handlers.ts; tests supply their own.
 */
export interface HandlerSet {
  enrol?: Handler<EnrolJob>;
  meme?: Handler<MemeJob>;
  animated?: Handler<AnimatedJob>;
}

/**
 * What a worker must be able to run for this job: every worker runs the mesh engine; only workers that
 * loaded the generator's models advertise "liveportrait".
 */
export function requiredCapability(job: Job): GeneratorKind {
  return job.kind !== "enrol" && job.generator === "liveportrait" ? "liveportrait" : "mesh";
}

/** Default scheduling priority per kind when cheap-first is configured (lower first). */
export const CHEAP_FIRST_PRIORITY: Record<JobKind, number> = { meme: 0, enrol: 1, animated: 2 };
