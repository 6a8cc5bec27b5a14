import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useFixtureFaces, type FixtureFace } from "../helpers/fixture-faces.ts";
import { descriptorDistance, faceApiJudge, SAME_PERSON_DISTANCE, type Judge } from "../../tools/eval/judges.ts";
import { measure68, to3d } from "../../tools/eval/measures68.ts";
import { measureExpression } from "../../src/pipeline/transfer/index.ts";

/** The evaluation's second judge: face-api's 68-point net, mapped to the same measures as the analyzer's. */

/** A frontal 68-point layout: outer eye corners (0,0) and (10,0), nose 27 (5,0) → 33 (5,5); unused points at 0. */
function layout(): number[] {
  const p = new Array<number>(136).fill(0);
  const set = (i: number, x: number, y: number) => ((p[2 * i] = x), (p[2 * i + 1] = y));
  set(36, 0, 0), set(37, 1, -0.5), set(38, 2, -0.5), set(39, 3, 0), set(40, 2, 0.5), set(41, 1, 0.5);
  set(42, 7, 0), set(43, 8, -0.4), set(44, 9, -0.4), set(45, 10, 0), set(46, 9, 0.4), set(47, 8, 0.4);
  for (let i = 17; i <= 21; i++) set(i, i - 17, -2);
  for (let i = 22; i <= 26; i++) set(i, i - 15, -2.5);
  set(27, 5, 0), set(33, 5, 5);
  set(48, 2, 8), set(54, 8, 8);
  set(61, 4, 7.8), set(62, 5, 7.8), set(63, 6, 7.8), set(65, 6, 8.4), set(66, 5, 8.4), set(67, 4, 8.4);
  return p;
}

describe("68-point measures", () => {
  const want = { mouthOpen: 0.06, cornerLift: 0.01, mouthWidth: 0.6, eyeOpenRight: 1 / 3, eyeOpenLeft: 0.8 / 3, browRight: 0.2, browLeft: 0.25 };

  it("reads the hand-computed measures in inter-ocular units", () => {
    const got = measure68(to3d(layout()));
    for (const [k, v] of Object.entries(want)) expect(got[k as keyof typeof want], k).toBeCloseTo(v, 6);
  });

  it("does not change when the face is rotated, scaled and moved", () => {
    const p = layout(), c = Math.cos(0.5), s = Math.sin(0.5), q: number[] = [];
    for (let i = 0; i < 68; i++) q.push(3 * (c * p[2 * i]! - s * p[2 * i + 1]!) + 40, 3 * (s * p[2 * i]! + c * p[2 * i + 1]!) + 7);
    const got = measure68(to3d(q));
    for (const [k, v] of Object.entries(want)) expect(got[k as keyof typeof want], k).toBeCloseTo(v, 5);
  });

  it("refuses a layout that is not 68 points", () => {
    expect(() => to3d(new Array(10).fill(0))).toThrow(/expected 68/);
  });
});

describe("face-api judge on real photos", () => {
  const fx = useFixtureFaces();
  let judge: Judge;
  beforeAll(async () => {
    judge = await faceApiJudge();
  });
  afterAll(async () => judge?.dispose());

  it("finds the face where the analyzer does and reads the laugh against the same man's closed mouth", async () => {
    const neutral = (await judge.read(fx.images.get("franck_01829.jpg")!))!;
    const laugh = (await judge.read(fx.images.get("franck_04117.jpg")!))!;
    expect(laugh.measures.mouthOpen - neutral.measures.mouthOpen).toBeGreaterThan(0.1);
    expect(laugh.measures.mouthWidth).toBeGreaterThan(neutral.measures.mouthWidth + 0.05);
    // Its mouth corners (48, 54) and outer eye corners (36, 45) lie on the analyzer's (61, 291, 33, 263).
    const a = fx.faces.get("franck_04117.jpg")!.landmarks;
    const iod = Math.hypot(a[3 * 263]! - a[3 * 33]!, a[3 * 263 + 1]! - a[3 * 33 + 1]!);
    for (const [p68, p468] of [[48, 61], [54, 291], [36, 33], [45, 263]] as const) {
      const d = Math.hypot(laugh.mesh[3 * p68]! - a[3 * p468]!, laugh.mesh[3 * p68 + 1]! - a[3 * p468 + 1]!);
      expect(d / iod, `${p68} vs ${p468}`).toBeLessThan(0.1);
    }
    // Both judges call grace's eyes open and her mouth closed.
    const grace = (await judge.read(fx.images.get("grace_hopper_512x512.jpg")!))!.measures;
    const graceA = measureExpression(fx.faces.get("grace_hopper_512x512.jpg")!.landmarks);
    expect(grace.eyeOpenRight).toBeGreaterThan(0.15);
    expect(grace.mouthOpen).toBeLessThan(0.05);
    expect(graceA.mouthOpen).toBeLessThan(0.05);
  });

  it("tells people apart by its descriptor: the same man laughing under face-api's match distance, others over it", async () => {
    const d = async (a: FixtureFace, b: FixtureFace) => {
      const x = (await judge.read(fx.images.get(a)!))!.descriptor!, y = (await judge.read(fx.images.get(b)!))!.descriptor!;
      return descriptorDistance(x, y);
    };
    expect(await d("franck_01829.jpg", "franck_04117.jpg")).toBeLessThan(SAME_PERSON_DISTANCE);
    expect(await d("franck_01829.jpg", "franck_02221.jpg")).toBeLessThan(SAME_PERSON_DISTANCE);
    expect(await d("grace_hopper_512x512.jpg", "franck_01829.jpg")).toBeGreaterThan(SAME_PERSON_DISTANCE);
    expect(await d("grace_hopper_512x512.jpg", "astronaut.png")).toBeGreaterThan(SAME_PERSON_DISTANCE);
    expect(await d("astronaut.png", "franck_04117.jpg")).toBeGreaterThan(SAME_PERSON_DISTANCE);
  });

  it("finds no face in a flat grey picture", async () => {
    const w = 256, h = 256;
    expect(await judge.read({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(128) })).toBeUndefined();
  });
});
