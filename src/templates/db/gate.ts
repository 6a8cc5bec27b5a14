/**
 * Runs the store's units of database work one at a time on SQLite. The SQLite driver adapter has ONE
 * connection, and Prisma's interactive transaction holds it across awaits: a query from another
 * request issued meanwhile would run inside that transaction (and vanish with its rollback). SQLite
 * has a single writer anyway, so queueing whole units costs nothing. PostgreSQL gets a pass-through:
 * every query there has its own pooled connection and the database does the locking.
 *
 * Another process holding the write lock: a unit meets it as SQLITE_BUSY after a short busy timeout
 * (SQLITE_BUSY_TIMEOUT_MS, so the thread is never blocked longer) and is tried again later (withRetry). Between
 * attempts the unit gives the connection back, so reads (which in WAL mode a writer elsewhere does not block)
 * go on meanwhile. Writing units also wait in line for each other (first come, first served), so only one
 * at a time polls the lock held elsewhere, and one that is retrying keeps its place: newer ones never
 * overtake it.
 */
import { withRetry } from "./retry.ts";

export interface Gate {
  /** A unit that reads (retried whole on a transient conflict, which in WAL mode readers hardly ever meet). */
  run<T>(work: () => Promise<T>): Promise<T>;
  /**
   * A writing unit: one transaction, or statements each safe to repeat. Retried whole on transient conflicts
   * until the patience (retryPolicy) is spent, then MimicError BUSY.
   */
  write<T>(work: () => Promise<T>): Promise<T>;
  /** Runs `work` once every unit asked for before it has settled, alone (closing the store). */
  last<T>(work: () => Promise<T>): Promise<T>;
}

export const passThrough: Gate = {
  run: (work) => work(),
  write: (work) => withRetry(work),
  last: (work) => work(),
};

/** A FIFO line: each piece of work starts once the one before it settled. */
function line(): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const result = tail.then(work);
    tail = result.catch(() => undefined);
    return result;
  };
}

export function exclusiveGate(): Gate {
  const connection = line();
  const writers = line();
  const pending = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    const forget = () => pending.delete(p);
    p.then(forget, forget);
    return p;
  };
  return {
    run: (work) => track(withRetry(() => connection(work))),
    write: (work) => {
      const queuedSince = Date.now();
      return track(writers(() => withRetry(() => connection(work), { queuedSince })));
    },
    last: async (work) => {
      await Promise.allSettled([...pending]);
      return connection(work);
    },
  };
}

const sqliteGates = new Map<string, Gate>();

/**
 * The gate of one database in this process: shared by every store (and the migrator) opened on the
 * same SQLite file, because better-sqlite3 waits for a file lock synchronously: a second connection
 * in this thread waiting on the first would block the very thread that has to release it.
 */
export function gateFor(target: { dialect: "sqlite"; path: string } | { dialect: "postgres" }): Gate {
  if (target.dialect === "postgres") return passThrough;
  let gate = sqliteGates.get(target.path);
  if (!gate) {
    gate = exclusiveGate();
    sqliteGates.set(target.path, gate);
  }
  return gate;
}
