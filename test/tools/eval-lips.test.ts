import { describe, expect, it } from "vitest";
import { useFixtureFaces } from "../helpers/fixture-faces.ts";
import { resizeImage } from "../../src/pipeline/image/index.ts";
import { insidePolygon, localFrame } from "../../src/pipeline/transfer/geometry.ts";
import type { RgbImage } from "../../src/pipeline/types.ts";
import { lipFloors, lipRegions, lipsTable, LIPS_468, LIPS_68, readLips, summarizeLips, type LipPair, type Lips } from "../../tools/eval/lips.ts";

/** Whose lips a result shows (issue 14: "the lips keep the template's colour and thickness"). */

const lips = (tint: [number, number], upper: number, lower: number): Lips => ({ tint, upper, lower });
const FLOORS = { tint: 0.05, thickness: 0.1 };

describe("lip summary", () => {
  // The reaction's person's lips pale and thin from their neutral photo; the template's lips are redder and fuller.
  const neutral = lips([0.05, 0], 0.07, 0.1);
  const reaction = lips([0, 0], 0.05, 0.09);
  const template = lips([0.3, 0.1], 0.1, 0.14);
  // What the template's lips become with that change: tint (0.25, 0.1), thickness 0.1 × 5/7 and 0.14 × 0.9.
  const expectedLips = lips([0.25, 0.1], 0.1 * (5 / 7), 0.14 * 0.9);

  it("counts a result nearer the template's lips changed as the reaction's person's, and fails the reaction handed back", () => {
    const engine = summarizeLips([{ template, reaction, neutral, out: expectedLips }], FLOORS);
    expect(engine.tint).toMatchObject({ n: 1, counted: 1, nearer: 1 });
    expect(engine.tint.median).toBeCloseTo(0, 9);
    expect(engine.thickness).toMatchObject({ n: 1, counted: 1, nearer: 1 });
    expect(engine.thickness.median).toBeCloseTo(0, 9);

    const handedBack = summarizeLips([{ template, reaction, neutral, out: reaction }], FLOORS);
    expect(handedBack.tint.nearer).toBe(0);
    expect(handedBack.thickness.nearer).toBe(0);
    expect(handedBack.tint.median).toBeCloseTo(Math.hypot(0.25, 0.1), 9);

    // The template's own lips, unchanged, are nearer the expected than the reaction's: colour is identity.
    expect(summarizeLips([{ template, reaction, neutral, out: template }], FLOORS).tint.nearer).toBe(1);
  });

  it("does not count pairs whose template and reaction lips differ within the noise floor", () => {
    const alike: LipPair = { template: neutral, reaction, neutral, out: reaction };
    const s = summarizeLips([alike], FLOORS);
    expect(s.tint).toMatchObject({ n: 1, counted: 0 });
    expect(s.thickness).toMatchObject({ n: 1, counted: 0 });
    expect(Number.isNaN(s.tint.nearer)).toBe(true);
    expect(lipsTable([{ label: "alike", summary: s }])[2]).toBe("| alike | 1 | 0.000 / 0.000 (1) | – (0) | 0.000 / 0.000 (1) | – (0) |");
  });

  it("leaves out pictures whose lip colour could not be read", () => {
    const unread: Lips = { upper: 0.05, lower: 0.09 };
    const s = summarizeLips([{ template, reaction, neutral, out: unread }], FLOORS);
    expect(s.tint.n).toBe(0);
    expect(s.thickness.n).toBe(1);
  });

  it("sets the floors from re-readings of the same photos", () => {
    const f = lipFloors(
      [
        { original: lips([0.1, 0.1], 0.1, 0.1), again: lips([0.12, 0.1], 0.1, 0.1) },
        { original: lips([0.1, 0.1], 0.1, 0.1), again: lips([0.1, 0.1], 0.1, 0.1) },
      ],
      2,
    );
    expect(f.tint).toBeCloseTo(2 * 0.018, 9); // 90th percentile of {0, 0.02}
    expect(f.thickness).toBe(0);
  });
});

describe("lip readings on a real face", () => {
  const fx = useFixtureFaces();

  it("reads grace's lips redder than her cheeks, and her lips painted with her cheeks' colour as no tint", () => {
    const img = fx.images.get("grace_hopper_512x512.jpg")!;
    const lm = fx.faces.get("grace_hopper_512x512.jpg")!.landmarks;
    const read = readLips(img, lm, LIPS_468, localFrame(lm));
    expect(read.tint![0]).toBeGreaterThan(0.08); // ln(R/G) of the lips over the cheeks'
    expect(read.upper).toBeGreaterThan(0.03);
    expect(read.lower).toBeGreaterThan(read.upper);

    // Paint the sampled lip bands with the median cheek colour: the same lips, no tint.
    const { lips: bands, cheeks } = lipRegions(lm, LIPS_468);
    const inside = (polys: Float32Array[], x: number, y: number) => polys.some((p) => insidePolygon(p, x, y));
    const cheek = medianOf(img, (x, y) => inside(cheeks, x, y));
    const painted: RgbImage = { ...img, data: img.data.slice() };
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) if (inside(bands, x, y)) painted.data.set(cheek, (y * img.width + x) * 3);
    }
    const flat = readLips(painted, lm, LIPS_468, localFrame(lm));
    expect(Math.hypot(...flat.tint!)).toBeLessThan(0.01);
    expect([flat.upper, flat.lower]).toEqual([read.upper, read.lower]);
  });

  it("reads the same lips at half the size", async () => {
    const img = fx.images.get("franck_01829.jpg")!;
    const lm = fx.faces.get("franck_01829.jpg")!.landmarks;
    const half = await resizeImage(img, Math.round(img.width / 2), Math.round(img.height / 2));
    const halfLm = lm.map((v) => v * (half.width / img.width)); // z is in pixels too
    const a = readLips(img, lm, LIPS_468, localFrame(lm)), b = readLips(half, halfLm, LIPS_468, localFrame(halfLm));
    expect(b.upper).toBeCloseTo(a.upper, 2);
    expect(b.lower).toBeCloseTo(a.lower, 2);
    expect(Math.hypot(b.tint![0] - a.tint![0], b.tint![1] - a.tint![1])).toBeLessThan(0.05);
  });

  it("matches the 68-point layout's lip columns corner to corner, inside its lips", () => {
    for (const cols of [LIPS_68.upper, LIPS_68.lower]) {
      expect(cols[0]).toEqual([48, 60]);
      expect(cols.at(-1)).toEqual([54, 64]);
      for (const [outer, inner] of cols) {
        expect(outer).toBeGreaterThanOrEqual(48);
        expect(outer).toBeLessThanOrEqual(59);
        expect(inner).toBeGreaterThanOrEqual(60);
        expect(inner).toBeLessThanOrEqual(67);
      }
    }
  });
});

function medianOf(img: RgbImage, keep: (x: number, y: number) => boolean): [number, number, number] {
  const ch: number[][] = [[], [], []];
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) if (keep(x, y)) for (let c = 0; c < 3; c++) ch[c]!.push(img.data[(y * img.width + x) * 3 + c]!);
  }
  return ch.map((v) => v.sort((p, q) => p - q)[Math.floor((v.length - 1) / 2)]!) as [number, number, number];
}
