/**
 * The embedded SQLite file must stay the one this process opened. A file deleted or replaced under a running
 * Mimic (rm, a backup copied over it, mv of another store) is not noticed by SQLite in WAL mode: the open
 * connection keeps writing to the old, unlinked file, so saves report success and are lost on restart. So
 * the adapter records the file's identity (device and inode) when it connects and compares the path's with
 * it before each statement and each transaction (one stat, microseconds); a different or missing file
 * refuses the work, which also makes the ops readiness check (a listing) fail until Mimic is restarted.
 */
import { statSync } from "node:fs";
import { MimicError } from "../../errors.ts";
import { endsTransaction } from "./turns.ts";

interface Identity {
  dev: bigint;
  ino: bigint;
}

function identityOf(path: string): Identity | undefined {
  const s = statSync(path, { bigint: true, throwIfNoEntry: false });
  return s ? { dev: s.dev, ino: s.ino } : undefined;
}

/**
 * What a statement meets when the file is not the one opened: an error carrying SQLite's own code for it
 * (SQLITE_READONLY_DBMOVED, which SQLite raises itself only outside WAL mode), so that it survives Prisma's
 * wrapping; the units of work turn it into databaseFileMoved (retry.ts).
 */
function movedError(path: string, now: Identity | undefined): Error {
  const what = now ? "replaced by another file" : "deleted";
  return Object.assign(
    new Error(
      `the database file ${path} was ${what} while Mimic was running, so nothing more is read from or written to it: restart Mimic to open the file now at that path (restore a backup there first if it was deleted by mistake)`,
    ),
    { code: "SQLITE_READONLY_DBMOVED" },
  );
}

/** The refusal of a unit of work that met a database file deleted or replaced since it was opened. */
export function databaseFileMoved(cause: unknown): MimicError {
  const lines = (cause instanceof Error ? cause.message : String(cause)).split("\n").map((l) => l.trim()).filter(Boolean);
  return new MimicError("INTERNAL", "Mimic's storage is unavailable right now, so this could not be done (nothing was saved). Please tell the bot's owner.", {
    cause,
    details: { reason: "database-file-moved" },
    // Prisma puts the call and a code frame first; the driver's words are the last line.
    logMessage: lines.at(-1) ?? "the database file was deleted or replaced while Mimic was running: restart Mimic",
  });
}

const CHECKED = new Set<PropertyKey>(["queryRaw", "executeRaw", "executeScript", "startTransaction"]);

function guard<T extends object>(target: T, path: string, opened: Identity): T {
  return new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop, t) as unknown;
      if (typeof v !== "function") return v;
      const fn = v as (...args: unknown[]) => unknown;
      if (!CHECKED.has(prop)) return fn.bind(t);
      return async (...args: unknown[]) => {
        // Ending a transaction is let through: its ROLLBACK (or COMMIT) only closes what was begun.
        if (!endsTransaction(prop, args)) {
          const now = identityOf(path);
          if (!now || now.dev !== opened.dev || now.ino !== opened.ino) throw movedError(path, now);
        }
        const out = await fn.apply(t, args);
        return prop === "startTransaction" ? guard(out as object, path, opened) : out;
      };
    },
  });
}

/** A better-sqlite3 adapter factory whose connections refuse work once `path` is no longer the file they opened. */
export function sameFile<T extends object>(factory: T, path: string): T {
  return new Proxy(factory, {
    get(t, prop) {
      const v = Reflect.get(t, prop, t) as unknown;
      if (typeof v !== "function") return v;
      const fn = v as (...args: unknown[]) => unknown;
      if (prop !== "connect") return fn.bind(t);
      return async (...args: unknown[]) => {
        const adapter = (await fn.apply(t, args)) as object;
        // The driver has just opened (or created) the file: what is at the path now is what it opened.
        const opened = identityOf(path);
        return opened ? guard(adapter, path, opened) : adapter;
      };
    },
  });
}
