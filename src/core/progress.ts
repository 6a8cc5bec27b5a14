import type { ProgressEvent } from "./ports.ts";

/** One wording of queue progress for every adapter. */
export function progressText(e: ProgressEvent): string {
  switch (e.type) {
    case "queued":
      return e.position <= 1
        ? `Next in line… (about ${Math.max(1, Math.round(e.etaSeconds))} s)`
        : `In the queue: position ${e.position}, about ${Math.max(1, Math.round(e.etaSeconds))} s.`;
    case "started":
      return "Working on it…";
    case "done":
      return "Almost there…";
    case "failed":
      return "That did not work.";
  }
}

/**
 * Turns queue events into at most one status update per `minIntervalMs` (chat APIs rate-limit edits),
 * always in order and never after `close()`: the final answer can't be overwritten by a late update.
 */
export function progressReporter(send: (text: string) => Promise<unknown>, minIntervalMs = 1500) {
  let chain: Promise<unknown> = Promise.resolve();
  let lastSent = 0;
  let lastText = "";
  let pending: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const push = (text: string) => {
    if (closed || text === lastText) return;
    lastText = text;
    lastSent = Date.now();
    chain = chain.then(() => send(text)).catch(() => undefined);
  };

  return {
    onProgress(e: ProgressEvent) {
      if (closed) return;
      const text = progressText(e);
      const wait = lastSent + minIntervalMs - Date.now();
      if (wait <= 0 || e.type === "started") {
        if (timer) clearTimeout(timer), (timer = undefined);
        pending = undefined;
        push(text);
      } else {
        pending = text;
        timer ??= setTimeout(() => {
          timer = undefined;
          if (pending) push(pending);
          pending = undefined;
        }, wait);
      }
    },
    /** Stops updates and waits for the one in flight. */
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await chain;
    },
  };
}
