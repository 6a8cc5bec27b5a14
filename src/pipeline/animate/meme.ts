import { MimicError } from "../../errors.ts";
import { encodeGif, type EncodedGif, type RedrawFrames } from "../gif/index.ts";
import { cropImage, resizeImage } from "../image/index.ts";
import { applyOverlay, faceAvoidBox, renderCaptionOverlay, type MemeCaptions } from "../render/index.ts";
import { renderMemeOverlays } from "../render/meme.ts";
import { nothingCopiedError, swapWorkingCopy, transferExpression, type Regions, type TransferMode } from "../transfer/index.ts";
import type { AnalyzedFace, Box, RgbImage, StageTimings } from "../types.ts";
import { scalePoints } from "./geometry.ts";
import { expressionMorphSteps, morphFaces, type MorphOptions } from "./morph.ts";
import { animateReactionSteps, reactionFacesNote, reactionSources, trackReactionFaces, type ReactionSource } from "./reaction.ts";
import { easeInOut, morphTiming } from "./schedule.ts";
import { checkpoint, mapFrames, runSteps, type OnFrame } from "../steps.ts";

/**
 * Another engine for the expression (the LivePortrait generator, src/pipeline/generator): renders the template
 * wearing each item's expression (template-sized images), all items in one call so the engine batches them.
 */
export type FrameGenerator = (reactions: (ReactionSource & { intensity?: number })[]) => Promise<{
  images: RgbImage[];
  landmarks: Float32Array;
  changedBox: Box | null;
  timingsMs: StageTimings;
}>;

/** Longest side of an animated meme by default: chat previews are ~400 px, and GIF bytes grow with area. */
export const DEFAULT_ANIMATION_SIZE = 384;
/**
 * An animation is at most this many times longer than it is wide (or wider than tall): a more extreme picture
 * is cut to this shape around the face, or scaling its long side to the animation's size leaves the face too
 * small to read the expression.
 */
export const MAX_ANIMATION_ASPECT = 2;

export interface AnimatedMemeInput {
  template: RgbImage;
  templateFace: AnalyzedFace;
  /** One frame (a still reaction: the face morphs into its expression) or an animation's frames. */
  reaction: { frames: RgbImage[]; delaysMs: number[] };
  /** The reaction face per frame; detected here when absent. */
  reactionFaces?: (AnalyzedFace | null)[];
  captions?: MemeCaptions;
  mode?: TransferMode;
  intensity?: number;
  regions?: Regions;
  /** Frames / fps / loop / hold of the morph (still reactions only). */
  morph?: MorphOptions;
  /** Longest side of the GIF in px (default 384; never upscales). */
  size?: number;
  /** Draw the visible "AI-edited" mark on every frame (a per-server setting). */
  visibleMark?: boolean;
  /** The generator for mimic mode (absent: the mesh engine); swap never reaches it (see src/queue/generator.ts). */
  generator?: FrameGenerator;
  /**
   * Cancellation (a job's): looked at between frames of every stage, the event loop given a turn at each so a
   * worker hears its cancel message; once fired, the assembly throws the signal's reason. The generator's one
   * call (FrameGenerator) is not interrupted: the signal is looked at after it.
   */
  signal?: AbortSignal;
  /** Hears each frame the mesh engine makes (a morph's warps, a reaction's per-frame transfers): made of total. */
  onFrame?: OnFrame;
}

export interface AnimatedMemeResult {
  /** morph: still reaction, face animates into the expression; reaction: per-frame transfer of an animation. */
  kind: "morph" | "reaction";
  faceFrames: number;
  carriedFrames: number;
  /** What the transfer says to the user (a reaction's face cut off by its picture's edge). */
  notes: string[];
  timingsMs: StageTimings;
}

export type AnimatedMemeFrames = AnimatedMemeResult & {
  frames: RgbImage[];
  delaysMs: number[];
  /** The same frames laid out at another size (for a GIF budget that scales them: EncodeGifOptions.redraw). */
  redraw: RedrawFrames;
};

/**
 * The captioned frames of an animated meme, before encoding (GIF, or MP4 in src/pipeline/video). The whole
 * animated meme, encoded, is src/pipeline/meme.ts's assembleMeme.
 */
export async function animatedMemeFrames(input: AnimatedMemeInput): Promise<AnimatedMemeFrames> {
  const timingsMs: StageTimings = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timingsMs[name] = now - t;
    t = now;
  };
  const { template, templateFace, reaction, signal } = input;
  if (reaction.frames.length === 0) throw new MimicError("BAD_INPUT", "The reaction has no frames.");
  scaleFor(template, input.size ?? DEFAULT_ANIMATION_SIZE); // validates size before any work
  await checkpoint(signal);
  let frames: RgbImage[];
  let delaysMs: number[];
  let kind: AnimatedMemeResult["kind"];
  let faceFrames = 1;
  let carriedFrames = 0;
  let notes: string[] = [];
  // Faces chosen by the caller come with its own word on them; faces found here, with this note.
  const detected = input.reactionFaces ? undefined : await trackReactionFaces(reaction.frames, 0, undefined, signal);
  const faces = input.reactionFaces ?? detected!.faces;
  const whichFace = reactionFacesNote(detected?.chosenAmong ?? 0);
  lap("detect");
  const generator = (input.mode ?? "mimic") === "mimic" ? input.generator : undefined;
  let generatorTimings: StageTimings = {};
  // Where a swap's frames were cut from the reaction's (mimic frames use templateView).
  let avoidView: Box | null = null;
  // Mimic frames are the template's: an extreme photo, or one whose face is small, is cut around its face.
  const templateView = faceView(template.width, template.height, [templateFace.landmarks], input.size);
  const fitTemplate = (imgs: RgbImage[]) => fitFrames(imgs.map((f) => viewOf(f, templateView)), input.size ?? DEFAULT_ANIMATION_SIZE, signal);
  if (generator && reaction.frames.length === 1) {
    // The generator renders each step of the morph itself (the expression at the step's eased share of the
    // intensity), every distinct step in one call; the first frame is the template exactly.
    kind = "morph";
    const face = faces[0];
    if (!face) throw new MimicError("NO_FACE", "No face found in the reaction image. Send one where a face looks roughly at the camera.");
    const timing = morphTiming(input.morph?.frames, input.morph?.loop, input.morph?.fps, input.morph?.holdMs);
    const steps = [...new Set(timing.t.map(easeInOut))].filter((e) => e > 0);
    const g = await generator(steps.map((e) => ({ image: reaction.frames[0], face, intensity: e * (input.intensity ?? 1) })));
    await checkpoint(signal);
    lap("transfer");
    const byStep = new Map(steps.map((e, i) => [e, g.images[i]!]));
    frames = await fitTemplate(timing.t.map((t) => byStep.get(easeInOut(t)) ?? template));
    delaysMs = timing.delaysMs;
    generatorTimings = g.timingsMs;
    lap("resize");
  } else if (generator) {
    // Every frame of the animation in one generator call (the engine batches them per onnxruntime call).
    kind = "reaction";
    const src = reactionSources({ templateFace, frames: reaction.frames, delaysMs: reaction.delaysMs, faces });
    const g = await generator(src.sources);
    await checkpoint(signal);
    lap("transfer");
    frames = await fitTemplate(g.images);
    delaysMs = reaction.delaysMs.slice();
    faceFrames = src.faceFrames;
    carriedFrames = src.carriedFrames;
    generatorTimings = g.timingsMs;
    lap("resize");
  } else if (reaction.frames.length === 1) {
    kind = "morph";
    const face = faces[0];
    if (!face) {
      throw new MimicError("NO_FACE", "No face found in the reaction image. Send one where a face looks roughly at the camera.");
    }
    const mode = input.mode ?? "mimic";
    // swap: the morph is drawn at the animation's size, so the reaction is swapped at twice that, not at a
    // phone photo's full size.
    const [still, stillFace] = mode === "swap" ? swapWorkingCopy(reaction.frames[0], face, 2 * (input.size ?? DEFAULT_ANIMATION_SIZE)) : [reaction.frames[0], face];
    const result = transferExpression({
      template,
      templateFace,
      reaction: still,
      reactionFace: stillFace,
      mode,
      intensity: input.intensity,
      regions: input.regions,
    });
    await checkpoint(signal);
    lap("transfer");
    // A morph from the user's face to itself: nothing to animate.
    if (!result.copied && mode === "mimic") throw nothingCopiedError(input.regions);
    notes = result.notes ?? [];
    // mimic: the user's photo moves into the reaction's expression. swap: the reaction's face turns into
    // the user's (reaction-framed; the residual texture fade carries the identity change).
    const whole = mode === "swap" ? still : template;
    const wholeLandmarks = mode === "swap" ? stillFace.landmarks : templateFace.landmarks;
    const view = faceView(whole.width, whole.height, [wholeLandmarks], input.size);
    const start = viewOf(whole, view);
    const startLandmarks = landmarksIn(wholeLandmarks, view);
    if (mode === "swap") avoidView = view;
    const sk = scaleFor(start, input.size ?? DEFAULT_ANIMATION_SIZE);
    const sw = Math.max(1, Math.round(start.width * sk));
    const sh = Math.max(1, Math.round(start.height * sk));
    const fit = (img: RgbImage) => (sk === 1 ? img : resizeImage(img, sw, sh));
    const m = await runSteps(
      expressionMorphSteps({
        template: fit(start),
        from: scalePoints(startLandmarks, sk),
        result: fit(viewOf(result.image, view)),
        to: scalePoints(landmarksIn(result.landmarks, view), sk),
        ...input.morph,
      }),
      signal,
      input.onFrame,
    );
    frames = m.frames;
    delaysMs = m.delaysMs;
    lap("morph");
  } else {
    kind = "reaction";
    const r = await runSteps(
      animateReactionSteps({
        template,
        templateFace,
        frames: reaction.frames,
        delaysMs: reaction.delaysMs,
        faces,
        mode: input.mode,
        intensity: input.intensity,
        regions: input.regions,
      }),
      signal,
      input.onFrame,
    );
    lap("transfer");
    // swap output is reaction-sized: cut around the reaction's faces and scaled by its own size.
    const swapped = (input.mode ?? "mimic") === "swap";
    const view = swapped
      ? faceView(r.frames[0].width, r.frames[0].height, faces.filter((f): f is AnalyzedFace => f !== null).map((f) => f.landmarks), input.size)
      : templateView;
    if (swapped) avoidView = view;
    frames = await fitFrames(r.frames.map((f) => viewOf(f, view)), input.size ?? DEFAULT_ANIMATION_SIZE, signal);
    delaysMs = r.delaysMs;
    faceFrames = r.faceFrames;
    carriedFrames = r.carriedFrames;
    notes = r.notes;
    lap("resize");
  }
  const captions = input.captions && { avoid: avoidOf(input, faces, templateView, avoidView), ...input.captions };
  // The label keeps off the face in every frame: its corner is chosen once, so it never jumps.
  const markFace = input.visibleMark ? markFaceOf(input, faces, templateView, avoidView) : undefined;
  // Captions and mark are drawn for the size they are seen at: redraw lays them out again at another size.
  const pictures = frames;
  const dressed = async (plain: RgbImage[]) => {
    if (!input.visibleMark) return captionFrames(plain, captions, signal);
    const o = await renderMemeOverlays(plain[0].width, plain[0].height, captions ?? {}, { visibleMark: true, face: markFace });
    return mapFrames(plain, (f) => applyOverlay(o.captions.inkBox ? applyOverlay(f, o.captions) : f, o.mark!), signal);
  };
  const redraw: RedrawFrames = async (width, height) => dressed(await resizedFrames(pictures, width, height, signal));
  frames = await dressed(pictures);
  lap("captions");
  timingsMs.total = Object.values(timingsMs).reduce((s, v) => s + v, 0);
  // The generator's own stages, inside "transfer" (after the total, so they are not counted twice).
  for (const [k, v] of Object.entries(generatorTimings)) if (k !== "total") timingsMs[`transfer.${k}`] = v;
  return { frames, delaysMs, redraw, kind, faceFrames, carriedFrames, notes: [...whichFace, ...notes], timingsMs };
}

/**
 * The face captions keep off: the template's (mimic frames are the template's), or the reaction's first (swap),
 * inside the part of the picture the frames show.
 */
function avoidOf(input: AnimatedMemeInput, faces: (AnalyzedFace | null)[], templateView: Box | null, swapView: Box | null): MemeCaptions["avoid"] {
  const inView = (lm: Float32Array, w: number, h: number, view: Box | null) =>
    faceAvoidBox(landmarksIn(lm, view), view ? view.width : w, view ? view.height : h);
  if ((input.mode ?? "mimic") === "mimic") return inView(input.templateFace.landmarks, input.template.width, input.template.height, templateView);
  const i = faces.findIndex((f) => f !== null);
  if (i < 0) return undefined;
  const f = input.reaction.frames[i];
  return inView(faces[i]!.landmarks, f.width, f.height, swapView);
}

/**
 * The face the visible mark keeps off (image fractions of the frames): avoidOf's for mimic (the template's face)
 * and a swapped still; for a swapped animation, the box around the reaction's faces in all its frames.
 */
function markFaceOf(input: AnimatedMemeInput, faces: (AnalyzedFace | null)[], templateView: Box | null, swapView: Box | null): MemeCaptions["avoid"] {
  const first = avoidOf(input, faces, templateView, swapView);
  if ((input.mode ?? "mimic") === "mimic" || input.reaction.frames.length === 1 || !first) return first;
  let x0 = first.x, y0 = first.y, x1 = first.x + first.width, y1 = first.y + first.height;
  faces.forEach((f, i) => {
    if (!f) return;
    const img = input.reaction.frames[i];
    const b = faceAvoidBox(landmarksIn(f.landmarks, swapView), swapView ? swapView.width : img.width, swapView ? swapView.height : img.height);
    x0 = Math.min(x0, b.x);
    y0 = Math.min(y0, b.y);
    x1 = Math.max(x1, b.x + b.width);
    y1 = Math.max(y1, b.y + b.height);
  });
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * The faces' least size in an animation, as a share of its longest side (96 px at 384): a big photo or a long
 * screenshot scaled whole to the animation's size leaves a face a few pixels wide, its expression unseen.
 */
const MIN_FACE_SHARE = 0.25;

/**
 * The part of a width × height picture an animation of longest side `size` shows: null (all of it) where that
 * keeps the faces at least MIN_FACE_SHARE and the shape within MAX_ANIMATION_ASPECT; else the picture's shape
 * (within that aspect), as large as it may be, around the faces (with a margin) and clamped to the picture. A
 * view is never cut below `size`: animations are not enlarged, so a smaller one would gain the face nothing.
 */
export function faceView(width: number, height: number, landmarks: Float32Array[], size = DEFAULT_ANIMATION_SIZE): Box | null {
  if (landmarks.length === 0) return null;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const lm of landmarks) {
    for (let i = 0; i + 1 < lm.length; i += 3) {
      x0 = Math.min(x0, lm[i]);
      x1 = Math.max(x1, lm[i]);
      y0 = Math.min(y0, lm[i + 1]);
      y1 = Math.max(y1, lm[i + 1]);
    }
  }
  const aspect = Math.min(MAX_ANIMATION_ASPECT, Math.max(1 / MAX_ANIMATION_ASPECT, width / height));
  // The largest view of that shape the picture holds.
  let vw = Math.min(width, height * aspect);
  let vh = vw / aspect;
  // The view's long side at most the faces' size / MIN_FACE_SHARE, yet never so small that it cuts the faces
  // (each of them in every frame, with a tenth either side).
  const faceSide = Math.max(x1 - x0, y1 - y0);
  const long = Math.max(vw, vh);
  const k = Math.min(1, Math.max(faceSide / MIN_FACE_SHARE / long, size / long, (1.2 * (x1 - x0)) / vw, (1.2 * (y1 - y0)) / vh));
  vw = Math.min(width, Math.round(vw * k));
  vh = Math.min(height, Math.round(vh * k));
  if (vw >= width && vh >= height) return null;
  const clamp = (v: number, hi: number) => Math.round(Math.min(Math.max(0, v), hi));
  return { x: clamp((x0 + x1) / 2 - vw / 2, width - vw), y: clamp((y0 + y1) / 2 - vh / 2, height - vh), width: vw, height: vh };
}

const viewOf = (img: RgbImage, view: Box | null): RgbImage => (view ? cropImage(img, view) : img);

function landmarksIn(lm: Float32Array, view: Box | null): Float32Array {
  if (!view) return lm;
  const out = Float32Array.from(lm);
  for (let i = 0; i < out.length; i += 3) {
    out[i] -= view.x;
    out[i + 1] -= view.y;
  }
  return out;
}

/** Scales frames (all one size) so their longest side is at most `size` (the signal looked at after each). */
async function fitFrames(frames: RgbImage[], size: number, signal?: AbortSignal): Promise<RgbImage[]> {
  const k = scaleFor(frames[0], size);
  if (k === 1) return frames;
  const w = Math.max(1, Math.round(frames[0].width * k));
  const h = Math.max(1, Math.round(frames[0].height * k));
  return mapFrames(frames, (f) => resizeImage(f, w, h), signal);
}

const resizedFrames = async (frames: RgbImage[], width: number, height: number, signal?: AbortSignal) =>
  frames[0].width === width && frames[0].height === height ? frames : mapFrames(frames, (f) => resizeImage(f, width, height), signal);

/** Draws the same captions on every frame (rendered once; the signal looked at after each frame). */
export async function captionFrames(frames: RgbImage[], captions?: MemeCaptions, signal?: AbortSignal): Promise<RgbImage[]> {
  if (!captions || frames.length === 0) return frames;
  const overlay = await renderCaptionOverlay(frames[0].width, frames[0].height, captions);
  return overlay.inkBox ? mapFrames(frames, (f) => applyOverlay(f, overlay), signal) : frames;
}

export interface FaceMorphGifInput {
  a: RgbImage;
  aFace: AnalyzedFace;
  b: RgbImage;
  bFace: AnalyzedFace;
  morph?: MorphOptions;
  size?: number;
  captions?: MemeCaptions;
  maxBytes?: number;
  dither?: boolean;
}

/** The classic two-face morph (two templates, or template and reaction face) as a GIF in a's frame. */
export async function renderFaceMorphGif(input: FaceMorphGifInput): Promise<{ gif: EncodedGif; timingsMs: StageTimings }> {
  const t0 = performance.now();
  const size = input.size ?? DEFAULT_ANIMATION_SIZE;
  // a's frame, cut around its face where that face would be too small (or the photo too long).
  const view = faceView(input.a.width, input.a.height, [input.aFace.landmarks], size);
  const whole = viewOf(input.a, view);
  const k = scaleFor(whole, size);
  const a = k === 1 ? whole : resizeImage(whole, Math.max(1, Math.round(whole.width * k)), Math.max(1, Math.round(whole.height * k)));
  const m = morphFaces({ a, aLandmarks: scalePoints(landmarksIn(input.aFace.landmarks, view), k), b: input.b, bLandmarks: input.bFace.landmarks, ...input.morph });
  const t1 = performance.now();
  const frames = await captionFrames(m.frames, input.captions);
  // Scaled to fit maxBytes, the captions are drawn again at the size reached (not shrunk with the pixels).
  const redraw: RedrawFrames = async (width, height) => captionFrames(await resizedFrames(m.frames, width, height), input.captions);
  const gif = await encodeGif(frames, { delaysMs: m.delaysMs, loop: true, maxBytes: input.maxBytes, dither: input.dither, redraw });
  const t2 = performance.now();
  return { gif, timingsMs: { morph: t1 - t0, encode: t2 - t1, total: t2 - t0 } };
}

function scaleFor(img: RgbImage, size: number): number {
  if (!Number.isFinite(size) || size < 16) throw new MimicError("BAD_INPUT", `The animation size must be at least 16 px (got ${size}).`);
  return Math.min(1, size / Math.max(img.width, img.height));
}
