import { isAbsolute, join, resolve } from "node:path";
import { MimicError, quoted } from "../../errors.ts";
import { redactUrl } from "../../redact-url.ts";

/** Where the store lives, resolved from DATABASE_URL (or the embedded default in DATA_DIR). */
export type DatabaseTarget =
  | { dialect: "sqlite"; /** file: URL with an absolute path */ url: string; path: string }
  | { dialect: "postgres"; /** without the `schema` parameter, which pg does not understand */ connectionString: string; schema: string };

/**
 * `file:./data/mimic.db` (relative to the working directory) or a plain path → SQLite;
 * `postgres://…` / `postgresql://…` → PostgreSQL, with an optional `?schema=name` (default `public`).
 */
export function resolveDatabaseTarget(url: string | undefined, dataDir = "./data"): DatabaseTarget {
  const raw = url?.trim() || `file:${join(dataDir, "mimic.db")}`;
  if (/^postgres(ql)?:\/\//i.test(raw)) {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch (cause) {
      throw new MimicError("CONFIG", "DATABASE_URL is not a valid PostgreSQL URL", { cause });
    }
    const schema = parsed.searchParams.get("schema") ?? "public";
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
      throw new MimicError("CONFIG", `DATABASE_URL: schema ${quoted(schema)} must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)`);
    }
    parsed.searchParams.delete("schema");
    return { dialect: "postgres", connectionString: parsed.toString(), schema };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) && !raw.startsWith("file:")) {
    throw new MimicError("CONFIG", `DATABASE_URL must be file:… (SQLite) or postgresql://…, got ${quoted(`${raw.split(":")[0]}:`)}`);
  }
  // Without "file:", only what reads as a path is one: "garbage" would silently become a database file of that name.
  if (!raw.startsWith("file:") && !/[/\\]|\.(db|sqlite3?)$/i.test(raw)) {
    throw new MimicError("CONFIG", `DATABASE_URL must be file:… (SQLite) or postgresql://…, got ${quoted(redactUrl(raw).slice(0, 40))}`);
  }
  const bare = raw.startsWith("file:") ? raw.slice("file:".length).replace(/^\/\/(?=\/)/, "") : raw;
  if (bare === "" || bare.includes(":memory:")) {
    throw new MimicError("CONFIG", "DATABASE_URL: the SQLite store needs a file (templates must survive restarts)");
  }
  const path = isAbsolute(bare) ? bare : resolve(bare);
  return { dialect: "sqlite", url: `file:${path}`, path };
}

/** Safe to log: host, database and schema only (no user, no password). */
export function describeTarget(t: DatabaseTarget): string {
  if (t.dialect === "sqlite") return `sqlite ${t.path}`;
  const u = new URL(t.connectionString);
  return `postgres ${u.host}${u.pathname} schema ${t.schema}`;
}
