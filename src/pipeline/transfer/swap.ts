import type { AnalyzedFace, Box, RgbImage, StageTimings } from "../types.ts";
import { faceMeshPoints, triangulate, unfoldMesh, warpTriangles } from "../warp/index.ts";
import { FACE_OVAL, MESH_POINTS, STABLE } from "../warp/landmarks.ts";
import { copyImage, cropImage, resizeImage, shrinkByBox } from "../image/index.ts";
import { blendPatch, boxBlurMask, diffBox, erodeMask, maskedLuma, maskedStats, meanSpread, membraneCorrection, pointsBox } from "./blend.ts";
import { dampCorrectionInDarks, darkestTones, fitToGamut, luma, mapTones, scaleSaturation, toneChroma } from "./tones.ts";
import { retargetExpression, type Regions, type RegionsSeen } from "./expression.ts";
import { drawnEyelids, paintEyes } from "./eyes.ts";
import { keepUnfolded } from "./fold.ts";
import { addExpressionCreases } from "./creases.ts";
import { addLipColourChange } from "./lip-colour.ts";
import { withoutFrameEnds } from "./temples.ts";
import { alignSimilarity, applySimilarity, faceSize, workScale } from "./geometry.ts";
import { CLOSED_MOUTH, MOUTH_OPEN_MARGIN, measureExpression } from "./measure.ts";
import { AS_IS, paintClosedLips, paintMouthInterior, sampleLipsPastTheSeam, sampleLipsWhereMouthCloses } from "./mouth.ts";
import type { TransferInput, Transferred } from "./transfer.ts";

/**
 * Face swap: the template's face, given the reaction's expression, is placed in the reaction's pose
 * (similarity fit on stable points), the reaction's picture is bent around it to the user's face outline
 * (reshapeOutline; a spectacle frame's ends at its temples filled in first, temples.ts), and the face is
 * blended in three steps, all inside the face's bounding box:
 * Reinhard colour transfer (per-channel mean and contrast of the reaction's face; its darkest tones and any
 * channel run past white handled in tones.ts), a seamless-cloning membrane that makes the face meet the reaction
 * exactly along an outline set slightly inside the face (no seam, no bleeding of hair or background into the skin;
 * scaled down on the face's darks), and a soft alpha edge. The reaction's own
 * mouth interior is kept when its mouth is open.
 */
export function swapFace(input: TransferInput, intensity: number, regions: Regions, t0: number, seen?: RegionsSeen): Transferred {
  const { reaction, reactionFace } = input;
  // A reaction face under WORK_FACE_PX gets the user's face drawn ss× larger and averaged down to it: drawn at
  // its own size, the new lips, lids and frames came out softer than the same swap on a large copy, shrunk.
  const reactionSize = faceSize(reactionFace.landmarks);
  const ss = workScale(reactionSize);
  const [template, templateFace] = faceAtScale(input.template, input.templateFace, (ss * reactionSize) / faceSize(input.templateFace.landmarks));
  const timingsMs: StageTimings = {};
  const out = copyImage(reaction);
  let t = performance.now();
  const read = retargetExpression(templateFace.landmarks, reactionFace.landmarks, { intensity, regions, reactionRest: input.reactionRest, seen });
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
  if (regions !== "upper") {
    sampleLipsWhereMouthCloses(src, template, templateFace.landmarks, wearing);
    sampleLipsPastTheSeam(src, template, templateFace.landmarks, wearing);
  }
  const tris = triangulate(dst);
  timingsMs.mesh = performance.now() - t;

  t = performance.now();
  const bw = box.width, bh = box.height;
  const drawn: RgbImage = { width: bw * ss, height: bh * ss, data: new Uint8Array(bw * bh * ss * ss * 3) };
  const drawnCover = new Float32Array(bw * bh * ss * ss);
  const up = ss === 1 ? (v: number) => v : (v: number) => (v + 0.5) * ss - 0.5;
  warpTriangles(template, src, dst.map(up), tris, drawn, drawnCover);
  if (regions !== "lower") {
    // Lids over a still eyeball here too (the canvas is box-relative).
    const inBox = placed.slice();
    for (let i = 0; i < MESH_POINTS; i++) {
      inBox[3 * i] = up(inBox[3 * i]! - box.x);
      inBox[3 * i + 1] = up(inBox[3 * i + 1]! - box.y);
      inBox[3 * i + 2]! *= ss;
    }
    paintEyes(drawn, inBox, template, templateFace.landmarks, templateFace.irises);
  }
  const canvas = shrinkByBox(drawn, ss);
  const cover = ss === 1 ? drawnCover : averageBlocks(drawnCover, bw, bh, ss);
  timingsMs.warp = performance.now() - t;

  t = performance.now();
  // The reaction's picture shows around the pasted face: a spectacle frame's ends would float beside it.
  const bare = withoutFrameEnds(reaction, reactionFace.landmarks);
  timingsMs.frames = performance.now() - t;

  t = performance.now();
  const reshaped = reshapeOutline(out, bare, reactionFace.landmarks, placed);
  timingsMs.reshape = performance.now() - t;

  t = performance.now();
  const size = faceSize(placed);
  const under = cropImage(out, box);
  // The blend outline: the face oval pulled in a little (most at the forehead, where the template's
  // hairline or fringe would otherwise come along), and never beyond what the warp covered.
  const hard = blendOutline(placed, box, cover, size);
  // The colour match reads the face within, not its rim: where the outline crosses the reaction's hair, ear or
  // background (or the user's hair at a temple), that rim would shift the colour of the whole face.
  const core = erodeMask(Float32Array.from(hard), bw, bh, size * STATS_INSET);
  const a = maskedStats(canvas, core);
  const b = maskedStats(under, core);
  // The contrast clamp is on the spread relative to the brightness: a darkened reaction (spreads and means both a
  // third) then scales the whole map, where a clamp on the spread alone left its face more contrasty than the
  // picture and pushed its shadows through black.
  const brightness = Math.max(1, luma(b.mean)) / Math.max(1, luma(a.mean));
  const gain = a.std.map((sd, c) => brightness * Math.min(MAX_CONTRAST, Math.max(1 / MAX_CONTRAST, b.std[c]! / sd / brightness)));
  const offset = a.mean.map((m, c) => b.mean[c]! - m * gain[c]!);
  // Darker than the skin's range (DARK_SPREADS under its mean luma), tones go towards the reaction's own darkest,
  // reaching them at the user's darkest; no more colourful than the reaction's own tones of their brightness.
  const skin = maskedLuma(canvas, core);
  const dark = { knee: Math.max(1, skin.mean - DARK_SPREADS * skin.std), user: darkestTones(canvas, core, DARKEST), reaction: darkestTones(under, core, DARKEST) };
  const mapped = mapTones(canvas, gain, offset, dark, toneChroma(under, core));
  // Per-channel means and contrasts leave a colour face colourful in a black-and-white reaction: its
  // colourfulness is brought down to the reaction's (never raised).
  const keep = Math.min(1, meanSpread(under, core) / Math.max(1e-3, meanSpread({ data: mapped }, core)));
  if (keep < 1) scaleSaturation(mapped, keep);
  // The seamless paste, as a lighting change on the face's darks (a pupil is not lifted or sunk by the cheek's
  // offset), whole at the outline.
  const correction = membraneCorrection({ width: bw, height: bh, data: mapped }, under, hard);
  const inside = Float32Array.from(core);
  boxBlurMask(inside, bw, bh, size * STATS_INSET * 0.5);
  dampCorrectionInDarks(correction, mapped, inside, luma(b.mean));
  fitToGamut(mapped, correction, canvas);
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
  addExpressionCreases(out, placed, templateFace.landmarks, read, input, intensity, { alpha, box });
  timingsMs.creases = performance.now() - t;

  t = performance.now();
  if (regions !== "upper") addLipColourChange(out, placed, input, intensity, { alpha, box });
  timingsMs.lipColour = performance.now() - t;

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

/** The mean of each k × k block of a width·k × height·k mask. */
function averageBlocks(mask: Float32Array, width: number, height: number, k: number): Float32Array {
  const out = new Float32Array(width * height);
  const stride = width * k;
  for (let y = 0; y < height * k; y++) {
    const row = Math.floor(y / k) * width;
    for (let x = 0; x < stride; x++) out[row + Math.floor(x / k)]! += mask[y * stride + x]!;
  }
  const norm = 1 / (k * k);
  for (let i = 0; i < out.length; i++) out[i]! *= norm;
  return out;
}

/** A user's face more than this many times the size it is drawn at is shrunk to that size before the warp. */
const MAX_MINIFY = 1.25;

/**
 * The user's face region, shrunk by area averaging where it is drawn far smaller (`scale`): the warp samples
 * bilinearly, 2 × 2 source pixels per output pixel, so a saved face three times the reaction's size had five of
 * every nine pixels skipped (wrinkles, lashes and spectacle rims came out as speckle). Landmarks and irises
 * follow (pixel centres at whole coordinates).
 */
function faceAtScale(image: RgbImage, face: AnalyzedFace, scale: number): [RgbImage, AnalyzedFace] {
  if (scale * MAX_MINIFY >= 1) return [image, face];
  const lm = face.landmarks;
  const margin = faceSize(lm) * 0.1;
  const box = pointsBox(faceMeshPoints(lm, { width: image.width, height: image.height, ringScale: 0 }), image.width, image.height, margin);
  const crop = cropImage(image, box);
  const small = resizeImage(crop, Math.max(1, Math.round(crop.width * scale)), Math.max(1, Math.round(crop.height * scale)));
  const kx = small.width / crop.width, ky = small.height / crop.height;
  const map = (v: Float32Array) => {
    const out = v.slice();
    for (let i = 0; i < out.length; i += 3) {
      out[i] = (v[i]! - box.x + 0.5) * kx - 0.5;
      out[i + 1] = (v[i + 1]! - box.y + 0.5) * ky - 0.5;
      out[i + 2] = v[i + 2]! * kx;
    }
    return out;
  };
  return [small, { ...face, landmarks: map(lm), ...(face.irises ? { irises: map(face.irises) } : {}) }];
}

/**
 * How many spreads of the skin's luma under its mean a tone starts counting as dark (see mapTones in tones.ts):
 * at one, the user's own shading was pulled too and the result looked less like them (eval/FINDINGS.md).
 */
const DARK_SPREADS = 1.5;

/** The share of the face (the colour match's core) whose mean colour is its darkest tone, the user's and the reaction's. */
const DARKEST = 0.01;

/** How far the colour match may change the face's contrast (a channel's spread over the face's brightness), either way. */
const MAX_CONTRAST = 2;

/** How far inside the blend outline (× the face size) the colour match starts reading the face. */
const STATS_INSET = 0.06;

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
