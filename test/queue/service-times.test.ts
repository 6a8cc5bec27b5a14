import { describe, expect, it } from "vitest";
import { PRIOR_SERVICE_MS, ServiceTimes } from "../../src/queue/service-times.ts";

describe("ServiceTimes", () => {
  it("a fresh process's built-in prior gives way to real times within a few jobs (a plain average until the window fills)", () => {
    const t = new ServiceTimes();
    expect(t.estimate("animated")).toBe(PRIOR_SERVICE_MS.animated);
    const real = 4000;
    const seen = [1, 2, 3].map(() => (t.record("animated", real), t.estimate("animated")));
    // (prior + n × real) / (n + 1): half-way after one job, three quarters after three.
    const prior = PRIOR_SERVICE_MS.animated;
    expect(seen).toEqual([1, 2, 3].map((n) => (prior + n * real) / (n + 1)));
    // Then the usual moving average (weight 0.2).
    t.record("animated", real);
    expect(t.estimate("animated")).toBeCloseTo(seen[2] + (real - seen[2]) * 0.2, 6);
    // Other kinds keep their own figures.
    expect(t.estimate("meme")).toBe(PRIOR_SERVICE_MS.meme);
  });

  it("a measured mean handed in (Redis mode's shared figures) moves by the moving average's weight from the start", () => {
    const t = new ServiceTimes({ animated: 3000 });
    t.record("animated", 4000);
    expect(t.estimate("animated")).toBeCloseTo(3200, 6);
    t.record("meme", 550);
    expect(t.estimate("meme")).toBe((PRIOR_SERVICE_MS.meme + 550) / 2);
  });

  it("ignores a time that is no time", () => {
    const t = new ServiceTimes();
    for (const bad of [NaN, -1, Infinity]) t.record("meme", bad);
    expect(t.estimate("meme")).toBe(PRIOR_SERVICE_MS.meme);
  });
});
