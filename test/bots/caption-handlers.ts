/**
 * Queue handlers that say which captions a meme or morph job reached its worker with (checked there by parseJob),
 * in the reply's notes, on the test doubles' pictures (no face models). Loaded by the REAL queue's workers, so a
 * test sees what an entrance's caption options became through the real core, request parser and queue.
 */
import type { EncodedImage, HandlerSet, Job, JobResult } from "../../src/queue/jobs.ts";
import { enrolDouble, renderDouble } from "../core/doubles.ts";

/** The note in a reply: `captions: {…}` (JSON, on one line: a newline in a caption is written \n there). */
export const CAPTIONS_NOTE = /captions: (\{[^\n]*\})/;

async function said(job: Extract<Job, { kind: "meme" | "animated" }>): Promise<JobResult> {
  const made = await renderDouble({ ...job, reaction: job.reaction as EncodedImage });
  return { ...made, notes: [`captions: ${JSON.stringify(job.captions)}`] } as JobResult;
}

export const handlers: HandlerSet = {
  enrol: (job) => enrolDouble(job.image as EncodedImage),
  meme: said,
  animated: said,
};
