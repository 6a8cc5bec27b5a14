/**
 * The local queue's own rules (admission, order, positions, cancellation, timeout, shutdown, restarts,
 * routing by capability) through the real WorkerPool and real worker processes running the light CPU
 * handlers (fixtures/cpu-handlers.ts, no models). Each block shares one queue, so a pass takes seconds and
 * Stryker can rerun it per mutant of src/queue/local.ts (test/README.md, "Mutation testing").
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { MimicError } from "../../src/errors.ts";
import type { InferenceQueue, Job, ProgressEvent } from "../../src/queue/jobs.ts";
import { createLocalQueue, type QueueOptions } from "../../src/queue/local.ts";
import { ONE_THREAD, TEST_HANDLERS, expectRejects, memeJob, recorder } from "./helpers.ts";

// A job that never ends fails its test in seconds (most pass in under one), so a mutant that stalls the
// queue is caught by the test itself rather than by Stryker's longer timeout and runner restart.
const SHORT = { timeout: 10_000 };
const LONGER = { timeout: 15_000 };

type Queue = InferenceQueue & { ready(): Promise<void> };

async function make(over: Partial<QueueOptions> = {}): Promise<Queue> {
  const q = createLocalQueue({
    workers: 1,
    capacity: 3,
    perUserLimit: 2,
    jobTimeoutMs: 1500,
    cheapFirst: true,
    handlersUrl: TEST_HANDLERS,
    cancelGraceMs: 100,
    ...over,
  });
  await q.ready();
  return q;
}

let n = 0;
const who = (serverId: string | null = "s1", userId = `u${++n}`) => ({ requestId: `r${++n}`, userId, serverId });
const animated: Job = { ...memeJob(), kind: "animated", animation: "morph" };
const enrol: Job = { kind: "enrol", image: memeJob().reaction };
const queuedPositions = (events: ProgressEvent[]) => events.filter((e) => e.type === "queued").map((e) => (e as { position: number }).position);

describe("local queue rules (one worker, shared)", SHORT, () => {
  let q: Queue;
  beforeAll(async () => {
    q = await make();
  }, 15_000);
  afterAll(() => q?.close({ drainMs: 0 }));

  test("admission: the per-user limit, then the capacity, each refused as BUSY and counted", async () => {
    const before = await q.stats();
    const blocker = q.submit(memeJob("spin:400"), who("s1", "alice"));
    const second = q.submit(memeJob("spin:5"), who("s1", "alice"));
    const mine = await expectRejects(q.submit(memeJob(), who("s1", "alice")));
    expect(mine).toBeInstanceOf(MimicError);
    expect(mine.code).toBe("BUSY");
    expect(mine.details).toEqual({ reason: "user", limit: 2 });
    expect(mine.userMessage).toMatch(/^You already have 2 requests in progress\./);
    expect(mine.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // Another user is not held back by alice's limit.
    const others = [q.submit(memeJob("spin:5"), who("s1", "bob")), q.submit(memeJob("spin:5"), who("s2", "carol"))];
    expect(await q.stats()).toMatchObject({ waiting: 3, running: 1, capacity: 3, workers: 1 });
    const full = await expectRejects(q.submit(memeJob(), who("s3", "dave")));
    expect(full.code).toBe("BUSY");
    expect(full.details).toEqual({ reason: "capacity", waiting: 3 });
    expect(full.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    await Promise.all([blocker, second, ...others]);
    const after = await q.stats();
    expect(after).toMatchObject({ waiting: 0, running: 0 });
    expect(after.completed - before.completed).toBe(4);
    expect(after.rejected - before.rejected).toBe(2);
    expect(after.failed - before.failed).toBe(0);
    // Finished jobs give their user's slots back: alice may have two in flight again.
    await expect(Promise.all([q.submit(memeJob("spin:5"), who("s1", "alice")), q.submit(memeJob("spin:5"), who("s1", "alice"))])).resolves.toHaveLength(2);
    // One finished job gives back one slot, not all of them: her other job still counts.
    const short = q.submit(memeJob(), who("s1", "alice"));
    const long = q.submit(memeJob("spin:400"), who("s1", "alice"));
    await short;
    const third = q.submit(memeJob("spin:5"), who("s1", "alice"));
    expect((await expectRejects(q.submit(memeJob(), who("s1", "alice")))).details).toEqual({ reason: "user", limit: 2 });
    await Promise.all([long, third]);
  });

  test("order: cheap kinds first, an explicit priority ahead of them, servers and private chats take turns", async () => {
    const started: string[] = [];
    const track = (tag: string, serverId: string | null = "s1") => ({ ...who(serverId), onProgress: (e: ProgressEvent) => e.type === "started" && started.push(tag) });
    const blocker = q.submit(memeJob("spin:300"), track("blocker"));
    await vi.waitFor(() => expect(started).toEqual(["blocker"]));
    await Promise.all([
      blocker,
      q.submit(animated, track("animated", "s9")),
      q.submit(enrol, track("enrol", "s9")),
      q.submit({ ...animated }, { ...track("urgent", "s9"), priority: -1 }),
    ]);
    expect(started).toEqual(["blocker", "urgent", "enrol", "animated"]);

    started.length = 0;
    const b2 = q.submit(memeJob("spin:300"), track("blocker"));
    await vi.waitFor(() => expect(started).toEqual(["blocker"]));
    // Two private chats share one lane; the server's lane takes its turn between them.
    await Promise.all([b2, q.submit(memeJob(), track("dm1", null)), q.submit(memeJob(), track("dm2", null)), q.submit(memeJob(), track("server", "s7"))]);
    expect(started).toEqual(["blocker", "dm1", "server", "dm2"]);

    started.length = 0;
    const b3 = q.submit(memeJob("spin:300"), track("blocker"));
    await vi.waitFor(() => expect(started).toEqual(["blocker"]));
    // Two servers: each has its own lane, so the second server goes between the first one's two jobs.
    await Promise.all([b3, q.submit(memeJob(), track("s5a", "s5")), q.submit(memeJob(), track("s5b", "s5")), q.submit(memeJob(), track("s6", "s6"))]);
    expect(started).toEqual(["blocker", "s5a", "s6", "s5b"]);
  });

  test("positions: each waiting job hears its place once per change, then started and done", async () => {
    const blockerRec = recorder();
    const blocker = q.submit(memeJob("spin:400"), { ...who(), ...blockerRec });
    const recs = [recorder(), recorder(), recorder()];
    const jobs = recs.map((r) => q.submit(memeJob("spin:5"), { ...who(), onProgress: r.onProgress }));
    await Promise.all([blocker, ...jobs]);
    expect(blockerRec.events.map((e) => e.type)).toEqual(["started", "done"]);
    expect(recs.map((r) => queuedPositions(r.events))).toEqual([[1], [2, 1], [3, 2, 1]]);
    const firstEta = recs.map((r) => (r.events[0] as { etaSeconds: number }).etaSeconds);
    // Later places wait at least as long; every figure is a whole number of seconds.
    expect(firstEta[1]).toBeGreaterThanOrEqual(firstEta[0]);
    expect(firstEta[2]).toBeGreaterThanOrEqual(firstEta[1]);
    for (const e of firstEta) expect(Number.isInteger(e) && e >= 0).toBe(true);
    for (const r of recs) expect(r.events.slice(-2).map((e) => e.type)).toEqual(["started", "done"]);
  });

  test("cancellation: before submitting, while waiting (the others move up) and while running", async () => {
    const before = await q.stats();
    const gone = new AbortController();
    gone.abort();
    const early = recorder();
    const e0 = await expectRejects(q.submit(memeJob(), { ...who(), ...early, signal: gone.signal }));
    expect(e0.code).toBe("CANCELLED");
    expect(early.events).toEqual([]);
    // A caller's own MimicError reason is passed on as it is.
    const why = new AbortController();
    why.abort(new MimicError("TIMEOUT", "the adapter gave up"));
    expect((await expectRejects(q.submit(memeJob(), { ...who(), signal: why.signal }))).userMessage).toBe("the adapter gave up");

    const blocker = q.submit(memeJob("spin:400"), who("s1", "erin"));
    const ac = new AbortController();
    const waitingRec = recorder();
    const cancelled = q.submit(memeJob(), { ...who("s1", "erin"), ...waitingRec, signal: ac.signal });
    const rec = recorder();
    const after = q.submit(memeJob(), { ...who(), ...rec });
    ac.abort();
    const e1 = await expectRejects(cancelled);
    expect(e1.code).toBe("CANCELLED");
    expect(e1.userMessage).toBe("The request was cancelled.");
    expect(waitingRec.events.map((e) => e.type)).toEqual(["queued"]);
    // Erin's slot came back at once: she may queue again behind her blocker.
    const again = q.submit(memeJob("spin:5"), who("s1", "erin"));
    await Promise.all([blocker, after, again]);
    expect(queuedPositions(rec.events)).toEqual([2, 1]);

    const run = new AbortController();
    const runRec = recorder();
    const running = q.submit(memeJob("spin:60000"), { ...who("s1", "ivy"), signal: run.signal, onProgress: (e) => (runRec.onProgress(e), e.type === "started" && setTimeout(() => run.abort(), 50)) });
    const ivysNext = q.submit(memeJob(), who("s1", "ivy"));
    const e2 = await expectRejects(running);
    expect(e2.code).toBe("CANCELLED");
    expect(runRec.events.map((e) => e.type)).toEqual(["started", "failed"]);
    // The cancelled running job gave back its one slot: ivy's other job still counts.
    const ivysLast = q.submit(memeJob(), who("s1", "ivy"));
    expect((await expectRejects(q.submit(memeJob(), who("s1", "ivy")))).details).toEqual({ reason: "user", limit: 2 });
    await Promise.all([ivysNext, ivysLast]);
    const s = await q.stats();
    expect(s.completed - before.completed).toBe(5);
    expect(s.failed - before.failed).toBe(1);
    expect(s).toMatchObject({ waiting: 0, running: 0 });
  });

  test("timeout: a job running too long fails with TIMEOUT naming the limit, and its slot and user are free", LONGER, async () => {
    const rec = recorder();
    const s0 = await q.stats();
    const e = await expectRejects(q.submit(memeJob("spin:60000"), { ...who("s1", "frank"), ...rec }));
    expect(e.code).toBe("TIMEOUT");
    expect(e.userMessage).toMatch(/over 1\.5 s/);
    expect(rec.events.at(-1)).toEqual({ type: "failed", message: e.userMessage });
    // 1.5 s of a job that was stopped is not service time: the meme estimate did not move.
    expect((await q.stats()).serviceMs).toEqual(s0.serviceMs);
    await expect(Promise.all([q.submit(memeJob("spin:5"), who("s1", "frank")), q.submit(memeJob("spin:5"), who("s1", "frank"))])).resolves.toHaveLength(2);
  });

  test("failures: a pipeline refusal counts as service time, a crash does not; a throwing callback changes nothing", async () => {
    // A long job first, so the estimate sits well above a refusal's few milliseconds, which then move it.
    await q.submit(memeJob(`spin:${(await q.stats()).serviceMs.meme + 200}`), who());
    const s0 = await q.stats();
    const rec = recorder();
    const refused = await expectRejects(q.submit(memeJob("fail"), { ...who(), ...rec }));
    expect(refused.code).toBe("NO_FACE");
    // The previous test's stopped worker may still be restarting on a loaded machine, so the job may wait first.
    expect(rec.events.filter((e) => e.type !== "queued")).toEqual([{ type: "started" }, { type: "failed", message: "No face found in that picture." }]);
    const s1 = await q.stats();
    expect(s1.failed - s0.failed).toBe(1);
    expect(s1.serviceMs.meme).not.toBe(s0.serviceMs.meme);
    const crashed = await expectRejects(q.submit(memeJob("crash"), who()));
    expect(crashed.code).toBe("INTERNAL");
    const s2 = await q.stats();
    expect(s2.serviceMs.meme).toBe(s1.serviceMs.meme);
    const seen: string[] = [];
    // Longer than the mean by far, so the recorded time moves the rounded estimate whatever the machine's speed
    // (a plain job as long as the mean left it unchanged and failed this check).
    await expect(
      q.submit(memeJob(`spin:${s2.serviceMs.meme + 200}`), {
        ...who(),
        onProgress: (e) => {
          seen.push(e.type);
          throw new Error(`adapter bug on ${e.type}`);
        },
      }),
    ).resolves.toMatchObject({ kind: "meme" });
    // The crashed worker may still be restarting, so the job may wait first.
    expect(seen.filter((t) => t !== "queued")).toEqual(["started", "done"]);
    const s3 = await q.stats();
    expect(s3.completed - s2.completed).toBe(1);
    expect(s3.serviceMs.meme).not.toBe(s2.serviceMs.meme);
  });
});

describe("local queue figures from the measured service times", LONGER, () => {
  // A fresh queue's estimates are the priors (meme 150 ms, enrol 250 ms, animated 3 s); a cancelled,
  // timed-out or shut-down job does not change them, so every figure below follows from them exactly.
  const PRIORS = { meme: 150, enrol: 250, animated: 3000 };

  test("positions and ETAs, and the 'try again' figures of the user limit and a full queue", async () => {
    // The queue's clock stands still unless the test moves it: every figure follows from the priors.
    let clock = 0;
    const q = await make({ workers: 2, capacity: 3, jobTimeoutMs: 30_000, now: () => clock });
    try {
      expect((await q.stats()).serviceMs).toEqual(PRIORS);
      const stop = new AbortController();
      const started: string[] = [];
      const blocker = (tag: string) => q.submit(memeJob("spin:60000"), { ...who("s1", "blk"), signal: stop.signal, onProgress: (e) => e.type === "started" && started.push(tag) });
      const blockers = [expectRejects(blocker("b1")), expectRejects(blocker("b2"))];
      // Both workers took a blocker at once, so each has its 0.15 s of meme left.
      expect(started).toEqual(["b1", "b2"]);
      // Nothing waits: the first of blk's own jobs ends in 0.15 s, rounded up to 1 s.
      const idleLimit = await expectRejects(q.submit(memeJob(), who("s1", "blk")));
      expect(idleLimit.retryAfterSeconds).toBe(1);
      expect(idleLimit.userMessage).toBe("You already have 2 requests in progress. Please wait for it to finish (about 1 s) before sending another.");

      const recs = [recorder(), recorder(), recorder()];
      const cancelC = new AbortController();
      const a = q.submit(animated, { ...who("s1", "wes"), ...recs[0] });
      const b = q.submit(animated, { ...who("s1", "wes"), ...recs[1] });
      const c = expectRejects(q.submit(animated, { ...who("s1", "cy"), ...recs[2], signal: cancelC.signal }));
      // Animations may hold one of the two workers: a starts at 0.15 s, b after a (3.15 s), c after b (6.15 s);
      // the two memes seen in the last 30 s may still overtake them, which adds a little to each.
      expect(recs.map((r) => r.events)).toEqual([
        [{ type: "queued", position: 1, etaSeconds: 1 }],
        [{ type: "queued", position: 2, etaSeconds: 4 }],
        [{ type: "queued", position: 3, etaSeconds: 7 }],
      ]);
      expect(await q.stats()).toMatchObject({ mode: "local", waiting: 3, running: 2, capacity: 3, workers: 2 });
      // wes's first job is expected to start at about 0.15 s and take 3 s.
      const mine = await expectRejects(q.submit(memeJob(), who("s1", "wes")));
      expect(mine.retryAfterSeconds).toBe(4);
      expect(mine.userMessage).toBe("You already have 2 requests in progress. Please wait for it to finish (about 4 s) before sending another.");
      // Everything waiting has started by 6.15 s.
      const full = await expectRejects(q.submit(memeJob(), who("s2", "zed")));
      expect(full.retryAfterSeconds).toBe(7);
      expect(full.userMessage).toBe("Mimic is busy right now. Please try again in ~7 s.");
      expect(full.details).toEqual({ reason: "capacity", waiting: 3 });

      cancelC.abort();
      expect((await c).code).toBe("CANCELLED");
      // 0.1 s later the blockers have 0.05 s left: a meme goes first (cheap-first) and hears 1 s.
      clock = 100;
      const dRec = recorder();
      const d = q.submit(memeJob(), { ...who("s1", "dee"), ...dRec });
      expect(dRec.events).toEqual([{ type: "queued", position: 1, etaSeconds: 1 }]);
      // A place once told is not taken back: the meme that went ahead (as cheaper jobs may for a few seconds)
      // shows in a's and b's ETAs, which it leaves at about 1 s and 4 s, so they hear nothing new.
      expect(recs[0].events).toHaveLength(1);
      expect(recs[1].events).toHaveLength(1);
      // Cancelled work is not service time: the estimates are still the priors.
      expect((await q.stats()).serviceMs).toEqual(PRIORS);
      stop.abort();
      for (const e of await Promise.all(blockers)) expect(e.code).toBe("CANCELLED");
      await Promise.all([a, b, d]);
    } finally {
      await q.close({ drainMs: 0 });
    }
  });

  test("cancelled and shut-down jobs are not service time; finished and refused jobs count their own run", async () => {
    const q = await make({ jobTimeoutMs: 30_000, perUserLimit: 4, cheapFirst: false });
    let closing: Promise<void> | undefined;
    try {
      const ac = new AbortController();
      // It ran at least 0.3 s: had it counted, the meme estimate (0.15 s) would have moved.
      const cancelled = await expectRejects(q.submit(memeJob("spin:60000"), { ...who(), signal: ac.signal, onProgress: (e) => e.type === "started" && setTimeout(() => ac.abort(), 300) }));
      expect(cancelled.code).toBe("CANCELLED");
      expect((await q.stats()).serviceMs).toEqual(PRIORS);

      // A finished job adds its own run time (from its start to its result) to the mean, at most the
      // time this test waited for it: the first two averaged with the built-in prior (1/2, then 1/3).
      let t0 = performance.now();
      await q.submit(memeJob(), who());
      let waited = performance.now() - t0;
      const m1 = (await q.stats()).serviceMs.meme;
      expect(m1).toBeGreaterThanOrEqual(PRIORS.meme / 2 - 1);
      expect(m1).toBeLessThanOrEqual(PRIORS.meme / 2 + waited / 2 + 1);
      t0 = performance.now();
      expect((await expectRejects(q.submit(memeJob("fail"), who()))).code).toBe("NO_FACE");
      waited = performance.now() - t0;
      const m2 = (await q.stats()).serviceMs.meme;
      expect(m2).toBeGreaterThanOrEqual((2 / 3) * m1 - 1);
      expect(m2).toBeLessThanOrEqual((2 / 3) * m1 + waited / 3 + 1);

      // Without cheap-first, kinds run in the order they came.
      const started: string[] = [];
      const track = (tag: string) => ({ ...who(), onProgress: (e: ProgressEvent) => e.type === "started" && started.push(tag) });
      const first = q.submit(memeJob("spin:300"), track("blocker"));
      await vi.waitFor(() => expect(started).toEqual(["blocker"]));
      await Promise.all([first, q.submit(animated, track("animated")), q.submit(enrol, track("enrol")), q.submit(memeJob(), track("meme"))]);
      expect(started).toEqual(["blocker", "animated", "enrol", "meme"]);

      const before = (await q.stats()).serviceMs;
      const stopped = await expectRejects(
        q.submit(memeJob("spin:60000"), { ...who(), onProgress: (e) => e.type === "started" && setTimeout(() => (closing = q.close({ drainMs: 0 })), 300) }),
      );
      expect(stopped.code).toBe("BUSY");
      expect(stopped.details).toEqual({ reason: "shutdown" });
      expect((await q.stats()).serviceMs).toEqual(before);
    } finally {
      await (closing ?? q.close({ drainMs: 0 }));
    }
  });
});

describe("local queue shutdown", { timeout: 30_000 }, () => {
  test("close drains what it can in time and tells the rest to come back", async () => {
    const [q, idle, lone] = await Promise.all([make({ perUserLimit: 4 }), make(), make({ jobTimeoutMs: 30_000 })]);
    // Idle: close does not wait for its drain time.
    await idle.close({ drainMs: 60_000 });
    // One running job and nothing waiting: close still waits for it.
    const alone = lone.submit(memeJob("spin:200"), who());
    await lone.close({ drainMs: 30_000 });
    await expect(alone).resolves.toMatchObject({ kind: "meme" });

    const running = q.submit(memeJob("spin:200"), who());
    const queuedJob = q.submit(memeJob("spin:10"), who());
    const closing = q.close({ drainMs: 30_000 });
    const refused = await expectRejects(q.submit(memeJob(), who()));
    expect(refused.details).toMatchObject({ reason: "shutdown" });
    await expect(Promise.all([running, queuedJob])).resolves.toHaveLength(2);
    await closing;

    const q2 = await make();
    const rec = recorder();
    const long = expectRejects(q2.submit(memeJob("spin:60000"), who()));
    const stuck = expectRejects(q2.submit(memeJob(), { ...who(), ...rec }));
    await q2.close({ drainMs: 100 });
    for (const p of [long, stuck]) {
      const e = await p;
      expect(e.code).toBe("BUSY");
      expect(e.details).toMatchObject({ reason: "shutdown" });
    }
    expect(rec.events).toEqual([
      { type: "queued", position: 1, etaSeconds: expect.any(Number) },
      { type: "failed", message: "Mimic is restarting. Please try again in a minute." },
    ]);
  });

  test("a cancelled last waiting job lets a pending close finish", async () => {
    const q = await make();
    const running = q.submit(memeJob("spin:300"), who());
    const ac = new AbortController();
    const waiting = q.submit(memeJob(), { ...who(), signal: ac.signal });
    const closing = q.close({ drainMs: 60_000 });
    ac.abort();
    expect((await expectRejects(waiting)).code).toBe("CANCELLED");
    await running;
    await closing;
  });
});

describe("local queue while workers cannot load their handlers", LONGER, () => {
  const FLAKY = new URL("./fixtures/flaky-load-handlers.ts", import.meta.url);
  let dir: string;
  let flag: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "mimic-flaky-"));
    flag = join(dir, "broken");
    process.env.MIMIC_TEST_BROKEN_HANDLERS = flag;
  });
  afterAll(() => {
    delete process.env.MIMIC_TEST_BROKEN_HANDLERS;
    rmSync(dir, { recursive: true, force: true });
  });

  test("waiting and new jobs are refused as BUSY 'restarting', and it serves again once they load", async () => {
    const q = await make({ perUserLimit: 4, handlersUrl: FLAKY, restartBackoff: { initialMs: 100, maxMs: 400 } });
    try {
      const s0 = await q.stats();
      writeFileSync(flag, "");
      const crashed = q.submit(memeJob("crash"), who());
      const waiting = recorder();
      const behind = q.submit(memeJob(), { ...who("s1", "hank"), ...waiting });
      expect((await expectRejects(crashed)).code).toBe("INTERNAL");
      const e = await expectRejects(behind);
      expect(e.details).toMatchObject({ reason: "restarting" });
      expect(waiting.events.at(-1)).toEqual({ type: "failed", message: e.userMessage });
      const before = await q.stats();
      // The waiting job is counted as refused, the crashed one as failed.
      expect([before.rejected - s0.rejected, before.failed - s0.failed]).toEqual([1, 1]);
      const fresh = await expectRejects(q.submit(memeJob(), who()));
      expect(fresh.details).toMatchObject({ reason: "restarting" });
      expect((await q.stats()).rejected - before.rejected).toBe(1);
      rmSync(flag);
      await vi.waitFor(async () => q.submit(memeJob(), who()), { timeout: 30_000, interval: 50 });
      // hank's refused job gave his slot back: he may have his full four in flight.
      await expect(Promise.all([1, 2, 3, 4].map(() => q.submit(memeJob(), who("s1", "hank"))))).resolves.toHaveLength(4);
    } finally {
      await q.close({ drainMs: 0 });
    }
  });
});

describe("local queue routing by capability", LONGER, () => {
  const CAPABLE = new URL("./fixtures/capability-handlers.ts", import.meta.url);
  const generator = { dir: "/nonexistent-models", provider: "cpu" as const, threads: 1 };

  test("a job for the generator waits for a worker that has it; a mesh job behind it goes first on another", async () => {
    // A generous job timeout: it bounds a hang here, the blockers must never run into it on a loaded machine.
    const q = await make({ workers: 2, perUserLimit: 4, jobTimeoutMs: 30_000, handlersUrl: CAPABLE, settings: { ...ONE_THREAD, generator }, generatorWorkers: 1 });
    try {
      const started: string[] = [];
      const track = (tag: string) => ({ ...who(), onProgress: (e: ProgressEvent) => e.type === "started" && started.push(tag) });
      const gen = (top: string): Job => ({ ...memeJob(top), generator: "liveportrait" });
      const first = q.submit(gen("spin:400"), track("gen1"));
      await vi.waitFor(() => expect(started).toEqual(["gen1"]));
      const waitingRec = recorder();
      const second = q.submit(gen("spin:5"), { ...track("gen2"), onProgress: (e: ProgressEvent) => (waitingRec.onProgress(e), e.type === "started" && started.push("gen2")) });
      // The mesh worker is idle but cannot take it: it still hears its place.
      expect(waitingRec.events).toEqual([{ type: "queued", position: 1, etaSeconds: expect.any(Number) }]);
      const mesh = q.submit(memeJob("spin:5"), track("mesh"));
      await Promise.all([first, second, mesh]);
      expect(started).toEqual(["gen1", "mesh", "gen2"]);
    } finally {
      await q.close({ drainMs: 0 });
    }
    const none = await make({ handlersUrl: CAPABLE, settings: ONE_THREAD });
    try {
      const e = await expectRejects(none.submit({ ...memeJob(), generator: "liveportrait" }, who()));
      expect(e.details).toMatchObject({ reason: "no-capable-worker", capability: "liveportrait" });
      expect((await none.stats()).rejected).toBe(1);
    } finally {
      await none.close({ drainMs: 0 });
    }
  });

  test("a mesh job takes the mesh-only worker when both are idle, keeping the generator's worker free", async () => {
    const q = await make({ workers: 2, perUserLimit: 4, jobTimeoutMs: 30_000, handlersUrl: CAPABLE, settings: { ...ONE_THREAD, generator }, generatorWorkers: 1 });
    try {
      const mesh = recorder(), gen = recorder();
      const first = q.submit(memeJob("spin:400"), { ...who(), onProgress: mesh.onProgress });
      await vi.waitFor(() => expect(mesh.events.map((e) => e.type)).toContain("started"));
      // Had the mesh job taken the generator's worker, this would queue behind it.
      const second = q.submit({ ...memeJob("spin:5"), generator: "liveportrait" }, { ...who(), onProgress: gen.onProgress });
      await Promise.all([first, second]);
      expect(gen.events[0]).toEqual({ type: "started" });
      expect(gen.events.map((e) => e.type)).not.toContain("queued");
    } finally {
      await q.close({ drainMs: 0 });
    }
  });
});
