/**
 * One Prisma client per store, through a driver adapter (Prisma 6 "js" engine: no native binaries).
 * Both generated clients come from the same models, so the PostgreSQL one is typed as the SQLite one.
 */
import { PrismaLibSQL } from "@prisma/adapter-libsql";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as SqliteClient } from "../../generated/sqlite/client.ts";
import { PrismaClient as PostgresClient } from "../../generated/postgres/client.ts";
import type { DatabaseTarget } from "./url.ts";

export type Db = SqliteClient;
export type { Prisma } from "../../generated/sqlite/client.ts";

/** Interactive transactions wait behind each other (SQLite has one writer); give them room under load. */
const transactionOptions = { maxWait: 30_000, timeout: 30_000 };

export function createPrismaClient(target: DatabaseTarget, opts: { poolSize?: number } = {}): Db {
  if (target.dialect === "sqlite") {
    return new SqliteClient({ adapter: new PrismaLibSQL({ url: target.url }), transactionOptions });
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
