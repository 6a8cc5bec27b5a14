import { readFileSync } from "node:fs";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { useFixtureFaces } from "../../helpers/fixture-faces.ts";
import { transferExpression } from "../../../src/pipeline/transfer/index.ts";
import { faceSize, insidePolygon } from "../../../src/pipeline/transfer/geometry.ts";
import { innerLipPolygon } from "../../../src/pipeline/transfer/measure.ts";
import { skinMatch, skinPoints } from "../../../src/pipeline/transfer/mouth.ts";
import { patchMean, pointsBox } from "../../../src/pipeline/transfer/blend.ts";
import type { AnalyzedFace, RgbImage } from "../../../src/pipeline/types.ts";

/**
 * The drawn mouth interior follows the template's exposure and colour: the reaction's teeth, painted into a
 * dim photo, are as dim as its skin (not a white band in a black face), and from a dim reaction they are as
 * bright and as warm as from the reaction as it was (not murky grey). Exposure is simulated with sharp's linear
 * gain on the fixtures (grace_hopper as the template, the astronaut's open smile as the reaction).
 */
const fx = useFixtureFaces();
const TEMPLATE = "grace_hopper_512x512.jpg", REACTION = "astronaut.png";

/** A fixture with every channel multiplied by `k` (clipped), as an underexposed (k < 1) or overexposed photo. */
async function exposed(name: string, k: number): Promise<RgbImage> {
  const bytes = readFileSync(new URL(`../../fixtures/faces/${name}`, import.meta.url));
  const { data, info } = await sharp(bytes).removeAlpha().linear(k, 0).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

const lumaAt = (img: RgbImage, o: number) => 0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!;

async function analysed(img: RgbImage): Promise<AnalyzedFace> {
  const face = (await fx.analyzer.analyze(img)).faces[0];
  expect(face, "the analyzer finds the face in the exposed copy").toBeDefined();
  return face!;
}

interface Teeth {
  /** 90th percentile luma inside the result's inner-lip ring: the teeth's level. */
  level: number;
  /** The brightest pixel there (its 99.5th percentile, a stray pixel aside). */
  top: number;
  /** Mean colour of the brightest quarter there (the teeth): ln(R/G), ln(B/G). */
  tint: [number, number];
  /** The template's skin luma (cheeks, nose, forehead) and its brightest pixel over its face's box. */
  skin: number;
  highlight: number;
}

/** Transfers the reaction onto the template (mimic) and reads the drawn teeth against the template. */
async function teeth(template: RgbImage, reaction: RgbImage): Promise<Teeth> {
  const templateFace = await analysed(template), reactionFace = await analysed(reaction);
  const res = transferExpression({ template, templateFace, reaction, reactionFace });
  expect(res.mouthSynthesised, "the open smile draws a mouth interior").toBe(true);
  const ring = innerLipPolygon(res.landmarks);
  const px: { l: number; o: number }[] = [];
  for (let y = 0; y < template.height; y++) for (let x = 0; x < template.width; x++) {
    if (insidePolygon(ring, x, y)) px.push({ l: lumaAt(res.image, (y * template.width + x) * 3), o: (y * template.width + x) * 3 });
  }
  expect(px.length).toBeGreaterThan(200);
  px.sort((a, b) => a.l - b.l);
  const q = (p: number) => px[Math.min(px.length - 1, Math.floor(p * px.length))]!.l;
  const bright = px.slice(Math.floor(px.length * 0.75));
  const mean = [0, 1, 2].map((c) => bright.reduce((s, p) => s + res.image.data[p.o + c]!, 0) / bright.length + 1);
  const lm = templateFace.landmarks;
  const skinRgb = patchMean(template, skinPoints(lm), faceSize(lm) * 0.02);
  const box = pointsBox(Float32Array.from({ length: 936 }, (_, i) => lm[3 * (i >> 1) + (i & 1)]!), template.width, template.height, 0);
  let highlight = 0;
  for (let y = box.y; y < box.y + box.height; y++) for (let x = box.x; x < box.x + box.width; x++) highlight = Math.max(highlight, lumaAt(template, (y * template.width + x) * 3));
  return {
    level: q(0.9),
    top: q(0.995),
    tint: [Math.log(mean[0]! / mean[1]!), Math.log(mean[2]! / mean[1]!)],
    skin: 0.299 * skinRgb[0] + 0.587 * skinRgb[1] + 0.114 * skinRgb[2],
    highlight,
  };
}

describe("the drawn mouth interior follows the photos' exposure (mouth.ts skinMatch, paintMouthInterior)", () => {
  /** The teeth's level over the template's skin for the photos as they are, measured once. */
  let normal: Teeth;
  const relative = (t: Teeth) => t.level / t.skin / (normal.level / normal.skin);

  it("draws the reaction's teeth brighter than the template's skin on the photos as they are", async () => {
    normal = await teeth(await exposed(TEMPLATE, 1), await exposed(REACTION, 1));
    expect(normal.level / normal.skin).toBeGreaterThan(1.1);
    expect(normal.top).toBeLessThanOrEqual(normal.highlight + 2);
  });

  // A photo at 12 % of its exposure (its brightest face pixel ~30) got teeth of luma 140 before: the gain on the
  // reaction's pixels was bounded to 0.55–1.8.
  it.each([0.12, 0.25, 0.6])("a template at %s of its exposure: teeth as bright against its skin as at full, never above its highlights", async (k) => {
    const t = await teeth(await exposed(TEMPLATE, k), await exposed(REACTION, 1));
    expect(relative(t), `teeth ${t.level.toFixed(0)} on skin ${t.skin.toFixed(0)}`).toBeGreaterThan(0.8);
    expect(relative(t), `teeth ${t.level.toFixed(0)} on skin ${t.skin.toFixed(0)}`).toBeLessThan(1.25);
    expect(t.top, `brightest tooth vs the template's brightest face pixel`).toBeLessThanOrEqual(t.highlight + 2);
  });

  // A reaction at 20 % of its exposure gave murky grey-teal teeth (luma 92 for 241) on the normal template.
  it.each([0.2, 0.5])("a reaction at %s of its exposure: teeth as bright and as warm as from the reaction as it was", async (k) => {
    const t = await teeth(await exposed(TEMPLATE, 1), await exposed(REACTION, k));
    expect(relative(t), `teeth ${t.level.toFixed(0)} on skin ${t.skin.toFixed(0)}`).toBeGreaterThan(0.85);
    expect(relative(t)).toBeLessThan(1.2);
    expect(Math.abs(t.tint[0] - normal.tint[0]), `ln R/G ${t.tint[0].toFixed(3)} vs ${normal.tint[0].toFixed(3)}`).toBeLessThan(0.06);
    expect(Math.abs(t.tint[1] - normal.tint[1]), `ln B/G ${t.tint[1].toFixed(3)} vs ${normal.tint[1].toFixed(3)}`).toBeLessThan(0.06);
  });

  it("an overexposed template (×1.25) or reaction (×1.4) keeps the teeth about as bright against the skin", async () => {
    for (const [tk, rk] of [[1.25, 1], [1, 1.4]] as const) {
      const t = await teeth(await exposed(TEMPLATE, tk), await exposed(REACTION, rk));
      expect(relative(t), `template ×${tk}, reaction ×${rk}`).toBeGreaterThan(0.8);
      expect(relative(t), `template ×${tk}, reaction ×${rk}`).toBeLessThan(1.25);
      expect(t.top).toBeLessThanOrEqual(t.highlight + 2);
    }
  });

  it("skinMatch's brightness follows a skin ratio far outside 0.55–1.8 (a sixth, five times)", async () => {
    const grace = await exposed(TEMPLATE, 1), dim = await exposed(TEMPLATE, 1 / 6);
    const lm = fx.faces.get(TEMPLATE)!.landmarks;
    const size = faceSize(lm);
    // The same landmarks for both copies: only the exposure differs.
    const down = skinMatch(dim, lm, grace, lm, size), up = skinMatch(grace, lm, dim, lm, size);
    for (const g of down.gain) expect(g).toBeCloseTo(1 / 6, 1);
    for (const g of up.gain) expect(g).toBeGreaterThan(5);
    expect(down.highlight!).toBeLessThan(50);
  });
});
