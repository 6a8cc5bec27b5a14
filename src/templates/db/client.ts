/**
 * One Prisma client per store, through a driver adapter (Prisma 6 "js" engine: no native binaries).
 * Both generated clients come from the same models, so the PostgreSQL one is typed as the SQLite one.
 *
 * SQLite goes through better-sqlite3, not libsql: measured here, three processes inserting into one
 * libsql-opened file each saw their own rows and reported successes that the file did not keep (a
 * race of 3 × 100 conditional inserts for 41 slots: 111 reported, 6 in the file), while better-sqlite3
 * (like the sqlite3 shell) kept exactly 41. The bot and `mimic face` may share the embedded file.
 */
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as SqliteClient } from "../../generated/sqlite/client.ts";
import { PrismaClient as PostgresClient } from "../../generated/postgres/client.ts";
import { SQLITE_BUSY_TIMEOUT_MS } from "./retry.ts";
import { sameFile } from "./same-file.ts";
import { turnTaking } from "./turns.ts";
import type { DatabaseTarget } from "./url.ts";

export type Db = SqliteClient;
export type { Prisma } from "../../generated/sqlite/client.ts";

/** Interactive transactions wait behind each other (SQLite has one writer); give them room under load. */
const transactionOptions = { maxWait: 30_000, timeout: 30_000 };

export function createPrismaClient(target: DatabaseTarget, opts: { poolSize?: number } = {}): Db {
  if (target.dialect === "sqlite") {
    // timeout = busy timeout: a write waits this long for another process's write lock, blocking the thread
    // (the driver is synchronous), so it is short; the units of work wait longer between attempts, in timers
    // (gate.ts, retry.ts). Statements take turns with the rest of the event loop (see turns.ts).
    // The file must stay the one opened (same-file.ts): one deleted or replaced meanwhile refuses the work.
    const adapter = sameFile(new PrismaBetterSQLite3({ url: target.url, timeout: SQLITE_BUSY_TIMEOUT_MS }), target.path);
    return new SqliteClient({ adapter: turnTaking(adapter), transactionOptions });
  }
  const adapter = new PrismaPg(
    {
      connectionString: target.connectionString,
      max: opts.poolSize ?? 10,
      // Our raw SQL names tables unqualified; Prisma's own queries are qualified with `schema` below.
      options: `-c search_path="${target.schema}"`,
    },
    { schema: target.schema },
  );
  return new PostgresClient({ adapter, transactionOptions }) as unknown as Db;
}
