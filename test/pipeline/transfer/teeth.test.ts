import { describe, expect, it } from "vitest";
import { useFixtureFaces } from "../../helpers/fixture-faces.ts";
import { areaResize } from "../../helpers/area-resize.ts";
import { resizeImage } from "../../../src/pipeline/image/index.ts";
import { transferExpression } from "../../../src/pipeline/transfer/index.ts";
import { faceSize, insidePolygon } from "../../../src/pipeline/transfer/geometry.ts";
import { innerLipPolygon } from "../../../src/pipeline/transfer/measure.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";

/**
 * The teeth painted into a face smaller than the reaction's. franck_01829 shrunk until his face box is 176 / 200 px
 * (face size 196 / 223 px: drawn at its own size, above the working resolution's threshold) wears franck_04117's
 * laugh, whose mouth is 1.6–1.8× larger: the interior is shrunk as it is painted. The reference is the same laugh
 * on the full-size face, area-averaged down to the small one's size (same person, same framing, so the same mouth
 * geometry): what those teeth look like at that size with no pixel skipped.
 */

const fx = useFixtureFaces();
const luma = (d: Uint8Array, i: number) => 0.299 * d[3 * i]! + 0.587 * d[3 * i + 1]! + 0.114 * d[3 * i + 2]!;

/**
 * Over the pixels inside `lm`'s inner-lip ring whose 4-neighbours are inside too: the mean squared Laplacian of luma
 * of `img` over the reference's (stair-stepped, speckled teeth edges raise it), and the mean luma of the brightest
 * fifth of those pixels (the teeth) in each.
 */
function interior(img: RgbImage, ref: RgbImage, lm: Float32Array) {
  const ring = innerLipPolygon(lm);
  const W = img.width;
  const xs = ring.filter((_, k) => k % 2 === 0), ys = ring.filter((_, k) => k % 2 === 1);
  const inside = (x: number, y: number) => insidePolygon(ring, x, y);
  let got = 0, want = 0;
  const lit: number[] = [], litRef: number[] = [];
  for (let y = Math.floor(Math.min(...ys)); y <= Math.max(...ys); y++) {
    for (let x = Math.floor(Math.min(...xs)); x <= Math.max(...xs); x++) {
      if (![[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]].every(([dx, dy]) => inside(x + dx!, y + dy!))) continue;
      const i = y * W + x;
      const lap = (d: Uint8Array) => 4 * luma(d, i) - luma(d, i - 1) - luma(d, i + 1) - luma(d, i - W) - luma(d, i + W);
      got += lap(img.data) ** 2;
      want += lap(ref.data) ** 2;
      lit.push(luma(img.data, i));
      litRef.push(luma(ref.data, i));
    }
  }
  const brightest = (v: number[]) => {
    const top = v.sort((a, b) => b - a).slice(0, Math.max(1, Math.round(v.length / 5)));
    return top.reduce((s, a) => s + a, 0) / top.length;
  };
  return { n: lit.length, detail: got / want, teeth: brightest(lit), teethRef: brightest(litRef) };
}

describe("teeth painted into a face smaller than the reaction's", () => {
  it.each([176, 200])("are as smooth and as white as the full-size result shrunk (face box %i px)", async (px) => {
    const big = fx.images.get("franck_01829.jpg")!, bigFace = fx.faces.get("franck_01829.jpg")!;
    const reaction = fx.images.get("franck_04117.jpg")!, reactionFace = fx.faces.get("franck_04117.jpg")!;
    const k = px / bigFace.quality.faceSizePx;
    const tpl = resizeImage(big, Math.round(big.width * k), Math.round(big.height * k));
    const face = (await fx.analyzer.analyze(tpl)).faces[0]!;
    expect(faceSize(face.landmarks)).toBeGreaterThan(180);
    expect(faceSize(reactionFace.landmarks) / faceSize(face.landmarks)).toBeGreaterThan(1.5);
    const res = transferExpression({ template: tpl, templateFace: face, reaction, reactionFace });
    const full = transferExpression({ template: big, templateFace: bigFace, reaction, reactionFace });
    const m = interior(res.image, areaResize(full.image, tpl.width, tpl.height), res.landmarks);
    expect(m.n).toBeGreaterThan(500);
    // Sampled 1:1 from the larger mouth, every edge came out as steps and single bright pixels: 1.58 / 1.71× the
    // reference's detail at 176 / 200 px. Averaged over each pixel's area: 1.17 / 1.32.
    expect(m.detail, "detail inside the mouth against the reference's").toBeLessThan(1.45);
    // Not greyed by the averaging: the teeth as bright as the reference's.
    expect(Math.abs(m.teeth - m.teethRef), "teeth luma against the reference's").toBeLessThan(4);
  });
});
