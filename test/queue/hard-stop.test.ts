/**
 * Runaway jobs are stopped without taking the process down. onnxruntime-node aborts the whole process
 * when the thread it runs in is terminated mid-`create`/`run` (the worker-thread pool did exactly that:
 * this test aborted its vitest process within three stops). Job workers are therefore child processes;
 * this drives the real handlers and real models through 100 hard stops in a row at varying points.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEFAULT_HANDLERS } from "../../src/queue/index.ts";
import type { AnimatedJob, ImageResult, MemeJob } from "../../src/queue/jobs.ts";
import { WorkerPool } from "../../src/queue/pool.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { REACTION_LAUGH_JPG, reactionGif } from "../core/images.ts";
import { ONE_THREAD, expectRejects, isPng } from "./helpers.ts";

/** Stop points (ms after the job starts): decoding, face analysis (onnxruntime `run`), warping, encoding. */
const STOP_AFTER_MS = [5, 30, 60, 100, 150, 220, 300, 400];
const face = (f: string) => new Uint8Array(readFileSync(new URL(`../fixtures/faces/${f}`, import.meta.url)));

describe("hard stop of runaway jobs (real handlers, real models)", () => {
  let pool: WorkerPool;
  let template: EnrolledTemplate;
  let gif: Uint8Array;
  beforeAll(async () => {
    pool = new WorkerPool({ size: 2, handlersUrl: DEFAULT_HANDLERS, settings: ONE_THREAD });
    await pool.ready();
    const r = await pool.run({ kind: "enrol", image: { bytes: face("franck_01829.jpg"), mime: "image/jpeg" } }, { requestId: "enrol" });
    if (r.kind !== "enrol") throw new Error("expected an enrolment");
    template = r.face.data as EnrolledTemplate;
    // 48 frames to follow: one face analysis and one warp per frame, seconds of model work in all.
    gif = await reactionGif(REACTION_LAUGH_JPG, 48, 320);
  }, 120_000);
  afterAll(() => pool?.close());

  const meme = (): MemeJob => ({
    kind: "meme",
    template,
    reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" },
    captions: { top: "still here" },
    intensity: 1,
    mode: "mimic",
    byteBudget: 8 << 20,
  });
  const runaway = (): AnimatedJob => ({ ...meme(), kind: "animated", animation: "reaction", reaction: { bytes: gif, mime: "image/gif" } });

  test("100 jobs stopped mid-work in a row: the process stays up and the next job is served", async () => {
    for (let i = 0; i < 100; i++) {
      // The clock starts when a worker can take the job (as the queue's timer does), not while a
      // replacement worker is still starting.
      while (pool.idle === 0) await new Promise((r) => setTimeout(r, 10));
      const e = await expectRejects(pool.run(runaway(), { requestId: `stop-${i}`, signal: AbortSignal.timeout(STOP_AFTER_MS[i % STOP_AFTER_MS.length]) }));
      expect(e.code).toBe("CANCELLED");
    }
    // Most stops end cooperatively at the next frame or stage; one inside a step that cannot be interrupted
    // (a transfer call, a palette build) outlasts the grace and ends in a killed worker process. Either way
    // this process stays up and the pool serves the next job with its two processes.
    const r = (await pool.run(meme(), { requestId: "after" })) as ImageResult;
    expect(isPng(r.bytes)).toBe(true);
    expect(pool.size).toBe(2);
    // A hang bound: each stop costs a replacement process (fork, loader, models), ~10 s apart at load 19.
  }, 1_800_000);
});
