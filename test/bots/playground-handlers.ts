/**
 * Queue handlers for the playground's page tests: the test doubles' enrol/render (real PNG/GIF bytes and
 * thumbnails, no face models), loaded by the REAL queue's workers. A top caption "wait:MS" keeps a meme or
 * morph running MS ms (cancellable), so the page can be watched while its job runs.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { EncodedImage, HandlerSet, JobContext } from "../../src/queue/jobs.ts";
import { enrolDouble, renderDouble } from "../core/doubles.ts";

async function steer(top: string | undefined, ctx: JobContext): Promise<void> {
  const ms = /^wait:(\d+)$/.exec(top ?? "")?.[1];
  if (ms) await sleep(Number(ms), undefined, { signal: ctx.signal });
}

export const handlers: HandlerSet = {
  enrol: (job) => enrolDouble(job.image as EncodedImage),
  meme: async (job, ctx) => (await steer(job.captions.top, ctx), renderDouble({ ...job, reaction: job.reaction as EncodedImage })),
  animated: async (job, ctx) => (await steer(job.captions.top, ctx), renderDouble({ ...job, reaction: job.reaction as EncodedImage })),
};
