/**
 * Work an adapter (a bot, the playground) started for a user and has not finished (its reply not yet sent),
 * so that shutdown can wait for those replies: the adapters' part of Mimic's stop order (stop intake → the
 * queue drains → in-flight replies are delivered → the store closes; see RunningApp.stop in src/app.ts).
 */
export interface InFlight {
  /** Tracks `task` until it settles; a failure is passed to `onError` (never unhandled). */
  track(task: Promise<unknown>): void;
  /** Tasks not yet settled. */
  readonly size: number;
  /**
   * True once nothing is in flight (tasks tracked meanwhile included); false when `ms` ran out first.
   * Without `ms`: waits as long as that takes.
   */
  settled(ms?: number): Promise<boolean>;
}

export function createInFlight(onError: (err: unknown) => void): InFlight {
  const tasks = new Set<Promise<void>>();
  return {
    track(task) {
      const tracked: Promise<void> = task.then(
        () => undefined,
        (err: unknown) => onError(err),
      ).finally(() => tasks.delete(tracked));
      tasks.add(tracked);
    },
    get size() {
      return tasks.size;
    },
    async settled(ms = Infinity) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        if (Number.isFinite(ms)) timer = setTimeout(() => resolve(false), Math.max(0, ms));
      });
      try {
        while (tasks.size > 0) {
          if ((await Promise.race([Promise.all(tasks).then(() => true as const), timeout])) === false) return false;
        }
        return true;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
