import { pino, type Logger } from "pino";

/** One root logger; jobs get children with a `requestId` binding. */
const LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
// Read before the configuration is validated: an unknown or empty level logs at the default here, and start-up's
// validation then names LOG_LEVEL in its error.
const wanted = process.env.LOG_LEVEL;
// On stderr: stdout is the commands' own output (`--json` lines a script parses, the playground's address).
export const logger: Logger = pino(
  {
    level: wanted && LEVELS.has(wanted) ? wanted : process.env.VITEST ? "silent" : "info",
    base: { app: "mimic" },
    serializers: { err: errWithoutBytes },
  },
  pino.destination({ dest: 2, sync: true }),
);

/**
 * Errors as pino's standard serializer writes them, with every byte array they carry (a failed upload's
 * request body: the user's picture) replaced by its length: pixels never reach the logs, and one failed
 * 10 MB upload does not write a 35 MB line. The platforms' secrets that travel in request URLs are masked
 * in every string (withoutUrlSecrets).
 */
export function errWithoutBytes(err: unknown): unknown {
  return withoutBytes(pino.stdSerializers.err(err as Error), 0);
}

/**
 * Request URLs carry secrets: the Telegram bot token (/bot<token>/method, in every fetch error's message) and a
 * Discord interaction's token (/webhooks/<app>/<token>, /interactions/<id>/<token>: anyone holding it can post as
 * Mimic for 15 minutes). Masked wherever an error's text or fields repeat such a URL.
 */
export function withoutUrlSecrets(s: string): string {
  return s
    .replace(/\/bot\d+:[A-Za-z0-9_-]+/g, "/bot***")
    .replace(/\/(webhooks|interactions)\/(\d+)\/[A-Za-z0-9_.-]+/g, "/$1/$2/***");
}

function withoutBytes(v: unknown, depth: number): unknown {
  if (typeof v === "string") return withoutUrlSecrets(v);
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return `[${v.byteLength} bytes]`;
  if (v === null || typeof v !== "object" || depth > 6) return v;
  if (Array.isArray(v)) return v.map((x) => withoutBytes(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = withoutBytes(x, depth + 1);
  return out;
}

export type { Logger };
