/**
 * Runs the store's units of database work one at a time on SQLite. The SQLite driver adapter has ONE
 * connection, and Prisma's interactive transaction holds it across awaits: a query from another
 * request issued meanwhile would run inside that transaction (and vanish with its rollback). SQLite
 * has a single writer anyway, so queueing whole units costs nothing. PostgreSQL gets a pass-through:
 * every query there has its own pooled connection and the database does the locking.
 */
export interface Gate {
  run<T>(work: () => Promise<T>): Promise<T>;
}

export const passThrough: Gate = { run: (work) => work() };

export function exclusiveGate(): Gate {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run<T>(work: () => Promise<T>): Promise<T> {
      const result = tail.then(work);
      tail = result.catch(() => undefined);
      return result;
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
