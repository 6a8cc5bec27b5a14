import type { AnalyzedFace, Box, RgbImage, StageTimings } from "../types.ts";
import { enlargeCatmullRom, faceMeshPoints, guardedTriangles, triangulate, unfoldMesh, warpTriangles } from "../warp/index.ts";
import {
  FACE_OVAL,
  INNER_LIP_RING,
  LEFT_EYE_LOWER,
  LEFT_EYE_UPPER,
  LIPS_INNER_LOWER,
  LIPS_INNER_UPPER,
  LIPS_OUTER_LOWER,
  LIPS_OUTER_UPPER,
  MESH_POINTS,
  RIGHT_EYE_LOWER,
  RIGHT_EYE_UPPER,
  STABLE,
} from "../warp/landmarks.ts";
import { cropImage, shrinkByBox } from "../image/index.ts";
import { blendPatch, boxBlurMask, diffBox, erodeMask, featherInside, mapColours, maskedStats, meanSpread, membraneCorrection, pointsBox, scaleSaturation } from "./blend.ts";
import { retargetExpression, type Regions } from "./expression.ts";
import { alignSimilarity, applySimilarity, insidePolygon } from "./geometry.ts";
import { drawnEyelids, paintEyes } from "./eyes.ts";
import { measureExpression } from "./measure.ts";
import { AS_IS, paintClosedLips, paintMouthInterior, skinMatch } from "./mouth.ts";
import { checkFace } from "./validate.ts";

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
}

/** Ring anchors around the face: the warp stops there, so hair, ears, neck and background are never touched. */
export const RING_SCALE = 1.45;
/** How far (0 inner lip … 1 outer lip line) a fully closing inner-lip point samples into the lip. */
const LIP_SAMPLE_SHIFT = 0.85;
/**
 * Template faces smaller than this (faceSize, px) are transferred at a working resolution: the face region is
 * enlarged by a whole factor until the face is at least WORK_FACE_PX across, the expression is warped
 * (Catmull-Rom sampling) and drawn there, and the result is shrunk back (box average) and pasted over the
 * changed pixels only. The mouth interior and lip edges are then drawn with several pixels to their features
 * instead of one: drawn directly at 80 px they came out jagged (twice the full-size result's edge energy).
 */
const SMALL_FACE_PX = 180;
const WORK_FACE_PX = 256;
/** The largest enlargement (faces from 64 px, the smallest accepted, reach WORK_FACE_PX at 4×). */
const MAX_WORK_SCALE = 4;
/** Back-projection rounds for the enlargement (see consistentEnlargement); a third changed under 1 %. */
const BACK_PROJECTIONS = 2;
/** A mesh point moving less than this (pixels, |dx| + |dy|) is left where it is. */
const STILL_PX = 0.02;
/** Below this inner-lip gap (inter-ocular units) a mouth counts as closed. */
const CLOSED_MOUTH = 0.04;
/** The mouth counts as "more open than the template shows" above this extra gap (inter-ocular units). */
const MOUTH_OPEN_MARGIN = 0.015;

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
  const regions = input.regions ?? "all";
  return mode === "swap" ? swap(input, intensity, regions, t0) : mimic(input, intensity, regions, t0);
}

function copyImage(img: RgbImage): RgbImage {
  return { width: img.width, height: img.height, data: img.data.slice() };
}

function faceSize(lm: Float32Array): number {
  return Math.hypot(lm[3 * 263]! - lm[3 * 33]!, lm[3 * 263 + 1]! - lm[3 * 33 + 1]!) * 2.2;
}

function mimic(input: TransferInput, intensity: number, regions: Regions, t0: number): TransferResult {
  const size = faceSize(input.templateFace.landmarks);
  const k = Math.min(MAX_WORK_SCALE, Math.ceil(WORK_FACE_PX / size));
  return intensity > 0 && size < SMALL_FACE_PX && k >= 2 ? mimicAtWorkingSize(input, intensity, regions, t0, k) : mimicDirect(input, intensity, regions, t0);
}

/**
 * mimic on a small face at k× its size (see SMALL_FACE_PX): the face region (the warp's anchor ring and a
 * margin for the enlarging kernel) is enlarged, transferred, shrunk back, and pasted with an alpha that is
 * 1 over the changed pixels and ramps down strictly inside them, so no pixel the working result left alone
 * changes. The shrunk result is offset by the mean difference between the region and its own enlarge-shrink
 * round trip (the resampling's tone change), so the paste shows no step in skin tone at its edge.
 */
function mimicAtWorkingSize(input: TransferInput, intensity: number, regions: Regions, t0: number, k: number): TransferResult {
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
  const res = mimicDirect({ ...input, template: big, templateFace: face }, intensity, regions, performance.now(), true);

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

function mimicDirect(input: TransferInput, intensity: number, regions: Regions, t0: number, cubic = false): TransferResult {
  const { template, templateFace, reaction, reactionFace } = input;
  const timingsMs: StageTimings = {};
  const out = copyImage(template);
  timingsMs.prepare = performance.now() - t0;
  if (intensity === 0) {
    timingsMs.total = performance.now() - t0;
    return { image: out, landmarks: templateFace.landmarks.slice(), expression: templateFace.landmarks.slice(), timingsMs, changedBox: null, mouthSynthesised: false };
  }
  let t = performance.now();
  const expression = retargetExpression(templateFace.landmarks, reactionFace.landmarks, { intensity, regions, reactionRest: input.reactionRest });
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
  if (regions !== "upper") sampleLipsWhereMouthCloses(src, templateFace.landmarks, target);
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

/**
 * When the new mouth is less open than the template's, the inner-lip line would sample the template's teeth
 * and dark gap. Moving the *source* inner-lip points onto the lip (towards the outer lip line) in proportion
 * to how much each column closes makes the closed lips show lip texture, with the teeth squeezed out.
 * Mutates `src` (x,y pairs; landmark part only).
 */
function sampleLipsWhereMouthCloses(src: Float32Array, template: Float32Array, target: Float32Array): void {
  const dist = (lm: Float32Array, a: number, b: number) => Math.hypot(lm[3 * a]! - lm[3 * b]!, lm[3 * a + 1]! - lm[3 * b + 1]!);
  const shift = (inner: number, outer: number, k: number) => {
    src[2 * inner] = template[3 * inner]! + (template[3 * outer]! - template[3 * inner]!) * k;
    src[2 * inner + 1] = template[3 * inner + 1]! + (template[3 * outer + 1]! - template[3 * inner + 1]!) * k;
  };
  const last = LIPS_INNER_UPPER.length - 1;
  // A column whose lips already (nearly) touch hides nothing to squeeze out: shifting its source points into
  // the lips would only fold the lip texture over itself (a closed mouth made "more closed" showed shards of
  // lip there). The shift fades in between half and all of CLOSED_MOUTH (inter-ocular units).
  const iod = dist(template, 33, 263);
  const shut = 0.5 * CLOSED_MOUTH * iod, open = CLOSED_MOUTH * iod;
  let sum = 0;
  for (let j = 1; j < last; j++) {
    const up = LIPS_INNER_UPPER[j]!, lo = LIPS_INNER_LOWER[j]!;
    const before = dist(template, up, lo);
    const hides = Math.min(1, Math.max(0, (before - shut) / Math.max(1e-6, open - shut)));
    const closing = before < 1 ? 0 : hides * Math.min(1, Math.max(0, 1 - dist(target, up, lo) / before));
    sum += closing;
    if (closing === 0) continue;
    shift(up, LIPS_OUTER_UPPER[j]!, LIP_SAMPLE_SHIFT * closing);
    shift(lo, LIPS_OUTER_LOWER[j]!, LIP_SAMPLE_SHIFT * closing);
  }
  // The inner corners sit in the dark fold of an open mouth: sample them from the outer corners' skin.
  const k = (LIP_SAMPLE_SHIFT * sum) / (last - 1);
  if (k > 0) {
    shift(LIPS_INNER_UPPER[0]!, LIPS_OUTER_UPPER[0]!, k);
    shift(LIPS_INNER_UPPER[last]!, LIPS_OUTER_UPPER[last]!, k);
  }
}

/** Below this area ((share of the face size)², px²) a template triangle is a sliver the fold guard ignores. */
const FOLD_MIN_SIDE = 0.003;
const INNER_RING = new Set<number>(INNER_LIP_RING);
/** Openings whose two sides (interior points) may meet or part freely: inner lips, each eye's lids. */
const OPENINGS = [
  [LIPS_INNER_UPPER, LIPS_INNER_LOWER],
  [RIGHT_EYE_UPPER, RIGHT_EYE_LOWER],
  [LEFT_EYE_UPPER, LEFT_EYE_LOWER],
].map(([up, lo]) => [new Set<number>(up!.slice(1, -1)), new Set<number>(lo!.slice(1, -1))] as const);

/**
 * Changes the motion of `target` (468×3, mutated) wherever it would turn a triangle of the template's mesh
 * (`base`: warp points, landmarks then any fixed ring) over (see unfoldMesh): an extreme mouth (a tall "O" whose
 * upper lip rises past the philtrum) otherwise folds the skin over itself and the warp mirrors and smears it.
 * Triangles spanning an opening (lips, lids) may close or open at will.
 */
function keepUnfolded(base: Float32Array, target: Float32Array, size: number): void {
  const spans = (a: number, b: number, c: number) =>
    (INNER_RING.has(a) && INNER_RING.has(b) && INNER_RING.has(c)) ||
    OPENINGS.some(([up, lo]) => (up.has(a) || up.has(b) || up.has(c)) && (lo.has(a) || lo.has(b) || lo.has(c)));
  const tris = guardedTriangles(base, (FOLD_MIN_SIDE * size) ** 2, spans);
  const moved = base.slice();
  for (let i = 0; i < MESH_POINTS; i++) {
    moved[2 * i] = target[3 * i]!;
    moved[2 * i + 1] = target[3 * i + 1]!;
  }
  const safe = unfoldMesh(base, moved, tris, MESH_POINTS);
  if (safe === moved) return;
  for (let i = 0; i < MESH_POINTS; i++) {
    target[3 * i] = safe[2 * i]!;
    target[3 * i + 1] = safe[2 * i + 1]!;
  }
}

function movedTriangles(tris: Uint32Array, src: Float32Array, dst: Float32Array): Uint32Array {
  const keep = new Uint32Array(tris.length);
  let n = 0;
  for (let k = 0; k < tris.length; k += 3) {
    let movedAny = false;
    for (let j = 0; j < 3; j++) {
      const i = tris[k + j]!;
      if (src[2 * i] !== dst[2 * i] || src[2 * i + 1] !== dst[2 * i + 1]) movedAny = true;
    }
    if (!movedAny) continue;
    keep[n++] = tris[k]!;
    keep[n++] = tris[k + 1]!;
    keep[n++] = tris[k + 2]!;
  }
  return keep.subarray(0, n);
}

/**
 * Face swap: the template's face, given the reaction's expression, is placed in the reaction's pose
 * (similarity fit on stable points), the reaction's picture is bent around it to the user's face outline
 * (reshapeOutline), and the face is blended in three steps, all inside the face's bounding box:
 * Reinhard colour transfer (per-channel mean and contrast of the reaction's face), a seamless-cloning
 * membrane that makes the face meet the reaction exactly along an outline set slightly inside the face
 * (no seam, no bleeding of hair or background into the skin), and a soft alpha edge. The reaction's own
 * mouth interior is kept when its mouth is open.
 */
function swap(input: TransferInput, intensity: number, regions: Regions, t0: number): TransferResult {
  const { template, templateFace, reaction, reactionFace } = input;
  const timingsMs: StageTimings = {};
  const out = copyImage(reaction);
  let t = performance.now();
  const read = retargetExpression(templateFace.landmarks, reactionFace.landmarks, { intensity, regions, reactionRest: input.reactionRest });
  const wearing = drawnEyelids(templateFace.landmarks, read, Boolean(templateFace.irises));
  keepUnfolded(faceMeshPoints(templateFace.landmarks, { width: template.width, height: template.height, ringScale: 0 }), wearing, faceSize(templateFace.landmarks));
  const toReaction = alignSimilarity(read, reactionFace.landmarks, STABLE);
  const placed = applySimilarity(toReaction, wearing);
  timingsMs.retarget = performance.now() - t;

  t = performance.now();
  const W = reaction.width, H = reaction.height;
  const src = new Float32Array(MESH_POINTS * 2);
  const dst = new Float32Array(MESH_POINTS * 2);
  for (let i = 0; i < MESH_POINTS; i++) {
    src[2 * i] = templateFace.landmarks[3 * i]!;
    src[2 * i + 1] = templateFace.landmarks[3 * i + 1]!;
    dst[2 * i] = placed[3 * i]!;
    dst[2 * i + 1] = placed[3 * i + 1]!;
  }
  const box = pointsBox(dst, W, H, 2);
  for (let i = 0; i < MESH_POINTS; i++) {
    dst[2 * i]! -= box.x;
    dst[2 * i + 1]! -= box.y;
  }
  if (regions !== "upper") sampleLipsWhereMouthCloses(src, templateFace.landmarks, wearing);
  const tris = triangulate(dst);
  timingsMs.mesh = performance.now() - t;

  t = performance.now();
  const bw = box.width, bh = box.height;
  const canvas: RgbImage = { width: bw, height: bh, data: new Uint8Array(bw * bh * 3) };
  const cover = new Float32Array(bw * bh);
  warpTriangles(template, src, dst, tris, canvas, cover);
  if (regions !== "lower") {
    // Lids over a still eyeball here too (the canvas is box-relative).
    const inBox = placed.slice();
    for (let i = 0; i < MESH_POINTS; i++) {
      inBox[3 * i]! -= box.x;
      inBox[3 * i + 1]! -= box.y;
    }
    paintEyes(canvas, inBox, template, templateFace.landmarks, templateFace.irises);
  }
  timingsMs.warp = performance.now() - t;

  t = performance.now();
  const reshaped = reshapeOutline(out, reaction, reactionFace.landmarks, placed);
  timingsMs.reshape = performance.now() - t;

  t = performance.now();
  const size = faceSize(placed);
  const under = cropImage(out, box);
  // The blend outline: the face oval pulled in a little (most at the forehead, where the template's
  // hairline or fringe would otherwise come along), and never beyond what the warp covered.
  const hard = blendOutline(placed, box, cover, size);
  const a = maskedStats(canvas, hard);
  const b = maskedStats(under, hard);
  const gain = a.std.map((sd, c) => Math.min(2, Math.max(0.5, b.std[c]! / sd)));
  const offset = a.mean.map((m, c) => b.mean[c]! - m * gain[c]!);
  mapColours(canvas, gain, offset);
  // Per-channel means and contrasts leave a colour face colourful in a black-and-white reaction: its
  // colourfulness is brought down to the reaction's (never raised).
  const keep = Math.min(1, meanSpread(under, hard) / Math.max(1e-3, meanSpread(canvas, hard)));
  if (keep < 1) scaleSaturation(canvas, keep);
  const correction = membraneCorrection(canvas, under, hard);
  for (let i = 0; i < canvas.data.length; i++) {
    const v = canvas.data[i]! + correction[i]!;
    canvas.data[i] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
  }
  const alpha = new Float32Array(bw * bh);
  for (let i = 0; i < alpha.length; i++) alpha[i] = hard[i]!;
  const soft = Math.max(1, size * 0.012);
  boxBlurMask(alpha, bw, bh, soft);
  boxBlurMask(alpha, bw, bh, soft);
  timingsMs.colour = performance.now() - t;

  t = performance.now();
  blendPatch(out, canvas, alpha, box.x, box.y);
  timingsMs.blend = performance.now() - t;

  t = performance.now();
  let mouthSynthesised = false;
  if (regions !== "upper") {
    const after = measureExpression(placed).mouthOpen;
    if (after > MOUTH_OPEN_MARGIN) {
      // The reaction's own teeth and tongue with its lips' inner edge, reshaped to the swapped lips; already
      // in the reaction's colours.
      paintMouthInterior(out, placed, reaction, reactionFace.landmarks, AS_IS, size, "inPlace");
      mouthSynthesised = true;
    } else if (measureExpression(templateFace.landmarks).mouthOpen > CLOSED_MOUTH && after < CLOSED_MOUTH) {
      // The user's open mouth shut as the reaction's is: a lip line from the swapped lips themselves, as in
      // mimic, so none of the user's squeezed teeth or dark gap shows between them.
      mouthSynthesised = paintClosedLips(out, placed, reaction, reactionFace.landmarks, size);
    }
  }
  timingsMs.mouth = performance.now() - t;
  const changedBox = diffBox(reaction, out, unionBox(box, reshaped));
  timingsMs.total = performance.now() - t0;
  return { image: out, landmarks: placed, expression: applySimilarity(toReaction, read), timingsMs, changedBox, mouthSynthesised };
}

/** How far out (× the face outline's distance from its centre) reshapeOutline bends the reaction's picture. */
const RESHAPE_REACH = 1.7;

/**
 * The reaction's picture around its face bent so that the face outline becomes the user's (the placed oval):
 * a user with a narrower, wider or longer face than the reaction's person keeps that shape, and the blend
 * outline meets the reaction's own skin rather than its background or hair. The ring out to RESHAPE_REACH ×
 * the outline's distance from its centre is warped, its outer edge pinned (hair, ears and background bend
 * smoothly, nothing tears); inside, the warp follows the outline (the face is pasted over it). Returns the
 * box it wrote in.
 */
function reshapeOutline(out: RgbImage, reaction: RgbImage, from: Float32Array, to: Float32Array): Box {
  const n = FACE_OVAL.length;
  const centre = n, outer = n + 1;
  const src = new Float32Array((2 * n + 1) * 2), dst = new Float32Array((2 * n + 1) * 2);
  FACE_OVAL.forEach((i, k) => {
    src[2 * k] = from[3 * i]!;
    src[2 * k + 1] = from[3 * i + 1]!;
    dst[2 * k] = to[3 * i]!;
    dst[2 * k + 1] = to[3 * i + 1]!;
    src[2 * centre]! += from[3 * i]! / n;
    src[2 * centre + 1]! += from[3 * i + 1]! / n;
    dst[2 * centre]! += to[3 * i]! / n;
    dst[2 * centre + 1]! += to[3 * i + 1]! / n;
  });
  for (let k = 0; k < n; k++) {
    for (let c = 0; c < 2; c++) {
      src[2 * (outer + k) + c] = dst[2 * (outer + k) + c] = src[2 * centre + c]! + (src[2 * k + c]! - src[2 * centre + c]!) * RESHAPE_REACH;
    }
  }
  const tris = new Uint32Array(n * 9);
  for (let k = 0; k < n; k++) {
    const k1 = (k + 1) % n;
    tris.set([k, k1, centre, k, k1, outer + k1, k, outer + k1, outer + k], 9 * k);
  }
  // A user's outline far from the reaction's (a very different head size or pose) must not fold the ring over.
  const bent = unfoldMesh(src, dst, tris, outer);
  warpTriangles(reaction, src, bent, tris, out, undefined, true); // Catmull-Rom: bilinear visibly softened the hair
  return pointsBox(bent, out.width, out.height, 2);
}

function unionBox(a: Box, b: Box): Box {
  const x = Math.min(a.x, b.x), y = Math.min(a.y, b.y);
  return { x, y, width: Math.max(a.x + a.width, b.x + b.width) - x, height: Math.max(a.y + a.height, b.y + b.height) - y };
}

/** Hard mask (box-sized) of the swapped face's blend region; see swap(). */
function blendOutline(lm: Float32Array, box: Box, cover: Float32Array, size: number): Uint8Array {
  const n = FACE_OVAL.length;
  let cx = 0, cy = 0;
  for (const i of FACE_OVAL) {
    cx += lm[3 * i]!;
    cy += lm[3 * i + 1]!;
  }
  cx /= n;
  cy /= n;
  // The face's "up" in the image: from the nose bottom to between the eyes.
  let ux = lm[3 * 168]! - lm[3 * 2]!, uy = lm[3 * 168 + 1]! - lm[3 * 2 + 1]!;
  const ul = Math.hypot(ux, uy) || 1;
  ux /= ul;
  uy /= ul;
  const ring = new Float32Array((n + 1) * 2);
  FACE_OVAL.forEach((i, k) => {
    const dx = lm[3 * i]! - cx, dy = lm[3 * i + 1]! - cy;
    const d = Math.hypot(dx, dy) || 1;
    const up = Math.max(0, (dx * ux + dy * uy) / d);
    const f = 0.98 - 0.17 * up * up;
    ring[2 * k] = cx + dx * f - box.x;
    ring[2 * k + 1] = cy + dy * f - box.y;
  });
  ring[2 * n] = cx - box.x;
  ring[2 * n + 1] = cy - box.y;
  const fan = new Uint32Array(n * 3);
  for (let k = 0; k < n; k++) fan.set([k, (k + 1) % n, n], 3 * k);
  const inside = new Float32Array(box.width * box.height);
  const scratch: RgbImage = { width: box.width, height: box.height, data: new Uint8Array(box.width * box.height * 3) };
  warpTriangles(scratch, ring, ring, fan, scratch, inside); // identity warp used as a polygon rasteriser
  for (let i = 0; i < inside.length; i++) inside[i] = inside[i]! * cover[i]!;
  return erodeMask(inside, box.width, box.height, Math.max(1, size * 0.01));
}
