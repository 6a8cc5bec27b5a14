/**
 * The distributed queue against a real Redis (TEST_REDIS_URL; CI sets redis://127.0.0.1:6379), with
 * real `mimic worker` child processes. Every test uses its own key prefix.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import type { MimicError } from "../../src/errors.ts";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import type { ImageResult, InferenceQueue, ProgressEvent } from "../../src/queue/jobs.ts";
import { createRedisQueue, startRedisWorker, type RedisQueueOptions, type RedisWorkerHandle } from "../../src/queue/redis.ts";
import { FairScheduler, STRICT_OFFSETS } from "../../src/queue/fair-scheduler.ts";
import { createMetrics, observeQueue } from "../../src/ops/index.ts";
import { CLAIM, ENQUEUE } from "../../src/queue/redis-scripts.ts";
import { classOffsetMs } from "../../src/queue/policy.ts";
import { PRIOR_SERVICE_MS } from "../../src/queue/service-times.ts";
import { TEST_HANDLERS, expectRejects, isPng, memeJob, recorder, redisQueueOptions, spawnMimicWorker, type WorkerChild } from "./helpers.ts";

const REDIS = process.env.TEST_REDIS_URL;
const GATED = new URL("../bots/gated-handlers.ts", import.meta.url);
if (!REDIS) console.warn("test/queue/redis.test.ts skipped: set TEST_REDIS_URL=redis://127.0.0.1:6379 to run the distributed queue tests");

const prefixes: string[] = [];
const newPrefix = () => {
  const p = `mimictest:${randomUUID().slice(0, 8)}`;
  prefixes.push(p);
  return p;
};

function producer(prefix: string, over: Partial<RedisQueueOptions> = {}) {
  return createRedisQueue({ ...redisQueueOptions(REDIS!, prefix), ...over });
}

/** For tests that queue jobs before any worker starts: without it they are refused as "no worker is running". */
const BEFORE_WORKERS = { noWorkerGraceMs: Infinity };

type Child = WorkerChild;
const spawnWorker = (prefix: string, args: string[] = [], env: Record<string, string> = {}): Promise<Child> => spawnMimicWorker(REDIS!, prefix, { args, env });

/** Direct children of a process, from /proc (its job processes, for a `mimic worker`). */
function childPids(parent: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(readFileSync(`/proc/${d}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[1]) === parent;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

function isRunning(pid: number): boolean {
  try {
    // A zombie (exited, not yet reaped) is not running.
    return !/^\S+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

let n = 0;
const who = (serverId = "s1", userId = `u${++n}`) => ({ requestId: `r${n}`, userId, serverId });

/** The enqueue and claim scripts on a connection of their own, called directly (no queue code in between). */
function luaScripts() {
  const r = new Redis(REDIS!);
  r.defineCommand("enq", { numberOfKeys: 0, lua: ENQUEUE });
  r.defineCommand("claim", { numberOfKeys: 0, lua: CLAIM });
  return { r, call: r as unknown as Record<"enq" | "claim", (...a: (string | number)[]) => Promise<unknown>> };
}

/** Claims until the queue under `prefix` is empty (at most 41 tickets): the ids in claim order. */
async function claimAll(call: ReturnType<typeof luaScripts>["call"], prefix: string): Promise<string[]> {
  const claimed: string[] = [];
  for (let t = 0; t < 41; t++) {
    const id = (await call.claim(prefix, `t${t}`, 60)) as string | null;
    if (!id) break;
    claimed.push(id);
  }
  return claimed;
}

/** A repeatable sequence of whole numbers below n. */
function seededRandom(seed: number): (n: number) => number {
  return (n) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
}

describe.skipIf(!REDIS)("redis queue with two `mimic worker` processes", () => {
  const prefix = newPrefix();
  let workers: Child[] = [];
  let q: InferenceQueue & { ready(): Promise<void> };

  beforeAll(async () => {
    workers = await Promise.all([spawnWorker(prefix), spawnWorker(prefix)]);
    q = producer(prefix);
    await q.ready();
  });
  afterAll(async () => {
    await q?.close({ drainMs: 0 });
    for (const w of workers) w.proc.kill("SIGKILL");
  });

  test("a meme job runs in a worker process; progress and result come back", async () => {
    const rec = recorder();
    const r = (await q.submit(memeJob(undefined, "pid"), { ...who(), ...rec })) as ImageResult & { pid: number };
    expect(isPng(r.bytes)).toBe(true);
    expect(workers.map((w) => w.pid)).toContain(r.pid);
    // The first place is read after the job is in the queue; a worker that claims it sooner makes "queued" moot.
    const types = rec.events.map((e) => e.type);
    expect(types.filter((t) => t !== "queued")).toEqual(["started", "done"]);
    expect(types.lastIndexOf("queued")).toBeLessThanOrEqual(0);
    if (types[0] === "queued") expect(rec.events[0]).toMatchObject({ type: "queued", position: 1 });
    const s = await q.stats();
    expect(s).toMatchObject({ mode: "redis", workers: 2, waiting: 0 });
    expect(s.serviceMs.meme).toBeGreaterThan(0);
  });

  test("pipeline errors cross the process border with code and user message", async () => {
    const e = await expectRejects(q.submit(memeJob("fail"), who()));
    expect(e.code).toBe("NO_FACE");
    expect(e.userMessage).toBe("No face found in that picture.");
  });

  test("cancelling a job running in another process stops it there; the worker stays usable", async () => {
    const ac = new AbortController();
    const p = q.submit(memeJob("deaf:600000"), { ...who(), signal: ac.signal, onProgress: (e) => e.type === "started" && ac.abort() });
    expect((await expectRejects(p)).code).toBe("CANCELLED");
    // Both workers (one of which had the cancelled job) answer: were one still burning its 10-minute job,
    // the second of these could not finish within the test's time limit.
    const results = await Promise.all([q.submit(memeJob("spin:300"), who()), q.submit(memeJob("spin:300"), who())]);
    expect(results).toHaveLength(2);
  });

  test("a job cancelled while it runs leaves no result in Redis once its worker has answered", async () => {
    const events = new Redis(REDIS!);
    const answered = new Promise<string>((resolve) => {
      events.on("message", (_c: string, m: string) => {
        const ev = JSON.parse(m) as { id: string; type: string };
        if (ev.type !== "started") resolve(ev.id);
      });
    });
    await events.subscribe(`${prefix}:events`);
    const ac = new AbortController();
    const p = q.submit(memeJob("spin:2000"), { ...who(), signal: ac.signal, onProgress: (e) => e.type === "started" && ac.abort() });
    expect((await expectRejects(p)).code).toBe("CANCELLED");
    const id = await answered;
    const left = new Redis(REDIS!);
    // The worker wrote its answer; the producer that cancelled deletes it rather than leaving it for QUEUE_RESULT_TTL_S.
    await vi.waitFor(async () => expect(await left.exists(`${prefix}:res:${id}`)).toBe(0), { timeout: 10_000, interval: 50 });
    events.disconnect();
    left.disconnect();
  });

  test("a worker killed (SIGKILL) mid-job: the job completes on the other worker", async () => {
    let markStarted!: (worker: string | undefined) => void;
    const started = new Promise<string | undefined>((res) => (markStarted = res));
    // The first run spins until killed (2 minutes), a rerun finishes at once: no race with the kill.
    const marker = join(mkdtempSync(join(tmpdir(), "mimic-queue-")), "started");
    const job = q.submit(memeJob(`once:${marker}`, "pid"), {
      ...who(),
      onProgress: (e: ProgressEvent) => e.type === "started" && markStarted(e.worker),
    });
    const startedOn = await started;
    const victim = workers.find((w) => w.id === startedOn)!;
    const survivor = workers.find((w) => w !== victim)!;
    expect(victim).toBeDefined();
    // Killed once the handler is inside the job (it wrote its marker), so the job is really mid-run.
    await vi.waitFor(() => expect(existsSync(marker)).toBe(true), { timeout: 60_000, interval: 20 });
    victim.proc.kill("SIGKILL");
    const r = (await job) as ImageResult & { pid: number };
    expect(r.pid).toBe(survivor.pid);
    expect(isPng(r.bytes)).toBe(true);
  });
});

describe.skipIf(!REDIS)("redis worker shutdown", () => {
  test("SIGTERM: a worker stops taking work, hands its running job back and exits; another finishes it", async () => {
    const prefix = newPrefix();
    const marker = join(mkdtempSync(join(tmpdir(), "mimic-queue-")), "started");
    // The quitter gives running jobs 200 ms to finish when told to stop; its lock lasts 10 minutes, so
    // only an explicit hand-back (not stalled-job recovery) gets the job finished within the test's time limit.
    const quitter = await spawnWorker(prefix, ["--drain-ms", "200"], { QUEUE_STALL_MS: "600000" });
    const q = producer(prefix);
    await q.ready();
    try {
      let markStarted!: (worker: string | undefined) => void;
      const started = new Promise<string | undefined>((res) => (markStarted = res));
      const job = q.submit(memeJob(`once:${marker}`, "pid"), { ...who(), onProgress: (e) => e.type === "started" && markStarted(e.worker) });
      expect(await started).toBe(quitter.id);
      const rescuer = await spawnWorker(prefix);
      try {
        const exited = new Promise<number | null>((res) => quitter.proc.once("exit", res));
        quitter.proc.kill("SIGTERM");
        expect(await exited).toBe(0);
        const r = (await job) as ImageResult & { pid: number };
        expect(r.pid).toBe(rescuer.pid);
      } finally {
        rescuer.proc.kill("SIGKILL");
      }
    } finally {
      quitter.proc.kill("SIGKILL");
      await q.close({ drainMs: 0 });
    }
  });
});

describe.skipIf(!REDIS)("redis worker shutdown, told twice", () => {
  test("a second SIGTERM stops a worker at once, without waiting out the drain of a long job", async () => {
    const prefix = newPrefix();
    // The drain would wait up to 10 minutes for the running job: only the second signal can end it in time.
    const worker = await spawnWorker(prefix, ["--drain-ms", "600000"], { QUEUE_STALL_MS: "600000" });
    const q = producer(prefix);
    await q.ready();
    try {
      let markStarted!: () => void;
      const started = new Promise<void>((res) => (markStarted = res));
      const job = q.submit(memeJob("spin:600000"), { ...who(), onProgress: (e) => e.type === "started" && markStarted() });
      job.catch(() => undefined);
      await started;
      // The job process, busy in a synchronous loop: it must not run on as an orphan.
      const jobProcesses = childPids(worker.pid);
      expect(jobProcesses.length).toBeGreaterThan(0);
      let err = "";
      worker.proc.stderr!.on("data", (d) => (err += d));
      const exited = new Promise<number | null>((res) => worker.proc.once("exit", res));
      worker.proc.kill("SIGTERM");
      // Still draining the job (the first signal's handler has run by then).
      await new Promise((r) => setTimeout(r, 1_500));
      expect(worker.proc.exitCode).toBeNull();
      worker.proc.kill("SIGTERM");
      expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r("still running"), 30_000))])).toBe(143);
      expect(err).toContain("mimic: SIGTERM again, so the worker stops now without waiting for the work in progress.");
      await vi.waitFor(() => expect(jobProcesses.filter(isRunning)).toEqual([]), { timeout: 10_000, interval: 100 });
    } finally {
      worker.proc.kill("SIGKILL");
      await q.close({ drainMs: 0 });
    }
  });
});

describe.skipIf(!REDIS)("redis queue: every caller is answered", () => {
  test("the only worker killed mid-job: the caller hears TIMEOUT, the user's slot is freed, a new worker serves the next job", async () => {
    const prefix = newPrefix();
    const victim = await spawnWorker(prefix);
    // jobTimeoutMs 1 s: the producer gives a running job 3 s (its worker's timeout, a resume, and that one's).
    const q = producer(prefix, { jobTimeoutMs: 1000 });
    await q.ready();
    try {
      const marker = join(mkdtempSync(join(tmpdir(), "mimic-queue-")), "started");
      // The first run spins until killed; no other worker is there to resume it.
      const outcome = q.submit(memeJob(`once:${marker}`), who("s1", "solo")).then(() => undefined, (e: MimicError) => e);
      await vi.waitFor(() => expect(existsSync(marker)).toBe(true), { timeout: 60_000, interval: 20 });
      victim.proc.kill("SIGKILL");
      const e = await outcome;
      expect(e?.code).toBe("TIMEOUT");
      expect(e?.userMessage).toMatch(/took too long \(the worker making it may have stopped\)/);
      // Not "You already have a request in progress": the slot went with the job.
      const rescuer = await spawnWorker(prefix);
      try {
        expect(isPng(((await q.submit(memeJob(), who("s1", "solo"))) as ImageResult).bytes)).toBe(true);
      } finally {
        rescuer.proc.kill("SIGKILL");
      }
    } finally {
      victim.proc.kill("SIGKILL");
      await q.close({ drainMs: 0 });
    }
  }, 120_000);

  test("Redis loses a waiting job (restarted without its data): the caller is told at once, not after the wait limit", async () => {
    const prefix = newPrefix();
    const redis = new Redis(REDIS!);
    const raw = producer(prefix, { maxWaitMs: 600_000, ...BEFORE_WORKERS });
    const metrics = createMetrics();
    const q = observeQueue(raw, metrics);
    await raw.ready();
    try {
      let markQueued!: () => void;
      const queued = new Promise<void>((res) => (markQueued = res));
      const outcome = q.submit(memeJob(), { ...who("s1", "lost"), onProgress: (e) => e.type === "queued" && markQueued() }).then(() => undefined, (e: MimicError) => e);
      await queued;
      // What a restart without persistence does to this deployment's keys (other prefixes on this Redis are left alone).
      await redis.del(...(await redis.keys(`${prefix}:*`)));
      const e = await outcome;
      expect(e?.code).toBe("BUSY");
      expect(e?.userMessage).toBe("Mimic's job queue restarted and lost your request. Please send it again.");
      // Its own reason: "queue_full" would send the owner adding workers.
      expect(await metrics.registry.metrics()).toMatch(/^mimic_refusals_total\{reason="queue_lost"\} 1$/m);
    } finally {
      await q.close({ drainMs: 0 });
      await redis.quit();
    }
  }, 60_000);
});

describe.skipIf(!REDIS)("redis queue rules across processes", () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS!);
  });
  afterAll(async () => {
    for (const p of prefixes) {
      const keys = await redis.keys(`${p}:*`);
      if (keys.length) await redis.del(...keys);
    }
    await redis.quit();
  });

  test("per-user limit and capacity are shared by every bot process", async () => {
    const prefix = newPrefix();
    const a = producer(prefix, { capacity: 3, ...BEFORE_WORKERS });
    const b = producer(prefix, { capacity: 3, ...BEFORE_WORKERS });
    await Promise.all([a.ready(), b.ready()]);
    /** Submits and resolves once the job is in Redis (its "queued" event), so the order below is certain. */
    const enqueue = (queue: InferenceQueue, userId: string, serverId: string) => {
      let done!: Promise<unknown>;
      const queued = new Promise<void>((res) => {
        done = queue.submit(memeJob(), { ...who(serverId, userId), onProgress: (e) => e.type === "queued" && res() }).catch((e) => e);
      });
      return queued.then(() => ({ done }));
    };
    const held = [await enqueue(a, "alice", "s1"), await enqueue(a, "bob", "s1")];
    const userRefusal = await expectRejects(b.submit(memeJob(), who("s2", "alice")));
    expect(userRefusal.code).toBe("BUSY");
    expect(userRefusal.details).toMatchObject({ reason: "user" });
    held.push(await enqueue(b, "carol", "s2"));
    const full = await expectRejects(b.submit(memeJob(), who("s2", "dave")));
    expect(full.code).toBe("BUSY");
    expect(full.details).toMatchObject({ reason: "capacity" });
    expect(full.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // Nobody consumes in this test: closing gives the waiting jobs back (and frees the users).
    await Promise.all([a.close({ drainMs: 0 }), b.close({ drainMs: 0 })]);
    for (const e of await Promise.all(held.map((h) => h.done))) expect((e as MimicError).details).toMatchObject({ reason: "shutdown" });
    expect(Number(await redis.get(`${prefix}:waiting`))).toBe(0);
    expect(await redis.zcard(`${prefix}:user:alice`)).toBe(0);
  });

  test("another process takes a dead producer's job out (abandon): a waiting one leaves the queue, a running one is stopped; its user may send again", async () => {
    const prefix = newPrefix();
    const dead = producer(prefix, BEFORE_WORKERS);
    const other = producer(prefix, BEFORE_WORKERS);
    await Promise.all([dead.ready(), other.ready()]);
    const queued = (queue: InferenceQueue, opts: Parameters<InferenceQueue["submit"]>[1], top?: string) => {
      let done!: Promise<unknown>;
      const inRedis = new Promise<void>((res) => {
        done = queue.submit(memeJob(top), { ...opts, onProgress: (e) => (e.type === "queued" && res(), opts.onProgress?.(e)) }).catch((e) => e);
      });
      return inRedis.then(() => ({ done }));
    };
    // Waiting: nobody works yet.
    const lostWaiting = await queued(dead, { ...who("s1", "alice"), jobId: "lost-waiting" });
    expect((await expectRejects(other.submit(memeJob(), who("s2", "alice")))).details).toMatchObject({ reason: "user" });
    await other.abandon!("lost-waiting");
    expect(Number(await redis.get(`${prefix}:waiting`))).toBe(0);
    expect(await redis.zcard(`${prefix}:user:alice`)).toBe(0);
    const resent = await queued(other, who("s2", "alice"));
    // Running: a worker has it, spinning until stopped.
    let started!: () => void;
    const running = new Promise<void>((res) => (started = res));
    const lostRunning = queued(dead, { ...who("s1", "bob"), jobId: "lost-running", onProgress: (e) => e.type === "started" && started() }, "spin:120000");
    const worker: RedisWorkerHandle = await startRedisWorker({
      url: REDIS!, prefix, workers: 1, capacity: 50, perUserLimit: 1, jobTimeoutMs: 600_000, cheapFirst: false,
      handlersUrl: TEST_HANDLERS, resultTtlSeconds: 60, stallMs: 2000,
    });
    try {
      await resent.done;
      await running;
      await other.abandon!("lost-running");
      expect(await redis.zcard(`${prefix}:user:bob`)).toBe(0);
      // The worker stopped it (its slot is free for the next job), long before its 120 s spin.
      expect(await other.submit(memeJob(), who("s2", "bob"))).toMatchObject({ kind: "meme" });
    } finally {
      await worker.close({ drainMs: 1000 });
      await Promise.all([dead.close({ drainMs: 0 }), other.close({ drainMs: 0 })]);
    }
    await Promise.all([lostWaiting.done, lostRunning.then((l) => l.done)]);
  });

  test("fairness and priorities hold in Redis: a busy server does not starve a quiet one", async () => {
    const prefix = newPrefix();
    const a = producer(prefix, { cheapFirst: true, ...BEFORE_WORKERS });
    await a.ready();
    const started: string[] = [];
    const track = (tag: string, serverId: string) => ({ ...who(serverId), onProgress: (e: ProgressEvent) => e.type === "started" && started.push(tag) });
    const all: Promise<unknown>[] = [];
    all.push(a.submit({ ...memeJob(), kind: "animated", animation: "morph" }, track("animated", "quiet")));
    for (let i = 0; i < 5; i++) all.push(a.submit(memeJob("spin:5"), track(`busy${i}`, "busy")));
    for (let i = 0; i < 2; i++) all.push(a.submit(memeJob("spin:5"), track(`quiet${i}`, "quiet")));
    // A cancelled waiting job leaves the lane without disturbing the order.
    const ac = new AbortController();
    const gone = a.submit(memeJob(), { ...who("busy"), signal: ac.signal });
    ac.abort();
    expect((await expectRejects(gone)).code).toBe("CANCELLED");
    // Only now does a worker (in this process, one thread) start consuming.
    const worker: RedisWorkerHandle = await startRedisWorker({
      url: REDIS!, prefix, workers: 1, capacity: 50, perUserLimit: 1, jobTimeoutMs: 10_000, cheapFirst: true,
      handlersUrl: TEST_HANDLERS, resultTtlSeconds: 60, stallMs: 2000,
    });
    await Promise.all(all);
    await worker.close({ drainMs: 1000 });
    await a.close({ drainMs: 0 });
    expect(started.slice(0, 4)).toEqual(["busy0", "quiet0", "busy1", "quiet1"]);
    expect(started.at(-1)).toBe("animated");
    expect(started).toHaveLength(8);
  });

  test("deficit round-robin in Redis weighs jobs by cost: an expensive lane waits its turns", async () => {
    const prefix = newPrefix();
    const a = producer(prefix, BEFORE_WORKERS);
    await a.ready();
    const started: string[] = [];
    const track = (tag: string, serverId: string) => ({ ...who(serverId), onProgress: (e: ProgressEvent) => e.type === "started" && started.push(tag) });
    const all: Promise<unknown>[] = [];
    // Priors: an animation costs ~10× a meme (1500 vs 150 ms) until workers measure otherwise.
    for (let i = 0; i < 2; i++) all.push(a.submit({ ...memeJob(), kind: "animated", animation: "morph" }, track(`gif${i}`, "gifs")));
    for (let i = 0; i < 12; i++) all.push(a.submit(memeJob(), track(`png${i}`, "pngs")));
    const worker = await startRedisWorker({
      url: REDIS!, prefix, workers: 1, capacity: 50, perUserLimit: 1, jobTimeoutMs: 10_000, cheapFirst: false,
      handlersUrl: TEST_HANDLERS, resultTtlSeconds: 60, stallMs: 2000,
    });
    await Promise.all(all);
    await worker.close({ drainMs: 1000 });
    await a.close({ drainMs: 0 });
    // The GIF lane gains one quantum per turn and needs ten for its first job; the PNG lane spends one per meme.
    const firstGif = started.indexOf("gif0");
    expect(firstGif).toBeGreaterThanOrEqual(8);
    expect(started.slice(0, firstGif).every((t) => t.startsWith("png"))).toBe(true);
    expect(started).toHaveLength(14);
  });

  test("the Lua claim picks exactly the order FairScheduler predicts (random lanes, costs, priorities)", async () => {
    const prefix = newPrefix();
    const { r, call } = luaScripts();
    const rand = seededRandom(7);
    for (let round = 0; round < 12; round++) {
      const sched = new FairScheduler<string>();
      const P = `${prefix}:${round}`;
      for (let i = 0; i < 40; i++) {
        const lane = `s${rand(2 + (round % 6))}`;
        const priority = rand(3) === 0 ? 1 : 0;
        const cost = round % 2 === 0 ? 1 + rand(3) * rand(6) : 3 + rand(25);
        const id = `j${i}`;
        sched.push({ lane, priority, cost, item: id });
        await call.enq(P, id, lane, priority, cost, `u${i}`, 1000, 10, "x", 600, "meme", Date.now(), 60_000, id, STRICT_OFFSETS(priority), 0, "");
      }
      const expected = sched.order().map((e) => e.item);
      const claimed = await claimAll(call, P);
      expect(claimed).toEqual(expected);
    }
    await r.quit();
  });

  test("queued positions move along as the shared queue drains", async () => {
    const prefix = newPrefix();
    const a = producer(prefix, BEFORE_WORKERS);
    await a.ready();
    const recs = [recorder(), recorder(), recorder()];
    const jobs: Promise<unknown>[] = [];
    for (const rec of recs) {
      const queued = new Promise<void>((res) => {
        jobs.push(a.submit(memeJob("spin:900"), { ...who(), onProgress: (e) => (rec.onProgress(e), e.type === "queued" && res()) }));
      });
      await queued;
    }
    const worker = await startRedisWorker({
      url: REDIS!, prefix, workers: 1, capacity: 50, perUserLimit: 1, jobTimeoutMs: 10_000, cheapFirst: false,
      handlersUrl: TEST_HANDLERS, resultTtlSeconds: 60, stallMs: 2000,
    });
    await Promise.all(jobs);
    await worker.close({ drainMs: 1000 });
    await a.close({ drainMs: 0 });
    const positions = recs[2].events.filter((e) => e.type === "queued").map((e) => (e as { position: number }).position);
    expect(positions[0]).toBe(3);
    expect(positions.length).toBeGreaterThan(1);
    for (let i = 1; i < positions.length; i++) expect(positions[i]).toBeLessThan(positions[i - 1]);
    expect(recs[2].events.slice(-2).map((e) => e.type)).toEqual(["started", "done"]);
  });

  test("ageing in Redis: the Lua claim picks the order FairScheduler predicts with cheap-first offsets and arrival times", async () => {
    const prefix = newPrefix();
    const { r, call } = luaScripts();
    const rand = seededRandom(11);
    const base = Date.now();
    const offset = (p: number) => classOffsetMs(p, true);
    for (let round = 0; round < 8; round++) {
      const sched = new FairScheduler<string>(offset);
      const P = `${prefix}:${round}`;
      let at = base;
      for (let i = 0; i < 40; i++) {
        const lane = `s${rand(1 + (round % 4))}`;
        const priority = rand(3);
        const cost = 1 + rand(4) * rand(5);
        at += rand(800);
        const id = `j${i}`;
        sched.push({ lane, priority, cost, at, item: id });
        await call.enq(P, id, lane, priority, cost, `u${i}`, 1000, 10, "x", 600, "meme", at, 60_000, id, offset(priority), 100, "");
      }
      const expected = sched.order().map((e) => e.item);
      const claimed = await claimAll(call, P);
      expect(claimed).toEqual(expected);
      // Ageing shows: some animation (class 2) goes ahead of a meme (class 0) that arrived later.
      if (round === 0) {
        const kindOf = new Map(sched.order().map((e) => [e.item, e.priority]));
        expect(claimed.some((id, i) => kindOf.get(id) === 2 && claimed.slice(i + 1).some((later) => kindOf.get(later) === 0))).toBe(true);
      }
    }
    await r.quit();
  });

  test("a worker with two processes never runs animations on both: a meme starts at once beside them", async () => {
    const prefix = newPrefix();
    const a = producer(prefix, { cheapFirst: true, perUserLimit: 4, ...BEFORE_WORKERS });
    await a.ready();
    const worker = await startRedisWorker({
      url: REDIS!, prefix, workers: 2, capacity: 50, perUserLimit: 4, jobTimeoutMs: 30_000, cheapFirst: true,
      handlersUrl: TEST_HANDLERS, resultTtlSeconds: 60, stallMs: 5000,
    });
    try {
      const started: string[] = [];
      const track = (tag: string, signal?: AbortSignal) => ({ ...who(), signal, onProgress: (e: ProgressEvent) => e.type === "started" && started.push(tag) });
      const anim = { ...memeJob("spin:60000"), kind: "animated" as const, animation: "morph" as const };
      const stop1 = new AbortController();
      const stop2 = new AbortController();
      const a1 = expectRejects(a.submit(anim, track("a1", stop1.signal)));
      await vi.waitFor(() => expect(started).toEqual(["a1"]), { timeout: 20_000 });
      const a2 = expectRejects(a.submit(anim, track("a2", stop2.signal)));
      // The second animation waits; memes sent after it run, one after the other, on the process kept for them.
      await a.submit(memeJob("spin:5"), track("m1"));
      await a.submit(memeJob("spin:5"), track("m2"));
      expect(started).toEqual(["a1", "m1", "m2"]);
      stop1.abort();
      await vi.waitFor(() => expect(started).toEqual(["a1", "m1", "m2", "a2"]), { timeout: 20_000 });
      stop2.abort();
      for (const e of await Promise.all([a1, a2])) expect(e.code).toBe("CANCELLED");
    } finally {
      await worker.close({ drainMs: 0 });
      await a.close({ drainMs: 0 });
    }
  });

  test("ETAs count each worker's own limit on animations: two workers of one process each may both run one", async () => {
    const prefix = newPrefix();
    const gates = mkdtempSync(join(tmpdir(), "mimic-gates-"));
    const saved = process.env.MIMIC_TEST_GATE_DIR;
    // The worker processes inherit the gate directory (test/bots/gated-handlers.ts): each job waits for its gate.
    process.env.MIMIC_TEST_GATE_DIR = gates;
    const a = producer(prefix, { cheapFirst: true, perUserLimit: 4, ...BEFORE_WORKERS });
    const start = () => startRedisWorker({
      url: REDIS!, prefix, workers: 1, capacity: 50, perUserLimit: 4, jobTimeoutMs: 30_000, cheapFirst: true,
      handlersUrl: GATED, resultTtlSeconds: 60, stallMs: 5000,
    });
    const ws = await Promise.all([start(), start()]);
    const jobs: Promise<unknown>[] = [];
    try {
      await a.ready();
      const started: string[] = [];
      const anim = (gate: string, rec?: ReturnType<typeof recorder>) => {
        jobs.push(a.submit({ ...memeJob(`gate:${gate}`), kind: "animated", animation: "morph" }, {
          ...who(), onProgress: (e: ProgressEvent) => (rec?.onProgress(e), e.type === "started" && started.push(gate)),
        }));
      };
      // One animation runs on each worker: neither has a second process to keep for cheap jobs.
      anim("b1");
      anim("b2");
      await vi.waitFor(() => expect(started.sort()).toEqual(["b1", "b2"]), { timeout: 20_000 });
      const first = recorder();
      anim("a1", first);
      await vi.waitFor(() => expect(first.events.some((e) => e.type === "queued")).toBe(true), { timeout: 20_000 });
      const rec = recorder();
      anim("a2", rec);
      await vi.waitFor(() => expect(rec.events.some((e) => e.type === "queued")).toBe(true), { timeout: 20_000 });
      // Behind one animation (3 s by the prior), which either worker may take: half of it, not all of it
      // (taking both workers' two processes as one worker's, one of them kept for memes, would say 3 s).
      expect(rec.events[0]).toEqual({ type: "queued", position: 2, etaSeconds: Math.ceil(PRIOR_SERVICE_MS.animated / 2 / 1000) });
      expect(started.sort()).toEqual(["b1", "b2"]);
    } finally {
      for (const g of ["b1", "b2", "a1", "a2"]) writeFileSync(join(gates, `${g}.open`), "");
      await Promise.allSettled(jobs);
      await Promise.all(ws.map((w) => w.close({ drainMs: 1000 })));
      await a.close({ drainMs: 0 });
      if (saved === undefined) delete process.env.MIMIC_TEST_GATE_DIR;
      else process.env.MIMIC_TEST_GATE_DIR = saved;
      rmSync(gates, { recursive: true, force: true });
    }
  });

  test("oversized payloads are refused before they reach Redis", async () => {
    const prefix = newPrefix();
    const a = producer(prefix, { maxPayloadBytes: 1024 });
    await a.ready();
    const e = await expectRejects(a.submit(memeJob(), who()));
    expect(e.code).toBe("IMAGE_TOO_LARGE");
    expect(e.userMessage).toMatch(/too large/);
    await a.close({ drainMs: 0 });
  });
});
