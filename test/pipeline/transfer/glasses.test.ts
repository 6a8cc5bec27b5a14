import { describe, expect, it } from "vitest";
import { useFixtureFaces, type FixtureFace } from "../../helpers/fixture-faces.ts";
import { transferExpression } from "../../../src/pipeline/transfer/index.ts";
import { faceSize } from "../../../src/pipeline/transfer/geometry.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";

/**
 * Swap into a reaction whose person wears glasses (grace_hopper: black cat-eye frames whose ends reach her face
 * outline): the frame's ends must not stay at the temples beside the pasted face.
 */

const fx = useFixtureFaces();
const GLASSES: FixtureFace = "grace_hopper_512x512.jpg";

const luma = (img: RgbImage, x: number, y: number) => {
  const o = (y * img.width + x) * 3;
  return 0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!;
};

/** How much darker a pixel is than the brightest within `reach` above and below it (share of the darker of the two). */
function barDepth(img: RgbImage, x: number, y: number, reach: number): number {
  let up = 0, down = 0;
  for (let k = 1; k <= reach; k++) {
    up = Math.max(up, luma(img, x, y - k));
    down = Math.max(down, luma(img, x, y + k));
  }
  return 1 - luma(img, x, y) / Math.max(1, Math.min(up, down));
}

/**
 * Per temple (image left, right): of the reaction's frame pixels there (a dark bar in the reaction itself), the
 * share that the swapped picture still shows as a dark bar. The temple is located from the reaction's landmarks:
 * eye height, from inside its face outline (where the pasted face fades out) to just outside it.
 */
function frameLeftAtTemples(reaction: RgbImage, lm: Float32Array, swapped: RgbImage): number[] {
  const size = faceSize(lm);
  const eyeY = (lm[3 * 33 + 1]! + lm[3 * 263 + 1]!) / 2;
  const reach = Math.round(0.05 * size);
  return ([[[162, 127], -1], [[389, 356], 1]] as const).map(([pts, side]) => {
    const outline = (lm[3 * pts[0]]! + lm[3 * pts[1]]!) / 2;
    const xa = Math.round(outline - side * 0.08 * size), xb = Math.round(outline + side * 0.04 * size);
    let frame = 0, left = 0;
    for (let y = Math.round(eyeY - 0.12 * size); y <= Math.round(eyeY + 0.04 * size); y++) {
      for (let x = Math.min(xa, xb); x <= Math.max(xa, xb); x++) {
        if (barDepth(reaction, x, y, reach) < 0.6) continue;
        frame++;
        if (barDepth(swapped, x, y, reach) > 0.4) left++;
      }
    }
    expect(frame).toBeGreaterThan(100); // the reaction's frame is there to be measured
    return left / frame;
  });
}

describe("swap into a reaction wearing glasses", () => {
  it("leaves no bar of the frame at either temple beside the pasted face", () => {
    const reaction = fx.images.get(GLASSES)!, reactionFace = fx.faces.get(GLASSES)!;
    for (const tpl of ["franck_01829.jpg", "franck_04117.jpg"] as const) {
      const res = transferExpression({ template: fx.images.get(tpl)!, templateFace: fx.faces.get(tpl)!, reaction, reactionFace, mode: "swap" });
      const [left, right] = frameLeftAtTemples(reaction, reactionFace.landmarks, res.image);
      expect.soft(left, `${tpl}: share of the frame left at the image-left temple`).toBeLessThan(0.15);
      expect.soft(right, `${tpl}: share of the frame left at the image-right temple`).toBeLessThan(0.15);
    }
  });
});
