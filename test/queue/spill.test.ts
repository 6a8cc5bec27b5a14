/**
 * Large inputs and results travel between the pool and its worker processes as files (src/queue/spill.ts),
 * not through the IPC pipe, and the files are always deleted: after a result, a refusal, a cancellation the
 * handler honours, a worker killed for ignoring it, and when the pool closes.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { defaultWorkerSettings } from "../../src/queue/index.ts";
import type { ImageResult, MemeJob } from "../../src/queue/jobs.ts";
import { WorkerPool } from "../../src/queue/pool.ts";
import { SPILL_MIN_BYTES } from "../../src/queue/spill.ts";
import { TEST_HANDLERS, expectRejects, isPng, memeJob } from "./helpers.ts";

const base = existsSync("/dev/shm") ? "/dev/shm" : (await import("node:os")).tmpdir();
const poolDirs = () => readdirSync(base).filter((d) => d.startsWith(`mimic-jobs-${process.pid}-`));
const filesIn = (dir: string) => readdirSync(join(base, dir));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until the pool's folder is empty; returns what is left. */
async function drained(dir: string): Promise<string[]> {
  for (let i = 0; i < 100 && filesIn(dir).length > 0; i++) await sleep(50);
  return filesIn(dir);
}

describe("large inputs go to workers as files, and the files never stay", () => {
  let pool: WorkerPool;
  let dir: string;
  let big: Uint8Array;
  const job = (top?: string): MemeJob => ({ ...memeJob(top), reaction: { bytes: big, mime: "image/png" } });

  beforeAll(async () => {
    // A noisy 700×700 PNG: well over SPILL_MIN_BYTES.
    const noise = new Uint8Array(700 * 700 * 3).map(() => Math.floor(Math.random() * 256));
    big = new Uint8Array(await sharp(noise, { raw: { width: 700, height: 700, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer());
    expect(big.byteLength).toBeGreaterThan(SPILL_MIN_BYTES);
    const before = new Set(poolDirs());
    // 1 KiB: the test handlers' 256² PNG results travel as files too.
    pool = new WorkerPool({ size: 1, handlersUrl: TEST_HANDLERS, settings: defaultWorkerSettings(), spillMinBytes: 1024, cancelGraceMs: 200 });
    dir = poolDirs().find((d) => !before.has(d))!;
    expect(dir).toBeDefined();
    await pool.ready();
  });
  afterAll(() => pool?.close());

  test("a result: the input was a file while the job ran, the result comes back whole, nothing is left", async () => {
    const running = pool.run(job("spin:400"), { requestId: "ok" });
    let seen: string[] = [];
    for (let i = 0; i < 40 && seen.length === 0; i++) {
      await sleep(10);
      seen = filesIn(dir);
    }
    expect(seen.some((f) => /^job-\d+-in-\d+$/.test(f))).toBe(true);
    const r = (await running) as ImageResult;
    expect(isPng(r.bytes)).toBe(true);
    expect([r.width, r.height]).toEqual([256, 256]);
    expect((await sharp(r.bytes).metadata()).width).toBe(256);
    expect(await drained(dir)).toEqual([]);
  });

  test("a refusal from the handler", async () => {
    expect((await expectRejects(pool.run(job("fail"), { requestId: "no" }))).code).toBe("NO_FACE");
    expect(await drained(dir)).toEqual([]);
  });

  test("a cancellation the handler honours, and one it ignores (its worker killed)", async () => {
    for (const top of ["spin:5000", "deaf:5000"]) {
      const ac = new AbortController();
      const p = pool.run(job(top), { requestId: top, signal: ac.signal });
      await sleep(300);
      ac.abort();
      expect((await expectRejects(p)).code).toBe("CANCELLED");
      expect(await drained(dir), top).toEqual([]);
    }
    expect(pool.killed).toBe(1);
    // The replacement worker serves the next job from a file as well.
    await pool.ready();
    expect(((await pool.run(job(), { requestId: "after" })) as ImageResult).width).toBe(256);
    expect(await drained(dir)).toEqual([]);
  });

  test("closing the pool removes its folder; a dead process's folder goes when the next pool starts", async () => {
    const stale = join(base, "mimic-jobs-999999999-test");
    mkdirSync(stale, { recursive: true });
    const other = new WorkerPool({ size: 1, handlersUrl: TEST_HANDLERS, settings: defaultWorkerSettings() });
    expect(existsSync(stale)).toBe(false);
    const mine = poolDirs();
    await other.close();
    expect(poolDirs().length).toBe(mine.length - 1);
  });
});
