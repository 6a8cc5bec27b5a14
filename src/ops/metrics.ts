/**
 * Mimic's Prometheus metrics (prom-client), in a registry of their own so tests and several apps in one
 * process never share counters. Parts of Mimic never touch prom-client: the composition root wraps the
 * queue and the store's ports with the observers in ./observe.ts, which feed these.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { logger } from "../logger.ts";
import type { QueueStats } from "../queue/jobs.ts";

/** How long a scrape waits for the queue's statistics (Prometheus's own scrape timeout is 10 s by default). */
const QUEUE_STATS_TIMEOUT_MS = 2_000;

function boundedStats(read: () => Promise<QueueStats>): Promise<QueueStats> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    read(),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${QUEUE_STATS_TIMEOUT_MS} ms`)), QUEUE_STATS_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Seconds: from a 5 ms database call to a 2-minute animation. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export interface Metrics {
  readonly registry: Registry;
  readonly queueWait: Histogram<"kind">;
  readonly jobDuration: Histogram<"kind" | "outcome">;
  readonly stageDuration: Histogram<"kind" | "stage">;
  readonly jobsFinished: Counter<"kind" | "outcome">;
  readonly refusals: Counter<"reason">;
  readonly dbDuration: Histogram<"op" | "outcome">;
  readonly modelLoad: Histogram<string>;
  /** Where queue depth and running jobs are read at scrape time (set once the queue exists). */
  queueStats?: () => Promise<QueueStats>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  // Process metrics, among them nodejs_eventloop_lag_{seconds,p50,p90,p99}_seconds.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const metrics: Metrics = {
    registry,
    queueWait: new Histogram({
      name: "mimic_queue_wait_seconds",
      help: "Time a job waited in the queue before a worker started it, by job kind.",
      labelNames: ["kind"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: "mimic_job_duration_seconds",
      help: "Time from a worker starting a job to its result or error, by job kind and outcome.",
      labelNames: ["kind", "outcome"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    stageDuration: new Histogram({
      name: "mimic_pipeline_stage_seconds",
      help: "Time per pipeline stage inside the worker, by job kind and stage.",
      labelNames: ["kind", "stage"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    jobsFinished: new Counter({
      name: "mimic_jobs_total",
      help: "Jobs submitted to the queue by kind and outcome: done, rejected_input, failed, timeout, cancelled, refused.",
      labelNames: ["kind", "outcome"],
      registers: [registry],
    }),
    refusals: new Counter({
      name: "mimic_refusals_total",
      help: "Requests turned away, by reason (queue_full, user_busy, shutting_down, restarting, no_workers, no_capable_worker, queue_unreachable, queue_lost, busy, quota, cooldown, banned, channel, swap_off, disabled, nsfw): before any work, or a made result not sent because a ban or setting changed while it was made.",
      labelNames: ["reason"],
      registers: [registry],
    }),
    dbDuration: new Histogram({
      name: "mimic_db_duration_seconds",
      help: "Store (database) call latency, by operation and outcome (ok or error).",
      labelNames: ["op", "outcome"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    modelLoad: new Histogram({
      name: "mimic_model_load_seconds",
      help: "Time a worker process spent loading the face models (once per process, before it takes jobs).",
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
  };
  // One read per scrape for the four gauges, bounded: Redis being away must cost the queue gauges, not the whole
  // scrape (a failed /metrics would look like Mimic being down).
  let reading: Promise<QueueStats | undefined> | undefined;
  const statsErrors = new Counter({
    name: "mimic_queue_stats_errors_total",
    help: "Scrapes whose queue statistics did not answer (e.g. Redis unreachable); the mimic_queue_* gauges were left out of them.",
    registers: [registry],
    async collect() {
      // Joins (or starts) this scrape's read, so a failure is counted in the scrape it happened in.
      if (metrics.queueStats) await readStats(metrics.queueStats);
    },
  });
  const readStats = (read: () => Promise<QueueStats>) => {
    reading ??= boundedStats(read)
      .catch((err: unknown) => {
        statsErrors.inc();
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, "queue statistics did not answer: /metrics leaves the queue gauges out");
        return undefined;
      })
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };
  const stat = (name: string, help: string, pick: (s: QueueStats) => number | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        if (!metrics.queueStats) return;
        const s = await readStats(metrics.queueStats);
        const v = s && pick(s);
        if (v !== undefined) this.set(v);
        else this.remove(); // no sample rather than a stale or made-up one
      },
    });
  stat("mimic_queue_depth", "Jobs waiting for a worker (this process in local mode, the whole deployment in Redis mode).", (s) => s.waiting);
  stat("mimic_queue_running", "Jobs running on a worker now (Redis mode: claimed and unfinished, also those of a worker that died until another resumes them).", (s) => s.running);
  stat("mimic_queue_oldest_wait_seconds", "How long the oldest job still waiting for a worker has waited (0 when none waits).", (s) => (s.oldestWaitMs === undefined ? undefined : s.oldestWaitMs / 1000));
  stat("mimic_queue_capacity", "Most jobs that may wait (QUEUE_CAPACITY); beyond it requests are refused.", (s) => s.capacity);
  stat("mimic_queue_workers", "Worker processes (local mode) or live `mimic worker` job slots (Redis mode).", (s) => s.workers);
  return metrics;
}
