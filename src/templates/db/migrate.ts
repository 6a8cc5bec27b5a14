/**
 * Applies the committed SQL migrations (prisma/migrations/{sqlite,postgres}/NNNN_name/migration.sql) in
 * name order, each inside its own transaction together with its row in `_mimic_migrations`, so a crash
 * leaves every migration either fully applied and recorded or not at all. Runs at every start-up and is
 * idempotent; concurrent starters are serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock).
 *
 * Why our own instead of `prisma migrate deploy`: the CLI is a dev dependency of the workflow, not of the
 * running bot, spawning it costs ~1 s per start, and under Prisma 6's offline JS engine it needs the
 * prisma.config.ts adapter wiring; this is ~100 lines over the same drivers the app already uses. A changed
 * file that was already applied is refused (its checksum is recorded) instead of silently diverging.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { MimicError } from "../../errors.ts";
import { postgresConnectError, sqliteStartupError } from "./errors.ts";
import { gateFor } from "./gate.ts";
import { withRetry } from "./retry.ts";
import { describeTarget, type DatabaseTarget } from "./url.ts";

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

const migrationsRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "prisma", "migrations");

export function loadMigrations(dialect: DatabaseTarget["dialect"], root = migrationsRoot): Migration[] {
  const dir = join(root, dialect === "sqlite" ? "sqlite" : "postgres");
  if (!existsSync(dir)) throw new MimicError("CONFIG", `No migrations found in ${dir}`);
  return readdirSync(dir)
    .filter((d) => /^\d{4}_[a-z0-9_]+$/.test(d) && existsSync(join(dir, d, "migration.sql")))
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

const TABLE = "_mimic_migrations";

function checkApplied(applied: Map<string, string>, migrations: Migration[]): Migration[] {
  const known = new Set(migrations.map((m) => m.name));
  for (const name of applied.keys()) {
    if (!known.has(name)) {
      throw new MimicError("CONFIG", `The database has migration ${name}, which this version of Mimic does not know: it is newer than this code`, {
        details: { reason: "newerSchema", migration: name },
      });
    }
  }
  for (const m of migrations) {
    const sum = applied.get(m.name);
    if (sum !== undefined && sum !== m.checksum) {
      throw new MimicError("CONFIG", `Migration ${m.name} was edited after it was applied; restore the original file and add a new migration instead`);
    }
  }
  return migrations.filter((m) => !applied.has(m.name));
}

/** Returns the names of the migrations it applied (empty when the database was up to date). */
export async function migrate(target: DatabaseTarget, migrations = loadMigrations(target.dialect)): Promise<string[]> {
  return migrateEither(target, migrations).catch((e: unknown) => {
    // After a rollback to an older Mimic: which store, and what to do (the newer version can read and back it up).
    if (e instanceof MimicError && e.details?.reason === "newerSchema") {
      throw new MimicError(
        "CONFIG",
        `The store ${describeTarget(target)} was last used by a newer Mimic (it has migration ${String(e.details.migration)}, which this version does not know), so this version cannot use it. Run the newer version again; it can also back the store up (mimic store backup).`,
        { cause: e, details: e.details },
      );
    }
    throw e;
  });
}

function migrateEither(target: DatabaseTarget, migrations: Migration[]): Promise<string[]> {
  if (target.dialect === "postgres") return migratePostgres(target, migrations);
  // Same-file work in this process is queued (see gate.ts); the busy timeout then only ever waits for
  // other processes. The file is first opened and written here: a full, read-only or foreign one is named.
  // Its wait for another process's lock is synchronous (up to 15 s): openStore runs this first, before the
  // ops server, the playground or any bot is started (app.ts), so no heartbeat or request is waiting yet.
  return gateFor(target)
    .run(() => migrateSqlite(target.path, migrations))
    .catch((e: unknown) => {
      throw sqliteStartupError(e, target.path);
    });
}

async function migrateSqlite(path: string, migrations: Migration[]): Promise<string[]> {
  // timeout = busy timeout: a concurrent starter in another process waits for the writer.
  const db = new Database(path, { timeout: 15_000 });
  const done: string[] = [];
  try {
    // WAL: readers never block the writer, and other processes (the CLI beside a running bot) can read.
    db.pragma("journal_mode = WAL");
    db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`);
    // One migration per write transaction (BEGIN IMMEDIATE); re-read inside it so a concurrent starter's
    // work is seen. better-sqlite3's transaction() rolls back when the function throws.
    const applyNext = db.transaction((): string | null => {
      const rows = db.prepare(`SELECT name, checksum FROM ${TABLE}`).all() as Array<{ name: string; checksum: string }>;
      const next = checkApplied(new Map(rows.map((r) => [r.name, r.checksum])), migrations)[0];
      if (!next) return null;
      db.exec(next.sql);
      // Foreign keys are off while it runs (below), so what it left is checked before it is committed.
      const broken = db.pragma("foreign_key_check") as Array<{ table: string; rowid: number | bigint | null; parent: string }>;
      if (broken.length > 0) {
        const where = [...new Set(broken.map((b) => `${b.table} → ${b.parent}`))].join(", ");
        throw new MimicError(
          "CONFIG",
          `Migration ${next.name} would leave ${broken.length} row(s) pointing at rows that no longer exist (${where}), so it was not applied and the database is unchanged. This is a fault in the migration: keep this version's data, and report it.`,
        );
      }
      db.prepare(`INSERT INTO ${TABLE} (name, checksum, applied_at) VALUES (?, ?, ?)`).run(next.name, next.checksum, new Date().toISOString());
      return next.name;
    });
    // A migration that rebuilds a table (create a copy, copy the rows, drop the old one, rename) would, with
    // foreign keys on, run ON DELETE CASCADE when it drops a parent (users, templates): every face gone.
    // PRAGMA foreign_keys does nothing inside a transaction, so it is turned off on the connection before
    // BEGIN (SQLite's documented table-rebuild procedure), checked with foreign_key_check before COMMIT, and
    // turned on again after.
    db.pragma("foreign_keys = OFF");
    try {
      for (;;) {
        const applied = await withRetry(async () => applyNext.immediate(), { patienceMs: 15_000 });
        if (applied === null) break;
        done.push(applied);
      }
    } finally {
      db.pragma("foreign_keys = ON");
    }
  } finally {
    db.close();
  }
  return done;
}

/** How long start-up waits for PostgreSQL to answer a connection. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Arbitrary constant shared by every Mimic process: "mimic" in ASCII. */
const MIGRATION_LOCK_KEY = 0x6d696d6963;

/**
 * A first contact with PostgreSQL (start-up, a command's check): a refusal is the operator's to fix, said in
 * words, not a crash; a host that takes the connection and never answers (a firewall dropping packets, a wrong
 * port) would hold it for ever, so it is bounded as Redis's first contact is.
 */
export async function connectAtStartup(target: Extract<DatabaseTarget, { dialect: "postgres" }>): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: target.connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await client.connect().catch((e: unknown) => {
    throw postgresConnectError(e, target);
  });
  return client;
}

async function migratePostgres(target: Extract<DatabaseTarget, { dialect: "postgres" }>, migrations: Migration[]): Promise<string[]> {
  const client = await connectAtStartup(target);
  const done: string[] = [];
  try {
    // Lock first: even CREATE SCHEMA IF NOT EXISTS races between concurrent starters.
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${target.schema}"`);
      await client.query(`SET search_path TO "${target.schema}"`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
      const rows = await client.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM ${TABLE}`);
      const pending = checkApplied(new Map(rows.rows.map((r) => [r.name, r.checksum])), migrations);
      for (const m of pending) {
        await client.query("BEGIN");
        try {
          await client.query(m.sql); // simple-query protocol: a whole multi-statement file at once
          await client.query(`INSERT INTO ${TABLE} (name, checksum) VALUES ($1, $2)`, [m.name, m.checksum]);
          await client.query("COMMIT");
        } catch (e) {
          await client.query("ROLLBACK").catch(() => {});
          throw e;
        }
        done.push(m.name);
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
    }
  } finally {
    await client.end();
  }
  return done;
}
