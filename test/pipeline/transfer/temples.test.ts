import { describe, expect, it, vi } from "vitest";
import { FIXTURE_FACES, useFixtureFaces, type FixtureFace } from "../../helpers/fixture-faces.ts";
import { flipHorizontal } from "../../../src/pipeline/image/index.ts";
import { transferExpression } from "../../../src/pipeline/transfer/index.ts";
import { faceSize, insidePolygon } from "../../../src/pipeline/transfer/geometry.ts";
import { withoutFrameEnds } from "../../../src/pipeline/transfer/temples.ts";
import type { AnalyzedFace, RgbImage } from "../../../src/pipeline/types.ts";
import { FACE_OVAL } from "../../../src/pipeline/warp/landmarks.ts";

/** withoutFrameEnds: a spectacle frame's ends at a swap reaction's temples, filled in; nothing else touched. */

// The swap with the frame search switched off, for comparison: the same pipeline otherwise.
const search = vi.hoisted(() => ({ off: false }));
vi.mock("../../../src/pipeline/transfer/temples.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../../src/pipeline/transfer/temples.ts")>();
  return { ...real, withoutFrameEnds: (image: RgbImage, lm: Float32Array) => (search.off ? image : real.withoutFrameEnds(image, lm)) };
});

const fx = useFixtureFaces();
const GLASSES: FixtureFace = "grace_hopper_512x512.jpg";
const BARE = FIXTURE_FACES.filter((n) => n !== GLASSES);

function swap(template: FixtureFace, reaction: RgbImage, reactionFace: AnalyzedFace, off: boolean): RgbImage {
  search.off = off;
  try {
    return transferExpression({ template: fx.images.get(template)!, templateFace: fx.faces.get(template)!, reaction, reactionFace, mode: "swap" }).image;
  } finally {
    search.off = false;
  }
}

/** Pixels (x, y pairs) where two pictures differ. */
function differing(a: RgbImage, b: RgbImage): number[] {
  const out: number[] = [];
  for (let p = 0; p < a.width * a.height; p++) {
    const o = 3 * p;
    if (a.data[o] !== b.data[o] || a.data[o + 1] !== b.data[o + 1] || a.data[o + 2] !== b.data[o + 2]) out.push(p % a.width, Math.floor(p / a.width));
  }
  return out;
}

const ovalOf = (lm: Float32Array) => Float32Array.from(FACE_OVAL.flatMap((i) => [lm[3 * i]!, lm[3 * i + 1]!]));

/** Distance from (x, y) to the closed polygon `poly` (x, y pairs). */
function distanceToPolygon(poly: Float32Array, x: number, y: number): number {
  let best = Infinity;
  const n = poly.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const ax = poly[2 * j]!, ay = poly[2 * j + 1]!, bx = poly[2 * i]!, by = poly[2 * i + 1]!;
    const len2 = (bx - ax) ** 2 + (by - ay) ** 2 || 1;
    const t = Math.min(1, Math.max(0, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / len2));
    best = Math.min(best, Math.hypot(x - ax - t * (bx - ax), y - ay - t * (by - ay)));
  }
  return best;
}

describe("a spectacle frame's ends at the reaction's temples", () => {
  it("leaves a reaction without glasses as it is, and so its swap: pixel for pixel, mirrored too", async () => {
    for (const name of BARE) {
      const image = fx.images.get(name)!, face = fx.faces.get(name)!;
      const flipped = flipHorizontal(image);
      const flippedFace = (await fx.analyzer.analyze(flipped)).faces[0]!;
      for (const [label, img, f] of [[name, image, face], [`${name} mirrored`, flipped, flippedFace]] as const) {
        expect(withoutFrameEnds(img, f.landmarks), label).toBe(img);
        const template = name === "franck_01829.jpg" ? "franck_04117.jpg" : "franck_01829.jpg";
        expect(differing(swap(template, img, f, false), swap(template, img, f, true)).length, `${label}: pixels the frame search changed`).toBe(0);
      }
    }
  });

  it("changes a reaction with glasses only in a narrow band across its outline at eye height", () => {
    const image = fx.images.get(GLASSES)!, lm = fx.faces.get(GLASSES)!.landmarks;
    const changed = differing(image, withoutFrameEnds(image, lm));
    expect(changed.length).toBeGreaterThan(200);
    const size = faceSize(lm), oval = ovalOf(lm);
    const eyeY = (lm[3 * 33 + 1]! + lm[3 * 263 + 1]!) / 2; // her face is upright
    for (let k = 0; k < changed.length; k += 2) {
      const [x, y] = [changed[k]!, changed[k + 1]!];
      expect(Math.abs(y - eyeY) / size, `height of (${x}, ${y}) from the eyes' line`).toBeLessThan(0.2);
      // Outside the outline, no further than the band reaches; inside, only near the outline (the face covers the rest).
      const out = !insidePolygon(oval, x, y), d = distanceToPolygon(oval, x, y) / size;
      expect(d, `distance of (${x}, ${y}) ${out ? "outside" : "inside"} the outline`).toBeLessThan(out ? 0.075 : 0.11);
    }
  });

  it("in the swap, changes nothing outside the pasted face but that band", () => {
    const image = fx.images.get(GLASSES)!, face = fx.faces.get(GLASSES)!;
    const on = transferExpression({ template: fx.images.get("franck_01829.jpg")!, templateFace: fx.faces.get("franck_01829.jpg")!, reaction: image, reactionFace: face, mode: "swap" });
    const off = swap("franck_01829.jpg", image, face, true);
    const size = faceSize(on.landmarks), oval = ovalOf(on.landmarks);
    const eyeY = (on.landmarks[3 * 33 + 1]! + on.landmarks[3 * 263 + 1]!) / 2;
    const changed = differing(on.image, off);
    let outside = 0;
    for (let k = 0; k < changed.length; k += 2) {
      const [x, y] = [changed[k]!, changed[k + 1]!];
      if (insidePolygon(oval, x, y)) continue; // the face itself meets a cleaner picture at its edge
      outside++;
      expect(Math.abs(y - eyeY) / size, `height of (${x}, ${y}) from the eyes' line`).toBeLessThan(0.2);
      expect(distanceToPolygon(oval, x, y) / size, `distance of (${x}, ${y}) outside the outline`).toBeLessThan(0.1);
    }
    expect(outside).toBeGreaterThan(50);
  });
});
