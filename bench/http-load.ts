/**
 * The playground's real HTTP server with the real pipeline, as `mimic start` runs it, in this process;
 * the requests come from bench/http-client.ts in a separate process. Used by `npm run bench:load --
 * --mode http` (a burst of concurrent memes from one user) and by bench/soak.ts.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { createApp, type App } from "../src/app.ts";
import { startPlayground, type Playground } from "../src/bots/playground/server.ts";
import { loadConfig } from "../src/config.ts";
import type { ClientInput, ClientOutput, ClientRequest } from "./http-client.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
export const FIXTURES = join(root, "test/fixtures/faces");

export interface HttpServer {
  url: string;
  app: App;
  playground: Playground;
  close(): Promise<void>;
}

/** The composition root + playground on a fresh data folder; `env` as the environment would set it. */
export async function startHttpServer(env: Record<string, string> = {}): Promise<HttpServer> {
  const dir = mkdtempSync(join(os.tmpdir(), "mimic-http-bench-"));
  const config = loadConfig({ ...process.env, LOG_LEVEL: "silent", DATA_DIR: dir, DATABASE_URL: `file:${join(dir, "mimic.db")}`, ...env });
  const app = await createApp(config);
  const playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: config.MAX_INPUT_BYTES });
  return {
    url: playground.url,
    app,
    playground,
    async close() {
      await playground.close();
      await app.close({ drainMs: 0 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the requests from a separate process (bench/http-client.ts) and returns its answers. */
export async function runClient(input: ClientInput): Promise<ClientOutput> {
  const dir = mkdtempSync(join(os.tmpdir(), "mimic-http-client-"));
  const file = join(dir, "input.json");
  writeFileSync(file, JSON.stringify(input));
  try {
    const child = spawn(process.execPath, ["--import", "tsx", join(root, "bench/http-client.ts"), file], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    const code = await new Promise<number | null>((res) => child.once("exit", res));
    if (code !== 0) throw new Error(`http client exited with ${code}`);
    return JSON.parse(out) as ClientOutput;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Main-thread event-loop lag over a stretch of time (1 ms sampling: each value is an upper bound by ≤ 1 ms). */
export function lagMonitor() {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  return {
    stop() {
      h.disable();
      return { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
    },
  };
}

export const meme = (fields: Record<string, string> = {}): ClientRequest => ({
  path: "/api/meme",
  fields: { top: "WHEN THE BUILD", bottom: "FINALLY PASSES", ...fields },
  file: { name: "reaction.jpg", mime: "image/jpeg", path: join(FIXTURES, "franck_04117.jpg") },
});

export async function saveFace(url: string): Promise<void> {
  const out = await runClient({
    url,
    concurrency: 1,
    probeMs: 1000,
    requests: [{ path: "/api/faces", fields: { name: "me" }, file: { name: "me.jpg", mime: "image/jpeg", path: join(FIXTURES, "grace_hopper_512x512.jpg") } }],
  });
  if (out.answers[0].code !== "OK") throw new Error(`could not save the face: ${JSON.stringify(out.answers[0])}`);
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "–");
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : Number.NaN;
};

/** Figures of one burst, whatever the front door (HTTP, Discord, Telegram): see bench/load.ts. */
export interface BurstFigures {
  title: string;
  /** 1-minute load average when the burst started. */
  load: number;
  lag: { p50: number; p99: number; max: number };
  /** Time to the first acknowledgement the user sees (bots), p50 / p95 / max in ms. */
  ack?: { p50: number; p95: number; max: number };
  /** `GET /` probe latencies during the burst (HTTP). */
  probesMs?: number[];
  /** The HTTP client's own event-loop lag max (ms): it stalls starting the uploads; the probes run on a thread of their own. */
  clientLagMaxMs?: number;
  /** CPU of the server process over the burst (ms, all its threads; the jobs run in worker processes). */
  serverCpuMs?: number;
  answers: string;
  /** First request sent → last answer received. */
  wallMs?: number;
}

/** `--mode http`: `burst` memes at once from the playground's one user, through the real server. */
export async function httpBurst(burst: number): Promise<BurstFigures> {
  const server = await startHttpServer();
  try {
    await saveFace(server.url);
    await runClient({ url: server.url, concurrency: 1, probeMs: 1000, requests: [meme()] }); // warm-up
    const load = os.loadavg()[0];
    const lag = lagMonitor();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const out = await runClient({ url: server.url, concurrency: burst, probeMs: 20, requests: Array.from({ length: burst }, () => meme()) });
    const wallMs = performance.now() - t0;
    const l = lag.stop();
    const cpu = process.cpuUsage(cpu0);
    const codes = new Map<string, number>();
    for (const a of out.answers) codes.set(`${a.status} ${a.code}`, (codes.get(`${a.status} ${a.code}`) ?? 0) + 1);
    return {
      title: `HTTP (${burst} memes from the playground's one user, real pipeline)`,
      load,
      lag: l,
      probesMs: out.probesMs,
      clientLagMaxMs: out.clientLagMaxMs,
      serverCpuMs: (cpu.user + cpu.system) / 1000,
      answers: [...codes].map(([k, v]) => `${v}× ${k}`).join(", "),
      wallMs,
    };
  } finally {
    await server.close();
  }
}

export async function runHttpBurst(burst: number): Promise<string> {
  const r = await httpBurst(burst);
  const probes = r.probesMs!;
  return [
    `#### HTTP burst: ${burst} concurrent memes from the playground's one user (real server, real pipeline)`,
    "",
    "| metric | value |",
    "|---|---|",
    `| server event-loop lag p50 / p99 / max (ms) | ${f1(r.lag.p50)} / **${f1(r.lag.p99)}** / **${f1(r.lag.max)}** |`,
    `| \`GET /\` during the burst: p50 / p99 / max (ms, ${probes.length} probes) | ${f1(pct(probes, 50))} / ${f1(pct(probes, 99))} / ${f1(Math.max(...probes))} |`,
    `| answers | ${r.answers} |`,
    `| burst wall time (s) | ${f1(r.wallMs! / 1000)} |`,
    `| server process CPU over the burst (ms) | ${f1(r.serverCpuMs!)} |`,
    `| the client process's own event-loop lag max (ms) | ${f1(r.clientLagMaxMs!)} |`,
  ].join("\n");
}
