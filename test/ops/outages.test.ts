/**
 * The ops endpoint while a dependency is away: /metrics still answers (Prometheus would otherwise read Mimic
 * as down) with the queue gauges left out and the failure counted, and /readyz names a database failure in
 * one clean line instead of Prisma's multi-line report.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { startApp, type RunningApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { ModerationPort, TemplatePort } from "../../src/core/ports.ts";
import { MimicError } from "../../src/errors.ts";
import { createCore } from "../../src/core/index.ts";
import { countTurnedAway, createMetrics, observePorts, observeQueue, startOpsServer, type OpsServer } from "../../src/ops/index.ts";
import { memoryPorts, testContext } from "../core/doubles.ts";
import { REACTION_LAUGH_JPG } from "../core/images.ts";
import { createRedisQueue } from "../../src/queue/redis.ts";
import { TEST_HANDLERS, redisQueueOptions } from "../queue/helpers.ts";
import { closedPort } from "../helpers/net.ts";

const PG_URL = process.env.TEST_DATABASE_URL;

const dirs: string[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The value of one sample line of the Prometheus text. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function start(env: Record<string, string>): Promise<RunningApp> {
  const dir = mkdtempSync(join(tmpdir(), "mimic-ops-outage-"));
  dirs.push(dir);
  const config = loadConfig({ DATA_DIR: dir, PLAYGROUND_PORT: "0", QUEUE_WORKERS: "1", LOG_LEVEL: "silent", OPS_PORT: "0", ...env });
  const running = await startApp(config, { handlers: TEST_HANDLERS, onFatal: () => {} });
  cleanups.push(() => running.stop());
  return running;
}

type Readiness = { status: string; checks: Record<string, string> };

async function readyz(r: RunningApp): Promise<{ status: number; body: Readiness }> {
  const res = await fetch(`${r.ops!.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness };
}

/** /readyz until it answers 200 (the worker process loads at start-up); the test's timeout bounds a hang. */
async function ready(r: RunningApp): Promise<void> {
  while ((await readyz(r)).status !== 200) await new Promise((ok) => setTimeout(ok, 50));
}

/** A "Redis" that accepts connections and never answers (a hung server, or a network that drops replies). */
async function silentPort(): Promise<number> {
  const sockets = new Set<Socket>();
  const s = createServer((c) => {
    sockets.add(c);
    c.on("error", () => c.destroy());
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  cleanups.push(async () => {
    const closed = new Promise<void>((r) => s.close(() => r()));
    for (const c of sockets) c.destroy();
    await closed;
  });
  return (s.address() as AddressInfo).port;
}

describe("/metrics with the queue's Redis unreachable", () => {
  it.each([
    ["refuses connections", closedPort],
    ["never answers", silentPort],
  ])("Redis %s: answers 200 with the other metrics, leaves the queue gauges out and counts the failure", async (_, redisPort) => {
    const port = await redisPort();
    const queue = createRedisQueue(redisQueueOptions(`redis://127.0.0.1:${port}`, `mimictest:${randomUUID().slice(0, 8)}`));
    cleanups.push(() => queue.close({ drainMs: 0 }));
    const metrics = createMetrics();
    observeQueue(queue, metrics);
    metrics.refusals.inc({ reason: "quota" });
    const ops: OpsServer = await startOpsServer({ host: "127.0.0.1", port: 0, metrics, checks: {} });
    cleanups.push(() => ops.close());

    // The signal bounds a hang (a scrape waiting for Redis forever), it measures nothing.
    const res = await fetch(`${ops.url}/metrics`, { signal: AbortSignal.timeout(60_000) });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(sample(text, 'mimic_refusals_total{reason="quota"}')).toBe(1);
    expect(sample(text, "nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
    // One failed read per scrape, however many gauges wanted it.
    expect(sample(text, "mimic_queue_stats_errors_total")).toBe(1);
    for (const gauge of ["mimic_queue_depth", "mimic_queue_running", "mimic_queue_capacity", "mimic_queue_workers"]) {
      expect(text).toContain(`# TYPE ${gauge} gauge`);
      expect(sample(text, gauge), gauge).toBeUndefined();
    }
  });
});

describe("/readyz names a database failure in one line", () => {
  it("SQLite: the table another process broke", async () => {
    const r = await start({});
    await ready(r);
    const db = new Database(join(r.app.config.DATA_DIR, "mimic.db"));
    db.exec("ALTER TABLE users RENAME TO users_gone");
    db.close();
    const { status, body } = await readyz(r);
    expect(status).toBe(503);
    expect(body.checks.database).toBe("The table `main.users` does not exist in the current database.");
  });

  it.skipIf(!PG_URL)("PostgreSQL: the database gone from under the running app", async () => {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    cleanups.push(() => admin.end());
    const name = `mimic_readyz_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    await admin.query(`CREATE DATABASE ${name}`);
    cleanups.push(() => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    const url = new URL(PG_URL!);
    url.pathname = `/${name}`;
    const r = await start({ DATABASE_URL: url.toString() });
    await ready(r);
    await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    const { status, body } = await readyz(r);
    expect(status).toBe(503);
    expect(body.checks.database).toBe(`Database \`${name}\` does not exist on the database server`);
    expect(body.checks.queue).toBe("ok");
  });
});

describe("the watch for lost requests in the metrics", () => {
  it("a busy database during its upkeep is a database error, never a request turned away", async () => {
    const busy = () => Promise.reject(new MimicError("BUSY", "busy"));
    const metrics = createMetrics();
    const { moderation } = observePorts(
      { templates: {} as TemplatePort, moderation: { admit: busy, renewPending: busy, releasePending: busy, takeAbandoned: busy } as unknown as ModerationPort },
      metrics,
    );
    for (const call of [() => moderation.admit({ platform: "telegram", userId: "1", serverId: null, channelId: null }, "meme"), () => moderation.renewPending!(), () => moderation.releasePending!(), () => moderation.takeAbandoned!("telegram")]) {
      await expect(call()).rejects.toThrow("busy");
    }
    const ops: OpsServer = await startOpsServer({ host: "127.0.0.1", port: 0, metrics, checks: {} });
    cleanups.push(() => ops.close());
    const text = await (await fetch(`${ops.url}/metrics`)).text();
    // The request's BUSY only.
    expect(sample(text, 'mimic_refusals_total{reason="busy"}')).toBe(1);
    expect(sample(text, 'mimic_db_duration_seconds_count{op="moderation.admit",outcome="ok"}')).toBe(1);
    for (const op of ["renewPending", "releasePending", "takeAbandoned"]) {
      expect(sample(text, `mimic_db_duration_seconds_count{op="moderation.${op}",outcome="error"}`), op).toBe(1);
    }
  });
});


describe("the core's own refusals in the metrics", () => {
  it("a request that gives up waiting for its user's earlier one (which seems stuck) is counted as user_busy", async () => {
    const metrics = createMetrics();
    const ports = memoryPorts();
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    const core = createCore(ports, {
      maxInputBytes: 1 << 20,
      turnWaitMs: 50,
      onTurnedAway: countTurnedAway(metrics),
      // The first request's download hangs, holding its user's turn.
      fetch: async () => (await stuck, new Response(Buffer.from(REACTION_LAUGH_JPG), { headers: { "content-type": "image/jpeg" } })),
    });
    const ctx = testContext({ userId: "7" });
    expect((await core.faceSave(ctx, { name: "me", image: { kind: "bytes", bytes: REACTION_LAUGH_JPG } })).errorCode).toBeUndefined();
    const image = { kind: "url" as const, url: "https://cdn.example/r.jpg" };
    const first = core.meme(ctx, { image });
    const second = await core.meme({ ...ctx, requestId: "r2" }, { image });
    expect(second).toMatchObject({ errorCode: "BUSY", text: expect.stringMatching(/^You already have a request in progress/) });
    release();
    expect((await first).errorCode).toBeUndefined();
    const ops: OpsServer = await startOpsServer({ host: "127.0.0.1", port: 0, metrics, checks: {} });
    cleanups.push(() => ops.close());
    expect(sample(await (await fetch(`${ops.url}/metrics`)).text(), 'mimic_refusals_total{reason="user_busy"}')).toBe(1);
  });
});
