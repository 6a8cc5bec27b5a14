import type { FaceAnalyzer } from "../face/index.ts";
import { getFaceAnalyzer } from "../face/index.ts";
import { decodeImage } from "../image/index.ts";
import { assembleMeme } from "../meme.ts";
import type { CaptionText } from "../render/index.ts";
import type { InputLimits } from "../settings.ts";
import type { AnalyzedFace, Box, RgbImage, StageTimings } from "../types.ts";
import type { Regions } from "./expression.ts";
import type { TransferMode } from "./transfer.ts";
import { photoFace, selectFace } from "./validate.ts";

export interface MemeOptions {
  mode?: TransferMode;
  intensity?: number;
  regions?: Regions;
  /** Which face of the reaction (0 = largest, the default). The template always uses its largest face. */
  faceIndex?: number;
  /** Meme captions as typed, drawn over the result (prepared once by the assembly). */
  captions?: CaptionText;
  /** Upload guards for both inputs (default: the pipeline's defaults; the CLI passes MAX_INPUT_*). */
  limits?: InputLimits;
  /** PNG zlib level (0–9). Default 6. */
  compressionLevel?: number;
  /** How refusals name the two inputs (e.g. file names); by default "the face photo" / "the reaction image". */
  sources?: { face?: string; reaction?: string };
}

export interface MemeOutput {
  png: Buffer;
  image: RgbImage;
  /** What was changed in the captions to draw them, in words. */
  notes: string[];
  templateFace: AnalyzedFace;
  reactionFace: AnalyzedFace;
  reactionFaceIndex: number;
  reactionFaceCount: number;
  changedBox: Box | null;
  mouthSynthesised: boolean;
  /** decode, analyzeTemplate, analyzeReaction, transfer (and its own stages as transfer.*), caption, encode, total. */
  timingsMs: StageTimings;
}

/**
 * Bytes in, PNG out: decode both images (with the upload guards), analyse them, choose the faces, then the
 * one meme assembly (src/pipeline/meme.ts: transfer, captions, PNG) that the queue's handlers call too.
 * `mimic meme` and the meme benchmark use it.
 */
export async function makeMeme(
  templateBytes: Uint8Array,
  reactionBytes: Uint8Array,
  opts: MemeOptions = {},
  analyzer?: FaceAnalyzer,
): Promise<MemeOutput> {
  const timingsMs: StageTimings = {};
  const t0 = performance.now();
  let t = t0;
  const lap = (name: string) => {
    const now = performance.now();
    timingsMs[name] = now - t;
    t = now;
  };
  const [template, reaction] = await Promise.all([decodeImage(templateBytes, opts.limits), decodeImage(reactionBytes, opts.limits)]);
  lap("decode");
  const fa = analyzer ?? (await getFaceAnalyzer());
  const templateAnalysis = await fa.analyze(template);
  lap("analyzeTemplate");
  const reactionAnalysis = await fa.analyze(reaction);
  lap("analyzeReaction");
  const { face: templateFace, notes: photoNotes } = photoFace(templateAnalysis, opts.sources?.face);
  const reactionFaceIndex = opts.faceIndex ?? 0;
  const reactionFace = selectFace(reactionAnalysis, "reaction", reactionFaceIndex, opts.sources?.reaction);
  const meme = await assembleMeme({
    template,
    templateFace,
    reaction: { frames: [reaction], delaysMs: [0] },
    reactionFaces: [reactionFace],
    captions: opts.captions,
    mode: opts.mode,
    intensity: opts.intensity,
    regions: opts.regions,
    output: { kind: "png", compressionLevel: opts.compressionLevel },
  });
  Object.assign(timingsMs, meme.timingsMs);
  timingsMs.total = performance.now() - t0;
  const still = meme.still!;
  return {
    png: Buffer.from(meme.bytes.buffer, meme.bytes.byteOffset, meme.bytes.length),
    image: still.image,
    notes: [...photoNotes, ...meme.notes],
    templateFace,
    reactionFace,
    reactionFaceIndex,
    reactionFaceCount: reactionAnalysis.faces.length,
    changedBox: still.changedBox,
    mouthSynthesised: still.mouthSynthesised,
    timingsMs,
  };
}
