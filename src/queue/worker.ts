/**
 * Worker-thread entry: loads the handler module named by the pool (by URL, so tests can bring their
 * own handler sets) and runs one job at a time for the main thread. Module-level singletons in the
 * handlers (onnxruntime sessions, fonts) live once per thread.
 */
import { parentPort, workerData } from "node:worker_threads";
import { MimicError } from "../errors.ts";
import { logger } from "../logger.ts";
import type { HandlerSet, Job } from "./jobs.ts";
import { toWireError, transferablesOf } from "./wire.ts";
import type { ToWorker } from "./pool.ts";

const port = parentPort;
if (!port) throw new Error("src/queue/worker.ts must run inside a worker thread");
const { handlersUrl } = workerData as { handlersUrl: string };
const running = new Map<number, AbortController>();

const mod = (await import(handlersUrl)) as { handlers?: HandlerSet };
const handlers = mod.handlers;
if (!handlers) throw new Error(`handler module ${handlersUrl} exports no "handlers"`);

async function run(id: number, job: Job, requestId: string): Promise<void> {
  const ac = new AbortController();
  running.set(id, ac);
  try {
    const handler = handlers![job.kind] as ((j: Job, ctx: unknown) => ReturnType<NonNullable<HandlerSet["meme"]>>) | undefined;
    if (!handler) throw new MimicError("INTERNAL", "This kind of request is not available right now.", { logMessage: `no handler for ${job.kind}` });
    const result = await handler(job, { requestId, signal: ac.signal, log: logger.child({ requestId, kind: job.kind }) });
    port!.postMessage({ type: "result", id, result }, transferablesOf(result));
  } catch (e) {
    port!.postMessage({ type: "error", id, error: toWireError(e) });
  } finally {
    running.delete(id);
  }
}

port.on("message", (msg: ToWorker) => {
  if (msg.type === "run") void run(msg.id, msg.job, msg.requestId);
  else if (msg.type === "cancel") running.get(msg.id)?.abort(new MimicError("CANCELLED", "The request was cancelled."));
});
port.postMessage({ type: "ready" });
