/**
 * onnxruntime leaves an empty mat-debug-<pid>.log in the temp folder of every process that loads the models, and
 * job processes are started again after each crash, timeout or ignored cancellation: a soak left one per restart
 * (QA N2 #3). The pool removes a job process's log once the process is gone.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
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

test("a job process's mat-debug log goes with it, even when the process is killed outright", async () => {
  process.env.TMPDIR = dir;
  const logs = () => readdirSync(dir).filter((f) => /^mat-debug-\d+\.log$/.test(f));
  const pool = new WorkerPool({ size: 1, handlersUrl: DEFAULT_HANDLERS, settings: defaultWorkerSettings() });
  await pool.ready();
  // The models are loaded: onnxruntime has left its log (were it not to any more, this workaround could go).
  expect(logs()).toHaveLength(1);
  const first = logs()[0]!;
  // Killed as the pool kills a process that ignored a cancellation (no exit handler of its own runs): the pool
  // removes its log, and its replacement leaves one of its own.
  process.kill(Number(/\d+/.exec(first)![0]), "SIGKILL");
  const bound = Date.now() + 30_000;
  while ((logs().includes(first) || logs().length === 0) && Date.now() < bound) await new Promise((r) => setTimeout(r, 20));
  expect(logs()).toHaveLength(1);
  expect(logs()).not.toContain(first);
  await pool.close();
  while (logs().length > 0 && Date.now() < bound) await new Promise((r) => setTimeout(r, 20));
  expect(logs()).toEqual([]);
});

test("a command that runs the models in its own process (mimic analyze) leaves no log behind", async () => {
  const own = mkdtempSync(join(dir, "cli-"));
  const face = new URL("../fixtures/faces/grace_hopper_512x512.jpg", import.meta.url).pathname;
  const cli = runCli(["analyze", face, "--json"], { ...process.env, TMPDIR: own }, (fn) => onTestFinished(() => void fn()));
  expect(await cli.exited, cli.err()).toBe(0);
  expect(JSON.parse(cli.out().trim().split("\n")[0]!).faces).toHaveLength(1);
  expect(readdirSync(own).filter((f) => f.startsWith("mat-debug-"))).toEqual([]);
});
