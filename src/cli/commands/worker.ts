import { statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Command } from "commander";
import { loadConfig } from "../../config.ts";
import { MimicError, quoted } from "../../errors.ts";
import { stopOnSignals } from "../stop-signals.ts";
import { wholeNumber } from "../args.ts";
import { warnUnknownSettings } from "../env-file.ts";

/** `mimic worker`: consume jobs from the shared Redis queue (QUEUE_URL) until SIGTERM/SIGINT. */
export function register(program: Command): void {
  program
    .command("worker")
    .description("run inference jobs from the Redis queue (needs QUEUE_URL); start as many as you like")
    .option("-t, --threads <n>", "worker threads in this process (default QUEUE_WORKERS)")
    .option("--handlers <module>", "job handler module exporting `handlers` (default: the built-in pipeline)")
    .option("--drain-ms <ms>", "on shutdown, how long running jobs may finish before being handed back", "30000")
    .action(async (o: { threads?: string; handlers?: string; drainMs: string }) => {
      // Checked as the flag it is: folded into QUEUE_WORKERS, a mistake would be reported as that variable.
      const threads = o.threads === undefined ? undefined : wholeNumber("--threads", o.threads, 1, 256);
      const config = loadConfig({ ...process.env, ...(threads !== undefined ? { QUEUE_WORKERS: String(threads) } : {}) });
      warnUnknownSettings();
      if (!config.QUEUE_URL) {
        throw new MimicError("CONFIG", "mimic worker needs QUEUE_URL (e.g. redis://127.0.0.1:6379), the same as the bots use.");
      }
      const drainMs = Number(o.drainMs);
      if (!Number.isFinite(drainMs) || drainMs < 0) throw new MimicError("BAD_INPUT", "--drain-ms must be a number of milliseconds.");
      // Each worker process imports the module; a missing one would only show as workers restarting forever.
      if (o.handlers && !statSync(resolve(o.handlers), { throwIfNoEntry: false })?.isFile()) {
        throw new MimicError(
          "CONFIG",
          `Cannot load the job handlers: there is no file ${quoted(resolve(o.handlers))} (--handlers). Give the path of a module that exports \`handlers\`, or leave --handlers out for the built-in pipeline.`,
        );
      }
      // The queue's modules (bullmq, ioredis) load once the settings passed: a refused run exits without them.
      const [{ checkGeneratorAtStartup, DEFAULT_HANDLERS, queueOptions }, { startRedisWorker }] = await Promise.all([import("../../queue/index.ts"), import("../../queue/redis.ts")]);
      const handlers = o.handlers ? pathToFileURL(resolve(o.handlers)) : DEFAULT_HANDLERS;
      checkGeneratorAtStartup(config);
      const handle = await startRedisWorker({
        ...queueOptions(config, handlers),
        url: config.QUEUE_URL,
        prefix: config.QUEUE_PREFIX,
        resultTtlSeconds: config.QUEUE_RESULT_TTL_S,
        stallMs: config.QUEUE_STALL_MS,
      });
      // Listening before the ready line: a supervisor's SIGTERM the moment it shows stops cleanly too.
      stopOnSignals("the worker", () => handle.close({ drainMs }));
      process.stdout.write(`mimic worker ${handle.id} ready (${config.QUEUE_WORKERS} threads)\n`);
    });
}
