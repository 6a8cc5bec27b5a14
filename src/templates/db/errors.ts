/**
 * Driver errors an operator or a user can act on, turned into MimicErrors that say what is wrong and what to
 * do: a PostgreSQL server that cannot be reached at start-up, and an SQLite file that is full, read-only, not
 * openable, damaged or not a database. Anything else is passed on as it came.
 */
import { statSync, statfsSync } from "node:fs";
import { dirname, join } from "node:path";
import { MimicError } from "../../errors.ts";
import { redactUrl } from "../../redact-url.ts";
import type { DatabaseTarget } from "./url.ts";

/** The SQLite result code (SQLITE_FULL, SQLITE_READONLY_DBMOVED, …) of a better-sqlite3 or Prisma error, or of one of its causes. */
export function sqliteCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * A write refused because the disk (or the database's size limit) is full: the unit of work was rolled back whole.
 * `operator`: told to whoever runs Mimic (a CLI command), who can free the space, instead of a chat user.
 */
export function storageFull(cause: unknown, operator?: { path?: string }): MimicError {
  const details = { reason: "storage-full" };
  const logMessage = `the database's storage is full: ${cause instanceof Error ? cause.message : String(cause)}`;
  if (operator) {
    const where = operator.path ? `The disk holding Mimic's database ${operator.path}` : "The disk holding Mimic's database";
    return new MimicError(
      "INTERNAL",
      `${where} is full, so this could not be done (nothing saved before is lost). Free some space on that disk (or move DATA_DIR to a bigger one), then try again.`,
      { cause, details, logMessage },
    );
  }
  return new MimicError(
    "INTERNAL",
    "Mimic's server storage is full, so this could not be done (nothing saved before is lost). Please tell the bot's owner, then try again later.",
    { cause, details, logMessage },
  );
}

/** Whether `e` is storageFull's refusal. */
export function isStorageFull(e: unknown): e is MimicError {
  return e instanceof MimicError && e.details?.reason === "storage-full";
}

/**
 * Whether the disk holding `dir` is (nearly) full: less free space than SQLite needs to start (its -shm
 * index, 32 KiB, and a first page of the WAL). Unknown (no statfs there): false.
 */
function diskFull(dir: string): boolean {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize < 64 << 10;
  } catch {
    return false;
  }
}

const WRITABLE_ELSEWHERE = "or set DATA_DIR (or DATABASE_URL) to a folder Mimic may write to";

/**
 * Start-up's reading of an SQLite failure (opening, migrating, pruning): a CONFIG error naming the file and
 * its folder where the operator has to act, else `e` unchanged.
 */
export function sqliteStartupError(e: unknown, path: string): unknown {
  const code = sqliteCode(e) ?? "";
  const dir = dirname(path);
  const config = (message: string) => new MimicError("CONFIG", message, { cause: e });
  // A disk with no room left shows at start-up as an I/O error when SQLite creates its -shm or -wal file
  // (journal_mode=WAL): told as full when the disk is, other I/O errors are passed on as they came.
  if (code.startsWith("SQLITE_FULL") || (code.startsWith("SQLITE_IOERR") && diskFull(dir))) {
    return config(`The data folder ${dir} is full, so Mimic cannot write its database ${path}. Free some space on that disk, ${WRITABLE_ELSEWHERE}.`);
  }
  if (code.startsWith("SQLITE_READONLY")) {
    return config(`The database ${path} is read-only (the file or its data folder ${dir}). Make both writable for the user Mimic runs as, ${WRITABLE_ELSEWHERE}.`);
  }
  if (code.startsWith("SQLITE_CANTOPEN")) {
    // The driver says only "unable to open database file"; a folder given as the file is the one case it hides.
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
      return config(`DATABASE_URL points at the folder ${path}, not at a database file. Name a file in it, e.g. file:${join(path, "mimic.db")}.`);
    }
    return config(`Cannot open or create the database ${path}: the data folder ${dir} is read-only or closed to the user Mimic runs as. Make it writable, ${WRITABLE_ELSEWHERE}.`);
  }
  if (code.startsWith("SQLITE_CORRUPT")) {
    return config(
      `The database ${path} is damaged (SQLite reads it as malformed). Stop Mimic and restore your latest backup with mimic store restore <file> --replace; moving the file out of the way starts an empty database, without the faces saved in it.`,
    );
  }
  if (code.startsWith("SQLITE_NOTADB")) {
    return config(`${path} is not a Mimic database (it is not an SQLite file). Point DATABASE_URL at Mimic's database, or move that file out of the way.`);
  }
  return e;
}

/** Start-up's reading of a failed connection to PostgreSQL: always a CONFIG error naming DATABASE_URL (password masked). */
export function postgresConnectError(e: unknown, target: Extract<DatabaseTarget, { dialect: "postgres" }>): MimicError {
  const err = e as { code?: unknown; message?: unknown };
  const shown = redactUrl(target.connectionString);
  if (err.code === "3D000") {
    // PostgreSQL's default database is the user's name.
    const u = new URL(target.connectionString);
    const name = decodeURIComponent(u.pathname.slice(1) || u.username);
    return new MimicError("CONFIG", `PostgreSQL at ${shown} (DATABASE_URL) has no database “${name}”. Create it (e.g. createdb ${name}) or correct DATABASE_URL.`, { cause: e });
  }
  const why = String(err.message || err.code || e).replace(/\.$/, "");
  return new MimicError(
    "CONFIG",
    `Could not connect to PostgreSQL at ${shown} (DATABASE_URL): ${why}. Start PostgreSQL, correct DATABASE_URL, or leave it unset to use the embedded SQLite file.`,
    { cause: e },
  );
}
