import { describe, expect, it } from "vitest";
import { RATIO_MEASURES, type RatioStats } from "../../tools/eval/ratio.ts";
import { IDENTITY_FLOOR, LIPS_NEARER, evalVerdict, type EvalFacts, type StatsRow } from "../../tools/eval/verdict.ts";

/** `npm run eval`'s exit code: what fails the run. */

const stats = (median: number, p10 = median, n = 4): StatsRow["stats"] =>
  Object.fromEntries(RATIO_MEASURES.map((k) => [k, { n, median, p10 } satisfies RatioStats])) as StatsRow["stats"];

const facts = (over: Partial<EvalFacts> = {}): EvalFacts => ({
  ratios: [
    { label: "mimic · analyzer", stats: stats(1, 0.7) },
    { label: "mimic · face-api", stats: stats(0.9, 0.6) },
  ],
  baselines: {
    unchanged: [{ label: "template unchanged · analyzer", stats: stats(0) }],
    applied: [{ label: "landmark change applied · analyzer", stats: stats(1.02) }],
  },
  unscored: [],
  outsideChanged: [{ pair: "mimic a ← b", pixels: 0 }],
  identity: [
    { mode: "mimic", median: IDENTITY_FLOOR.mimic + 0.01 },
    { mode: "swap", median: IDENTITY_FLOOR.swap + 0.01 },
  ],
  lips: [],
  ...over,
});

describe("eval verdict", () => {
  it("passes a run that meets every target", () => {
    expect(evalVerdict(facts())).toEqual({ ok: true, failures: [] });
  });

  it("fails when a judge's ratio misses a target on one measure", () => {
    const s = stats(1, 0.7);
    s.cornerLift = { n: 4, median: 0.4, p10: 0.2 };
    const v = evalVerdict(facts({ ratios: [{ label: "swap · face-api", stats: s }] }));
    expect(v.ok).toBe(false);
    expect(v.failures).toEqual(["swap · face-api cornerLift: median ratio 0.40 outside [0.8, 1.2]", "swap · face-api cornerLift: 10th percentile 0.20 below 0.5"]);
  });

  it("fails the way an engine that changes nothing would: every ratio 0", () => {
    const v = evalVerdict(facts({ ratios: [{ label: "mimic · analyzer", stats: stats(0) }] }));
    expect(v.ok).toBe(false);
    expect(v.failures).toHaveLength(2 * RATIO_MEASURES.length);
  });

  it("fails when a baseline does not score what it must: the metric is broken", () => {
    const unchanged = [{ label: "template unchanged · face-api", stats: stats(0.2) }];
    const applied = [{ label: "landmark change applied · face-api", stats: { ...stats(1), browLeft: { n: 3, median: 0.7, p10: 0.5 } } }];
    const v = evalVerdict(facts({ baselines: { unchanged, applied } }));
    expect(v.failures).toHaveLength(RATIO_MEASURES.length + 1);
    expect(v.failures).toContain("baseline 'landmark change applied' (landmark change applied · face-api) scores 0.70 on browLeft, not 1: the metric is broken");
    // A measure no reaction moved (n = 0) says nothing about the baseline.
    expect(evalVerdict(facts({ baselines: { unchanged: [{ label: "u", stats: stats(NaN, NaN, 0) }], applied: [] } })).ok).toBe(true);
  });

  it("fails on a picture not scored, pixels outside the face and identity below the floor", () => {
    const v = evalVerdict(
      facts({
        unscored: ["no face found by face-api in template grace (face 80 px)"],
        outsideChanged: [{ pair: "mimic a ← b", pixels: 3 }],
        identity: [{ mode: "swap", median: IDENTITY_FLOOR.swap - 0.01 }],
      }),
    );
    expect(v.failures).toEqual([
      "no face found by face-api in template grace (face 80 px)",
      "mimic a ← b: 3 pixels outside the face changed",
      `swap: median identity cosine ${(IDENTITY_FLOOR.swap - 0.01).toFixed(3)} below ${IDENTITY_FLOOR.swap}`,
    ]);
  });

  it("fails a mode whose results show the reaction's lips, and not one whose pairs cannot tell the lips apart", () => {
    const figure = (counted: number, nearer: number) => ({ n: 4, median: 0.1, p90: 0.2, counted, nearer });
    const v = evalVerdict(
      facts({
        lips: [
          { label: "swap · analyzer", summary: { pairs: 4, tint: figure(4, 0.5), thickness: figure(4, 1) } },
          { label: "mimic · face-api", summary: { pairs: 4, tint: figure(0, NaN), thickness: figure(4, LIPS_NEARER) } },
        ],
      }),
    );
    expect(v.failures).toEqual(["swap · analyzer: lip tint nearer the template's in 50 % of 4 pairs, under 90 %"]);
  });
});
