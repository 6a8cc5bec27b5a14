/**
 * Turn-taking for synchronous database work on the main thread. better-sqlite3 answers synchronously, so
 * a Prisma call resolves without ever returning to the event loop: a burst of requests becomes one long
 * chain of microtasks (query compilation, SQLite, result mapping for every request) that starves timers,
 * sockets and bot heartbeats for seconds. `nextTurn()` queues each statement and releases one per
 * event-loop turn, so other work runs between any two statements.
 */
const waiting: (() => void)[] = [];
let scheduled = false;

function releaseOne(): void {
  const next = waiting.shift();
  // The released statement and whatever its caller does up to its next statement run now, as microtasks;
  // the next release waits for the following turn (an immediate queued inside the check phase runs in the next loop iteration).
  if (waiting.length > 0) setImmediate(releaseOne);
  else scheduled = false;
  next?.();
}

/** Resolves in a later event-loop turn, in FIFO order with every other caller. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      setImmediate(releaseOne);
    }
  });
}

const STATEMENTS = new Set<PropertyKey>(["queryRaw", "executeRaw", "executeScript"]);

/** The statements Prisma sends to end an interactive transaction before telling the driver it ended. */
const ENDS = /^\s*(COMMIT|ROLLBACK)\s*$/i;

/** Whether a driver call's arguments are an executeRaw of COMMIT or ROLLBACK. */
export const endsTransaction = (prop: PropertyKey, args: unknown[]): boolean => {
  const sql = (args[0] as { sql?: unknown } | undefined)?.sql;
  return prop === "executeRaw" && typeof sql === "string" && ENDS.test(sql);
};

interface DriverTransaction {
  executeRaw(query: { sql: string; args: unknown[]; argTypes: unknown[] }): Promise<number>;
  rollback(): Promise<void>;
}

function isTransaction(t: object): t is DriverTransaction {
  const tx = t as Partial<DriverTransaction> & { commit?: unknown };
  return typeof tx.commit === "function" && typeof tx.rollback === "function" && typeof tx.executeRaw === "function";
}

/**
 * Prisma ends a transaction by sending COMMIT (or ROLLBACK) and only then calling the driver's commit() or
 * rollback(), which is what frees the SQLite adapter's one connection for the next transaction. When that
 * statement fails (SQLITE_FULL on COMMIT: the disk filled up), Prisma throws without calling either, so the
 * connection would stay inside the failed transaction and every later transaction would wait for it for
 * ever. Here a failed end rolls the transaction back (nothing of it is kept, as SQLite promises for a
 * failed COMMIT's rollback) and frees the connection, then passes the original error on.
 */
async function endTransaction(tx: DriverTransaction, end: () => Promise<unknown>): Promise<unknown> {
  try {
    return await end();
  } catch (e) {
    // SQLite may already have rolled back by itself (then ROLLBACK says no transaction is active).
    await tx.executeRaw({ sql: "ROLLBACK", args: [], argTypes: [] }).catch(() => undefined);
    await tx.rollback().catch(() => undefined);
    throw e;
  }
}

/**
 * A driver adapter (or its factory, or a transaction) whose statements each wait for their turn
 * (`nextTurn`). Methods run on the real object, so the adapter's private state is untouched.
 */
export function turnTaking<T extends object>(target: T): T {
  return new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop, t) as unknown;
      if (typeof v !== "function") return v;
      const fn = v as (...args: unknown[]) => unknown;
      if (STATEMENTS.has(prop)) {
        return async (...args: unknown[]) => {
          await nextTurn();
          if (isTransaction(t) && endsTransaction(prop, args)) {
            return endTransaction(t, () => fn.apply(t, args) as Promise<unknown>);
          }
          return fn.apply(t, args);
        };
      }
      // Connections and transactions hand out more statement runners.
      if (prop === "connect" || prop === "connectToShadowDb" || prop === "startTransaction") {
        return async (...args: unknown[]) => turnTaking((await fn.apply(t, args)) as object);
      }
      return fn.bind(t);
    },
  });
}
