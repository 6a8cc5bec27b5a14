import { pino, type Logger } from "pino";

/** One root logger; jobs get children with a `requestId` binding. */
export const logger: Logger = pino({
  level: process.env.LOG_LEVEL ?? (process.env.VITEST ? "silent" : "info"),
  base: { app: "mimic" },
});

export type { Logger };
