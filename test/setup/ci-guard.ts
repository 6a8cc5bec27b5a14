import { existsSync } from "node:fs";

/**
 * On CI nothing may be skipped for lack of a service: the Postgres, Redis and browser tests skip
 * themselves (with a message) only on a developer machine that lacks them.
 */
export default function ciGuard(): void {
  if (!process.env.CI) return;
  const missing = [
    !process.env.TEST_DATABASE_URL && "TEST_DATABASE_URL (PostgreSQL)",
    !process.env.TEST_REDIS_URL && "TEST_REDIS_URL (Redis)",
    !existsSync("/usr/bin/chromium") && "/usr/bin/chromium (playground browser test)",
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(`CI must run every test, but these are missing: ${missing.join(", ")}. See .ci/run.`);
  }
}
