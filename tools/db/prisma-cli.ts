/** Runs the project's Prisma 6 CLI (offline: engine "js", see prisma.config.ts) and returns its stdout. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { root, type Provider } from "./schemas.ts";

export function prismaCli(args: string[], opts: { provider?: Provider; databaseUrl?: string } = {}): string {
  const r = spawnSync(process.execPath, [join(root, "node_modules", "prisma", "build", "index.js"), ...args], {
    cwd: root,
    encoding: "utf8",
    env: {
      ...process.env,
      PRISMA_HIDE_UPDATE_MESSAGE: "1",
      CHECKPOINT_DISABLE: "1",
      MIMIC_CLI_PROVIDER: opts.provider ?? "sqlite",
      ...(opts.databaseUrl ? { MIMIC_CLI_DATABASE_URL: opts.databaseUrl } : {}),
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    throw new Error(`prisma ${args.join(" ")} failed (exit ${r.status ?? r.signal}):\n${r.stderr}\n${r.stdout}`);
  }
  return r.stdout;
}

/** The SQL that creates the whole schema of `schemaFile` in an empty database (no database needed). */
export function createScript(schemaFile: string, provider: Provider): string {
  return prismaCli(["migrate", "diff", "--from-empty", "--to-schema-datamodel", schemaFile, "--script"], { provider });
}
