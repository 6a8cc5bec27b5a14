/**
 * onnxruntime leaves an empty mat-debug-<pid>.log in the temp folder of every process that loads the models, and
 * job processes are started again after each crash, timeout or ignored cancellation: a soak left one per restart
 * (QA N2 #3). The pool removes a job process's log once the process is gone.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, onTestFinished, expect, test } from "vitest";
import { runCli } from "../helpers/cli-run.ts";
import { DEFAULT_HANDLERS } from "../../src/queue/index.ts";
import { WorkerPool } from "../../src/queue/pool.ts";
import { defaultWorkerSettings } from "../../src/queue/settings.ts";

const saved = process.env.TMPDIR;
// The job processes inherit this temp folder: only their files are in it.
const dir = mkdtempSync(join(tmpdir(), "mimic-ort-log-"));
afterAll(() => {
  process.env.TMPDIR = saved;
  if (saved === undefined) delete process.env.TMPDIR;
  rmSync(dir, { recursive: true, force: true });
});

/** This process's children, from /proc (the pool's job processes). */
function childPids(): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(readFileSync(`/proc/${d}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[1]) === process.pid;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/** An empty log as onnxruntime leaves one (not every build or setting does: the test does not count on it). */
const leaveLog = (folder: string, pid: number) => writeFileSync(join(folder, `mat-debug-${pid}.log`), "");

test("a job process's mat-debug log goes with it, even when the process is killed outright", async () => {
  process.env.TMPDIR = dir;
  const logs = () => readdirSync(dir).filter((f) => /^mat-debug-\d+\.log$/.test(f));
  const pool = new WorkerPool({ size: 1, handlersUrl: DEFAULT_HANDLERS, settings: defaultWorkerSettings() });
  await pool.ready();
  const [pid] = childPids();
  expect(pid).toBeDefined();
  leaveLog(dir, pid!);
  // Killed as the pool kills a process that ignored a cancellation (no exit handler of its own runs): the pool
  // removes its log.
  process.kill(pid!, "SIGKILL");
  const bound = Date.now() + 30_000;
  while (logs().includes(`mat-debug-${pid}.log`) && Date.now() < bound) await new Promise((r) => setTimeout(r, 20));
  expect(logs()).not.toContain(`mat-debug-${pid}.log`);
  // Its replacement's goes when the pool closes (the process's own exit handler, or the pool's).
  while (childPids().length === 0 && Date.now() < bound) await new Promise((r) => setTimeout(r, 20));
  const [next] = childPids();
  leaveLog(dir, next!);
  await pool.close();
  while (logs().length > 0 && Date.now() < bound) await new Promise((r) => setTimeout(r, 20));
  expect(logs()).toEqual([]);
});

test("a command that runs the models in its own process (mimic analyze) leaves no log behind", async () => {
  const own = mkdtempSync(join(dir, "cli-"));
  const face = new URL("../fixtures/faces/grace_hopper_512x512.jpg", import.meta.url).pathname;
  const cli = runCli(["analyze", face, "--json"], { ...process.env, TMPDIR: own }, (fn) => onTestFinished(() => void fn()));
  // Left before the command has started, as onnxruntime would once it loads: gone when the command exits.
  leaveLog(own, cli.child.pid!);
  expect(await cli.exited, cli.err()).toBe(0);
  expect(JSON.parse(cli.out().trim().split("\n")[0]!).faces).toHaveLength(1);
  expect(readdirSync(own).filter((f) => f.startsWith("mat-debug-"))).toEqual([]);
});
