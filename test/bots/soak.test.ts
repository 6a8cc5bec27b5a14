/**
 * A short soak of the playground's real HTTP server with the real pipeline (bench/soak.ts runs the full
 * 2,000 requests and also checks memory): mixed traffic with hostile inputs among it; no process dies and
 * every answer is one of the documented outcomes.
 */
import { expect, test } from "vitest";
import { runSoak } from "../../bench/soak.ts";

test("120 mixed and hostile requests through the playground: no crash, only documented answers", async () => {
  const r = await runSoak({ requests: 120, concurrency: 6 });
  // RSS after so short a warm-up still grows with caches; the 2,000-request bench checks it.
  const failures = r.failures.filter((f) => !f.startsWith("RSS"));
  expect(failures, r.report).toEqual([]);
  expect(r.report).toMatch(/\| meme \| \d+× 200 OK/);
}, 600_000);
