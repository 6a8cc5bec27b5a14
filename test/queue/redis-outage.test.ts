/**
 * Redis missing or going away. Start-up refuses with a message naming QUEUE_URL (no Redis needed for that);
 * with a real Redis (TEST_REDIS_URL) behind a TCP relay that this test cuts, a queue whose Redis went away
 * refuses new jobs with a clear BUSY and still closes.
 */
import { randomUUID } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, test } from "vitest";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { MimicError } from "../../src/errors.ts";
import { createRedisQueue } from "../../src/queue/redis.ts";
import { TEST_HANDLERS, expectRejects, memeJob, redisQueueOptions } from "./helpers.ts";
import { closedPort } from "../helpers/net.ts";

const REDIS = process.env.TEST_REDIS_URL;
const root = fileURLToPath(new URL("../..", import.meta.url));

/** A TCP relay to `target` (host:port) that can be cut: its sockets are destroyed and it stops listening. */
async function relay(target: URL): Promise<{ url: string; cut(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => s.destroy());
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = new URL(target);
  url.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: url.toString(),
    async cut() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
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
