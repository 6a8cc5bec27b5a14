/**
 * The queue policy (src/queue/policy.ts) through the real local queue, its WorkerPool and worker processes:
 * expensive jobs never hold every worker, cheaper jobs may overtake an animation only for a while (ageing),
 * ETAs count a running job that overran its estimate and the cheap jobs still to come, a job's size sets its
 * estimate, and "a request of yours is in progress (about N s)" is that request's own remaining time.
 * Every job is held at a gate (test/bots/gated-handlers.ts) and the queue runs on a clock the test sets, so
 * every figure follows from the built-in priors and the clock alone; nothing depends on how fast this runs.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import type { Job, JobResult, ProgressEvent } from "../../src/queue/jobs.ts";
import { createLocalQueue, type QueueOptions } from "../../src/queue/local.ts";
import { OVERTAKE_MS } from "../../src/queue/policy.ts";
import { PRIOR_FIT, PRIOR_SERVICE_MS } from "../../src/queue/service-times.ts";
import { expectRejects, memeJob, recorder } from "./helpers.ts";

const GATED = new URL("../bots/gated-handlers.ts", import.meta.url);
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "mimic-policy-"));
  process.env.MIMIC_TEST_GATE_DIR = dir;
});
afterAll(() => {
  delete process.env.MIMIC_TEST_GATE_DIR;
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
const open = (gate: string) => writeFileSync(join(dir, `${gate}.open`), "");
/** A meme / animation held at its own gate until the test opens it. */
const meme = (gate: string): Job => memeJob(`gate:${gate}`);
const anim = (gate: string, reaction?: { bytes: Uint8Array; mime: string }): Job => ({ ...memeJob(`gate:${gate}`), kind: "animated", animation: "morph", ...(reaction ? { reaction } : {}) });

/** A GIF of `frames` frames of w×h as far as its block structure says (its pixels are not meant to be decoded). */
function gifOf(frames: number, w: number, h: number): { bytes: Uint8Array; mime: string } {
  const le = (v: number) => [v & 0xff, v >> 8];
  const out = [..."GIF89a"].map((c) => c.charCodeAt(0)).concat(le(w), le(h), [0, 0, 0]);
  for (let f = 0; f < frames; f++) out.push(0x2c, ...le(0), ...le(0), ...le(w), ...le(h), 0, 2, 0);
  out.push(0x3b);
  return { bytes: new Uint8Array(out), mime: "image/gif" };
}

type Queue = ReturnType<typeof createLocalQueue>;

describe("queue policy through the local queue", { timeout: 30_000 }, () => {
  let clock = 0;
  const queues: Queue[] = [];
  async function make(over: Partial<QueueOptions> = {}): Promise<Queue> {
    clock = 0;
    const q = createLocalQueue({
      workers: 1, capacity: 20, perUserLimit: 4, jobTimeoutMs: 60_000, cheapFirst: true,
      handlersUrl: GATED, cancelGraceMs: 100, now: () => clock, ...over,
    });
    queues.push(q);
    await q.ready();
    return q;
  }
  afterAll(async () => {
    for (let i = 0; i < 200; i++) open(`g${i}`);
    await Promise.all(queues.map((q) => q.close({ drainMs: 0 })));
  });

  const started: string[] = [];
  /** Submits with a tag recorded when it starts; each call its own user unless named. */
  function submit(q: Queue, tag: string, job: Job, user = `u${++n}`, extra: { onProgress?: (e: ProgressEvent) => void; signal?: AbortSignal } = {}): Promise<JobResult> {
    return q.submit(job, {
      requestId: `r${++n}`, userId: user, serverId: "s1", signal: extra.signal,
      onProgress: (e) => (e.type === "started" && started.push(tag), extra.onProgress?.(e)),
    });
  }

  test("with two workers an animation never takes the last one: a meme starts at once beside animations", async () => {
    const q = await make({ workers: 2 });
    started.length = 0;
    const a1 = submit(q, "a1", anim("g1"));
    const a2 = submit(q, "a2", anim("g2"));
    const m = submit(q, "m", meme("g3"));
    // One worker is kept for cheap jobs: the second animation waits, the meme behind it starts.
    expect(started).toEqual(["a1", "m"]);
    open("g3");
    await m;
    // The meme's worker is free again, still not for the animation.
    expect(await q.stats()).toMatchObject({ running: 1, waiting: 1 });
    expect(started).toEqual(["a1", "m"]);
    open("g1");
    await a1;
    // The first animation finished: the second takes its place.
    expect(started).toEqual(["a1", "m", "a2"]);
    open("g2");
    await a2;
  });

  test("without cheap-first no worker is kept for cheap jobs: animations run on every worker, and ETAs count them all", async () => {
    const q = await make({ workers: 2, cheapFirst: false });
    started.length = 0;
    const a1 = submit(q, "a1", anim("g5"));
    const a2 = submit(q, "a2", anim("g6"));
    // Every job is in one class: a worker kept back could not tell a meme from an animation before taking it.
    expect(started).toEqual(["a1", "a2"]);
    const rec = recorder();
    const a3 = submit(q, "a3", anim("g7"), undefined, { onProgress: rec.onProgress });
    // It waits for the first of the two running animations (3 s each by the prior), not for one worker's queue.
    expect(rec.events).toEqual([{ type: "queued", position: 1, etaSeconds: PRIOR_SERVICE_MS.animated / 1000 }]);
    open("g5");
    await a1;
    expect(started).toEqual(["a1", "a2", "a3"]);
    open("g6");
    open("g7");
    await Promise.all([a2, a3]);
  });

  test("one worker runs an animation when nothing cheaper waits (nothing can be kept back)", async () => {
    const q = await make({ workers: 1 });
    started.length = 0;
    const a = submit(q, "a", anim("g4"));
    expect(started).toEqual(["a"]);
    open("g4");
    await a;
  });

  test("ageing: memes sent within OVERTAKE_MS of an animation go ahead of it, later ones do not", async () => {
    const q = await make({ workers: 1 });
    started.length = 0;
    const b = submit(q, "blocker", meme("g10"));
    const a = submit(q, "anim", anim("g11"));
    clock = OVERTAKE_MS.animated - 1;
    const early = submit(q, "early", meme("g12"));
    clock = OVERTAKE_MS.animated + 1;
    const late = submit(q, "late", meme("g13"));
    expect(started).toEqual(["blocker"]);
    open("g10");
    await b;
    expect(started).toEqual(["blocker", "early"]);
    open("g12");
    await early;
    // Strict cheap-first would start "late" here, and every meme after it, before the animation.
    expect(started).toEqual(["blocker", "early", "anim"]);
    open("g11");
    await a;
    open("g13");
    await late;
    expect(started).toEqual(["blocker", "early", "anim", "late"]);
  });

  test("an animation's ETA under a steady stream of memes counts those that will overtake it, and its place never goes back", async () => {
    const q = await make({ workers: 1, perUserLimit: 1 });
    started.length = 0;
    const MEME_MS = 500;
    // Two users each send a meme again as soon as theirs is done; each meme takes 0.5 s of the test's clock.
    let gate = 20;
    let stop = false;
    const loop = async (user: string) => {
      while (!stop) {
        const g = `g${gate++}`;
        await submit(q, g, meme(g), user);
      }
    };
    const loops = [loop("m1"), loop("m2")];
    /** Lets the running meme take 0.5 s and finish; the next job starts. */
    const step = async () => {
      const g = started.at(-1)!;
      clock += MEME_MS;
      const before = started.length;
      open(g);
      await vi.waitFor(() => expect(started.length).toBeGreaterThan(before), { timeout: 10_000, interval: 5 });
    };
    // Half a minute of memes first, so the queue has seen the load.
    while (clock < 30_000) await step();
    const rec = recorder();
    const t0 = clock;
    const a = submit(q, "anim", anim("g199"), "painter", { onProgress: rec.onProgress });
    const first = rec.events[0] as { type: string; position: number; etaSeconds: number };
    expect(first.type).toBe("queued");
    for (let i = 0; i < 40 && !started.includes("anim"); i++) await step();
    // It started (strict cheap-first would keep it waiting behind these two users for ever)...
    expect(started).toContain("anim");
    const waitedMs = clock - t0;
    // ...after the memes sent within its overtaking time and those waiting then, no later.
    expect(waitedMs).toBeGreaterThanOrEqual(OVERTAKE_MS.animated);
    expect(waitedMs).toBeLessThanOrEqual(OVERTAKE_MS.animated + 3 * MEME_MS);
    // The first ETA told was about that long (before: the one meme ahead of it, "1 s").
    expect(first.etaSeconds * 1000).toBeGreaterThanOrEqual(waitedMs - 1000);
    expect(first.etaSeconds * 1000).toBeLessThanOrEqual(waitedMs + 2000);
    const places = rec.events.filter((e) => e.type === "queued").map((e) => (e as { position: number }).position);
    for (let i = 1; i < places.length; i++) expect(places[i]).toBeLessThanOrEqual(places[i - 1]!);
    stop = true;
    open("g199");
    await a;
    for (let i = 20; i < gate; i++) open(`g${i}`);
    await Promise.all(loops);
  });

  test("a running job past its estimate is not taken as finishing now: ETAs and 'try again' count it as still running", async () => {
    const q = await make({ workers: 1, capacity: 1 });
    const a = submit(q, "anim", anim("g30"));
    // Twice its estimate (the animated prior, 3 s) has gone by: it is expected to run about as long again as it overran.
    clock = 2 * PRIOR_SERVICE_MS.animated;
    const rec = recorder();
    const m = submit(q, "meme", meme("g31"), undefined, { onProgress: rec.onProgress });
    expect(rec.events).toEqual([{ type: "queued", position: 1, etaSeconds: PRIOR_SERVICE_MS.animated / 1000 }]);
    const full = await expectRejects(submit(q, "other", meme("g32")));
    expect(full.details).toMatchObject({ reason: "capacity" });
    expect(full.userMessage).toBe(`Mimic is busy right now. Please try again in ~${PRIOR_SERVICE_MS.animated / 1000} s.`);
    open("g30");
    open("g31");
    await Promise.all([a, m]);
  });

  test("a GIF's frames and size set its animation's estimate: a meme behind a long one hears a longer wait", async () => {
    const q = await make({ workers: 1 });
    const fit = PRIOR_FIT.animated!;
    // 150 frames of 720×576: 62.2 frame-megapixels, so 2 s + 0.1 s × 62.2 ≈ 8.2 s by the built-in line.
    const big = gifOf(150, 720, 576);
    const ac = new AbortController();
    const a = expectRejects(submit(q, "big", anim("g40", big), undefined, { signal: ac.signal }));
    const rec = recorder();
    const m = submit(q, "meme", meme("g41"), undefined, { onProgress: rec.onProgress });
    const expected = Math.ceil((fit.a + (fit.b * 150 * 720 * 576) / 1e6) / 1000);
    expect(expected).toBe(9);
    expect(rec.events).toEqual([{ type: "queued", position: 1, etaSeconds: expected }]);
    // Cancelled, it is not service time: the next test's priors are untouched either way (each queue is new).
    ac.abort();
    expect((await a).code).toBe("CANCELLED");
    open("g41");
    await m;
  });

  test("'a request of yours is in progress (about N s)' is that request's own remaining time", async () => {
    const q = await make({ workers: 1, perUserLimit: 1 });
    const mine = submit(q, "mine", anim("g50"), "zoe");
    const theirs = submit(q, "theirs", anim("g51"), "yan");
    clock = 1000;
    // Zoe's animation has 2 s of its 3 s left; a meme's estimate and the wait of the queue behind it do not count.
    const e = await expectRejects(submit(q, "again", meme("g52"), "zoe"));
    expect(e.details).toEqual({ reason: "user", limit: 1 });
    expect(e.retryAfterSeconds).toBe(2);
    expect(e.userMessage).toBe("You already have a request in progress. Please wait for it to finish (about 2 s) before sending another.");
    // Yan's waits for zoe's (2 s) and then takes its own 3 s.
    const y = await expectRejects(submit(q, "again", meme("g53"), "yan"));
    expect(y.retryAfterSeconds).toBe(5);
    open("g50");
    open("g51");
    await Promise.all([mine, theirs]);
  });
});
