/** Runs the project's Prisma 6 CLI (offline: engine "js", see prisma.config.ts) and returns its stdout. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { root } from "./schemas.ts";

/** Only commands that need no database (generate, datamodel diffs): see prisma.config.ts. */
export function prismaCli(args: string[]): string {
  const r = spawnSync(process.execPath, [join(root, "node_modules", "prisma", "build", "index.js"), ...args], {
    cwd: root,
    encoding: "utf8",
    env: {
      ...process.env,
      PRISMA_HIDE_UPDATE_MESSAGE: "1",
      CHECKPOINT_DISABLE: "1",
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    throw new Error(`prisma ${args.join(" ")} failed (exit ${r.status ?? r.signal}):\n${r.stderr}\n${r.stdout}`);
  }
  return r.stdout;
}

/** The SQL that creates the whole schema of `schemaFile` in an empty database (no database needed). */
export function createScript(schemaFile: string): string {
  return prismaCli(["migrate", "diff", "--from-empty", "--to-schema-datamodel", schemaFile, "--script"]);
}

/** Migrations must not name a schema: PostgreSQL deployments (and tests) pick theirs with `?schema=`. */
export function portableSql(sql: string): string {
  return sql.replace(/^-- CreateSchema\nCREATE SCHEMA IF NOT EXISTS "public";\n\n?/m, "").trimStart();
}
