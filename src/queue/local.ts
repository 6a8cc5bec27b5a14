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
import {
  Arrivals,
  classOf,
  classOffsetMs,
  expensiveLimit,
  isExpensive,
  nextAnnouncement,
  remainingMs,
  simulateStarts,
  standing,
  userWaitMs,
  workUnits,
  type UserJob,
} from "./policy.ts";

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
  /** The clock (ms) for ETAs, ageing and service times (default performance.now; tests set their own). */
  now?: () => number;
}

interface Pending {
  job: Job;
  /** Its size where known (workUnits) and its expected service time, as estimated when it arrived. */
  units?: number;
  estimateMs: number;
  /** When it arrived, and its class's offset: cheaper jobs arriving before queuedAt + offset may go ahead of it. */
  queuedAt: number;
  offset: number;
  opts: SubmitOptions;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
  entry?: SchedEntry<Pending>;
  lastPosition?: number;
  lastEta?: number;
  startedAt?: number;
  detachAbort?: () => void;
}

/** Lane for jobs from private chats. */
const DM_LANE = "\u0000dm";

/**
 * `ready()`: every worker process has loaded its handlers (BUSY while one restarts; /readyz). `started()`: the same at
 * start-up, where a worker that could not load them is a configuration to correct (CONFIG, naming why).
 */
export type LocalQueue = InferenceQueue & { ready(): Promise<void>; started(): Promise<void> };

export function createLocalQueue(opts: QueueOptions): LocalQueue {
  const now = opts.now ?? (() => performance.now());
  const times = new ServiceTimes();
  const sched = new FairScheduler<Pending>((p) => classOffsetMs(p, opts.cheapFirst));
  const arrivals = new Arrivals();
  const running = new Set<Pending>();
  /** Each user's jobs waiting or running. */
  const perUser = new Map<string, Set<Pending>>();
  const expensiveRunning = () => [...running].filter((r) => isExpensive(r.job.kind)).length;
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

  /**
   * Where each waiting job stands: `order` as the scheduler would start them; `startMs`, when each would start
   * if nothing else arrived (running jobs' remaining times, expensive jobs on all workers but one with cheap-first); `etaMs`,
   * when it is expected to start, counting the cheaper jobs that may still arrive and go ahead of it;
   * `position`, how many jobs are expected to start before it, plus one.
   */
  function schedule(): { order: Pending[]; startMs: number[]; etaMs: number[]; position: number[] } {
    const t = now();
    const order = sched.order().map((e) => e.item);
    const startMs = simulateStarts(
      pool.size,
      opts.cheapFirst,
      [...running].map((r) => ({ expensive: isExpensive(r.job.kind), remainingMs: remainingMs(r.estimateMs, t - r.startedAt!, opts.jobTimeoutMs) })),
      order.map((p) => ({ expensive: isExpensive(p.job.kind), estimateMs: p.estimateMs })),
    );
    const etaMs: number[] = [];
    const position: number[] = [];
    order.forEach((p, i) => {
      const s = standing(startMs[i]!, p.queuedAt + p.offset - t, arrivals.ahead(p.offset, pool.size, t));
      etaMs.push(s.etaMs);
      // Jobs starting before it now (a meme behind an animation that waits for a general worker starts first)...
      let before = 0;
      startMs.forEach((x, j) => (x < startMs[i]! || (x === startMs[i]! && j < i)) && before++);
      // ...and those expected to arrive and overtake it while they still may.
      position.push(before + 1 + s.overtakers);
    });
    return { order, startMs, etaMs, position };
  }

  function announcePositions(): void {
    if (sched.size === 0) return;
    const { order, etaMs, position } = schedule();
    order.forEach((p, i) => {
      const told = nextAnnouncement(p, position[i]!, etaMs[i]!);
      if (!told) return;
      p.lastPosition = told.position;
      p.lastEta = told.etaSeconds;
      emit(p, { type: "queued", ...told });
    });
  }

  function release(p: Pending): void {
    p.detachAbort?.();
    const mine = perUser.get(p.opts.userId);
    mine?.delete(p);
    if (mine?.size === 0) perUser.delete(p.opts.userId);
  }

  /**
   * The next job an idle worker can run. Usually the scheduler's next; when that one needs a capability no
   * idle worker has (the generator), or is expensive while expensive jobs hold all the workers they may
   * (all but one with cheap-first, policy.ts expensiveLimit), the first runnable job in scheduler order goes ahead of it.
   */
  function nextRunnable(): SchedEntry<Pending> | undefined {
    const order = sched.order();
    const expensiveFull = expensiveRunning() >= expensiveLimit(pool.size, opts.cheapFirst);
    const i = order.findIndex((e) => pool.idleFor(e.item.job) > 0 && !(expensiveFull && isExpensive(e.item.job.kind)));
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
    p.startedAt = now();
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
      // The pool called pump() when the worker came free, while this job still counted as running: an
      // animation held back because animations held all the workers they may can start now.
      pump();
    };
    pool.run(p.job, { requestId: p.opts.requestId, signal: ac.signal }).then(
      (result) => {
        times.record(p.job.kind, now() - p.startedAt!, p.units);
        counters.completed += 1;
        finish();
        emit(p, { type: "done" });
        p.resolve(result);
      },
      (err: unknown) => {
        counters.failed += 1;
        const e = err instanceof MimicError ? err : new MimicError("INTERNAL", "Something went wrong while making your image. Please try again.", { cause: err });
        // Pipeline refusals (no face, bad image) are real service time too; crashes and aborts are not.
        if (!["CANCELLED", "TIMEOUT", "INTERNAL", "BUSY"].includes(e.code)) times.record(p.job.kind, now() - p.startedAt!, p.units);
        finish();
        emit(p, { type: "failed", message: e.userMessage });
        p.reject(e);
      },
    );
  }

  const queue: LocalQueue = {
    ready: () => pool.ready(),
    started: () => pool.started(),

    submit(job, so) {
      if (closing) return Promise.reject(shuttingDown());
      if (so.signal?.aborted) return Promise.reject(abortError(so.signal));
      if (pool.restarting) {
        counters.rejected += 1;
        return Promise.reject(workersRestarting(pool.restartInSeconds));
      }
      const mine = perUser.get(so.userId)?.size ?? 0;
      if (mine >= opts.perUserLimit) {
        counters.rejected += 1;
        return Promise.reject(userLimit(opts.perUserLimit, userWaitSeconds(so.userId)));
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
        const units = workUnits(job);
        const estimateMs = times.estimateJob(job.kind, units);
        const priority = classOf(job.kind, opts.cheapFirst, so.priority);
        const queuedAt = now();
        const p: Pending = { job, units, estimateMs, queuedAt, offset: classOffsetMs(priority, opts.cheapFirst), opts: so, resolve, reject };
        p.entry = {
          lane: so.serverId ?? DM_LANE,
          priority,
          cost: costInQuanta(estimateMs, times.cheapest()),
          at: queuedAt,
          item: p,
        };
        arrivals.record(queuedAt, p.offset, estimateMs);
        if (!perUser.has(so.userId)) perUser.set(so.userId, new Set());
        perUser.get(so.userId)!.add(p);
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
    const { startMs } = schedule();
    return Math.max(1, Math.max(...startMs) / 1000);
  }

  /** Seconds until the first of a user's own jobs is expected to finish (a running one's remaining time), freeing a slot. */
  function userWaitSeconds(userId: string): number {
    const t = now();
    const mine = [...(perUser.get(userId) ?? [])];
    const waiting = mine.some((p) => !p.startedAt) ? schedule() : undefined;
    const jobs = mine.map((p): UserJob => {
      if (p.startedAt !== undefined) return { estimateMs: p.estimateMs, elapsedMs: t - p.startedAt };
      const i = waiting!.order.indexOf(p);
      return { estimateMs: p.estimateMs, startsInMs: i >= 0 ? waiting!.etaMs[i]! : 0 };
    });
    return Math.max(1, userWaitMs(jobs, opts.jobTimeoutMs) / 1000);
  }

  return queue;
}
