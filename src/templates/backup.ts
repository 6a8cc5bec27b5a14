/**
 * Backup and restore of the whole store, for either dialect, through one portable format: a standalone
 * SQLite file with the current migrations applied (it opens as a normal store with DATABASE_URL=file:…).
 * Moving from the embedded SQLite file to PostgreSQL is a backup with the one and a restore into the other.
 *
 * Consistency: an SQLite source is copied with VACUUM INTO, which reads the whole file inside ONE read
 * transaction (in WAL mode writers go on meanwhile) and so is a snapshot of one moment. Not the online backup
 * API (better-sqlite3 `db.backup()`): it copies in steps and restarts whenever another connection writes
 * between two steps, so a busy bot can keep it from ever finishing. A PostgreSQL source is read in one
 * REPEATABLE READ transaction (one snapshot for every table), in batches by id.
 *
 * Rows are copied by the drivers (better-sqlite3, pg), not Prisma, in batches bounded by rows and by image bytes,
 * so memory stays flat however many faces the store holds; a restore into SQLite is SQLite's own INSERT … SELECT
 * from the attached copy. A restore is one transaction on the target whichever the dialect.
 *
 * Ids are kept: faces are referred to by id (users' defaults, audit rows) and the face-save ticket relies on
 * user ids never being reused, so each table's high-water mark (SQLite's sqlite_sequence, PostgreSQL's
 * sequence) travels too and the target's counters are moved past it.
 */
import { closeSync, fsyncSync, linkSync, mkdtempSync, openSync, readSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { MimicError, quoted } from "../errors.ts";
import { sqliteCode, sqliteStartupError } from "./db/errors.ts";
import { gateFor } from "./db/gate.ts";
import { loadMigrations, migrate } from "./db/migrate.ts";
import { SQLITE_BUSY_TIMEOUT_MS } from "./db/retry.ts";
import { nextTurn } from "./db/turns.ts";
import { describeTarget, type DatabaseTarget } from "./db/url.ts";
import { requireExistingStore } from "./existing-store.ts";
import { forgetAgain, readForgotten, type RestoreSql } from "./forgotten.ts";
import { configuredTarget, storeTarget } from "./store.ts";

/** Every table of the store, in an order that inserts satisfy (users before their templates). */
export const BACKUP_TABLES = ["users", "templates", "server_settings", "usage_events", "bans", "audit_events", "forgotten_users"] as const;
export type BackupTable = (typeof BACKUP_TABLES)[number];
export type TableCounts = Record<BackupTable, number>;

export interface BackupResult {
  /** Absolute path of the backup file. */
  file: string;
  /** The store it was taken from ("sqlite /path" or "postgres host/db schema s"). */
  source: string;
  /** The newest migration the backup carries. */
  schema: string;
  tables: TableCounts;
}

export interface RestoreResult {
  file: string;
  /** The store it was loaded into. */
  target: string;
  schema: string;
  tables: TableCounts;
  /** Whether rows the target had were replaced (--replace). */
  replaced: boolean;
  /** Users who asked to be forgotten (before or after the backup was taken) whose earlier data it held: deleted again. */
  forgottenAgain: number;
}

export interface BackupTargetOptions {
  /** DATABASE_URL; default the configured one (else the embedded file in DATA_DIR). */
  url?: string;
  dataDir?: string;
}

/**
 * Rows per batch of the tables without image bytes. Rows travel through the drivers themselves (better-sqlite3,
 * pg), never Prisma, whose driver adapters carry a Bytes value as an array of numbers (see db/blobs.ts).
 */
export const ROW_BATCH = 1000;
/** A batch of rows with image bytes (templates) holds at most this many bytes of them, and at least one row. */
export const BATCH_BYTES = 8 * 1024 * 1024;
/** …and at most this many rows, whatever their size. */
const BYTES_BATCH_ROWS = 64;
/** PostgreSQL's limit on the parameters of one statement. */
const PG_MAX_PARAMS = 65_535;


/**
 * Temporary files of the backup or restore in progress. An interrupted command (the store command's SIGINT and
 * SIGTERM handlers) removes them with `removeTemporaryFiles` before it exits.
 */
const temporary = new Set<() => void>();

export function removeTemporaryFiles(): void {
  for (const remove of temporary) {
    try {
      remove();
    } catch {
      // best effort: the process is exiting
    }
  }
  temporary.clear();
}

/** A path with its folder's links resolved (the file itself need not exist). */
function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

/** Whether `out` names the store's own file or one of SQLite's files beside it (by real path, or the same inode). */
function isStoreFile(out: string, storePath: string): boolean {
  const target = realPath(out);
  const outInfo = statSync(out, { throwIfNoEntry: false });
  // (Its -running lock file too: replaced, it would no longer keep a second bot out.)
  for (const suffix of ["", "-wal", "-shm", "-journal", "-running", "-running-journal"]) {
    const own = `${storePath}${suffix}`;
    if (realPath(own) === target) return true;
    const info = statSync(own, { throwIfNoEntry: false });
    if (outInfo && info && outInfo.dev === info.dev && outInfo.ino === info.ino) return true;
  }
  return false;
}

/**
 * Writes a consistent snapshot of the configured store to `file` (a new SQLite file), through a temporary
 * name in the same folder that is renamed at the end: a failed backup leaves no file under `file`.
 */
export async function backupStore(file: string, opts: BackupTargetOptions & { force?: boolean } = {}): Promise<BackupResult> {
  const out = resolve(file);
  // Not configuredTarget: a backup must not create the store it reads.
  const source = storeTarget(opts.url, opts.dataDir);
  // Even with --force: renaming over the live file would leave a running bot writing through the old -wal/-shm.
  if (source.dialect === "sqlite" && isStoreFile(out, source.path)) {
    throw new MimicError("CONFIG", `${quoted(file)} is one of the store's own files (${source.path}), so nothing was backed up. Name a backup file outside the store, e.g. ${join(dirname(out), "mimic-backup.db")}.`);
  }
  const existing = statSync(out, { throwIfNoEntry: false });
  if (existing?.isDirectory()) throw new MimicError("BAD_INPUT", `${quoted(file)} is a folder. Name the backup file to write, e.g. ${join(file, "mimic-backup.db")}.`);
  // Even with --force: the final rename would put a plain file where a device, a pipe or a socket was.
  if (existing && !existing.isFile()) {
    throw new MimicError("BAD_INPUT", `${quoted(file)} is not a regular file (a device, a pipe or a socket), so nothing was backed up. Name a new file to write, e.g. ${join(dirname(out), "mimic-backup.db")}.`);
  }
  if (existing && !opts.force) throw new MimicError("BAD_INPUT", `${quoted(file)} already exists. Choose another name, or add --force to overwrite it.`);
  if (!statSync(dirname(out), { throwIfNoEntry: false })?.isDirectory()) {
    throw new MimicError("BAD_INPUT", `Cannot write ${quoted(file)}: the folder ${dirname(out)} does not exist. Create it first, or name a file in an existing folder.`);
  }
  await requireExistingStore(source, "nothing was backed up");
  // Brings the source up to date first, as every command that opens the store does (and refuses a newer one).
  await migrate(source);
  const tmp = join(dirname(out), `.${basename(out)}.partial-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const tmpTarget: DatabaseTarget = { dialect: "sqlite", path: tmp, url: `file:${tmp}` };
  const cleanup = () => removeDb(tmp);
  temporary.add(cleanup);
  try {
    if (source.dialect === "sqlite") {
      await snapshotSqlite(source.path, tmp, file);
      await migrate(tmpTarget);
    } else {
      await migrate(tmpTarget).catch((e: unknown) => {
        throw writeError(e, file);
      });
      await snapshotPostgres(source, tmp);
    }
    const { tables, schema } = finishFile(tmp);
    publish(tmp, out, opts.force === true);
    return { file: out, source: describeTarget(source), schema, tables };
  } catch (e) {
    removeDb(tmp);
    throw e;
  } finally {
    temporary.delete(cleanup);
  }
}

async function snapshotSqlite(path: string, tmp: string, file: string): Promise<void> {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 15_000 });
  } catch (e) {
    throw sqliteStartupError(e, path);
  }
  try {
    db.prepare("VACUUM INTO ?").run(tmp);
  } catch (e) {
    const code = sqliteCode(e) ?? "";
    // Damage is the store's; anything else (a full disk, a closed folder) is about where the backup goes.
    throw code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB") ? sqliteStartupError(e, path) : writeError(e, file);
  } finally {
    db.close();
  }
}

function writeError(e: unknown, file: string): unknown {
  const code = sqliteCode(e) ?? (e as NodeJS.ErrnoException).code ?? "";
  if (/FULL|ENOSPC/.test(code)) return new MimicError("CONFIG", `The disk is full, so the backup ${quoted(file)} could not be written (nothing was left under that name). Free some space, or back up to another disk.`, { cause: e });
  if (/READONLY|CANTOPEN|EACCES|EROFS|EPERM/.test(code)) {
    return new MimicError("CONFIG", `Cannot write the backup in ${dirname(resolve(file))}: the folder is read-only or closed to this user. Back up to a folder you may write to.`, { cause: e });
  }
  return e;
}

/** PostgreSQL → the new SQLite file, every table from one snapshot. */
async function snapshotPostgres(source: PostgresTarget, tmp: string): Promise<void> {
  const src = await connectPostgres(source);
  const dst = new Database(tmp, { fileMustExist: true });
  try {
    // Snapshot isolation: every table as of the transaction's first read, and a reader never fails on writers.
    await src.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const highWater = await readPostgresHighWater(src);
    // The new file is this process's alone, and is synced before it is published (publish).
    dst.pragma("synchronous = OFF");
    await copyPostgresToSqlite(src, dst, await postgresLayout(src, dst));
    writeSqliteHighWater(dst, highWater);
    await src.query("COMMIT");
  } finally {
    dst.close();
    await src.end().catch(() => undefined);
  }
}

/** Makes the file a standalone one (no WAL beside it) and reads what it holds. */
function finishFile(path: string): { tables: TableCounts; schema: string } {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma("journal_mode = DELETE");
    // A use still being answered counts as answered: a restored store must not apologise for it long after, and
    // its note (a Discord interaction's token) stays out of the file, old pages included (secure_delete).
    db.pragma("secure_delete = ON");
    db.exec("UPDATE usage_events SET pending_by = NULL, pending_until_ms = NULL, pending_reply = NULL, pending_job = NULL WHERE pending_by IS NOT NULL");
    const tables = countSqlite(db, "main");
    const names = (db.prepare("SELECT name FROM _mimic_migrations ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
    return { tables, schema: names.at(-1) ?? "" };
  } finally {
    db.close();
  }
  // (the fsync happens in publish, after the last connection closed)
}

/** Durably on disk, then under its name in one step: `link` refuses an existing name atomically (no --force). */
function publish(tmp: string, out: string, force: boolean): void {
  const fd = openSync(tmp, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (force) {
    renameSync(tmp, out);
    return;
  }
  try {
    linkSync(tmp, out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new MimicError("BAD_INPUT", `${quoted(out)} appeared while the backup was written. Choose another name, or add --force to overwrite it.`);
    // A file system without hard links: the existence check at the start has to do.
    if ((e as NodeJS.ErrnoException).code !== "EPERM" && (e as NodeJS.ErrnoException).code !== "ENOTSUP") throw e;
    renameSync(tmp, out);
    return;
  }
  rmSync(tmp, { force: true });
}

function removeDb(path: string): void {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${path}${suffix}`, { force: true });
}

// ---------------------------------------------------------------------------------------------------------
// Restore

/**
 * Loads a backup into the configured store, keeping ids, in one transaction. A target that holds any row is
 * refused unless `replace`, which deletes what it holds in that same transaction (all or nothing).
 * The backup file itself is never changed: it is checked, then read through a private copy.
 */
export async function restoreStore(file: string, opts: BackupTargetOptions & { replace?: boolean; onCommitting?: () => void } = {}): Promise<RestoreResult> {
  // Named now (a bad DATABASE_URL is refused first); its folder is made only once the backup has passed its checks.
  storeTarget(opts.url, opts.dataDir);
  let work: string;
  try {
    work = mkdtempSync(join(tmpdir(), "mimic-restore-"));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new MimicError("CONFIG", `Cannot make a temporary folder in ${tmpdir()} (${code}), so nothing was restored. Set TMPDIR to a folder that exists and that Mimic may write to, then try again.`, { cause });
  }
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  temporary.add(cleanup);
  try {
    const copy = join(work, "backup.db");
    const schema = checkBackup(file, copy);
    const copyTarget: DatabaseTarget = { dialect: "sqlite", path: copy, url: `file:${copy}` };
    // A backup of an older Mimic: brought up to this one's schema (on the private copy).
    await migrate(copyTarget);
    const dest = configuredTarget(opts.url, opts.dataDir);
    await migrate(dest);
    const replace = opts.replace === true;
    const commit = opts.onCommitting ?? (() => undefined);
    const loaded = await gateFor(dest).write(() => (dest.dialect === "sqlite" ? restoreIntoSqlite(copy, dest, replace, commit) : restoreIntoPostgres(copy, dest, replace, commit)));
    return { file: resolve(file), target: describeTarget(dest), schema: schema.at(-1) ?? "", tables: loaded.copied, replaced: loaded.replaced, forgottenAgain: loaded.forgottenAgain };
  } finally {
    cleanup();
    temporary.delete(cleanup);
  }
}

interface Loaded {
  copied: TableCounts;
  replaced: boolean;
  forgottenAgain: number;
}

function refuseNonEmpty(dest: DatabaseTarget, held: TableCounts, replace: boolean): boolean {
  const nonEmpty = BACKUP_TABLES.filter((t) => held[t] > 0);
  if (nonEmpty.length && !replace) {
    throw new MimicError(
      "BAD_INPUT",
      `The store ${describeTarget(dest)} is not empty (${nonEmpty.map((t) => `${t}: ${held[t]}`).join(", ")}), so nothing was restored. Restore into an empty store, or add --replace to replace everything in it with the backup.`,
    );
  }
  return nonEmpty.length > 0;
}

/**
 * Everything the target held, in the restore's transaction: defaults first (users and templates point at each
 * other), then the tables in the reverse of their insert order (templates before their users).
 */
const WIPE = ["UPDATE users SET default_template_id = NULL WHERE default_template_id IS NOT NULL", ...[...BACKUP_TABLES].reverse().map((t) => `DELETE FROM ${t}`)];

/**
 * SQLite → SQLite: the private copy is attached to the target's connection and each table is copied by
 * SQLite itself (INSERT … SELECT), a batch of ids at a time, inside one write transaction. Stored values
 * travel untouched; between batches the event loop turns, so a stop signal is handled.
 */
async function restoreIntoSqlite(copy: string, dest: SqliteTarget, replace: boolean, onCommitting: () => void): Promise<Loaded> {
  const db = new Database(dest.path, { fileMustExist: true, timeout: SQLITE_BUSY_TIMEOUT_MS });
  try {
    db.prepare("ATTACH DATABASE ? AS backup").run(copy);
    const highWater = readSqliteHighWater(db, "backup");
    const columns = sqliteColumns(db, "main", "backup");
    const onTarget: RestoreSql = {
      all: async <T>(text: string, params: unknown[] = []) => db.prepare(text).all(...params) as T[],
      run: async (text, params = []) => void db.prepare(text).run(...params),
    };
    db.exec("BEGIN IMMEDIATE");
    try {
      const replaced = refuseNonEmpty(dest, countSqlite(db, "main"), replace);
      const forgotten = await readForgotten(onTarget);
      if (replaced) for (const sql of WIPE) db.exec(sql);
      const copied = {} as TableCounts;
      for (const t of BACKUP_TABLES) {
        const list = columns[t].map((c) => `"${c}"`).join(", ");
        // users.default_template_id and templates.user_id point at each other: the defaults come after the templates.
        const picked = t === "users" ? columns[t].map((c) => (c === "default_template_id" ? "NULL" : `"${c}"`)).join(", ") : list;
        const last = db.prepare(`SELECT MAX(id) AS id, COUNT(*) AS n FROM (SELECT id FROM backup.${t} WHERE id > ? ORDER BY id LIMIT ?)`);
        const insert = db.prepare(`INSERT INTO main.${t} (${list}) SELECT ${picked} FROM backup.${t} WHERE id > ? AND id <= ? ORDER BY id`);
        let after: number | bigint = BEFORE_FIRST;
        copied[t] = 0;
        for (;;) {
          const { id, n } = last.get(after, t === "templates" ? BYTES_BATCH_ROWS : ROW_BATCH) as { id: number | bigint | null; n: number };
          if (id === null) break;
          insert.run(after, id);
          copied[t] += n;
          after = id;
          await nextTurn();
        }
      }
      db.exec("UPDATE main.users SET default_template_id = (SELECT b.default_template_id FROM backup.users b WHERE b.id = users.id) WHERE id IN (SELECT id FROM backup.users WHERE default_template_id IS NOT NULL)");
      writeSqliteHighWater(db, highWater, "main");
      const forgottenAgain = await forgetAgain(onTarget, "sqlite", forgotten);
      onCommitting();
      db.exec("COMMIT");
      return { copied, replaced, forgottenAgain };
    } catch (e) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw e;
    }
  } finally {
    db.close();
  }
}

/** SQLite → PostgreSQL: batches read from the private copy, written in one PostgreSQL transaction. */
async function restoreIntoPostgres(copy: string, dest: PostgresTarget, replace: boolean, onCommitting: () => void): Promise<Loaded> {
  const src = new Database(copy, { readonly: true, fileMustExist: true });
  let dst: pg.Client | undefined;
  try {
    const highWater = readSqliteHighWater(src, "main");
    dst = await connectPostgres(dest);
    await dst.query("BEGIN");
    try {
      // Timestamps without a zone (SQLite's CURRENT_TIMESTAMP) are UTC, as everywhere in the store.
      await dst.query("SET LOCAL TIME ZONE 'UTC'");
      const replaced = refuseNonEmpty(dest, await countPostgres(dst), replace);
      const client = dst;
      const numbered = (text: string) => {
        let i = 0;
        return text.replace(/\?/g, () => `$${++i}`);
      };
      const onTarget: RestoreSql = {
        all: async <T>(text: string, params: unknown[] = []) => (await client.query(numbered(text), params)).rows as T[],
        run: async (text, params = []) => void (await client.query(numbered(text), params)),
      };
      const forgotten = await readForgotten(onTarget);
      if (replaced) for (const sql of WIPE) await dst.query(sql);
      const copied = await copySqliteToPostgres(src, dst, await postgresLayout(dst, src));
      await writePostgresHighWater(dst, highWater);
      const forgottenAgain = await forgetAgain(onTarget, "postgres", forgotten);
      // From here the server may commit even if this process stops: the caller can no longer say "nothing was restored".
      onCommitting();
      await dst.query("COMMIT");
      return { copied, replaced, forgottenAgain };
    } catch (e) {
      await dst.query("ROLLBACK").catch(() => undefined);
      throw e;
    }
  } finally {
    src.close();
    await dst?.end().catch(() => undefined);
  }
}

const SQLITE_MAGIC = "SQLite format 3\0";

/**
 * Refuses what is not a whole Mimic backup this version can read (one line saying which), then writes a
 * private copy of it to `copy`. Returns the migrations the backup has.
 */
function checkBackup(file: string, copy: string): string[] {
  const info = statSync(file, { throwIfNoEntry: false });
  if (!info) throw new MimicError("BAD_INPUT", `Cannot read the backup ${quoted(file)}: there is no such file. Name a file written by mimic store backup.`);
  if (!info.isFile()) throw new MimicError("BAD_INPUT", `${quoted(file)} is not a file. Name a file written by mimic store backup.`);
  const notBackup = (why: string) => new MimicError("BAD_INPUT", `${quoted(file)} is not a Mimic backup (${why}), so nothing was restored. Name a file written by mimic store backup.`);
  const damaged = (why: string, cause?: unknown) =>
    new MimicError("BAD_INPUT", `The backup ${quoted(file)} is damaged (${why}), so nothing was restored. Restore another backup, or make a new one with mimic store backup.`, { cause });

  const header = Buffer.alloc(100);
  const fd = openSync(file, "r");
  let read: number;
  try {
    read = readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (read < 16 || header.toString("latin1", 0, 16) !== SQLITE_MAGIC) throw notBackup("it is not an SQLite file");
  if (read < 100) throw damaged("it is cut short");
  // The header's page count is valid when its two change counters agree (every SQLite since 3.7.0 writes it):
  // a shorter file lost its end.
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const pages = header.readUInt32BE(28);
  if (header.readUInt32BE(24) === header.readUInt32BE(92) && pages > 0 && info.size < pages * pageSize) {
    throw damaged(`it is cut short: ${info.size} of ${pages * pageSize} bytes`);
  }

  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const check = db.pragma("quick_check", { simple: true });
    // Its first line may be a heading ("*** in database main ***"); the first finding follows.
    if (check !== "ok") throw damaged(`SQLite's check says: ${String(check).split("\n").find((line) => !line.startsWith("***")) ?? "malformed"}`);
    const have = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name));
    if (!have.has("_mimic_migrations")) throw notBackup("it has no record of Mimic's migrations");
    const rows = db.prepare("SELECT name, checksum FROM _mimic_migrations ORDER BY name").all() as Array<{ name: string; checksum: string }>;
    const known = new Map(loadMigrations("sqlite").map((m) => [m.name, m.checksum]));
    const newer = rows.find((r) => !known.has(r.name));
    if (newer) {
      throw new MimicError("BAD_INPUT", `The backup ${quoted(file)} was made by a newer Mimic (its schema has migration ${newer.name}, which this version does not know), so nothing was restored. Upgrade Mimic, then restore it.`);
    }
    const edited = rows.find((r) => known.get(r.name) !== r.checksum);
    if (edited) throw notBackup(`its migration ${edited.name} is not the one Mimic wrote`);
    const missing = BACKUP_TABLES.filter((t) => !have.has(t));
    if (missing.length && rows.length === known.size) throw notBackup(`it has no ${missing.join(", ")} table`);
    // One read transaction: a consistent copy even of a live store file someone names as the backup.
    db.prepare("VACUUM INTO ?").run(copy);
    return rows.map((r) => r.name);
  } catch (e) {
    if (e instanceof MimicError) throw e;
    const code = sqliteCode(e) ?? "";
    if (code.startsWith("SQLITE_NOTADB")) throw notBackup("it is not an SQLite file");
    if (code.startsWith("SQLITE_CORRUPT")) throw damaged("SQLite reads it as malformed", e);
    if (code.startsWith("SQLITE_FULL") || (e as NodeJS.ErrnoException).code === "ENOSPC") {
      throw new MimicError("CONFIG", `The disk of ${tmpdir()} is full, so the backup could not be read through a temporary copy. Free some space (or set TMPDIR to another disk), then try again.`, { cause: e });
    }
    throw e;
  } finally {
    db?.close();
  }
}

function countSqlite(db: Database.Database, schema: string): TableCounts {
  const counts = {} as TableCounts;
  for (const t of BACKUP_TABLES) counts[t] = Number((db.prepare(`SELECT COUNT(*) AS n FROM ${schema}.${t}`).get() as { n: number }).n);
  return counts;
}

async function countPostgres(c: pg.ClientBase): Promise<TableCounts> {
  const { rows } = await c.query<Record<BackupTable, string>>(`SELECT ${BACKUP_TABLES.map((t) => `(SELECT COUNT(*) FROM ${t}) AS ${t}`).join(", ")}`);
  const counts = {} as TableCounts;
  for (const t of BACKUP_TABLES) counts[t] = Number(rows[0]![t]);
  return counts;
}

// ---------------------------------------------------------------------------------------------------------
// Copying rows between the dialects, through the drivers, in batches by id (keyset), so neither a table nor
// its image bytes are ever held whole in memory.

type PostgresTarget = Extract<DatabaseTarget, { dialect: "postgres" }>;
type SqliteTarget = Extract<DatabaseTarget, { dialect: "sqlite" }>;

/** Smallest Int: every id is above it. */
const BEFORE_FIRST = -2147483648;

async function connectPostgres(target: PostgresTarget): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: target.connectionString, options: `-c search_path="${target.schema}"` });
  // A connection lost mid-copy fails the query in progress; without a listener it would also crash the process.
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

type ColumnKind = "integer" | "bigint" | "real" | "boolean" | "text" | "bytes" | "time";
type Layout = Record<BackupTable, Array<{ name: string; kind: ColumnKind }>>;

const KIND_OF_PG_TYPE: Record<string, ColumnKind> = {
  integer: "integer",
  bigint: "bigint",
  "double precision": "real",
  boolean: "boolean",
  text: "text",
  bytea: "bytes",
  "timestamp without time zone": "time",
};

/** The columns of one schema's tables (both ends have the same migrations applied). */
function sqliteColumns(db: Database.Database, schema: string, other?: string): Record<BackupTable, string[]> {
  const names = (s: string, t: string) => (db.prepare(`SELECT name FROM pragma_table_info(?, ?)`).all(t, s) as Array<{ name: string }>).map((r) => r.name);
  const columns = {} as Record<BackupTable, string[]>;
  for (const t of BACKUP_TABLES) {
    columns[t] = names(schema, t);
    if (other) sameColumns(t, columns[t], names(other, t));
  }
  return columns;
}

function sameColumns(table: string, a: string[], b: string[]): void {
  if (a.length !== b.length || a.some((c) => !b.includes(c))) {
    throw new Error(`the ${table} table has the columns ${[...a].sort().join(", ")} on one side and ${[...b].sort().join(", ")} on the other, though both have the same migrations`);
  }
}

/** Each table's columns and their kinds, from PostgreSQL's catalogue, checked against the SQLite file's. */
async function postgresLayout(c: pg.ClientBase, sqlite: Database.Database): Promise<Layout> {
  const { rows } = await c.query<{ table_name: BackupTable; column_name: string; data_type: string }>(
    "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ANY($1) ORDER BY table_name, ordinal_position",
    [[...BACKUP_TABLES]],
  );
  const local = sqliteColumns(sqlite, "main");
  const layout = {} as Layout;
  for (const t of BACKUP_TABLES) {
    layout[t] = rows
      .filter((r) => r.table_name === t)
      .map((r) => {
        const kind = KIND_OF_PG_TYPE[r.data_type];
        if (!kind) throw new Error(`${t}.${r.column_name} has the type ${r.data_type}, which backup does not know how to carry`);
        return { name: r.column_name, kind };
      });
    sameColumns(t, layout[t].map((c) => c.name), local[t]);
  }
  return layout;
}

/**
 * Where the next batch ends, given the ids after the last batch with each row's image bytes: as many rows as
 * fit in BATCH_BYTES (at least one). Tables without image bytes report 0 bytes, so their batches are whole.
 */
function nextBatchEnd(sizes: Array<{ id: number | bigint; bytes: number | bigint | string | null }>): { end: number | bigint; rows: number } | null {
  if (sizes.length === 0) return null;
  let total = 0;
  let rows = 0;
  for (const s of sizes) {
    total += Number(s.bytes ?? 0);
    if (rows > 0 && total > BATCH_BYTES) break;
    rows++;
  }
  return { end: sizes[rows - 1]!.id, rows };
}

const sizeOf = (cols: Layout[BackupTable], length: string) =>
  cols.some((c) => c.kind === "bytes") ? cols.filter((c) => c.kind === "bytes").map((c) => `COALESCE(${length}("${c.name}"), 0)`).join(" + ") : null;

/** SQLite's stored value → a parameter PostgreSQL reads as the column's type. */
function toPostgres(kind: ColumnKind, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (kind) {
    case "boolean":
      return Number(v) !== 0; // SQLite keeps booleans as 0/1
    case "integer":
    case "real":
      return Number(v);
    case "bigint":
      return String(v); // read as BigInt, so exact
    case "time":
      // Prisma writes ISO text, CURRENT_TIMESTAMP "YYYY-MM-DD HH:MM:SS" (both UTC); a number is epoch milliseconds.
      return typeof v === "string" ? v : new Date(Number(v)).toISOString();
    case "text":
      return typeof v === "bigint" ? String(v) : v;
    case "bytes":
      return v;
  }
}

/** PostgreSQL's value as pg parses it (Buffer for bytea, string for bigint) → what SQLite stores. */
function toSqlite(kind: ColumnKind, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (kind === "boolean") return v ? 1 : 0;
  if (kind === "bigint") return BigInt(v as string);
  return v;
}

/** How a column is selected from PostgreSQL: timestamps as the text Prisma writes into SQLite. */
const pgSelect = (c: { name: string; kind: ColumnKind }) => (c.kind === "time" ? `to_char("${c.name}", 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"') AS "${c.name}"` : `"${c.name}"`);

async function copySqliteToPostgres(src: Database.Database, dst: pg.ClientBase, layout: Layout): Promise<TableCounts> {
  const copied = {} as TableCounts;
  for (const t of BACKUP_TABLES) {
    const cols = layout[t];
    const list = cols.map((c) => `"${c.name}"`).join(", ");
    const bytes = sizeOf(cols, "length");
    const rowLimit = Math.min(ROW_BATCH, Math.floor(PG_MAX_PARAMS / cols.length));
    const sizes = src.prepare(`SELECT id, ${bytes ?? "0"} AS bytes FROM ${t} WHERE id > ? ORDER BY id LIMIT ?`).safeIntegers(true);
    const read = src.prepare(`SELECT ${list} FROM ${t} WHERE id > ? AND id <= ? ORDER BY id`).raw(true).safeIntegers(true);
    // users.default_template_id and templates.user_id point at each other: the defaults come after the templates.
    const kinds = cols.map((c) => (t === "users" && c.name === "default_template_id" ? null : c.kind));
    const placeholder = (kind: ColumnKind | null, n: number) => (kind === null ? "NULL" : kind === "time" ? `CAST($${n} AS timestamptz) AT TIME ZONE 'UTC'` : `$${n}`);
    copied[t] = 0;
    let after: number | bigint = BEFORE_FIRST;
    for (;;) {
      const batch = nextBatchEnd(sizes.all(after, bytes ? BYTES_BATCH_ROWS : rowLimit) as Array<{ id: bigint; bytes: bigint }>);
      if (!batch) break;
      const rows = read.all(after, batch.end) as unknown[][];
      const values: unknown[] = [];
      const tuples = rows.map((row) => {
        const marks = kinds.map((kind, i) => {
          if (kind === null) return "NULL";
          values.push(toPostgres(kind, row[i]));
          return placeholder(kind, values.length);
        });
        return `(${marks.join(", ")})`;
      });
      await dst.query(`INSERT INTO ${t} (${list}) VALUES ${tuples.join(", ")}`, values);
      copied[t] += rows.length;
      after = batch.end;
    }
  }
  const defaults = src.prepare("SELECT id, default_template_id FROM users WHERE default_template_id IS NOT NULL AND id > ? ORDER BY id LIMIT ?").raw(true);
  for (let after = BEFORE_FIRST; ; ) {
    const rows = defaults.all(after, ROW_BATCH) as Array<[number, number]>;
    if (rows.length === 0) break;
    await dst.query("UPDATE users AS u SET default_template_id = d.template FROM unnest($1::int[], $2::int[]) AS d(id, template) WHERE u.id = d.id", [rows.map((r) => r[0]), rows.map((r) => r[1])]);
    after = rows.at(-1)![0];
  }
  return copied;
}

async function copyPostgresToSqlite(src: pg.ClientBase, dst: Database.Database, layout: Layout): Promise<TableCounts> {
  const copied = {} as TableCounts;
  for (const t of BACKUP_TABLES) {
    const cols = layout[t];
    const bytes = sizeOf(cols, "octet_length");
    const insert = dst.prepare(`INSERT INTO ${t} (${cols.map((c) => `"${c.name}"`).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`);
    const users = t === "users";
    const write = dst.transaction((rows: unknown[][]) => {
      for (const row of rows) insert.run(cols.map((c, i) => (users && c.name === "default_template_id" ? null : toSqlite(c.kind, row[i]))));
    });
    copied[t] = 0;
    let after: number = BEFORE_FIRST;
    for (;;) {
      const sizes = await src.query<{ id: number; bytes: string | null }>(`SELECT id, ${bytes ?? "0"} AS bytes FROM ${t} WHERE id > $1 ORDER BY id LIMIT $2`, [after, bytes ? BYTES_BATCH_ROWS : ROW_BATCH]);
      const batch = nextBatchEnd(sizes.rows);
      if (!batch) break;
      const query: pg.QueryArrayConfig = { rowMode: "array", text: `SELECT ${cols.map(pgSelect).join(", ")} FROM ${t} WHERE id > $1 AND id <= $2 ORDER BY id`, values: [after, batch.end] };
      const { rows } = await src.query<unknown[]>(query);
      write(rows);
      copied[t] += rows.length;
      after = Number(batch.end);
    }
  }
  const setDefault = dst.prepare("UPDATE users SET default_template_id = ? WHERE id = ?");
  const writeDefaults = dst.transaction((rows: Array<{ id: number; template: number }>) => {
    for (const r of rows) setDefault.run(r.template, r.id);
  });
  for (let after = BEFORE_FIRST; ; ) {
    const { rows } = await src.query<{ id: number; template: number }>("SELECT id, default_template_id AS template FROM users WHERE default_template_id IS NOT NULL AND id > $1 ORDER BY id LIMIT $2", [after, ROW_BATCH]);
    if (rows.length === 0) break;
    writeDefaults(rows);
    after = rows.at(-1)!.id;
  }
  return copied;
}

type HighWater = Partial<Record<BackupTable, number>>;

/** The largest id each table ever handed out (deleted rows included): ids above it are new. */
function readSqliteHighWater(db: Database.Database, schema: string): HighWater {
  const marks: HighWater = {};
  const rows = db.prepare(`SELECT name, seq FROM ${schema}.sqlite_sequence`).all() as Array<{ name: string; seq: number }>;
  for (const r of rows) if ((BACKUP_TABLES as readonly string[]).includes(r.name)) marks[r.name as BackupTable] = Number(r.seq);
  return marks;
}

async function readPostgresHighWater(c: pg.ClientBase): Promise<HighWater> {
  const marks: HighWater = {};
  for (const t of BACKUP_TABLES) {
    const { rows } = await c.query<{ v: string | null }>("SELECT pg_sequence_last_value(CAST(pg_get_serial_sequence($1, 'id') AS regclass)) AS v", [t]);
    if (rows[0]?.v != null) marks[t] = Number(rows[0].v);
  }
  return marks;
}

/** Moves each table's id counter past the backup's high-water mark (AUTOINCREMENT already keeps it past every id inserted). */
function writeSqliteHighWater(db: Database.Database, marks: HighWater, schema = "main"): void {
  const create = db.prepare(`INSERT INTO ${schema}.sqlite_sequence (name, seq) SELECT ?, 0 WHERE NOT EXISTS (SELECT 1 FROM ${schema}.sqlite_sequence WHERE name = ?)`);
  const raise = db.prepare(`UPDATE ${schema}.sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?`);
  for (const t of BACKUP_TABLES) {
    const mark = marks[t] ?? 0;
    if (mark <= 0) continue;
    create.run(t, t);
    raise.run(mark, t);
  }
}

/** Moves each table's sequence past the backup's high-water mark and past every id now in the table. */
async function writePostgresHighWater(c: pg.ClientBase, marks: HighWater): Promise<void> {
  for (const t of BACKUP_TABLES) {
    // Explicit ids do not move a PostgreSQL sequence: without this the next insert would reuse id 1.
    const { rows } = await c.query<{ v: string | null }>(
      `SELECT GREATEST((SELECT MAX(id) FROM ${t}), pg_sequence_last_value(CAST(pg_get_serial_sequence($1, 'id') AS regclass)), CAST($2 AS BIGINT)) AS v`,
      [t, marks[t] ?? 0],
    );
    const v = Number(rows[0]?.v ?? 0);
    if (v > 0) await c.query("SELECT setval(CAST(pg_get_serial_sequence($1, 'id') AS regclass), CAST($2 AS BIGINT))", [t, v]);
  }
}
