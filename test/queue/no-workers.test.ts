/**
 * The distributed queue with no `mimic worker` for its QUEUE_PREFIX (none started, all stopped, or started
 * with another prefix): users are told at once, or within the grace for a worker restarting, instead of
 * waiting out the 10-minute wait limit; readiness and the log say so. Real Redis (TEST_REDIS_URL), workers
 * in this process with the CPU test handlers.
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, test, vi } from "vitest";
import type { MimicError } from "../../src/errors.ts";
import { logger } from "../../src/logger.ts";
import { createMetrics, observeQueue, readinessChecks, startOpsServer } from "../../src/ops/index.ts";
import type { ImageResult, ProgressEvent } from "../../src/queue/jobs.ts";
import { createRedisQueue, startRedisWorker, type RedisQueueOptions, type RedisWorkerHandle } from "../../src/queue/redis.ts";
import type { Store } from "../../src/templates/store.ts";
import { deleteRedisPrefixes, expectRejects, isPng, memeJob, redisQueueOptions } from "./helpers.ts";
import { within } from "../helpers/within.ts";

const REDIS = process.env.TEST_REDIS_URL;
if (!REDIS) console.warn("test/queue/no-workers.test.ts skipped: set TEST_REDIS_URL=redis://127.0.0.1:6379");

const NO_WORKER = "No Mimic worker is running right now, so I can't make your image. Please try again in a few minutes; if this lasts, tell the bot's owner.";

const prefixes: string[] = [];
const newPrefix = () => {
  const p = `mimictest:nw-${randomUUID().slice(0, 8)}`;
  prefixes.push(p);
  return p;
};
const producer = (prefix: string, over: Partial<RedisQueueOptions> = {}) =>
  // maxWaitMs stays at its 10 minutes: only the no-worker rule may answer within these tests' time limits.
  createRedisQueue({ ...redisQueueOptions(REDIS!, prefix), ...over });
const worker = (prefix: string): Promise<RedisWorkerHandle> =>
  startRedisWorker({ ...redisQueueOptions(REDIS!, prefix), stallMs: 2000 });

let n = 0;
const who = (extra: { onProgress?: (e: ProgressEvent) => void } = {}) => ({ requestId: `nw${++n}`, userId: `u${n}`, serverId: "s1", ...extra });

describe.skipIf(!REDIS)("redis queue with no worker for its prefix", () => {
  afterAll(async () => {
    await deleteRedisPrefixes(REDIS!, prefixes);
  });

  test("a submission is refused at once with a plain message, counted as no_workers, and the log names the prefix", async () => {
    const prefix = newPrefix();
    const warn = vi.spyOn(logger, "warn");
    // Grace 0: a front end that has not yet seen a worker otherwise takes requests for the grace from its start.
    const raw = producer(prefix, { noWorkerGraceMs: 0 });
    const metrics = createMetrics();
    const q = observeQueue(raw, metrics);
    try {
      await raw.ready();
      const e = await within(20_000, expectRejects(q.submit(memeJob(), who())));
      expect(e.code).toBe("BUSY");
      expect(e.userMessage).toBe(NO_WORKER);
      expect(e.details).toMatchObject({ reason: "no-workers", prefix });
      expect(e.retryAfterSeconds).toBeGreaterThan(0);
      const face = await expectRejects(q.submit({ kind: "enrol", image: { bytes: new Uint8Array(8), mime: "image/png" } }, who()));
      expect(face.userMessage).toMatch(/^No Mimic worker is running right now, so I can't save your face\./);
      // Nothing was left waiting in Redis.
      expect((await raw.stats()).waiting).toBe(0);
      expect(await metrics.registry.metrics()).toMatch(/mimic_refusals_total\{reason="no_workers"\} 2/);
      await vi.waitFor(() => expect(warn.mock.calls.map((c) => String(c.at(-1)))).toContainEqual(expect.stringContaining(`queue prefix "${prefix}"`)), { timeout: 10_000 });
    } finally {
      warn.mockRestore();
      await raw.close({ drainMs: 0 });
    }
  }, 60_000);

  test("jobs waiting when the only worker stops, and the one it handed back, are refused after the grace, not the wait limits", async () => {
    const prefix = newPrefix();
    const w = await worker(prefix);
    let wClosed = false;
    const q = producer(prefix, { noWorkerGraceMs: 1000 });
    try {
      await q.ready();
      // The worker's one thread runs the first job (2 minutes); the second waits behind it.
      let markStarted!: () => void;
      const started = new Promise<void>((res) => (markStarted = res));
      const first = q.submit(memeJob("spin:120000"), who({ onProgress: (e) => e.type === "started" && markStarted() })).then(() => undefined, (e: MimicError) => e);
      await started;
      let markQueued!: () => void;
      const queued = new Promise<void>((res) => (markQueued = res));
      const second = q.submit(memeJob(), who({ onProgress: (e) => e.type === "queued" && markQueued() })).then(() => undefined, (e: MimicError) => e);
      await queued;
      // The worker stops (it hands its running job back for another worker to rerun), and no other comes.
      await w.close({ drainMs: 100 });
      wClosed = true;
      for (const e of await within(30_000, Promise.all([second, first]))) {
        expect(e?.code).toBe("BUSY");
        expect(e?.userMessage).toBe(NO_WORKER);
        expect(e?.details).toMatchObject({ reason: "no-workers" });
      }
      expect((await q.stats()).waiting).toBe(0);
      // The user's slot went with the job: a worker back now serves the same user's next request.
      const back = await worker(prefix);
      try {
        expect(isPng(((await q.submit(memeJob(), { requestId: "again", userId: `u${n}`, serverId: "s1" })) as ImageResult).bytes)).toBe(true);
      } finally {
        await back.close({ drainMs: 0 });
      }
    } finally {
      if (!wClosed) await w.close({ drainMs: 0 });
      await q.close({ drainMs: 0 });
    }
  }, 90_000);

  test("a worker restarting within the grace: a job sent meanwhile waits for it and is served", async () => {
    const prefix = newPrefix();
    const first = await worker(prefix);
    await first.close({ drainMs: 0 });
    const q = producer(prefix, { noWorkerGraceMs: 60_000 });
    try {
      await q.ready();
      let markQueued!: () => void;
      const queued = new Promise<void>((res) => (markQueued = res));
      const job = q.submit(memeJob(), who({ onProgress: (e) => e.type === "queued" && markQueued() }));
      await queued;
      const second = await worker(prefix);
      try {
        expect(isPng(((await job) as ImageResult).bytes)).toBe(true);
      } finally {
        await second.close({ drainMs: 0 });
      }
    } finally {
      await q.close({ drainMs: 0 });
    }
  }, 90_000);

  test("readiness: the queue check fails naming the prefix with no worker, passes with one, fails again after it stops", async () => {
    const prefix = newPrefix();
    const q = producer(prefix, { noWorkerGraceMs: 500 });
    const checks = readinessChecks({ store: {} as Store, queue: q });
    const ops = await startOpsServer({ host: "127.0.0.1", port: 0, metrics: createMetrics(), checks: { queue: checks.queue } });
    const readyz = async () => {
      const res = await fetch(`${ops.url}/readyz`, { signal: AbortSignal.timeout(30_000) });
      return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
    };
    let w: RedisWorkerHandle | undefined;
    try {
      await q.ready();
      // The grace counts from the queue's start (no worker seen yet).
      await vi.waitFor(async () => {
        const none = await readyz();
        expect(none.status).toBe(503);
        expect(none.body.checks.queue).toMatch(`no worker is running for queue prefix ${prefix}`);
      }, { timeout: 20_000, interval: 100 });
      w = await worker(prefix);
      expect(await readyz()).toEqual({ status: 200, body: expect.objectContaining({ checks: { queue: "ok" } }) });
      await w.close({ drainMs: 0 });
      w = undefined;
      await vi.waitFor(async () => {
        const gone = await readyz();
        expect(gone.status).toBe(503);
        expect(gone.body.checks.queue).toMatch(new RegExp(`^no worker is running for queue prefix ${prefix} \\(the last one stopped \\d+ s ago\\)$`));
      }, { timeout: 20_000, interval: 100 });
    } finally {
      await w?.close({ drainMs: 0 });
      await ops.close();
      await q.close({ drainMs: 0 });
    }
  }, 90_000);
});
