import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createRequire } from "node:module";
import { MimicError } from "../../errors.ts";

/**
 * The ffmpeg binary, run as a child process (never linked): @ffmpeg-installer ships a static build per
 * platform inside its npm package, so nothing is downloaded. Platforms without one get `undefined`,
 * and callers fall back to GIF.
 *
 * `override`: FFMPEG_PATH — "none" turns video off, a path uses that binary (when it is executable).
 */
export function findFfmpeg(override?: string): string | undefined {
  if (override === "none") return undefined;
  if (override !== undefined) return executable(override) ? override : undefined;
  try {
    // The package throws (a string) on platforms it has no binary for.
    const path = (createRequire(import.meta.url)("@ffmpeg-installer/ffmpeg") as { path: string }).path;
    return executable(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface RunOptions {
  /** Written to the child's stdin chunk by chunk, respecting back-pressure. */
  stdin?: Iterable<Uint8Array>;
  /** The child is killed (SIGKILL) after this long. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Most stdout bytes kept; beyond it the child is killed (a decode that would flood memory). */
  maxStdoutBytes?: number;
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
}

const STDERR_KEEP = 16 * 1024;

/** Runs ffmpeg with bounded time and output; rejects with a typed error on failure, timeout or abort. */
export function runFfmpeg(bin: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise<RunResult>((resolve, reject) => {
    opts.signal?.throwIfAborted();
    const child = spawn(bin, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = "";
    let failure: MimicError | undefined;
    const kill = (e: MimicError) => {
      failure ??= e;
      child.kill("SIGKILL");
    };
    const timer = setTimeout(
      () => kill(new MimicError("TIMEOUT", "Making the video took too long.", { logMessage: `ffmpeg ran past ${opts.timeoutMs} ms` })),
      opts.timeoutMs,
    );
    const onAbort = () => kill(new MimicError("CANCELLED", "The request was cancelled."));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (b: Buffer) => {
      outBytes += b.length;
      if (opts.maxStdoutBytes !== undefined && outBytes > opts.maxStdoutBytes) {
        kill(new MimicError("IMAGE_TOO_LARGE", "The video is too large to process.", { logMessage: `ffmpeg output over ${opts.maxStdoutBytes} bytes` }));
        return;
      }
      out.push(b);
    });
    child.stderr.on("data", (b: Buffer) => {
      if (stderr.length < STDERR_KEEP) stderr += b.toString("utf8");
    });
    // A child that exits early closes stdin under us: that is reported by the exit code, not here.
    child.stdin.on("error", () => undefined);
    child.on("error", (err) => kill(new MimicError("INTERNAL", "Something went wrong on our side.", { cause: err, logMessage: `ffmpeg could not start: ${err.message}` })));
    child.on("close", (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (failure) return reject(failure);
      if (code !== 0) {
        return reject(new MimicError("INTERNAL", "Something went wrong on our side.", { logMessage: `ffmpeg exited with ${code}: ${stderr.trim().slice(-2000)}` }));
      }
      resolve({ stdout: Buffer.concat(out), stderr });
    });
    void feed(child.stdin, opts.stdin);
  });
}

async function feed(stdin: NodeJS.WritableStream, chunks: Iterable<Uint8Array> | undefined): Promise<void> {
  if (chunks) {
    for (const chunk of chunks) {
      if (!stdin.write(chunk)) {
        const ok = await new Promise<boolean>((res) => {
          const done = (v: boolean) => () => {
            stdin.off("drain", onDrain);
            stdin.off("close", onClose);
            res(v);
          };
          const onDrain = done(true);
          const onClose = done(false);
          stdin.once("drain", onDrain);
          stdin.once("close", onClose);
        });
        if (!ok) return;
      }
    }
  }
  stdin.end();
}
