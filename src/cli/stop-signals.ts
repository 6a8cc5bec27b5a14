import { logger } from "../logger.ts";

/**
 * Stops a long-running command on SIGINT/SIGTERM: the first signal runs `stop` (a bounded, graceful drain) and
 * exits 0, or 1 if it failed; a second one exits at once, for an operator who will not wait for the drain.
 */
export function stopOnSignals(what: string, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, `${what}: stopping now, without waiting for the work in progress`);
      process.stderr.write(`mimic: ${signal} again, so ${what} stops now without waiting for the work in progress.\n`);
      process.exit(signal === "SIGINT" ? 130 : 143);
    }
    stopping = true;
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
