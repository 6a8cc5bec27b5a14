/**
 * Forget-me across a restore. TemplateStore.forgetUser notes each user who asked (forgotten_users: the account and
 * the moment). A restore replaces the whole store with a backup, which may predate those requests: inside the
 * restore's transaction, the target's notes are merged with the backup's and what a noted user had up to their
 * request is deleted again: faces saved until then, audit rows, and uses (those of the day before the request are
 * kept, marked forgotten, as forgetUser keeps them for the limits). What they did after it (they came back) stays.
 * Times decide, not ids: a backup may come from another store, whose ids say nothing of this one's.
 */
import { FORGOTTEN, FORGOTTEN_HOLD_MS } from "./moderation.ts";

/** A statement runner on the restore's connection, in its transaction; `?` placeholders. */
export interface RestoreSql {
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
}

export interface ForgottenNote {
  platform: string;
  platform_user_id: string;
  at_ms: number | bigint | string;
}

/** The target's notes, read before the restore wipes it. */
export function readForgotten(sql: RestoreSql): Promise<ForgottenNote[]> {
  return sql.all<ForgottenNote>("SELECT platform, platform_user_id, at_ms FROM forgotten_users");
}

/** The note on the account of row `r` (a table with platform and platform_user_id). */
const NOTE_OF = (r: string) => `f.platform = ${r}.platform AND f.platform_user_id = ${r}.platform_user_id`;
/** A row `r` with at_ms, of a noted account, from before its note. */
const NOTED = (r: string, extra = "") => `EXISTS (SELECT 1 FROM forgotten_users f WHERE ${NOTE_OF(r)} AND ${r}.at_ms <= f.at_ms${extra})`;
/** A use forgetUser already keeps, marked, for the limits (moderation.ts): left as it is. */
const NOT_HELD = `command NOT LIKE '${FORGOTTEN}%'`;

/** A face `t` saved at or before its owner's note, in each dialect's reading of its created_at (UTC). */
const SAVED_BEFORE_NOTE = {
  // SQLite keeps the time as ISO text (Prisma) or "YYYY-MM-DD HH:MM:SS" (CURRENT_TIMESTAMP), both read by julianday.
  sqlite: "(julianday(t.created_at) - 2440587.5) * 86400000.0 <= f.at_ms",
  postgres: "t.created_at <= (to_timestamp(f.at_ms / 1000.0) AT TIME ZONE 'UTC')",
} as const;

/**
 * Merges `kept` into the restored notes (the later request wins) and deletes again what each noted user had up
 * to their request. Returns how many noted users had anything deleted.
 */
export async function forgetAgain(sql: RestoreSql, dialect: "sqlite" | "postgres", kept: ForgottenNote[]): Promise<number> {
  const greatest = dialect === "sqlite" ? "MAX" : "GREATEST";
  for (const n of kept) {
    await sql.run(
      `INSERT INTO forgotten_users (platform, platform_user_id, at_ms) VALUES (?, ?, ?)
       ON CONFLICT (platform, platform_user_id) DO UPDATE SET at_ms = ${greatest}(forgotten_users.at_ms, excluded.at_ms)`,
      [n.platform, n.platform_user_id, n.at_ms],
    );
  }
  const faces = `SELECT t.id FROM templates t JOIN users u ON u.id = t.user_id JOIN forgotten_users f ON ${NOTE_OF("u")} WHERE ${SAVED_BEFORE_NOTE[dialect]}`;
  const [{ n }] = (await sql.all<{ n: number | bigint | string }>(
    `SELECT COUNT(*) AS n FROM forgotten_users f WHERE
       EXISTS (SELECT 1 FROM users u JOIN templates t ON t.user_id = u.id WHERE ${NOTE_OF("u")} AND ${SAVED_BEFORE_NOTE[dialect]})
       OR EXISTS (SELECT 1 FROM usage_events e WHERE ${NOTE_OF("e")} AND e.at_ms <= f.at_ms AND e.${NOT_HELD})
       OR EXISTS (SELECT 1 FROM audit_events a WHERE ${NOTE_OF("a")} AND a.at_ms <= f.at_ms)`,
  )) as [{ n: number | bigint | string }];
  await sql.run(`DELETE FROM audit_events WHERE ${NOTED("audit_events")}`);
  // The day before a request still counts towards the limits (forgetUser holds those uses): marked, not deleted.
  await sql.run(`UPDATE usage_events SET command = '${FORGOTTEN}' || command, pending_reply = NULL WHERE ${NOT_HELD} AND ${NOTED("usage_events", ` AND usage_events.at_ms > f.at_ms - ${FORGOTTEN_HOLD_MS}`)}`);
  await sql.run(`DELETE FROM usage_events WHERE ${NOT_HELD} AND ${NOTED("usage_events")}`);
  await sql.run(`UPDATE users SET default_template_id = NULL WHERE default_template_id IN (${faces})`);
  await sql.run(`DELETE FROM templates WHERE id IN (${faces})`);
  // A noted user's row with no face left holds nothing (a new save makes it again).
  await sql.run(`DELETE FROM users WHERE EXISTS (SELECT 1 FROM forgotten_users f WHERE ${NOTE_OF("users")}) AND NOT EXISTS (SELECT 1 FROM templates t WHERE t.user_id = users.id)`);
  return Number(n);
}
