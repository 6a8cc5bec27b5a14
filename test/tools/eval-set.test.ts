import { describe, expect, it } from "vitest";
import { useFixtureFaces } from "../helpers/fixture-faces.ts";
import { measureExpression } from "../../src/pipeline/transfer/index.ts";
import { FLOOR_MULTIPLE, NOISE_VARIANTS, difference, noiseFloors, noiseVariant, unmirror } from "../../tools/eval/noise.ts";
import { RATIO_MEASURES, type Measures } from "../../tools/eval/ratio.ts";
import { SET, neutralOf, templateVariant } from "../../tools/eval/set.ts";

/** The evaluation set, its synthetic template variants, and the landmark noise floors. */

const all = (v: number): Measures => Object.fromEntries(RATIO_MEASURES.map((k) => [k, v])) as Measures;

describe("noise floors", () => {
  it("are FLOOR_MULTIPLE × the 90th percentile of the absolute differences, per measure", () => {
    // |Δ| of mouthOpen: 0.00 .. 0.09 over ten readings, half of them negative: P90 = 0.081.
    const deltas = Array.from({ length: 10 }, (_, i) => ({ ...all(0.01), mouthOpen: (i % 2 ? -1 : 1) * i * 0.01 }));
    const f = noiseFloors(deltas);
    expect(f.mouthOpen).toBeCloseTo(FLOOR_MULTIPLE * 0.081, 10);
    expect(f.browLeft).toBeCloseTo(FLOOR_MULTIPLE * 0.01, 10);
    expect(() => noiseFloors([])).toThrow(/no noise/);
  });

  it("swap the sided measures back for a mirrored picture", () => {
    const m = { ...all(0), eyeOpenRight: 0.3, eyeOpenLeft: 0.2, browRight: 0.25, browLeft: 0.21, mouthWidth: 0.6 };
    expect(unmirror(m)).toEqual({ ...m, eyeOpenRight: 0.2, eyeOpenLeft: 0.3, browRight: 0.21, browLeft: 0.25 });
    expect(difference(m, all(0.1)).mouthWidth).toBeCloseTo(0.5, 12);
  });
});

describe("set and variants on real photos", () => {
  const fx = useFixtureFaces();

  it("pairs every reaction with a neutral photo of its own person", () => {
    for (const r of SET.filter((s) => s.role === "reaction")) expect(neutralOf(r)?.person).toBe(r.person);
    expect(neutralOf({ file: "x", person: "nobody", expression: "smile", role: "reaction", split: "test" })).toBeUndefined();
  });

  it("scales a template so its face is 100 or 80 px, and keeps it a face the analyzer reads", async () => {
    const img = fx.images.get("grace_hopper_512x512.jpg")!, face = fx.faces.get("grace_hopper_512x512.jpg")!;
    for (const px of [100, 80] as const) {
      const small = await templateVariant(img, face.quality.faceSizePx, `face ${px} px`);
      const f = (await fx.analyzer.analyze(small)).faces[0];
      expect(f, `face ${px} px`).toBeDefined();
      expect(Math.abs(f!.quality.faceSizePx - px)).toBeLessThan(px * 0.1);
    }
    const rotated = (await fx.analyzer.analyze(await templateVariant(img, face.quality.faceSizePx, "rotate 20"))).faces[0]!;
    expect(Math.abs(rotated.pose.roll - face.pose.roll)).toBeGreaterThan(12);
  });

  it("re-reads the same photo's measures within a few hundredths under every noise variant", async () => {
    const img = fx.images.get("franck_04117.jpg")!;
    const base = measureExpression(fx.faces.get("franck_04117.jpg")!.landmarks);
    for (const v of NOISE_VARIANTS) {
      const again = (await fx.analyzer.analyze(await noiseVariant(img, v))).faces[0]!;
      const m = measureExpression(again.landmarks);
      const d = difference(v === "mirror" ? unmirror(m) : m, base);
      for (const k of RATIO_MEASURES) expect(Math.abs(d[k]), `${v} ${k}`).toBeLessThan(0.06);
    }
  });
});
