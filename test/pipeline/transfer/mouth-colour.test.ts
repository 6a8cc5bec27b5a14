import { readFileSync } from "node:fs";
import sharp, { type Sharp } from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_FACES, useFixtureFaces, type FixtureFace } from "../../helpers/fixture-faces.ts";
import { decodeImage } from "../../../src/pipeline/image/index.ts";
import { transferExpression } from "../../../src/pipeline/transfer/index.ts";
import { faceSize, insidePolygon } from "../../../src/pipeline/transfer/geometry.ts";
import { innerLipPolygon } from "../../../src/pipeline/transfer/measure.ts";
import { skinMatch, skinPoints } from "../../../src/pipeline/transfer/mouth.ts";
import { patchMean } from "../../../src/pipeline/transfer/blend.ts";
import type { AnalyzedFace, RgbImage } from "../../../src/pipeline/types.ts";

/**
 * The drawn mouth interior of a colour template stays warm when the reaction's own colour cannot be trusted:
 * a black-and-white reaction gave a cold grey cavity, and a half-transparent one (flattened onto white by the
 * decoder, as chat clients show it) a pale grey one. franck_04117's open laugh is the reaction, in colour, in
 * greyscale and at half opacity; each result's interior is compared with the colour reaction's.
 */
const fx = useFixtureFaces();
const REACTION: FixtureFace = "franck_04117.jpg";
const TEMPLATES: FixtureFace[] = ["grace_hopper_512x512.jpg", "franck_01829.jpg"];

const luma = (d: Uint8Array, o: number) => 0.299 * d[o]! + 0.587 * d[o + 1]! + 0.114 * d[o + 2]!;
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;

interface Interior {
  /** Mean ln(R/G), ln(B/G) of the interior's pixels darker than the template's skin (cavity, tongue, gums). */
  dark: [number, number];
  /** Mean ln(R/G) of its brightest quarter (the teeth). */
  teethRed: number;
  /** Its 10th-percentile luma over the template's skin luma: how deep the cavity's darkness is. */
  depth: number;
}

/** A fixture re-encoded by sharp (`edit`) and decoded as an upload is, with its face. */
async function variant(name: FixtureFace, edit: (s: Sharp) => Sharp): Promise<{ image: RgbImage; face: AnalyzedFace }> {
  const bytes = await edit(sharp(readFileSync(new URL(`../../fixtures/faces/${name}`, import.meta.url)))).png().toBuffer();
  const image = await decodeImage(new Uint8Array(bytes));
  const face = (await fx.analyzer.analyze(image)).faces[0];
  expect(face, "the analyzer finds the face in the edited copy").toBeDefined();
  return { image, face: face! };
}

/** Transfers the reaction onto the template (mimic) and reads the drawn interior. */
function interior(templateName: FixtureFace, reaction: RgbImage, reactionFace: AnalyzedFace): Interior {
  const template = fx.images.get(templateName)!, templateFace = fx.faces.get(templateName)!;
  const res = transferExpression({ template, templateFace, reaction, reactionFace });
  expect(res.mouthSynthesised, "the laugh draws a mouth interior").toBe(true);
  const skin = patchMean(template, skinPoints(templateFace.landmarks), faceSize(templateFace.landmarks) * 0.02);
  const skinLuma = 0.299 * skin[0] + 0.587 * skin[1] + 0.114 * skin[2];
  const ring = innerLipPolygon(res.landmarks);
  const d = res.image.data, w = res.image.width;
  const px: { y: number; rg: number; bg: number }[] = [];
  for (let y = 0; y < res.image.height; y++) for (let x = 0; x < w; x++) {
    if (!insidePolygon(ring, x, y)) continue;
    const o = (y * w + x) * 3;
    px.push({ y: luma(d, o), rg: Math.log((d[o]! + 1) / (d[o + 1]! + 1)), bg: Math.log((d[o + 2]! + 1) / (d[o + 1]! + 1)) });
  }
  expect(px.length).toBeGreaterThan(500);
  px.sort((a, b) => a.y - b.y);
  const dark = px.filter((p) => p.y < skinLuma);
  expect(dark.length).toBeGreaterThan(100);
  return {
    dark: [mean(dark.map((p) => p.rg)), mean(dark.map((p) => p.bg))],
    teethRed: mean(px.slice(Math.floor(px.length * 0.75)).map((p) => p.rg)),
    depth: px[Math.floor(px.length * 0.1)]!.y / skinLuma,
  };
}

describe("the drawn mouth interior keeps a plausible colour from a grey or half-transparent reaction (mouth.ts skinMatch)", () => {
  let grey: { image: RgbImage; face: AnalyzedFace }, half: { image: RgbImage; face: AnalyzedFace };
  beforeAll(async () => {
    grey = await variant(REACTION, (s) => s.greyscale());
    half = await variant(REACTION, (s) => s.ensureAlpha(0.5));
  });

  for (const templateName of TEMPLATES) {
    it(`a greyscale reaction on ${templateName}: the cavity as warm as from the colour reaction, the teeth no pinker`, () => {
      const colour = interior(templateName, fx.images.get(REACTION)!, fx.faces.get(REACTION)!);
      const fromGrey = interior(templateName, grey.image, grey.face);
      // Before: the grey cavity kept about half the colour one's red (ln R/G 0.39 against 0.72 on grace).
      expect(fromGrey.dark[0]).toBeGreaterThan(colour.dark[0] - 0.15);
      expect(fromGrey.dark[0]).toBeLessThan(colour.dark[0] + 0.2);
      expect(fromGrey.teethRed).toBeLessThan(colour.teethRed + 0.05);
    });

    it(`a half-transparent reaction on ${templateName}: the cavity as dark and as warm as from the colour reaction`, () => {
      const colour = interior(templateName, fx.images.get(REACTION)!, fx.faces.get(REACTION)!);
      const fromHalf = interior(templateName, half.image, half.face);
      // Before: the veil of white left its darkest tenth at over twice the colour one's luma, and half its red.
      expect(fromHalf.depth).toBeLessThan(colour.depth * 1.35);
      expect(fromHalf.depth).toBeGreaterThan(colour.depth * 0.65);
      expect(Math.abs(fromHalf.dark[0] - colour.dark[0])).toBeLessThan(0.15);
      expect(Math.abs(fromHalf.dark[1] - colour.dark[1])).toBeLessThan(0.25);
    });
  }

  it("colour reactions keep their own interior colours: no veil and no tint on any fixture pair", () => {
    for (const t of FIXTURE_FACES) for (const r of FIXTURE_FACES) {
      if (t === r) continue;
      const tf = fx.faces.get(t)!, rf = fx.faces.get(r)!;
      const m = skinMatch(fx.images.get(t)!, tf.landmarks, fx.images.get(r)!, rf.landmarks, faceSize(tf.landmarks));
      expect(m.veil, `${t} <- ${r}`).toBeUndefined();
      expect(m.tint, `${t} <- ${r}`).toBeUndefined();
    }
  });
});
