import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type { ImageResult, InferenceQueue, Job, ProgressEvent } from "../../src/queue/jobs.ts";
import { createLocalQueue, type QueueOptions } from "../../src/queue/local.ts";
import { WorkerPool } from "../../src/queue/pool.ts";
import { ONE_THREAD, TEST_HANDLERS, expectRejects, isPng, memeJob, recorder } from "./helpers.ts";

let queue: (InferenceQueue & { ready(): Promise<void> }) | undefined;
afterEach(async () => {
  await queue?.close({ drainMs: 0 });
  queue = undefined;
});

async function make(over: Partial<QueueOptions> = {}) {
  queue = createLocalQueue({
    workers: 1,
    capacity: 20,
    perUserLimit: 1,
    jobTimeoutMs: 10_000,
    cheapFirst: false,
    handlersUrl: TEST_HANDLERS,
    cancelGraceMs: 100,
    ...over,
  });
  await queue.ready();
  return queue;
}

let n = 0;
const who = (serverId: string | null = "s1", userId = `u${++n}`) => ({ requestId: `r${n}`, userId, serverId });

describe("local queue (worker threads)", () => {
  test("runs a meme job in a worker thread and reports started/done", async () => {
    const q = await make({ workers: 2 });
    const rec = recorder();
    const job = memeJob();
    const inputBytes = (job.reaction as { bytes: Uint8Array }).bytes;
    const r = (await q.submit(job, { ...who(), ...rec })) as ImageResult;
    expect(r.kind).toBe("meme");
    expect(isPng(r.bytes)).toBe(true);
    expect([r.width, r.height]).toEqual([256, 256]);
    // The input was copied to the worker process: the caller keeps its bytes.
    expect(inputBytes.byteLength).toBeGreaterThan(0);
    expect(rec.events.map((e) => e.type)).toEqual(["started", "done"]);
    const s = await q.stats();
    expect(s).toMatchObject({ mode: "local", completed: 1, failed: 0, waiting: 0, running: 0, workers: 2 });
  });

  test("a progress callback that throws does not kill the job, nor the events after it", async () => {
    const q = await make();
    const seen: string[] = [];
    const r = (await q.submit(memeJob("spin:50"), {
      ...who(),
      onProgress: (e) => {
        seen.push(e.type);
        throw new Error(`adapter bug on ${e.type}`);
      },
    })) as ImageResult;
    expect(r.kind).toBe("meme");
    expect(isPng(r.bytes)).toBe(true);
    expect(seen).toEqual(["started", "done"]);
    expect(await q.stats()).toMatchObject({ completed: 1, failed: 0 });
  });

  test("pipeline errors reach the caller with their code and user message", async () => {
    const q = await make();
    const rec = recorder();
    const e = await expectRejects(q.submit(memeJob("fail"), { ...who(), ...rec }));
    expect(e.code).toBe("NO_FACE");
    expect(e.userMessage).toBe("No face found in that picture.");
    expect(rec.events.at(-1)).toEqual({ type: "failed", message: "No face found in that picture." });
  });

  test("a crashing worker thread fails its job with INTERNAL and is replaced", async () => {
    const q = await make();
    const e = await expectRejects(q.submit(memeJob("crash"), who()));
    expect(e.code).toBe("INTERNAL");
    expect(e.userMessage).toMatch(/went wrong/);
    await expect(q.submit(memeJob(), who())).resolves.toMatchObject({ kind: "meme" });
  });

  test("capacity: refuses with BUSY and a retry hint from measured service times", async () => {
    const q = await make({ capacity: 2 });
    const running = q.submit(memeJob("spin:600"), who());
    const waiting = [q.submit(memeJob("spin:10"), who()), q.submit(memeJob("spin:10"), who())];
    const e = await expectRejects(q.submit(memeJob(), who()));
    expect(e.code).toBe("BUSY");
    expect(e.details).toMatchObject({ reason: "capacity" });
    expect(e.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(e.userMessage).toMatch(/busy.*try again in ~\d+ s/i);
    await Promise.all([running, ...waiting]);
    expect((await q.stats()).rejected).toBe(1);
  });

  test("per-user limit: one job in flight per user by default, configurable", async () => {
    const q = await make();
    const first = q.submit(memeJob("spin:200"), who("s1", "alice"));
    const e = await expectRejects(q.submit(memeJob(), who("s1", "alice")));
    expect(e.code).toBe("BUSY");
    expect(e.details).toMatchObject({ reason: "user", limit: 1 });
    expect(e.userMessage).toMatch(/already have a request in progress/);
    await first;
    // Once it finished, the same user may submit again.
    await expect(q.submit(memeJob(), who("s1", "alice"))).resolves.toMatchObject({ kind: "meme" });
    await q.close();
    const q2 = await make({ perUserLimit: 2 });
    const a = q2.submit(memeJob("spin:100"), who("s1", "bob"));
    const b = q2.submit(memeJob("spin:100"), who("s1", "bob"));
    await expect(Promise.all([a, b])).resolves.toHaveLength(2);
    const c = q2.submit(memeJob("spin:100"), who("s1", "bob"));
    const d = q2.submit(memeJob("spin:100"), who("s1", "bob"));
    expect((await expectRejects(q2.submit(memeJob(), who("s1", "bob")))).details).toMatchObject({ reason: "user", limit: 2 });
    await Promise.all([c, d]);
  });

  test("fairness: a busy server does not starve another", async () => {
    const q = await make();
    const started: string[] = [];
    const onStart = (tag: string) => (e: ProgressEvent) => e.type === "started" && started.push(tag);
    const blocker = q.submit(memeJob("spin:300"), { ...who("busy"), onProgress: onStart("blocker") });
    const all: Promise<unknown>[] = [blocker];
    for (let i = 0; i < 6; i++) all.push(q.submit(memeJob("spin:5"), { ...who("busy"), onProgress: onStart(`busy${i}`) }));
    for (let i = 0; i < 2; i++) all.push(q.submit(memeJob("spin:5"), { ...who("quiet"), onProgress: onStart(`quiet${i}`) }));
    await Promise.all(all);
    // The quiet server's jobs arrived last but start interleaved, not after all six busy ones.
    expect(started.slice(0, 5)).toEqual(["blocker", "busy0", "quiet0", "busy1", "quiet1"]);
  });

  test("progress: queued positions and ETAs, updated as the queue moves", async () => {
    const q = await make();
    const blocker = q.submit(memeJob("spin:300"), who());
    const recs = [recorder(), recorder(), recorder()];
    const jobs = recs.map((r) => q.submit(memeJob("spin:20"), { ...who(), onProgress: r.onProgress }));
    await Promise.all([blocker, ...jobs]);
    const queued = (i: number) => recs[i].events.filter((e) => e.type === "queued") as Extract<ProgressEvent, { type: "queued" }>[];
    expect(queued(0).map((e) => e.position)).toEqual([1]);
    expect(queued(1).map((e) => e.position)).toEqual([2, 1]);
    expect(queued(2).map((e) => e.position)).toEqual([3, 2, 1]);
    // Later positions wait longer (ETAs come from measured service times).
    expect(queued(2)[0].etaSeconds).toBeGreaterThanOrEqual(queued(0)[0].etaSeconds);
    for (const r of recs) expect(r.events.slice(-2).map((e) => e.type)).toEqual(["started", "done"]);
  });

  test("priorities: cheap jobs first when configured, explicit priority wins", async () => {
    const q = await make({ cheapFirst: true });
    const started: string[] = [];
    const track = (tag: string) => ({ ...who(), onProgress: (e: ProgressEvent) => e.type === "started" && started.push(tag) });
    const blocker = q.submit(memeJob("spin:300"), track("blocker"));
    const animated: Job = { ...memeJob(), kind: "animated", animation: "morph" };
    const enrol: Job = { kind: "enrol", image: memeJob().reaction };
    await Promise.all([
      blocker,
      q.submit(animated, track("animated")),
      q.submit(enrol, track("enrol")),
      q.submit(memeJob(), track("meme")),
      // The most expensive class, last to arrive: only its explicit priority can put it first.
      q.submit({ ...animated }, { ...track("urgent-animated"), priority: -1 }),
    ]);
    expect(started).toEqual(["blocker", "urgent-animated", "meme", "enrol", "animated"]);
  });

  test("timeout: a job running too long fails with TIMEOUT and frees its slot", async () => {
    const q = await make({ jobTimeoutMs: 150 });
    // The job would spin for 10 minutes: only the timeout can end it within the test's own time limit.
    const e = await expectRejects(q.submit(memeJob("spin:600000"), who()));
    expect(e.code).toBe("TIMEOUT");
    expect(e.userMessage).toBe("That took too long (over 0.15 s) and was stopped. Please try a smaller image or try again later.");
    // The slot is free when the next job starts on it. Whether that job then finishes within the same
    // 150 ms depends on the machine's load, so only its start is asserted.
    const next = recorder();
    await q.submit(memeJob(), { ...who(), onProgress: next.onProgress }).catch(() => undefined);
    expect(next.events.map((ev) => ev.type)).toContain("started");
  });

  test("cancellation of a running job that ignores its signal: the thread is stopped, the slot freed", async () => {
    const q = await make();
    const ac = new AbortController();
    const p = q.submit(memeJob("deaf:600000"), { ...who(), signal: ac.signal, onProgress: (e) => e.type === "started" && setTimeout(() => ac.abort(), 100) });
    const e = await expectRejects(p);
    expect(e.code).toBe("CANCELLED");
    // One thread: were it still burning its 10 minutes, this job could not finish within the test's time limit.
    await expect(q.submit(memeJob(), who())).resolves.toMatchObject({ kind: "meme" });
  });

  test("cancellation while queued removes the job and moves the others up", async () => {
    const q = await make();
    const blocker = q.submit(memeJob("spin:300"), who());
    const ac = new AbortController();
    const cancelled = q.submit(memeJob(), { ...who(), signal: ac.signal });
    const rec = recorder();
    const after = q.submit(memeJob(), { ...who(), ...rec });
    ac.abort();
    expect((await expectRejects(cancelled)).code).toBe("CANCELLED");
    await Promise.all([blocker, after]);
    const positions = rec.events.filter((e) => e.type === "queued").map((e) => (e as { position: number }).position);
    expect(positions).toEqual([2, 1]);
    expect((await q.stats()).completed).toBe(2);
  });

  test("shutdown: stops taking work, drains what it can, fails the rest with a retry hint", async () => {
    const q = await make();
    const running = q.submit(memeJob("spin:200"), who());
    const queuedJob = q.submit(memeJob("spin:10"), who());
    const closing = q.close({ drainMs: 5000 });
    const refused = await expectRejects(q.submit(memeJob(), who()));
    expect(refused.code).toBe("BUSY");
    expect(refused.details).toMatchObject({ reason: "shutdown" });
    await expect(Promise.all([running, queuedJob])).resolves.toHaveLength(2);
    await closing;

    const q2 = await make();
    const long = expectRejects(q2.submit(memeJob("spin:3000"), who()));
    const stuck = expectRejects(q2.submit(memeJob(), who()));
    await q2.close({ drainMs: 100 });
    for (const p of [long, stuck]) {
      const e = await p;
      expect(e.code).toBe("BUSY");
      expect(e.retryAfterSeconds).toBeGreaterThan(0);
    }
  });
});

describe("pool seats (a Redis worker reserves a process before it claims a job)", () => {
  test("a reserved process takes no other job until the seat is released, even after the seat's own job", async () => {
    const pool = new WorkerPool({ size: 1, handlersUrl: TEST_HANDLERS, settings: ONE_THREAD });
    try {
      await pool.ready();
      expect(pool.reserve("liveportrait")).toBeUndefined(); // no process has the generator
      const seat = pool.reserve("mesh")!;
      expect(seat).toBeDefined();
      expect(pool.reserve("mesh")).toBeUndefined();
      expect(pool.idle).toBe(0);
      let otherRan = false;
      const other = pool.run(memeJob(), { requestId: "other" }).then((r) => ((otherRan = true), r));
      expect(isPng(((await seat.run(memeJob(), { requestId: "mine" })) as ImageResult).bytes)).toBe(true);
      // Its process is idle but still held: the waiting job has not been handed to it.
      expect(otherRan).toBe(false);
      expect(pool.busy).toBe(0);
      expect(pool.idle).toBe(0);
      seat.release();
      expect(isPng(((await other) as ImageResult).bytes)).toBe(true);
      expect(pool.idle).toBe(1);
      seat.release(); // a second release gives nothing back twice
      expect(pool.reserve("mesh")).toBeDefined();
    } finally {
      await pool.close();
    }
  });
});

describe("workers whose handlers fail to load (real worker processes)", () => {
  const FLAKY = new URL("./fixtures/flaky-load-handlers.ts", import.meta.url);
  let dir: string;
  let flag: string;
  let pool: WorkerPool | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "mimic-flaky-"));
    flag = join(dir, "broken");
    writeFileSync(flag, "");
    // Worker processes inherit this process's environment.
    process.env.MIMIC_TEST_BROKEN_HANDLERS = flag;
  });
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
    delete process.env.MIMIC_TEST_BROKEN_HANDLERS;
    rmSync(dir, { recursive: true, force: true });
  });
  const attempts = () => (existsSync(`${flag}.attempts`) ? readFileSync(`${flag}.attempts`, "utf8").trim().split("\n") : []);

  test("the pool restarts them with doubling pauses, refuses work as BUSY meanwhile, and recovers once they load", async () => {
    const failures: Array<{ failures: number; restartInMs: number }> = [];
    pool = new WorkerPool({
      size: 1,
      handlersUrl: FLAKY,
      settings: ONE_THREAD,
      restartBackoff: { initialMs: 50, maxMs: 200 },
      onLoadFailure: (f) => failures.push(f),
    });
    const notReady = await expectRejects(pool.ready());
    expect(notReady.code).toBe("BUSY");
    await vi.waitFor(() => expect(failures.length).toBeGreaterThanOrEqual(5), { timeout: 120_000, interval: 20 });
    expect(failures.slice(0, 5)).toEqual([
      { failures: 1, restartInMs: 50 },
      { failures: 2, restartInMs: 100 },
      { failures: 3, restartInMs: 200 },
      { failures: 4, restartInMs: 200 },
      { failures: 5, restartInMs: 200 },
    ]);
    // Each failure was a fresh process that tried to load the module.
    expect(new Set(attempts()).size).toBeGreaterThanOrEqual(5);
    expect(pool.restarting).toBe(true);
    const refused = await expectRejects(pool.run(memeJob(), { requestId: "r-restarting" }));
    expect(refused.code).toBe("BUSY");
    expect(refused.userMessage).toMatch(/^Mimic is restarting\. Please try again in ~\d+ s\.$/);
    expect(refused.details).toMatchObject({ reason: "restarting" });

    rmSync(flag);
    await vi.waitFor(() => expect(pool!.restarting).toBe(false), { timeout: 60_000, interval: 20 });
    await vi.waitFor(() => expect(pool!.idle).toBe(1), { timeout: 60_000, interval: 20 });
    const r = (await pool.run(memeJob(), { requestId: "r-recovered" })) as ImageResult;
    expect(isPng(r.bytes)).toBe(true);
    // A worker that loaded resets the back-off: no further failure was reported.
    const seen = failures.length;
    await pool.run(memeJob(), { requestId: "r-again" });
    expect(failures.length).toBe(seen);
  });

  test("while a worker that could not load waits for its restart, the pool is not ready, and at start-up that is a CONFIG error", async () => {
    const failures: number[] = [];
    pool = new WorkerPool({ size: 1, handlersUrl: FLAKY, settings: ONE_THREAD, restartBackoff: { initialMs: 60_000, maxMs: 60_000 }, onLoadFailure: (f) => failures.push(f.failures) });
    await vi.waitFor(() => expect(failures).toEqual([1]), { timeout: 60_000, interval: 20 });
    // Its process is gone and the next one not started yet: no worker has the handlers (/readyz's models check).
    const notReady = await expectRejects(pool.ready());
    expect(notReady.code).toBe("BUSY");
    const stop = await expectRejects(pool.started());
    expect(stop.code).toBe("CONFIG");
    expect(stop.userMessage).toBe(`The worker processes could not load their job handlers (${FLAKY.pathname}): test handlers: failing to load on purpose.`);
  });

  test("with no back-off given (as at start-up), a worker that cannot load is restarted after the default pause", async () => {
    queue = createLocalQueue({ workers: 1, capacity: 20, perUserLimit: 1, jobTimeoutMs: 10_000, cheapFirst: false, handlersUrl: FLAKY });
    expect((await expectRejects(queue.ready())).code).toBe("BUSY");
    const refused = await vi.waitFor(() => expectRejects(queue!.submit(memeJob(), who())), { timeout: 60_000, interval: 50 });
    expect(refused.code).toBe("BUSY");
    expect(refused.details).toMatchObject({ reason: "restarting" });
    expect(refused.retryAfterSeconds).toBe(1);
    // A second process tried to load the handlers: the pool is alive and restarting, not crashed.
    await vi.waitFor(() => expect(new Set(attempts()).size).toBeGreaterThanOrEqual(2), { timeout: 60_000, interval: 50 });
    rmSync(flag);
    const r = await vi.waitFor(async () => (await queue!.submit(memeJob(), who())) as ImageResult, { timeout: 60_000, interval: 50 });
    expect(isPng(r.bytes)).toBe(true);
  });

  test("the local queue answers BUSY 'restarting' to new and waiting jobs, then serves again", async () => {
    rmSync(flag);
    const q = await make({ workers: 1, perUserLimit: 4, handlersUrl: FLAKY, restartBackoff: { initialMs: 100, maxMs: 400 } });
    // The one worker crashes mid-job and its replacement cannot load: the job behind it must not wait for it.
    writeFileSync(flag, "");
    const crashed = q.submit(memeJob("crash"), who());
    const waiting = recorder();
    const behind = q.submit(memeJob(), { ...who(), ...waiting });
    expect((await expectRejects(crashed)).code).toBe("INTERNAL");
    const e = await expectRejects(behind);
    expect(e.code).toBe("BUSY");
    expect(e.details).toMatchObject({ reason: "restarting" });
    expect(waiting.events.at(-1)).toMatchObject({ type: "failed", message: e.userMessage });

    const submitted = q.submit(memeJob(), who());
    // Refused at the door, not queued behind a worker that may never load.
    expect((await q.stats()).waiting).toBe(0);
    const fresh = await expectRejects(submitted);
    expect(fresh.code).toBe("BUSY");
    expect(fresh.userMessage).toMatch(/^Mimic is restarting\. Please try again in ~\d+ s\.$/);
    expect(fresh.retryAfterSeconds).toBeGreaterThanOrEqual(1);

    rmSync(flag);
    // Submissions keep being refused until a restart loads, then run (the wait bounds a hang only).
    const r = await vi.waitFor(async () => (await q.submit(memeJob(), who())) as ImageResult, { timeout: 60_000, interval: 50 });
    expect(isPng(r.bytes)).toBe(true);
  });
});
