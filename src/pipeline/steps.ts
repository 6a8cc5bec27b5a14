/**
 * Cancellation inside long pixel work. A job runs in a worker process that hears of its cancellation by a
 * message (src/queue/worker.ts), which is only read when the event loop gets a turn; the pool kills a worker
 * whose handler has not stopped within its grace (250 ms by default). An animation is seconds of synchronous
 * work (a transfer and a warp per frame, then the GIF's palettes and frames), so it is written as steps: a
 * generator that yields after each frame (and after each other long piece), run straight through by callers
 * that cannot be cancelled (`runThrough`), or by `runSteps`, which gives the event loop a turn at each yield
 * and stops with the signal's reason (the cancellation error the job was aborted with) once it has fired.
 */

/** Frames made so far of a stage's total: what a step yields after making a frame (nothing after other work). */
export interface FrameProgress {
  made: number;
  of: number;
}

/** Work in steps: yields between pieces of at most about one frame's work, returns the result. */
export type Steps<T> = Generator<FrameProgress | void, T, void>;

/** Called as each frame of an animation is made (progress; a test cancels mid-animation from it). */
export type OnFrame = (made: number, of: number) => void;

/** Runs the steps without a break (no signal to look at). */
export function runThrough<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Runs the steps, looking at the signal between them (see checkpoint); `onFrame` hears each frame made. */
export async function runSteps<T>(steps: Steps<T>, signal?: AbortSignal, onFrame?: OnFrame): Promise<T> {
  await checkpoint(signal);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (r.value) onFrame?.(r.value.made, r.value.of);
    await checkpoint(signal);
  }
}

/**
 * Between two pieces of work: throws the signal's reason once it has fired, after giving the event loop a
 * turn (a macrotask, so the worker's pipe is read and a cancel message aborts the signal). No signal: nothing.
 */
export async function checkpoint(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return;
  signal.throwIfAborted();
  await new Promise<void>((resolve) => setImmediate(resolve));
  signal.throwIfAborted();
}

/** `fn` over the items, one at a time, with a checkpoint after each (cheap per frame, long over 48 of them). */
export async function mapFrames<A, T>(items: readonly A[], fn: (item: A, i: number) => T, signal?: AbortSignal): Promise<T[]> {
  if (!signal) return items.map(fn);
  const out: T[] = [];
  for (let i = 0; i < items.length; i++) {
    out.push(fn(items[i]!, i));
    await checkpoint(signal);
  }
  return out;
}
