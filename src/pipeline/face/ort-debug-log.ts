import { statSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * onnxruntime-node (1.30) leaves an empty mat-debug-<pid>.log in the temp folder of each process that loads it;
 * job processes are started again after every crash, timeout and ignored cancellation, so they would pile up.
 * Removed once the process is gone (only while empty: one with something in it is kept to be read).
 */
export function removeOrtDebugLog(pid: number | undefined): void {
  if (pid === undefined) return;
  const file = join(tmpdir(), `mat-debug-${pid}.log`);
  try {
    if (statSync(file).size === 0) unlinkSync(file);
  } catch {
    // None was left (another onnxruntime, or no model loaded): nothing to do.
  }
}

let removedAtExit = false;

/** This process's own log goes when it exits (a process killed outright leaves it: the pool removes those). */
export function removeOwnOrtDebugLogAtExit(): void {
  if (removedAtExit) return;
  removedAtExit = true;
  process.once("exit", () => removeOrtDebugLog(process.pid));
}
