/**
 * A client hanging up during an animation ends the job, not its worker process: the meme assembly looks at the
 * job's signal between frames, so the handler answers the pool's cancel within its grace instead of making every
 * frame and being killed (a fresh process reloads the models, ~0.8 s of CPU, and slows the next users).
 * The real WorkerPool and the real handlers in its worker process (fixtures/frame-marker-handlers.ts watches the
 * real animated handler's log for its first frame), cancelled once the first frame of the morph is made.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { AnimatedJob, ImageResult } from "../../src/queue/jobs.ts";
import { WorkerPool } from "../../src/queue/pool.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { ONE_THREAD, expectRejects } from "./helpers.ts";

const HANDLERS = new URL("./fixtures/frame-marker-handlers.ts", import.meta.url);
const face = (f: string) => new Uint8Array(readFileSync(new URL(`../fixtures/faces/${f}`, import.meta.url)));
const until = async (what: () => boolean) => {
  while (!what()) await new Promise((r) => setTimeout(r, 5));
};

describe("cancelling an animated job mid-animation (real pool, real pipeline)", () => {
  let pool: WorkerPool;
  let template: EnrolledTemplate;
  let dir: string;
  let marker: string;
  /** requestId → pid of the worker process that made the job's first frame. */
  const firstFrames = () =>
    new Map(
      (existsSync(marker) ? readFileSync(marker, "utf8") : "")
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split(" ") as [string, string]),
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mimic-animated-cancel-"));
    marker = join(dir, "first-frames");
    // Worker processes inherit this process's environment when they are forked.
    process.env.MIMIC_TEST_FRAME_MARKER = marker;
    pool = new WorkerPool({ size: 1, handlersUrl: HANDLERS, settings: ONE_THREAD });
    await pool.ready();
    const r = await pool.run({ kind: "enrol", image: { bytes: face("franck_01829.jpg"), mime: "image/jpeg" } }, { requestId: "enrol" });
    if (r.kind !== "enrol") throw new Error("expected an enrolment");
    template = r.face.data as EnrolledTemplate;
  }, 120_000);
  afterAll(async () => {
    await pool?.close();
    delete process.env.MIMIC_TEST_FRAME_MARKER;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const morph = (): AnimatedJob => ({
    kind: "animated",
    animation: "morph",
    template,
    reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" },
    captions: { top: "OH NO" },
    intensity: 1,
    mode: "mimic",
    byteBudget: 4 << 20,
  });

  test("three hang-ups after the first frame: each job ends CANCELLED, the worker process is never killed", async () => {
    const killedBefore = pool.killed;
    for (let i = 0; i < 3; i++) {
      const requestId = `hangup-${i}`;
      const ac = new AbortController();
      let settled = false;
      const job = pool.run(morph(), { requestId, signal: ac.signal }).finally(() => (settled = true));
      job.catch(() => undefined);
      await until(() => firstFrames().has(requestId) || settled);
      expect(settled, "the job ended before its first frame was reported").toBe(false);
      ac.abort();
      expect((await expectRejects(job)).code).toBe("CANCELLED");
      // Free again either because the handler answered its cancel (same process) or because the pool killed it
      // and a replacement loaded its models.
      await until(() => pool.idle === 1);
      expect(pool.killed - killedBefore, `hang-up ${i} killed the worker process`).toBe(0);
    }
    // The same process serves the next job in full.
    const pids = new Set(firstFrames().values());
    const r = (await pool.run(morph(), { requestId: "after" })) as ImageResult;
    expect(r.mime).toBe("image/gif");
    expect(firstFrames().get("after")).toBe([...pids][0]);
    expect(pids.size).toBe(1);
    expect(pool.killed - killedBefore).toBe(0);
  }, 180_000);
});
