/**
 * The one meme assembly: an analysed template and reaction in, the finished file out (a PNG, or a GIF / MP4
 * animation), with the expression transferred, the captions prepared once and drawn off the face, and the
 * visible mark. `mimic meme` / `mimic morph` and the queue's handlers all call it; they differ only in how
 * they get their inputs (a photo analysed now, or a saved face with its stored mesh; files or a job).
 */
import { formatSize, MimicError } from "../errors.ts";
import { animatedMemeFrames, type AnimatedMemeResult, type FrameGenerator } from "./animate/meme.ts";
import type { MorphOptions } from "./animate/morph.ts";
import type { OnFrame } from "./steps.ts";
import { resizeImage } from "./image/index.ts";
import { faceAvoidBox, prepareCaptions, renderMeme, type CaptionText } from "./render/index.ts";
import type { Regions } from "./transfer/expression.ts";
import { nothingCopiedError, swapWorkingCopy, transferExpression, type TransferMode } from "./transfer/transfer.ts";
import type { AnalyzedFace, Box, RgbImage, StageTimings } from "./types.ts";
import { encodeAnimation, type AnimationFormat, type EncodedAnimation } from "./video/animation.ts";

export type MemeOutput =
  | {
      kind: "png";
      compressionLevel?: number;
      /** The chat's byte limit: a larger PNG is scaled down until it fits (never below FIT_MIN_SIDE). */
      maxBytes?: number;
      /**
       * A swap's picture is the reaction's: a larger one is shrunk to this longest side before the transfer
       * (swapWorkingCopy: never its face under the transfer's working size).
       */
      swapMaxSide?: number;
    }
  | {
      kind: "animation";
      format: AnimationFormat;
      /** findFfmpeg()'s binary; absent: GIF. */
      ffmpegPath?: string;
      /** The platform's byte limit (default 10 MiB). */
      maxBytes?: number;
      /** The command-line flag that set maxBytes: the notes name it instead of "this chat's" limit. */
      maxBytesFlag?: string;
      morph?: MorphOptions;
      /** Longest side in px (default 384). */
      size?: number;
      dither?: boolean;
      /**
       * Cancellation (a job's): looked at between frames while the frames are made and encoded, the event loop
       * given a turn at each, so a worker hears its cancel message and the assembly throws the signal's reason
       * within about a frame's work (the pool kills a worker whose handler runs past its grace).
       */
      signal?: AbortSignal;
      /** Hears each frame the mesh engine makes: made of total (see AnimatedMemeInput.onFrame). */
      onFrame?: OnFrame;
    };

export interface MemeInput {
  template: RgbImage;
  templateFace: AnalyzedFace;
  /** One frame: a still reaction (a PNG, or a morph into its expression); several: an animation. */
  reaction: { frames: RgbImage[]; delaysMs: number[] };
  /** The reaction's face per frame where the caller chose it (a still's, by face index); animations are tracked here when absent. */
  reactionFaces?: (AnalyzedFace | null)[];
  /** As typed (checked at the front door): prepared here, once. */
  captions?: CaptionText;
  mode?: TransferMode;
  intensity?: number;
  regions?: Regions;
  /** Draw the visible "AI-edited" mark. */
  visibleMark?: boolean;
  output: MemeOutput;
  /**
   * Sees what is about to be drawn on and sent (the NSFW gate's output check): the transferred picture of a
   * PNG, the finished frames of an animation. Throwing stops the assembly.
   */
  check?: (images: RgbImage[]) => Promise<void>;
  /**
   * Another engine for the expression (the LivePortrait generator, src/pipeline/generator), for stills and
   * animations: mimic mode only; absent: the mesh engine.
   */
  generator?: StillGenerator;
}

/** Renders the template wearing each reaction's expression (template-sized images). */
export type StillGenerator = FrameGenerator;

export interface MemeResult {
  bytes: Uint8Array;
  mime: "image/png" | "image/gif" | "video/mp4";
  width: number;
  height: number;
  /** For the user, in words: what was changed in the captions to draw them, what the transfer left out. */
  notes: string[];
  timingsMs: StageTimings;
  /** PNG output: the picture before encoding and what the transfer did. */
  still?: { image: RgbImage; changedBox: Box | null; mouthSynthesised: boolean };
  /** Animation output. */
  animation?: Pick<AnimatedMemeResult, "kind" | "faceFrames" | "carriedFrames"> & { frames: number; colors?: number; reductions: string[] };
}

export async function assembleMeme(input: MemeInput): Promise<MemeResult> {
  const { captions, notes } = prepareCaptions(input.captions ?? {});
  return input.output.kind === "png" ? still(input, input.output, captions, notes) : animation(input, input.output, captions, notes);
}

async function still(input: MemeInput, out: Extract<MemeOutput, { kind: "png" }>, captions: ReturnType<typeof prepareCaptions>["captions"], notes: string[]): Promise<MemeResult> {
  const timingsMs: StageTimings = {};
  const found = input.reactionFaces?.[0];
  if (!found) throw new MimicError("NO_FACE", "No face found in the reaction image. Send one where a face looks roughly at the camera.");
  const t = performance.now();
  const [reaction, reactionFace] = input.mode === "swap" && out.swapMaxSide ? swapWorkingCopy(input.reaction.frames[0]!, found, out.swapMaxSide) : [input.reaction.frames[0]!, found];
  const res =
    input.generator && (input.mode ?? "mimic") === "mimic"
      ? await generated(input.generator, reaction, reactionFace)
      : transferExpression({
          template: input.template,
          templateFace: input.templateFace,
          reaction,
          reactionFace,
          mode: input.mode,
          intensity: input.intensity,
          regions: input.regions,
        });
  timingsMs.transfer = performance.now() - t;
  // Swap still puts the user's face into the reaction's picture; mimic would hand back their own photo.
  if ("copied" in res && !res.copied && (input.mode ?? "mimic") === "mimic") throw nothingCopiedError(input.regions);
  for (const [k, v] of Object.entries(res.timingsMs)) if (k !== "total") timingsMs[`transfer.${k}`] = v;
  notes.push(...(res.notes ?? []));
  await input.check?.([res.image]);
  // Image fractions: the same box however far the picture is shrunk to fit.
  const avoid = faceAvoidBox(res.landmarks, res.image.width, res.image.height);
  const render = async (image: RgbImage) => {
    const spent: StageTimings = {};
    const png = await renderMeme(image, { ...captions, avoid }, { visibleMark: input.visibleMark, compressionLevel: out.compressionLevel, timingsMs: spent });
    for (const [k, v] of Object.entries(spent)) timingsMs[k] = (timingsMs[k] ?? 0) + v;
    return png;
  };
  const { image, png, scale } = await fitToLimit(res.image, render, out.maxBytes);
  if (scale !== 1) notes.push(`The picture was scaled down to ${image.width}×${image.height} to fit this chat's ${formatSize(out.maxBytes!)} limit.`);
  const changedBox = res.changedBox && scale !== 1 ? scaleBox(res.changedBox, scale, image) : res.changedBox;
  return {
    bytes: new Uint8Array(png.buffer, png.byteOffset, png.length),
    mime: "image/png",
    width: image.width,
    height: image.height,
    notes,
    timingsMs,
    still: { image, changedBox, mouthSynthesised: res.mouthSynthesised },
  };
}

/**
 * `image` rendered as a PNG of at most `maxBytes`, shrunk (from the full picture each time) until it fits: a
 * swap's picture is the reaction's size, and a large photo's PNG can be more than the chat takes. Refused after
 * FIT_TRIES shrinks, or where fitting would take it under FIT_MIN_SIDE.
 */
async function fitToLimit(
  image: RgbImage,
  render: (image: RgbImage) => Promise<Buffer>,
  maxBytes: number | undefined,
): Promise<{ image: RgbImage; png: Buffer; scale: number }> {
  let shown = image, scale = 1;
  let png = await render(image);
  for (let tries = 0; maxBytes !== undefined && png.length > maxBytes; tries++) {
    const next = scale * Math.sqrt(maxBytes / png.length) * FIT_MARGIN;
    const width = Math.round(image.width * next), height = Math.round(image.height * next);
    if (tries === FIT_TRIES || Math.max(width, height) < FIT_MIN_SIDE) {
      const over = `The finished picture (${formatSize(png.length)}) is larger than this chat accepts (${formatSize(maxBytes)})`;
      // Said as it happened: a picture the limit would take under FIT_MIN_SIDE is never shrunk at all.
      throw new MimicError(
        "IMAGE_TOO_LARGE",
        tries > 0
          ? `${over}, even scaled down to ${shown.width}×${shown.height}. Please try a smaller reaction image.`
          : `${over}: it would have to shrink below ${FIT_MIN_SIDE} pixels to fit, so this chat's limit is too small for a picture like this.`,
      );
    }
    scale = next;
    shown = resizeImage(image, width, height);
    png = await render(shown);
  }
  return { image: shown, png, scale };
}

/** Each shrink aims this far under the limit (a smaller picture of a photo packs less tightly per pixel). */
const FIT_MARGIN = 0.9;
/** Shrinks tried before a still is refused as too large for the chat. */
const FIT_TRIES = 3;
/** A still is not shrunk below this longest side to fit a chat's limit: smaller, it is refused. */
const FIT_MIN_SIDE = 256;

function scaleBox(b: Box, scale: number, within: RgbImage): Box {
  const x = Math.floor(b.x * scale), y = Math.floor(b.y * scale);
  return {
    x,
    y,
    width: Math.min(within.width, Math.ceil((b.x + b.width) * scale)) - x,
    height: Math.min(within.height, Math.ceil((b.y + b.height) * scale)) - y,
  };
}

async function generated(generator: StillGenerator, image: RgbImage, face: AnalyzedFace) {
  const g = await generator([{ image, face }]);
  // The generator reads the whole face and says nothing of its edges.
  return { image: g.images[0]!, landmarks: g.landmarks, changedBox: g.changedBox, mouthSynthesised: false, notes: [] as string[], timingsMs: g.timingsMs };
}

async function animation(input: MemeInput, out: Extract<MemeOutput, { kind: "animation" }>, captions: ReturnType<typeof prepareCaptions>["captions"], notes: string[]): Promise<MemeResult> {
  const res = await animatedMemeFrames({
    template: input.template,
    templateFace: input.templateFace,
    reaction: input.reaction,
    reactionFaces: input.reactionFaces,
    captions,
    mode: input.mode,
    intensity: input.intensity,
    regions: input.regions,
    morph: out.morph,
    size: out.size,
    visibleMark: input.visibleMark,
    generator: input.generator,
    signal: out.signal,
    onFrame: out.onFrame,
  });
  out.signal?.throwIfAborted();
  await input.check?.(res.frames);
  const t = performance.now();
  const enc = await encodeAnimation(res.frames, {
    delaysMs: res.delaysMs,
    redraw: res.redraw,
    format: out.format,
    maxBytes: out.maxBytes,
    ffmpegPath: out.ffmpegPath,
    dither: out.dither,
    signal: out.signal,
  });
  const timingsMs: StageTimings = { ...res.timingsMs, encode: performance.now() - t };
  timingsMs.total = (timingsMs.total ?? 0) + timingsMs.encode;
  return {
    bytes: enc.bytes,
    mime: enc.mime,
    width: enc.width,
    height: enc.height,
    notes: [...notes, ...res.notes, ...fitNotes(enc, out)],
    timingsMs,
    animation: { kind: res.kind, faceFrames: res.faceFrames, carriedFrames: res.carriedFrames, frames: enc.frames, colors: enc.colors, reductions: enc.reductions },
  };
}

/**
 * What an animation gave up to fit the chat's byte limit, in words for the user (as a still says it was
 * scaled down): sent as a video where the GIF would have lost quality, or made smaller.
 */
function fitNotes(enc: EncodedAnimation, out: Extract<MemeOutput, { kind: "animation" }>): string[] {
  const size = out.maxBytes === undefined ? undefined : formatSize(out.maxBytes);
  const limit = out.maxBytesFlag === undefined ? `this chat's ${size ?? "size"} limit` : `the ${out.maxBytesFlag} limit${size ? ` of ${size}` : ""}`;
  if (out.format === "gif-or-mp4" && enc.mime === "video/mp4") {
    return [`As a GIF it would have lost quality to fit ${limit}, so it comes as a video instead.`];
  }
  if (enc.reductions.length === 0) return [];
  // The steps a user can see (the encoder also lists steps only the bytes show, e.g. dithering off); each kind's last.
  const last = (test: RegExp) => enc.reductions.filter((r) => test.test(r)).at(-1);
  const framesFrom = enc.reductions.find((r) => r.startsWith("frames "))?.match(/^frames (\d+)/)?.[1];
  const framesTo = last(/^frames /)?.match(/→(\d+)$/)?.[1];
  const seen = [last(/^scaled to /), framesTo && `${framesTo} of its ${framesFrom} frames`, last(/ colours$/)].filter(Boolean);
  return [`The animation was made smaller to fit ${limit}${seen.length ? ` (${seen.join(", ")})` : ""}.`];
}
