/**
 * Queue handlers made of the test doubles' enrol/render (real PNG/GIF bytes, no face models), loaded
 * by the REAL queue's worker threads. Used where the pipeline's quality is not the subject: the
 * acknowledgement-latency measurement under a full queue, where MIMIC_TEST_JOB_DELAY_MS keeps every
 * worker busy for a known time.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { EncodedImage, HandlerSet } from "../../src/queue/jobs.ts";
import { enrolDouble, renderDouble } from "../core/doubles.ts";

const delay = () => sleep(Number(process.env.MIMIC_TEST_JOB_DELAY_MS ?? 0));

export const handlers: HandlerSet = {
  enrol: async (job) => (await delay(), enrolDouble(job.image as EncodedImage)),
  meme: async (job) => (await delay(), renderDouble({ ...job, reaction: job.reaction as EncodedImage })),
  animated: async (job) => (await delay(), renderDouble({ ...job, reaction: job.reaction as EncodedImage })),
};
