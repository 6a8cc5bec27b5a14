import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { loadConfig } from "../../src/config.ts";
import { workerSettings } from "../../src/queue/index.ts";
import type { MemeJob, ProgressEvent } from "../../src/queue/jobs.ts";

/** Worker settings from a configuration with one onnxruntime thread per worker (the real handlers' tests). */
export const ONE_THREAD = workerSettings(loadConfig({ ORT_THREADS: "1", QUEUE_WORKERS: "1" }));

export const TEST_HANDLERS = new URL("./fixtures/cpu-handlers.ts", import.meta.url);
const png = readFileSync(new URL("../fixtures/faces/astronaut.png", import.meta.url));

/** A meme job for the CPU test handlers; `top` steers them (see fixtures/cpu-handlers.ts). */
export function memeJob(top?: string, bottom?: string): MemeJob {
  return {
    kind: "meme",
    template: { version: 1, cropPng: new Uint8Array(8), analysis: {} },
    reaction: { bytes: new Uint8Array(png), mime: "image/png" },
    captions: { top, bottom },
    intensity: 1,
    mode: "mimic",
    byteBudget: 8 << 20,
  };
}

export function recorder() {
  const events: ProgressEvent[] = [];
  return { events, onProgress: (e: ProgressEvent) => events.push(e) };
}

export const isPng = (b: Uint8Array) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;

export async function expectRejects(p: Promise<unknown>): Promise<import("../../src/errors.ts").MimicError> {
  try {
    await p;
  } catch (e) {
    return e as import("../../src/errors.ts").MimicError;
  }
  throw new Error("expected the promise to reject");
}

/** A Redis queue's options for the tests: one worker, small limits, the CPU test handlers. */
export function redisQueueOptions(url: string, prefix: string): import("../../src/queue/redis.ts").RedisQueueOptions {
  return {
    url,
    prefix,
    workers: 1,
    capacity: 50,
    perUserLimit: 1,
    jobTimeoutMs: 20_000,
    cheapFirst: false,
    handlersUrl: TEST_HANDLERS,
    resultTtlSeconds: 60,
    maxPayloadBytes: 4 << 20,
  };
}

export interface WorkerChild {
  proc: ChildProcess;
  pid: number;
  id: string;
}

/**
 * `node bin/mimic.mjs worker` with the CPU test handlers; resolves once it says it is ready. `detached`: its own
 * process group, so killing the group takes its job processes with it, as a machine dying would.
 */
export function spawnMimicWorker(redisUrl: string, prefix: string, opts: { args?: string[]; env?: Record<string, string>; detached?: boolean } = {}): Promise<WorkerChild> {
  const proc = spawn(process.execPath, ["bin/mimic.mjs", "worker", "--handlers", fileURLToPath(TEST_HANDLERS), ...(opts.args ?? [])], {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    env: { ...process.env, QUEUE_URL: redisUrl, QUEUE_PREFIX: prefix, QUEUE_WORKERS: "1", QUEUE_STALL_MS: "1000", LOG_LEVEL: "warn", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: opts.detached === true,
  });
  let out = "";
  return new Promise((resolve, reject) => {
    // A worker that missed its start bound is nobody's to clean up later: stop it here.
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`worker did not start: ${out}`));
    }, 60_000);
    proc.stderr!.on("data", (d) => (out += d));
    proc.stdout!.on("data", (d) => {
      out += d;
      const m = /mimic worker (\S+) ready/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, pid: proc.pid!, id: m[1]! });
      }
    });
    proc.on("exit", (code) => reject(new Error(`worker exited (${code}): ${out}`)));
  });
}

/** Deletes the test prefixes' keys, leaving every other prefix (another file's, a deployment's) alone. */
export async function deleteRedisPrefixes(redisUrl: string, prefixes: string[]): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    for (const p of prefixes) {
      const keys = await redis.keys(`${p}:*`);
      if (keys.length) await redis.del(...keys);
    }
  } finally {
    await redis.quit();
  }
}
