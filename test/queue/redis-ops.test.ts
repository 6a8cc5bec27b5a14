/**
 * What an operator sees of the distributed queue, against a real Redis (TEST_REDIS_URL): workers draining
 * after SIGTERM keep their jobs, a front end that stops cancels its running jobs, every job state change is
 * logged with its request id, job id and worker id, /metrics counts the jobs of a dead worker and the oldest
 * wait, and mismatches between bots and workers (generator, version, settings, store) are warned about.
 * Workers run in this process (startRedisWorker: what `mimic worker` runs) or as `mimic worker` children.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, test, vi, type MockInstance } from "vitest";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { MimicError } from "../../src/errors.ts";
import { logger } from "../../src/logger.ts";
import { createMetrics, observeQueue } from "../../src/ops/index.ts";
import type { ImageResult, Job } from "../../src/queue/jobs.ts";
import { workerSettings } from "../../src/queue/index.ts";
import { createRedisQueue, startRedisWorker, type RedisQueueOptions, type RedisWorkerHandle } from "../../src/queue/redis.ts";
import { TEST_HANDLERS, deleteRedisPrefixes, expectRejects, isPng, memeJob, redisQueueOptions, spawnMimicWorker, type WorkerChild } from "./helpers.ts";

const REDIS = process.env.TEST_REDIS_URL;
if (!REDIS) console.warn("test/queue/redis-ops.test.ts skipped: set TEST_REDIS_URL=redis://127.0.0.1:6379");

const prefixes: string[] = [];
const dirs: string[] = [];
const newPrefix = () => {
  const p = `mimictest:ops-${randomUUID().slice(0, 8)}`;
  prefixes.push(p);
  return p;
};
const producer = (prefix: string, over: Partial<RedisQueueOptions> = {}) => createRedisQueue({ ...redisQueueOptions(REDIS!, prefix), ...over });
const worker = (prefix: string, over: Record<string, unknown> = {}): Promise<RedisWorkerHandle> =>
  startRedisWorker({ ...redisQueueOptions(REDIS!, prefix), stallMs: 1000, ...over });
let n = 0;
const who = () => ({ requestId: `req-${randomUUID().slice(0, 6)}`, userId: `u${++n}`, serverId: "s1" });

/** Every call of a logger method, as [fields, message]. */
type Calls = Array<[Record<string, unknown>, string]>;
const calls = (spy: MockInstance): Calls => spy.mock.calls.map((c) => [(c[0] ?? {}) as Record<string, unknown>, String(c[1] ?? "")]);
let warn: MockInstance;
let debug: MockInstance;
beforeEach(() => {
  warn = vi.spyOn(logger, "warn");
  debug = vi.spyOn(logger, "debug");
});
afterEach(() => vi.restoreAllMocks());

const spawnWorker = (prefix: string): Promise<WorkerChild> => spawnMimicWorker(REDIS!, prefix, { detached: true });

describe.skipIf(!REDIS)("the distributed queue, as an operator sees it", () => {
  afterAll(async () => {
    await deleteRedisPrefixes(REDIS!, prefixes);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("a worker draining after SIGTERM still counts as a worker: its running job finishes, though the no-worker grace passes meanwhile", async () => {
    const prefix = newPrefix();
    const w = await worker(prefix);
    // A grace far shorter than the job: a worker that stopped advertising itself would have its job given up.
    const q = producer(prefix, { noWorkerGraceMs: 200 });
    await q.ready();
    try {
      let markStarted!: () => void;
      const started = new Promise<void>((res) => (markStarted = res));
      const job = q.submit(memeJob("spin:4000"), { ...who(), onProgress: (e) => e.type === "started" && markStarted() });
      await started;
      const closed = w.close({ drainMs: 60_000 });
      const r = (await job) as ImageResult;
      expect(isPng(r.bytes)).toBe(true);
      await closed;
      // Gone now: new requests are refused once the grace has passed.
      await vi.waitFor(async () => expect((await expectRejects(q.submit(memeJob(), who()))).details?.reason).toBe("no-workers"), { timeout: 20_000, interval: 200 });
    } finally {
      await q.close({ drainMs: 0 });
      await w.close({ drainMs: 0 });
    }
  });

  test("a front end that stops tells the worker to stop its running job too (its user was told Mimic is restarting)", async () => {
    const prefix = newPrefix();
    // Its own timeout would stop the job after 10 minutes: only a cancel stops it within the test.
    const w = await worker(prefix, { jobTimeoutMs: 600_000 });
    const q = producer(prefix);
    const watcher = producer(prefix);
    await Promise.all([q.ready(), watcher.ready()]);
    try {
      let markStarted!: () => void;
      const started = new Promise<void>((res) => (markStarted = res));
      const job = q.submit(memeJob("spin:600000"), { ...who(), onProgress: (e) => e.type === "started" && markStarted() });
      const outcome = expectRejects(job);
      await started;
      expect((await watcher.stats()).running).toBe(1);
      await q.close({ drainMs: 0 });
      expect((await outcome).userMessage).toMatch(/restarting/i);
      // The worker stopped computing it: nothing runs any more, and the worker takes the next job.
      await vi.waitFor(async () => expect((await watcher.stats()).running).toBe(0), { timeout: 30_000, interval: 200 });
      expect(isPng(((await watcher.submit(memeJob(), who())) as ImageResult).bytes)).toBe(true);
    } finally {
      await watcher.close({ drainMs: 0 });
      await w.close({ drainMs: 0 });
    }
  });

  test("every state change of a job is logged with its request id, job id and worker id", async () => {
    const prefix = newPrefix();
    const w = await worker(prefix);
    const q = producer(prefix);
    await q.ready();
    try {
      const ids = who();
      await q.submit(memeJob(), ids);
      const lines = calls(debug).filter(([f]) => f.requestId === ids.requestId);
      const queued = lines.find(([, m]) => m === "job queued");
      expect(queued).toBeDefined();
      const job = queued![0].job;
      expect(typeof job).toBe("string");
      for (const msg of ["job queued", "job claimed", "job started", "job done"]) {
        const line = lines.find(([, m]) => m === msg);
        expect(line, msg).toBeDefined();
        expect(line![0].job, msg).toBe(job);
        if (msg !== "job queued") expect(line![0].worker, msg).toBe(w.id);
      }
      // Both sides: the worker's "done" too.
      expect(lines.filter(([, m]) => m === "job done").length).toBe(2);
    } finally {
      await q.close({ drainMs: 0 });
      await w.close({ drainMs: 0 });
    }
  });

  test("a worker killed mid-job: its job still counts as running, the bot says its worker stopped, the next worker says it resumed it", async () => {
    const prefix = newPrefix();
    const victim = await spawnWorker(prefix);
    const q = producer(prefix, { noWorkerGraceMs: Infinity });
    const metrics = createMetrics();
    const observed = observeQueue(q, metrics);
    await q.ready();
    let rescuer: RedisWorkerHandle | undefined;
    try {
      const ids = who();
      let markStarted!: () => void;
      const started = new Promise<void>((res) => (markStarted = res));
      const marker = join(mkdtempSync(join(tmpdir(), "mimic-ops-")), "started");
      dirs.push(join(marker, ".."));
      const job = observed.submit(memeJob(`once:${marker}`), { ...ids, onProgress: (e) => e.type === "started" && markStarted() });
      await started;
      // Killed once its job process has the job (it writes the marker), not between the claim and the hand-over.
      await vi.waitFor(() => expect(existsSync(marker)).toBe(true), { timeout: 30_000, interval: 50 });
      process.kill(-victim.proc.pid!, "SIGKILL");
      // Its heartbeat expires (no worker left), the job's claim stays: still one job running.
      await vi.waitFor(async () => expect((await q.stats()).workers).toBe(0), { timeout: 30_000, interval: 250 });
      expect((await q.stats()).running).toBe(1);
      expect(await metrics.registry.getSingleMetricAsString("mimic_queue_running")).toMatch(/^mimic_queue_running 1$/m);
      await vi.waitFor(() => {
        const gone = calls(warn).find(([f, m]) => f.requestId === ids.requestId && /worker running a job stopped/.test(m));
        expect(gone?.[0].worker).toBe(victim.id);
      }, { timeout: 10_000, interval: 100 });
      rescuer = await worker(prefix);
      expect(isPng(((await job) as ImageResult).bytes)).toBe(true);
      const resumed = calls(warn).find(([f, m]) => f.requestId === ids.requestId && /^job resumed: its previous worker stopped/.test(m));
      expect(resumed?.[0]).toMatchObject({ worker: rescuer.id, previousWorker: victim.id });
    } finally {
      try {
        process.kill(-victim.proc.pid!, "SIGKILL");
      } catch {
        // already gone
      }
      await q.close({ drainMs: 0 });
      await rescuer?.close({ drainMs: 0 });
    }
  });

  test("/metrics: how long the oldest waiting job has waited", async () => {
    const prefix = newPrefix();
    const q = producer(prefix, { noWorkerGraceMs: Infinity });
    const metrics = createMetrics();
    const observed = observeQueue(q, metrics);
    await q.ready();
    try {
      expect(await metrics.registry.getSingleMetricAsString("mimic_queue_oldest_wait_seconds")).toMatch(/^mimic_queue_oldest_wait_seconds 0$/m);
      const job = observed.submit(memeJob(), who());
      job.catch(() => undefined);
      await vi.waitFor(async () => {
        const m = /^mimic_queue_oldest_wait_seconds (\S+)$/m.exec(await metrics.registry.getSingleMetricAsString("mimic_queue_oldest_wait_seconds"));
        expect(Number(m?.[1])).toBeGreaterThan(0);
      }, { timeout: 10_000, interval: 100 });
    } finally {
      await q.close({ drainMs: 0 });
    }
  });

  test("a bot with MIMIC_GENERATOR=liveportrait and only mesh workers warns, naming the mismatch", async () => {
    const prefix = newPrefix();
    const w = await worker(prefix);
    const settings = workerSettings(loadConfig({ MIMIC_GENERATOR: "liveportrait", DATA_DIR: tmpdir() }));
    const q = producer(prefix, { settings });
    try {
      await q.ready();
      await vi.waitFor(() => {
        const line = calls(warn).find(([f]) => f.prefix === prefix && f.MIMIC_GENERATOR === "liveportrait");
        expect(line?.[1]).toContain(`MIMIC_GENERATOR=liveportrait on this bot, but none of the 1 mimic worker(s) for queue prefix "${prefix}" has the LivePortrait generator`);
      }, { timeout: 10_000, interval: 100 });
    } finally {
      await q.close({ drainMs: 0 });
      await w.close({ drainMs: 0 });
    }
  });

  test("a worker with other job settings is warned about once, naming them; a job it cannot read is logged naming it and both versions", async () => {
    const prefix = newPrefix();
    const config = loadConfig({ DATA_DIR: tmpdir() });
    const mine = workerSettings(config);
    const w = await worker(prefix, { settings: { ...mine, limits: { ...mine.limits, maxPixels: mine.limits.maxPixels + 1 } } });
    const q = producer(prefix, { settings: mine });
    try {
      await q.ready();
      await vi.waitFor(() => {
        const skew = calls(warn).filter(([f]) => f.worker === w.id && f.prefix === prefix);
        expect(skew.length).toBe(1);
        expect(skew[0]![1]).toContain(`maxPixels ${mine.limits.maxPixels} here, ${mine.limits.maxPixels + 1} on the worker`);
      }, { timeout: 10_000, interval: 100 });
      // A few more looks at the workers: still one warning.
      await new Promise((r) => setTimeout(r, 2500));
      expect(calls(warn).filter(([f]) => f.worker === w.id && f.prefix === prefix).length).toBe(1);
      // A job with a field this worker does not know (as a newer bot would send).
      const ids = who();
      const e = await expectRejects(q.submit({ ...memeJob(), fromTheFuture: true } as unknown as Job, ids));
      expect((e as MimicError).code).toBe("INTERNAL");
      const line = calls(warn).find(([f]) => f.requestId === ids.requestId && f.worker === w.id);
      expect(line?.[1]).toMatch(new RegExp(`^mimic worker ${w.id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(Mimic \\S+\\) could not read a job sent by Mimic \\S+: malformed job`));
      expect(line?.[0]).toMatchObject({ field: "", jobVersion: expect.any(String), workerVersion: expect.any(String) });
    } finally {
      await q.close({ drainMs: 0 });
      await w.close({ drainMs: 0 });
    }
  });

  test("front ends sharing a queue prefix but not a store warn about it", async () => {
    const prefix = newPrefix();
    const apps: Awaited<ReturnType<typeof createApp>>[] = [];
    try {
      for (const i of [1, 2]) {
        const dir = mkdtempSync(join(tmpdir(), `mimic-ops-store${i}-`));
        dirs.push(dir);
        apps.push(await createApp(loadConfig({ LOG_LEVEL: "silent", DATA_DIR: dir, QUEUE_URL: REDIS, QUEUE_PREFIX: prefix }), { handlers: TEST_HANDLERS }));
      }
      // The second one sees the first's store at its start; the first sees the second's at its next look.
      await vi.waitFor(() => {
        const line = calls(warn).find(([f]) => f.prefix === prefix && f.otherStore !== undefined);
        expect(line?.[1]).toContain(`another Mimic front end on queue prefix "${prefix}" (QUEUE_PREFIX) uses a different store`);
        const [one, two] = apps.map((a) => a.store.description);
        // Each names its own store and the other's.
        expect([String(line![0].store), String(line![0].otherStore)].map((x) => x.startsWith(`${one!} `) || x.startsWith(`${two!} `))).toEqual([true, true]);
        expect(line![0].store).not.toBe(line![0].otherStore);
      }, { timeout: 30_000, interval: 200 });
    } finally {
      for (const a of apps) await a.close({ drainMs: 0 });
    }
  });
});
