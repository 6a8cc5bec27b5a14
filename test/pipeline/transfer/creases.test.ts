import { describe, expect, it } from "vitest";
import sharp from "sharp";
import { animateReaction } from "../../../src/pipeline/animate/index.ts";
import { transferExpression } from "../../../src/pipeline/transfer/index.ts";
import { resizeImage } from "../../../src/pipeline/image/index.ts";
import { boxBlurMask } from "../../../src/pipeline/transfer/blend.ts";
import { faceSize, insidePolygon } from "../../../src/pipeline/transfer/geometry.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";
import { faceMeshPoints, triangulate, warpTriangles } from "../../../src/pipeline/warp/index.ts";
import * as L from "../../../src/pipeline/warp/landmarks.ts";
import { useFixtureFaces } from "../../helpers/fixture-faces.ts";

const fx = useFixtureFaces();
const REST = "franck_01829.jpg", LAUGH = "franck_04117.jpg";

/** The 468 landmarks' x,y pairs. */
const xy = (lm: Float32Array) => faceMeshPoints(lm, { width: 0, height: 0, ringScale: 0 });
const poly = (lm: Float32Array, idx: readonly number[]) => Float32Array.from(idx.flatMap((k) => [lm[3 * k]!, lm[3 * k + 1]!]));

/** ln luma, blurred over ~1 % of the face less blurred over ~8 %: skin folds, not pores or the light. */
function folds(img: RgbImage, size: number): Float32Array {
  const fine = new Float32Array(img.width * img.height);
  for (let i = 0; i < fine.length; i++) fine[i] = 0.299 * img.data[3 * i]! + 0.587 * img.data[3 * i + 1]! + 0.114 * img.data[3 * i + 2]!;
  const coarse = fine.slice();
  for (const [f, r] of [[fine, size * 0.01], [coarse, size * 0.08]] as const) for (let k = 0; k < 2; k++) boxBlurMask(f, img.width, img.height, r);
  return fine.map((v, i) => Math.log(v + 4) - Math.log(coarse[i]! + 4));
}

/**
 * How closely a result's skin folds follow the reaction photo's, over the cheeks, nasolabial folds and chin (the
 * face below the eyes, lips and a margin left out): Pearson correlation, the result first brought into the
 * reaction's geometry through the two meshes.
 */
function foldAgreement(result: RgbImage, resultMesh: Float32Array, reaction: RgbImage, reactionMesh: Float32Array): number {
  const dst = xy(reactionMesh);
  const moved: RgbImage = { width: reaction.width, height: reaction.height, data: new Uint8Array(reaction.data.length) };
  const cover = new Float32Array(reaction.width * reaction.height);
  warpTriangles(result, xy(resultMesh), dst, triangulate(dst), moved, cover);
  const size = faceSize(reactionMesh);
  const [a, b] = [folds(moved, size), folds(reaction, size)];
  const oval = poly(reactionMesh, L.FACE_OVAL);
  const lips = poly(reactionMesh, [...L.LIPS_OUTER_UPPER, ...[...L.LIPS_OUTER_LOWER].reverse()]);
  const eyeLine = Math.max(...[...L.RIGHT_EYE_LOWER, ...L.LEFT_EYE_LOWER].map((k) => reactionMesh[3 * k + 1]!)) + size * 0.03;
  const margin = size * 0.03;
  const nearLips = (x: number, y: number) => insidePolygon(lips, x, y) || [[margin, 0], [-margin, 0], [0, margin], [0, -margin]].some(([dx, dy]) => insidePolygon(lips, x + dx!, y + dy!));
  let n = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (let y = Math.ceil(eyeLine); y < reaction.height; y++) {
    for (let x = 0; x < reaction.width; x++) {
      const i = y * reaction.width + x;
      if (!(cover[i]! > 0) || !insidePolygon(oval, x, y) || nearLips(x, y)) continue;
      n++, (sa += a[i]!), (sb += b[i]!), (saa += a[i]! * a[i]!), (sbb += b[i]! * b[i]!), (sab += a[i]! * b[i]!);
    }
  }
  const cov = sab / n - (sa / n) * (sb / n);
  return cov / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
}

/** Mean |a − b| over the whole picture, all channels. */
function meanChange(a: RgbImage, b: RgbImage): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i]! - b.data[i]!);
  return s / a.data.length;
}

/** Where mesh point k is, and a mole's radius there. */
function moleAt(lm: Float32Array, k: number): [number, number, number] {
  return [lm[3 * k]!, lm[3 * k + 1]!, faceSize(lm) * 0.025];
}

/** The pictures with a mole on the skin at mesh point k: a disk in the first, carried into the others by their meshes (it moves with the skin). */
function withMole(imgs: RgbImage[], meshes: Float32Array[], k: number): RgbImage[] {
  const [cx, cy, r] = moleAt(meshes[0]!, k);
  const first = imgs[0]!;
  const disk: RgbImage = { width: first.width, height: first.height, data: new Uint8Array(first.data.length) };
  for (let y = Math.floor(cy - r); y <= cy + r; y++) for (let x = Math.floor(cx - r); x <= cx + r; x++) {
    if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) disk.data.fill(255, (y * first.width + x) * 3, (y * first.width + x) * 3 + 3);
  }
  return imgs.map((img, k) => {
    let mask = disk;
    if (k > 0) {
      const to = xy(meshes[k]!);
      mask = { width: img.width, height: img.height, data: new Uint8Array(img.data.length) };
      warpTriangles(disk, xy(meshes[0]!), to, triangulate(to), mask);
    }
    return { ...img, data: img.data.map((v, i) => Math.round(v * (1 - 0.6 * (mask.data[i]! / 255)))) };
  });
}

/** Mean |a − b| (0…255, all channels) over a disk. */
function diskChange(a: RgbImage, b: RgbImage, cx: number, cy: number, r: number): number {
  let s = 0, n = 0;
  for (let y = Math.floor(cy - r); y <= cy + r; y++) for (let x = Math.floor(cx - r); x <= cx + r; x++) {
    if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) continue;
    for (let c = 0; c < 3; c++) s += Math.abs(a.data[(y * a.width + x) * 3 + c]! - b.data[(y * a.width + x) * 3 + c]!), n++;
  }
  return s / n;
}

describe("expression creases", () => {
  // 0.7×: faces under 250 px; 1.6×: over, where the shading and the fields are worked out at half size.
  it.each([0.7, 1.6])("an animated laugh brings its person's laugh lines onto the user's face (pictures at %s×)", async (k) => {
    const scaled = async (name: typeof REST | typeof LAUGH) => {
      const photo = fx.images.get(name)!;
      const img = resizeImage(photo, Math.round(photo.width * k), Math.round(photo.height * k));
      return { img, face: (await fx.analyzer.analyze(img)).faces[0]! };
    };
    const [{ img: rest, face: restFace }, { img: laugh, face: laughFace }] = [await scaled(REST), await scaled(LAUGH)];
    expect(faceSize(restFace.landmarks) >= 250).toBe(k > 1);
    for (const mode of ["mimic", "swap"] as const) {
      // franck's own rest photo as the template: a perfect result is the laugh photo itself. The still, given the
      // same rest face but not its picture, draws the same geometry without the lines.
      const anim = animateReaction({ template: rest, templateFace: restFace, frames: [rest, laugh], delaysMs: [100, 100], faces: [restFace, laughFace], mode });
      const still = transferExpression({ template: rest, templateFace: restFace, reaction: laugh, reactionFace: laughFace, reactionRest: restFace.landmarks, mode });
      const [without, withLines] = [foldAgreement(still.image, still.expression, laugh, laughFace.landmarks), foldAgreement(anim.frames[1]!, anim.expressions[1]!, laugh, laughFace.landmarks)];
      expect(withLines, mode).toBeGreaterThan(without + 0.07);
    }
  });

  it("a frame where the person rests again gets none: the same face, shifted and re-encoded", async () => {
    const rest = fx.images.get(REST)!, restFace = fx.faces.get(REST)!;
    const raw = await sharp(Buffer.from(rest.data), { raw: { width: rest.width, height: rest.height, channels: 3 } })
      .extend({ left: 3, top: 2, extendWith: "copy" }).extract({ left: 0, top: 0, width: rest.width, height: rest.height }).jpeg({ quality: 70 }).toBuffer();
    const { data, info } = await sharp(raw).raw().toBuffer({ resolveWithObject: true });
    const again: RgbImage = { width: info.width, height: info.height, data: new Uint8Array(data) };
    const againFace = (await fx.analyzer.analyze(again)).faces[0]!;
    const template = "grace_hopper_512x512.jpg";
    for (const mode of ["mimic", "swap"] as const) {
      const t = { template: fx.images.get(template)!, templateFace: fx.faces.get(template)!, mode };
      const anim = animateReaction({ ...t, frames: [rest, again], delaysMs: [100, 100], faces: [restFace, againFace] });
      const still = transferExpression({ ...t, reaction: again, reactionFace: againFace, reactionRest: restFace.landmarks });
      expect(meanChange(still.image, anim.frames[1]!), mode).toBeLessThan(0.05);
    }
  });

  it("ignores a rest picture its mesh does not lie on (a caller's mix-up), rather than drawing from outside it", () => {
    const t = { template: fx.images.get("grace_hopper_512x512.jpg")!, templateFace: fx.faces.get("grace_hopper_512x512.jpg")! };
    const laugh = { reaction: fx.images.get(LAUGH)!, reactionFace: fx.faces.get(LAUGH)!, reactionRest: fx.faces.get(REST)!.landmarks };
    const tiny: RgbImage = { width: 8, height: 8, data: new Uint8Array(8 * 8 * 3).fill(90) };
    for (const mode of ["mimic", "swap"] as const) {
      const plain = transferExpression({ ...t, ...laugh, mode });
      const mixedUp = transferExpression({ ...t, ...laugh, reactionRestImage: tiny, mode });
      expect(meanChange(plain.image, mixedUp.image), mode).toBe(0);
    }
  });

  it("works an animation's rest picture out once, and a kept one never stands in for another picture", () => {
    const t = { template: fx.images.get("grace_hopper_512x512.jpg")!, templateFace: fx.faces.get("grace_hopper_512x512.jpg")! };
    const rest = fx.images.get(REST)!, restMesh = fx.faces.get(REST)!.landmarks;
    // Another rest picture on the same mesh: franck with a mole on his cheek.
    const [marked] = withMole([rest], [restMesh], 205);
    const laugh = { reaction: fx.images.get(LAUGH)!, reactionFace: fx.faces.get(LAUGH)!, reactionRest: restMesh };
    const copy = (img: RgbImage) => ({ ...img, data: img.data.slice() });
    for (const mode of ["mimic", "swap"] as const) {
      const run = (picture: RgbImage) => transferExpression({ ...t, ...laugh, reactionRestImage: picture, mode }).image;
      // Copies are other objects: worked out afresh, the references.
      const [plainRef, markedRef] = [run(copy(rest)), run(copy(marked!))];
      expect(meanChange(plainRef, markedRef), mode).toBeGreaterThan(0);
      for (let round = 0; round < 2; round++) {
        expect(meanChange(run(rest), plainRef), `${mode} rest, round ${round}`).toBe(0);
        expect(meanChange(run(marked!), markedRef), `${mode} marked, round ${round}`).toBe(0);
      }
    }
  });

  it("takes only what the expression changed: a mole on the reaction's cheek stays the reaction's", () => {
    const [rest, laugh] = [fx.images.get(REST)!, fx.images.get(LAUGH)!];
    const [restFace, laughFace] = [fx.faces.get(REST)!, fx.faces.get(LAUGH)!];
    const template = fx.images.get("grace_hopper_512x512.jpg")!, templateFace = fx.faces.get("grace_hopper_512x512.jpg")!;
    for (const mode of ["mimic", "swap"] as const) {
      const run = (frames: RgbImage[]) => animateReaction({ template, templateFace, frames, delaysMs: [100, 100], faces: [restFace, laughFace], mode });
      const plain = run([rest, laugh]);
      // Two spots: one in the middle of the cheek, one by the laugh's nasolabial fold.
      for (const at of [205, 206]) {
        const marked = run(withMole([rest, laugh], [restFace.landmarks, laughFace.landmarks], at));
        const mole = diskChange(rest, withMole([rest], [restFace.landmarks], at)[0]!, ...moleAt(restFace.landmarks, at));
        // Laid on as a line, it would darken the user's cheek by about as much as it darkens franck's.
        expect(diskChange(plain.frames[1]!, marked.frames[1]!, ...moleAt(marked.expressions[1]!, at)), `${mode} ${at}`).toBeLessThan(0.2 * mole);
      }
    }
  });
});
