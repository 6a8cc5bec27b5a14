/**
 * QUEUE_NO_WORKER_GRACE_MS through the configuration: `off` keeps requests waiting for a worker (workers
 * scaled to zero, started on queue depth) with /readyz still passing; a number sets how soon requests are
 * refused once the last worker left. Real Redis (TEST_REDIS_URL), the real app and queue built from
 * loadConfig, workers in this process with the CPU test handlers.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, test } from "vitest";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { MimicError } from "../../src/errors.ts";
import { startOpsServer } from "../../src/ops/index.ts";
import { createQueue } from "../../src/queue/index.ts";
import type { ImageResult, ProgressEvent } from "../../src/queue/jobs.ts";
import { startRedisWorker, type RedisWorkerHandle } from "../../src/queue/redis.ts";
import { TEST_HANDLERS, deleteRedisPrefixes, expectRejects, isPng, memeJob, redisQueueOptions } from "./helpers.ts";
import { within } from "../helpers/within.ts";

const REDIS = process.env.TEST_REDIS_URL;
if (!REDIS) console.warn("test/queue/no-worker-grace.test.ts skipped: set TEST_REDIS_URL=redis://127.0.0.1:6379");

const prefixes: string[] = [];
const dirs: string[] = [];
const newPrefix = () => {
  const p = `mimictest:grace-${randomUUID().slice(0, 8)}`;
  prefixes.push(p);
  return p;
};
const worker = (prefix: string): Promise<RedisWorkerHandle> => startRedisWorker({ ...redisQueueOptions(REDIS!, prefix), stallMs: 2000 });

describe.skipIf(!REDIS)("QUEUE_NO_WORKER_GRACE_MS (Redis mode)", () => {
  afterAll(async () => {
    await deleteRedisPrefixes(REDIS!, prefixes);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("off: a request sent while no worker has ever run waits, /readyz stays ready, and the worker that starts serves it", async () => {
    const prefix = newPrefix();
    const dir = mkdtempSync(join(tmpdir(), "mimic-grace-"));
    dirs.push(dir);
    const app = await createApp(
      loadConfig({ LOG_LEVEL: "silent", DATA_DIR: dir, QUEUE_URL: REDIS, QUEUE_PREFIX: prefix, QUEUE_NO_WORKER_GRACE_MS: "off", OPS_PORT: "0" }),
      { handlers: TEST_HANDLERS },
    );
    const ops = await startOpsServer({ host: "127.0.0.1", port: 0, metrics: app.metrics!, checks: app.readiness! });
    const readyz = async () => {
      const res = await fetch(`${ops.url}/readyz`, { signal: AbortSignal.timeout(30_000) });
      return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
    };
    let w: RedisWorkerHandle | undefined;
    try {
      const events: ProgressEvent[] = [];
      let markQueued!: () => void;
      const queued = new Promise<void>((res) => (markQueued = res));
      const job = app.queue.submit(memeJob(), {
        requestId: "grace-off",
        userId: "u1",
        serverId: "s1",
        onProgress: (e) => {
          events.push(e);
          if (e.type === "queued") markQueued();
        },
      });
      const settled = job.then(() => "served", (e: MimicError) => e);
      // Refused, it would settle before it is queued.
      await within(20_000, Promise.race([queued, settled.then((r) => Promise.reject(new Error(`not kept waiting: ${String(r)}`)))]));
      const ready = await readyz();
      expect(ready.status).toBe(200);
      expect(ready.body.checks.queue).toBe("ok");
      // Several of the queue's once-a-second checks for workers pass: it is still waiting, not refused.
      await sleep(2500);
      expect(await Promise.race([settled, sleep(0).then(() => "waiting")])).toBe("waiting");
      expect((await app.queue.stats()).workers).toBe(0);

      w = await worker(prefix);
      expect(isPng(((await within(60_000, job)) as ImageResult).bytes)).toBe(true);
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["queued", "started", "done"]));
    } finally {
      await w?.close({ drainMs: 0 });
      await ops.close();
      await app.close({ drainMs: 0 });
    }
  }, 120_000);

  test("0: a request sent just after the last worker stopped is refused at once, not taken for the default 30 s", async () => {
    const prefix = newPrefix();
    const w = await worker(prefix);
    await w.close({ drainMs: 0 });
    const q = createQueue(loadConfig({ LOG_LEVEL: "silent", QUEUE_URL: REDIS, QUEUE_PREFIX: prefix, QUEUE_NO_WORKER_GRACE_MS: "0" }), { handlers: TEST_HANDLERS });
    try {
      // Within the default grace (30 s) it would have been taken and left waiting.
      const e = await within(10_000, expectRejects(q.submit(memeJob(), { requestId: "grace-0", userId: "u2", serverId: "s1" })));
      expect(e.code).toBe("BUSY");
      expect(e.details).toMatchObject({ reason: "no-workers", prefix });
      expect((await q.stats()).waiting).toBe(0);
    } finally {
      await q.close({ drainMs: 0 });
    }
  }, 60_000);
});
