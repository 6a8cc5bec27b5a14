import { describe, expect, it } from "vitest";
import { useFixtureFaces } from "../../helpers/fixture-faces.ts";
import { sampleLipsPastTheSeam } from "../../../src/pipeline/transfer/mouth.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";
import { LIPS_INNER_LOWER, LIPS_INNER_UPPER } from "../../../src/pipeline/warp/landmarks.ts";

/** sampleLipsPastTheSeam: where an opening mouth's lips are sampled from, around a closed mouth's seam. */

const fx = useFixtureFaces();
const TPL = "grace_hopper_512x512.jpg";

/** The source points as the mimic warp starts them: the template's landmarks, x,y pairs. */
const sourceOf = (lm: Float32Array) => {
  const src = new Float32Array((lm.length / 3) * 2);
  for (let i = 0; i < lm.length / 3; i++) (src[2 * i] = lm[3 * i]!), (src[2 * i + 1] = lm[3 * i + 1]!);
  return src;
};

/** The template's landmarks with the lower inner lip moved down by `px` in the middle columns: a mouth opening. */
const opened = (lm: Float32Array, px: number) => {
  const out = lm.slice();
  for (let j = 2; j <= 8; j++) out[3 * LIPS_INNER_LOWER[j]! + 1]! += px;
  return out;
};

/** Paints the lower lip of the middle column (14 → 17) from `from` to `to` (shares of its height) in `rgb`. */
const paintLowerLip = (img: RgbImage, lm: Float32Array, from: number, to: number, rgb: [number, number, number]) => {
  const out: RgbImage = { ...img, data: img.data.slice() };
  const [x0, y0, y1] = [lm[3 * 14]!, lm[3 * 14 + 1]!, lm[3 * 17 + 1]!];
  for (let y = Math.round(y0 + (y1 - y0) * from); y <= Math.round(y0 + (y1 - y0) * to); y++) {
    for (let x = Math.round(x0) - 20; x <= Math.round(x0) + 20; x++) out.data.set(rgb, (y * out.width + x) * 3);
  }
  return out;
};

describe("the closed mouth's seam, when the mouth opens", () => {
  it("moves an opening column's lower lip onto the seam's darkest pixel, its middle and semi-outer rows with it", () => {
    const img = fx.images.get(TPL)!, lm = fx.faces.get(TPL)!.landmarks;
    const src = sourceOf(lm);
    sampleLipsPastTheSeam(src, img, lm, opened(lm, 25));
    // grace's seam at the middle column lies 2–4 px under the inner-lip point (the transfer test draws one there).
    const moved = src[2 * 14 + 1]! - lm[3 * 14 + 1]!;
    expect(moved).toBeGreaterThan(1.5);
    expect(moved).toBeLessThan(4.5);
    const luma = (y: number) => {
      const o = (Math.round(y) * img.width + Math.round(lm[3 * 14]!)) * 3;
      return img.data[o]! + img.data[o + 1]! + img.data[o + 2]!;
    };
    expect(luma(src[2 * 14 + 1]!)).toBeLessThan(0.6 * luma((lm[3 * 14 + 1]! + lm[3 * 17 + 1]!) / 2));
    // The middle row moves down too (towards the outer lip line), the outer row stays.
    expect(src[2 * 15 + 1]!).toBeGreaterThan(lm[3 * 15 + 1]!);
    expect(src[2 * 17 + 1]).toBe(lm[3 * 17 + 1]);
    // The mouth corners' columns keep their crease.
    for (const i of [LIPS_INNER_LOWER[1], LIPS_INNER_LOWER[9], LIPS_INNER_UPPER[1], LIPS_INNER_UPPER[9]]) {
      expect([src[2 * i!], src[2 * i! + 1]]).toEqual([lm[3 * i!], lm[3 * i! + 1]]);
    }
  });

  it("moves nothing where the mouth does not open", () => {
    const img = fx.images.get(TPL)!, lm = fx.faces.get(TPL)!.landmarks;
    const src = sourceOf(lm);
    sampleLipsPastTheSeam(src, img, lm, lm);
    expect(src).toEqual(sourceOf(lm));
  });

  it("moves a small parting's lips only part of the way", () => {
    const img = fx.images.get(TPL)!, lm = fx.faces.get(TPL)!.landmarks;
    const wide = sourceOf(lm), small = sourceOf(lm);
    sampleLipsPastTheSeam(wide, img, lm, opened(lm, 25));
    sampleLipsPastTheSeam(small, img, lm, opened(lm, 4));
    const down = (s: Float32Array) => s[2 * 14 + 1]! - lm[3 * 14 + 1]!;
    expect(down(small)).toBeGreaterThan(0);
    expect(down(small)).toBeLessThan(0.6 * down(wide));
  });

  it("leaves a column whose lip shows no lip colour within half its height (a moustache, a shadow)", () => {
    const img = fx.images.get(TPL)!, lm = fx.faces.get(TPL)!.landmarks;
    // Dark green down to 60 % of the lip's height, darkest a third of the way down: no lip colour to stop at.
    const shaded = paintLowerLip(paintLowerLip(img, lm, 0, 0.6, [60, 80, 60]), lm, 0.3, 0.36, [20, 30, 20]);
    const src = sourceOf(lm);
    sampleLipsPastTheSeam(src, shaded, lm, opened(lm, 25));
    expect(src[2 * 14 + 1]).toBe(lm[3 * 14 + 1]);
    // The same lip with its seam where the mesh's inner-lip line is: nothing to move either.
    const onLine = paintLowerLip(img, lm, 0, 0.3, [232, 140, 128]);
    const again = sourceOf(lm);
    sampleLipsPastTheSeam(again, onLine, lm, opened(lm, 25));
    expect(again[2 * 14 + 1]).toBe(lm[3 * 14 + 1]);
  });
});
