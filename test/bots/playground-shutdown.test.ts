import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startApp, type RunningApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { EnrolResult } from "../../src/queue/jobs.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { enrolDouble } from "../core/doubles.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";

/**
 * Stopping Mimic (SIGTERM/SIGINT → RunningApp.stop) while the playground has work in flight: the real app
 * (startApp), the real HTTP server, store and queue, with handlers whose jobs wait at gates the test opens
 * (gated-handlers.ts), so no step depends on how fast anything runs. The test whose held jobs wait the drain
 * out runs with a short SHUTDOWN_DRAIN_MS, its drain starting once the job it lets finish has answered.
 */
const GATED_HANDLERS = new URL("./gated-handlers.ts", import.meta.url);
const headers = { "X-Mimic": "1" };
const SHUTTING_DOWN = { ok: false, errorCode: "BUSY", text: "Mimic is shutting down. Please try again in a minute." };

let dir: string;
let gates: string;
const apps: RunningApp[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mimic-pg-stop-"));
  gates = join(dir, "gates");
  mkdirSync(gates);
  // The queue's worker processes inherit it when they are forked (at start).
  process.env.MIMIC_TEST_GATE_DIR = gates;
});
afterEach(async () => {
  // Whatever a failed test left held goes on.
  for (const g of ["enrol", "a", "b", "c", "x"]) writeFileSync(join(gates, `${g}.open`), "");
  for (const a of apps.splice(0)) await a.stop();
  delete process.env.MIMIC_TEST_GATE_DIR;
  rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}): Promise<RunningApp> {
  const config = loadConfig({ DATA_DIR: join(dir, "data"), PLAYGROUND_PORT: "0", QUEUE_WORKERS: "1", QUEUE_PER_USER: "5", LOG_LEVEL: "silent", ...env });
  const running = await startApp(config, { handlers: GATED_HANDLERS, onFatal: () => {} });
  apps.push(running);
  return running;
}

/** The queue's drain starts only once `until` has resolved, so a short drain cannot race what the test waits for first. */
function drainAfter(r: RunningApp, until: Promise<unknown>): void {
  // A wait that fails must not keep the queue open: the test fails on what it checks.
  const held = until.catch(() => undefined);
  const queue = r.app.queue;
  const close = queue.close.bind(queue);
  queue.close = async (opts) => {
    await held;
    await close(opts);
  };
}

const url = (r: RunningApp, path: string) => new URL(path, r.playground!.url);
const open = (gate: string) => writeFileSync(join(gates, `${gate}.open`), "");
/** Until the job behind `gate` runs on the worker (the test's timeout bounds a hang). */
const started = (gate: string) => vi.waitFor(() => expect(existsSync(join(gates, `${gate}.started`))).toBe(true), { timeout: 60_000, interval: 20 });

function form(fields: Record<string, string | Uint8Array>): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, typeof v === "string" ? v : new Blob([v], { type: "image/jpeg" }));
  return f;
}

/** The answer a request gets once the playground has stopped taking work, or the error it fails with. */
async function answer(r: RunningApp, path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url(r, path), { ...init, headers: { ...headers, ...init.headers } });
  return { status: res.status, body: await res.json() };
}

/** An NDJSON meme stream read line by line: `until` reads up to a line that matches, `rest` to the end. */
function stream(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const lines: Record<string, unknown>[] = [];
  let buffered = "";
  let done = false;
  const more = async () => {
    const chunk = await reader.read();
    done = chunk.done;
    buffered += decoder.decode(chunk.value ?? new Uint8Array(), { stream: !done });
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
    }
  };
  return {
    lines,
    async until(test: (line: Record<string, unknown>) => boolean) {
      while (!lines.some(test)) {
        if (done) throw new Error(`the stream ended first: ${JSON.stringify(lines)}`);
        await more();
      }
    },
    /** Every line to the end; a stream the server cut off rejects (as the page's fetch would fail). */
    async rest() {
      while (!done) await more();
      return lines;
    },
  };
}

const event = (type: string) => (l: Record<string, unknown>) => l.type === "progress" && (l.event as { type: string }).type === type;

async function meme(r: RunningApp, gate: string) {
  const res = await fetch(url(r, "/api/meme"), {
    method: "POST",
    headers: { ...headers, accept: "application/x-ndjson" },
    body: form({ image: REACTION_LAUGH_JPG, top: `gate:${gate}` }),
  });
  expect(res.status).toBe(200);
  return stream(res);
}

/** The playground's one local user has a face (the double's), saved straight into the store. */
async function withFace(r: RunningApp): Promise<void> {
  const enrolled = (await enrolDouble({ bytes: FACE_JPG })) as EnrolResult;
  await r.app.store.templates.save({ platform: "playground", userId: "local" }, "me", enrolled.face.data as EnrolledTemplate);
}

describe("playground: stopping Mimic answers the requests in flight", () => {
  it("a face save running when stop() is called completes, its client gets the success reply, and the face is there after a restart", async () => {
    const r = await start();
    const saving = answer(r, "/api/faces", { method: "POST", body: form({ photo: FACE_JPG, name: "kept" }) });
    await started("enrol");

    const stopped = r.stop();
    open("enrol");

    const saved = await saving;
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({ ok: true, text: expect.stringMatching(/^Saved your face “kept”/) });
    await stopped;

    const again = await start();
    const list = (await answer(again, "/api/faces")).body as { templates: { name: string }[] };
    expect(list.templates.map((t) => t.name)).toEqual(["kept"]);
  }, 120_000);

  it("a running meme gets its result; jobs the drain cannot finish get the queue's shutting-down reply; no stream ends without a reply", async () => {
    const r = await start({ SHUTDOWN_DRAIN_MS: "1000" });
    await withFace(r);
    // One worker: `a` runs, `b` and `c` wait behind it.
    const a = await meme(r, "a");
    await a.until(event("started"));
    const b = await meme(r, "b");
    await b.until(event("queued"));
    const c = await meme(r, "c");
    await c.until(event("queued"));
    drainAfter(r, a.until((l) => l.type === "reply"));

    const stopped = r.stop();
    // `a` finishes (the drain starts once it has answered); `b` and `c` never may: one of them runs until the
    // drain ends, the other waits until then.
    open("a");

    const reply = (lines: Record<string, unknown>[]) => {
      const last = lines.at(-1)!;
      expect(last.type).toBe("reply");
      return last.reply as { ok: boolean; text: string; errorCode?: string; file?: { mime: string } };
    };
    expect(reply(await a.rest())).toMatchObject({ ok: true, text: expect.stringMatching(/^Here you go/), file: { mime: "image/png" } });
    for (const s of [b, c]) {
      const lines = await s.rest();
      expect(reply(lines)).toMatchObject({ ok: false, errorCode: "BUSY", text: "Mimic is restarting. Please try again in a minute." });
      // The progress line says so too, before the reply.
      expect(lines).toContainEqual({ type: "progress", event: { type: "failed", message: "Mimic is restarting. Please try again in a minute." } });
    }
    await stopped;
  }, 120_000);

  it("after stop() begins, new requests get 503 at once, on a new or a kept-alive connection; once stopped, connections are refused", async () => {
    const r = await start();
    await withFace(r);
    const port = Number(new URL(r.playground!.url).port);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const viaAgent = (path: string) =>
      new Promise<{ status: number; body: unknown; reused: boolean }>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, path, agent, headers }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), reused: req.reusedSocket }));
        });
        req.on("error", reject);
        req.end();
      });
    try {
      expect(await viaAgent("/api/usage")).toMatchObject({ status: 200, reused: false });
      const held = await meme(r, "x");
      await held.until(event("started"));

      const stopped = r.stop();
      expect(await viaAgent("/api/usage")).toEqual({ status: 503, body: SHUTTING_DOWN, reused: true });
      expect(await answer(r, "/")).toEqual({ status: 503, body: SHUTTING_DOWN });
      // An upload too: read and refused, not reset.
      expect(await answer(r, "/api/meme", { method: "POST", body: form({ image: REACTION_LAUGH_JPG }) })).toEqual({ status: 503, body: SHUTTING_DOWN });

      open("x");
      expect((await held.rest()).at(-1)).toMatchObject({ type: "reply", reply: { ok: true } });
      await stopped;
      await expect(fetch(url(r, "/api/usage"), { headers })).rejects.toThrow();
    } finally {
      agent.destroy();
    }
  }, 120_000);
});
