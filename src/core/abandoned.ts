/**
 * Requests whose process stopped before answering them (killed with -9, crashed, out of memory). Each admitted
 * use waits in the store on the process making its answer, which renews it while alive; once it is past due,
 * whichever process serves that platform (the restarted one, or another front end) gives the use back and tells
 * the user, through the adapter's LateAnswer, that the request was lost. A graceful stop leaves none: its jobs
 * finish or are refunded before the store closes.
 */
import { logger } from "../logger.ts";
import type { AbandonedRequest, ModerationPort, Platform } from "./ports.ts";

/** Tells a user, from any process, that their request was lost; `reply` is what the adapter noted (CommandContext.pendingReply). */
export type LateAnswer = (reply: string, text: string) => Promise<void>;

export function abandonedText(r: Pick<AbandonedRequest, "kind">): string {
  const what = r.kind === "animated" ? "animation" : "meme";
  return `Sorry, Mimic stopped while it was making your ${what}, so it never arrived. It did not count towards your limits: please send it again.`;
}

export interface AbandonedWatch {
  /** One round now: renew this process's own requests, then take back the abandoned ones (awaits any round running). */
  check(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Every third of the store's wait: renews this process's unanswered requests, and gives back and answers the
 * abandoned ones on `platforms` (a platform without a LateAnswer, the playground, only gets its uses back).
 * Undefined where the store keeps nothing pending.
 */
export function watchAbandoned(moderation: ModerationPort, platforms: Partial<Record<Platform, LateAnswer | null>>): AbandonedWatch | undefined {
  const { renewPending, takeAbandoned, pendingTtlMs } = moderation;
  if (!renewPending || !takeAbandoned || !pendingTtlMs) return undefined;
  async function round(): Promise<void> {
    await renewPending!.call(moderation).catch((err: unknown) => logger.warn({ err }, "renewing this process's unanswered requests failed"));
    for (const [platform, answer] of Object.entries(platforms) as [Platform, LateAnswer | null][]) {
      const taken = await takeAbandoned!.call(moderation, platform).catch((err: unknown) => {
        logger.warn({ err, platform }, "looking for requests lost with a stopped process failed");
        return [];
      });
      for (const r of taken) {
        logger.warn({ platform, userId: r.userId, serverId: r.serverId, kind: r.kind }, "a request was lost with the process making it: its use was given back");
        if (r.reply !== null && answer) {
          await answer(r.reply, abandonedText(r)).catch((err: unknown) => logger.warn({ err, platform }, "telling a user their request was lost failed"));
        }
      }
    }
  }
  // One round at a time; the timer skips a tick while one runs, so a slow database does not stack them up.
  let running: Promise<void> | undefined;
  const start = () => (running = round().finally(() => (running = undefined)));
  const check = async () => {
    await running;
    await (running ?? start());
  };
  const timer = setInterval(() => void (running ?? start()), Math.max(1, Math.floor(pendingTtlMs / 3)));
  timer.unref();
  void start();
  return {
    check,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
