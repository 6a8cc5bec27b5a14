/**
 * The store's schema files. prisma/schema.prisma is the single model definition (SQLite provider); the
 * PostgreSQL schema is DERIVED from it here (provider, url and client output swapped, nothing else), so the
 * two can never drift. Used by generate.ts (clients) and migration.ts (SQL migrations).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const sqliteSchemaPath = join(root, "prisma", "schema.prisma");
/** Generated, gitignored: src/generated/ is never committed. */
export const postgresSchemaPath = join(root, "src", "generated", "postgres.prisma");

export type Provider = "sqlite" | "postgresql";
export const providers: Provider[] = ["sqlite", "postgresql"];

export function schemaPath(provider: Provider): string {
  return provider === "sqlite" ? sqliteSchemaPath : postgresSchemaPath;
}

export function migrationsDir(provider: Provider): string {
  return join(root, "prisma", "migrations", provider === "sqlite" ? "sqlite" : "postgres");
}

/** Rewrites the SQLite schema into the PostgreSQL one; throws if the anchors it swaps are missing. */
export function derivePostgresSchema(sqliteSchema: string): string {
  const swaps: Array<[RegExp, string]> = [
    [/provider\s*=\s*"sqlite"/, 'provider = "postgresql"'],
    [/url\s*=\s*"file:[^"]*"/, 'url      = "postgresql://postgres@127.0.0.1:5432/postgres"'],
    [/output\s*=\s*"\.\.\/src\/generated\/sqlite"/, 'output              = "./postgres"'],
  ];
  let out = sqliteSchema;
  for (const [pattern, replacement] of swaps) {
    if (!pattern.test(out)) throw new Error(`prisma/schema.prisma: expected to find ${pattern} to derive the PostgreSQL schema`);
    out = out.replace(pattern, replacement);
  }
  return `// GENERATED from prisma/schema.prisma by tools/db/schemas.ts — do not edit.\n${out}`;
}

export function writePostgresSchema(): string {
  const text = derivePostgresSchema(readFileSync(sqliteSchemaPath, "utf8"));
  mkdirSync(dirname(postgresSchemaPath), { recursive: true });
  writeFileSync(postgresSchemaPath, text);
  return postgresSchemaPath;
}
