/**
 * Generator routing in Redis mode (TEST_REDIS_URL; CI sets redis://127.0.0.1:6379), through the real Redis
 * queue and two real workers in this process: one whose pool loaded stand-in LivePortrait models (written here
 * with our ONNX builder) and so advertises the generator, one mesh-only. Generator jobs reach only the first;
 * mesh jobs run on both; with no capable worker alive a generator job is refused at once.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEFAULT_HANDLERS } from "../../src/queue/index.ts";
import type { ImageResult, InferenceQueue, MemeJob } from "../../src/queue/jobs.ts";
import { createLocalQueue } from "../../src/queue/local.ts";
import { createRedisQueue, startRedisWorker, type RedisWorkerHandle } from "../../src/queue/redis.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { writeStandIns } from "../../tools/generator/standins.ts";
import { ONE_THREAD, expectRejects, isPng } from "./helpers.ts";

const REDIS = process.env.TEST_REDIS_URL;
if (!REDIS) console.warn("test/queue/generator-redis.test.ts skipped: set TEST_REDIS_URL=redis://127.0.0.1:6379");
const face = (f: string) => new Uint8Array(readFileSync(new URL(`../fixtures/faces/${f}`, import.meta.url)));
const root = mkdtempSync(join(tmpdir(), "mimic-gen-redis-"));
writeStandIns(join(root, "models"));
const genSettings = { ...ONE_THREAD, generator: { dir: join(root, "models"), provider: "cpu" as const, threads: 1 } };
const prefix = `mimictest:${randomUUID().slice(0, 8)}`;
const base = { workers: 1, capacity: 20, perUserLimit: 1, jobTimeoutMs: 60_000, cheapFirst: false, handlersUrl: DEFAULT_HANDLERS };
const worker = (settings: typeof genSettings | typeof ONE_THREAD) =>
  startRedisWorker({ ...base, settings, url: REDIS!, prefix, resultTtlSeconds: 60, stallMs: 5000 });

let template: EnrolledTemplate;
const meme = (extra: Partial<MemeJob> = {}): MemeJob => ({
  kind: "meme", template, reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" }, captions: {}, intensity: 1, mode: "mimic", byteBudget: 8 << 20, ...extra,
});
const genStages = (r: ImageResult) => Object.keys(r.timingsMs ?? {}).filter((k) => k.startsWith("gen.")).length;

/** Submits a job and notes which worker started it (the queue's "started" event names the worker). */
function submit(q: InferenceQueue, job: MemeJob, user: string, onStart?: () => void) {
  let worker: string | undefined;
  const result = q.submit(job, {
    requestId: user, userId: user, serverId: "s",
    onProgress: (e) => {
      if (e.type === "started") {
        worker = e.worker;
        onStart?.();
      }
    },
  }) as Promise<ImageResult>;
  return result.then((r) => ({ result: r, worker }));
}

describe.skipIf(!REDIS)("generator routing across Redis workers", () => {
  let gpu: RedisWorkerHandle | undefined;
  let cpu: RedisWorkerHandle | undefined;
  let q: InferenceQueue & { ready(): Promise<void> };
  let redis: Redis;
  beforeAll(async () => {
    const local = createLocalQueue({ ...base, settings: ONE_THREAD });
    try {
      await local.ready();
      const r = await local.submit({ kind: "enrol", image: { bytes: face("franck_01829.jpg"), mime: "image/jpeg" } }, { requestId: "e", userId: "u", serverId: "s" });
      template = (r as { face: { data: EnrolledTemplate } }).face.data;
    } finally {
      await local.close({ drainMs: 0 });
    }
    redis = new Redis(REDIS!);
    q = createRedisQueue({ ...base, url: REDIS!, prefix, resultTtlSeconds: 60, maxPayloadBytes: 32 << 20 });
    await q.ready();
    [gpu, cpu] = await Promise.all([worker(genSettings), worker(ONE_THREAD)]);
  }, 180_000);
  /** Jobs claimed by some worker and not finished: the claim marks a job's hash "running", the result deletes it. */
  async function runningJobs(): Promise<number> {
    const keys = await redis.keys(`${prefix}:job:*`);
    const states = await Promise.all(keys.map((k) => redis.hget(k, "state")));
    return states.filter((st) => st === "running").length;
  }
  afterAll(async () => {
    await q?.close({ drainMs: 0 });
    await Promise.all([gpu?.close({ drainMs: 0 }), cpu?.close({ drainMs: 0 })]);
    if (redis) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
    rmSync(root, { recursive: true, force: true });
  });

  test("generator jobs run only on the worker with the models, though the CPU-only worker is idle; mesh jobs all run", async () => {
    const gen = ["g1", "g2", "g3"].map((u) => submit(q, meme({ generator: "liveportrait" }), u));
    const mesh = ["m1", "m2", "m3"].map((u) => submit(q, meme(), u));
    for (const { result, worker } of await Promise.all(gen)) {
      expect(worker).toBe(gpu!.id);
      expect(isPng(result.bytes)).toBe(true);
      expect(genStages(result)).toBeGreaterThan(0);
    }
    for (const { result, worker } of await Promise.all(mesh)) {
      expect([gpu!.id, cpu!.id]).toContain(worker);
      expect(genStages(result)).toBe(0);
    }
  }, 120_000);

  test("alone, the generator worker serves mesh jobs too, and holds no more jobs than its one process", async () => {
    await cpu!.close({ drainMs: 0 });
    cpu = undefined;
    // A mesh job submitted while the worker's one process runs a generator job must not be claimed (a claimed
    // job's hash is "running") until the generator job's result is stored (its hash is gone).
    let mesh: ReturnType<typeof submit> | undefined;
    let runningAtMeshStart: Promise<number> | undefined;
    const gen = await submit(q, meme({ generator: "liveportrait" }), "g4", () => {
      mesh = submit(q, meme(), "m4", () => (runningAtMeshStart = runningJobs()));
    });
    expect(gen.worker).toBe(gpu!.id);
    const served = await mesh!;
    expect(served.worker).toBe(gpu!.id);
    expect(genStages(served.result)).toBe(0);
    expect(await runningAtMeshStart).toBeLessThanOrEqual(1);
  }, 120_000);

  test("with only CPU-only workers alive, a generator job is refused at once; mesh jobs still run there", async () => {
    cpu = await worker(ONE_THREAD);
    await gpu!.close({ drainMs: 0 });
    gpu = undefined;
    const e = await expectRejects(q.submit(meme({ generator: "liveportrait" }), { requestId: "x", userId: "x", serverId: "s" }));
    expect(e.details).toMatchObject({ reason: "no-capable-worker", capability: "liveportrait" });
    const served = await submit(q, meme(), "y");
    expect(served.worker).toBe(cpu.id);
  }, 120_000);
});
