/**
 * Worker-process entry: loads the handler module named by the pool (by URL, so tests can bring their
 * own handler sets), warms it up, and runs one job at a time for the parent over the IPC channel.
 * Module-level singletons in the handlers (onnxruntime sessions, fonts) live once per process.
 */
import { parseJob, parseWorkerSettings, type WorkerSettings } from "../requests.ts";
import { MimicError } from "../errors.ts";
import { logger } from "../logger.ts";
import type { HandlerSet, Job } from "./jobs.ts";
import type { FromWorker, ToWorker } from "./pool.ts";
import { spill, unspill } from "./spill.ts";
import { toWireError } from "./wire.ts";

if (!process.send) throw new Error("src/queue/worker.ts must run in a process started by the queue's WorkerPool");
const handlersUrl = process.argv[2];
// The settings of the process that started this one (its validated configuration), checked again here.
const settings = parseWorkerSettings(JSON.parse(process.argv[3] ?? "null"));
const running = new Map<number, AbortController>();
// A send that fails (EPIPE) means the parent is gone or killing this process: "disconnect" ends it.
const send = (msg: FromWorker) => process.send!(msg, undefined, {}, () => undefined);

// The parent went away (crashed or closed the pool): nobody is left to answer.
process.on("disconnect", () => process.exit(0));

type HandlerModule = { handlers?: HandlerSet; warmUp?: (s: WorkerSettings) => Promise<void>; capabilities?: () => string[] };
async function load(): Promise<HandlerModule & { handlers: HandlerSet }> {
  const mod = (await import(handlersUrl)) as HandlerModule;
  if (!mod.handlers) throw new Error("the module exports no `handlers`");
  // Models load before the first job, so a fresh worker (e.g. after a runaway job was killed) does not
  // spend the next job's time budget on start-up.
  await mod.warmUp?.(settings);
  return mod as HandlerModule & { handlers: HandlerSet };
}
const mod = await load().catch(async (err: unknown) => {
  // The parent names the reason to whoever started it (`mimic start` and `mimic worker` stop with it); the error
  // with its stack goes to the log as one line. A MimicError's user message is the one that says what to change
  // (e.g. ORT_EXECUTION_PROVIDER=cuda on a host without the CUDA provider); its message is the log's detail.
  const reason = err instanceof MimicError ? err.userMessage.replace(/\.$/, "") : err instanceof Error ? err.message : String(err);
  logger.error({ err, process: process.pid }, "queue worker could not load its job handlers");
  await new Promise<void>((res) => process.send!({ type: "load-failed", reason } satisfies FromWorker, undefined, {}, () => res()));
  process.exit(1);
});
const handlers = mod.handlers;

async function run(id: number, raw: Job, requestId: string, where: { dir: string; minBytes: number }): Promise<void> {
  const ac = new AbortController();
  running.set(id, ac);
  // Every line about this job names its request (what the bot logged and the user may quote).
  let log = logger.child({ requestId, process: process.pid });
  try {
    // Large inputs arrive as files (src/queue/spill.ts); the parent deletes them once the job ends.
    // The front door's request types are checked again here, where the job runs (it may come from another process).
    const job = parseJob((await unspill(raw)).value);
    log = log.child({ kind: job.kind });
    const handler = handlers![job.kind] as ((j: Job, ctx: unknown) => ReturnType<NonNullable<HandlerSet["meme"]>>) | undefined;
    if (!handler) throw new MimicError("INTERNAL", "This kind of request is not available right now.", { logMessage: `no handler for ${job.kind}` });
    const result = await handler(job, { requestId, settings, signal: ac.signal, log });
    // A large result goes back as files in the pool's folder too (the parent reads and deletes them).
    send({ type: "result", id, result: (await spill(result, where.dir, `job-${id}-out`, where.minBytes)).value });
  } catch (e) {
    // Expected refusals (no face, cancelled) are routine; anything else is worth a look.
    if (e instanceof MimicError && e.code !== "INTERNAL") log.debug({ code: e.code, why: e.message }, "job ended with an error");
    else log.warn({ err: e }, "job failed");
    send({ type: "error", id, error: toWireError(e) });
  } finally {
    running.delete(id);
  }
}

process.on("message", (msg: ToWorker) => {
  if (msg.type === "run") void run(msg.id, msg.job, msg.requestId, msg.spill);
  else if (msg.type === "cancel") running.get(msg.id)?.abort(new MimicError("CANCELLED", "The request was cancelled."));
});
// What this worker can run (the generator only where its models loaded), so the queue routes jobs here.
send({ type: "ready", capabilities: mod.capabilities?.() ?? ["mesh"] });
