/**
 * The test doubles' enrol/render (as double-handlers.ts), each job held at a gate the test opens, so a test
 * can have a job running (or queued) for as long as it needs without guessing durations. A gated job
 * writes `<dir>/<gate>.started` when it starts and finishes once `<dir>/<gate>.open` exists; aborted first
 * (cancelled, or the queue shut down), it fails as aborted. `<dir>` is MIMIC_TEST_GATE_DIR, which the
 * worker processes inherit from the test's environment. Gates: a meme's first caption `gate:NAME`; every
 * enrol uses the gate `enrol`. Without MIMIC_TEST_GATE_DIR nothing is held.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { EncodedImage, HandlerSet, JobContext } from "../../src/queue/jobs.ts";
import { enrolDouble, renderDouble } from "../core/doubles.ts";

async function gate(name: string | undefined, ctx: JobContext): Promise<void> {
  const dir = process.env.MIMIC_TEST_GATE_DIR;
  if (!dir || !name) return;
  writeFileSync(join(dir, `${name}.started`), "");
  while (!existsSync(join(dir, `${name}.open`))) {
    if (ctx.signal?.aborted) throw ctx.signal.reason;
    await sleep(10);
  }
}

const gateOf = (caption: string | undefined) => (caption?.startsWith("gate:") ? caption.slice("gate:".length) : undefined);

export const handlers: HandlerSet = {
  enrol: async (job, ctx) => (await gate("enrol", ctx), enrolDouble(job.image as EncodedImage)),
  meme: async (job, ctx) => (await gate(gateOf(job.captions.top), ctx), renderDouble({ ...job, reaction: job.reaction as EncodedImage })),
  animated: async (job, ctx) => (await gate(gateOf(job.captions.top), ctx), renderDouble({ ...job, reaction: job.reaction as EncodedImage })),
};
