import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createQueue, workerSettings } from "../../src/queue/index.ts";
import { TEST_HANDLERS, expectRejects, memeJob } from "./helpers.ts";
import { createRedisQueue } from "../../src/queue/redis.ts";

const REDIS = process.env.TEST_REDIS_URL;
const root = fileURLToPath(new URL("../..", import.meta.url));

describe("createQueue and configuration", () => {
  test("in-process by default, sized from the configuration", async () => {
    const config = loadConfig({ QUEUE_WORKERS: "1", QUEUE_CAPACITY: "7" });
    const q = createQueue(config, { handlers: TEST_HANDLERS });
    await expect(q.submit(memeJob(), { requestId: "r", userId: "u", serverId: "s" })).resolves.toMatchObject({ kind: "meme" });
    expect(await q.stats()).toMatchObject({ mode: "local", workers: 1, capacity: 7, completed: 1 });
    await q.close();
  });

  test("onnxruntime threads are split between worker processes, never below one", () => {
    const threads = (env: Record<string, string>) => workerSettings(loadConfig(env)).analyzer.threads;
    expect(threads({ QUEUE_WORKERS: "2", ORT_THREADS: "2" })).toBe(1);
    expect(threads({ QUEUE_WORKERS: "2", ORT_THREADS: "8" })).toBe(4);
    expect(threads({ QUEUE_WORKERS: "4", ORT_THREADS: "2" })).toBe(1);
  });

  test("bad queue settings are refused at start-up with the variable named", () => {
    expect(() => loadConfig({ QUEUE_PER_USER: "0" })).toThrow(/QUEUE_PER_USER/);
    expect(() => loadConfig({ QUEUE_PREFIX: "has space" })).toThrow(/QUEUE_PREFIX/);
    expect(loadConfig({ QUEUE_CHEAP_FIRST: "true" }).QUEUE_CHEAP_FIRST).toBe(true);
    expect(loadConfig({}).QUEUE_CHEAP_FIRST).toBe(true);
    expect(loadConfig({ QUEUE_CHEAP_FIRST: "false" }).QUEUE_CHEAP_FIRST).toBe(false);
  });

  test("`mimic worker` without QUEUE_URL says what is missing and exits 2", () => {
    const env = { ...process.env };
    delete env.QUEUE_URL;
    const r = spawnSync(process.execPath, ["bin/mimic.mjs", "worker"], { cwd: root, env, encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/mimic worker needs QUEUE_URL/);
  });

  test.skipIf(!REDIS)("with QUEUE_URL the same interface runs on Redis; a job nobody takes times out", async () => {
    const prefix = `mimictest:create-${process.pid}`;
    const q = createQueue(loadConfig({ QUEUE_URL: REDIS, QUEUE_PREFIX: prefix }), { handlers: TEST_HANDLERS });
    expect(await q.stats()).toMatchObject({ mode: "redis", workers: 0 });
    await q.close({ drainMs: 0 });
    const short = createRedisQueue({
      url: REDIS!, prefix, workers: 1, capacity: 5, perUserLimit: 1, jobTimeoutMs: 1000, cheapFirst: false,
      handlersUrl: TEST_HANDLERS, resultTtlSeconds: 30, maxPayloadBytes: 4 << 20, maxWaitMs: 1000,
      // Taken although no worker runs (as with workers scaled to zero): the wait limit answers.
      noWorkerGraceMs: Infinity,
    });
    const e = await expectRejects(short.submit(memeJob(), { requestId: "r", userId: "u", serverId: "s" }));
    expect(e.code).toBe("TIMEOUT");
    expect(e.userMessage).toMatch(/No worker was free/);
    expect((await short.stats()).waiting).toBe(0);
    await short.close({ drainMs: 0 });
    const redis = new Redis(REDIS!);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  test.skipIf(!REDIS)("a Redis queue closed before it finished connecting leaves no unhandled rejection", async () => {
    // Regression: the events subscription, still in flight, rejected with "Connection is closed" on close().
    const unhandled: unknown[] = [];
    const record = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", record);
    try {
      for (let i = 0; i < 5; i++) {
        const q = createRedisQueue({
          url: REDIS!, prefix: `mimictest:early-close-${process.pid}`, workers: 1, capacity: 5, perUserLimit: 1,
          jobTimeoutMs: 1000, cheapFirst: false, handlersUrl: TEST_HANDLERS, resultTtlSeconds: 30,
          maxPayloadBytes: 1 << 20, maxWaitMs: 1000,
        });
        await q.close({ drainMs: 0 });
      }
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      process.off("unhandledRejection", record);
    }
    expect(unhandled.map(String)).toEqual([]);
  });
});
