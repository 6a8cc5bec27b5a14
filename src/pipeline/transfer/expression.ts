import {
  CHIN,
  FACE_OVAL,
  LEFT_BROW,
  LEFT_EYE_LOWER,
  LEFT_EYE_UPPER,
  LEFT_EYE_LOWER_FOLD,
  LEFT_EYE_UPPER_FOLD,
  LIPS_INNER_LOWER,
  LIPS_INNER_UPPER,
  LIPS_OUTER_LOWER,
  LOWER_LIP_ROWS,
  MESH_POINTS,
  MOUTH_CORNER_LEFT,
  MOUTH_CORNER_RIGHT,
  RIGHT_BROW,
  RIGHT_EYE_LOWER,
  RIGHT_EYE_UPPER,
  RIGHT_EYE_LOWER_FOLD,
  RIGHT_EYE_UPPER_FOLD,
  STABLE,
  UPPER_LIP_ROWS,
} from "../warp/landmarks.ts";
import { alignSimilarity, applySimilarity, fromLocal, localFrame, toLocal } from "./geometry.ts";
import { browHeight, eyeOpen, measureLocal } from "./measure.ts";

export type Regions = "all" | "upper" | "lower";

/**
 * Rest ("neutral") bands in inter-ocular units, for the template: a measure inside its band is taken as the
 * person's own rest shape (identity, kept); only the part outside it counts as expression. A single photo
 * has no neutral frame, so this is how its neutral is estimated.
 */
export const REST = {
  /**
   * Eye aperture: a template's rest eyes anywhere in this band are its own and kept; the reaction's aperture
   * change is then applied as a ratio (see setEyeAperture), so a template with wide rest eyes (astronaut,
   * 0.32) still narrows by a squint's share and any eye shuts when the reaction's are shut.
   */
  eyeOpen: [0.2, 0.34],
  brow: [0.19, 0.24],
  /**
   * Brow shape beside its height (see neutralBrows): the inner end's height above the outer end's, and half the
   * gap between the inner ends. Wide enough for the fixture faces' own brows (tilt 0.049–0.065, half gap
   * 0.163–0.178): a template's brow shape is its identity unless it is frowning or worried.
   */
  browTilt: [0.03, 0.09],
  browInner: [0.13, 0.22],
  mouthWidth: [0.5, 0.58],
  cornerLift: [-0.01, 0.025],
} as const;

export type RestBands = { readonly [K in keyof typeof REST]: readonly [number, number] } & {
  /** A known rest face's own brow heights and tilts (subject's right, left), which differ side to side: they replace `brow` and `browTilt`. */
  readonly browHeights?: readonly [number, number];
  readonly browTilts?: readonly [number, number];
};

/**
 * The reaction's neutral: one typical rest value per measure, not a band. Only the reaction's change from its
 * own neutral should arrive; a band treats every change inside it as identity, so a smile widening the mouth
 * from 0.52 to 0.58 gave the template 0.02 of its 0.06 (issue 14: corner lift 0.40, width 0.70, brows 0.36 of
 * the change arrived). A point estimate is unbiased for a typical face; its cost is that a neutral reaction
 * whose rest shape is off it moves the template by that offset. Values: set on the fixture pairs (tuning
 * history in the commit message) until the wider evaluation set's dev split is measured.
 */
export const REACTION_REST: RestBands = {
  eyeOpen: [0.27, 0.27],
  brow: [0.215, 0.215],
  // Means of the three fixture people's neutral brows (grace_hopper, franck_01829, astronaut), own units.
  browTilt: [0.06, 0.06],
  browInner: [0.171, 0.171],
  mouthWidth: [0.555, 0.555],
  cornerLift: [0.012, 0.012],
};

/**
 * Of an eye-aperture change, how much is the lower lid moving (the rest is the upper lid). Re-analysed eval
 * (refined lids): 0.5 → 10/20 pairs, 0.3 → 11/20, 0.15 → 12/20, 0 → 12/20; a squint does lift the lower lid a little.
 */
const LOWER_LID_SHARE = 0.15;
/**
 * A squint that comes with a smile is mostly the cheek pushing the lower lid up (a laugh's raised cheeks,
 * lower-lid bulge, crow's feet), so undoing it lowers the lower lid this much and the upper lid the rest.
 * The smile is read from the lip corners' lift (inter-ocular units): none up to SMILE_FROM, full at SMILE_FULL.
 * Only an eye narrower than rest counts: a smiling face with wide eyes has nothing to undo in its lower lid.
 * Most of it goes to the lower lid because a laugh lifts its lower lids further than its upper lids drop; shared
 * evenly, a template wearing it squinted from above instead of raising its cheeks.
 */
const SMILE_LOWER_LID_SHARE = 0.7;
/**
 * At most this share of the rest aperture is a lower lid's rise (a cheek raise narrows an eye by about a third;
 * it cannot shut it). With no limit, a laughing reaction with its eyes shut closed the template's eyes by
 * lifting the lower lids 80–90 % of the way up to still-open upper lids.
 */
const CHEEK_LID_MAX = 0.35;
/**
 * A rest frame's eyes are taken as its person's own rest only inside this band: the typical rest (REACTION_REST)
 * ± the analyzer's eye noise floor (0.043). The template band (REST.eyeOpen) would take a held stare for a rest.
 */
const OWN_EYE_REST = [0.23, 0.31] as const;
/** Whether a rest face's eye apertures (right, left) may be taken as its person's own rest (see OWN_EYE_REST). */
export const restEyesOwn = (right: number, left: number) =>
  right >= OWN_EYE_REST[0] && right <= OWN_EYE_REST[1] && left >= OWN_EYE_REST[0] && left <= OWN_EYE_REST[1];
const SMILE_FROM = 0.03;
const SMILE_FULL = 0.08;
/** How much of the upper lid's motion the lid crease above it follows. */
const FOLD_FOLLOW = 0.6;
/** Of a mouth opening, how much the chin itself drops. */
const JAW_SHARE = 0.2;
const CHIN_BOTTOM = 152;
/** Of a mouth opening, how much is the upper lip rising (the rest is the jaw dropping). */
const UPPER_LIP_SHARE = 0.37;

const uniq = (xs: Iterable<number>) => [...new Set(xs)];
/** Every lip point once (rows share their corner points). */
const LIP_POINTS: readonly number[] = uniq([...UPPER_LIP_ROWS.flat(), ...LOWER_LIP_ROWS.flat()]);
export const MOUTH_CONTROLS: readonly number[] = uniq([...UPPER_LIP_ROWS.flat(), ...LOWER_LIP_ROWS.flat(), ...CHIN]);
export const EYE_CONTROLS: readonly number[] = uniq([
  ...RIGHT_EYE_UPPER, ...RIGHT_EYE_LOWER, ...RIGHT_EYE_UPPER_FOLD, ...RIGHT_EYE_LOWER_FOLD,
  ...LEFT_EYE_UPPER, ...LEFT_EYE_LOWER, ...LEFT_EYE_UPPER_FOLD, ...LEFT_EYE_LOWER_FOLD,
  ...RIGHT_BROW, ...LEFT_BROW,
]);
const MOUTH_SET = new Set(MOUTH_CONTROLS);
const BROW_SET = new Set<number>([...RIGHT_BROW, ...LEFT_BROW]);
/**
 * At most this much of a brow's tilt or inner-end shift (inter-ocular units) counts as expression: a deep frown
 * moves an inner end ~0.05; a degenerate mesh (inner end on its outer end) would otherwise fling the brow.
 */
const BROW_SHAPE_MAX = 0.1;
/** A rest band that takes any value as rest: that measure is left out of a neutral estimate. */
const ANY = [-Infinity, Infinity] as const;
const EYE_SET = new Set(EYE_CONTROLS);
/** The cheek zone in local (inter-ocular) units, and how much of the corner's motion a cheek point follows at the corner. */
const CHEEK_TOP = 0.45;
const CHEEK_BOTTOM = 1.1;
const CHEEK_INNER = 0.2;
const CHEEK_OUTER = 0.8;
const CHEEK_FOLLOW = 0.9;
/** Nose points: the cheek zone must not drag the nose wings. */
const NOSE = new Set([1, 2, 4, 5, 6, 19, 94, 97, 98, 99, 326, 327, 328, 129, 358, 48, 278, 64, 294, 102, 331, 49, 279, 115, 344, 220, 440, 45, 275, 44, 274, 125, 354, 141, 370, 242, 462, 241, 461, 240, 460, 75, 305, 60, 290, 79, 309, 166, 392, 238, 458, 20, 250, 218, 438, 237, 457, 239, 459, 59, 289, 235, 455, 219, 439, 3, 248, 51, 281, 134, 363, 131, 360, 198, 420, 209, 429, 114, 343, 188, 412, 174, 399, 236, 456, 217, 437, 126, 355, 142, 371, 100, 329, 47, 277, 195, 197, 168]);
/** Points pinned in place (zero displacement) while the motion of the controls spreads over the mesh. */
const PINNED: readonly number[] = uniq([
  ...STABLE.filter((i) => !MOUTH_SET.has(i) && !EYE_SET.has(i)),
  ...FACE_OVAL.filter((i) => !MOUTH_SET.has(i)).slice(0, 9),
  ...FACE_OVAL.filter((i) => !MOUTH_SET.has(i)).slice(-9),
]);

const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

/**
 * Estimated neutral shape of a face in local coordinates: mouth closed (lower lip and chin up, upper lip
 * down), lip corners and mouth width and eye apertures and brow heights pulled into their rest bands.
 * Only control points move; returns a copy.
 */
export function neutralShape(loc: Float64Array, rest: RestBands = REST): Float64Array {
  const n = loc.slice();
  const smile = clamp((measureLocal(loc).cornerLift - SMILE_FROM) / (SMILE_FULL - SMILE_FROM), 0, 1);
  const Y = (i: number) => 3 * i + 1;
  // Mouth closed.
  const gaps = LIPS_INNER_LOWER.map((lo, j) => Math.max(0, n[Y(lo)]! - n[Y(LIPS_INNER_UPPER[j]!)]!));
  for (let j = 0; j < gaps.length; j++) {
    const g = gaps[j]!;
    for (const row of UPPER_LIP_ROWS) n[Y(row[j]!)]! += g * UPPER_LIP_SHARE;
    for (const row of LOWER_LIP_ROWS) n[Y(row[j]!)]! -= g * (1 - UPPER_LIP_SHARE);
  }
  // The chin follows only part of the lower lip's drop: in a laugh the lower lip stretches down over the
  // teeth while the jaw drops little (franck_04117 vs franck_01829: lip gap +0.14, chin +0.03 inter-ocular).
  // Between the lip and the chin the share fades with height.
  const midGap = gaps[5]!;
  const lipY = n[Y(LIPS_OUTER_LOWER[5]!)]!, chinY = n[Y(CHIN_BOTTOM)]!;
  for (const i of CHIN) {
    const f = clamp((n[Y(i)]! - lipY) / Math.max(1e-6, chinY - lipY), 0, 1);
    n[Y(i)]! -= midGap * ((1 - UPPER_LIP_SHARE) * (1 - f) + JAW_SHARE * f);
  }
  // Smile/frown curve into its band: per side, the corner's lift beyond the band comes off every column in
  // proportion to the column's own height above the centre line (its share of the corner's, all rows of a
  // column together), so a smile's curve keeps its shape. The share is bounded to 0…1: for a lift near 0 (a
  // tall "O" has its corners level with where its lips meet) it was unbounded and flung lip columns off the face.
  const centreY = (n[Y(LIPS_INNER_UPPER[5]!)]! + n[Y(LIPS_INNER_LOWER[5]!)]!) / 2;
  const rise = (j: number) => centreY - (n[Y(LIPS_INNER_UPPER[j]!)]! + n[Y(LIPS_INNER_LOWER[j]!)]!) / 2;
  for (const side of [0, 1] as const) {
    const lift = rise(side === 0 ? 0 : 10);
    const excess = lift - clamp(lift, rest.cornerLift[0], rest.cornerLift[1]);
    if (excess === 0 || lift === 0) continue;
    for (let j = side === 0 ? 0 : 6; j <= (side === 0 ? 4 : 10); j++) {
      const dy = excess * clamp(rise(j) / lift, 0, 1);
      for (const i of new Set([...UPPER_LIP_ROWS, ...LOWER_LIP_ROWS].map((row) => row[j]!))) n[Y(i)]! += dy;
    }
  }
  const wx = n[3 * MOUTH_CORNER_LEFT]! - n[3 * MOUTH_CORNER_RIGHT]!;
  const width = Math.hypot(wx, n[Y(MOUTH_CORNER_LEFT)]! - n[Y(MOUTH_CORNER_RIGHT)]!);
  const widthScale = width > 1e-6 ? clamp(width, rest.mouthWidth[0], rest.mouthWidth[1]) / width : 1;
  if (widthScale !== 1) {
    const cx = (n[3 * MOUTH_CORNER_LEFT]! + n[3 * MOUTH_CORNER_RIGHT]!) / 2;
    for (const i of LIP_POINTS) n[3 * i] = cx + (n[3 * i]! - cx) * widthScale;
  }
  // Eyes and brows.
  neutralEye(n, RIGHT_EYE_UPPER, RIGHT_EYE_LOWER, RIGHT_EYE_UPPER_FOLD, RIGHT_EYE_LOWER_FOLD, smile, rest);
  neutralEye(n, LEFT_EYE_UPPER, LEFT_EYE_LOWER, LEFT_EYE_UPPER_FOLD, LEFT_EYE_LOWER_FOLD, smile, rest);
  neutralBrows(n, rest);
  return n;
}

function neutralEye(
  n: Float64Array,
  upper: readonly number[],
  lower: readonly number[],
  fold: readonly number[],
  lowerFold: readonly number[],
  smile: number,
  rest: RestBands,
): void {
  const r = eyeOpen(n, upper, lower);
  const target = clamp(r, rest.eyeOpen[0], rest.eyeOpen[1]);
  if (target === r) return;
  const w = Math.hypot(n[3 * upper[0]!]! - n[3 * upper[8]!]!, n[3 * upper[0]! + 1]! - n[3 * upper[8]! + 1]!);
  // Lid motion profile: zero at the corners, largest mid-lid; normalised so the measured columns move exactly.
  const norm = (Math.sin((3 * Math.PI) / 8) * 2 + 1) / 3;
  const delta = ((target - r) * w) / norm; // > 0 opens
  // Most of an aperture change is the upper lid; the rest is the lower lid, more of it when a smiling eye is
  // opened to rest (see SMILE_LOWER_LID_SHARE).
  let share = delta > 0 ? LOWER_LID_SHARE + (SMILE_LOWER_LID_SHARE - LOWER_LID_SHARE) * smile : LOWER_LID_SHARE;
  // A cheek can push the lower lid only so far up: the rest of a deeper closing (eyes shut while laughing) is
  // the upper lid coming down.
  const lowerMax = (CHEEK_LID_MAX * target * w) / norm;
  if (delta * share > lowerMax) share = lowerMax / delta;
  for (let j = 1; j < 8; j++) {
    const d = delta * Math.sin((j * Math.PI) / 8);
    n[3 * upper[j]! + 1]! -= d * (1 - share);
    n[3 * fold[j - 1]! + 1]! -= d * (1 - share) * FOLD_FOLLOW;
    n[3 * lower[j]! + 1]! += d * share;
    n[3 * lowerFold[j]! + 1]! += d * share * 0.6;
  }
}

/**
 * The brows at rest: each brow's height above its eye and its tilt, and the gap between their inner ends, pulled
 * into their rest bands. A frown lowers the inner ends and draws them together, a worried face lifts them,
 * surprise raises the whole brow; with the height alone a frown arrived as both brows lowered evenly, not drawn
 * in. Along a brow, s runs from its outer end (0) to its inner end (1): the tilt turns the brow about its
 * middle (its measured height stays); the inner ends' shift fades to nothing at the outer ends. The gap is
 * shared by both brows: one brow's inner end alone sits off the midline by the head's turn and the face's own
 * asymmetry (franck_01829: 0.174 and 0.152).
 */
function neutralBrows(n: Float64Array, rest: RestBands): void {
  const X = (i: number) => 3 * i, Y = (i: number) => 3 * i + 1;
  const gap = browHalfGap(n);
  const innerExcess = clamp(gap - clamp(gap, rest.browInner[0], rest.browInner[1]), -BROW_SHAPE_MAX, BROW_SHAPE_MAX);
  const sides = [[RIGHT_BROW, RIGHT_EYE_UPPER, RIGHT_EYE_LOWER, -1, 0], [LEFT_BROW, LEFT_EYE_UPPER, LEFT_EYE_LOWER, 1, 1]] as const;
  for (const [brow, upper, lower, outward, side] of sides) {
    const tiltBand = rest.browTilts ? [rest.browTilts[side], rest.browTilts[side]] : rest.browTilt;
    const heightBand = rest.browHeights ? [rest.browHeights[side], rest.browHeights[side]] : rest.brow;
    const outerX = n[X(brow[0])]!, innerX = n[X(brow[4])]!;
    const span = innerX - outerX;
    const along = (i: number) => (Math.abs(span) > 1e-6 ? clamp((n[X(i)]! - outerX) / span, 0, 1) : 0.5);
    const tilt = browTilt(n, brow);
    const tiltExcess = clamp(tilt - clamp(tilt, tiltBand[0]!, tiltBand[1]!), -BROW_SHAPE_MAX, BROW_SHAPE_MAX);
    let pivot = 0;
    for (let k = 0; k < 5; k++) pivot += along(brow[k]!) / 5;
    const h = browHeight(n, brow, upper, lower);
    const heightExcess = h - clamp(h, heightBand[0]!, heightBand[1]!);
    if (heightExcess === 0 && tiltExcess === 0 && innerExcess === 0) continue;
    for (const i of brow) {
      const s = along(i);
      n[Y(i)]! += heightExcess + tiltExcess * (s - pivot);
      n[X(i)]! -= outward * innerExcess * s;
    }
  }
}

/** Half the gap between the brows' inner ends; signed, so an end read past the midline narrows the gap. */
function browHalfGap(n: Float64Array): number {
  return (n[3 * LEFT_BROW[4]]! - n[3 * RIGHT_BROW[4]]!) / 2;
}

/** How far a brow's inner end sits above its outer end (local y grows downwards). */
function browTilt(n: Float64Array, brow: readonly number[]): number {
  return n[3 * brow[0]! + 1]! - n[3 * brow[4]! + 1]!;
}

export interface RetargetOptions {
  intensity: number;
  regions: Regions;
  /**
   * The reaction person's own rest face where one is known (an animation's rest frame; 468×3 in the reaction's
   * image frame): the mouth's, eyes' and brows' rest are then read from it instead of REACTION_REST (see ownRest).
   */
  reactionRest?: Float32Array;
  /**
   * How far the reaction's picture shows each region's features (regionsSeen, 0..1; 1 where absent): a region
   * near the picture's edge has its expression faded by this, as its landmarks are partly guessed there.
   */
  seen?: RegionsSeen;
}

/** How far the reaction's picture shows its eyes (upper), its brows and its lips (lower): 0 (not at all) … 1. */
export interface RegionsSeen {
  upper: number;
  /** The brows, at most as far as the eyes: a guessed brow bends the user's brows (and spectacle frames). */
  brows: number;
  lower: number;
}

/**
 * The template's mesh wearing the reaction's expression, in the template's image frame (468×3).
 * Pose and scale are removed by a similarity fit on expression-stable points; the reaction's expression is
 * its deviation from its estimated neutral, scaled to the template's feature sizes, added to the template's
 * own neutral, then faded in by `intensity` and limited to `regions`. The motion of the control points
 * (lips, chin, lids, brows) spreads smoothly over the rest of the mesh; stable points stay put.
 */
export function retargetExpression(template: Float32Array, reaction: Float32Array, opts: RetargetOptions): Float32Array {
  const frame = localFrame(template);
  // A reaction mesh posed and scaled onto the template by the stable points, in the template's local frame.
  const onTemplate = (lm: Float32Array) => toLocal(frame, applySimilarity(alignSimilarity(lm, template, STABLE), lm));
  const lt = toLocal(frame, template);
  const lr = onTemplate(reaction);
  const nt = neutralShape(lt);
  // The brows' height is read on `lr` and their shape (tilt, inner ends drawn in) in own units (`lo`, below), where
  // a half gap of 0.17 is a length of the reaction's face, not of the template's proportions; each neutral leaves
  // the other part of the brows as it is (neutralBrows only moves brow points, so eyes and mouth are unaffected).
  const own = opts.reactionRest && ownRest(onTemplate(opts.reactionRest));
  const nr = neutralShape(lr, { ...REACTION_REST, ...own?.browHeight, ...own?.eyeBand, browTilt: ANY, browInner: ANY });
  // The mouth's expression is read in the reaction's own inter-ocular units, the units of REACTION_REST and of
  // the change to transfer. `lr` is scaled by the stable-point fit, which follows the two faces' proportions
  // (nose, cheekbones, temples), not their eye distances: franck's smile measured 0.633 wide on grace's frame
  // for his own 0.668, so the width change was read short (and a neutral reaction's width off its rest point).
  const lo = ownUnits(lr);
  const no = neutralShape(lo, { ...REACTION_REST, brow: ANY, ...own?.mouth, ...own?.browShape });
  // Feature-size ratios, bounded: a degenerate mesh must not blow the expression up.
  const ratio = (a: number, b: number) => (b > 1e-6 && Number.isFinite(a / b) ? clamp(a / b, 0.5, 2) : 1);
  const mouthScale = ratio(mouthWidthOf(nt), mouthWidthOf(no));
  const eyeScaleR = ratio(eyeWidthOf(nt, RIGHT_EYE_UPPER), eyeWidthOf(nr, RIGHT_EYE_UPPER));
  const eyeScaleL = ratio(eyeWidthOf(nt, LEFT_EYE_UPPER), eyeWidthOf(nr, LEFT_EYE_UPPER));
  const rightSide = new Set<number>([...RIGHT_EYE_UPPER, ...RIGHT_EYE_LOWER, ...RIGHT_EYE_UPPER_FOLD, ...RIGHT_EYE_LOWER_FOLD, ...RIGHT_BROW]);

  const t = clamp(opts.intensity, 0, 1);
  const tUpper = t * clamp(opts.seen?.upper ?? 1, 0, 1), tLower = t * clamp(opts.seen?.lower ?? 1, 0, 1);
  const tBrow = t * clamp(opts.seen?.brows ?? 1, 0, 1);
  const disp = new Float64Array(MESH_POINTS * 3);
  const isControl = new Uint8Array(MESH_POINTS);
  const controls: number[] = [];
  const useMouth = opts.regions !== "upper";
  const useEyes = opts.regions !== "lower";
  for (const i of MOUTH_CONTROLS) {
    isControl[i] = 1;
    controls.push(i);
    if (!useMouth) continue;
    for (let k = 0; k < 3; k++) {
      const e = (lo[3 * i + k]! - no[3 * i + k]!) * mouthScale;
      disp[3 * i + k] = (nt[3 * i + k]! + e - lt[3 * i + k]!) * tLower;
    }
  }
  for (const i of EYE_CONTROLS) {
    if (isControl[i]) continue;
    isControl[i] = 1;
    controls.push(i);
    if (!useEyes) continue;
    const isBrow = BROW_SET.has(i);
    const s = isBrow ? 1 : rightSide.has(i) ? eyeScaleR : eyeScaleL;
    for (let k = 0; k < 3; k++) {
      const e = isBrow ? lr[3 * i + k]! - nr[3 * i + k]! + lo[3 * i + k]! - no[3 * i + k]! : (lr[3 * i + k]! - nr[3 * i + k]!) * s;
      disp[3 * i + k] = (nt[3 * i + k]! + e - lt[3 * i + k]!) * (isBrow ? tBrow : tUpper);
    }
  }
  if (useMouth) addCheekRaise(lt, disp, isControl, controls);
  // A region left out keeps its skin too: free points nearest one of its controls (or marked) stay put.
  const frozen = new Uint8Array(MESH_POINTS);
  if (!useEyes) for (const i of EYE_CONTROLS) if (!MOUTH_SET.has(i)) frozen[i] = 1;
  // The skin above the cheeks (under the eyes, beside the nose bridge) belongs to the eyes' region.
  if (!useEyes) for (let i = 0; i < MESH_POINTS; i++) if (!isControl[i] && lt[3 * i + 1]! < CHEEK_TOP) frozen[i] = 1;
  if (!useMouth) for (const i of MOUTH_CONTROLS) frozen[i] = 1;
  spreadDisplacement(lt, disp, isControl, controls, frozen);
  const before = useMouth ? measureLocal(lt).mouthOpen : 0;
  const restEyes = measureLocal(nt);
  const readEyes = measureLocal(lr);
  for (let i = 0; i < lt.length; i++) lt[i]! += disp[i]!;
  if (useEyes) {
    // The reaction's aperture relative to its rest eye (its own where known, else a typical one), applied to the
    // template's own rest eye: the additive motion above leaves a wide-eyed template a slit when the reaction's
    // eyes are shut.
    const want = (mine: number, read: number, rest: number, now: number) => now + (mine * (read / rest) - now) * tUpper;
    const [restR, restL] = own?.eyes ?? [REACTION_REST.eyeOpen[0], REACTION_REST.eyeOpen[0]];
    setEyeAperture(lt, RIGHT_EYE_UPPER, RIGHT_EYE_LOWER, want(restEyes.eyeOpenRight, readEyes.eyeOpenRight, restR, measureLocal(lt).eyeOpenRight));
    setEyeAperture(lt, LEFT_EYE_UPPER, LEFT_EYE_LOWER, want(restEyes.eyeOpenLeft, readEyes.eyeOpenLeft, restL, measureLocal(lt).eyeOpenLeft));
  }
  if (useMouth) {
    // The mouth opening is part of the expression in face-size units: the result's lip gap (inter-ocular
    // units) is the reaction's, faded by intensity. Scaling by mouth width above gets it only roughly right
    // when the two mouths differ in width, so the gap is set exactly here, column profile kept.
    const want = before + (measureLocal(toLocal(localFrame(reaction), reaction)).mouthOpen - before) * tLower;
    setMouthGap(lt, want);
  }
  return fromLocal(frame, lt);
}

/**
 * Moves one eye's lids so its measured aperture becomes `want`: every lid column's gap is scaled by one
 * factor (the lid profile kept), the lower lid taking LOWER_LID_SHARE of the change (more when the lower lid
 * already rose more than the upper lid fell: a smile's cheek raise keeps narrowing the eye from below).
 */
function setEyeAperture(loc: Float64Array, upper: readonly number[], lower: readonly number[], want: number): void {
  const have = eyeOpen(loc, upper, lower);
  if (!(have > 1e-4)) return;
  const f = clamp(want / have, 0, 2);
  if (Math.abs(f - 1) < 1e-6) return;
  const Y = (i: number) => 3 * i + 1;
  for (let j = 1; j < upper.length - 1; j++) {
    const g = loc[Y(lower[j]!)]! - loc[Y(upper[j]!)]!;
    if (!(g > 0)) continue;
    const dg = g * (f - 1);
    loc[Y(upper[j]!)]! -= dg * (1 - LOWER_LID_SHARE);
    loc[Y(lower[j]!)]! += dg * LOWER_LID_SHARE;
  }
}

/**
 * Scales the lip gap of every inner-lip column by one factor so the measured opening becomes `want`
 * (upper lip rows take UPPER_LIP_SHARE of the change, lower rows the rest). A (nearly) closed mouth is left
 * as it is: there is no gap profile to scale. Bounded so a bad mesh cannot fling the lips.
 */
function setMouthGap(loc: Float64Array, want: number): void {
  const have = measureLocal(loc).mouthOpen;
  if (have < 0.02 || want < 0.02) return;
  const f = clamp(want / have, 0.6, 1.6);
  const Y = (i: number) => 3 * i + 1;
  for (let j = 0; j < LIPS_INNER_UPPER.length; j++) {
    const g = loc[Y(LIPS_INNER_LOWER[j]!)]! - loc[Y(LIPS_INNER_UPPER[j]!)]!;
    if (!(g > 0)) continue;
    const dg = g * (f - 1);
    for (const row of UPPER_LIP_ROWS) loc[Y(row[j]!)]! -= dg * UPPER_LIP_SHARE;
    for (const row of LOWER_LIP_ROWS) loc[Y(row[j]!)]! += dg * (1 - UPPER_LIP_SHARE);
  }
}

/**
 * Smiles raise the cheeks: a laugh lifts the cheek points beside the mouth nearly as much as its corners,
 * fading towards the cheekbones (franck_01829 → franck_04117: corners −0.06…−0.07, cheek apples −0.04…
 * −0.06, cheekbones −0.04 inter-ocular). The cheek points (found by position in the template's local frame:
 * beside the mouth, below the eyes, off the nose) become controls moving with their side's mouth corner,
 * weighted by a Gaussian of their distance to it.
 */
function addCheekRaise(loc: Float64Array, disp: Float64Array, isControl: Uint8Array, controls: number[]): void {
  const sigma = 0.4;
  const inv2s2 = 1 / (2 * sigma * sigma);
  for (let i = 0; i < MESH_POINTS; i++) {
    if (isControl[i] || NOSE.has(i)) continue;
    const x = loc[3 * i]!, y = loc[3 * i + 1]!;
    if (y < CHEEK_TOP || y > CHEEK_BOTTOM || Math.abs(x) < CHEEK_INNER || Math.abs(x) > CHEEK_OUTER) continue;
    const corner = x < 0 ? MOUTH_CORNER_RIGHT : MOUTH_CORNER_LEFT;
    const dx = x - loc[3 * corner]!, dy = y - loc[3 * corner + 1]!;
    const w = CHEEK_FOLLOW * Math.exp(-(dx * dx + dy * dy) * inv2s2);
    // Only the lift and the sideways pull of the corner, not its depth.
    disp[3 * i] = disp[3 * corner]! * w;
    disp[3 * i + 1] = Math.min(0, disp[3 * corner + 1]!) * w + Math.max(0, disp[3 * corner + 1]!) * w * 0.5;
    isControl[i] = 1;
    controls.push(i);
  }
}

/** Each free point moves by a Gaussian-weighted average of the controls' motion, pinned points weighing in at zero. */
function spreadDisplacement(loc: Float64Array, disp: Float64Array, isControl: Uint8Array, controls: readonly number[], frozen: Uint8Array): void {
  const sigma = 0.12;
  const inv2s2 = 1 / (2 * sigma * sigma);
  const pinned = new Uint8Array(MESH_POINTS);
  const pins = PINNED.filter((i) => !isControl[i]);
  for (const i of pins) pinned[i] = 1;
  const anchors = [...controls, ...pins];
  for (let i = 0; i < MESH_POINTS; i++) {
    if (isControl[i] || pinned[i] || frozen[i]) continue;
    const x = loc[3 * i]!, y = loc[3 * i + 1]!;
    let wsum = 1e-4; // far from everything: stay
    let dx = 0, dy = 0, dz = 0;
    let nearest = -1, nearestD = Infinity;
    for (const c of anchors) {
      const ex = loc[3 * c]! - x, ey = loc[3 * c + 1]! - y;
      const d2 = ex * ex + ey * ey;
      if (d2 < nearestD) {
        nearestD = d2;
        nearest = c;
      }
      const w = Math.exp(-d2 * inv2s2);
      wsum += w;
      dx += w * disp[3 * c]!;
      dy += w * disp[3 * c + 1]!;
      dz += w * disp[3 * c + 2]!;
    }
    if (nearest >= 0 && frozen[nearest]) continue;
    disp[3 * i] = dx / wsum;
    disp[3 * i + 1] = dy / wsum;
    disp[3 * i + 2] = dz / wsum;
  }
}

/**
 * Rest points from the reaction person's own rest face, given posed onto the template as `lr` is, each read as
 * the reaction's expression is: the mouth and brow shape in own units, brow height on the template's frame. The
 * mouth's are held inside the template's rest bands. The brows count only where the rest face's height, tilt and
 * gap all lie inside those bands, the eyes only where both lie inside OWN_EYE_REST: raised brows, a frown or a
 * stare held through a whole shot then keep the typical rest and still arrive.
 */
function ownRest(onTemplate: Float64Array): OwnRest {
  const own = ownUnits(onTemplate);
  const point = (v: number) => [v, v] as const;
  const inside = (v: number, band: readonly [number, number]) => v >= band[0] && v <= band[1];
  const m = measureLocal(own);
  const out: OwnRest = {
    mouth: {
      mouthWidth: point(clamp(m.mouthWidth, REST.mouthWidth[0], REST.mouthWidth[1])),
      cornerLift: point(clamp(m.cornerLift, REST.cornerLift[0], REST.cornerLift[1])),
    },
  };
  if (restEyesOwn(m.eyeOpenRight, m.eyeOpenLeft)) {
    out.eyes = [m.eyeOpenRight, m.eyeOpenLeft];
    out.eyeBand = { eyeOpen: point((m.eyeOpenRight + m.eyeOpenLeft) / 2) };
  }
  const h = measureLocal(onTemplate);
  const heights = [h.browRight, h.browLeft] as const;
  const tilts = [browTilt(own, RIGHT_BROW), browTilt(own, LEFT_BROW)] as const;
  const gap = browHalfGap(own);
  if (heights.every((v) => inside(v, REST.brow)) && tilts.every((v) => inside(v, REST.browTilt)) && inside(gap, REST.browInner)) {
    out.browHeight = { browHeights: heights };
    out.browShape = { browTilts: tilts, browInner: point(gap) };
  }
  return out;
}

interface OwnRest {
  mouth: Pick<RestBands, "mouthWidth" | "cornerLift">;
  /** Right and left eye apertures (the aperture ratio's rest), and their mean as the lids' neutral estimate. */
  eyes?: readonly [number, number];
  eyeBand?: Pick<RestBands, "eyeOpen">;
  browHeight?: Pick<RestBands, "browHeights">;
  browShape?: Pick<RestBands, "browTilts" | "browInner">;
}

/** A mesh in local coordinates rescaled so its own inter-ocular distance (outer eye corners, 3-D) is 1. */
function ownUnits(loc: Float64Array): Float64Array {
  const d = Math.hypot(loc[3 * 263]! - loc[3 * 33]!, loc[3 * 263 + 1]! - loc[3 * 33 + 1]!, loc[3 * 263 + 2]! - loc[3 * 33 + 2]!);
  // Bounded as the feature-size ratios are: eye corners collapsed in a bad mesh must not blow the face up.
  const k = d > 1e-6 ? clamp(1 / d, 0.5, 2) : 1;
  return loc.map((v) => v * k);
}

function mouthWidthOf(n: Float64Array): number {
  return Math.hypot(n[3 * MOUTH_CORNER_LEFT]! - n[3 * MOUTH_CORNER_RIGHT]!, n[3 * MOUTH_CORNER_LEFT + 1]! - n[3 * MOUTH_CORNER_RIGHT + 1]!);
}

function eyeWidthOf(n: Float64Array, upper: readonly number[]): number {
  return Math.hypot(n[3 * upper[0]!]! - n[3 * upper[8]!]!, n[3 * upper[0]! + 1]! - n[3 * upper[8]! + 1]!);
}
