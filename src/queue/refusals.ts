/** The queue's user-facing refusals, shared by the local and the Redis queue so both read the same. */
import { MimicError } from "../errors.ts";

export function queueFull(retryAfterSeconds: number, details: Record<string, unknown> = {}): MimicError {
  const s = Math.max(1, Math.ceil(retryAfterSeconds));
  return new MimicError("BUSY", `Mimic is busy right now. Please try again in ~${s} s.`, {
    retryAfterSeconds: s,
    details: { reason: "capacity", ...details },
  });
}

export function userLimit(limit: number, retryAfterSeconds: number): MimicError {
  const s = Math.max(1, Math.ceil(retryAfterSeconds));
  const what = limit === 1 ? "a request" : `${limit} requests`;
  return new MimicError(
    "BUSY",
    `You already have ${what} in progress. Please wait for it to finish (about ${s} s) before sending another.`,
    { retryAfterSeconds: s, details: { reason: "user", limit } },
  );
}

export function shuttingDown(): MimicError {
  return new MimicError("BUSY", "Mimic is restarting. Please try again in a minute.", {
    retryAfterSeconds: 60,
    details: { reason: "shutdown" },
  });
}

/** No worker can take work: they died loading their handlers and restart with back-off. */
export function workersRestarting(retryAfterSeconds: number): MimicError {
  const s = Math.max(1, Math.ceil(retryAfterSeconds));
  return new MimicError("BUSY", `Mimic is restarting. Please try again in ~${s} s.`, {
    retryAfterSeconds: s,
    details: { reason: "restarting" },
  });
}

export function cancelled(): MimicError {
  return new MimicError("CANCELLED", "The request was cancelled.");
}

export function timedOut(seconds: number): MimicError {
  return new MimicError(
    "TIMEOUT",
    `That took too long (over ${seconds < 10 ? Number(seconds.toPrecision(2)) : Math.round(seconds)} s) and was stopped. Please try a smaller image or try again later.`,
  );
}

/** The error the caller's AbortSignal carries, as a CANCELLED MimicError unless it already is a MimicError. */
export function abortError(signal: AbortSignal): MimicError {
  return signal.reason instanceof MimicError ? signal.reason : cancelled();
}

/** No worker advertises what the job needs (the generator's models failed to load everywhere). */
export function noCapableWorker(capability: string): MimicError {
  return new MimicError("BUSY", "The picture generator is not running right now. Please try again later.", {
    retryAfterSeconds: 60,
    details: { reason: "no-capable-worker", capability },
  });
}

/**
 * Redis mode: no `mimic worker` has been alive for this deployment's QUEUE_PREFIX for longer than the queue's
 * grace (none started, all stopped, or the workers run under another prefix). Said at once rather than after
 * the 10-minute wait limit; the log line names the prefix, the user's message does not.
 */
export function noWorkers(prefix: string, kind?: string): MimicError {
  const what = kind === "enrol" ? "save your face" : "make your image";
  return new MimicError(
    "BUSY",
    `No Mimic worker is running right now, so I can't ${what}. Please try again in a few minutes; if this lasts, tell the bot's owner.`,
    {
      retryAfterSeconds: 120,
      logMessage: `no worker is running for queue prefix "${prefix}" (QUEUE_PREFIX)`,
      details: { reason: "no-workers", prefix },
    },
  );
}

/** A swap job stamped for the generator: LivePortrait moves a face, it does not put one into another picture. */
export function swapOnGenerator(): MimicError {
  return new MimicError("BAD_INPUT", "Face swap is drawn by the mesh engine, not the picture generator. Please try again without choosing the generator.", {
    logMessage: "swap job stamped for the generator",
    details: { reason: "swap-on-generator" },
  });
}
