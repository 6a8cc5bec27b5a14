/**
 * The in-process inference queue (the default): admission (capacity, per-user limit), fair scheduling
 * across servers, priorities, progress events with positions and ETAs, per-job timeout and
 * cancellation, all on the main thread; the work itself runs in a WorkerPool.
 */
import { performance } from "node:perf_hooks";
import { MimicError } from "../errors.ts";
import { logger } from "../logger.ts";
import { FairScheduler, costInQuanta, type SchedEntry } from "./fair-scheduler.ts";
import {
  CHEAP_FIRST_PRIORITY,
  requiredCapability,
  type InferenceQueue,
  type Job,
  type JobResult,
  type ProgressEvent,
  type QueueStats,
  type SubmitOptions,
} from "./jobs.ts";
import type { WorkerSettings } from "../requests.ts";
import { poolOptions, WorkerPool } from "./pool.ts";
import { abortError, noCapableWorker, queueFull, shuttingDown, timedOut, userLimit, workersRestarting } from "./refusals.ts";
import { ServiceTimes } from "./service-times.ts";

export interface QueueOptions {
  /** Worker processes (children of this process). */
  workers: number;
  /** Most jobs waiting for a worker; beyond it submit() refuses with BUSY. */
  capacity: number;
  /** Most jobs one user may have queued or running at once. */
  perUserLimit: number;
  /** Longest a job may run once started. */
  jobTimeoutMs: number;
  /** Run cheaper kinds first (meme, then enrol, then animated) unless a job names its priority. */
  cheapFirst: boolean;
  /** Module exporting `handlers` (default: src/queue/handlers.ts). */
  handlersUrl: string | URL;
  cancelGraceMs?: number;
  /** What the worker processes run with (default: the pipeline's defaults, see settings.ts). */
  settings?: WorkerSettings;
  /** Restart back-off for workers that fail to load their handlers (default 1 s doubling to 30 s). */
  restartBackoff?: { initialMs: number; maxMs: number };
  /** How many workers load the generator when `settings.generator` is set (default all; see WorkerPool). */
  generatorWorkers?: number;
}

interface Pending {
  job: Job;
  opts: SubmitOptions;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
  entry?: SchedEntry<Pending>;
  lastPosition?: number;
  startedAt?: number;
  detachAbort?: () => void;
}

/** Lane for jobs from private chats. */
const DM_LANE = "\u0000dm";

export function createLocalQueue(opts: QueueOptions): InferenceQueue & { ready(): Promise<void> } {
  const times = new ServiceTimes();
  const sched = new FairScheduler<Pending>();
  const running = new Set<Pending>();
  const perUser = new Map<string, number>();
  const counters = { completed: 0, failed: 0, rejected: 0 };
  let closing = false;
  let drained: (() => void) | undefined;

  const pool = new WorkerPool(poolOptions(opts, {
    onIdle: () => pump(),
    onLoadFailure: () => {
      if (!pool.restarting) return;
      // No worker will take the jobs waiting now until a restart loads: they are told when to come back.
      const err = workersRestarting(pool.restartInSeconds);
      for (let e = sched.next(); e; e = sched.next()) {
        counters.rejected += 1;
        release(e.item);
        emit(e.item, { type: "failed", message: err.userMessage });
        e.item.reject(err);
      }
    },
  }));

  const emit = (p: Pending, e: ProgressEvent) => {
    try {
      p.opts.onProgress?.(e);
    } catch (err) {
      logger.warn({ err, requestId: p.opts.requestId }, "onProgress callback threw");
    }
  };

  /** Start times of each worker if the waiting jobs ran in scheduler order, from measured service times. */
  function schedule(): { order: Pending[]; etaMs: number[] } {
    const now = performance.now();
    const free = Array.from({ length: pool.size }, () => 0);
    let i = 0;
    for (const r of running) {
      if (i >= free.length) break;
      free[i++] = Math.max(0, times.estimate(r.job.kind) - (now - (r.startedAt ?? now)));
    }
    const order = sched.order().map((e) => e.item);
    const etaMs = order.map((p) => {
      let w = 0;
      for (let k = 1; k < free.length; k++) if (free[k] < free[w]) w = k;
      const start = free[w];
      free[w] += times.estimate(p.job.kind);
      return start;
    });
    return { order, etaMs };
  }

  function announcePositions(): void {
    if (sched.size === 0) return;
    const { order, etaMs } = schedule();
    order.forEach((p, i) => {
      if (p.lastPosition === i + 1) return;
      p.lastPosition = i + 1;
      emit(p, { type: "queued", position: i + 1, etaSeconds: Math.ceil(etaMs[i] / 1000) });
    });
  }

  function release(p: Pending): void {
    p.detachAbort?.();
    const n = (perUser.get(p.opts.userId) ?? 1) - 1;
    if (n <= 0) perUser.delete(p.opts.userId);
    else perUser.set(p.opts.userId, n);
  }

  /**
   * The next job an idle worker can run. Usually the scheduler's next; when that one needs a capability no
   * idle worker has (the generator), the first runnable job in scheduler order goes ahead of it.
   */
  function nextRunnable(): SchedEntry<Pending> | undefined {
    const order = sched.order();
    const i = order.findIndex((e) => pool.idleFor(e.item.job) > 0);
    if (i < 0) return undefined;
    if (i === 0) return sched.next();
    sched.remove(order[i]!);
    return order[i];
  }

  function pump(): void {
    while (pool.idle > 0 && sched.size > 0) {
      const entry = nextRunnable();
      if (!entry) break;
      start(entry.item);
    }
    // Also when nothing started: a job that no idle worker can run (the generator's) still hears its place.
    announcePositions();
    if (closing && sched.size === 0 && running.size === 0) drained?.();
  }

  function start(p: Pending): void {
    p.entry = undefined;
    p.startedAt = performance.now();
    running.add(p);
    emit(p, { type: "started" });
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(timedOut(opts.jobTimeoutMs / 1000)), opts.jobTimeoutMs);
    const onCallerAbort = () => ac.abort(abortError(p.opts.signal!));
    p.opts.signal?.addEventListener("abort", onCallerAbort, { once: true });
    const finish = () => {
      // Bookkeeping before the caller hears back, so a follow-up submit sees the slot and user free.
      clearTimeout(timer);
      p.opts.signal?.removeEventListener("abort", onCallerAbort);
      running.delete(p);
      release(p);
      // The pool calls pump() once the worker is really free; this only settles a pending close().
      if (closing && sched.size === 0 && running.size === 0) drained?.();
    };
    pool.run(p.job, { requestId: p.opts.requestId, signal: ac.signal }).then(
      (result) => {
        times.record(p.job.kind, performance.now() - p.startedAt!);
        counters.completed += 1;
        finish();
        emit(p, { type: "done" });
        p.resolve(result);
      },
      (err: unknown) => {
        counters.failed += 1;
        const e = err instanceof MimicError ? err : new MimicError("INTERNAL", "Something went wrong while making your image. Please try again.", { cause: err });
        // Pipeline refusals (no face, bad image) are real service time too; crashes and aborts are not.
        if (!["CANCELLED", "TIMEOUT", "INTERNAL", "BUSY"].includes(e.code)) times.record(p.job.kind, performance.now() - p.startedAt!);
        finish();
        emit(p, { type: "failed", message: e.userMessage });
        p.reject(e);
      },
    );
  }

  const queue: InferenceQueue & { ready(): Promise<void> } = {
    ready: () => pool.ready(),

    submit(job, so) {
      if (closing) return Promise.reject(shuttingDown());
      if (so.signal?.aborted) return Promise.reject(abortError(so.signal));
      if (pool.restarting) {
        counters.rejected += 1;
        return Promise.reject(workersRestarting(pool.restartInSeconds));
      }
      const mine = perUser.get(so.userId) ?? 0;
      if (mine >= opts.perUserLimit) {
        counters.rejected += 1;
        return Promise.reject(userLimit(opts.perUserLimit, times.estimate(job.kind) / 1000 + waitSeconds()));
      }
      if (sched.size >= opts.capacity) {
        counters.rejected += 1;
        return Promise.reject(queueFull(waitSeconds(), { waiting: sched.size }));
      }
      if (!pool.mayRun(job)) {
        counters.rejected += 1;
        return Promise.reject(noCapableWorker(requiredCapability(job)));
      }
      return new Promise<JobResult>((resolve, reject) => {
        const p: Pending = { job, opts: so, resolve, reject };
        const priority = so.priority ?? (opts.cheapFirst ? CHEAP_FIRST_PRIORITY[job.kind] : 0);
        p.entry = {
          lane: so.serverId ?? DM_LANE,
          priority,
          cost: costInQuanta(times.estimate(job.kind), times.cheapest()),
          item: p,
        };
        perUser.set(so.userId, mine + 1);
        if (so.signal) {
          const onAbort = () => {
            // Still waiting: leave the queue now. Running jobs are stopped by start()'s own listener.
            if (p.entry && sched.remove(p.entry)) {
              p.entry = undefined;
              release(p);
              reject(abortError(so.signal!));
              announcePositions();
              if (closing && sched.size === 0 && running.size === 0) drained?.();
            }
          };
          so.signal.addEventListener("abort", onAbort, { once: true });
          p.detachAbort = () => so.signal!.removeEventListener("abort", onAbort);
        }
        sched.push(p.entry);
        pump();
      });
    },

    async stats(): Promise<QueueStats> {
      return {
        mode: "local",
        waiting: sched.size,
        running: running.size,
        capacity: opts.capacity,
        workers: pool.size,
        ...counters,
        serviceMs: times.snapshot(),
      };
    },

    async close({ drainMs = 30_000 } = {}) {
      closing = true;
      if (sched.size > 0 || running.size > 0) {
        await new Promise<void>((res) => {
          drained = res;
          setTimeout(res, drainMs).unref();
        });
      }
      // Whatever did not finish in time is told to come back; nothing is left hanging.
      for (let e = sched.next(); e; e = sched.next()) {
        release(e.item);
        emit(e.item, { type: "failed", message: shuttingDown().userMessage });
        e.item.reject(shuttingDown());
      }
      await pool.close(shuttingDown());
    },
  };

  /** Seconds until everything now waiting would have started (the honest "try again in" figure). */
  function waitSeconds(): number {
    if (sched.size === 0) return 1;
    const { etaMs } = schedule();
    return Math.max(1, etaMs[etaMs.length - 1] / 1000);
  }

  return queue;
}
