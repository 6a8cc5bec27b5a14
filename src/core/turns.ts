/**
 * Turns per key (a user): each taker waits for the one before it to release its turn. The core holds a user's
 * turn from the moderation check to the admission, so a burst of one user's requests is checked against the
 * uses the earlier ones recorded, and only one of its files is downloaded at a time.
 */
export class Turns {
  private readonly tails = new Map<string, Promise<void>>();

  /** Waits for `key`'s turn; the function returned ends it (once; later calls do nothing). */
  async take(key: string): Promise<() => void> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    await before;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      release();
      // Nobody queued behind: the key is forgotten.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }

  /** Keys with a turn held or waited for (for tests: an idle user leaves nothing behind). */
  get size(): number {
    return this.tails.size;
  }
}
