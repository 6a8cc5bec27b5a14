/**
 * Requests whose process stopped before answering them (killed with -9, crashed, out of memory). Each admitted
 * use waits in the store on the process making its answer, which renews it while alive; once it is past due,
 * whichever process serves that platform (the restarted one, or another front end) gives the use back and tells
 * the user, through the adapter's LateAnswer, that the request was lost. A graceful stop leaves none: its jobs
 * finish or are refunded, and what it still holds then counts as answered (releasePending).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { logger } from "../logger.ts";
import type { AbandonedRequest, ModerationPort, Platform } from "./ports.ts";

/**
 * Tells a user, from any process, that their request was lost; `reply` is what the adapter noted
 * (CommandContext.pendingReply). Aborted by `signal` when it takes too long or the process stops.
 */
export type LateAnswer = (reply: string, text: string, signal: AbortSignal) => Promise<void>;

/** A late answer taking longer is given up (the platform unreachable): the next round must not wait on it. */
export const LATE_ANSWER_TIMEOUT_MS = 10_000;
/** How long a stop waits for a round still running (a slow database or platform) before it goes on. */
const STOP_GRACE_MS = 2_000;

export function abandonedText(r: Pick<AbandonedRequest, "kind">): string {
  const what = r.kind === "animated" ? "animation" : "meme";
  return `Sorry, Mimic stopped while it was making your ${what}, so it never arrived. It did not count towards your limits: please send it again.`;
}

export interface AbandonedWatch {
  /**
   * From now on, also gives back the lost requests of `platform` and answers them through `answer` (null: only
   * given back). Called once that platform's bot can send (a bot still connecting could not tell anyone).
   */
  serve(platform: Platform, answer: LateAnswer | null): void;
  /** One round now (renewal, then the lost requests), after any round already running. */
  check(): Promise<void>;
  /** Stops both timers, cuts late answers short, and releases what this process still holds. */
  stop(): Promise<void>;
}

/**
 * Every third of the store's wait, on two timers: renews this process's unanswered requests (never held up by a
 * slow platform), and gives back and answers the abandoned ones on the platforms it serves. Undefined where the
 * store keeps nothing pending.
 */
export function watchAbandoned(
  moderation: ModerationPort,
  /** Takes a lost request's job out of a shared queue (InferenceQueue.abandon), so that a resend is not refused. */
  abandonJob?: (jobId: string) => Promise<void>,
): AbandonedWatch | undefined {
  const { pendingTtlMs } = moderation;
  if (!moderation.renewPending || !moderation.takeAbandoned || !pendingTtlMs) return undefined;
  const stopping = new AbortController();
  const platforms = new Map<Platform, LateAnswer | null>();

  const renew = () =>
    moderation.renewPending!().catch((err: unknown) => logger.warn({ err }, "renewing this process's unanswered requests failed"));

  async function answerLost(platform: Platform, answer: LateAnswer | null): Promise<void> {
    const taken = await moderation.takeAbandoned!(platform).catch((err: unknown) => {
      logger.warn({ err, platform }, "looking for requests lost with a stopped process failed");
      return [];
    });
    // One at a time: a chat's flood limit (Telegram: about 20 messages a minute in a group) must not drop them.
    for (const r of taken) {
      const who = { platform, userId: r.userId ?? undefined, serverId: r.serverId, kind: r.kind, job: r.job ?? undefined };
      logger.warn(who, "a request was lost with the process making it: its use was given back");
      // Before the user hears "send it again": the lost job must not hold their place in the queue.
      if (r.job !== null && abandonJob) await abandonJob(r.job).catch((err: unknown) => logger.warn({ err, ...who }, "taking a lost request's job out of the queue failed"));
      if (r.reply === null || !answer || stopping.signal.aborted) continue;
      const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(LATE_ANSWER_TIMEOUT_MS)]);
      await answer(r.reply, abandonedText(r), signal).catch((err: unknown) => logger.warn({ err, ...who }, "telling a user their request was lost failed"));
    }
  }

  /** Each job at most one round at a time: a tick while its last round still runs is skipped. */
  function serial(work: () => Promise<unknown>) {
    let running: Promise<void> | undefined;
    const start = () => (running ??= work().then(() => undefined).finally(() => (running = undefined)));
    return { start, idle: async () => void (await running) };
  }
  const renewal = serial(renew);
  const lost = serial(() => Promise.all([...platforms].map(([p, a]) => answerLost(p, a))));
  const every = Math.max(1, Math.floor(pendingTtlMs / 3));
  const timers = [setInterval(renewal.start, every), setInterval(lost.start, every)];
  for (const t of timers) t.unref();
  void renewal.start();

  return {
    serve(platform, answer) {
      platforms.set(platform, answer);
      void lost.start();
    },
    async check() {
      await renewal.idle();
      await renewal.start();
      await lost.idle();
      await lost.start();
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      stopping.abort();
      // Bounded: a platform's retry wait or a slow store must not stretch the shutdown.
      await Promise.race([Promise.all([renewal.idle(), lost.idle()]), sleep(STOP_GRACE_MS, undefined, { ref: false })]);
      await moderation.releasePending?.().catch((err: unknown) => logger.warn({ err }, "releasing this process's requests at stop failed"));
    },
  };
}
