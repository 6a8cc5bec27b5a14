/**
 * `npx tsx bench/worker-ipc.bench.ts`: what job worker processes cost. (1) Round trip of a job's bytes to a
 * worker process and back (an echo handler), and the longest main-thread stall it causes, for input sizes
 * up to MAX_INPUT_BYTES; (2) RSS of one worker process with the real handlers' models loaded, idle and
 * after a meme; (3) time to replace a killed worker (fork → models loaded → ready).
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { loadConfig } from "../src/config.ts";
import { DEFAULT_HANDLERS, defaultWorkerSettings, workerSettings } from "../src/queue/index.ts";
import type { MemeJob } from "../src/queue/jobs.ts";
import { WorkerPool } from "../src/queue/pool.ts";
import { SPILL_MIN_BYTES } from "../src/queue/spill.ts";

const ECHO = new URL("./worker-echo-handlers.ts", import.meta.url);
const fixture = (f: string) => new Uint8Array(readFileSync(new URL(`../test/fixtures/faces/${f}`, import.meta.url)));
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;
const f1 = (v: number) => v.toFixed(1);
const lines: string[] = [
  `Machine: ${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? "?"}, Node ${process.version}, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, load ${os.loadavg()[0].toFixed(2)}.`,
  "",
  "| job bytes | through the pipe: round trip median / main-thread stall max (ms) | as files (src/queue/spill.ts): round trip median / stall max (ms) |",
  "|---|---|---|",
];

/** Round trips of `mib` out and back through a pool that sends arrays from `spillMinBytes` on as files. */
async function roundTrips(spillMinBytes: number): Promise<Map<number, string>> {
  const echo = new WorkerPool({ size: 1, handlersUrl: ECHO, settings: defaultWorkerSettings(), spillMinBytes });
  await echo.ready();
  const out = new Map<number, string>();
  for (const mib of SIZES) {
    const bytes = new Uint8Array(Math.round(mib * 1048576)).fill(7);
    const times: number[] = [];
    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    for (let i = 0; i < 7; i++) {
      const job: MemeJob = { kind: "meme", template: {}, reaction: { bytes, mime: "image/png" }, captions: {}, intensity: 1, mode: "mimic", byteBudget: 1 << 30 };
      const t0 = performance.now();
      await echo.run(job, { requestId: `ipc-${i}` });
      times.push(performance.now() - t0);
    }
    lag.disable();
    times.sort((a, b) => a - b);
    out.set(mib, `${f1(times[3])} / ${f1(lag.max / 1e6)}`);
  }
  await echo.close();
  return out;
}
const SIZES = [0.3, 1, 5, 25];
const piped = await roundTrips(Number.MAX_SAFE_INTEGER);
const filed = await roundTrips(SPILL_MIN_BYTES);
for (const mib of SIZES) lines.push(`| ${mib} MiB out + ${mib} MiB back | ${piped.get(mib)} | ${filed.get(mib)} |`);

const t0 = performance.now();
const pool = new WorkerPool({ size: 1, handlersUrl: DEFAULT_HANDLERS, settings: workerSettings(loadConfig({ ORT_THREADS: "1", QUEUE_WORKERS: "1" })) });
await pool.ready();
const startMs = performance.now() - t0;
const pid = (pool as unknown as { slots: { child: { pid: number } }[] }).slots[0].child.pid;
const idle = rssMiB(pid);
const r = await pool.run({ kind: "enrol", image: { bytes: fixture("franck_01829.jpg"), mime: "image/jpeg" } }, { requestId: "enrol" });
const template = r.kind === "enrol" ? r.face.data : null;
for (let i = 0; i < 5; i++) {
  await pool.run({ kind: "meme", template, reaction: { bytes: fixture("franck_04117.jpg"), mime: "image/jpeg" }, captions: { top: "HI" }, intensity: 1, mode: "mimic", byteBudget: 8 << 20 }, { requestId: `m${i}` });
}
const busy = rssMiB(pid);
await pool.close();
lines.push(
  "",
  `Worker process with the real handlers (ORT_THREADS=1): start to ready (fork, loader, models) ${f0(startMs)} ms; RSS ${f0(idle)} MiB ready, ${f0(busy)} MiB after an enrolment and 5 memes. Bot process RSS now ${f0(process.memoryUsage().rss / 1048576)} MiB.`,
);
function f0(v: number) {
  return v.toFixed(0);
}
process.stdout.write(`${lines.join("\n")}\n`);
