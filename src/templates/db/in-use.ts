/**
 * Whether a running Mimic (the bot, the playground, a front end) has the store open, so that a restore can
 * refuse to replace the store under it: a running bot keeps answering from what it read before, and a meme
 * in flight would find its own records gone.
 *
 * SQLite needs nothing extra: in WAL mode every open connection that has read holds a SHARED lock on the file
 * for as long as it stays open, so an exclusive lock is only granted when no other connection is open.
 * PostgreSQL connections come and go with the pool, so a running Mimic holds a shared advisory lock, per
 * schema, on one connection of its own for its whole life; a restore asks for the same lock exclusively.
 */
import Database from "better-sqlite3";
import pg from "pg";
import { existsSync } from "node:fs";
import { logger } from "../../logger.ts";
import type { DatabaseTarget } from "./url.ts";

/** How long the check waits for a connection that is only briefly open (another mimic command reading). */
const PROBE_WAIT_MS = 2_000;
const RECONNECT_FIRST_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;

const lockKey = (schema: string) => `mimic-store:${schema}`;

export interface InUseMark {
  release(): Promise<void>;
}

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
 */
export async function markStoreInUse(target: DatabaseTarget): Promise<InUseMark> {
  if (target.dialect === "sqlite") return { release: async () => undefined };
  let client: pg.Client | undefined;
  let released = false;
  let delay = RECONNECT_FIRST_MS;
  let timer: NodeJS.Timeout | undefined;

  const retryLater = (why: unknown) => {
    if (released) return;
    logger.warn({ err: why, retryInMs: delay }, "cannot mark the store as in use (a restore would not be refused); retrying");
    timer = setTimeout(() => void connect(), delay);
    timer.unref();
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
  };
  const connect = async () => {
    const c = new pg.Client({ connectionString: target.connectionString });
    client = c;
    // After a lost connection: end it and make a new one (the lock went with the session).
    c.on("error", (err) => {
      if (client !== c) return;
      client = undefined;
      void c.end().catch(() => undefined);
      retryLater(err);
    });
    try {
      await c.connect();
      const r = await c.query<{ held: boolean }>("SELECT pg_try_advisory_lock_shared(hashtext($1)) AS held", [lockKey(target.schema)]);
      if (released) return void (await c.end().catch(() => undefined));
      if (r.rows[0]?.held !== true) throw new Error("a store restore holds the store");
      delay = RECONNECT_FIRST_MS;
    } catch (e) {
      if (client !== c) return;
      client = undefined;
      await c.end().catch(() => undefined);
      retryLater(e);
    }
  };
  await connect();
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
