import { pino, type Logger } from "pino";

/** One root logger; jobs get children with a `requestId` binding. */
const LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
// Read before the configuration is validated: an unknown or empty level logs at the default here, and start-up's
// validation then names LOG_LEVEL in its error.
const wanted = process.env.LOG_LEVEL;
export const logger: Logger = pino({
  level: wanted && LEVELS.has(wanted) ? wanted : process.env.VITEST ? "silent" : "info",
  base: { app: "mimic" },
});

export type { Logger };
