/**
 * Load generator for the playground's HTTP API, run in its own process (bench/http-load.ts and
 * bench/soak.ts fork it) so that its own work never shows up in the server's event-loop lag.
 *
 * Input on argv[2] (JSON): { url, requests: [{ path, fields, file? }], concurrency, probeMs }.
 * `file` is { path } (read from disk) or { base64 }. While requests run, it probes `GET /` every
 * probeMs (from a thread of its own) and reports those latencies too. Prints one JSON line: per-request { status, code, ms } and probes.
 */
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";

export interface ClientRequest {
  path: string;
  /** Default POST (a multipart form of `fields` and `file`). */
  method?: "GET" | "POST";
  fields?: Record<string, string>;
  file?: { name: string; mime: string; path?: string; base64?: string };
  /** Instead of a form: this body with this content type. */
  raw?: { contentType: string; base64: string };
  /** Leave out the playground page's own header (a cross-site request). */
  noCsrfHeader?: boolean;
  /** A label for reports (e.g. which hostile input this is). */
  tag?: string;
}
export interface ClientInput {
  url: string;
  requests: ClientRequest[];
  concurrency: number;
  probeMs: number;
}
export interface ClientAnswer {
  status: number;
  /** errorCode of the JSON body, "OK" for a success, "NOT_JSON" / "NETWORK" when the answer was not one. */
  code: string;
  ms: number;
  bytes: number;
}
export interface ClientOutput {
  answers: ClientAnswer[];
  probesMs: number[];
  /** When each probe started, ms after the requests began. */
  probesAtMs: number[];
  /** This process's own event-loop lag max (ms) while it sent: a slow probe may be the client's. */
  clientLagMaxMs: number;
  wallMs: number;
}

const fileCache = new Map<string, Uint8Array>();
function fileBytes(f: NonNullable<ClientRequest["file"]>): Uint8Array {
  if (f.base64 !== undefined) return Buffer.from(f.base64, "base64");
  let b = fileCache.get(f.path!);
  if (!b) fileCache.set(f.path!, (b = readFileSync(f.path!)));
  return b;
}

function bodyOf(r: ClientRequest): { body?: FormData | Uint8Array; headers: Record<string, string> } {
  const headers: Record<string, string> = { origin: "" };
  if (!r.noCsrfHeader) headers["x-mimic"] = "1";
  if ((r.method ?? "POST") === "GET") return { headers };
  if (r.raw) return { body: Buffer.from(r.raw.base64, "base64"), headers: { ...headers, "content-type": r.raw.contentType } };
  const form = new FormData();
  for (const [k, v] of Object.entries(r.fields ?? {})) form.append(k, v);
  if (r.file) form.append("image", new Blob([fileBytes(r.file)], { type: r.file.mime }), r.file.name);
  return { body: form, headers };
}

async function send(base: URL, r: ClientRequest): Promise<ClientAnswer> {
  const { body, headers } = bodyOf(r);
  headers.origin = base.origin;
  const t0 = performance.now();
  try {
    const res = await fetch(new URL(r.path, base), { method: r.method ?? "POST", body, headers });
    const text = await res.text();
    let code = "NOT_JSON";
    try {
      const body = JSON.parse(text) as { ok?: boolean; errorCode?: string };
      code = body.ok ? "OK" : (body.errorCode ?? "NO_CODE");
    } catch {
      // stays NOT_JSON
    }
    return { status: res.status, code, ms: performance.now() - t0, bytes: text.length };
  } catch {
    return { status: 0, code: "NETWORK", ms: performance.now() - t0, bytes: 0 };
  }
}

/**
 * The `GET /` prober runs on a thread of its own: on this thread, starting hundreds of uploads at once
 * (FormData encoding, new sockets) stalls the event loop for hundreds of ms, and a probe issued then
 * measured the client's stall, not the server's answer (see bench/README.md, HTTP burst).
 */
const PROBER = `
const { parentPort, workerData } = require("node:worker_threads");
const abs = () => performance.timeOrigin + performance.now();
let stop = false;
parentPort.on("message", () => (stop = true));
(async () => {
  const get = () => fetch(workerData.url, { headers: { "x-mimic": "1" } }).then((r) => r.arrayBuffer()).catch(() => undefined);
  await get(); // loads undici in this thread and opens a connection
  parentPort.postMessage({ ready: true });
  const ms = [], at = [];
  while (!stop) {
    const t0 = abs();
    await get();
    ms.push(abs() - t0);
    at.push(t0);
    await new Promise((r) => setTimeout(r, workerData.probeMs));
  }
  parentPort.postMessage({ ms, at });
})();
`;

async function main(input: ClientInput): Promise<ClientOutput> {
  const base = new URL(input.url);
  const answers: ClientAnswer[] = new Array(input.requests.length);
  const prober = new Worker(PROBER, { eval: true, workerData: { url: base.href, probeMs: input.probeMs } });
  const message = () => new Promise<{ ready?: boolean; ms?: number[]; at?: number[] }>((r) => prober.once("message", r));
  await message(); // ready
  // This process's first fetch loads and compiles undici lazily: done before the clock starts.
  await fetch(base, { headers: { "x-mimic": "1" } }).then((r) => r.arrayBuffer()).catch(() => undefined);
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const startAbs = performance.timeOrigin + performance.now();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(input.concurrency, input.requests.length) }, async () => {
      for (let i = next++; i < input.requests.length; i = next++) answers[i] = await send(base, input.requests[i]);
    }),
  );
  const wallMs = performance.now() - t0;
  lag.disable();
  const result = message();
  prober.postMessage("stop");
  const { ms = [], at = [] } = await result;
  await prober.terminate();
  // Probes from the burst's start on (the prober began a little earlier).
  const during = at.map((a, i) => ({ at: a - startAbs, ms: ms[i] })).filter((p) => p.at >= 0);
  return { answers, probesMs: during.map((p) => p.ms), probesAtMs: during.map((p) => p.at), clientLagMaxMs: lag.max / 1e6, wallMs };
}

if (process.argv[2]) {
  const out = await main(JSON.parse(readFileSync(process.argv[2], "utf8")) as ClientInput);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
