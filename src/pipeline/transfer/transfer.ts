import { MimicError } from "../../errors.ts";
import type { AnalyzedFace, Box, RgbImage, StageTimings } from "../types.ts";
import { enlargeCatmullRom, faceMeshPoints, movedTriangles, triangulate, warpTriangles } from "../warp/index.ts";
import { MESH_POINTS } from "../warp/landmarks.ts";
import { scaledFace } from "../face/describe.ts";
import { copyImage, cropImage, resizeImage, shrinkByBox } from "../image/index.ts";
import { blendPatch, diffBox, featherInside, pointsBox } from "./blend.ts";
import { retargetExpression, type Regions, type RegionsSeen } from "./expression.ts";
import { drawnEyelids, paintEyes } from "./eyes.ts";
import { keepUnfolded } from "./fold.ts";
import { faceSize, insidePolygon, WORK_FACE_PX, workScale } from "./geometry.ts";
import { CLOSED_MOUTH, MOUTH_OPEN_MARGIN, measureExpression } from "./measure.ts";
import { paintClosedLips, paintMouthInterior, sampleLipsPastTheSeam, sampleLipsWhereMouthCloses, skinMatch } from "./mouth.ts";
import { swapFace } from "./swap.ts";
import { checkFace, regionsSeen } from "./validate.ts";
import { addExpressionCreases } from "./creases.ts";
import { addLipColourChange } from "./lip-colour.ts";

export type TransferMode = "mimic" | "swap";

export interface TransferInput {
  /** The user's saved face photo. */
  template: RgbImage;
  templateFace: AnalyzedFace;
  /** The reaction image and the face in it whose expression is copied. */
  reaction: RgbImage;
  reactionFace: AnalyzedFace;
  /** mimic: the template photo wears the reaction's expression. swap: the user's face goes into the reaction
   * image (its pose and expression, the user's identity). Default mimic. */
  mode?: TransferMode;
  /** 0 (template unchanged) … 1 (full expression). Default 1. */
  intensity?: number;
  /** Which part of the expression to copy: brows and eyes (upper), mouth and jaw (lower) or all. Default all. */
  regions?: Regions;
  /** The reaction person's own rest face, where one is known (an animation's rest frame; see retargetExpression). */
  reactionRest?: Float32Array;
  /** The picture `reactionRest` was read from: with it, the expression's creases and its lips' change of colour arrive too (creases.ts, lip-colour.ts). */
  reactionRestImage?: RgbImage;
}

export interface TransferResult {
  /** Template-sized (mimic) or reaction-sized (swap). */
  image: RgbImage;
  /**
   * The result's face mesh (468×3) in output pixels: the geometry its pixels were warped to. Eyelids there
   * move LID_GAIN× as far as in `expression` (the face mesh reads only about half of a lid's motion).
   */
  landmarks: Float32Array;
  /** The transferred expression as face analysis should read it back from the result (468×3, output pixels). */
  expression: Float32Array;
  timingsMs: StageTimings;
  /** Smallest box holding every changed pixel (relative to the template in mimic, the reaction in swap); null if none. */
  changedBox: Box | null;
  /** Whether the mouth interior was synthesised from the reaction. */
  mouthSynthesised: boolean;
  /** What the transfer left out and why, in words for the user (e.g. features the reaction's picture cuts off). */
  notes?: string[];
  /**
   * False when the reaction's picture showed none of the features asked for (each cut off by its edge): nothing
   * of its expression arrived, so mimic's result is the user's photo unchanged (see nothingCopiedError).
   */
  copied: boolean;
}

/** What each mode's drawing returns; transferExpression adds what the reaction's picture let it copy. */
export type Transferred = Omit<TransferResult, "copied" | "notes">;

/** Ring anchors around the face: the warp stops there, so hair, ears, neck and background are never touched. */
export const RING_SCALE = 1.45;
/**
 * Template faces smaller than this (faceSize, px) are transferred at a working resolution: the face region is
 * enlarged by a whole factor until the face is at least WORK_FACE_PX across, the expression is warped
 * (Catmull-Rom sampling) and drawn there, and the result is shrunk back (box average) and pasted over the
 * changed pixels only. The mouth interior and lip edges are then drawn with several pixels to their features
 * instead of one: drawn directly at 80 px they came out jagged (twice the full-size result's edge energy).
 */
const SMALL_FACE_PX = 180;
/** Back-projection rounds for the enlargement (see consistentEnlargement); a third changed under 1 %. */
const BACK_PROJECTIONS = 2;
/** A mesh point moving less than this (pixels, |dx| + |dy|) is left where it is. */
const STILL_PX = 0.02;

/**
 * A swap's picture is the reaction's: `image` and its face shrunk to `maxSide` on the longer side before the
 * transfer, or less far where the face would fall under WORK_FACE_PX (never enlarged). A phone photo is far
 * larger than a chat shows or an animation is drawn, and the swap's time grows with the face.
 */
export function swapWorkingCopy(image: RgbImage, face: AnalyzedFace, maxSide: number): [RgbImage, AnalyzedFace] {
  const k = Math.max(maxSide / Math.max(image.width, image.height), Math.min(1, WORK_FACE_PX / face.quality.faceSizePx));
  if (k >= 1) return [image, face];
  const width = Math.round(image.width * k);
  return [resizeImage(image, width, Math.round(image.height * k)), scaledFace(face, width / image.width)];
}

/**
 * Expression transfer: a pure function of plain data (runs in a worker thread), all pixel work on typed
 * arrays. Throws MimicError (FACE_UNUSABLE) when either face cannot give a believable result.
 */
export function transferExpression(input: TransferInput): TransferResult {
  const t0 = performance.now();
  checkFace(input.templateFace, "template");
  checkFace(input.reactionFace, "reaction");
  const mode = input.mode ?? "mimic";
  const intensity = Math.min(1, Math.max(0, input.intensity ?? 1));
  const asked = input.regions ?? "all";
  // What the reaction's picture does not show (or shows too near its edge to be read) is left as the user's own.
  const seen = regionsSeen(input.reactionFace, input.reaction.width, input.reaction.height);
  const upper = asked !== "lower" && seen.upper > 0, lower = asked !== "upper" && seen.lower > 0;
  const regions: Regions = upper && lower ? "all" : upper ? "upper" : "lower";
  const shown = upper || lower ? intensity : 0;
  const res = mode === "swap" ? swapFace(input, shown, regions, t0, seen) : mimic(input, shown, regions, t0, seen);
  const notes = [
    ...(asked !== "lower" && seen.upper < 1 ? [cutOffNote("eyes and brows", seen.upper)] : []),
    ...(asked !== "lower" && seen.upper >= 1 && seen.brows < 1 ? [cutOffNote("brows", seen.brows)] : []),
    ...(asked !== "upper" && seen.lower < 1 ? [cutOffNote("mouth", seen.lower)] : []),
  ];
  const copied = upper || lower;
  return notes.length ? { ...res, notes, copied } : { ...res, copied };
}

/**
 * What a mimic whose reaction showed nothing to copy (TransferResult.copied false, in every frame) answers
 * instead of handing back the user's own photo as if it were a meme (its use is then given back).
 */
export function nothingCopiedError(regions: Regions = "all"): MimicError {
  const what = regions === "upper" ? "eyes and brows are" : regions === "lower" ? "mouth is" : "face is";
  const asked = regions === "all" ? "" : ", the part you asked for";
  return new MimicError(
    "FACE_UNUSABLE",
    `The reaction's ${what} cut off by the picture's edge (or too close to it to read)${asked}, so there is no expression to copy onto yours. Please send a picture that shows the whole face.`,
  );
}

function cutOffNote(what: "eyes and brows" | "brows" | "mouth", seen: number): string {
  const [is, them, yours] = what === "mouth" ? ["is", "it", "yours as it is"] : ["are", "them", "yours as they are"];
  return seen > 0
    ? `The reaction's ${what} ${is} close to the picture's edge, so I copied ${them} only in part. Use a picture that shows the whole face to copy ${them} fully.`
    : `The reaction's ${what} ${is} cut off or too close to the picture's edge to read, so I left ${yours}. Use a picture that shows the whole face to copy ${them} too.`;
}

function mimic(input: TransferInput, intensity: number, regions: Regions, t0: number, seen?: RegionsSeen): Transferred {
  const size = faceSize(input.templateFace.landmarks);
  const k = workScale(size);
  return intensity > 0 && size < SMALL_FACE_PX && k >= 2 ? mimicAtWorkingSize(input, intensity, regions, t0, k, seen) : mimicDirect(input, intensity, regions, t0, false, seen);
}

/**
 * mimic on a small face at k× its size (see SMALL_FACE_PX): the face region (the warp's anchor ring and a
 * margin for the enlarging kernel) is enlarged, transferred, shrunk back, and pasted with an alpha that is
 * 1 over the changed pixels and ramps down strictly inside them, so no pixel the working result left alone
 * changes. The shrunk result is offset by the mean difference between the region and its own enlarge-shrink
 * round trip (the resampling's tone change), so the paste shows no step in skin tone at its edge.
 */
function mimicAtWorkingSize(input: TransferInput, intensity: number, regions: Regions, t0: number, k: number, seen?: RegionsSeen): Transferred {
  const { template, templateFace } = input;
  let t = performance.now();
  const ring = faceMeshPoints(templateFace.landmarks, { width: template.width, height: template.height, ringScale: RING_SCALE });
  const box = pointsBox(ring, template.width, template.height, 4);
  const crop = cropImage(template, box);
  const big = consistentEnlargement(crop, k);
  const toWork = (v: number, o: number) => (v - o + 0.5) * k - 0.5;
  const fromWork = (v: number, o: number) => (v + 0.5) / k - 0.5 + o;
  const mapMesh = (lm: Float32Array, f: (v: number, o: number) => number, zk: number) => {
    const m = lm.slice();
    for (let i = 0; i < m.length; i += 3) {
      m[i] = f(lm[i]!, box.x);
      m[i + 1] = f(lm[i + 1]!, box.y);
      m[i + 2] = lm[i + 2]! * zk;
    }
    return m;
  };
  const irises = templateFace.irises?.slice();
  if (irises) for (let i = 0; i < irises.length; i += 3) {
    irises[i] = toWork(irises[i]!, box.x);
    irises[i + 1] = toWork(irises[i + 1]!, box.y);
    irises[i + 2] = irises[i + 2]! * k;
  }
  const face: AnalyzedFace = { ...templateFace, landmarks: mapMesh(templateFace.landmarks, toWork, k), ...(irises ? { irises } : {}) };
  const enlarge = performance.now() - t;
  const res = mimicDirect({ ...input, template: big, templateFace: face }, intensity, regions, performance.now(), true, seen);

  t = performance.now();
  const out = copyImage(template);
  if (res.changedBox) {
    const cw = crop.width, ch = crop.height;
    const alpha = new Float32Array(cw * ch);
    const b = res.changedBox;
    for (let y = b.y; y < b.y + b.height; y++) {
      for (let x = b.x; x < b.x + b.width; x++) {
        const o = (y * big.width + x) * 3;
        if (big.data[o] !== res.image.data[o] || big.data[o + 1] !== res.image.data[o + 1] || big.data[o + 2] !== res.image.data[o + 2]) {
          alpha[Math.floor(y / k) * cw + Math.floor(x / k)] = 1;
        }
      }
    }
    // Nothing beyond the warp's anchor ring: a shrunk pixel straddling it can hold a changed sub-pixel.
    const anchors = ring.subarray(MESH_POINTS * 2);
    for (let i = 0; i < alpha.length; i++) if (alpha[i] && !insidePolygon(anchors, (i % cw) + box.x, Math.floor(i / cw) + box.y)) alpha[i] = 0;
    featherInside(alpha, cw, ch, Math.max(1, faceSize(templateFace.landmarks) * 0.015));
    const small = shrinkByBox(res.image, k);
    const base = shrinkByBox(big, k);
    const offset = [0, 0, 0];
    let wsum = 0;
    for (let i = 0; i < alpha.length; i++) {
      const a = alpha[i]!;
      if (a <= 0) continue;
      wsum += a;
      const p = ((Math.floor(i / cw) + box.y) * template.width + (i % cw) + box.x) * 3;
      for (let c = 0; c < 3; c++) offset[c]! += a * (template.data[p + c]! - base.data[3 * i + c]!);
    }
    if (wsum > 0) {
      const off = offset.map((v) => v / wsum);
      for (let i = 0; i < small.data.length; i++) {
        const v = small.data[i]! + off[i % 3]!;
        small.data[i] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
      }
      blendPatch(out, small, alpha, box.x, box.y);
    }
  }
  const timingsMs: StageTimings = { ...res.timingsMs, enlarge, paste: performance.now() - t };
  timingsMs.total = performance.now() - t0;
  return {
    image: out,
    landmarks: mapMesh(res.landmarks, fromWork, 1 / k),
    expression: mapMesh(res.expression, fromWork, 1 / k),
    timingsMs,
    changedBox: diffBox(template, out, box),
    mouthSynthesised: res.mouthSynthesised,
  };
}

/**
 * An enlargement whose box-average shrink gives the crop back (iterative back-projection, Irani & Peleg
 * 1991): Catmull-Rom enlarging then averaging blurs, so the shrink's shortfall is enlarged and added back,
 * twice. Without it every warped pixel of a small face came back softer than the template's own.
 */
function consistentEnlargement(crop: RgbImage, k: number): RgbImage {
  const want = crop.data;
  let src = crop;
  let big = enlargeCatmullRom(src, k);
  for (let it = 0; it < BACK_PROJECTIONS; it++) {
    const back = shrinkByBox(big, k).data;
    const next = new Uint8Array(want.length);
    for (let i = 0; i < want.length; i++) {
      const v = src.data[i]! + want[i]! - back[i]!;
      next[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    src = { width: crop.width, height: crop.height, data: next };
    big = enlargeCatmullRom(src, k);
  }
  return big;
}

function mimicDirect(input: TransferInput, intensity: number, regions: Regions, t0: number, cubic = false, seen?: RegionsSeen): Transferred {
  const { template, templateFace, reaction, reactionFace } = input;
  const timingsMs: StageTimings = {};
  const out = copyImage(template);
  timingsMs.prepare = performance.now() - t0;
  if (intensity === 0) {
    timingsMs.total = performance.now() - t0;
    return { image: out, landmarks: templateFace.landmarks.slice(), expression: templateFace.landmarks.slice(), timingsMs, changedBox: null, mouthSynthesised: false };
  }
  let t = performance.now();
  const expression = retargetExpression(templateFace.landmarks, reactionFace.landmarks, { intensity, regions, reactionRest: input.reactionRest, seen });
  // Drawn geometry: lids move LID_GAIN× what the mesh reads, the skin under them with them (see eyes.ts).
  const target = drawnEyelids(templateFace.landmarks, expression, Boolean(templateFace.irises));
  timingsMs.retarget = performance.now() - t;

  t = performance.now();
  const src = faceMeshPoints(templateFace.landmarks, { width: template.width, height: template.height, ringScale: RING_SCALE });
  keepUnfolded(src, target, faceSize(templateFace.landmarks));
  const dst = src.slice();
  for (let i = 0; i < MESH_POINTS; i++) {
    // The smooth spread leaves far points moving by a hundredth of a pixel: resampling them would only blur.
    if (Math.abs(target[3 * i]! - src[2 * i]!) + Math.abs(target[3 * i + 1]! - src[2 * i + 1]!) < STILL_PX) continue;
    dst[2 * i] = target[3 * i]!;
    dst[2 * i + 1] = target[3 * i + 1]!;
  }
  if (regions !== "upper") {
    sampleLipsWhereMouthCloses(src, template, templateFace.landmarks, target);
    sampleLipsPastTheSeam(src, template, templateFace.landmarks, target);
  }
  // Triangulate the destination: its triangles never overlap, so the output is watertight; triangles whose
  // corners all stay put are identity maps and are skipped (their pixels are already the template's).
  const all = triangulate(dst);
  const moved = movedTriangles(all, src, dst);
  timingsMs.mesh = performance.now() - t;

  t = performance.now();
  warpTriangles(template, src, dst, moved, out, undefined, cubic);
  timingsMs.warp = performance.now() - t;

  if (regions !== "lower") {
    t = performance.now();
    paintEyes(out, target, template, templateFace.landmarks, templateFace.irises);
    timingsMs.eyes = performance.now() - t;
  }

  t = performance.now();
  addExpressionCreases(out, target, templateFace.landmarks, expression, input, intensity);
  timingsMs.creases = performance.now() - t;

  t = performance.now();
  if (regions !== "upper") addLipColourChange(out, target, input, intensity);
  timingsMs.lipColour = performance.now() - t;

  t = performance.now();
  let mouthSynthesised = false;
  if (regions !== "upper") {
    const before = measureExpression(templateFace.landmarks).mouthOpen;
    const after = measureExpression(target).mouthOpen;
    // Opening wider than the template shows: the inside (teeth, tongue, darkness) comes from the reaction.
    // Closing an open mouth: the squeezed gap would still show the template's teeth. A mouth that ends up
    // shut gets a lip line drawn from the template's own lips (no other face's texture, no squeezed teeth);
    // one still open gets the reaction's interior.
    const opening = after > before + MOUTH_OPEN_MARGIN;
    const closing = before > CLOSED_MOUTH && after < before - MOUTH_OPEN_MARGIN;
    if (opening || closing) {
      const shut = closing && after < CLOSED_MOUTH;
      const size = faceSize(templateFace.landmarks);
      if (!shut || !paintClosedLips(out, target, reaction, reactionFace.landmarks, size)) {
        // Skin-tone match in full only where nothing but lips shows; open, the reaction's teeth stay white
        // (brightness match). A closing mouth's ring grows across the lip line so its feathered edge cannot
        // leave a band of the squeezed template lips/teeth inside the new gap (a laugh narrowed to a smile
        // re-measured 0.064 for a wanted 0.080 with that band, 0.090 without).
        const colour = skinMatch(template, templateFace.landmarks, reaction, reactionFace.landmarks, size, shut ? 1 : undefined);
        paintMouthInterior(out, target, reaction, reactionFace.landmarks, colour, size, closing ? "closing" : "opening");
      }
      mouthSynthesised = true;
    }
  }
  timingsMs.mouth = performance.now() - t;

  t = performance.now();
  // Only the warped triangles and the mouth can differ: search their bounding box, not the whole photo.
  const changedBox = diffBox(template, out, pointsBox(dst, out.width, out.height, 2));
  timingsMs.diff = performance.now() - t;
  timingsMs.total = performance.now() - t0;
  return { image: out, landmarks: target, expression, timingsMs, changedBox, mouthSynthesised };
}
