import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { alignSimilarity, applySimilarity, fromLocal, insidePolygon, invertSimilarity, localFrame, toLocal } from "../../../src/pipeline/transfer/geometry.ts";
import { measureExpression, neutralShape, REACTION_REST, REST, retargetExpression } from "../../../src/pipeline/transfer/index.ts";
import { measureLocal } from "../../../src/pipeline/transfer/measure.ts";
import { RIGHT_EYE_LOWER, RIGHT_EYE_UPPER, STABLE } from "../../../src/pipeline/warp/landmarks.ts";

/** A real 468-point mesh (franck_04117, the laugh), as the face stage returned it, rounded to 0.1 px. */
const laugh = Float32Array.from(JSON.parse(readFileSync(new URL("./laugh-mesh.json", import.meta.url), "utf8")) as number[]);

function rotation(yaw: number, pitch: number, roll: number): Float64Array {
  const [cy, sy, cp, sp, cr, sr] = [Math.cos(yaw), Math.sin(yaw), Math.cos(pitch), Math.sin(pitch), Math.cos(roll), Math.sin(roll)];
  // Rz(roll) · Ry(yaw) · Rx(pitch)
  const rx = [1, 0, 0, 0, cp, -sp, 0, sp, cp];
  const ry = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
  const rz = [cr, -sr, 0, sr, cr, 0, 0, 0, 1];
  const mul = (a: number[], b: number[]) => {
    const o: number[] = [];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) o.push(a[3 * r]! * b[c]! + a[3 * r + 1]! * b[3 + c]! + a[3 * r + 2]! * b[6 + c]!);
    return o;
  };
  return Float64Array.from(mul(rz, mul(ry, rx)));
}

describe("alignSimilarity", () => {
  it("recovers a known rotation, scale and translation exactly", () => {
    const sim = { s: 0.7, r: rotation(0.3, -0.2, 0.15), t: Float64Array.from([40, -12, 5]) };
    const moved = applySimilarity(sim, laugh);
    const fit = alignSimilarity(laugh, moved, STABLE);
    expect(fit.s).toBeCloseTo(0.7, 5);
    for (let k = 0; k < 9; k++) expect(fit.r[k]!).toBeCloseTo(sim.r[k]!, 5);
    for (let k = 0; k < 3; k++) expect(fit.t[k]!).toBeCloseTo(sim.t[k]!, 2);
    const back = applySimilarity(invertSimilarity(fit), moved);
    for (let i = 0; i < laugh.length; i++) expect(back[i]!).toBeCloseTo(laugh[i]!, 2);
  });

  it("makes expression measures independent of head pose and size", () => {
    const sim = { s: 1.6, r: rotation(0.25, 0.1, -0.3), t: Float64Array.from([100, 50, 0]) };
    const a = measureExpression(laugh);
    const b = measureExpression(applySimilarity(sim, laugh));
    for (const k of Object.keys(a) as (keyof typeof a)[]) expect(b[k]).toBeCloseTo(a[k], 4);
  });

  it("round-trips through the local frame", () => {
    const f = localFrame(laugh);
    const back = fromLocal(f, toLocal(f, laugh));
    for (let i = 0; i < laugh.length; i++) expect(back[i]!).toBeCloseTo(laugh[i]!, 3);
  });
});

describe("neutralShape", () => {
  it("closes an open mouth and pulls a laugh's corners, width, eyes into the rest bands", () => {
    const loc = toLocal(localFrame(laugh), laugh);
    const before = measureLocal(loc);
    const after = measureLocal(neutralShape(loc));
    expect(before.mouthOpen).toBeGreaterThan(0.1);
    expect(after.mouthOpen).toBeLessThan(0.005);
    expect(before.mouthWidth).toBeGreaterThan(REST.mouthWidth[1]);
    expect(after.mouthWidth).toBeCloseTo(REST.mouthWidth[1], 2);
    expect(after.cornerLift).toBeLessThan(before.cornerLift);
    for (const e of [after.eyeOpenLeft, after.eyeOpenRight]) {
      expect(e).toBeGreaterThanOrEqual(REST.eyeOpen[0] - 0.005);
      expect(e).toBeLessThanOrEqual(REST.eyeOpen[1] + 0.005);
    }
  });
});

describe("neutralShape: which lid a squint moved", () => {
  const loc = toLocal(localFrame(laugh), laugh);
  const midLid = (n: Float64Array, ring: readonly number[]) => n[3 * ring[4]! + 1]!;
  /** The laugh with everything below the eyes (its open mouth and its smile) at the reaction's rest, its eyes as they are. */
  const rest = neutralShape(loc, REACTION_REST);
  const straight = loc.slice();
  for (let i = 0; i < 468; i++) if (loc[3 * i + 1]! > 0.4) straight[3 * i + 1] = rest[3 * i + 1]!;

  it("opens a smiling squint mostly by lowering the lower lid, a straight-faced one by raising the upper", () => {
    expect(measureLocal(loc).cornerLift).toBeGreaterThan(0.08);
    expect(measureLocal(straight).cornerLift).toBeLessThan(0.03);
    expect(measureLocal(straight).eyeOpenRight).toBeCloseTo(measureLocal(loc).eyeOpenRight, 6);
    const smiling = neutralShape(loc, REACTION_REST), plain = neutralShape(straight, REACTION_REST);
    const lowerDrop = (n: Float64Array, from: Float64Array) => midLid(n, RIGHT_EYE_LOWER) - midLid(from, RIGHT_EYE_LOWER);
    const upperRise = (n: Float64Array, from: Float64Array) => midLid(from, RIGHT_EYE_UPPER) - midLid(n, RIGHT_EYE_UPPER);
    // Both end at the rest aperture.
    expect(measureLocal(smiling).eyeOpenRight).toBeCloseTo(REACTION_REST.eyeOpen[0], 3);
    expect(measureLocal(plain).eyeOpenRight).toBeCloseTo(REACTION_REST.eyeOpen[0], 3);
    expect(lowerDrop(smiling, loc)).toBeGreaterThan(0.9 * upperRise(smiling, loc));
    expect(upperRise(plain, straight)).toBeGreaterThan(4 * lowerDrop(plain, straight));
    expect(lowerDrop(smiling, loc)).toBeGreaterThan(2.5 * lowerDrop(plain, straight));
  });

  it("closes wide eyes from above, even when smiling", () => {
    const wide = loc.slice();
    for (let j = 1; j < 8; j++) wide[3 * RIGHT_EYE_UPPER[j]! + 1]! -= 0.06 * Math.sin((j * Math.PI) / 8);
    expect(measureLocal(wide).eyeOpenRight).toBeGreaterThan(REACTION_REST.eyeOpen[1]);
    const n = neutralShape(wide, REACTION_REST);
    const upper = midLid(n, RIGHT_EYE_UPPER) - midLid(wide, RIGHT_EYE_UPPER);
    const lower = midLid(wide, RIGHT_EYE_LOWER) - midLid(n, RIGHT_EYE_LOWER);
    expect(upper).toBeGreaterThan(0);
    expect(lower).toBeCloseTo((upper * 0.15) / 0.85, 4);
  });
});

describe("retargetExpression", () => {
  it("reproduces a face's own expression on itself and moves nothing stable", () => {
    // A template's rest band (its identity) and the reaction's one rest value differ by design, so only what
    // the reaction's own neutral does not decide is exact: the mouth opening, the eye apertures, the pose.
    const out = retargetExpression(laugh, laugh, { intensity: 1, regions: "all" });
    for (const i of STABLE) for (let k = 0; k < 3; k++) expect(Math.abs(out[3 * i + k]! - laugh[3 * i + k]!)).toBeLessThan(0.05);
    const got = measureExpression(out), want = measureExpression(laugh);
    expect(got.mouthOpen).toBeCloseTo(want.mouthOpen, 3);
    // The laugh's eyes lie inside the template's rest band, so they are kept and then narrowed by the ratio
    // of the reaction's aperture to the typical rest aperture.
    expect(got.eyeOpenLeft).toBeCloseTo((want.eyeOpenLeft * want.eyeOpenLeft) / REACTION_REST.eyeOpen[0], 3);
  });

  it("carries the reaction's expression to another pose and size", () => {
    const sim = { s: 1.3, r: rotation(-0.2, 0.05, 0.2), t: Float64Array.from([-30, 80, 0]) };
    const other = applySimilarity(sim, laugh);
    // A neutral template: the laugh's own neutral estimate, placed in another pose.
    const f = localFrame(other);
    const neutral = fromLocal(f, neutralShape(toLocal(f, other), REACTION_REST));
    const out = retargetExpression(neutral, laugh, { intensity: 1, regions: "all" });
    const got = measureExpression(out), want = measureExpression(laugh);
    expect(got.mouthOpen).toBeCloseTo(want.mouthOpen, 2);
    expect(got.mouthWidth).toBeCloseTo(want.mouthWidth, 2);
    expect(got.eyeOpenLeft).toBeCloseTo(want.eyeOpenLeft, 2);
    const half = measureExpression(retargetExpression(neutral, laugh, { intensity: 0.5, regions: "all" }));
    expect(half.mouthOpen).toBeCloseTo(want.mouthOpen / 2, 2);
    const lower = measureExpression(retargetExpression(neutral, laugh, { intensity: 1, regions: "lower" }));
    expect(lower.mouthOpen).toBeCloseTo(want.mouthOpen, 2);
    expect(lower.eyeOpenLeft).toBeCloseTo(measureExpression(neutral).eyeOpenLeft, 4);
  });
});

describe("insidePolygon", () => {
  it("tells inside from outside on a concave ring, whichever way it winds", () => {
    // An L shape: the notch at the top right is outside.
    const ring = Float32Array.from([0, 0, 4, 0, 4, 2, 2, 2, 2, 4, 0, 4]);
    const reversed = Float32Array.from([0, 4, 2, 4, 2, 2, 4, 2, 4, 0, 0, 0]);
    for (const poly of [ring, reversed]) {
      expect(insidePolygon(poly, 1, 1)).toBe(true);
      expect(insidePolygon(poly, 3, 1)).toBe(true);
      expect(insidePolygon(poly, 1, 3)).toBe(true);
      expect(insidePolygon(poly, 3, 3)).toBe(false);
      expect(insidePolygon(poly, -1, 1)).toBe(false);
      expect(insidePolygon(poly, 5, 1)).toBe(false);
    }
  });
});
