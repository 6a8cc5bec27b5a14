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
 * Ids are kept: faces are referred to by id (users' defaults, audit rows) and the face-save ticket relies on
 * user ids never being reused, so each table's high-water mark (SQLite's sqlite_sequence, PostgreSQL's
 * sequence) travels too and the target's counters are moved past it.
 */
import { closeSync, fsyncSync, linkSync, mkdtempSync, openSync, readSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import Database from "better-sqlite3";
import { MimicError } from "../errors.ts";
import { Prisma } from "../generated/sqlite/client.ts";
import { createPrismaClient, type Db } from "./db/client.ts";
import { sqliteCode, sqliteStartupError } from "./db/errors.ts";
import { gateFor } from "./db/gate.ts";
import { loadMigrations, migrate } from "./db/migrate.ts";
import { describeTarget, type DatabaseTarget } from "./db/url.ts";
import { configuredTarget, storeTarget } from "./store.ts";

/** Every table of the store, in an order that inserts satisfy (users before their templates). */
export const BACKUP_TABLES = ["users", "templates", "server_settings", "usage_events", "bans", "audit_events"] as const;
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
}

export interface BackupTargetOptions {
  /** DATABASE_URL; default the configured one (else the embedded file in DATA_DIR). */
  url?: string;
  dataDir?: string;
}

type Tx = Prisma.TransactionClient;

/** Templates carry image bytes (a portrait frame up to ~2 MB, as an array of numbers inside Prisma): few per batch. */
const TEMPLATE_BATCH = 8;
const ROW_BATCH = 1000;
/** A long copy must not be cut off by Prisma's interactive-transaction timeout (below 2^31 ms: setTimeout's limit). */
const LONG_TX = { maxWait: 60_000, timeout: 6 * 60 * 60 * 1000 };

const quoted = (file: string) => `“${file}”`;

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
  for (const suffix of ["", "-wal", "-shm", "-journal"]) {
    const own = `${storePath}${suffix}`;
    if (realPath(own) === target) return true;
    const info = statSync(own, { throwIfNoEntry: false });
    if (outInfo && info && outInfo.dev === info.dev && outInfo.ino === info.ino) return true;
  }
  return false;
}

/** Refuses a source that was never made (a mistyped DATA_DIR or DATABASE_URL): a backup of it would be empty. */
async function requireStore(source: DatabaseTarget): Promise<void> {
  const refuse = (where: string) =>
    new MimicError("CONFIG", `There is no store at ${where}, so nothing was backed up: check DATA_DIR/DATABASE_URL.`);
  if (source.dialect === "sqlite") {
    if (!statSync(source.path, { throwIfNoEntry: false })?.isFile()) throw refuse(source.path);
    return;
  }
  const db = createPrismaClient(source, { poolSize: 1 });
  try {
    const rows = await db.$queryRaw<Array<{ n: bigint | number }>>`SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ${source.schema} AND table_name = '_mimic_migrations'`;
    if (Number(rows[0]?.n ?? 0) === 0) throw refuse(describeTarget(source));
  } finally {
    await db.$disconnect();
  }
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
  if (existing && !opts.force) throw new MimicError("BAD_INPUT", `${quoted(file)} already exists. Choose another name, or add --force to overwrite it.`);
  if (!statSync(dirname(out), { throwIfNoEntry: false })?.isDirectory()) {
    throw new MimicError("BAD_INPUT", `Cannot write ${quoted(file)}: the folder ${dirname(out)} does not exist. Create it first, or name a file in an existing folder.`);
  }
  await requireStore(source);
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
      await snapshotPostgres(source, tmpTarget);
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
async function snapshotPostgres(source: Extract<DatabaseTarget, { dialect: "postgres" }>, tmpTarget: DatabaseTarget): Promise<void> {
  const src = createPrismaClient(source, { poolSize: 2 });
  const dst = createPrismaClient(tmpTarget);
  try {
    await src.$transaction(
      async (tx) => {
        const highWater = await readHighWater(tx, "postgres");
        // The new file is this process's alone: its writes need no transaction of their own.
        await copyAll(tx, dst);
        await writeHighWater(dst, "sqlite", highWater);
      },
      // Snapshot isolation: every table as of the transaction's first read, and a reader never fails on writers.
      { ...LONG_TX, isolationLevel: "RepeatableRead" as Prisma.TransactionIsolationLevel },
    );
  } finally {
    await Promise.all([src.$disconnect(), dst.$disconnect()]);
  }
}

/** Makes the file a standalone one (no WAL beside it) and reads what it holds. */
function finishFile(path: string): { tables: TableCounts; schema: string } {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma("journal_mode = DELETE");
    const tables = countTables(db);
    const names = (db.prepare("SELECT name FROM _mimic_migrations ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
    return { tables, schema: names.at(-1) ?? "" };
  } finally {
    db.close();
  }
  // (the fsync happens in publish, after the last connection closed)
}

function countTables(db: Database.Database): TableCounts {
  const counts = {} as TableCounts;
  for (const t of BACKUP_TABLES) counts[t] = Number((db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n);
  return counts;
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
export async function restoreStore(file: string, opts: BackupTargetOptions & { replace?: boolean } = {}): Promise<RestoreResult> {
  const dest = configuredTarget(opts.url, opts.dataDir);
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
    await migrate(dest);
    const src = createPrismaClient(copyTarget);
    const dst = createPrismaClient(dest, { poolSize: 2 });
    try {
      const highWater = await readHighWater(src, "sqlite");
      const tables = await gateFor(dest).write(() =>
        dst.$transaction(async (tx) => {
          const held = await countRows(tx);
          const nonEmpty = BACKUP_TABLES.filter((t) => held[t] > 0);
          if (nonEmpty.length && !opts.replace) {
            throw new MimicError(
              "BAD_INPUT",
              `The store ${describeTarget(dest)} is not empty (${nonEmpty.map((t) => `${t}: ${held[t]}`).join(", ")}), so nothing was restored. Restore into an empty store, or add --replace to replace everything in it with the backup.`,
            );
          }
          if (nonEmpty.length) await wipe(tx);
          const copied = await copyAll(src, tx);
          await writeHighWater(tx, dest.dialect, highWater);
          return { copied, replaced: nonEmpty.length > 0 };
        }, LONG_TX),
      );
      return { file: resolve(file), target: describeTarget(dest), schema: schema.at(-1) ?? "", tables: tables.copied, replaced: tables.replaced };
    } finally {
      await Promise.all([src.$disconnect(), dst.$disconnect()]);
    }
  } finally {
    cleanup();
    temporary.delete(cleanup);
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
    if (check !== "ok") throw damaged(`SQLite's check says: ${String(check).split("\n")[0]}`);
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

async function countRows(c: Tx): Promise<TableCounts> {
  const [users, templates, serverSettings, usageEvents, bans, auditEvents] = [
    await c.user.count(),
    await c.template.count(),
    await c.serverSettings.count(),
    await c.usageEvent.count(),
    await c.ban.count(),
    await c.auditEvent.count(),
  ];
  return { users, templates, server_settings: serverSettings, usage_events: usageEvents, bans, audit_events: auditEvents };
}

/** Everything the target held, in the restore's transaction. */
async function wipe(tx: Tx): Promise<void> {
  await tx.user.updateMany({ data: { defaultTemplateId: null } });
  await tx.template.deleteMany();
  await tx.user.deleteMany();
  await tx.serverSettings.deleteMany();
  await tx.usageEvent.deleteMany();
  await tx.ban.deleteMany();
  await tx.auditEvent.deleteMany();
}

// ---------------------------------------------------------------------------------------------------------
// Copying rows (Prisma on both ends: it maps booleans, timestamps, BigInt and bytes between the dialects)

/** Smallest Int: every id is above it. */
const BEFORE_FIRST = -2147483648;

/** Pages through a table by id (keyset), `take` rows at a time, so no table is ever held whole in memory. */
async function eachBatch<T extends { id: number }>(read: (after: number) => Promise<T[]>, write: (rows: T[]) => Promise<unknown>): Promise<number> {
  let after = BEFORE_FIRST;
  let n = 0;
  for (;;) {
    const rows = await read(after);
    if (rows.length === 0) return n;
    await write(rows);
    n += rows.length;
    after = rows[rows.length - 1]!.id;
  }
}

async function copyAll(src: Tx, dst: Tx): Promise<TableCounts> {
  const page = (after: number, take: number) => ({ where: { id: { gt: after } }, orderBy: { id: "asc" as const }, take });
  // users.default_template_id and templates.user_id point at each other: users first without their
  // default, then the templates, then the defaults.
  const defaults: Array<[number, number]> = [];
  const users = await eachBatch(
    (after) => src.user.findMany(page(after, ROW_BATCH)),
    (rows) => {
      for (const r of rows) if (r.defaultTemplateId !== null) defaults.push([r.id, r.defaultTemplateId]);
      return dst.user.createMany({ data: rows.map((r) => ({ ...r, defaultTemplateId: null })) });
    },
  );
  const templates = await eachBatch(
    (after) => src.template.findMany(page(after, TEMPLATE_BATCH)),
    (rows) => dst.template.createMany({ data: rows }),
  );
  for (let i = 0; i < defaults.length; i += ROW_BATCH) {
    const chunk = defaults.slice(i, i + ROW_BATCH);
    await dst.$executeRaw`UPDATE users SET default_template_id = CASE id ${Prisma.join(
      chunk.map(([u, t]) => Prisma.sql`WHEN ${u} THEN CAST(${t} AS INTEGER)`),
      " ",
    )} END WHERE id IN (${Prisma.join(chunk.map(([u]) => u))})`;
  }
  const serverSettings = await eachBatch(
    (after) => src.serverSettings.findMany(page(after, ROW_BATCH)),
    (rows) => dst.serverSettings.createMany({ data: rows }),
  );
  const usageEvents = await eachBatch(
    (after) => src.usageEvent.findMany(page(after, ROW_BATCH)),
    (rows) => dst.usageEvent.createMany({ data: rows }),
  );
  const bans = await eachBatch(
    (after) => src.ban.findMany(page(after, ROW_BATCH)),
    (rows) => dst.ban.createMany({ data: rows }),
  );
  const auditEvents = await eachBatch(
    (after) => src.auditEvent.findMany(page(after, ROW_BATCH)),
    (rows) => dst.auditEvent.createMany({ data: rows }),
  );
  return { users, templates, server_settings: serverSettings, usage_events: usageEvents, bans, audit_events: auditEvents };
}

type HighWater = Partial<Record<BackupTable, number>>;

/** The largest id each table ever handed out (deleted rows included): ids above it are new. */
async function readHighWater(c: Tx, dialect: DatabaseTarget["dialect"]): Promise<HighWater> {
  const marks: HighWater = {};
  if (dialect === "sqlite") {
    const rows = await c.$queryRaw<Array<{ name: string; seq: number | bigint }>>`SELECT name, seq FROM sqlite_sequence`;
    for (const r of rows) if ((BACKUP_TABLES as readonly string[]).includes(r.name)) marks[r.name as BackupTable] = Number(r.seq);
    return marks;
  }
  for (const t of BACKUP_TABLES) {
    const [row] = await c.$queryRaw<Array<{ v: bigint | number | null }>>`SELECT pg_sequence_last_value(CAST(pg_get_serial_sequence(${t}, 'id') AS regclass)) AS v`;
    if (row?.v != null) marks[t] = Number(row.v);
  }
  return marks;
}

/** Moves each table's id counter past the backup's high-water mark and past every id now in the table. */
async function writeHighWater(c: Tx, dialect: DatabaseTarget["dialect"], marks: HighWater): Promise<void> {
  for (const t of BACKUP_TABLES) {
    const mark = marks[t] ?? 0;
    if (dialect === "sqlite") {
      // AUTOINCREMENT already keeps seq ≥ every id inserted; the mark adds ids the source had deleted.
      if (mark <= 0) continue;
      await c.$executeRaw`INSERT INTO sqlite_sequence (name, seq) SELECT ${t}, 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ${t})`;
      await c.$executeRaw`UPDATE sqlite_sequence SET seq = MAX(seq, ${mark}) WHERE name = ${t}`;
      continue;
    }
    // Explicit ids do not move a PostgreSQL sequence: without this the next insert would reuse id 1.
    const [row] = await c.$queryRaw<Array<{ v: bigint | number | null }>>`SELECT GREATEST(
        (SELECT MAX(id) FROM ${Prisma.raw(t)}),
        pg_sequence_last_value(CAST(pg_get_serial_sequence(${t}, 'id') AS regclass)),
        CAST(${mark} AS BIGINT)) AS v`;
    const v = Number(row?.v ?? 0);
    if (v > 0) await c.$queryRaw`SELECT setval(CAST(pg_get_serial_sequence(${t}, 'id') AS regclass), CAST(${v} AS BIGINT))`;
  }
}
