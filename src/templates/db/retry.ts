/**
 * Retries a whole unit of work when the database reports a transient conflict: SQLite's single writer
 * being busy (another process holds the lock past busy_timeout) or a PostgreSQL deadlock/serialisation
 * failure. The unit must be a complete transaction, so retrying it is safe.
 */
import { MimicError } from "../../errors.ts";
import { sqliteCode, storageFull } from "./errors.ts";

const TRANSIENT = /SQLITE_BUSY|database is locked|deadlock detected|could not serialize|40P01|40001/i;

let retried = 0;

/** How many transient conflicts this process has retried so far (diagnostics; tests count lock waits with it). */
export function transientRetries(): number {
  return retried;
}

export function isTransientDbError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    const msg = cur instanceof Error ? `${cur.message} ${(cur as { code?: unknown }).code ?? ""}` : String(cur);
    if (TRANSIENT.test(msg)) return true;
    cur = cur instanceof Error ? (cur as { cause?: unknown }).cause : undefined;
  }
  return false;
}

/**
 * Runs `work`, retrying transient conflicts for up to `budgetMs` with jittered exponential back-off
 * (10 ms doubling, capped at 250 ms). The Prisma SQLite driver has no busy timeout, so a write that meets
 * another process's write lock fails at once and waits here instead; within one process the adapter
 * already serialises statements.
 */
export async function withRetry<T>(work: () => Promise<T>, budgetMs = 15_000): Promise<T> {
  const start = Date.now();
  for (let i = 0; ; i++) {
    try {
      return await work();
    } catch (e) {
      // The store's writing units come through here: a full disk is told as such (the unit was rolled back whole).
      if (sqliteCode(e)?.startsWith("SQLITE_FULL")) throw storageFull(e);
      if (!isTransientDbError(e)) throw e;
      if (Date.now() - start > budgetMs) {
        throw new MimicError("BUSY", "The database is busy right now. Please try again in a few seconds.", { cause: e, retryAfterSeconds: 5 });
      }
      retried += 1;
      await new Promise((r) => setTimeout(r, Math.min(250, 10 * 2 ** i) * (0.5 + Math.random())));
    }
  }
}
