import type { FaceAnalyzer } from "../face/index.ts";
import { getFaceAnalyzer } from "../face/index.ts";
import { decodeImage, encodePng } from "../image/index.ts";
import { applyOverlay, faceAvoidBox, renderCaptionOverlay, type MemeCaptions } from "../render/index.ts";
import type { AnalyzedFace, Box, RgbImage, StageTimings } from "../types.ts";
import type { Regions } from "./expression.ts";
import { transferExpression, type TransferMode } from "./transfer.ts";
import { selectFace } from "./validate.ts";

export interface MemeOptions {
  mode?: TransferMode;
  intensity?: number;
  regions?: Regions;
  /** Which face of the reaction (0 = largest, the default). The template always uses its largest face. */
  faceIndex?: number;
  /** Meme captions drawn over the result (src/pipeline/render). */
  captions?: MemeCaptions;
  /** PNG zlib level (0–9). Default 6. */
  compressionLevel?: number;
  /** How refusals name the two inputs (e.g. file names); by default "the face photo" / "the reaction image". */
  sources?: { face?: string; reaction?: string };
}

export interface MemeOutput {
  png: Buffer;
  image: RgbImage;
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
 * Bytes in, PNG out: decode both images (with the upload guards), analyse them, transfer the expression,
 * draw the captions, encode. The building block of `mimic meme` and the meme benchmark; the bots run the same stages through
 * the inference queue.
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
  const [template, reaction] = await Promise.all([decodeImage(templateBytes), decodeImage(reactionBytes)]);
  lap("decode");
  const fa = analyzer ?? (await getFaceAnalyzer());
  const templateAnalysis = await fa.analyze(template);
  lap("analyzeTemplate");
  const reactionAnalysis = await fa.analyze(reaction);
  lap("analyzeReaction");
  const templateFace = selectFace(templateAnalysis, "photo", undefined, opts.sources?.face);
  const reactionFaceIndex = opts.faceIndex ?? 0;
  const reactionFace = selectFace(reactionAnalysis, "reaction", reactionFaceIndex, opts.sources?.reaction);
  const res = transferExpression({
    template,
    templateFace,
    reaction,
    reactionFace,
    mode: opts.mode,
    intensity: opts.intensity,
    regions: opts.regions,
  });
  lap("transfer");
  for (const [k, v] of Object.entries(res.timingsMs)) if (k !== "total") timingsMs[`transfer.${k}`] = v;
  let image = res.image;
  const c = opts.captions;
  if (c && (c.top?.trim() || c.bottom?.trim() || c.boxes?.some((b) => b.text.trim()))) {
    const avoid = faceAvoidBox(res.landmarks, image.width, image.height);
    image = applyOverlay(image, await renderCaptionOverlay(image.width, image.height, { avoid, ...c }));
    lap("caption");
  }
  const png = await encodePng(image, { compressionLevel: opts.compressionLevel });
  lap("encode");
  timingsMs.total = performance.now() - t0;
  return {
    png,
    image,
    templateFace,
    reactionFace,
    reactionFaceIndex,
    reactionFaceCount: reactionAnalysis.faces.length,
    changedBox: res.changedBox,
    mouthSynthesised: res.mouthSynthesised,
    timingsMs,
  };
}
