import { logger } from "../logger.ts";

/**
 * A bot's first request at start-up while its platform cannot be reached (no network yet, the platform or its
 * API root down): tried again after REACH_RETRY_MIN_MS, doubling up to REACH_RETRY_MAX_MS, with a warning at the
 * first failure and then every REACH_WARN_EVERY_MS. It keeps trying rather than give up, so that a bot started
 * before its network (a boot, a container starting before its network) comes up once it can.
 */
export const REACH_RETRY_MIN_MS = 1_000;
export const REACH_RETRY_MAX_MS = 30_000;
export const REACH_WARN_EVERY_MS = 60_000;

/** What a failed try means: worth another (why, for the log; at least how long to wait), or thrown as it is. */
export type ReachVerdict = { retry: string; waitMs?: number } | { fail: unknown };

export interface Reach<T> {
  /** Who is asked, in the log: "Telegram", "Discord". */
  platform: string;
  /** Where, in the warning: " at TELEGRAM_API_ROOT=…", " (check the network)". */
  where: string;
  /** Ends the waiting (Mimic stopping): the reach then rejects. */
  signal: AbortSignal;
  /** Bounds each try on its own. */
  attemptTimeoutMs?: number;
  attempt(signal: AbortSignal): Promise<T>;
  verdict(err: unknown): ReachVerdict;
}

/** `attempt` until the platform answers, or its verdict fails it (a refused token: CONFIG), or `signal` aborts. */
export async function untilReached<T>(r: Reach<T>): Promise<T> {
  const since = Date.now();
  let lastWarning: number | undefined;
  for (let delay = REACH_RETRY_MIN_MS; ; delay = Math.min(delay * 2, REACH_RETRY_MAX_MS)) {
    if (r.signal.aborted) throw new Error(`Mimic stopped before ${r.platform} could be reached`);
    const signal = r.attemptTimeoutMs ? AbortSignal.any([r.signal, AbortSignal.timeout(r.attemptTimeoutMs)]) : r.signal;
    let err: unknown;
    try {
      const answer = await r.attempt(signal);
      if (lastWarning !== undefined) logger.info({ afterSeconds: Math.round((Date.now() - since) / 1000) }, `${r.platform} answered: starting the bot`);
      return answer;
    } catch (e) {
      err = e;
    }
    const verdict = r.verdict(err);
    if ("fail" in verdict) throw verdict.fail;
    if (r.signal.aborted) continue;
    const wait = Math.max(delay, verdict.waitMs ?? 0);
    const now = Date.now();
    if (lastWarning === undefined || now - lastWarning >= REACH_WARN_EVERY_MS) {
      lastWarning = now;
      const waited = now - since >= 1000 ? ` for ${Math.round((now - since) / 1000)} s` : "";
      logger.warn({ reason: verdict.retry, retryInSeconds: wait / 1000 }, `${r.platform} cannot be reached${r.where}${waited}: still trying; the bot starts once it answers`);
    }
    await pause(wait, r.signal);
  }
}

/** An abortable pause (start-up's retries end at once when Mimic stops). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
