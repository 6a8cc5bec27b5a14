import { describe, expect, it } from "vitest";
import { transferExpression } from "../../../src/pipeline/transfer/index.ts";
import { insidePolygon } from "../../../src/pipeline/transfer/geometry.ts";
import { lipsAgainstSkin } from "../../../src/pipeline/transfer/lip-colour.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";
import * as L from "../../../src/pipeline/warp/landmarks.ts";
import { useFixtureFaces } from "../../helpers/fixture-faces.ts";

const fx = useFixtureFaces();
const USER = "grace_hopper_512x512.jpg", REST = "franck_01829.jpg", LAUGH = "franck_04117.jpg";
const MODES = ["mimic", "swap"] as const;

const poly = (lm: Float32Array, idx: readonly number[]) => Float32Array.from(idx.flatMap((k) => [lm[3 * k]!, lm[3 * k + 1]!]));
const outerLips = (lm: Float32Array) => poly(lm, [...L.LIPS_OUTER_UPPER, ...[...L.LIPS_OUTER_LOWER].reverse()]);

/** The picture with each channel inside its lips' outline multiplied by `gain`. */
function tintLips(img: RgbImage, lm: Float32Array, gain: readonly number[]): RgbImage {
  const out = { ...img, data: img.data.slice() };
  const lips = outerLips(lm);
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) {
    if (!insidePolygon(lips, x, y)) continue;
    for (let c = 0; c < 3; c++) out.data[(y * img.width + x) * 3 + c] = Math.min(255, Math.round(img.data[(y * img.width + x) * 3 + c]! * gain[c]!));
  }
  return out;
}

/**
 * The picture with its lips' red multiplied by `gain` and green and blue moved to keep each pixel's luma: only
 * their colour changes, so the expression's creases (read from luma) stay as they are.
 */
function reddenLipsKeepingLuma(img: RgbImage, lm: Float32Array, gain: number): RgbImage {
  const out = { ...img, data: img.data.slice() };
  const lips = outerLips(lm);
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) {
    if (!insidePolygon(lips, x, y)) continue;
    const o = (y * img.width + x) * 3;
    const [r, g, b] = [img.data[o]!, img.data[o + 1]!, img.data[o + 2]!];
    const red = Math.min(255, r * gain);
    const rest = 0.587 * g + 0.114 * b;
    const k = rest > 0 ? Math.max(0, 1 - (0.299 * (red - r)) / rest) : 1;
    [out.data[o], out.data[o + 1], out.data[o + 2]] = [Math.round(red), Math.round(g * k), Math.round(b * k)];
  }
  return out;
}

/** How far apart two pictures are outside `lips` grown by `margin` px: the largest channel difference. */
function largestChangeAwayFrom(a: RgbImage, b: RgbImage, lips: Float32Array, margin: number): number {
  let most = 0;
  for (let y = 0; y < a.height; y++) for (let x = 0; x < a.width; x++) {
    if ([[0, 0], [margin, 0], [-margin, 0], [0, margin], [0, -margin]].some(([dx, dy]) => insidePolygon(lips, x + dx!, y + dy!))) continue;
    for (let c = 0; c < 3; c++) most = Math.max(most, Math.abs(a.data[(y * a.width + x) * 3 + c]! - b.data[(y * a.width + x) * 3 + c]!));
  }
  return most;
}

describe("the lips' change of colour in an animation (lip-colour.ts)", () => {
  // The reaction is its own rest picture with redder lips: its lips paled by a known amount and nothing else moved.
  const REDDER = 1.25;

  it("lays the reaction's lips' change from its rest picture on the user's lips, and nowhere else", () => {
    const laugh = fx.images.get(LAUGH)!, laughFace = fx.faces.get(LAUGH)!;
    const t = { template: fx.images.get(USER)!, templateFace: fx.faces.get(USER)!, reaction: laugh, reactionFace: laughFace, reactionRest: laughFace.landmarks };
    const redder = reddenLipsKeepingLuma(laugh, laughFace.landmarks, REDDER);
    // What the reaction's lips did, as read (bright reds clip at 255): about ln(1 / 1.25) in red, a little more green and blue.
    const [now, before] = [lipsAgainstSkin(laugh, laughFace.landmarks)!, lipsAgainstSkin(redder, laughFace.landmarks)!];
    const wanted = now.map((v, c) => v - before[c]!);
    expect(wanted[0]).toBeLessThan(-0.15);
    for (const mode of MODES) {
      const same = transferExpression({ ...t, reactionRestImage: laugh, mode });
      const paled = transferExpression({ ...t, reactionRestImage: redder, mode });
      const [kept, changed] = [lipsAgainstSkin(same.image, same.landmarks)!, lipsAgainstSkin(paled.image, paled.landmarks)!];
      // The lip line's soft edge takes a little off the band's mean.
      for (let c = 0; c < 3; c++) {
        expect(Math.abs(changed[c]! - kept[c]! - 0.95 * wanted[c]!), `${mode} channel ${c}`).toBeLessThan(0.1 * Math.abs(wanted[c]!) + 0.005);
      }
      expect(largestChangeAwayFrom(same.image, paled.image, outerLips(same.landmarks), 4), mode).toBeLessThanOrEqual(1);
    }
  });

  it("grace wearing franck's laugh pales as his lips do from his rest frame", () => {
    const rest = fx.images.get(REST)!, restFace = fx.faces.get(REST)!;
    const t = { template: fx.images.get(USER)!, templateFace: fx.faces.get(USER)!, reaction: fx.images.get(LAUGH)!, reactionFace: fx.faces.get(LAUGH)!, reactionRest: restFace.landmarks };
    const redness = (v: readonly number[]) => v[0]! - v[1]!;
    const his = redness(lipsAgainstSkin(t.reaction, t.reactionFace.landmarks)!) - redness(lipsAgainstSkin(rest, restFace.landmarks)!);
    expect(his).toBeLessThan(-0.05);
    // The same transfer with a rest picture whose lips already look as the laugh's do: creases alike, no paling.
    const asLaugh = lipsAgainstSkin(t.reaction, t.reactionFace.landmarks)!, asRest = lipsAgainstSkin(rest, restFace.landmarks)!;
    const restLikeLaugh = tintLips(rest, restFace.landmarks, asLaugh.map((v, c) => Math.exp(v - asRest[c]!)));
    for (const mode of MODES) {
      const paled = transferExpression({ ...t, reactionRestImage: rest, mode });
      const kept = transferExpression({ ...t, reactionRestImage: restLikeLaugh, mode });
      const hers = redness(lipsAgainstSkin(paled.image, paled.landmarks)!) - redness(lipsAgainstSkin(kept.image, kept.landmarks)!);
      expect(hers, mode).toBeLessThan(his * 0.7);
      expect(hers, mode).toBeGreaterThan(his * 1.3);
    }
  });

  it("bounds the change: a misread rest picture cannot turn the user's lips grey", () => {
    const laugh = fx.images.get(LAUGH)!, laughFace = fx.faces.get(LAUGH)!;
    const t = { template: fx.images.get(USER)!, templateFace: fx.faces.get(USER)!, reaction: laugh, reactionFace: laughFace, reactionRest: laughFace.landmarks };
    const same = transferExpression({ ...t, reactionRestImage: laugh });
    // A rest picture whose lips have a third of their green and blue: read as a change of ln 3, far past the bound.
    const wild = transferExpression({ ...t, reactionRestImage: tintLips(laugh, laughFace.landmarks, [1, 1 / 3, 1 / 3]) });
    const [before, after] = [lipsAgainstSkin(same.image, same.landmarks)!, lipsAgainstSkin(wild.image, wild.landmarks)!];
    for (const c of [1, 2]) {
      expect(after[c]! - before[c]!, `channel ${c}`).toBeGreaterThan(0.3);
      expect(after[c]! - before[c]!, `channel ${c}`).toBeLessThan(0.41);
    }
    expect(Math.abs(after[0] - before[0])).toBeLessThan(0.01);
  });

  it("leaves the lips alone at intensity 0 and when only brows and eyes are copied", () => {
    const laugh = fx.images.get(LAUGH)!, laughFace = fx.faces.get(LAUGH)!;
    const t = { template: fx.images.get(USER)!, templateFace: fx.faces.get(USER)!, reaction: laugh, reactionFace: laughFace, reactionRest: laughFace.landmarks };
    const redder = reddenLipsKeepingLuma(laugh, laughFace.landmarks, REDDER);
    for (const mode of MODES) {
      for (const extra of [{ regions: "upper" as const }, { intensity: 0 }]) {
        const a = transferExpression({ ...t, ...extra, reactionRestImage: laugh, mode }).image;
        const b = transferExpression({ ...t, ...extra, reactionRestImage: redder, mode }).image;
        expect(Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)), `${mode} ${JSON.stringify(extra)}`).toBe(0);
      }
    }
  });
});
