import { describe, expect, it } from "vitest";
import { useFixtureFaces } from "../helpers/fixture-faces.ts";
import { measureExpression } from "../../src/pipeline/transfer/index.ts";
import {
  RATIO_MEASURES,
  applyLandmarkChange,
  percentile,
  ratioMisses,
  summarizeRatios,
  transferRatios,
  type Measures,
} from "../../tools/eval/ratio.ts";

/** The identity-free transfer ratio of `npm run eval` (issue 14): (out − template) / (reaction − neutral). */

const all = (v: number): Measures => Object.fromEntries(RATIO_MEASURES.map((k) => [k, v])) as Measures;
const pick = (m: Measures): Measures => Object.fromEntries(RATIO_MEASURES.map((k) => [k, m[k]])) as Measures;

describe("transfer ratio", () => {
  it("divides the template's change by the reaction's change from its neutral, per measure", () => {
    const neutral = { ...all(0.2), mouthOpen: 0.01, cornerLift: -0.02 };
    const reaction = { ...all(0.2), mouthOpen: 0.21, cornerLift: 0.06, browLeft: 0.26, eyeOpenRight: 0.1 };
    const template = { ...all(0.3), mouthOpen: 0.0, cornerLift: 0.0 };
    const out = { ...all(0.3), mouthOpen: 0.15, cornerLift: 0.02, browLeft: 0.36, eyeOpenRight: 0.25 };
    const r = transferRatios({ template, out, reaction, neutral }, all(0.01));
    // mouthOpen 0.15 / 0.20, cornerLift 0.02 / 0.08, browLeft 0.06 / 0.06, eyeOpenRight −0.05 / −0.10.
    expect(r.mouthOpen).toBeCloseTo(0.75, 12);
    expect(r.cornerLift).toBeCloseTo(0.25, 12);
    expect(r.browLeft).toBeCloseTo(1, 12);
    expect(r.eyeOpenRight).toBeCloseTo(0.5, 12);
    // Unchanged in the reaction: not counted, whatever the output did.
    expect(Object.keys(r).sort()).toEqual(["browLeft", "cornerLift", "eyeOpenRight", "mouthOpen"]);
  });

  it("counts a measure only where the reaction's change exceeds that measure's noise floor", () => {
    const neutral = all(0.25);
    const reaction = { ...all(0.25), mouthOpen: 0.5, browRight: 0.375 };
    const floors = { ...all(0.01), mouthOpen: 0.25, browRight: 0.0625 };
    // mouthOpen changed by exactly its floor (not beyond it): left out; browRight by 0.125 > 0.0625: counted.
    const r = transferRatios({ template: all(0.25), out: { ...all(0.25), browRight: 0.5 }, reaction, neutral }, floors);
    expect(r).toEqual({ browRight: 2 });
  });

  it("takes the median and the 10th percentile by linear interpolation", () => {
    expect(percentile([5, 1, 3], 50)).toBe(3);
    // 10 values 0..0.9: position 0.9 → 0.09; median between 0.4 and 0.5.
    const v = Array.from({ length: 10 }, (_, i) => i / 10);
    expect(percentile(v, 10)).toBeCloseTo(0.09, 12);
    expect(percentile(v, 50)).toBeCloseTo(0.45, 12);
    expect(percentile([], 50)).toBeNaN();
    const s = summarizeRatios([{ mouthOpen: 1 }, { mouthOpen: 0.5, browLeft: 2 }, { mouthOpen: 0.9 }]);
    expect(s.mouthOpen).toEqual({ n: 3, median: 0.9, p10: expect.closeTo(0.58, 10) });
    expect(s.browLeft).toEqual({ n: 1, median: 2, p10: 2 });
    expect(s.eyeOpenLeft.n).toBe(0);
  });

  it("misses a target on a low median, a high median, a low 10th percentile and a measure never counted", () => {
    const ok = { n: 5, median: 1, p10: 0.6 };
    const stats = Object.fromEntries(RATIO_MEASURES.map((k) => [k, ok])) as ReturnType<typeof summarizeRatios>;
    expect(ratioMisses("mimic", stats)).toEqual([]);
    stats.cornerLift = { n: 5, median: 0.4, p10: 0.6 };
    stats.mouthWidth = { n: 5, median: 1.3, p10: 0.9 };
    stats.browLeft = { n: 5, median: 0.9, p10: 0.45 };
    stats.eyeOpenLeft = { n: 0, median: NaN, p10: NaN };
    expect(ratioMisses("mimic", stats)).toEqual([
      "mimic cornerLift: median ratio 0.40 outside [0.8, 1.2]",
      "mimic mouthWidth: median ratio 1.30 outside [0.8, 1.2]",
      "mimic eyeOpenLeft: no reaction changes it beyond its noise floor",
      "mimic browLeft: 10th percentile 0.45 below 0.5",
    ]);
  });
});

describe("baselines on real meshes", () => {
  // franck_01829 (mouth closed) is franck_04117's (open laugh) neutral: the same person.
  const fx = useFixtureFaces();
  const floors = all(0.01);
  const sample = (template: "grace_hopper_512x512.jpg" | "astronaut.png", out: Float32Array) => ({
    template: pick(measureExpression(fx.faces.get(template)!.landmarks)),
    out: pick(measureExpression(out)),
    reaction: pick(measureExpression(fx.faces.get("franck_04117.jpg")!.landmarks)),
    neutral: pick(measureExpression(fx.faces.get("franck_01829.jpg")!.landmarks)),
  });

  it("'template unchanged' scores 0 on every counted measure, and misses every target", () => {
    const rows = (["grace_hopper_512x512.jpg", "astronaut.png"] as const).map((t) => transferRatios(sample(t, fx.faces.get(t)!.landmarks), floors));
    const stats = summarizeRatios(rows);
    // The laugh opens and widens the mouth: both count, and an unchanged template moves neither.
    expect(stats.mouthOpen.n).toBe(2);
    expect(stats.mouthWidth.n).toBe(2);
    for (const k of RATIO_MEASURES) if (stats[k].n > 0) expect(stats[k].median).toBe(0);
    const misses = ratioMisses("unchanged", stats);
    expect(misses).toContain("unchanged mouthOpen: median ratio 0.00 outside [0.8, 1.2]");
    expect(misses).toContain("unchanged mouthWidth: median ratio 0.00 outside [0.8, 1.2]");
  });

  it("'reaction's landmark change applied to the template mesh' scores about 1", () => {
    const reaction = fx.faces.get("franck_04117.jpg")!.landmarks, neutral = fx.faces.get("franck_01829.jpg")!.landmarks;
    for (const t of ["grace_hopper_512x512.jpg", "astronaut.png"] as const) {
      const moved = applyLandmarkChange(fx.faces.get(t)!.landmarks, reaction, neutral);
      const r = transferRatios(sample(t, moved), floors);
      expect(r.mouthOpen).toBeDefined();
      expect(r.mouthWidth).toBeDefined();
      for (const k of RATIO_MEASURES) if (r[k] !== undefined) expect(Math.abs(r[k]! - 1), `${t} ${k}`).toBeLessThan(0.1);
    }
    expect(() => applyLandmarkChange(new Float32Array(6), reaction, neutral)).toThrow(/differ in size/);
  });
});
