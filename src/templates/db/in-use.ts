/**
 * Whether a running Mimic (the bot, the playground, a front end) has the store open, so that a restore can
 * refuse to replace the store under it: a running bot keeps answering from what it read before, and a meme
 * in flight would find its own records gone.
 *
 * SQLite needs nothing extra: in WAL mode every open connection that has read holds a SHARED lock on the file
 * for as long as it stays open, so an exclusive lock is only granted when no other connection is open.
 * PostgreSQL connections come and go with the pool, so a running Mimic holds a shared advisory lock, per
 * schema, on one connection of its own for its whole life; a restore asks for the same lock exclusively.
 *
 * A bot with the in-process queue holds the store "exclusive": a second bot on it would answer every command
 * again. Redis mode's front ends hold it "shared": they may share the store, but not with an exclusive one (an
 * owner moving to Redis who starts the new front end before stopping the old bot). PostgreSQL: an advisory lock
 * of that kind on the mark's connection. SQLite: a lock of that kind on a file of its own beside the store (a
 * CLI command on the store itself must still open), which the system drops with the process, so a killed Mimic
 * never leaves it stale.
 */
import Database from "better-sqlite3";
import pg from "pg";
import { accessSync, constants, existsSync, statSync, unlinkSync } from "node:fs";
import { MimicError } from "../../errors.ts";
import { logger } from "../../logger.ts";
import { postgresConnectError, sqliteStartupError } from "./errors.ts";
import { CONNECT_TIMEOUT_MS } from "./migrate.ts";
import { describeTarget, type DatabaseTarget } from "./url.ts";

/** How long the check waits for a connection that is only briefly open (another mimic command reading). */
const PROBE_WAIT_MS = 2_000;
const RECONNECT_FIRST_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;

const lockKey = (schema: string) => `mimic-store:${schema}`;
const soleKey = (schema: string) => `mimic-sole:${schema}`;

/** What a sole holder's reconnection finds: another one took the store while its connection was lost. */
const TAKEN_MEANWHILE = new Error("another sole holder took the store while the connection was lost");

/** The file a sole holder locks beside an SQLite store (never deleted: a waiter may hold it open). */
export const soleLockPath = (storePath: string) => `${storePath}-running`;

/** The refusal of a second sole holder, naming the store. */
export function alreadyRunning(store: string): MimicError {
  return new MimicError(
    "CONFIG",
    `Another Mimic bot is already running on the store ${store}: two would both answer every command. Stop the other one first (pgrep -af "mimic.mjs start" finds it; one Mimic runs both bots when both tokens are set), or give this one a store of its own (DATABASE_URL or DATA_DIR).`,
  );
}

export interface InUseMark {
  /** `discard`: the start failed (its store unusable): a lock file this mark created is removed too. */
  release(opts?: { discard?: boolean }): Promise<void>;
}

/** How a running bot holds its store: alone (the in-process queue), or shared with other front ends (Redis mode). */
export type SoleMode = "exclusive" | "shared";

/** True when another process has the store open (SQLite) or a running Mimic holds it (PostgreSQL). */
export async function storeInUse(target: DatabaseTarget): Promise<boolean> {
  if (target.dialect === "sqlite") {
    if (!existsSync(target.path)) return false;
    let db: Database.Database | undefined;
    try {
      db = new Database(target.path, { fileMustExist: true, timeout: PROBE_WAIT_MS });
      db.pragma("locking_mode = EXCLUSIVE");
      db.exec("BEGIN EXCLUSIVE");
      db.exec("ROLLBACK");
      return false;
    } catch (e) {
      // Anything but a lock (a damaged or unreadable file, say) is the restore's own to report.
      return (e as { code?: string }).code === "SQLITE_BUSY";
    } finally {
      db?.close();
    }
  }
  const client = new pg.Client({ connectionString: target.connectionString, connectionTimeoutMillis: PROBE_WAIT_MS });
  try {
    await client.connect();
  } catch {
    // Unreachable: the restore reports that itself, in its own words.
    return false;
  }
  try {
    const r = await client.query<{ free: boolean }>("SELECT pg_try_advisory_lock(hashtext($1)) AS free", [lockKey(target.schema)]);
    if (r.rows[0]?.free) await client.query("SELECT pg_advisory_unlock(hashtext($1))", [lockKey(target.schema)]);
    return r.rows[0]?.free !== true;
  } finally {
    await client.end();
  }
}

/**
 * Marks the store as held by this running process until release(). On PostgreSQL the mark lives on its own
 * connection; a lost connection is re-made in the background, since an unmarked bot could be restored under.
 * `sole`: refuses (CONFIG) while another sole holder runs on the store, and holds it sole until release().
 */
export async function markStoreInUse(target: DatabaseTarget, opts: { sole?: SoleMode } = {}): Promise<InUseMark> {
  const sole = opts.sole;
  if (target.dialect === "sqlite") return sole ? holdSqliteSole(target, sole) : { release: async () => undefined };
  let client: pg.Client | undefined;
  let released = false;
  let delay = RECONNECT_FIRST_MS;
  let timer: NodeJS.Timeout | undefined;

  const retryLater = (why: unknown) => {
    if (released) return;
    if (why === TAKEN_MEANWHILE) {
      logger.error({ store: describeTarget(target), retryInMs: delay }, "another Mimic started on this store while this one's connection to it was lost: both answer every command now; stop one of them");
    } else {
      logger.warn({ err: why, retryInMs: delay }, "cannot mark the store as in use (a restore would not be refused); retrying");
    }
    timer = setTimeout(() => void connect(), delay);
    timer.unref();
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
  };
  let first = true;
  const connect = async () => {
    // Bounded, as start-up's own connection is: a host that takes the connection but never answers would hang.
    const c = new pg.Client({ connectionString: target.connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    client = c;
    // After a lost connection: end it and make a new one (the lock went with the session).
    c.on("error", (err) => {
      // The first attempt's failures reach its awaited calls, and stop the start there.
      if (client !== c || first) return;
      client = undefined;
      void c.end().catch(() => undefined);
      retryLater(err);
    });
    try {
      await c.connect().catch((e: unknown) => {
        throw first ? postgresConnectError(e, target) : e;
      });
      if (sole) {
        const fn = sole === "exclusive" ? "pg_try_advisory_lock" : "pg_try_advisory_lock_shared";
        const s = await c.query<{ held: boolean }>(`SELECT ${fn}(hashtext($1)) AS held`, [soleKey(target.schema)]);
        if (s.rows[0]?.held !== true) {
          // At start the refusal stops this process; later (after a lost connection) another one started meanwhile.
          throw first ? alreadyRunning(describeTarget(target)) : TAKEN_MEANWHILE;
        }
      }
      const r = await c.query<{ held: boolean }>("SELECT pg_try_advisory_lock_shared(hashtext($1)) AS held", [lockKey(target.schema)]);
      if (released) return void (await c.end().catch(() => undefined));
      if (r.rows[0]?.held !== true) {
        if (first) throw new MimicError("CONFIG", `A store restore is running on ${describeTarget(target)}: start Mimic once it has finished.`);
        throw new Error("a store restore holds the store");
      }
      delay = RECONNECT_FIRST_MS;
    } catch (e) {
      if (client !== c) return;
      client = undefined;
      await c.end().catch(() => undefined);
      // At start the store is not opened without its mark (unreachable, another sole holder, a restore running).
      if (first) throw e;
      retryLater(e);
    }
  };
  await connect();
  first = false;
  return {
    async release() {
      released = true;
      clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}

/**
 * A lock of `mode` on the store's `-running` file, held by a transaction kept open until release(): exclusive, or
 * shared (a read). SQLite's own locking takes it (POSIX locks, which the system drops with a dead process; other
 * connections in this process are told apart too).
 */
function holdSqliteSole(target: Extract<DatabaseTarget, { dialect: "sqlite" }>, mode: SoleMode): InUseMark {
  // A folder given as the store is refused by the store's own opening, in its words: no lock file beside it.
  if (statSync(target.path, { throwIfNoEntry: false })?.isDirectory()) return { release: async () => undefined };
  const path = soleLockPath(target.path);
  const created = !existsSync(path);
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { timeout: 0 });
    // SQLite opens a file it may not write read-only, and then takes no lock that would keep another out.
    try {
      accessSync(path, constants.W_OK);
    } catch {
      throw new MimicError(
        "CONFIG",
        `Mimic may not write its lock file ${path} (made by another user?), so it could not make sure it is the only bot on the store. Make the file writable for the user Mimic runs as, or delete it while no Mimic runs.`,
      );
    }
    if (mode === "exclusive") {
      db.pragma("locking_mode = EXCLUSIVE");
      db.exec("BEGIN EXCLUSIVE");
    } else {
      db.exec("BEGIN");
      db.prepare("SELECT count(*) FROM sqlite_master").get();
    }
  } catch (e) {
    db?.close();
    if (e instanceof MimicError) throw e;
    if ((e as { code?: string }).code === "SQLITE_BUSY") throw alreadyRunning(describeTarget(target));
    // The data folder read-only or full: told in the words the store itself would use.
    throw sqliteStartupError(e, target.path);
  }
  const held = db;
  return {
    async release({ discard = false } = {}) {
      if (!held.open) return;
      held.exec("ROLLBACK");
      held.close();
      if (discard && created) unlinkSync(path);
    },
  };
}
