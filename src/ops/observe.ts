/**
 * Observer points between Mimic's parts and its metrics: decorators the composition root (src/app.ts)
 * puts around the queue and the store's ports when the ops endpoint is on. They only watch: every call,
 * result and error passes through unchanged.
 */
import { isMimicError } from "../errors.ts";
import type { ModerationPort, TemplatePort } from "../core/ports.ts";
import { MODEL_LOAD_STAGE, type InferenceQueue, type JobResult, type ProgressEvent } from "../queue/jobs.ts";
import type { Metrics } from "./metrics.ts";

/** The queue's BUSY refusals (details.reason, src/queue/refusals.ts and redis.ts) by metric label. */
const BUSY_REASONS: Record<string, string> = {
  capacity: "queue_full",
  user: "user_busy",
  shutdown: "shutting_down",
  restarting: "restarting",
  "no-workers": "no_workers",
  "no-capable-worker": "no_capable_worker",
  "queue-unreachable": "queue_unreachable",
  "queue-lost": "queue_lost",
};

/** Why a request was turned away, from the typed error the queue or the moderation threw; undefined: not a refusal. */
export function refusalReason(e: unknown): string | undefined {
  if (!isMimicError(e)) return undefined;
  switch (e.code) {
    case "BUSY":
      // Only a full queue says "add workers" (the MimicTurningUsersAway alert); the others have causes of their own.
      return BUSY_REASONS[String(e.details?.reason)] ?? "busy";
    case "QUOTA_EXCEEDED":
      return "quota";
    case "COOLDOWN":
      return "cooldown";
    case "FORBIDDEN":
      // Moderation's three: a channel the server's list leaves out (it names the allowed ones), swaps switched off, else a ban.
      return e.details?.allowedChannels ? "channel" : e.details?.reason === "swap" ? "swap_off" : "banned";
    case "DISABLED":
      return "disabled";
    case "UNSAFE_CONTENT":
      return "nsfw";
    case "INTERNAL":
      // The store's full disk (src/templates/db/errors.ts): every write is refused until the owner frees space.
      return e.details?.reason === "storage-full" ? "storage_full" : undefined;
    default:
      return undefined;
  }
}

/** The user's picture could not be used (no face, not a picture, too large…): the job worked as it should. */
const INPUT_CODES = new Set(["BAD_INPUT", "NOT_AN_IMAGE", "IMAGE_TOO_LARGE", "NO_FACE", "FACE_UNUSABLE"]);

/** A finished job's outcome; "failed" only for Mimic's own trouble, so an alert on it is not set off by users' pictures. */
function outcomeOf(e: unknown): "timeout" | "cancelled" | "rejected_input" | "failed" {
  if (isMimicError(e) && e.code === "TIMEOUT") return "timeout";
  if (isMimicError(e) && e.code === "CANCELLED") return "cancelled";
  if (isMimicError(e) && INPUT_CODES.has(e.code)) return "rejected_input";
  return "failed";
}

const seconds = (fromMs: number) => (performance.now() - fromMs) / 1000;

/** The queue, with wait, run time, outcome, refusals and the worker's stage timings recorded per job. */
export function observeQueue(queue: InferenceQueue, m: Metrics): InferenceQueue {
  m.queueStats = () => queue.stats();
  return {
    stats: () => queue.stats(),
    close: (opts) => queue.close(opts),
    ...(queue.abandon && { abandon: queue.abandon.bind(queue) }),
    async submit(job, opts) {
      const kind = job.kind;
      const submitted = performance.now();
      let started: number | undefined;
      const onProgress = (e: ProgressEvent) => {
        if (e.type === "started" && started === undefined) {
          started = performance.now();
          m.queueWait.observe({ kind }, (started - submitted) / 1000);
        }
        opts.onProgress?.(e);
      };
      let result: JobResult;
      try {
        result = await queue.submit(job, { ...opts, onProgress });
      } catch (e) {
        // The NSFW gate refuses inside the worker (after start): still a refusal, by reason "nsfw".
        const refused = started === undefined || (isMimicError(e) && e.code === "UNSAFE_CONTENT") ? refusalReason(e) : undefined;
        if (refused) {
          m.refusals.inc({ reason: refused });
          m.jobsFinished.inc({ kind, outcome: "refused" });
        } else {
          const outcome = outcomeOf(e);
          m.jobsFinished.inc({ kind, outcome });
          if (started !== undefined) m.jobDuration.observe({ kind, outcome }, seconds(started));
        }
        throw e;
      }
      m.jobsFinished.inc({ kind, outcome: "done" });
      m.jobDuration.observe({ kind, outcome: "done" }, seconds(started ?? submitted));
      for (const [stage, ms] of Object.entries(result.timingsMs ?? {})) {
        if (stage === MODEL_LOAD_STAGE) m.modelLoad.observe(ms / 1000);
        else m.stageDuration.observe({ kind, stage }, ms / 1000);
      }
      return result;
    },
  };
}

/** The core's own refusals (a request whose user's earlier one seems stuck: CoreOptions.onTurnedAway), by reason. */
export function countTurnedAway(m: Metrics): (refusal: unknown) => void {
  return (e) => m.refusals.inc({ reason: refusalReason(e) ?? "busy" });
}

/**
 * Moderation's own upkeep (abandoned.ts), not a request: a typed error there (a busy database) is an error, and
 * never a user turned away.
 */
const UPKEEP = new Set(["renewPending", "releasePending", "takeAbandoned"]);

/** Every method of a port, timed as `<prefix>.<method>`; `onError` sees each error of a request before it is rethrown. */
function timed<T extends object>(port: T, prefix: string, m: Metrics, onError?: (e: unknown) => void): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(port)) {
    if (typeof fn !== "function") {
      out[name] = fn;
      continue;
    }
    const op = `${prefix}.${name}`;
    out[name] = async (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        const r = await (fn as (...a: unknown[]) => Promise<unknown>).apply(port, args);
        m.dbDuration.observe({ op, outcome: "ok" }, seconds(t0));
        return r;
      } catch (e) {
        // A typed answer (not found, quota reached…) is the database working; anything else, a full disk or a
        // moved file (INTERNAL) included, is an error.
        const upkeep = UPKEEP.has(name);
        const answered = isMimicError(e) && e.code !== "INTERNAL" && !upkeep;
        m.dbDuration.observe({ op, outcome: answered ? "ok" : "error" }, seconds(t0));
        if (!upkeep) onError?.(e);
        throw e;
      }
    };
  }
  return out as T;
}

/** The core's store ports with database latency per operation, and their refusals (moderation's, a full disk) by reason. */
export function observePorts(
  ports: { templates: TemplatePort; moderation: ModerationPort },
  m: Metrics,
): { templates: TemplatePort; moderation: ModerationPort } {
  const countRefusal = (e: unknown) => {
    const reason = refusalReason(e);
    if (reason) m.refusals.inc({ reason });
  };
  return {
    templates: timed(ports.templates, "templates", m, countRefusal),
    moderation: timed(ports.moderation, "moderation", m, countRefusal),
  };
}
