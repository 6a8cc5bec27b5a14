/**
 * Large byte arrays cross between the bot and its worker processes as files, not through the IPC pipe:
 * a message is serialised and parsed on the main thread in one piece (a 25 MiB upload stalled the event
 * loop ~400 ms), while a file is written and read on libuv's thread pool. Files live in one folder per
 * pool, on tmpfs (/dev/shm) where there is one; the pool deletes each job's files when the job ends,
 * however it ends, and the whole folder when it closes.
 */
import { accessSync, constants, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";

/** Below this the pipe is cheaper than a file round trip (measured in bench/README.md, worker-ipc). */
export const SPILL_MIN_BYTES = 256 * 1024;

/** Where a spilled byte array went. */
export interface SpilledBytes {
  spilledTo: string;
  length: number;
}

const isSpilled = (v: unknown): v is SpilledBytes =>
  typeof v === "object" && v !== null && typeof (v as SpilledBytes).spilledTo === "string" && Object.keys(v).length === 2;

const PREFIX = "mimic-jobs-";

/**
 * A fresh folder for one pool's files, tmpfs when the machine has one, named after this process; folders
 * left by processes that no longer run (killed before closing their pool) are removed on the way.
 */
export function createSpillDir(): string {
  let base = os.tmpdir();
  try {
    accessSync("/dev/shm", constants.W_OK);
    base = "/dev/shm";
  } catch {
    // No tmpfs: the temporary folder does.
  }
  for (const name of readdirSync(base)) {
    const pid = Number(/^mimic-jobs-(\d+)-/.exec(name)?.[1]);
    if (pid > 0 && !alive(pid)) rmSync(join(base, name), { recursive: true, force: true });
  }
  return mkdtempSync(join(base, `${PREFIX}${process.pid}-`));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The files a message's spilled arrays point to, without reading them. */
export function spilledPaths(value: unknown): string[] {
  if (isSpilled(value)) return [value.spilledTo];
  if (ArrayBuffer.isView(value) || value === null || typeof value !== "object") return [];
  return Object.values(value).flatMap(spilledPaths);
}

export function removeSpillDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Writes every Uint8Array of at least `minBytes` inside `value` (plain objects and arrays) to its own file
 * `${prefix}-N` in `dir` and returns a copy of `value` with those arrays replaced by SpilledBytes.
 */
export async function spill<T>(value: T, dir: string, prefix: string, minBytes = SPILL_MIN_BYTES): Promise<{ value: T; files: string[] }> {
  const files: string[] = [];
  const writes: Promise<void>[] = [];
  const walk = (v: unknown): unknown => {
    if (v instanceof Uint8Array) {
      if (v.byteLength < minBytes) return v;
      const path = join(dir, `${prefix}-${files.length}`);
      files.push(path);
      writes.push(writeFile(path, v));
      return { spilledTo: path, length: v.byteLength } satisfies SpilledBytes;
    }
    if (ArrayBuffer.isView(v) || v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map(walk);
    if (Object.getPrototypeOf(v) !== Object.prototype) return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
  };
  const out = walk(value) as T;
  try {
    await Promise.all(writes);
  } catch (e) {
    await removeFiles(files);
    throw e;
  }
  return { value: out, files };
}

/** The inverse: reads every spilled array back (the files stay; their owner deletes them). */
export async function unspill<T>(value: T): Promise<{ value: T; files: string[] }> {
  const files: string[] = [];
  const walk = async (v: unknown): Promise<unknown> => {
    if (isSpilled(v)) {
      files.push(v.spilledTo);
      const b = await readFile(v.spilledTo);
      if (b.byteLength !== v.length) throw new Error(`spilled file ${v.spilledTo} has ${b.byteLength} bytes, not ${v.length}`);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }
    if (ArrayBuffer.isView(v) || v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return Promise.all(v.map(walk));
    if (Object.getPrototypeOf(v) !== Object.prototype) return v;
    return Object.fromEntries(await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await walk(x)] as const)));
  };
  return { value: (await walk(value)) as T, files };
}

export async function removeFiles(files: string[]): Promise<void> {
  await Promise.all(files.map((f) => rm(f, { force: true })));
}
