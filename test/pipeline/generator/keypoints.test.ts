// The generator's keypoint maths against values worked out by hand (see each case's comment).
import { describe, expect, it } from "vitest";
import {
  angleDegrees,
  binsToDegrees,
  blendExpression,
  relativeExpression,
  wantedOpenings,
  eyeRetargetInput,
  LOWER_FACE,
  openingRatios,
  OWN_SHAPE,
  posedKeypoints,
  regionMask,
  rotationMatrix,
  transformKeypoints,
  UPPER_FACE,
} from "../../../src/pipeline/generator/index.ts";

const close = (a: ArrayLike<number>, b: number[]) => {
  expect(a.length).toBe(b.length);
  b.forEach((v, i) => expect(a[i]).toBeCloseTo(v, 6));
};

describe("head angles from the 66 bins", () => {
  it("uniform logits: expected index 32.5 → 32.5·3 − 97.5 = 0°", () => {
    expect(binsToDegrees(new Array(66).fill(0.7))).toBeCloseTo(0, 9);
  });
  it("one dominant bin 40 → 40·3 − 97.5 = 22.5°", () => {
    const l = new Array(66).fill(0);
    l[40] = 1000;
    expect(binsToDegrees(l)).toBeCloseTo(22.5, 9);
  });
  it("bins 10 and 11 equally likely → 10.5·3 − 97.5 = −66°", () => {
    const l = new Array(66).fill(-50);
    l[10] = 3;
    l[11] = 3;
    expect(binsToDegrees(l)).toBeCloseTo(-66, 6);
  });
  it("softmax weights: logits ln 1 and ln 3 at bins 0 and 2 → index (0·1 + 2·3)/4 = 1.5 → −93°", () => {
    const l = new Array(66).fill(-1e9);
    l[0] = Math.log(1);
    l[2] = Math.log(3);
    expect(binsToDegrees(l)).toBeCloseTo(1.5 * 3 - 97.5, 9);
  });
  it("a single value is already degrees; other lengths are refused", () => {
    expect(angleDegrees([12.5])).toBe(12.5);
    expect(() => angleDegrees([1, 2])).toThrow(/1 value \(degrees\) or 66 bins/);
  });
});

describe("rotation matrix R = Rz(roll)·Ry(yaw)·Rx(pitch)", () => {
  it("each axis alone", () => {
    close(rotationMatrix(90, 0, 0), [1, 0, 0, 0, 0, -1, 0, 1, 0]);
    close(rotationMatrix(0, 90, 0), [0, 0, 1, 0, 1, 0, -1, 0, 0]);
    close(rotationMatrix(0, 0, 90), [0, -1, 0, 1, 0, 0, 0, 0, 1]);
  });
  it("order: Ry(90)·Rx(90) = [[0,1,0],[0,0,−1],[−1,0,0]] (Rx·Ry would give [[0,0,1],[1,0,0],[0,1,0]])", () => {
    close(rotationMatrix(90, 90, 0), [0, 1, 0, 0, 0, -1, -1, 0, 0]);
  });
  it("all three at 30°: first row cos30·cos30, cos30·sin30·sin30 − sin30·cos30, cos30·sin30·cos30 + sin30·sin30", () => {
    const c = Math.cos(Math.PI / 6);
    const s = 0.5;
    const r = rotationMatrix(30, 30, 30);
    expect(r[0]).toBeCloseTo(c * c, 12);
    expect(r[1]).toBeCloseTo(c * s * s - s * c, 12);
    expect(r[2]).toBeCloseTo(c * s * c + s * s, 12);
    expect(r[6]).toBeCloseTo(-s, 12);
  });
});

describe("keypoint transform x = s·(R·p + e) + (tx, ty, 0)", () => {
  it("p = (1,0,0), roll 90° → R·p = (0,1,0); e = (0.1,0,0.2), s = 2, t = (1,2,3) → (1.2, 4, 0.4)", () => {
    const pts = new Float32Array(63);
    pts[0] = 1;
    const e = new Float32Array(63);
    e[0] = 0.1;
    e[2] = 0.2;
    const out = transformKeypoints(pts, rotationMatrix(0, 0, 90), e, 2, [1, 2, 3]);
    close(Array.from(out.slice(0, 3)), [1.2, 4, 0.4]);
    // Keypoint 1 is all zeros: only the translation's x, y remain.
    close(Array.from(out.slice(3, 6)), [1, 2, 0]);
  });
  it("posedKeypoints uses the motion's own expression unless given another", () => {
    const m = { pitch: 0, yaw: 0, roll: 0, scale: 1, translation: [0, 0, 0] as [number, number, number], expression: new Float32Array(63).fill(0.5), points: new Float32Array(63) };
    expect(posedKeypoints(m)[5]).toBeCloseTo(0.5);
    expect(posedKeypoints(m, new Float32Array(63))[5]).toBe(0);
  });
});

describe("expression blend and regions", () => {
  const template = new Float32Array(63);
  const reaction = new Float32Array(63).fill(1);
  const rowValue = (e: Float32Array, k: number) => e[3 * k];

  it("region masks: upper 9 keypoints, lower 7, the head-shape five never", () => {
    expect(regionMask("upper").filter(Boolean)).toHaveLength(9);
    expect(regionMask("lower").filter(Boolean)).toHaveLength(7);
    const all = regionMask("all");
    for (const k of OWN_SHAPE) expect(all[k]).toBe(false);
    expect(all.filter(Boolean)).toHaveLength(16);
  });
  it("intensity 0.5, upper: upper keypoints 0 + 0.5·(1 − 0) = 0.5, the rest stay 0", () => {
    const e = blendExpression(template, reaction, 0.5, "upper");
    for (const k of UPPER_FACE) expect(rowValue(e, k)).toBeCloseTo(0.5);
    for (const k of [...LOWER_FACE, ...OWN_SHAPE]) expect(rowValue(e, k)).toBe(0);
  });
  it("intensity 0.25, lower, from a non-zero template: 2 + 0.25·(−2 − 2) = 1", () => {
    const e = blendExpression(new Float32Array(63).fill(2), new Float32Array(63).fill(-2), 0.25, "lower");
    for (const k of LOWER_FACE) expect(rowValue(e, k)).toBeCloseTo(1);
    for (const k of UPPER_FACE) expect(rowValue(e, k)).toBe(2);
  });
  it("intensity is clamped to 0..1", () => {
    expect(rowValue(blendExpression(template, reaction, 1.5, "all"), UPPER_FACE[0])).toBe(1);
    expect(rowValue(blendExpression(template, reaction, -1, "all"), UPPER_FACE[0])).toBe(0);
  });
});

describe("relative motion (an animation's rest frame)", () => {
  const rowValue = (e: Float32Array, k: number) => e[3 * k];
  it("the rest frame itself drives the template's own expression, whatever the reaction person's rest shape", () => {
    const mine = Float32Array.from({ length: 63 }, (_, i) => Math.sin(i));
    const theirs = Float32Array.from({ length: 63 }, (_, i) => 3 + Math.cos(i));
    expect(Array.from(relativeExpression(mine, theirs, theirs, 1, "all"))).toEqual(Array.from(mine));
  });
  it("intensity 0.5, lower: 2 + 0.5·(5 − 1) = 4 on the lower keypoints (the absolute blend gives 3.5), the rest stay 2", () => {
    const [mine, frame, rest] = [2, 5, 1].map((v) => new Float32Array(63).fill(v));
    const e = relativeExpression(mine, frame, rest, 0.5, "lower");
    for (const k of LOWER_FACE) expect(rowValue(e, k)).toBeCloseTo(4);
    for (const k of [...UPPER_FACE, ...OWN_SHAPE]) expect(rowValue(e, k)).toBe(2);
    expect(rowValue(blendExpression(mine, frame, 0.5, "lower"), LOWER_FACE[0])).toBeCloseTo(3.5);
  });
  it("openings: the eyes scale the template's own by frame over rest, the lips stay the reaction's", () => {
    const own = { eyeLeft: 0.2, eyeRight: 0.3, lip: 0.01 };
    const frame = { eyeLeft: 0.15, eyeRight: 0.2, lip: 0.4 };
    // Left 0.2·0.15/0.3 = 0.1, right 0.3·0.2/0.2 = 0.3: mean 0.2.
    const w = wantedOpenings(own, frame, { eyeLeft: 0.3, eyeRight: 0.2, lip: 0 });
    expect(w.eye).toBeCloseTo(0.2);
    expect(w.lip).toBe(0.4);
    expect(wantedOpenings(own, frame).eye).toBeCloseTo(0.175); // (0.15 + 0.2) / 2 without a rest frame
    // A rest frame with an eye shut cannot scale it: that eye takes the frame's own, (0.15 + 0.3) / 2.
    expect(wantedOpenings(own, frame, { eyeLeft: 0, eyeRight: 0.2, lip: 0 }).eye).toBeCloseTo(0.225);
  });
});

describe("retargeting ratios", () => {
  it("eye ratio = lid gap / eye width, lip ratio = inner-lip gap / mouth width", () => {
    const lm = new Float32Array(468 * 3);
    const put = (i: number, x: number, y: number) => { lm[3 * i] = x; lm[3 * i + 1] = y; };
    // Right eye: corners 33 (0,0) and 133 (10,0); lids 159 (5,−1), 145 (5,2) → 3/10.
    put(33, 0, 0); put(133, 10, 0); put(159, 5, -1); put(145, 5, 2);
    // Left eye: corners 362 (20,0), 263 (28,0); lids 386 (24,0), 374 (24,2) → 2/8.
    put(362, 20, 0); put(263, 28, 0); put(386, 24, 0); put(374, 24, 2);
    // Lips: corners 61 (0,10), 291 (30,10) → width 30; gap 13 (15,9) – 14 (15,15) = 6 → 0.2.
    put(61, 0, 10); put(291, 30, 10); put(13, 15, 9); put(14, 15, 15);
    const r = openingRatios(lm);
    expect(r.eyeRight).toBeCloseTo(0.3, 5);
    expect(r.eyeLeft).toBeCloseTo(0.25, 5);
    expect(r.lip).toBeCloseTo(0.2, 5);
    const row = eyeRetargetInput(new Float32Array(63).fill(7), r, 0.4);
    expect(row).toHaveLength(66);
    [7, 0.25, 0.3, 0.4].forEach((v, i) => expect(row[62 + i]).toBeCloseTo(v, 5));
  });
});
