/**
 * Closing the pool (Mimic stopping) while a worker still loads its handlers: that worker holds no job, and busy
 * loading it would not hear the request to leave, so it is stopped at once rather than after the kill timer
 * meant for an idle worker that does not leave.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test, vi } from "vitest";
import { defaultWorkerSettings } from "../../src/queue/index.ts";
import { WorkerPool } from "../../src/queue/pool.ts";

const SLOW_LOAD_HANDLERS = new URL("./fixtures/slow-load-handlers.ts", import.meta.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const dir = mkdtempSync(join(tmpdir(), "mimic-loading-"));
afterEach(() => {
  vi.useRealTimers();
  delete process.env.MIMIC_TEST_LOADING_MARK;
  rmSync(dir, { recursive: true, force: true });
});

test("a worker still loading its handlers is stopped at once when the pool closes: no timer is waited for", async () => {
  const mark = join(dir, "loading.pid");
  // The worker inherits this process's environment when it is started.
  process.env.MIMIC_TEST_LOADING_MARK = mark;
  const pool = new WorkerPool({ size: 1, handlersUrl: SLOW_LOAD_HANDLERS, settings: defaultWorkerSettings() });
  for (let i = 0; i < 600 && !existsSync(mark); i++) await sleep(50);
  const pid = Number(readFileSync(mark, "utf8"));
  expect(alive(pid)).toBe(true);

  // From here no timer can fire: a close that waited for one would never end.
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  const closing = pool.close();
  try {
    expect(vi.getTimerCount()).toBe(0);
    await closing;
  } finally {
    // Should the check fail: let the kill timer end the worker, so no process is left behind.
    vi.runOnlyPendingTimers();
    vi.useRealTimers();
  }
  expect(alive(pid)).toBe(false);
}, 60_000);
