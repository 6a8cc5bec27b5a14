import { MimicError } from "../../errors.ts";
import { getFaceAnalyzer } from "../face/index.ts";
import { decodeAnimation, decodeImage, readHeader, type DecodedAnimation, type DecodeOptions } from "../image/index.ts";
import { apngFrames } from "../image/containers.ts";
import { DEFAULT_MAX_INPUT_PIXELS } from "../settings.ts";
import { cannotReadVideos, decodeVideoReaction, sniffVideoMime } from "../video/reaction.ts";
import {
  checkFace,
  measureExpression,
  nothingCopiedError,
  REACTION_REST,
  REST,
  transferExpression,
  type ExpressionMeasures,
  type Regions,
  type TransferMode,
  type TransferResult,
} from "../transfer/index.ts";
import type { AnalyzedFace, FaceAnalysis, RgbImage } from "../types.ts";
import { checkpoint, runThrough, type Steps } from "../steps.ts";

/** Frames of an untrusted animation we process at most (decodeAnimation drops the rest). */
export const MAX_REACTION_FRAMES = 48;
/** Total decoded pixels over all frames (bounds memory and time for untrusted input). */
export const MAX_REACTION_TOTAL_PIXELS = 48 * 512 * 512;
/** Gaussian σ of the temporal landmark smoothing, in frames. */
export const DEFAULT_SMOOTHING = 1;
/** A face centre jumping more than this × face size between frames is a cut: no smoothing across it. */
const CUT_JUMP = 0.35;
/**
 * Landmark jitter per expression measure (inter-ocular units; eye apertures in eye widths): two frames whose
 * measures differ by EXPRESSION_CUT of these or more show different expressions and are never mixed (Tukey
 * weight), so smoothing removes jitter, not a laugh's apex. A plain Gaussian mixed a one-frame laugh with
 * the smiles either side: the apex barely opened and its teeth were sampled off the mouth (a grey smear).
 */
const JITTER: Readonly<Record<keyof ExpressionMeasures, number>> = {
  mouthOpen: 0.03,
  mouthWidth: 0.03,
  cornerLift: 0.02,
  eyeOpenRight: 0.06,
  eyeOpenLeft: 0.06,
  browRight: 0.03,
  browLeft: 0.03,
};
const EXPRESSION_CUT = 3;

/**
 * Decodes an untrusted reaction (still or animated) with the animation bounds: at most MAX_REACTION_FRAMES
 * frames (later ones dropped) and MAX_REACTION_TOTAL_PIXELS decoded pixels (IMAGE_TOO_LARGE otherwise).
 */
export function decodeReaction(bytes: Uint8Array, limits: DecodeOptions = {}): Promise<DecodedAnimation> {
  return decodeAnimation(bytes, { ...limits, maxFrames: MAX_REACTION_FRAMES, maxTotalPixels: MAX_REACTION_TOTAL_PIXELS });
}

/**
 * A reaction however it came: a picture or animation (decodeReaction), or an MP4/WebM video read by ffmpeg
 * (`ffmpegPath`; none: refused, saying why) with the same bounds. `still`: only the first frame. The one path
 * every entrance reads a reaction by (the bots' workers, `mimic meme` and `mimic morph`).
 */
export async function readReaction(
  bytes: Uint8Array,
  opts: { limits?: DecodeOptions; ffmpegPath?: string | null; still?: boolean; signal?: AbortSignal } = {},
): Promise<DecodedAnimation> {
  const limits = opts.limits ?? {};
  const video = (gif: boolean) =>
    decodeVideoReaction(bytes, opts.ffmpegPath!, {
      maxPixels: limits.maxPixels ?? DEFAULT_MAX_INPUT_PIXELS,
      maxFrames: opts.still ? 1 : MAX_REACTION_FRAMES,
      maxTotalPixels: MAX_REACTION_TOTAL_PIXELS,
      signal: opts.signal,
      gif,
    });
  if (!sniffVideoMime(bytes)) {
    if (opts.still) {
      // An APNG's first frame: its default image, which sharp reads, may be no frame of the animation at all.
      if (apngFrames(bytes) > 1) return decodeAnimation(bytes, { ...limits, maxFrames: 1 });
      const image = await decodeImage(bytes, limits);
      return { frames: [image], delaysMs: [0], width: image.width, height: image.height };
    }
    // Header only; an unreadable file is left to the decoder's own refusal.
    const header = await readHeader(bytes, limits.maxPixels ?? DEFAULT_MAX_INPUT_PIXELS).catch(() => undefined);
    // An animation past the frame bounds (a 10 s reaction is 100–200 frames) is read as a clip is: sampled
    // over its whole length and scaled to fit, where reading its first frames would keep only
    // MAX_REACTION_FRAMES of them or refuse large ones. A GIF by ffmpeg; an APNG or animated WebP (which this
    // ffmpeg does not read) frame by frame.
    const over =
      header !== undefined &&
      header.pages > 1 &&
      (header.pages > MAX_REACTION_FRAMES || header.pages * header.width * header.height > MAX_REACTION_TOTAL_PIXELS);
    if (over && header.format === "gif" && opts.ffmpegPath) return video(true);
    if (over && (header.format === "png" || header.format === "webp")) {
      return decodeAnimation(bytes, { ...limits, maxFrames: MAX_REACTION_FRAMES, maxTotalPixels: MAX_REACTION_TOTAL_PIXELS, sample: true });
    }
    return decodeReaction(bytes, limits);
  }
  if (!opts.ffmpegPath) throw cannotReadVideos();
  return video(false);
}

/** Frames of an animation searched for a face, after its first, where a still is made from it. */
export const STILL_SEARCH_FRAMES = 12;

export interface StillReaction {
  image: RgbImage;
  analysis: FaceAnalysis;
  /** Where a later frame than the first was taken (its first showed no face): that frame's time, ms from the start. */
  laterFrameMs?: number;
}

/**
 * The picture a still is made from: the reaction's first frame, or, where that shows no face (a title card, a
 * fade-in) and the reaction is animated, the first of up to STILL_SEARCH_FRAMES frames spread over the rest that
 * shows one. `read(true)` gives the first frame alone (cheap), `read(false)` every frame: read only on a miss.
 * No face anywhere: the first frame's analysis, for the caller's refusal.
 */
export async function stillReaction(
  read: (still: boolean) => Promise<DecodedAnimation>,
  analyze: (image: RgbImage) => Promise<FaceAnalysis>,
): Promise<StillReaction> {
  const image = (await read(true)).frames[0]!;
  const analysis = await analyze(image);
  if (analysis.faces.length > 0) return { image, analysis };
  const all = await read(false);
  const rest = all.frames.length - 1;
  const step = Math.max(1, rest / STILL_SEARCH_FRAMES);
  for (let k = 1; k <= Math.min(rest, STILL_SEARCH_FRAMES); k++) {
    const i = Math.min(rest, Math.round(k * step));
    const later = await analyze(all.frames[i]!);
    if (later.faces.length > 0) {
      const laterFrameMs = all.delaysMs.slice(0, i).reduce((a, b) => a + b, 0);
      return { image: all.frames[i]!, analysis: later, laterFrameMs };
    }
  }
  return { image, analysis };
}

/** The note a still made from a later frame carries (see stillReaction). */
export const laterFrameNote = (ms: number) =>
  `The animation's first frame shows no face, so the still is made from its frame at ${(ms / 1000).toFixed(1)} s.`;

export interface AnimateReactionInput {
  template: RgbImage;
  templateFace: AnalyzedFace;
  /** Decoded reaction frames (same size) and their display times. */
  frames: RgbImage[];
  delaysMs: number[];
  /** The reaction face in each frame, null where none was found (or it is unusable). */
  faces: (AnalyzedFace | null)[];
  mode?: TransferMode;
  intensity?: number;
  regions?: Regions;
  /** σ in frames (0 = off). */
  smoothing?: number;
}

export interface ReactionSource {
  image: RgbImage;
  face: AnalyzedFace;
  rest?: { image: RgbImage; face: AnalyzedFace };
}

export interface AnimatedReaction {
  frames: RgbImage[];
  /** Each frame's transferred expression as face analysis should read it back (see TransferResult.expression). */
  expressions: Float32Array[];
  delaysMs: number[];
  /** Frames whose own face was used / that borrowed the nearest good frame's face. */
  faceFrames: number;
  carriedFrames: number;
  /** The frames' transfer notes (a face cut off by the picture's edge), each once. */
  notes: string[];
}

/**
 * Transfers every frame's expression onto the template. Reaction landmarks are smoothed over time (a
 * zero-phase Gaussian, cut-aware) so detector jitter does not make the result shimmer; frames where no
 * usable face was found take the nearest good frame's face. A pure function of plain data (worker-safe).
 */
export function animateReaction(input: AnimateReactionInput): AnimatedReaction {
  return runThrough(animateReactionSteps(input));
}

/** animateReaction in steps (src/pipeline/steps.ts): a yield after each frame's transfer. */
export function* animateReactionSteps(input: AnimateReactionInput): Steps<AnimatedReaction> {
  const src = reactionSources(input);
  const results: TransferResult[] = [];
  for (const { image, face, rest } of src.sources) {
    results.push(
      transferExpression({
        template: input.template,
        templateFace: input.templateFace,
        reaction: image,
        reactionFace: face,
        reactionRest: rest?.face.landmarks,
        reactionRestImage: rest?.image,
        mode: input.mode,
        intensity: input.intensity,
        regions: input.regions,
      }),
    );
    yield { made: results.length, of: src.sources.length };
  }
  // Frames cut off for a while are left at rest; none with anything to copy would be the user's photo, still.
  if ((input.mode ?? "mimic") === "mimic" && !results.some((r) => r.copied)) throw nothingCopiedError(input.regions);
  return {
    frames: results.map((r) => r.image),
    expressions: results.map((r) => r.expression),
    delaysMs: input.delaysMs.slice(),
    faceFrames: src.faceFrames,
    carriedFrames: src.carriedFrames,
    notes: [...new Set(results.flatMap((r) => r.notes ?? []))],
  };
}

/**
 * The picture and face each frame's expression comes from (the mesh engine's and the generator's): landmarks
 * smoothed over time; a frame without a usable face borrows the nearest good frame's, picture and all. `rest`:
 * the shot's rest frame, where it has one (see restFrames), the same objects as that frame's own source: the
 * mesh engine reads the mouth's, eyes' and brows' rest from it, the generator moves relative to it.
 */
export function reactionSources(input: Pick<AnimateReactionInput, "templateFace" | "frames" | "delaysMs" | "faces" | "smoothing">): {
  sources: ReactionSource[];
  faceFrames: number;
  carriedFrames: number;
} {
  const n = input.frames.length;
  if (n === 0 || input.faces.length !== n || input.delaysMs.length !== n) {
    throw new MimicError("BAD_INPUT", "The animation has no frames to work with.");
  }
  checkFace(input.templateFace, "template");
  const usable = input.faces.map((f) => (f && isUsable(f) ? f : null));
  const good = usable.flatMap((f, i) => (f ? [i] : []));
  if (good.length === 0) {
    // Faces were found but none could be used (too small, turned away): say why, as a still's refusal does.
    const found = input.faces.find((f) => f !== null);
    if (found) checkFace(found, "reaction");
    throw new MimicError(
      "NO_FACE",
      "No usable face was found in any frame of that animation. Send one where a face looks roughly at the camera.",
    );
  }
  const source = usable.map((f, i) => f ?? usable[nearest(good, i)]!);
  const smoothed = smoothLandmarks(source, input.smoothing ?? DEFAULT_SMOOTHING);
  const rest = restFrames(source, smoothed, usable.map(Boolean));
  const sources: ReactionSource[] = source.map((f, i) => ({ image: input.frames[usable[i] ? i : nearest(good, i)], face: { ...f, landmarks: smoothed[i] } }));
  rest.forEach((r, i) => {
    if (r !== null) sources[i]!.rest = { image: sources[r]!.image, face: sources[r]!.face };
  });
  return { sources, faceFrames: good.length, carriedFrames: n - good.length };
}

function isUsable(f: AnalyzedFace): boolean {
  try {
    checkFace(f, "reaction");
    return true;
  } catch {
    return false;
  }
}

function nearest(sorted: number[], i: number): number {
  let best = sorted[0];
  for (const j of sorted) if (Math.abs(j - i) < Math.abs(best - i)) best = j;
  return best;
}

function centre(f: AnalyzedFace): [number, number, number] {
  return [f.box.x + f.box.width / 2, f.box.y + f.box.height / 2, Math.max(f.box.width, f.box.height)];
}

/**
 * Zero-phase smoothing of each landmark coordinate over time (all frames are known up front, so no lag as with
 * a causal filter): a Gaussian in time times a Tukey weight of how far the two frames' expressions differ
 * (see JITTER). Frames on either side of a cut are never mixed.
 */
export function smoothLandmarks(faces: AnalyzedFace[], sigma: number): Float32Array[] {
  const n = faces.length;
  if (sigma <= 0 || n < 3) return faces.map((f) => f.landmarks);
  const segment = shots(faces);
  const measures = faces.map((f) => measureExpression(f.landmarks));
  const keys = Object.keys(JITTER) as (keyof ExpressionMeasures)[];
  const sameExpression = (a: ExpressionMeasures, b: ExpressionMeasures) => {
    let r = 0;
    for (const k of keys) r = Math.max(r, Math.abs(a[k] - b[k]) / JITTER[k]);
    const u = r / EXPRESSION_CUT;
    return u >= 1 ? 0 : (1 - u * u) ** 2;
  };
  const radius = Math.ceil(2 * sigma);
  const weights = Array.from({ length: 2 * radius + 1 }, (_, k) => Math.exp(-((k - radius) ** 2) / (2 * sigma * sigma)));
  const len = faces[0].landmarks.length;
  return faces.map((_, i) => {
    const out = new Float32Array(len);
    let wsum = 0;
    for (let k = -radius; k <= radius; k++) {
      const j = i + k;
      if (j < 0 || j >= n || segment[j] !== segment[i]) continue;
      const wk = weights[k + radius] * (k === 0 ? 1 : sameExpression(measures[i], measures[j]));
      if (wk === 0) continue;
      const lm = faces[j].landmarks;
      for (let c = 0; c < len; c++) out[c] += lm[c] * wk;
      wsum += wk;
    }
    for (let c = 0; c < len; c++) out[c] /= wsum;
    return out;
  });
}

/** Shot number of each frame: a face centre jumping more than CUT_JUMP × its size between frames starts a new shot. */
function shots(faces: AnalyzedFace[]): Int32Array {
  const segment = new Int32Array(faces.length);
  for (let i = 1; i < faces.length; i++) {
    const [ax, ay, as] = centre(faces[i - 1]);
    const [bx, by] = centre(faces[i]);
    segment[i] = segment[i - 1] + (Math.hypot(bx - ax, by - ay) > CUT_JUMP * as ? 1 : 0);
  }
  return segment;
}

/**
 * For each frame, the index of its shot's rest frame, or null where the shot shows none. An animation often
 * shows its person at rest before (or after) the expression; their own rest mouth, eyes and brows are then known
 * and need not be REACTION_REST's typical ones, which a narrow-mouthed or low-browed person is off by as much as
 * a smile widens a mouth or surprise raises a brow (retargetExpression decides which of them it takes). A rest
 * frame has its own face, its mouth closed (opening within jitter) and its width and corner lift inside the
 * template's rest bands (what may be someone's rest shape at all); of those, the one nearest REACTION_REST in
 * jitter units over every measure.
 */
export function restFrames(faces: AnalyzedFace[], landmarks: Float32Array[], own: boolean[]): (number | null)[] {
  const segment = shots(faces);
  const keys = Object.keys(JITTER) as (keyof ExpressionMeasures)[];
  const typical: ExpressionMeasures = {
    mouthOpen: 0,
    mouthWidth: REACTION_REST.mouthWidth[0],
    cornerLift: REACTION_REST.cornerLift[0],
    eyeOpenRight: REACTION_REST.eyeOpen[0],
    eyeOpenLeft: REACTION_REST.eyeOpen[0],
    browRight: REACTION_REST.brow[0],
    browLeft: REACTION_REST.brow[0],
  };
  const inside = (v: number, band: readonly [number, number]) => v >= band[0] && v <= band[1];
  const best = new Map<number, { i: number; d: number }>();
  landmarks.forEach((lm, i) => {
    if (!own[i]) return;
    const m = measureExpression(lm);
    if (m.mouthOpen > JITTER.mouthOpen || !inside(m.mouthWidth, REST.mouthWidth) || !inside(m.cornerLift, REST.cornerLift)) return;
    let d = 0;
    for (const k of keys) d += Math.abs(m[k] - typical[k]) / JITTER[k];
    const b = best.get(segment[i]);
    if (!b || d < b.d) best.set(segment[i], { i, d });
  });
  return Array.from(segment, (s) => best.get(s)?.i ?? null);
}

/**
 * Finds the reaction face in each frame: the largest face (or the `index`-th largest, 0 = largest) in the first
 * frame that has that many, then in each frame the face nearest the previous one (so a second person walking in
 * does not steal the role). An index no frame has that many faces for is refused, as for a still.
 */
export async function detectReactionFaces(
  frames: RgbImage[],
  index = 0,
  analyzer?: { analyze(img: RgbImage): Promise<FaceAnalysis> },
  signal?: AbortSignal,
): Promise<(AnalyzedFace | null)[]> {
  return (await trackReactionFaces(frames, index, analyzer, signal)).faces;
}

/**
 * detectReactionFaces, and how many faces the frame where the reaction face was chosen shows (0 where no frame
 * shows one): the reply says so where it is more than one (reactionFacesNote). `signal`: looked at before each frame
 * (a 48-frame reaction is seconds of face analysis).
 */
export async function trackReactionFaces(
  frames: RgbImage[],
  index = 0,
  analyzer?: { analyze(img: RgbImage): Promise<FaceAnalysis> },
  signal?: AbortSignal,
): Promise<{ faces: (AnalyzedFace | null)[]; chosenAmong: number }> {
  const faceAnalyzer = analyzer ?? (await getFaceAnalyzer());
  const out: (AnalyzedFace | null)[] = [];
  let prev: AnalyzedFace | null = null;
  let most = 0;
  let chosenAmong = 0;
  for (const f of frames) {
    await checkpoint(signal);
    const { faces } = await faceAnalyzer.analyze(f);
    most = Math.max(most, faces.length);
    if (!prev && faces[index]) chosenAmong = faces.length;
    let pick: AnalyzedFace | null = prev ? (faces[0] ?? null) : (faces[index] ?? null);
    if (prev && faces.length > 1) {
      const [px, py] = centre(prev);
      pick = faces.reduce((a, b) => {
        const [ax, ay] = centre(a);
        const [bx, by] = centre(b);
        return Math.hypot(bx - px, by - py) < Math.hypot(ax - px, ay - py) ? b : a;
      });
    }
    out.push(pick);
    if (pick) prev = pick;
  }
  if (index > 0 && !prev) {
    throw new MimicError(
      "BAD_INPUT",
      `No frame of that animation shows ${index + 1} faces (at most ${most}); face index ${index} does not exist. Pick an index from 0 to ${Math.max(0, most - 1)} (0 is the largest face).`,
      { details: { index, faces: most } },
    );
  }
  return { faces: out, chosenAmong };
}

/**
 * What a reply says where the reaction shows several faces (the bots have no face index to pick another): every
 * reply kind, still or animated, says it in these words.
 */
export const reactionFacesNote = (faces: number): string[] => (faces > 1 ? [`The reaction shows ${faces} faces; I used the largest.`] : []);
