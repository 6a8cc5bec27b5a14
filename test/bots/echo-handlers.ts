/**
 * Queue handlers for measuring how pictures travel (the pipeline is not the subject): a meme's result is the
 * reaction picture itself, byte for byte, so a test knows exactly which bytes the reply must carry, however
 * large. Faces are enrolled by the test doubles. Loaded by the REAL queue's worker processes.
 */
import sharp from "sharp";
import type { EncodedImage, HandlerSet, ImageResult, Job } from "../../src/queue/jobs.ts";
import { enrolDouble } from "../core/doubles.ts";

async function echo(job: Extract<Job, { kind: "meme" | "animated" }>): Promise<ImageResult> {
  const reaction = job.reaction as EncodedImage;
  const { width = 0, height = 0 } = await sharp(reaction.bytes).metadata();
  return { kind: job.kind, bytes: reaction.bytes, mime: reaction.mime === "image/gif" ? "image/gif" : "image/png", width, height };
}

export const handlers: HandlerSet = {
  enrol: async (job) => enrolDouble(job.image as EncodedImage),
  meme: echo,
  animated: echo,
};
