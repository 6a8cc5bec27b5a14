/**
 * Retries a whole unit of work when the database reports a transient conflict: SQLite's single writer
 * being busy (another process holds the write lock: a second Mimic on the same DATA_DIR, a `mimic face …`
 * call, a maintenance script's BEGIN EXCLUSIVE) or a PostgreSQL deadlock/serialisation failure. The unit
 * must be a complete transaction (or statements safe to repeat), so retrying it is safe: a failed
 * transaction was rolled back whole, nothing of it applied.
 *
 * better-sqlite3 waits for a lock synchronously, on the event loop's thread: the store's connections get a
 * short busy timeout (SQLITE_BUSY_TIMEOUT_MS) and the rest of the patience is spent here, between attempts,
 * in timers, so bot heartbeats, HTTP and everything else keep running while another process holds the lock.
 */
import { MimicError } from "../../errors.ts";
import { sqliteCode, storageFull } from "./errors.ts";
import { databaseFileMoved } from "./same-file.ts";

/**
 * SQLite busy timeout of the store's connections: the longest one statement blocks the thread waiting for a
 * lock held by another process (SQLite's own busy handler sleeps in steps of 1 to 20 ms up to it).
 */
export const SQLITE_BUSY_TIMEOUT_MS = 50;

/**
 * How long a unit of work keeps trying (patienceMs) before the user is told the database is busy. The unit is
 * tried again after 10 ms, doubling up to 250 ms, jittered ±50%. Tests shorten the patience.
 */
export const retryPolicy = { patienceMs: 10_000 };

/**
 * A unit that reaches its turn after waiting in line longer than the patience (behind others that waited out
 * the same lock) still gets this long to try, so in-process queueing alone never makes it fail.
 */
const GRACE_MS = 1_000;

const TRANSIENT = /SQLITE_BUSY|database is locked|deadlock detected|could not serialize|40P01|40001/i;

let retried = 0;

/** How many transient conflicts this process has retried so far (diagnostics; tests count lock waits with it). */
export function transientRetries(): number {
  return retried;
}

export function isTransientDbError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    // Our own verdict (e.g. an inner unit's BUSY after its patience) is final, whatever caused it.
    if (cur instanceof MimicError) return false;
    const msg = cur instanceof Error ? `${cur.message} ${(cur as { code?: unknown }).code ?? ""}` : String(cur);
    if (TRANSIENT.test(msg)) return true;
    // Prisma's model queries say only "P1008 Operations timed out"; the driver's own code is in meta.
    const adapter = (cur as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } }).meta?.driverAdapterError?.cause;
    if (typeof adapter?.originalCode === "string" && TRANSIENT.test(adapter.originalCode)) return true;
    cur = cur instanceof Error ? (cur as { cause?: unknown }).cause : undefined;
  }
  return false;
}

export interface RetryOptions {
  /** Default retryPolicy.patienceMs. */
  patienceMs?: number;
  /** When the unit was asked for (Date.now()), if it waited in line before its first attempt: the patience counts from then. */
  queuedSince?: number;
}

/**
 * Runs `work`, retrying transient conflicts until the patience is spent (counted from `queuedSince`, else from
 * the first attempt), then throws BUSY ("try again"). Waits between attempts are timers: nothing blocks.
 */
export async function withRetry<T>(work: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const patience = opts.patienceMs ?? retryPolicy.patienceMs;
  const start = Date.now();
  const deadline = Math.max((opts.queuedSince ?? start) + patience, start + Math.min(GRACE_MS, patience));
  for (let i = 0; ; i++) {
    try {
      return await work();
    } catch (e) {
      // The store's writing units come through here: a full disk is told as such (the unit was rolled back whole).
      if (sqliteCode(e)?.startsWith("SQLITE_FULL")) throw storageFull(e);
      // The file was deleted or replaced under the open connection (same-file.ts): refused, never retried.
      if (sqliteCode(e) === "SQLITE_READONLY_DBMOVED") throw databaseFileMoved(e);
      if (!isTransientDbError(e)) throw e;
      const pause = Math.min(250, 10 * 2 ** Math.min(i, 5)) * (0.5 + Math.random());
      if (Date.now() + pause > deadline) {
        throw new MimicError("BUSY", "The database is busy right now. Please try again in a few seconds.", { cause: e, retryAfterSeconds: 5 });
      }
      retried += 1;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
