import { logger } from "../logger.ts";

/**
 * A repeat closer than this is the same stop: a Ctrl+C under `npm start` reaches Mimic twice (from the
 * terminal and forwarded by npm).
 */
const SAME_STOP_MS = 1_000;

/**
 * Stops a long-running command on SIGINT/SIGTERM: the first signal runs `stop` (a bounded, graceful drain) and
 * exits 0, or 1 if it failed; a second one exits at once, for an operator who will not wait for the drain.
 */
export function stopOnSignals(what: string, stop: () => Promise<void>): void {
  let firstAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstAt !== undefined) {
      if (performance.now() - firstAt < SAME_STOP_MS) return;
      logger.warn({ signal }, `${what}: stopping now, without waiting for the work in progress`);
      process.stderr.write(`mimic: ${signal} again, so ${what} stops now without waiting for the work in progress.\n`);
      process.exit(signal === "SIGINT" ? 130 : 143);
    }
    firstAt = performance.now();
    logger.info({ signal }, `${what} shutting down`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, `${what} shutdown failed`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
