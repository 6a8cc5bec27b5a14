/**
 * Redis missing or going away. Start-up refuses with a message naming QUEUE_URL (no Redis needed for that);
 * with a real Redis (TEST_REDIS_URL) behind a TCP relay that this test cuts, a queue whose Redis went away
 * refuses new jobs with a clear BUSY and still closes; one that stops answering (connections kept open) refuses
 * them too instead of leaving them unanswered; a worker told to stop while Redis is away still exits; and Redis
 * losing its data does not make the front end give up on workers that are running.
 */
import { randomUUID } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterEach, describe, expect, test, vi } from "vitest";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { MimicError } from "../../src/errors.ts";
import { createMetrics, observeQueue } from "../../src/ops/index.ts";
import type { ImageResult } from "../../src/queue/jobs.ts";
import { createRedisQueue, startRedisWorker } from "../../src/queue/redis.ts";
import { TEST_HANDLERS, expectRejects, isPng, memeJob, redisQueueOptions } from "./helpers.ts";
import { closedPort } from "../helpers/net.ts";
import { within } from "../helpers/within.ts";

const REDIS = process.env.TEST_REDIS_URL;
const root = fileURLToPath(new URL("../..", import.meta.url));

interface Relay {
  url: string;
  /** Redis gone: its connections are dropped and new ones refused. */
  cut(): Promise<void>;
  /** Redis back on the same address. */
  restore(): Promise<void>;
  /** Redis stops answering but keeps its connections open (a stopped server, a partition): nothing is forwarded. */
  stall(): void;
  /** What was held back is forwarded, in order, and forwarding goes on. */
  resume(): void;
}

/** A TCP relay to `target` (host:port) that can be cut, restored on the same port, stalled and resumed. */
async function relay(target: URL): Promise<Relay> {
  const sockets = new Set<Socket>();
  let stalled = false;
  const held: Array<[Socket, Buffer]> = [];
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => s.destroy());
      s.on("close", () => {
        sockets.delete(s);
        (s === client ? upstream : client).destroy();
      });
    }
    const forward = (from: Socket, to: Socket) => from.on("data", (d: Buffer) => (stalled ? held.push([to, d]) : to.write(d)));
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const url = new URL(target);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    async cut() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    async restore() {
      await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    },
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const [to, d] of held.splice(0)) if (!to.destroyed) to.write(d);
    },
  };
}

describe("Redis unreachable at start-up", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  test("QUEUE_URL must be a redis:// URL", () => {
    let err: unknown;
    try {
      loadConfig({ QUEUE_URL: "http://127.0.0.1:6379" });
    } catch (e) {
      err = e;
    }
    expect((err as MimicError).userMessage).toMatch(/QUEUE_URL="http:\/\/127\.0\.0\.1:6379": must be a redis:\/\/ or rediss:\/\/ URL/);
    // A password in a bad URL is not repeated.
    const masked = (() => {
      try {
        loadConfig({ QUEUE_URL: "http://mimic:s3cret@127.0.0.1:6379" });
      } catch (e) {
        return (e as MimicError).userMessage;
      }
    })();
    expect(masked).toContain('QUEUE_URL="http://mimic:***@127.0.0.1:6379"');
    expect(masked).not.toContain("s3cret");
  });

  test("the app refuses to start, naming QUEUE_URL (password hidden), and leaves its store closed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mimic-outage-"));
    dirs.push(dir);
    const port = await closedPort();
    const config = loadConfig({ LOG_LEVEL: "silent", DATA_DIR: dir, QUEUE_URL: `redis://:secret@127.0.0.1:${port}` });
    const e = await expectRejects(createApp(config, { handlers: TEST_HANDLERS }));
    expect(e.code).toBe("CONFIG");
    expect(e.userMessage).toMatch(new RegExp(`^Could not reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} \\(QUEUE_URL\\): .*ECONNREFUSED.*\\. Start Redis, correct QUEUE_URL, or leave it unset`));
    expect(e.userMessage).not.toContain("secret");
    // The store was closed: the same database opens again at once.
    const again = await createApp(loadConfig({ LOG_LEVEL: "silent", DATA_DIR: dir }), { handlers: TEST_HANDLERS });
    await again.close({ drainMs: 0 });
  }, 60_000);

  test("`mimic worker` says so and exits (the real CLI), without a stack trace", async () => {
    const port = await closedPort();
    const child = spawn(process.execPath, ["bin/mimic.mjs", "worker", "--handlers", fileURLToPath(TEST_HANDLERS)], {
      cwd: root,
      env: { ...process.env, QUEUE_URL: `redis://127.0.0.1:${port}`, QUEUE_WORKERS: "1", LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    expect(code).not.toBe(0);
    expect(err).toMatch(/Could not reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(QUEUE_URL\)/);
    expect(err).not.toMatch(/\n\s+at /);
  }, 120_000);
});

describe.skipIf(!REDIS)("Redis going away under a running queue (real Redis behind a relay)", () => {
  test("new jobs are refused as BUSY 'queue unreachable', and the queue still closes", async () => {
    const link = await relay(new URL(REDIS!));
    // No worker runs (and the queue takes jobs all the same): this job waits in Redis when the link is cut.
    const q = createRedisQueue({ ...redisQueueOptions(link.url, `mimictest:${randomUUID().slice(0, 8)}`), noWorkerGraceMs: Infinity });
    await q.ready();
    const waiting = q.submit(memeJob(), { requestId: "r-wait", userId: "u1", serverId: "s1" });
    waiting.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    await link.cut();
    const refused = await expectRejects(q.submit(memeJob(), { requestId: "r-new", userId: "u2", serverId: "s1" }));
    expect(refused.code).toBe("BUSY");
    expect(refused.userMessage).toBe("Mimic cannot reach its job queue right now. Please try again in a minute.");
    expect(refused.details).toMatchObject({ reason: "queue-unreachable" });
    await q.close({ drainMs: 100 });
    const told = await expectRejects(waiting);
    expect(told.code).toBe("BUSY");
  }, 60_000);
});

/** Deletes a test prefix's keys: what a restart without persistence does to one deployment (other prefixes are left alone). */
async function dropKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
}

describe.skipIf(!REDIS)("Redis stalling, restarting and away while workers stop (real Redis behind a relay)", () => {
  test("Redis stops answering but keeps the connection open: a new request is told the queue is unreachable, counted as queue_unreachable", async () => {
    const link = await relay(new URL(REDIS!));
    const raw = createRedisQueue({ ...redisQueueOptions(link.url, `mimictest:${randomUUID().slice(0, 8)}`), noWorkerGraceMs: Infinity });
    const metrics = createMetrics();
    const q = observeQueue(raw, metrics);
    try {
      await raw.ready();
      link.stall();
      // The bound is for a hang: before, the request waited for as long as Redis stalled.
      const e = await within(30_000, expectRejects(q.submit(memeJob(), { requestId: "r-stall", userId: "u1", serverId: "s1" })));
      expect(e.code).toBe("BUSY");
      expect(e.userMessage).toBe("Mimic cannot reach its job queue right now. Please try again in a minute.");
      expect(e.details).toMatchObject({ reason: "queue-unreachable" });
      const text = await metrics.registry.metrics();
      // Not "queue_full": that reason's alert says to add workers, which would not help.
      expect(text).toMatch(/^mimic_refusals_total\{reason="queue_unreachable"\} 1$/m);
      expect(text).not.toContain('reason="queue_full"');
    } finally {
      link.resume();
      await raw.close({ drainMs: 0 });
      await link.cut();
    }
  }, 60_000);

  test("`mimic worker` sent SIGTERM while Redis is down exits (the real CLI)", async () => {
    const link = await relay(new URL(REDIS!));
    const prefix = `mimictest:${randomUUID().slice(0, 8)}`;
    const child = spawn(process.execPath, ["bin/mimic.mjs", "worker", "--handlers", fileURLToPath(TEST_HANDLERS), "--drain-ms", "1000"], {
      cwd: root,
      env: { ...process.env, QUEUE_URL: link.url, QUEUE_PREFIX: prefix, QUEUE_WORKERS: "1", LOG_LEVEL: "error" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (out += d));
    const exited = new Promise<number | null>((r) => child.on("exit", r));
    const redis = new Redis(REDIS!);
    try {
      await vi.waitFor(() => expect(out).toMatch(/mimic worker \S+ ready/), { timeout: 60_000, interval: 50 });
      await link.cut();
      child.kill("SIGTERM");
      // The bound is for a hang: before, the worker waited for Redis forever, and once it was back went on
      // renewing its heartbeat (counted as a live worker) without taking a job.
      expect(await within(30_000, exited), out).toBe(0);
    } finally {
      child.kill("SIGKILL");
      await link.cut();
      await dropKeys(redis, prefix);
      await redis.quit();
    }
  }, 120_000);

  test("Redis loses its data (restarted without persistence) while a worker runs a job: that job and a request sent at once are both served", async () => {
    const prefix = `mimictest:${randomUUID().slice(0, 8)}`;
    const redis = new Redis(REDIS!);
    const w = await startRedisWorker({ ...redisQueueOptions(REDIS!, prefix), stallMs: 2000 });
    // The default no-worker grace (30 s): the worker re-registers within seconds, well inside it.
    const q = createRedisQueue(redisQueueOptions(REDIS!, prefix));
    try {
      await q.ready();
      let markStarted!: () => void;
      const started = new Promise<void>((res) => (markStarted = res));
      const running = q.submit(memeJob("spin:3000"), { requestId: "r-run", userId: "u1", serverId: "s1", onProgress: (e) => e.type === "started" && markStarted() });
      await started;
      await dropKeys(redis, prefix);
      // Before, an empty list of workers read as "none for ever": this was refused with "No Mimic worker is
      // running", and the running job was given up at the next check.
      const fresh = q.submit(memeJob(), { requestId: "r-new", userId: "u2", serverId: "s1" });
      expect(isPng(((await within(60_000, running)) as ImageResult).bytes)).toBe(true);
      expect(isPng(((await within(60_000, fresh)) as ImageResult).bytes)).toBe(true);
    } finally {
      await w.close({ drainMs: 0 });
      await q.close({ drainMs: 0 });
      await dropKeys(redis, prefix);
      await redis.quit();
    }
  }, 120_000);
});
