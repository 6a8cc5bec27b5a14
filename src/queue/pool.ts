/**
 * A fixed pool of worker threads for the CPU-heavy stages (decode, face analysis, warping, GIF
 * encoding), so the main thread only schedules and keeps bot heartbeats on time.
 *
 * One job per thread at a time: pixel work saturates a core, so more would only interleave.
 * Cancellation: the thread's handler gets an AbortSignal; a handler that does not stop within
 * `cancelGraceMs` has its thread terminated (and replaced), so a cancelled or timed-out job can never
 * hold a slot. The caller's promise settles at once either way; a late result is discarded.
 */
import { Worker } from "node:worker_threads";
import { MimicError } from "../errors.ts";
import { logger } from "../logger.ts";
import { ensureCaptionFonts } from "../pipeline/render/fonts.ts";
import type { Job, JobResult } from "./jobs.ts";
import { workerEntry } from "./modules.ts";
import { fromWireError, transferablesOf, type WireError } from "./wire.ts";

export type ToWorker = { type: "run"; id: number; job: Job; requestId: string } | { type: "cancel"; id: number };
type FromWorker =
  | { type: "ready" }
  | { type: "result"; id: number; result: JobResult }
  | { type: "error"; id: number; error: WireError };

export interface PoolOptions {
  size: number;
  /** Module exporting `handlers: HandlerSet`, loaded in every thread. */
  handlersUrl: string | URL;
  /** How long a cancelled handler may take to notice its AbortSignal before its thread is terminated. */
  cancelGraceMs?: number;
  /** Extra environment for the threads (e.g. ORT_THREADS per thread). */
  env?: Record<string, string>;
  /** Called whenever a thread becomes free. */
  onIdle?: () => void;
}

interface Current {
  id: number;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
  /** Set once the caller's promise has settled (cancelled/timed out): the thread's answer is discarded. */
  settled: boolean;
  graceTimer?: NodeJS.Timeout;
  cleanup: () => void;
}

interface Slot {
  worker: Worker;
  current?: Current;
  ready: boolean;
}

export class WorkerPool {
  private slots: Slot[] = [];
  private waiters: ((slot?: Slot) => void)[] = [];
  private nextId = 1;
  private closed = false;
  private readonly opts: Required<Omit<PoolOptions, "env" | "onIdle">> & Pick<PoolOptions, "env" | "onIdle">;

  constructor(opts: PoolOptions) {
    this.opts = { cancelGraceMs: 250, ...opts, handlersUrl: String(opts.handlersUrl) };
    // fontconfig reads FONTCONFIG_FILE once per process from the main thread's native environment:
    // set it before any thread can render a caption, or captions fall back to system fonts.
    ensureCaptionFonts();
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn());
  }

  get size(): number {
    return this.slots.length;
  }

  get idle(): number {
    return this.closed ? 0 : this.slots.filter((s) => s.ready && !s.current).length;
  }

  get busy(): number {
    return this.slots.filter((s) => s.current).length;
  }

  /** Resolves once every thread has loaded its handlers (start-up cost is paid before the first job). */
  async ready(): Promise<void> {
    await Promise.all(
      this.slots.map((s) => (s.ready ? undefined : new Promise<void>((res) => s.worker.once("message", () => setImmediate(res))))),
    );
  }

  /**
   * Runs a job on the next free thread: at once (synchronously taking the slot) when one is idle,
   * otherwise after the threads ahead of it free up, in FIFO order.
   */
  run(job: Job, ctx: { requestId: string; signal?: AbortSignal }): Promise<JobResult> {
    const slot = this.waiters.length === 0 ? this.slots.find((s) => s.ready && !s.current) : undefined;
    if (slot && !this.closed) return this.runOn(slot, job, ctx);
    return new Promise<JobResult>((resolve, reject) => {
      // Called synchronously with the freed thread, so nobody can take it in between.
      this.waiters.push((free) => {
        if (!free) reject(new MimicError("BUSY", "Mimic is restarting. Please try again in a minute."));
        else this.runOn(free, job, ctx).then(resolve, reject);
      });
    });
  }

  private runOn(slot: Slot, job: Job, ctx: { requestId: string; signal?: AbortSignal }): Promise<JobResult> {
    const id = this.nextId++;
    return new Promise<JobResult>((resolve, reject) => {
      const onAbort = () => this.abort(slot, id, ctx.signal?.reason);
      const cur: Current = {
        id,
        resolve,
        reject,
        settled: false,
        cleanup: () => ctx.signal?.removeEventListener("abort", onAbort),
      };
      slot.current = cur;
      slot.worker.ref();
      if (ctx.signal?.aborted) return onAbort();
      ctx.signal?.addEventListener("abort", onAbort, { once: true });
      // Input bytes move to the thread without a copy; the template (which callers may cache) is copied.
      const { template: _t, ...rest } = job as Job & { template?: unknown };
      void _t;
      slot.worker.postMessage({ type: "run", id, job, requestId: ctx.requestId } satisfies ToWorker, transferablesOf(rest));
    });
  }

  /** Terminates every thread; jobs still running reject with `reason`. */
  async close(reason: unknown = new MimicError("CANCELLED", "Mimic is shutting down.")): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(undefined);
    for (const s of this.slots) if (s.current) this.settle(s, reason);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const worker = new Worker(workerEntry(String(this.opts.handlersUrl)), {
      workerData: { handlersUrl: this.opts.handlersUrl },
      env: { ...process.env, ...this.opts.env },
    });
    const slot: Slot = { worker, ready: false };
    worker.on("message", (msg: FromWorker) => this.onMessage(slot, msg));
    worker.on("error", (err) => {
      logger.error({ err }, "queue worker thread crashed");
      this.replace(slot, new MimicError("INTERNAL", "Something went wrong while making your image. Please try again.", { cause: err }));
    });
    worker.on("exit", (code) => {
      if (!this.closed && this.slots.includes(slot)) {
        logger.error({ code }, "queue worker thread exited unexpectedly");
        this.replace(slot, new MimicError("INTERNAL", "Something went wrong while making your image. Please try again."));
      }
    });
    // A starting or busy thread keeps the process alive (someone awaits it); an idle one must not.
    return slot;
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    if (msg.type === "ready") {
      // A thread takes work only once its handlers are loaded, so start-up never eats a job's time budget.
      slot.ready = true;
      if (!slot.current) {
        slot.worker.unref();
        this.wakeWaiter(slot);
      }
      return;
    }
    const cur = slot.current;
    if (!cur || cur.id !== msg.id) return;
    if (msg.type === "result") this.settle(slot, undefined, msg.result);
    else this.settle(slot, fromWireError(msg.error));
    this.free(slot);
  }

  /** Cancellation / timeout: settle now, ask the handler to stop, terminate the thread if it does not. */
  private abort(slot: Slot, id: number, reason: unknown): void {
    const cur = slot.current;
    if (!cur || cur.id !== id || cur.settled) return;
    this.settle(slot, reason instanceof MimicError ? reason : new MimicError("CANCELLED", "The request was cancelled."));
    slot.worker.postMessage({ type: "cancel", id } satisfies ToWorker);
    cur.graceTimer = setTimeout(() => {
      if (slot.current === cur) {
        logger.warn({ id }, "handler ignored cancellation; terminating its worker thread");
        this.replace(slot);
      }
    }, this.opts.cancelGraceMs);
  }

  private settle(slot: Slot, err?: unknown, result?: JobResult): void {
    const cur = slot.current;
    if (!cur || cur.settled) return;
    cur.settled = true;
    cur.cleanup();
    if (err !== undefined) cur.reject(err);
    else cur.resolve(result!);
  }

  private free(slot: Slot): void {
    const cur = slot.current;
    if (cur?.graceTimer) clearTimeout(cur.graceTimer);
    slot.current = undefined;
    slot.worker.unref();
    this.wakeWaiter(slot);
  }

  private wakeWaiter(slot: Slot): void {
    if (this.closed) return;
    const w = this.waiters.shift();
    if (w) w(slot);
    else this.opts.onIdle?.();
  }

  /** Throws a thread away (crashed or stuck) and starts a fresh one in its place. */
  private replace(slot: Slot, err?: unknown): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    if (err !== undefined) this.settle(slot, err);
    this.slots.splice(i, 1);
    void slot.worker.terminate();
    const cur = slot.current;
    if (cur?.graceTimer) clearTimeout(cur.graceTimer);
    if (this.closed) return;
    const respawn = () => {
      if (this.closed) return;
      this.slots.push(this.spawn());
    };
    // A thread that died before loading its handlers (broken module) is not restarted in a hot loop.
    if (slot.ready) respawn();
    else setTimeout(respawn, 1000).unref();
  }
}
