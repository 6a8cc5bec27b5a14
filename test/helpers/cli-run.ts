/**
 * The real CLI (bin/mimic.mjs, compiled dist/) as a running process whose output a test waits on. Every wait is
 * bounded by HANG_MS: a bound for a hang (a start that never ends, a banner never printed), not a speed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const HANG_MS = 90_000;
const root = fileURLToPath(new URL("../../", import.meta.url));

export interface CliRun {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
  /** Resolves once `pattern` shows on stdout ("out") or stderr ("err"); rejects when the process exits first or after HANG_MS. */
  waitFor(stream: "out" | "err", pattern: RegExp): Promise<RegExpExecArray>;
}

/** Starts `mimic <args>` with `env` (the whole environment); `cleanup` receives what kills and reaps it after the test. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, cleanup: (fn: () => Promise<unknown>) => void): CliRun {
  const child = spawn(process.execPath, ["bin/mimic.mjs", ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const listeners = new Set<() => void>();
  child.stdout!.on("data", (d: Buffer) => ((out += d), listeners.forEach((l) => l())));
  child.stderr!.on("data", (d: Buffer) => ((err += d), listeners.forEach((l) => l())));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  cleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  });
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    waitFor: (stream, pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(stream === "out" ? out : err);
          if (!m) return;
          done();
          resolve(m);
        };
        const timer = setTimeout(() => (done(), reject(new Error(`no ${pattern} within ${HANG_MS} ms; stdout: ${out}; stderr: ${err}`))), HANG_MS);
        const done = () => (clearTimeout(timer), listeners.delete(check));
        listeners.add(check);
        void exited.then((code) => (done(), reject(new Error(`exited ${code} before ${pattern}; stdout: ${out}; stderr: ${err}`))));
        check();
      }),
  };
}

/** Waits for the exit, bounded: a run that hangs fails the test with what it printed. */
export async function exitCode(cli: CliRun): Promise<number | null> {
  const hung = new Promise<"hung">((r) => setTimeout(() => r("hung"), HANG_MS).unref());
  const code = await Promise.race([cli.exited, hung]);
  if (code === "hung") throw new Error(`still running after ${HANG_MS} ms; stdout: ${cli.out()}; stderr: ${cli.err()}`);
  return code;
}
