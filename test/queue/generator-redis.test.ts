/**
 * Generator routing in Redis mode (TEST_REDIS_URL; CI sets redis://127.0.0.1:6379): a worker advertises its
 * capabilities with its heartbeat; with only a CPU-only worker alive, generator jobs are refused at once
 * while mesh jobs still run.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEFAULT_HANDLERS } from "../../src/queue/index.ts";
import type { ImageResult, MemeJob } from "../../src/queue/jobs.ts";
import { createLocalQueue } from "../../src/queue/local.ts";
import { createRedisQueue, startRedisWorker, type RedisWorkerHandle } from "../../src/queue/redis.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { writeStandIns } from "../../tools/generator/standins.ts";
import { ONE_THREAD, expectRejects } from "./helpers.ts";

const REDIS = process.env.TEST_REDIS_URL;
if (!REDIS) console.warn("test/queue/generator-redis.test.ts skipped: set TEST_REDIS_URL=redis://127.0.0.1:6379");
const face = (f: string) => new Uint8Array(readFileSync(new URL(`../fixtures/faces/${f}`, import.meta.url)));
const root = mkdtempSync(join(tmpdir(), "mimic-gen-redis-"));
writeStandIns(join(root, "models"));
const genSettings = { ...ONE_THREAD, generator: { dir: join(root, "models"), provider: "cpu" as const, threads: 1, cacheDir: join(root, "cache") } };
const prefix = `mimictest:${randomUUID().slice(0, 8)}`;
const base = { workers: 1, capacity: 20, perUserLimit: 1, jobTimeoutMs: 60_000, cheapFirst: false, handlersUrl: DEFAULT_HANDLERS };
const worker = (settings: typeof genSettings | typeof ONE_THREAD) =>
  startRedisWorker({ ...base, settings, url: REDIS!, prefix, resultTtlSeconds: 60, stallMs: 5000 });
const producer = () => createRedisQueue({ ...base, url: REDIS!, prefix, resultTtlSeconds: 60, maxPayloadBytes: 32 << 20 });

let template: EnrolledTemplate;
const meme = (extra: Partial<MemeJob> = {}): MemeJob => ({
  kind: "meme", template, reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" }, captions: {}, intensity: 1, mode: "mimic", byteBudget: 8 << 20, ...extra,
});

describe.skipIf(!REDIS)("generator routing across Redis workers", () => {
  let gpu: RedisWorkerHandle | undefined;
  let cpu: RedisWorkerHandle | undefined;
  beforeAll(async () => {
    const local = createLocalQueue({ ...base, settings: ONE_THREAD });
    await local.ready();
    const r = await local.submit({ kind: "enrol", image: { bytes: face("franck_01829.jpg"), mime: "image/jpeg" } }, { requestId: "e", userId: "u", serverId: "s" });
    template = (r as { face: { data: EnrolledTemplate } }).face.data;
    await local.close({ drainMs: 0 });
    [gpu, cpu] = await Promise.all([worker(genSettings), worker(ONE_THREAD)]);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([gpu?.close({ drainMs: 0 }), cpu?.close({ drainMs: 0 })]);
    const r = new Redis(REDIS!);
    const keys = await r.keys(`${prefix}:*`);
    if (keys.length > 0) await r.del(...keys);
    await r.quit();
    rmSync(root, { recursive: true, force: true });
  });

  test("with only CPU-only workers alive, a generator job is refused at once; mesh jobs still run", async () => {
    await gpu!.close({ drainMs: 0 });
    gpu = undefined;
    const q = producer();
    await q.ready();
    try {
      const e = await expectRejects(q.submit(meme({ generator: "liveportrait" }), { requestId: "x", userId: "x", serverId: "s" }));
      expect(e.details).toMatchObject({ reason: "no-capable-worker", capability: "liveportrait" });
      const r = (await q.submit(meme(), { requestId: "y", userId: "y", serverId: "s" })) as ImageResult;
      expect(r.kind).toBe("meme");
    } finally {
      await q.close({ drainMs: 0 });
    }
  }, 120_000);
});
