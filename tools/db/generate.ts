/**
 * `npm run db:generate`: derives the PostgreSQL schema from prisma/schema.prisma and generates both Prisma
 * clients into src/generated/{sqlite,postgres} (gitignored). tools/setup.mjs runs it whenever prisma/ or
 * tools/db/ change, so `npm start` / `npm test` on a fresh clone need no manual step.
 */
import { prismaCli } from "./prisma-cli.ts";
import { sqliteSchemaPath, writePostgresSchema } from "./schemas.ts";

prismaCli(["generate", "--schema", sqliteSchemaPath]);
prismaCli(["generate", "--schema", writePostgresSchema()]);
console.error("db:generate: Prisma clients written to src/generated/sqlite and src/generated/postgres");
