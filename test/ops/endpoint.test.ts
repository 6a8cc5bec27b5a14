import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { startApp, type RunningApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { CommandContext } from "../../src/core/index.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";
import { TEST_HANDLERS, expectRejects, memeJob } from "../queue/helpers.ts";

const GATED = new URL("../bots/gated-handlers.ts", import.meta.url);

const dirs: string[] = [];
let running: RunningApp | undefined;

afterEach(async () => {
  await running?.stop();
  running = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(env: Record<string, string>, handlers?: URL): Promise<RunningApp> {
  const dir = mkdtempSync(join(tmpdir(), "mimic-ops-"));
  dirs.push(dir);
  const config = loadConfig({ DATA_DIR: dir, PLAYGROUND_PORT: "0", QUEUE_WORKERS: "1", LOG_LEVEL: "silent", ...env });
  running = await startApp(config, { handlers, onFatal: () => {} });
  return running;
}

const get = (r: RunningApp, path: string) => fetch(`${r.ops!.url}${path}`);

/** The value of one sample line of the Prometheus text, e.g. `mimic_jobs_total{kind="meme",outcome="done"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** /readyz until it answers 200 (the worker processes load the models at start-up); the test's timeout bounds a hang. */
async function readyBody(r: RunningApp): Promise<{ status: string; checks: Record<string, string> }> {
  for (;;) {
    const res = await get(r, "/readyz");
    if (res.status === 200) return (await res.json()) as { status: string; checks: Record<string, string> };
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

const ctx = (userId: string): CommandContext => ({
  platform: "playground",
  userId,
  serverId: null,
  channelId: null,
  isAdmin: true,
  requestId: `ops-${userId}`,
  attachmentLimitBytes: 8 << 20,
});

describe("ops endpoint", () => {
  it("is off unless OPS_PORT is set", async () => {
    const r = await start({});
    expect(r.ops).toBeUndefined();
    expect(r.app.metrics).toBeUndefined();
  });

  it("a request target that is not a URL gets 400 and the process keeps serving (it used to throw out of the handler)", async () => {
    const r = await start({ OPS_PORT: "0" });
    const { port } = new URL(r.ops!.url);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpGet({ host: "127.0.0.1", port, path: "http://[" }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
    });
    expect(answer).toEqual({ status: 400, body: "bad request target\n" });
    expect((await get(r, "/healthz")).status).toBe(200);
  });

  it("serves health, readiness and metrics of real jobs through the real pipeline", async () => {
    const r = await start({ OPS_PORT: "0", DAILY_QUOTA_PER_USER: "1", COOLDOWN_SECONDS: "0" });
    expect(r.ops!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(r.ops!.url).not.toBe(r.playground!.url.replace(/\/$/, ""));

    const health = await get(r, "/healthz");
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    expect(await readyBody(r)).toEqual({ status: "ready", checks: { models: "ok", database: "ok", queue: "ok", storage: "ok", shutdown: "ok" } });

    const saved = await r.app.core.faceSave(ctx("u1"), { name: "me", image: { kind: "bytes", bytes: FACE_JPG } });
    expect(saved.errorCode).toBeUndefined();
    const meme = await r.app.core.meme(ctx("u1"), { image: { kind: "bytes", bytes: REACTION_LAUGH_JPG }, top: "ops" });
    expect(meme.errorCode).toBeUndefined();
    // DAILY_QUOTA_PER_USER=1: the second meme is refused before any work.
    const refused = await r.app.core.meme(ctx("u1"), { image: { kind: "bytes", bytes: REACTION_LAUGH_JPG } });
    expect(refused.errorCode).toBe("QUOTA_EXCEEDED");

    // A channel the server's list leaves out is no ban: counted by its own reason.
    const inServer = (userId: string, channelId: string): CommandContext => ({ ...ctx(userId), platform: "discord", serverId: "s1", channelId, isAdmin: userId === "admin" });
    expect((await r.app.core.config(inServer("admin", "c1"), { key: "channel", value: "add 2002" })).errorCode).toBeUndefined();
    expect((await r.app.core.meme(inServer("u2", "c1"), { image: { kind: "bytes", bytes: REACTION_LAUGH_JPG } })).errorCode).toBe("FORBIDDEN");
    expect((await r.app.core.config(inServer("admin", "2002"), { key: "ban", value: "9" })).errorCode).toBeUndefined();
    expect((await r.app.core.meme(inServer("9", "2002"), { image: { kind: "bytes", bytes: REACTION_LAUGH_JPG } })).errorCode).toBe("FORBIDDEN");
    // Nor is a swap where the admins switched swaps off.
    expect((await r.app.core.faceSave(inServer("u4", "2002"), { name: "me", image: { kind: "bytes", bytes: FACE_JPG } })).errorCode).toBeUndefined();
    expect((await r.app.core.config(inServer("admin", "2002"), { key: "swap", value: "off" })).errorCode).toBeUndefined();
    expect((await r.app.core.meme(inServer("u4", "2002"), { image: { kind: "bytes", bytes: REACTION_LAUGH_JPG }, mode: "swap" })).errorCode).toBe("FORBIDDEN");

    const res = await get(r, "/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(sample(text, 'mimic_jobs_total{kind="enrol",outcome="done"}')).toBe(2);
    expect(sample(text, 'mimic_jobs_total{kind="meme",outcome="done"}')).toBe(1);
    expect(sample(text, 'mimic_queue_wait_seconds_count{kind="meme"}')).toBe(1);
    expect(sample(text, 'mimic_job_duration_seconds_count{kind="meme",outcome="done"}')).toBe(1);
    for (const stage of ["decode", "analyze", "transfer", "render"]) {
      expect(sample(text, `mimic_pipeline_stage_seconds_count{kind="meme",stage="${stage}"}`), stage).toBe(1);
    }
    // One worker process: it loaded the models once (before its first job, which reported it).
    expect(sample(text, "mimic_model_load_seconds_count")).toBe(1);
    expect(sample(text, "mimic_model_load_seconds_sum")).toBeGreaterThan(0);
    expect(sample(text, 'mimic_refusals_total{reason="quota"}')).toBe(1);
    expect(sample(text, 'mimic_refusals_total{reason="channel"}')).toBe(1);
    expect(sample(text, 'mimic_refusals_total{reason="banned"}')).toBe(1);
    expect(sample(text, 'mimic_refusals_total{reason="swap_off"}')).toBe(1);
    // All five memes were checked before their picture was read (the second, over the quota, and the three
    // refused went no further), the one made again before it was sent, and both face saves before their photo.
    expect(sample(text, 'mimic_db_duration_seconds_count{op="moderation.check",outcome="ok"}')).toBe(8);
    expect(sample(text, 'mimic_db_duration_seconds_count{op="moderation.admit",outcome="ok"}')).toBe(3);
    expect(sample(text, 'mimic_db_duration_seconds_count{op="templates.save",outcome="ok"}')).toBe(2);
    expect(sample(text, "mimic_queue_depth")).toBe(0);
    expect(sample(text, "mimic_queue_workers")).toBe(1);
    expect(sample(text, "nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
    expect(sample(text, "nodejs_eventloop_lag_p99_seconds")).toBeGreaterThanOrEqual(0);

    expect((await get(r, "/nope")).status).toBe(404);
    expect((await fetch(`${r.ops!.url}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("counts timed-out, failed and refused jobs by outcome and reason", async () => {
    const r = await start({ OPS_PORT: "0", QUEUE_JOB_TIMEOUT_MS: "300", QUEUE_CAPACITY: "1", QUEUE_PER_USER: "5" }, TEST_HANDLERS);
    await readyBody(r);
    const opts = (n: number) => ({ requestId: `j${n}`, userId: "u", serverId: "s" });
    expect((await expectRejects(r.app.queue.submit(memeJob("spin:60000"), opts(1)))).code).toBe("TIMEOUT");
    expect((await expectRejects(r.app.queue.submit(memeJob("fail"), opts(2)))).code).toBe("NO_FACE");
    // One running (it holds the only worker), one waiting (capacity 1), the third is turned away. Each is
    // submitted once the one before has reached its place (a replaced worker may still be starting).
    const progressed = (type: "started" | "queued", n: number) => {
      let reached!: () => void;
      const at = new Promise<void>((ok) => (reached = ok));
      return { at, opts: { ...opts(n), onProgress: (e: { type: string }) => e.type === type && reached() } };
    };
    const first = progressed("started", 3);
    const running = r.app.queue.submit(memeJob("spin:60000"), first.opts);
    await first.at;
    const second = progressed("queued", 4);
    const waiting = r.app.queue.submit(memeJob("spin:60000"), second.opts);
    await second.at;
    const full = await expectRejects(r.app.queue.submit(memeJob(), opts(5)));
    expect(full.code).toBe("BUSY");
    const text = await (await get(r, "/metrics")).text();
    expect(sample(text, 'mimic_jobs_total{kind="meme",outcome="timeout"}')).toBe(1);
    // A picture without a face is the user's, not Mimic's failure: an alert on "failed" stays quiet.
    expect(sample(text, 'mimic_jobs_total{kind="meme",outcome="rejected_input"}')).toBe(1);
    expect(text).not.toContain('mimic_jobs_total{kind="meme",outcome="failed"}');
    expect(sample(text, 'mimic_jobs_total{kind="meme",outcome="refused"}')).toBe(1);
    expect(sample(text, 'mimic_refusals_total{reason="queue_full"}')).toBe(1);
    expect(sample(text, "mimic_queue_depth")).toBe(1);
    expect(sample(text, "mimic_queue_running")).toBe(1);
    await Promise.allSettled([running, waiting]);
    const after = await (await get(r, "/metrics")).text();
    expect(sample(after, 'mimic_jobs_total{kind="meme",outcome="timeout"}')).toBe(3);
  });

  it("stays up through the drain at shutdown: /healthz answers, /readyz says shutdown, the drain's counters are scraped", async () => {
    // The job is held at a gate (test/bots/gated-handlers.ts) for as long as the checks take.
    const gates = mkdtempSync(join(tmpdir(), "mimic-ops-gate-"));
    dirs.push(gates);
    process.env.MIMIC_TEST_GATE_DIR = gates;
    onTestFinished(() => void delete process.env.MIMIC_TEST_GATE_DIR);
    const r = await start({ OPS_PORT: "0" }, GATED);
    await readyBody(r);
    // Two held jobs: the second keeps the drain going while the first one's count is scraped.
    const job = r.app.queue.submit(memeJob("gate:drain"), { requestId: "drain", userId: "d", serverId: null });
    while (!existsSync(join(gates, "drain.started"))) await new Promise((ok) => setTimeout(ok, 10));
    const last = r.app.queue.submit(memeJob("gate:last"), { requestId: "last", userId: "e", serverId: null });
    const stopped = r.stop();
    // While the job drains.
    expect((await get(r, "/healthz")).status).toBe(200);
    const ready = await get(r, "/readyz");
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.shutdown).toBe("Mimic is shutting down");
    // A meme asked of the playground now is turned away, and counted; the page itself is no request for work.
    const page = r.playground!.url.replace(/\/$/, "");
    expect((await fetch(`${page}/api/meme`, { method: "POST", body: "x" })).status).toBe(503);
    expect((await fetch(`${page}/`)).status).toBe(503);
    expect(sample(await (await get(r, "/metrics")).text(), 'mimic_refusals_total{reason="shutting_down"}')).toBe(1);
    writeFileSync(join(gates, "drain.open"), "");
    expect((await job).kind).toBe("meme");
    // The drained job is counted where a scrape still sees it.
    expect(sample(await (await get(r, "/metrics")).text(), 'mimic_jobs_total{kind="meme",outcome="done"}')).toBe(1);
    writeFileSync(join(gates, "last.open"), "");
    expect((await last).kind).toBe("meme");
    await stopped;
    await expect(get(r, "/healthz")).rejects.toThrow();
  });

  it("reports not ready, naming the check, when the database fails", async () => {
    const r = await start({ OPS_PORT: "0" }, TEST_HANDLERS);
    await readyBody(r);
    // Another process breaks the database under the running app: its queries now fail.
    const db = new Database(join(r.app.config.DATA_DIR, "mimic.db"));
    db.exec("ALTER TABLE users RENAME TO users_gone");
    db.close();
    const res = await get(r, "/readyz");
    expect(res.status).toBe(503);
    const body = (await res.json()) as { status: string; checks: Record<string, string> };
    expect(body.status).toBe("not ready");
    expect(body.checks.database).not.toBe("ok");
    expect(body.checks.queue).toBe("ok");
    expect((await get(r, "/healthz")).status).toBe(200);
  });

  it("refuses a taken port with a configuration error", async () => {
    const first = await start({ OPS_PORT: "0" }, TEST_HANDLERS);
    const port = new URL(first.ops!.url).port;
    const dir = mkdtempSync(join(tmpdir(), "mimic-ops-"));
    dirs.push(dir);
    const config = loadConfig({ DATA_DIR: dir, PLAYGROUND_PORT: "0", QUEUE_WORKERS: "1", LOG_LEVEL: "silent", OPS_PORT: port });
    const err = await expectRejects(startApp(config, { handlers: TEST_HANDLERS, onFatal: () => {} }));
    expect(err.code).toBe("CONFIG");
    expect(err.userMessage).toContain(`OPS_PORT`);
    expect(err.userMessage).toBe(`Port ${port} on 127.0.0.1 is in use: set OPS_PORT to a free port.`);
  });

  it.each([
    ["a name that does not resolve", "no.such.host.invalid", /^The ops endpoint cannot listen on no\.such\.host\.invalid \((ENOTFOUND|EAI_AGAIN)\): set OPS_HOST to an address of this machine, e\.g\. 127\.0\.0\.1\.$/],
    ["an address of another machine", "192.0.2.1", /^The ops endpoint cannot listen on 192\.0\.2\.1 \(EADDRNOTAVAIL\): set OPS_HOST to an address of this machine/],
  ])("a wrong OPS_HOST (%s) is named as the setting to change, not OPS_PORT", async (_, host, message) => {
    const dir = mkdtempSync(join(tmpdir(), "mimic-ops-"));
    dirs.push(dir);
    const config = loadConfig({ DATA_DIR: dir, PLAYGROUND_PORT: "0", QUEUE_WORKERS: "1", LOG_LEVEL: "silent", OPS_PORT: "9464", OPS_HOST: host });
    const err = await expectRejects(startApp(config, { handlers: TEST_HANDLERS, onFatal: () => {} }));
    expect(err.code).toBe("CONFIG");
    expect(err.userMessage).toMatch(message);
    expect(err.userMessage).not.toContain("OPS_PORT");
  });
});
