/**
 * The committed migrations must build exactly the schema prisma/schema.prisma describes, on both
 * providers: apply them with the app's migrator to one empty database, apply Prisma's own from-empty
 * script of the CURRENT schema to another, and compare the two catalogs (columns, types, nullability,
 * defaults, indexes, foreign keys). Editing the schema without `npm run db:migration -- <name>` fails here.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MimicError } from "../../src/errors.ts";
import { describeTarget, loadMigrations, migrate, resolveDatabaseTarget, type DatabaseTarget } from "../../src/templates/index.ts";
import { createScript, portableSql } from "../../tools/db/prisma-cli.ts";
import { derivePostgresSchema, schemaPath, sqliteSchemaPath, writePostgresSchema } from "../../tools/db/schemas.ts";
import { createTestDb, dialects, STORE_TABLES, type TestDb } from "./helpers.ts";

const SQLITE_CATALOG = `
  SELECT 'column' AS kind, m.name AS tbl, p.name AS name, p.type || ' notnull=' || p."notnull" || ' default=' || COALESCE(p.dflt_value, '') || ' pk=' || p.pk AS def
    FROM sqlite_master m JOIN pragma_table_info(m.name) p
   WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_mimic_migrations'
  UNION ALL
  SELECT 'index', m.name, il.name, 'unique=' || il."unique" || ' cols=' || (SELECT group_concat(ii.name, ',') FROM pragma_index_info(il.name) ii)
    FROM sqlite_master m JOIN pragma_index_list(m.name) il
   WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_mimic_migrations'
  UNION ALL
  SELECT 'fk', m.name, fk."from", fk."table" || '.' || fk."to" || ' on_delete=' || fk.on_delete || ' on_update=' || fk.on_update
    FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) fk
   WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
  ORDER BY 1, 2, 3`;

const PG_CATALOG = `
  SELECT 'column' AS kind, table_name AS tbl, column_name AS name,
         data_type || ' ' || is_nullable || ' ' || COALESCE(column_default, '') || ' ' || COALESCE(character_maximum_length::text, '') || ' ' || COALESCE(datetime_precision::text, '') AS def
    FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> '_mimic_migrations'
  UNION ALL
  SELECT 'index', tablename, indexname, regexp_replace(indexdef, ' ON [^ ]+\\.', ' ON ')
    FROM pg_indexes WHERE schemaname = current_schema() AND tablename <> '_mimic_migrations'
  UNION ALL
  SELECT 'constraint', c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = current_schema() AND c.conrelid::regclass::text <> '_mimic_migrations'
  ORDER BY 1, 2, 3`;

async function catalog(db: TestDb): Promise<string[]> {
  const rows = await db.query<{ kind: string; tbl: string; name: string; def: string }>(db.dialect === "sqlite" ? SQLITE_CATALOG : PG_CATALOG);
  return rows.map((r) => `${r.kind} ${r.tbl}.${r.name}: ${r.def}`);
}

async function runScript(db: TestDb, sql: string): Promise<void> {
  const target = resolveDatabaseTarget(db.url);
  if (target.dialect === "sqlite") {
    const c = new Database(target.path);
    c.exec(sql);
    c.close();
  } else {
    const c = new pg.Client({ connectionString: target.connectionString });
    await c.connect();
    await c.query(`CREATE SCHEMA IF NOT EXISTS "${target.schema}"; SET search_path TO "${target.schema}"`);
    await c.query(sql);
    await c.end();
  }
}

describe.each(dialects)("committed migrations on $dialect", ({ dialect, skip }) => {
  const dbs: TestDb[] = [];
  const fresh = async () => {
    const db = await createTestDb(dialect, "mig");
    dbs.push(db);
    return db;
  };
  beforeAll(() => {
    if (dialect === "postgres") writePostgresSchema();
  });
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  it.skipIf(skip)("build exactly the current schema (fails while they drift from prisma/schema.prisma)", async () => {
    const migrated = await fresh();
    const applied = await migrate(resolveDatabaseTarget(migrated.url));
    expect(applied).toEqual(loadMigrations(dialect).map((m) => m.name));
    const expected = await fresh();
    await runScript(expected, portableSql(createScript(schemaPath(dialect === "sqlite" ? "sqlite" : "postgresql"))));
    const want = await catalog(expected);
    expect(want.length).toBeGreaterThan(30);
    expect(await catalog(migrated)).toEqual(want);
    // The tables forget-me is checked against are all the tables there are.
    const tables = [...new Set(want.map((l) => l.split(" ")[1].split(".")[0]))].sort();
    expect(tables).toEqual([...STORE_TABLES].sort());
  }, 60_000);

  it.skipIf(skip)("applies nothing the second time, and concurrent starters apply each migration once", async () => {
    const db = await fresh();
    const target = resolveDatabaseTarget(db.url);
    const results = await Promise.all(Array.from({ length: 4 }, () => migrate(target)));
    expect(results.flat().sort()).toEqual(loadMigrations(dialect).map((m) => m.name));
    expect(await migrate(target)).toEqual([]);
    const recorded = await db.query<{ name: string }>("SELECT name FROM _mimic_migrations ORDER BY name");
    expect(recorded.map((r) => r.name)).toEqual(loadMigrations(dialect).map((m) => m.name));
  });

  it.skipIf(skip)("refuses a database whose applied migration was edited, or that is newer than the code", async () => {
    const db = await fresh();
    const target: DatabaseTarget = resolveDatabaseTarget(db.url);
    const real = loadMigrations(dialect);
    await migrate(target, real);
    const edited = real.map((m, i) => (i === 0 ? { ...m, checksum: "0".repeat(64) } : m));
    const e1 = await migrate(target, edited).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(MimicError);
    expect((e1 as MimicError).userMessage).toMatch(/was edited after it was applied/);
    const e2 = await migrate(target, []).catch((e: unknown) => e);
    // Which store, and what to do: the newer Mimic can use it and back it up.
    expect((e2 as MimicError).userMessage).toBe(
      `The store ${describeTarget(target)} was last used by a newer Mimic (it has migration ${real[0]!.name}, which this version does not know), so this version cannot use it. Run the newer version again; it can also back the store up (mimic store backup).`,
    );
  });

  it.skipIf(skip)("a failing migration is rolled back whole and not recorded", async () => {
    const db = await fresh();
    const target = resolveDatabaseTarget(db.url);
    const root = mkdtempSync(join(tmpdir(), "mimic-migs-"));
    const dir = join(root, dialect === "sqlite" ? "sqlite" : "postgres");
    const add = (name: string, sql: string) => {
      mkdirSync(join(dir, name), { recursive: true });
      writeFileSync(join(dir, name, "migration.sql"), sql);
    };
    add("0001_ok", "CREATE TABLE one (id INTEGER PRIMARY KEY);");
    add("0002_broken", "CREATE TABLE two (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);");
    await expect(migrate(target, loadMigrations(dialect, root))).rejects.toThrow(/no_such_table|no such table/);
    const tables = await db.query<{ name: string }>(
      dialect === "sqlite"
        ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        : "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1",
    );
    expect(tables.map((t) => t.name)).toEqual(["_mimic_migrations", "one"]);
    expect((await db.query<{ name: string }>("SELECT name FROM _mimic_migrations")).map((r) => r.name)).toEqual(["0001_ok"]);
  });
});

describe("the PostgreSQL schema", () => {
  it("is derived from prisma/schema.prisma, never kept by hand", () => {
    const derived = derivePostgresSchema(readFileSync(sqliteSchemaPath, "utf8"));
    expect(derived).toMatch(/provider = "postgresql"/);
    expect(derived).not.toMatch(/"sqlite"/);
    expect(readFileSync(writePostgresSchema(), "utf8")).toBe(derived);
    expect(() => derivePostgresSchema('datasource db {\n provider = "mysql"\n}')).toThrow(/expected to find/);
  });
});

describe("DATABASE_URL", () => {
  it("takes file:…, postgresql://… and what reads as a path; refuses a bare word instead of making a database of that name", () => {
    expect(resolveDatabaseTarget("file:./data/x.db")).toMatchObject({ dialect: "sqlite" });
    expect(resolveDatabaseTarget("./data/x.db")).toMatchObject({ dialect: "sqlite" });
    expect(resolveDatabaseTarget("mimic.sqlite")).toMatchObject({ dialect: "sqlite" });
    expect(resolveDatabaseTarget("postgresql://u@h:5432/d")).toMatchObject({ dialect: "postgres" });
    for (const bad of ["garbage", "mysql://u@h/d"]) {
      let e: unknown;
      try {
        resolveDatabaseTarget(bad);
      } catch (x) {
        e = x;
      }
      expect(e, bad).toBeInstanceOf(MimicError);
      expect((e as MimicError).message).toMatch(/^DATABASE_URL must be file:… \(SQLite\) or postgresql:\/\/…/);
    }
  });
});

