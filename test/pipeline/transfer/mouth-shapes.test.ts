import { describe, expect, it } from "vitest";
import { changedOutsideRing } from "../../../tools/eval/evaluate.ts";
import { useFixtureFaces, type FixtureFace } from "../../helpers/fixture-faces.ts";
import { ovalMouth, partedPicture, type OvalMouth } from "../../helpers/mouth-shapes.ts";
import { transferExpression } from "../../../src/pipeline/transfer/index.ts";

const fx = useFixtureFaces();

/**
 * Reaction mouths (franck_04117's analysed mesh with its lips moved; units: inter-ocular distances): tall,
 * thin and extreme "O"s, a wide round scream, a tilted lopsided one, and an "O" whose corners sit level with
 * where its lips would meet (its corner lift, once the mouth is closed in thought, is all but 0).
 */
const SHAPES: Record<string, OvalMouth | null> = {
  "its own laugh": null,
  "tall O": { inner: { a: 0.1, b: 0.22 }, outer: { a: 0.19, b: 0.31 } },
  "thin O": { inner: { a: 0.06, b: 0.25 }, outer: { a: 0.14, b: 0.33 } },
  "extreme O": { inner: { a: 0.12, b: 0.36 }, outer: { a: 0.2, b: 0.46 } },
  "wide scream": { inner: { a: 0.28, b: 0.3 }, outer: { a: 0.34, b: 0.4 } },
  "lopsided": { inner: { a: 0.12, b: 0.25 }, outer: { a: 0.2, b: 0.33 }, tilt: 0.3, skew: 0.5, dx: 0.05 },
  "level-cornered O": { inner: { a: 0.1, b: 0.12 }, outer: { a: 0.19, b: 0.21 }, cornerRaise: 0.26 * 0.12 + 0.0005 },
};

describe("the reaction's estimated neutral mouth", () => {
  const iod = (lm: Float32Array) => Math.hypot(lm[3 * 263]! - lm[3 * 33]!, lm[3 * 263 + 1]! - lm[3 * 33 + 1]!);
  const farthest = (a: Float32Array, b: Float32Array) => {
    let d = 0;
    for (let i = 0; i < 468; i++) d = Math.max(d, Math.hypot(a[3 * i]! - b[3 * i]!, a[3 * i + 1]! - b[3 * i + 1]!));
    return d / iod(a);
  };

  it("keeps the lips on the face when the reaction's corners sit level with where its lips meet", () => {
    // Its corner lift (the mouth closed in thought) is all but 0: scaling the lip curve by one factor to the
    // rest lift sent lip columns across the face.
    const reaction = fx.images.get("franck_04117.jpg")!;
    const reactionFace = fx.faces.get("franck_04117.jpg")!;
    const lm = ovalMouth(reactionFace.landmarks, SHAPES["level-cornered O"]!);
    for (const name of ["grace_hopper_512x512.jpg", "franck_01829.jpg", "astronaut.png"] as FixtureFace[]) {
      const image = fx.images.get(name)!, face = fx.faces.get(name)!;
      const res = transferExpression({ template: image, templateFace: face, reaction, reactionFace: { ...reactionFace, landmarks: lm } });
      expect(changedOutsideRing(image, res.image, face.landmarks), name).toBe(0);
      // The reaction's lips open by 0.24 inter-ocular distances; no point of the result moves twice that.
      expect(farthest(face.landmarks, res.expression), name).toBeLessThan(0.5);
    }
  });

  it("keeps a small parting small: the template's lips move about as far as the reaction's", async () => {
    const neutral = fx.images.get("franck_01829.jpg")!;
    const neutralFace = fx.faces.get("franck_01829.jpg")!;
    const reaction = partedPicture(neutral, neutralFace.landmarks, 6);
    const reactionFace = (await fx.analyzer.analyze(reaction)).faces[0]!;
    const moved = farthest(neutralFace.landmarks, reactionFace.landmarks);
    for (const name of ["grace_hopper_512x512.jpg", "franck_01829.jpg"] as FixtureFace[]) {
      const face = fx.faces.get(name)!;
      const res = transferExpression({ template: fx.images.get(name)!, templateFace: face, reaction, reactionFace });
      expect(farthest(face.landmarks, res.expression), name).toBeLessThan(2 * moved + 0.02);
    }
  });
});
