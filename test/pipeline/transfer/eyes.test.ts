import { describe, expect, it } from "vitest";
import { amplifyLidMotion, carryUnderEyeSkin, coveringLid, eyeColumnSource, openingBands, uncoveredEyeball, UNDER_EYE_DEPTH, type CoveringLid, type EyeColumn, type OpeningBands } from "../../../src/pipeline/transfer/eyes.ts";
import { measureExpression } from "../../../src/pipeline/transfer/index.ts";
import { LEFT_EYE_LOWER, LEFT_EYE_UPPER, RIGHT_EYE_LOWER, RIGHT_EYE_LOWER_FOLD, RIGHT_EYE_UPPER, RIGHT_EYE_UPPER_FOLD, RIGHT_BROW } from "../../../src/pipeline/warp/landmarks.ts";
import laugh from "./laugh-mesh.json" with { type: "json" };

// One column across an eye, in eye widths: fold above, upper lid, lower lid, fold below.
const template: EyeColumn = { fold: -0.2, upper: -0.12, lower: 0.14, lowFold: 0.24 };
const samples = (c: EyeColumn, n = 200) => Array.from({ length: n - 1 }, (_, k) => c.fold + ((k + 1) / n) * (c.lowFold - c.fold));

describe("eyeColumnSource", () => {
  it("is the identity when nothing moved", () => {
    for (const v of samples(template)) expect(eyeColumnSource(v, template, template)).toBeCloseTo(v, 12);
  });

  it("closing: the lid and its lash line move down unchanged, the eyeball under them stays still", () => {
    const closing = { ...template, fold: -0.19, upper: -0.02 };
    // The new lid line shows the template's lid line, and the lash line above it keeps its thickness.
    expect(eyeColumnSource(closing.upper, closing, template)).toBeCloseTo(template.upper, 12);
    expect(eyeColumnSource(closing.upper - 0.03, closing, template)).toBeCloseTo(template.upper - 0.03, 12);
    // Skin above the lash line stretches to reach the fold.
    expect(eyeColumnSource(closing.fold + 1e-9, closing, template)).toBeCloseTo(template.fold, 6);
    // Deeper in the opening the eyeball is where it was (no squash)...
    for (const v of [0.06, 0.08]) expect(eyeColumnSource(v, closing, template)).toBeCloseTo(v, 12);
    // ...and the part the lid now covers is skipped: just inside the lid shows the template's lid shadow.
    const shadow = eyeColumnSource(closing.upper + 0.01, closing, template);
    expect(shadow).toBeGreaterThan(template.upper);
    expect(shadow).toBeLessThan(template.upper + 0.28 * (template.lower - template.upper));
    // Nothing outside the template's opening is pulled inside the new one.
    for (const v of samples(closing).filter((v) => v > closing.upper && v < closing.lower)) {
      const s = eyeColumnSource(v, closing, template);
      expect(s).toBeGreaterThan(template.upper);
      expect(s).toBeLessThan(template.lower);
    }
  });

  it("opening wider: the lid shadows move with the lids, the eyeball stays still and is continued past its edge", () => {
    const wide = { ...template, fold: -0.26, upper: -0.2 };
    const open = template.lower - template.upper;
    const band = 0.28 * open;
    expect(eyeColumnSource(wide.upper, wide, template)).toBeCloseTo(template.upper, 12);
    // Shadow band: slope 1 right under the lid.
    expect(eyeColumnSource(wide.upper + band / 2, wide, template)).toBeCloseTo(template.upper + band / 2, 12);
    // The template's still middle is where it was.
    for (const v of [0, 0.03]) expect(eyeColumnSource(v, wide, template)).toBeCloseTo(v, 12);
    // The uncovered strip between the moved band and the still middle mirrors the middle's top rows:
    // eyeball only, never lid shadow, lashes or skin.
    const middleTop = template.upper + band;
    const strip = samples(wide).filter((v) => v > wide.upper + band && v < middleTop);
    expect(strip.length).toBeGreaterThan(5);
    for (const v of strip) {
      const s = eyeColumnSource(v, wide, template);
      expect(s).toBeGreaterThanOrEqual(middleTop);
      expect(s).toBeCloseTo(2 * middleTop - v, 12);
    }
  });

  it("nearly shut: the thin opening shows only the two lid shadows, meeting in the middle", () => {
    const shut = { ...template, upper: 0.08, lower: 0.12, fold: -0.15 };
    const top = eyeColumnSource(0.1005, shut, template);
    const bottom = eyeColumnSource(0.1195, shut, template);
    expect(top - template.upper).toBeLessThan(0.28 * (template.lower - template.upper));
    expect(template.lower - bottom).toBeLessThan(0.2 * (template.lower - template.upper));
    for (const v of samples(shut)) expect(Number.isFinite(eyeColumnSource(v, shut, template))).toBe(true);
  });

  it("shut (a slit under an eighth of the opening): lid skin and lash lines only, no eyeball", () => {
    // Before: the slit showed the template's lid shadow bands, iris and catchlights included.
    const shut = { ...template, upper: 0.1, lower: 0.125, fold: -0.15 };
    const open = (s: number) => s > template.upper && s < template.lower;
    for (const v of samples(shut)) expect(open(eyeColumnSource(v, shut, template)), `v ${v}`).toBe(false);
    // The two lash lines meet at the slit.
    expect(eyeColumnSource(shut.lower - 1e-9, shut, template)).toBeCloseTo(template.upper, 6);
    expect(eyeColumnSource(shut.lower + 1e-9, shut, template)).toBeCloseTo(template.lower, 6);
  });

  it("a lid closing past half the opening turns its lashes down: the lash lines thin, to 0.4 when shut", () => {
    // This column's lash lines: 0.04 eye widths each (half the lid-to-fold distance caps the upper one).
    const rows = (o: EyeColumn, lo: number, hi: number) => {
      const r = samples(o, 4000).filter((v) => { const s = eyeColumnSource(v, o, template); return s > lo + 1e-6 && s < hi - 1e-6; });
      return r[r.length - 1]! - r[0]!;
    };
    const upperLash = (o: EyeColumn) => rows(o, template.upper - 0.04, template.upper);
    const lowerLash = (o: EyeColumn) => rows(o, template.lower, template.lower + 0.04);
    const squint = { ...template, fold: -0.19, upper: -0.02 };
    const shut = { ...template, fold: -0.15, upper: 0.1, lower: 0.125 };
    expect(upperLash(squint)).toBeCloseTo(0.04, 3); // a squint: unchanged
    expect(upperLash(shut)).toBeCloseTo(0.016, 3);
    expect(lowerLash(squint)).toBeCloseTo(0.04, 3);
    expect(lowerLash(shut)).toBeCloseTo(0.016, 3);
  });

  it("the lower lid mirrors the upper: its lash line moves with it, the skin below stretches", () => {
    const raised = { ...template, lower: 0.1 };
    expect(eyeColumnSource(raised.lower, raised, template)).toBeCloseTo(template.lower, 12);
    expect(eyeColumnSource(raised.lower + 0.02, raised, template)).toBeCloseTo(template.lower + 0.02, 12);
    expect(eyeColumnSource(raised.lowFold - 1e-9, raised, template)).toBeCloseTo(template.lowFold, 6);
  });
});

describe("coveringLid", () => {
  const out = (): CoveringLid => ({ w: 0, src: 0, fill: 0, depth: 0 });
  it("a squint keeps the plain lid stretch", () => {
    const squint = { ...template, fold: -0.18, upper: -0.05 };
    for (const v of samples(squint)) expect(coveringLid(v, squint, template, out())).toBe(false);
  });
  it("a shut lid: the template's skin by the fold, fading into lid skin by half way to the lash line", () => {
    const shut = { ...template, fold: -0.15, upper: 0.1, lower: 0.125 };
    const c = out();
    const lashTop = shut.lower - 0.4 * 0.04; // the lash line thinned (0.04 here: half the lid-to-fold distance)
    expect(coveringLid(shut.fold + 1e-6, shut, template, c)).toBe(true);
    expect(c.w).toBe(1);
    expect(c.fill).toBeCloseTo(0, 4);
    expect(c.src).toBeCloseTo(template.fold, 4); // unstretched below the fold
    expect(coveringLid(shut.fold + 0.02, shut, template, c)).toBe(true);
    expect(c.src).toBeCloseTo(template.fold + 0.02, 9);
    expect(coveringLid(shut.fold + 0.6 * (lashTop - shut.fold), shut, template, c)).toBe(true);
    expect(c.fill).toBe(1);
    // The lash line and the lower lid are left to eyeColumnSource.
    expect(coveringLid(lashTop + 0.001, shut, template, c)).toBe(false);
    expect(coveringLid(shut.lower + 0.01, shut, template, c)).toBe(false);
  });
  it("half closed: part of the way", () => {
    const half = { ...template, fold: -0.17, upper: 0.01 }; // 0.5 of the opening
    const c = out();
    expect(coveringLid(-0.1, half, template, c)).toBe(true);
    expect(c.w).toBeGreaterThan(0);
    expect(c.w).toBeLessThan(0.5);
  });
});

describe("amplifyLidMotion", () => {
  const base = Float32Array.from(laugh as number[]);
  const eyeWidth = Math.hypot(base[3 * 133]! - base[3 * 33]!, base[3 * 133 + 1]! - base[3 * 33 + 1]!);
  const lower = (lm: Float32Array, px: number) => {
    const out = lm.slice();
    for (const upper of [RIGHT_EYE_UPPER, LEFT_EYE_UPPER]) for (let j = 1; j < 8; j++) out[3 * upper[j]! + 1]! += px * Math.sin((j * Math.PI) / 8);
    return out;
  };

  it("scales lid motion by the gain and leaves corners and every other point alone", () => {
    const read = lower(base, 2);
    const drawn = amplifyLidMotion(base, read, 1.5);
    const mid = RIGHT_EYE_UPPER[4]!;
    expect(drawn[3 * mid + 1]! - base[3 * mid + 1]!).toBeCloseTo(3, 4);
    for (const i of [RIGHT_EYE_UPPER[0], RIGHT_EYE_UPPER[8], 1, 13, 14, 61, 291, 105]) {
      expect(drawn[3 * i]).toBe(read[3 * i]);
      expect(drawn[3 * i + 1]).toBe(read[3 * i + 1]);
    }
    expect(amplifyLidMotion(base, read, 1)).toEqual(read);
  });

  it("never crosses the lids: an over-closed eye stays a thin slit", () => {
    const drawn = amplifyLidMotion(base, lower(base, 40), 1.5);
    for (let j = 1; j < 8; j++) expect(drawn[3 * RIGHT_EYE_LOWER[j]! + 1]!).toBeGreaterThan(drawn[3 * RIGHT_EYE_UPPER[j]! + 1]!);
    expect(measureExpression(drawn).eyeOpenRight).toBeGreaterThan(0.01);
  });

  it("does not open an eye that is shut in both the template and the read expression", () => {
    const shut = base.slice();
    for (let j = 1; j < 8; j++) {
      shut[3 * RIGHT_EYE_UPPER[j]!] = shut[3 * RIGHT_EYE_LOWER[j]!]!;
      shut[3 * RIGHT_EYE_UPPER[j]! + 1] = shut[3 * RIGHT_EYE_LOWER[j]! + 1]!;
    }
    const read = shut.slice();
    read[3 * 13 + 1]! += 4; // only the mouth changes
    expect(amplifyLidMotion(shut, read, 1.5)).toEqual(read);
  });

  it("opens an eye at most 1.35x its own aperture through the gain, but never less than the read opening", () => {
    const own = measureExpression(base).eyeOpenRight;
    // Read at ~1.3x: the gain alone would draw ~1.45x.
    const read13 = lower(base, -0.3 * own * eyeWidth);
    expect(measureExpression(read13).eyeOpenRight).toBeGreaterThan(own * 1.25);
    const capped = measureExpression(amplifyLidMotion(base, read13, 1.5)).eyeOpenRight;
    expect(capped).toBeLessThan(own * 1.36);
    expect(capped).toBeGreaterThanOrEqual(measureExpression(read13).eyeOpenRight - 1e-9);
    const read = lower(base, -40);
    const wide = amplifyLidMotion(base, read, 1.5);
    expect(measureExpression(wide).eyeOpenRight).toBeCloseTo(measureExpression(read).eyeOpenRight, 6);
  });
});

describe("carryUnderEyeSkin", () => {
  const base = Float32Array.from(laugh as number[]);
  const ex = base[3 * 133]! - base[3 * 33]!, ey = base[3 * 133 + 1]! - base[3 * 33 + 1]!;
  const eyeWidth = Math.hypot(ex, ey);
  /** Distance of point i below the right lower lid's middle, across the eye, in eye widths. */
  const below = (i: number) => {
    const mid = RIGHT_EYE_LOWER[4]!;
    return ((base[3 * i]! - base[3 * mid]!) * -ey + (base[3 * i + 1]! - base[3 * mid + 1]!) * ex) / eyeWidth / eyeWidth;
  };
  const lowerLid = (lm: Float32Array, px: number) => {
    const out = lm.slice();
    for (let j = 1; j < 8; j++) out[3 * RIGHT_EYE_LOWER[j]! + 1]! += px * Math.sin((j * Math.PI) / 8);
    return out;
  };

  it("drags the skin under a lowered lid along, fading with depth, and moves nothing else", () => {
    const drawn = lowerLid(base, 3);
    const out = carryUnderEyeSkin(base, drawn);
    const movedBy = (i: number) => Math.hypot(out[3 * i]! - drawn[3 * i]!, out[3 * i + 1]! - drawn[3 * i + 1]!);
    const moved: number[] = [];
    for (let i = 0; i < 468; i++) if (movedBy(i) > 1e-6) moved.push(i);
    expect(moved.length).toBeGreaterThan(5);
    for (const i of moved) {
      expect(below(i)).toBeGreaterThan(0);
      expect(below(i)).toBeLessThan(UNDER_EYE_DEPTH + 0.05);
      expect(out[3 * i + 1]! - base[3 * i + 1]!).toBeGreaterThan(0);
      expect(out[3 * i + 1]! - base[3 * i + 1]!).toBeLessThan(3);
    }
    // The fold under the lid's middle goes most of the way; deeper in the same column, less.
    const fold = RIGHT_EYE_LOWER_FOLD[4]!;
    expect(out[3 * fold + 1]! - base[3 * fold + 1]!).toBeGreaterThan(1.2);
    const deeper = moved.filter((i) => below(i) > below(fold) + 0.15 && Math.abs((base[3 * i]! - base[3 * fold]!) / eyeWidth) < 0.15);
    expect(deeper.length).toBeGreaterThan(0);
    for (const i of deeper) expect(out[3 * i + 1]! - base[3 * i + 1]!).toBeLessThan(out[3 * fold + 1]! - base[3 * fold + 1]!);
    // Lids, the fold above, the brow, the other eye and the rest of the face stay as drawn.
    for (const i of [...RIGHT_EYE_UPPER, ...RIGHT_EYE_LOWER, ...RIGHT_EYE_UPPER_FOLD, ...RIGHT_BROW, ...LEFT_EYE_LOWER, 1, 13, 14, 61, 291, 152]) {
      expect(out[3 * i]).toBe(drawn[3 * i]);
      expect(out[3 * i + 1]).toBe(drawn[3 * i + 1]);
    }
  });

  it("a raised lower lid lifts the skin under it the same way", () => {
    const out = carryUnderEyeSkin(base, lowerLid(base, -3));
    const fold = RIGHT_EYE_LOWER_FOLD[4]!;
    expect(out[3 * fold + 1]! - base[3 * fold + 1]!).toBeLessThan(-1.2);
  });

  it("leaves the mesh alone when no lower lid moved, whatever else did", () => {
    const drawn = base.slice();
    for (let j = 1; j < 8; j++) drawn[3 * RIGHT_EYE_UPPER[j]! + 1]! += 2; // upper lid only
    drawn[3 * RIGHT_EYE_LOWER_FOLD[4]! + 1]! -= 1.5; // a cheek pushing the skin up
    expect(carryUnderEyeSkin(base, drawn)).toEqual(drawn);
  });
});

describe("uncoveredEyeball (irises known)", () => {
  // The template column everywhere across the eye; the result's upper lid lifted by 0.08 eye widths.
  const wide = { ...template, fold: -0.26, upper: -0.2 };
  const from = { upper: () => template.upper, lower: () => template.lower };
  const iris = { u: 0.5, v: 0.02, r: 0.2 };
  const bands = (): OpeningBands => openingBands(wide.upper, wide.lower, template.upper, template.lower, { topT: 0, botT: 0, topO: 0, botO: 0, r0: 0, r1: 0 });
  const uncovered = (b: OpeningBands) => samples(wide).filter((v) => v >= b.topO && v < b.r0);

  it("inside the iris circle: the iris mirrored across its centre row, always from the template's clean eyeball", () => {
    const b = bands();
    const to = new Float64Array(2);
    const strip = uncovered(b);
    expect(strip.length).toBeGreaterThan(5);
    for (const v of strip) {
      expect(uncoveredEyeball(0.5, v, iris, b, from, to)).toBe(true);
      expect(to[0]).toBe(0.5);
      expect(to[1]).toBeCloseTo(Math.min(b.botT, Math.max(b.topT, 2 * iris.v - v)), 12);
      expect(to[1]).toBeGreaterThanOrEqual(b.topT);
      expect(to[1]).toBeLessThanOrEqual(b.botT);
    }
  });

  it("above the iris's round top, within its columns: sclera from beside the iris, never iris", () => {
    const b = bands();
    const to = new Float64Array(2);
    const u = 0.5 + 0.17; // inside the iris's column range, outside its circle this high up
    const v = b.topO + 0.01;
    expect(Math.hypot(u - iris.u, v - iris.v)).toBeGreaterThan(iris.r);
    expect(uncoveredEyeball(u, v, iris, b, from, to)).toBe(true);
    expect(to[0]).toBeCloseTo(iris.u + 1.25 * iris.r, 12); // clear of the iris, on the same side
    expect(to[1]).toBeGreaterThanOrEqual(b.topT);
    expect(to[1]).toBeLessThanOrEqual(b.botT);
    // The mirror side of the iris takes its sclera from its own side.
    expect(uncoveredEyeball(1 - u, v, iris, b, from, to)).toBe(true);
    expect(to[0]).toBeCloseTo(iris.u - 1.25 * iris.r, 12);
  });

  it("columns clear of the iris are left to the reflection", () => {
    const b = bands();
    const to = new Float64Array(2);
    expect(uncoveredEyeball(0.9, b.topO + 0.01, iris, b, from, to)).toBe(false);
    expect(uncoveredEyeball(0.15, b.topO + 0.01, iris, b, from, to)).toBe(false);
  });
});
