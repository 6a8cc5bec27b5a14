/**
 * Turns per key (a user): each taker waits for the one before it to release its turn. The core holds a user's
 * turn from the moderation check to the admission, so a burst of one user's requests is checked against the
 * uses the earlier ones recorded, and only one of its files is downloaded at a time.
 */
export class Turns {
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Waits for `key`'s turn; the function returned ends it (once; later calls do nothing). A wait given up (the
   * signal aborts: its reason is thrown; `timeoutMs` passes: TurnWaitTimeout) lets those behind it go on.
   */
  async take(key: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<() => void> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      release();
      // Once the turns before this one are done too, and nobody queued behind it, the key is forgotten: a wait
      // given up must not let the user's next request past one still holding its turn.
      void tail.then(() => {
        if (this.tails.get(key) === tail) this.tails.delete(key);
      });
    };
    try {
      await waitFor(before, opts);
    } catch (e) {
      end();
      throw e;
    }
    return end;
  }

  /** Keys with a turn held or waited for (for tests: an idle user leaves nothing behind). */
  get size(): number {
    return this.tails.size;
  }
}

/** A turn not given within its wait: the one before it seems stuck. */
export class TurnWaitTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no turn within ${timeoutMs} ms`);
  }
}

function waitFor(before: Promise<void>, opts: { signal?: AbortSignal; timeoutMs?: number }): Promise<void> {
  const { signal, timeoutMs } = opts;
  if (!signal && timeoutMs === undefined) return before;
  return new Promise<void>((resolve, reject) => {
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => settle(() => reject(new TurnWaitTimeout(timeoutMs))), timeoutMs);
    const onAbort = () => settle(() => reject(signal!.reason));
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      fn();
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    void before.then(() => settle(resolve));
  });
}
