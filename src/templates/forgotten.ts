/**
 * Forget-me across a restore. TemplateStore.forgetUser notes each user who asked (forgotten_users: the account,
 * the moment, and the highest template id then). A restore replaces the whole store with a backup, which may
 * predate those requests: inside the restore's transaction, the target's notes are merged with the backup's
 * and everything a noted user had up to their request (faces, uses, audit rows) is deleted again. What they
 * did after it (they came back) stays. The SQL is the same on both dialects but for the placeholders.
 */
import { FORGOTTEN } from "./moderation.ts";

/** A statement runner on the restore's connection, in its transaction; `?` placeholders. */
export interface RestoreSql {
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
}

export interface ForgottenNote {
  platform: string;
  platform_user_id: string;
  at_ms: number | bigint | string;
  template_mark: number;
}

/** The target's notes, read before the restore wipes it. */
export function readForgotten(sql: RestoreSql): Promise<ForgottenNote[]> {
  return sql.all<ForgottenNote>("SELECT platform, platform_user_id, at_ms, template_mark FROM forgotten_users");
}

/** A noted user's row `r` (of a table with platform and platform_user_id) from before their request. */
const NOTED = (r: string) => `EXISTS (SELECT 1 FROM forgotten_users f WHERE f.platform = ${r}.platform AND f.platform_user_id = ${r}.platform_user_id AND ${r}.at_ms <= f.at_ms)`;
const NOTED_USER = "EXISTS (SELECT 1 FROM forgotten_users f WHERE f.platform = users.platform AND f.platform_user_id = users.platform_user_id";
/** A use of the last day that forgetUser kept, marked, for the limits (moderation.ts): kept again. */
const NOT_HELD = `command NOT LIKE '${FORGOTTEN}%'`;

/**
 * Merges `kept` into the restored notes (the later request wins) and deletes again what each noted user had up
 * to their request. Returns how many noted users had anything deleted.
 */
export async function forgetAgain(sql: RestoreSql, dialect: "sqlite" | "postgres", kept: ForgottenNote[]): Promise<number> {
  const greatest = dialect === "sqlite" ? "MAX" : "GREATEST";
  for (const n of kept) {
    await sql.run(
      `INSERT INTO forgotten_users (platform, platform_user_id, at_ms, template_mark) VALUES (?, ?, ?, ?)
       ON CONFLICT (platform, platform_user_id) DO UPDATE SET at_ms = ${greatest}(forgotten_users.at_ms, excluded.at_ms), template_mark = ${greatest}(forgotten_users.template_mark, excluded.template_mark)`,
      [n.platform, n.platform_user_id, n.at_ms, n.template_mark],
    );
  }
  const [{ n }] = await sql.all<{ n: number | bigint | string }>(
    `SELECT COUNT(*) AS n FROM forgotten_users f WHERE
       EXISTS (SELECT 1 FROM users u JOIN templates t ON t.user_id = u.id WHERE u.platform = f.platform AND u.platform_user_id = f.platform_user_id AND t.id <= f.template_mark)
       OR EXISTS (SELECT 1 FROM usage_events e WHERE e.platform = f.platform AND e.platform_user_id = f.platform_user_id AND e.at_ms <= f.at_ms AND e.${NOT_HELD})
       OR EXISTS (SELECT 1 FROM audit_events a WHERE a.platform = f.platform AND a.platform_user_id = f.platform_user_id AND a.at_ms <= f.at_ms)`,
  ) as [{ n: number | bigint | string }];
  await sql.run(`DELETE FROM audit_events WHERE ${NOTED("audit_events")}`);
  await sql.run(`DELETE FROM usage_events WHERE ${NOT_HELD} AND ${NOTED("usage_events")}`);
  await sql.run(`UPDATE users SET default_template_id = NULL WHERE ${NOTED_USER} AND users.default_template_id <= f.template_mark)`);
  await sql.run(
    `DELETE FROM templates WHERE EXISTS (SELECT 1 FROM users u JOIN forgotten_users f ON f.platform = u.platform AND f.platform_user_id = u.platform_user_id
       WHERE u.id = templates.user_id AND templates.id <= f.template_mark)`,
  );
  // A noted user's row with no face left holds nothing (a new save makes it again).
  await sql.run(`DELETE FROM users WHERE ${NOTED_USER}) AND NOT EXISTS (SELECT 1 FROM templates t WHERE t.user_id = users.id)`);
  return Number(n);
}
