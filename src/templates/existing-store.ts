import { statSync } from "node:fs";
import { MimicError } from "../errors.ts";
import { connectAtStartup } from "./db/migrate.ts";
import { describeTarget, type DatabaseTarget } from "./db/url.ts";

/**
 * Refuses a store that was never made (a mistyped DATA_DIR or DATABASE_URL, a PostgreSQL schema never
 * migrated), creating nothing: opening it would make an empty one, whose "nothing found" would be taken for
 * an answer. `nothingDone` completes "There is no store at …, so …" ("nothing was backed up").
 * Commands that only read or change what a store holds call it before openStore; saving a face starts one.
 */
export async function requireExistingStore(target: DatabaseTarget, nothingDone: string): Promise<void> {
  const refuse = (where: string) => new MimicError("CONFIG", `There is no store at ${where}, so ${nothingDone}: check DATA_DIR/DATABASE_URL.`);
  if (target.dialect === "sqlite") {
    if (!statSync(target.path, { throwIfNoEntry: false })?.isFile()) throw refuse(target.path);
    return;
  }
  const client = await connectAtStartup(target);
  try {
    const rows = await client.query<{ n: string }>("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = '_mimic_migrations'", [target.schema]);
    if (Number(rows.rows[0]?.n ?? 0) === 0) throw refuse(describeTarget(target));
  } finally {
    await client.end().catch(() => undefined);
  }
}
