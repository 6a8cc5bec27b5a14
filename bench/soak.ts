/**
 * `npx tsx bench/soak.ts [--requests 2000] [--concurrency 8]`: a bounded soak of the playground's real HTTP
 * server with the real pipeline. Mixed traffic (memes, morph GIFs, face saves, lists) with hostile inputs
 * among it (non-images, truncated and oversized files, huge declared dimensions, bad and unknown fields,
 * cross-site requests, unknown routes). Records: crashes (the server process is this process; worker
 * processes are counted by PID), answers outside the documented outcomes, and RSS (server + worker
 * processes) after warm-up and at the end. Exits 1 when a check fails.
 */
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { deflateSync } from "node:zlib";
import sharp from "sharp";
import type { ClientAnswer, ClientRequest } from "./http-client.ts";
import { FIXTURES, lagMonitor, runClient, saveFace, startHttpServer } from "./http-load.ts";

/** Every answer the playground documents: a JSON reply with one of these codes (never INTERNAL), or 404 "Not found.". */
const DOCUMENTED_CODES = new Set([
  "OK", "BAD_INPUT", "NOT_AN_IMAGE", "IMAGE_TOO_LARGE", "NO_FACE", "FACE_UNUSABLE", "NOT_FOUND", "LIMIT_REACHED",
  "QUOTA_EXCEEDED", "COOLDOWN", "FORBIDDEN", "DISABLED", "BUSY", "TIMEOUT", "CANCELLED",
]);
const DOCUMENTED_STATUS = new Set([200, 400, 403, 422]);
/** What a well-formed meme or morph may get besides OK (load, not input). */
const VALID_OUTCOMES = new Set(["OK", "BUSY", "TIMEOUT"]);

const MAX_UPLOAD = 3 * 1024 * 1024;
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const file = (name: string, mime: string, bytes: Uint8Array) => ({ name, mime, base64: b64(bytes) });
const jpeg = (f: string) => ({ name: f, mime: "image/jpeg", path: join(FIXTURES, f) });

/** A PNG whose header declares `w`×`h` pixels over a few bytes of data (a decompression bomb's shape). */
function declaredHugePng(w: number, h: number): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return new Uint8Array(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(Buffer.alloc(1024))), chunk("IEND", Buffer.alloc(0))]));
}
function crc32(b: Buffer): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/** Deterministic pseudo-random numbers (mulberry32), so a run can be repeated. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function hostileRequests(): Promise<ClientRequest[]> {
  const reaction = new Uint8Array(readFileSync(join(FIXTURES, "franck_04117.jpg")));
  const flat = new Uint8Array(await sharp({ create: { width: 256, height: 256, channels: 3, background: "#808080" } }).png().toBuffer());
  const random = new Uint8Array(512 * 1024).map((_, i) => (i * 2654435761) >>> 24);
  const zalgo = "H" + "\u0301\u0302\u0303\u0304\u0305".repeat(60) + "I";
  const meme = (fields: Record<string, string>, f: ClientRequest["file"] = jpeg("franck_04117.jpg")): ClientRequest => ({ path: "/api/meme", fields, file: f });
  const list: [string, ClientRequest][] = [
    ["not an image", meme({}, file("doc.jpg", "image/jpeg", new TextEncoder().encode("%PDF-1.4 not a picture\n")))],
    ["truncated JPEG", meme({}, file("cut.jpg", "image/jpeg", reaction.slice(0, Math.floor(reaction.length * 0.4))))],
    ["PNG declaring 60000×60000", meme({}, file("bomb.png", "image/png", declaredHugePng(60000, 60000)))],
    ["PNG declaring 1×200000", meme({}, file("thin.png", "image/png", declaredHugePng(1, 200000)))],
    ["empty file", meme({}, file("empty.jpg", "image/jpeg", new Uint8Array(0)))],
    ["no file", { path: "/api/meme", fields: { top: "no picture" } }],
    ["random bytes as PNG", meme({}, file("noise.png", "image/png", random))],
    ["GIF header then junk", meme({}, file("junk.gif", "image/gif", new Uint8Array([...new TextEncoder().encode("GIF89a"), ...random.slice(0, 4096)])))],
    ["upload over the limit", meme({}, file("big.jpg", "image/jpeg", new Uint8Array(MAX_UPLOAD + 65536).fill(0xff)))],
    ["no face in the picture", meme({}, file("flat.png", "image/png", flat))],
    ["intensity not a number", meme({ intensity: "abc" })],
    ["intensity 1e9", meme({ intensity: "1e9" })],
    ["intensity -5", meme({ intensity: "-5" })],
    ["mode=evil", meme({ mode: "evil" })],
    ["caption of 5000 letters", meme({ top: "A".repeat(5000) })],
    ["zalgo caption", meme({ top: zalgo, bottom: zalgo })],
    ["unknown saved face", meme({ template: "nobody-by-that-name" })],
    ["30 fields", meme(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, "x"])))],
    ["JSON body instead of a form", { path: "/api/meme", raw: { contentType: "application/json", base64: b64(new TextEncoder().encode('{"top":"hi"}')) } }],
    ["multipart without a boundary", { path: "/api/meme", raw: { contentType: "multipart/form-data", base64: b64(new TextEncoder().encode("--x\r\n")) } }],
    ["form cut off mid-file", { path: "/api/meme", raw: { contentType: "multipart/form-data; boundary=XX", base64: b64(new TextEncoder().encode('--XX\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff')) } }],
    ["cross-site request (no X-Mimic)", { ...meme({}), noCsrfHeader: true }],
    ["unknown route", { path: "/api/nope", fields: {} }],
    ["GET on a POST route", { path: "/api/meme", method: "GET" }],
    ["face save: not an image", { path: "/api/faces", fields: { name: "doc" }, file: file("doc.jpg", "image/jpeg", new TextEncoder().encode("hello")) }],
    ["face save: hostile name", { path: "/api/faces", fields: { name: "../../etc/passwd\u0000" + "x".repeat(300) }, file: jpeg("grace_hopper_512x512.jpg") }],
    ["face save: no face", { path: "/api/faces", fields: { name: "flat" }, file: file("flat.png", "image/png", flat) }],
    ["config: unknown key", { path: "/api/config", fields: { key: "rm -rf", value: "1" } }],
    ["delete an unknown face", { path: "/api/faces/delete", fields: { name: "nobody" } }],
    ["morph of a non-image", { path: "/api/morph", fields: {}, file: file("doc.gif", "image/gif", new TextEncoder().encode("nope")) }],
  ];
  return list.map(([tag, r]) => ({ ...r, tag: `hostile: ${tag}` }));
}

function mixedRequests(n: number, hostile: ClientRequest[], seed: number): ClientRequest[] {
  const rand = rng(seed);
  const captions: Record<string, string>[] = [{ top: "WHEN THE BUILD", bottom: "FINALLY PASSES" }, { bottom: "NOT AGAIN" }, { top: "ÇA VA 🙂", bottom: "你好" }, {}];
  const reactions = ["franck_04117.jpg", "franck_02221.jpg", "grace_hopper_512x512.jpg", "franck_01829.jpg"];
  return Array.from({ length: n }, (_, i): ClientRequest => {
    const r = rand();
    if (r < 0.5) return hostile[Math.floor(rand() * hostile.length)];
    if (r < 0.85) {
      const c = captions[Math.floor(rand() * captions.length)];
      return { path: "/api/meme", fields: { ...c, intensity: String((0.4 + rand() * 0.8).toFixed(2)) }, file: jpeg(reactions[Math.floor(rand() * reactions.length)]), tag: "meme" };
    }
    if (r < 0.87) return { path: "/api/morph", fields: { bottom: "MORPH" }, file: jpeg("franck_04117.jpg"), tag: "morph" };
    if (r < 0.9) return { path: "/api/faces", fields: { name: `face${i % 3}` }, file: jpeg("franck_01829.jpg"), tag: "face save" };
    if (r < 0.95) return { path: "/api/faces", method: "GET", tag: "face list" };
    return { path: "/api/usage", method: "GET", tag: "usage" };
  });
}

/** Child processes of this process: the queue's workers (and tsx's esbuild service when run through tsx). */
function childPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === process.pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a - b);
}
const rssMiB = (pid: number) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
};
/** Server + worker RSS, median of five samples 200 ms apart (RSS moves with garbage collection). */
async function totalRss(): Promise<{ server: number; workers: number; total: number }> {
  const xs: { server: number; workers: number }[] = [];
  for (let i = 0; i < 5; i++) {
    xs.push({ server: process.memoryUsage().rss / 1048576, workers: childPids().reduce((s, p) => s + rssMiB(p), 0) });
    await new Promise((r) => setTimeout(r, 200));
  }
  xs.sort((a, b) => a.server + a.workers - (b.server + b.workers));
  const m = xs[2];
  return { ...m, total: m.server + m.workers };
}

export interface SoakResult {
  report: string;
  failures: string[];
}

export async function runSoak(opts: { requests: number; concurrency: number; seed?: number }): Promise<SoakResult> {
  const server = await startHttpServer({
    MAX_INPUT_BYTES: String(MAX_UPLOAD),
    COOLDOWN_SECONDS: "0",
    DAILY_QUOTA_PER_USER: "0",
    QUEUE_PER_USER: String(opts.concurrency),
    MAX_TEMPLATES_PER_USER: "5",
  });
  const failures: string[] = [];
  try {
    await saveFace(server.url);
    const hostile = await hostileRequests();
    const all = mixedRequests(opts.requests, hostile, opts.seed ?? 15);
    const warmN = Math.min(all.length, Math.max(20, Math.round(all.length / 10)));
    const t0 = performance.now();
    const warm = await runClient({ url: server.url, concurrency: opts.concurrency, probeMs: 1000, requests: all.slice(0, warmN) });
    const pidsWarm = childPids();
    const rssWarm = await totalRss();
    const lag = lagMonitor();
    const main = await runClient({ url: server.url, concurrency: opts.concurrency, probeMs: 1000, requests: all.slice(warmN) });
    const l = lag.stop();
    const pidsEnd = childPids();
    const rssEnd = await totalRss();
    const wall = (performance.now() - t0) / 1000;
    const answers: (ClientAnswer & { tag: string })[] = [...warm.answers, ...main.answers].map((a, i) => ({ ...a, tag: all[i].tag ?? "?" }));

    const byTag = new Map<string, Map<string, number>>();
    for (const a of answers) {
      const key = `${a.status} ${a.code}`;
      const m = byTag.get(a.tag) ?? new Map<string, number>();
      m.set(key, (m.get(key) ?? 0) + 1);
      byTag.set(a.tag, m);
      const documented = a.status === 404 ? a.code === "NO_CODE" : DOCUMENTED_STATUS.has(a.status) && DOCUMENTED_CODES.has(a.code);
      if (!documented) failures.push(`${a.tag}: undocumented answer ${key}`);
      if ((a.tag === "meme" || a.tag === "morph") && !VALID_OUTCOMES.has(a.code)) failures.push(`${a.tag}: a well-formed request got ${key}`);
    }
    const replaced = pidsWarm.filter((p) => !pidsEnd.includes(p)).length;
    if (replaced > 0) failures.push(`${replaced} child process(es) died or were replaced during the soak`);
    const growth = (rssEnd.total - rssWarm.total) / rssWarm.total;
    if (growth > 0.2) failures.push(`RSS grew ${(growth * 100).toFixed(1)} % after warm-up (limit 20 %)`);

    const f0 = (v: number) => v.toFixed(0);
    const lines = [
      `Soak: ${answers.length} requests (${warmN} warm-up), concurrency ${opts.concurrency}, ${wall.toFixed(0)} s; machine ${os.availableParallelism()} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, load ${os.loadavg()[0].toFixed(2)} at the end.`,
      "",
      `| check | value |`,
      `|---|---|`,
      `| server process | up (this process) |`,
      `| child processes (queue workers) that died or were replaced | ${replaced} (of ${pidsWarm.length}) |`,
      `| answers outside the documented outcomes | ${failures.filter((f) => f.includes("undocumented") || f.includes("well-formed")).length} |`,
      `| RSS after warm-up → end (server + workers, MiB) | ${f0(rssWarm.total)} (${f0(rssWarm.server)} + ${f0(rssWarm.workers)}) → ${f0(rssEnd.total)} (${f0(rssEnd.server)} + ${f0(rssEnd.workers)}): ${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(1)} % |`,
      `| server event-loop lag p99 / max after warm-up (ms) | ${l.p99.toFixed(1)} / ${l.max.toFixed(1)} |`,
      "",
      "| request | answers |",
      "|---|---|",
      ...[...byTag].sort(([a], [b]) => a.localeCompare(b)).map(([tag, m]) => `| ${tag} | ${[...m].map(([k, v]) => `${v}× ${k}`).join(", ")} |`),
    ];
    return { report: lines.join("\n"), failures };
  } finally {
    await server.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { requests: { type: "string", default: "2000" }, concurrency: { type: "string", default: "8" } } });
  const r = await runSoak({ requests: Number(values.requests), concurrency: Number(values.concurrency) });
  process.stdout.write(`${r.report}\n`);
  if (r.failures.length) process.stdout.write(`\nFAILED:\n${[...new Set(r.failures)].join("\n")}\n`);
  process.exit(r.failures.length ? 1 : 0);
}
