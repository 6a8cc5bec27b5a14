/**
 * `npm run bench:load [-- options]`: load test of the shared inference queue.
 *
 * N simulated users across K servers (one "busy" server holds half the users) each loop: send a job,
 * wait for the answer, look at it for a while (exponential think time), repeat, for a fixed time.
 * Mix: 90 % PNG memes, 7 % enrolments, 3 % animated. Reports throughput, latency percentiles,
 * BUSY refusals, main-thread event-loop lag (monitorEventLoopDelay), per-server fairness, CPU per job and
 * peak memory of this process AND every process it started (the in-process queue's worker processes; in Redis
 * mode the `mimic worker` processes and theirs), for the in-process queue and for the Redis queue with two
 * `mimic worker` processes.
 *
 *   --users 100 --servers 10 --seconds 30 --think-ms 3000 --mode both|local|redis|http
 *   --burst 200           http mode: that many memes at once from the playground's one user, through the real
 *                         HTTP server (bench/http-load.ts); reports the server's event-loop lag and `GET /` times
 *   --mode discord|telegram  the same burst of /meme through the real discord.js / grammY bot against the fakes
 *                         (bench/bots-burst.ts); --mode bursts: http, discord and telegram in one run, compared
 *   --mix realistic|memes --no-priorities   (default, like QUEUE_CHEAP_FIRST: memes before enrolments before animations)
 *   --handlers real|cpu   real = src/queue/handlers.ts (the pipeline); cpu = the queue tests' CPU handlers
 *   --workers N           worker processes (local) / per `mimic worker` (redis; two of them); default: cores / 2
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { loadConfig } from "../src/config.ts";
import { parseMemeRequest } from "../src/requests.ts";
import { MimicError } from "../src/errors.ts";
import { DEFAULT_HANDLERS, workerSettings } from "../src/queue/index.ts";
import type { InferenceQueue, Job, JobKind } from "../src/queue/jobs.ts";
import { createLocalQueue } from "../src/queue/local.ts";
import { createRedisQueue } from "../src/queue/redis.ts";
import { discordBurst, telegramBurst } from "./bots-burst.ts";
import { httpBurst, runHttpBurst, type BurstFigures } from "./http-load.ts";

const { values: args } = parseArgs({
  options: {
    users: { type: "string", default: "100" },
    servers: { type: "string", default: "10" },
    seconds: { type: "string", default: "30" },
    "think-ms": { type: "string", default: "3000" },
    mode: { type: "string", default: "both" },
    burst: { type: "string", default: "200" },
    handlers: { type: "string", default: "real" },
    workers: { type: "string" },
    mix: { type: "string", default: "realistic" },
    "no-priorities": { type: "boolean", default: false },
    "redis-url": { type: "string", default: process.env.TEST_REDIS_URL ?? process.env.QUEUE_URL ?? "redis://127.0.0.1:6379" },
  },
});

const USERS = Number(args.users);
const SERVERS = Math.max(2, Number(args.servers));
const SECONDS = Number(args.seconds);
const THINK_MS = Number(args["think-ms"]);
const root = fileURLToPath(new URL("..", import.meta.url));
const fixture = (f: string) => new Uint8Array(readFileSync(new URL(`../test/fixtures/faces/${f}`, import.meta.url)));
const CPU_HANDLERS = new URL("../test/queue/fixtures/cpu-handlers.ts", import.meta.url);
const realAvailable = existsSync(fileURLToPath(DEFAULT_HANDLERS));
const handlerChoice = args.handlers === "real" && realAvailable ? "real" : "cpu";
const HANDLERS = handlerChoice === "real" ? DEFAULT_HANDLERS : CPU_HANDLERS;
const config = loadConfig();

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const f0 = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : "–");
const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "–");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const MIXES: Record<string, { label: string; pick: () => JobKind }> = {
  realistic: {
    label: "90 % meme / 7 % enrol / 3 % animated",
    pick: () => {
      const r = Math.random();
      return r < 0.9 ? "meme" : r < 0.97 ? "enrol" : "animated";
    },
  },
  memes: { label: "100 % PNG memes", pick: () => "meme" },
};
const MIX = MIXES[args.mix!] ?? MIXES.realistic;
const CHEAP_FIRST = !args["no-priorities"];
const pickKind = MIX.pick;

const CAPTIONS = [
  { top: "WHEN THE BUILD", bottom: "FINALLY PASSES" },
  { top: "ME", bottom: "READING MY OWN CODE" },
  { bottom: "NOT AGAIN" },
];
const REACTIONS = ["franck_04117.jpg", "franck_02221.jpg", "astronaut.png"].map(fixture);

function makeJob(kind: JobKind, template: unknown): Job {
  const reaction = REACTIONS[Math.floor(Math.random() * REACTIONS.length)];
  if (kind === "enrol") return { kind, image: { bytes: fixture("franck_01829.jpg"), mime: "image/jpeg" } };
  // The fields as the command core makes them: through the front door's request parser.
  const req = parseMemeRequest(CAPTIONS[Math.floor(Math.random() * CAPTIONS.length)]);
  const base = {
    template,
    reaction: { bytes: new Uint8Array(reaction), mime: "image/jpeg" },
    captions: { top: req.top, bottom: req.bottom },
    intensity: req.intensity,
    mode: req.mode,
    byteBudget: 8 << 20,
  };
  return kind === "meme" ? { kind, ...base } : { kind, ...base, animation: "morph" };
}

interface Sample {
  kind: JobKind;
  server: string;
  ms: number;
  /** Completion time, ms since the run started. */
  at: number;
  ok: boolean;
  code?: string;
}

/** USER_HZ on Linux: /proc/<pid>/stat counts CPU time in these ticks. */
const TICK = 100;

/** Fields of /proc/<pid>/stat after the command name (state is [0], ppid [1], utime [11] … cstime [14]); undefined when gone. */
function statFields(pid: number | "self"): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(") ") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/**
 * Every live process started by this one, and by those, and so on: the in-process queue's worker processes,
 * or the `mimic worker` processes and their own workers (and any ffmpeg they run). Read off /proc.
 */
function descendants(): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = Number(statFields(Number(name))?.[1]);
    if (Number.isFinite(ppid)) children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  for (let i = 0, next = children.get(process.pid) ?? []; i < next.length; i++) {
    out.push(next[i]);
    next.push(...(children.get(next[i]) ?? []));
  }
  return out;
}

/**
 * CPU seconds (user + system, all threads) used so far by this process and every process under it: the live
 * ones' own time and that of their children they waited for, plus (in this process's cutime/cstime) the time of
 * those already gone, such as a worker process replaced mid-run. Linux only (undefined elsewhere).
 */
function cpuSeconds(): number | undefined {
  const own = statFields("self");
  if (!own) return undefined;
  const ticks = (f: string[] | undefined) => (f ? Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) : 0);
  return descendants().reduce((sum, pid) => sum + ticks(statFields(pid)), ticks(own)) / TICK;
}

/** The program a process runs (node, esbuild: tsx's compiler beside each TypeScript worker, ffmpeg…). */
function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
}

/** Resident memory of a process (KiB): now (VmRSS) and its peak (VmHWM). */
function memKiB(pid: number | "self"): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return { rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0), hwm: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

async function drive(queue: InferenceQueue, template: unknown) {
  // 1 ms sampling: each value is the timer period plus the lag, so these are upper bounds by ≤ 1 ms.
  const lag = monitorEventLoopDelay({ resolution: 1 });
  const samples: Sample[] = [];
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  lag.enable();
  const mem = memorySampler();
  const cpu0 = cpuSeconds();
  const serverOf = (u: number) => (u < USERS / 2 ? "busy" : `s${1 + (u % (SERVERS - 1))}`);
  await Promise.all(
    Array.from({ length: USERS }, async (_, u) => {
      await sleep(Math.random() * THINK_MS); // users do not all arrive at the same instant
      while (performance.now() < deadline) {
        const kind = pickKind();
        const start = performance.now();
        try {
          await queue.submit(makeJob(kind, template), { requestId: randomUUID(), userId: `user${u}`, serverId: serverOf(u) });
          samples.push({ kind, server: serverOf(u), ms: performance.now() - start, at: performance.now() - t0, ok: true });
        } catch (e) {
          const code = e instanceof MimicError ? e.code : "ERROR";
          samples.push({ kind, server: serverOf(u), ms: performance.now() - start, at: performance.now() - t0, ok: false, code });
          if (code === "BUSY") await sleep(Math.min(2000, ((e as MimicError).retryAfterSeconds ?? 1) * 1000));
        }
        await sleep(-Math.log(1 - Math.random()) * THINK_MS);
      }
    }),
  );
  lag.disable();
  const cpu1 = cpuSeconds();
  const cpu = cpu0 === undefined || cpu1 === undefined ? Number.NaN : cpu1 - cpu0;
  const memory = mem.stop();
  // Users arrive spread over one think time: throughput counts the steady window after that ramp.
  const rampMs = Math.min(THINK_MS, (SECONDS * 1000) / 3);
  const steady = samples.filter((s) => s.at >= rampMs && s.at <= SECONDS * 1000);
  const elapsed = (SECONDS * 1000 - rampMs) / 1000;
  const done = samples.filter((x) => x.ok).length;
  return { cpuMsPerJob: (cpu * 1000) / Math.max(1, done), samples: steady, elapsed, lagP50: lag.percentile(50) / 1e6, lagP99: lag.percentile(99) / 1e6, lagMax: lag.max / 1e6, memory };
}

function report(title: string, r: Awaited<ReturnType<typeof drive>>): string {
  const m = r.memory;
  const MiB = (kib: number) => `${f0(kib / 1024)} MiB`;
  const memes = r.samples.filter((s) => s.kind === "meme" && s.ok);
  const okAll = r.samples.filter((s) => s.ok);
  const busy = r.samples.filter((s) => s.code === "BUSY").length;
  const errors = r.samples.filter((s) => !s.ok && s.code !== "BUSY");
  const lat = memes.map((s) => s.ms);
  const lines = [
    `#### ${title}`,
    "",
    "| metric | value |",
    "|---|---|",
    `| PNG memes/s (sustained) | **${f1(memes.length / r.elapsed)}** |`,
    `| all jobs/s (meme + enrol + animated) | ${f1(okAll.length / r.elapsed)} |`,
    `| meme latency p50 / p95 / p99 (ms) | ${f0(percentile(lat, 50))} / ${f0(percentile(lat, 95))} / **${f0(percentile(lat, 99))}** |`,
    `| enrol p50 / animated p50 (ms) | ${f0(percentile(okAll.filter((s) => s.kind === "enrol").map((s) => s.ms), 50))} / ${f0(percentile(okAll.filter((s) => s.kind === "animated").map((s) => s.ms), 50))} |`,
    `| BUSY refusals / other errors | ${busy} / ${errors.length}${errors.length ? ` (${[...new Set(errors.map((e) => e.code))].join(", ")})` : ""} |`,
    `| main event-loop lag p50 / p99 / max (ms) | ${f1(r.lagP50)} / **${f1(r.lagP99)}** / ${f1(r.lagMax)} |`,
    `| CPU per finished job (this process and the ${m.processes.length} processes under it, all threads) | ${f0(r.cpuMsPerJob)} ms → at most ~${f0((os.availableParallelism() * 1000) / r.cpuMsPerJob)} jobs/s on ${os.availableParallelism()} idle cores |`,
    `| peak RSS: all processes together (sampled sum) | **${MiB(m.peakTotal)}** |`,
    `| peak RSS per process (VmHWM) | this process ${MiB(m.ownPeak)}; under it ${m.processes.map((p) => `${p.name} ${MiB(p.hwm)}`).join(" + ") || "none"} |`,
  ];
  // Fairness: the busy server holds half the users; its users should see the same latency, not starve others.
  const groups = new Map<string, number[]>();
  for (const s of memes) {
    const g = s.server === "busy" ? "busy server (50 % of users)" : "other servers";
    groups.set(g, [...(groups.get(g) ?? []), s.ms]);
  }
  lines.push("", "| fairness (memes) | done | per user /s | p50 ms | p95 ms |", "|---|---|---|---|---|");
  for (const [g, xs] of groups) {
    lines.push(`| ${g} | ${xs.length} | ${f1(xs.length / (USERS / 2) / r.elapsed)} | ${f0(percentile(xs, 50))} | ${f0(percentile(xs, 95))} |`);
  }
  return lines.join("\n");
}

/**
 * Peak memory of this process and every process under it (see descendants), sampled every 250 ms: the peak of
 * their summed VmRSS (shared pages, such as the model files each worker maps, count once per process, so this
 * is an upper bound), and each one's own peak (VmHWM) as last read.
 */
function memorySampler() {
  let peakTotal = 0;
  const peaks = new Map<number, { name: string; hwm: number }>();
  const sample = () => {
    let total = memKiB("self").rss;
    for (const pid of descendants()) {
      const { rss, hwm } = memKiB(pid);
      total += rss;
      if (hwm > 0) peaks.set(pid, { name: peaks.get(pid)?.name ?? commandName(pid), hwm: Math.max(hwm, peaks.get(pid)?.hwm ?? 0) });
    }
    peakTotal = Math.max(peakTotal, total);
  };
  sample();
  const t = setInterval(sample, 250);
  return {
    stop: () => {
      sample();
      clearInterval(t);
      return { peakTotal, ownPeak: memKiB("self").hwm, processes: [...peaks].map(([pid, p]) => ({ pid, ...p })) };
    },
  };
}

/** Makes one template through the queue itself (a real enrol job when the real handlers are used). */
async function templateVia(queue: InferenceQueue): Promise<unknown> {
  const r = await queue.submit(makeJob("enrol", null), { requestId: "warm", userId: "warm", serverId: "warm" });
  return r.kind === "enrol" ? r.face.data : null;
}

async function warm(queue: InferenceQueue, template: unknown, n: number) {
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      queue.submit(makeJob("meme", template), { requestId: `w${i}`, userId: `warm${i}`, serverId: "warm" }).catch(() => undefined),
    ),
  );
}

async function runLocal(): Promise<string> {
  const workers = Number(args.workers ?? config.QUEUE_WORKERS);
  const queue = createLocalQueue({
    workers,
    capacity: config.QUEUE_CAPACITY,
    perUserLimit: 1,
    jobTimeoutMs: config.QUEUE_JOB_TIMEOUT_MS,
    cheapFirst: CHEAP_FIRST,
    handlersUrl: HANDLERS,
    settings: workerSettings({ ...config, QUEUE_WORKERS: workers }),
  });
  await queue.ready();
  const template = await templateVia(queue);
  await warm(queue, template, workers * 4);
  process.stderr.write(`load: in-process, ${workers} worker processes, ${SECONDS} s…\n`);
  const r = await drive(queue, template);
  await queue.close({ drainMs: 5000 });
  return report(`In-process queue, ${workers} worker processes`, r);
}

async function runRedis(): Promise<string> {
  const url = args["redis-url"]!;
  const prefix = `mimicbench:${randomUUID().slice(0, 8)}`;
  const perProcess = Number(args.workers ?? Math.max(1, Math.floor(os.availableParallelism() / 2)));
  const children: ChildProcess[] = [];
  const started = Array.from({ length: 2 }, () => {
    const child = spawn(process.execPath, ["bin/mimic.mjs", "worker", "--handlers", fileURLToPath(HANDLERS)], {
      cwd: root,
      env: {
        ...process.env,
        QUEUE_URL: url,
        QUEUE_PREFIX: prefix,
        QUEUE_WORKERS: String(perProcess),
        // Both processes share this machine's cores: split them, as one process splits them between its threads.
        ORT_THREADS: String(Math.max(1, Math.floor(os.availableParallelism() / 2 / perProcess))),
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    return new Promise<void>((res, rej) => {
      child.stdout!.on("data", (d: Buffer) => String(d).includes("ready") && res());
      child.on("exit", (c) => rej(new Error(`mimic worker exited with ${c}`)));
    });
  });
  await Promise.all(started);
  const queue = createRedisQueue({
    url,
    prefix,
    workers: 0,
    capacity: config.QUEUE_CAPACITY,
    perUserLimit: 1,
    jobTimeoutMs: config.QUEUE_JOB_TIMEOUT_MS,
    cheapFirst: CHEAP_FIRST,
    handlersUrl: HANDLERS,
    resultTtlSeconds: 120,
    maxPayloadBytes: config.QUEUE_MAX_PAYLOAD_BYTES,
  });
  await queue.ready();
  const template = await templateVia(queue);
  await warm(queue, template, perProcess * 8);
  process.stderr.write(`load: redis, 2 \`mimic worker\` processes × ${perProcess} worker processes, ${SECONDS} s…\n`);
  const r = await drive(queue, template);
  await queue.close({ drainMs: 5000 });
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map((c) => new Promise((res) => (c.exitCode !== null ? res(null) : c.once("exit", res)))));
  const redis = new Redis(url);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  return report(`Redis queue, 2 \`mimic worker\` processes × ${perProcess} worker process(es)`, r);
}

/** One column per front door; ratios against the first (HTTP, in `--mode bursts`) from the same run. */
function burstTable(runs: BurstFigures[]): string {
  const base = runs[0];
  const ratio = (v: number, b: number) => `×${(v / b).toFixed(2)}`;
  const row = (label: string, cell: (r: BurstFigures) => string) => `| ${label} | ${runs.map(cell).join(" | ")} |`;
  return [
    `#### Burst of ${args.burst} memes${runs.length > 1 ? "; ratios against the first column, same run" : ""}`,
    "",
    `| | ${runs.map((r) => r.title).join(" | ")} |`,
    `|---|${runs.map(() => "---|").join("")}`,
    row("1-minute load at start", (r) => r.load.toFixed(2)),
    row("event-loop lag p50 / p99 / max (ms)", (r) => `${f1(r.lag.p50)} / **${f1(r.lag.p99)}** / **${f1(r.lag.max)}**`),
    ...(runs.length > 1 ? [row("lag p99 / max against the first column", (r) => `${ratio(r.lag.p99, base.lag.p99)} / ${ratio(r.lag.max, base.lag.max)}`)] : []),
    row("first acknowledgement p50 / p95 / max (ms)", (r) => (r.ack ? `${f0(r.ack.p50)} / **${f0(r.ack.p95)}** / ${f0(r.ack.max)}` : "–")),
    row("`GET /` p50 / p99 / max (ms)", (r) => (r.probesMs ? `${f1(percentile(r.probesMs, 50))} / ${f1(percentile(r.probesMs, 99))} / ${f1(Math.max(...r.probesMs))}` : "–")),
    row("server process CPU over the burst (ms)", (r) => (r.serverCpuMs === undefined ? "–" : f0(r.serverCpuMs))),
    row("HTTP client's own event-loop lag max (ms)", (r) => (r.clientLagMaxMs === undefined ? "–" : f1(r.clientLagMaxMs))),
    row("answers", (r) => r.answers),
    row("burst wall time (s)", (r) => (r.wallMs === undefined ? "–" : f1(r.wallMs / 1000))),
  ].join("\n");
}

async function main() {
  const header = [
    `Machine: ${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? "?"}, Node ${process.version}, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, load ${os.loadavg()[0].toFixed(2)}.`,
    `Load: ${USERS} users across ${SERVERS} servers (one server holds half the users), think time ${THINK_MS} ms (exponential), ${SECONDS} s, mix ${MIX.label}, ${CHEAP_FIRST ? "cheap jobs first" : "no priorities"}.`,
    `Handlers: ${handlerChoice === "real" ? "**real pipeline** (src/queue/handlers.ts)" : `**CPU test handlers** (test/queue/fixtures/cpu-handlers.ts: sharp decode + 256² resize + PNG encode; the real pipeline handlers ${realAvailable ? "were not selected" : "do not exist yet"})`}.`,
  ];
  const parts = [header.join("\n")];
  if (args.mode === "both" || args.mode === "local") parts.push(await runLocal());
  if (args.mode === "both" || args.mode === "redis") parts.push(await runRedis());
  if (args.mode === "http") parts.push(await runHttpBurst(Number(args.burst)));
  if (args.mode === "discord") parts.push(burstTable([await discordBurst(Number(args.burst))]));
  if (args.mode === "telegram") parts.push(burstTable([await telegramBurst(Number(args.burst))]));
  if (args.mode === "bursts") {
    const burst = Number(args.burst);
    parts.push(burstTable([await httpBurst(burst), await discordBurst(burst), await telegramBurst(burst)]));
  }
  process.stdout.write(`${parts.join("\n\n")}\n`);
  process.exit(0);
}

await main();
