/**
 * A refusal by the NSFW gate (inside a worker, after the job started) is counted as a refusal with reason
 * "nsfw" by ops' queue observer, not as a failed job.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetrics, observeQueue } from "../../src/ops/index.ts";
import { DEFAULT_HANDLERS } from "../../src/queue/index.ts";
import { ONE_THREAD } from "../queue/helpers.ts";
import type { InferenceQueue } from "../../src/queue/jobs.ts";
import { createLocalQueue } from "../../src/queue/local.ts";

const face = (f: string) => new Uint8Array(readFileSync(new URL(`../fixtures/faces/${f}`, import.meta.url)));

describe("NSFW refusals in the metrics", () => {
  let q: InferenceQueue & { ready(): Promise<void> };
  beforeAll(async () => {
    q = createLocalQueue({ workers: 1, capacity: 4, perUserLimit: 1, jobTimeoutMs: 60_000, cheapFirst: false, handlersUrl: DEFAULT_HANDLERS, settings: ONE_THREAD });
    await q.ready();
  });
  afterAll(() => q?.close({ drainMs: 0 }));

  it("mimic_refusals_total{reason=nsfw} and mimic_jobs_total{outcome=refused}", { timeout: 60_000 }, async () => {
    const m = createMetrics();
    const observed = observeQueue(q, m);
    // A threshold below this safe photo's score stands in for an explicit image.
    const job = { kind: "enrol" as const, image: { bytes: face("franck_01829.jpg"), mime: "image/jpeg" }, nsfwThreshold: 1e-7 };
    await expect(observed.submit(job, { requestId: "n1", userId: "u", serverId: "s" })).rejects.toMatchObject({ code: "UNSAFE_CONTENT" });
    const text = await m.registry.metrics();
    expect(text).toMatch(/mimic_refusals_total\{reason="nsfw"\} 1/);
    expect(text).toMatch(/mimic_jobs_total\{kind="enrol",outcome="refused"\} 1/);
    expect(text).not.toMatch(/mimic_jobs_total\{kind="enrol",outcome="failed"\}/);
  });
});
