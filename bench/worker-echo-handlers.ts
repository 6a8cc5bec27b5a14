/** Handlers for bench/worker-ipc.bench.ts: every job answers with its own input bytes (IPC cost alone). */
import type { HandlerSet, ImageResult, MemeJob } from "../src/queue/jobs.ts";

const echo = async (job: MemeJob): Promise<ImageResult> => {
  const bytes = "bytes" in job.reaction ? job.reaction.bytes : new Uint8Array(0);
  return { kind: "meme", bytes, mime: "image/png", width: 1, height: 1 };
};

export const handlers: HandlerSet = {
  meme: echo,
  animated: async () => ({ kind: "animated", bytes: new Uint8Array(0), mime: "image/gif", width: 1, height: 1 }),
  enrol: async () => ({ kind: "enrol", face: { data: null } }),
};
