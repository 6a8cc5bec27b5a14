/**
 * `npm run db:migration -- <name>`: after editing prisma/schema.prisma, writes the next SQL migration for
 * BOTH providers (prisma/migrations/sqlite/NNNN_name and prisma/migrations/postgres/NNNN_name), so the
 * committed migrations always describe the one schema. The app applies them itself at start-up
 * (src/templates/db/migrate.ts); test/templates/migrations.test.ts fails when they drift from the schema.
 *
 * Everything is `prisma migrate diff` between datamodels, which needs no database and no native engine:
 * the first migration is `--from-empty`, later ones diff from prisma/migrations/schema.snapshot.prisma (the
 * schema as of the last migration, written here, never by hand) to the current schema. We tried
 * `--from-migrations` (it replays the migrations in a shadow database): through the JS schema engine of
 * Prisma 6.19 the SQLite shadow runs only the first statement of each file and the PostgreSQL one fails to
 * introspect ("Column type 'name' could not be deserialized"), so it is not reliable offline.
 */
import { mkdirSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { copyFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createScript, portableSql, prismaCli } from "./prisma-cli.ts";
import {
  derivePostgresSchema,
  migrationsDir,
  providers,
  root,
  schemaPath,
  sqliteSchemaPath,
  writePostgresSchema,
  type Provider,
} from "./schemas.ts";

const snapshotPath = join(root, "prisma", "migrations", "schema.snapshot.prisma");

function nextMigration(provider: Provider): string | null {
  const dir = migrationsDir(provider);
  const existing = existsSync(dir) ? readdirSync(dir).filter((d) => /^\d{4}_/.test(d)) : [];
  if (existing.length === 0) return createScript(schemaPath(provider));
  if (!existsSync(snapshotPath)) throw new Error(`${snapshotPath} is missing: it is written with every migration`);
  let from = snapshotPath;
  if (provider === "postgresql") {
    from = join(tmpdir(), `mimic-snapshot-${process.pid}.prisma`);
    writeFileSync(from, derivePostgresSchema(readFileSync(snapshotPath, "utf8")));
  }
  const sql = prismaCli(
    ["migrate", "diff", "--from-schema-datamodel", from, "--to-schema-datamodel", schemaPath(provider), "--script"],
  );
  return /^\s*(-- This is an empty migration\.)?\s*$/.test(sql) ? null : sql;
}

const name = (process.argv[2] ?? "").toLowerCase();
if (!/^[a-z0-9_]{1,40}$/.test(name)) {
  console.error("usage: npm run db:migration -- <name>   (name: 1–40 of [a-z0-9_])");
  process.exit(2);
}
writePostgresSchema();
for (const provider of providers) {
  const sql = nextMigration(provider);
  const dir = migrationsDir(provider);
  if (sql === null) {
    console.error(`${provider}: schema and migrations already agree; nothing written`);
    continue;
  }
  const count = existsSync(dir) ? readdirSync(dir).filter((d) => /^\d{4}_/.test(d)).length : 0;
  const target = join(dir, `${String(count + 1).padStart(4, "0")}_${name}`);
  mkdirSync(target, { recursive: true });
  writeFileSync(join(target, "migration.sql"), portableSql(sql));
  writeFileSync(join(dir, "migration_lock.toml"), `# Written by tools/db/migration.ts\nprovider = "${provider}"\n`);
  console.error(`${provider}: wrote ${target}/migration.sql`);
}
copyFileSync(sqliteSchemaPath, snapshotPath);
