/**
 * SQLite migrations that rebuild a table (Prisma's way to alter one there: create a copy, copy the rows, drop
 * the old table, rename the copy) must carry the data through. better-sqlite3 turns foreign keys on, and
 * PRAGMA foreign_keys=OFF inside the migration's transaction does nothing, so dropping users would cascade
 * into templates and delete every face. Real migrator, real store, the committed migrations plus test-only
 * ones given to migrate() (no real migration is added).
 */
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { MimicError } from "../../src/errors.ts";
import { type Migration } from "../../src/templates/db/migrate.ts";
import { loadMigrations, migrate, openStore, resolveDatabaseTarget } from "../../src/templates/index.ts";
import { createTestDb, fakeTemplate, type TestDb } from "./helpers.ts";

function migration(name: string, sql: string): Migration {
  return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
}

/** users rebuilt as Prisma writes it for SQLite (0001_init's definition and indexes). */
const REBUILD_USERS = migration(
  "9001_rebuild_users",
  `PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_users" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "platform" TEXT NOT NULL,
    "platform_user_id" TEXT NOT NULL,
    "default_template_id" INTEGER,
    "created_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "users_default_template_id_fkey" FOREIGN KEY ("default_template_id") REFERENCES "templates" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_users" ("id", "platform", "platform_user_id", "default_template_id", "created_at") SELECT "id", "platform", "platform_user_id", "default_template_id", "created_at" FROM "users";
DROP TABLE "users";
ALTER TABLE "new_users" RENAME TO "users";
CREATE UNIQUE INDEX "users_default_template_id_key" ON "users"("default_template_id");
CREATE UNIQUE INDEX "users_platform_platform_user_id_key" ON "users"("platform", "platform_user_id");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
`,
);

/** A faulty migration: drops users without carrying them over, leaving every template without its owner. */
const LOSE_USERS = migration(
  "9001_lose_users",
  `PRAGMA foreign_keys=OFF;
CREATE TABLE "new_users" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "platform" TEXT NOT NULL, "platform_user_id" TEXT NOT NULL, "default_template_id" INTEGER, "created_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP);
DROP TABLE "users";
ALTER TABLE "new_users" RENAME TO "users";
PRAGMA foreign_keys=ON;
`,
);

const owner = { platform: "telegram", userId: "rebuild" };
let db: TestDb | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

async function seeded(): Promise<TestDb> {
  const t = await createTestDb("sqlite", "migrate-fk");
  const store = await openStore(t.url);
  try {
    await store.templates.save(owner, "one", fakeTemplate("one"));
    await store.templates.save(owner, "two", fakeTemplate("two"));
    await store.templates.setDefault(owner, "two");
  } finally {
    await store.close();
  }
  return t;
}

/** The faces in the file, read directly (opening the store would refuse a migration it does not know). */
async function faces(t: TestDb): Promise<{ names: string[]; defaults: string[] }> {
  const rows = await t.query<{ name: string; is_default: number }>(
    `SELECT t.name, (u.default_template_id = t.id) AS is_default FROM templates t JOIN users u ON u.id = t.user_id WHERE u.platform_user_id = '${owner.userId}' ORDER BY t.id`,
  );
  return { names: rows.map((r) => r.name), defaults: rows.filter((r) => r.is_default).map((r) => r.name) };
}

describe("SQLite migrations that rebuild a parent table", () => {
  it("a migration rebuilding users carries every face and the default through", async () => {
    db = await seeded();
    const target = resolveDatabaseTarget(db.url);
    expect(await migrate(target, [...loadMigrations("sqlite"), REBUILD_USERS])).toEqual(["9001_rebuild_users"]);
    expect(await faces(db)).toEqual({ names: ["one", "two"], defaults: ["two"] });
    expect(await db.query<{ c: number }>(`SELECT count(*) AS c FROM pragma_foreign_key_check`)).toEqual([{ c: 0 }]);
  });

  it("a migration that would leave faces without their owner is refused and rolled back whole", async () => {
    db = await seeded();
    const target = resolveDatabaseTarget(db.url);
    let refused: unknown;
    try {
      await migrate(target, [...loadMigrations("sqlite"), LOSE_USERS]);
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(MimicError);
    expect((refused as MimicError).code).toBe("CONFIG");
    expect((refused as MimicError).userMessage).toMatch(/^Migration 9001_lose_users would leave 2 row\(s\) pointing at rows that no longer exist \(templates → users\), so it was not applied/);
    expect(await db.query<{ name: string }>(`SELECT name FROM _mimic_migrations WHERE name LIKE '9%'`)).toEqual([]);
    expect(await faces(db)).toEqual({ names: ["one", "two"], defaults: ["two"] });
  });
});
