import { encodeWith, KEEP_THRESHOLDS, type EncodeParams } from "../gif/encode.ts";
import { DEFAULT_GIF_MAX_BYTES, encodeGif, type EncodedGif, type EncodeGifOptions } from "../gif/index.ts";
import type { RgbImage } from "../types.ts";

/**
 * The frames laid out again at another size: pictures resized, captions (and the visible mark) drawn anew at
 * that size, as small-caption fitting wants them (bigger emoji, wider word gaps), not shrunk with the pixels.
 */
export type Redraw = (width: number, height: number) => Promise<RgbImage[]>;

/**
 * encodeGif for frames with captions. The encoder stays caption-agnostic: when its budget ladder had to scale
 * the frames, they are drawn again at the size it reached (redraw) and encoded once more with the settings
 * the ladder ended on (its reductions, in order), so size, colours and frames match what it chose. Should the
 * crisper captions take that encode over the budget, the ladder's own result is kept: it fits.
 */
export async function encodeCaptionedGif(frames: RgbImage[], redraw: Redraw | undefined, opts: EncodeGifOptions): Promise<EncodedGif> {
  const laddered = await encodeGif(frames, opts);
  const scaled = laddered.width !== frames[0].width || laddered.height !== frames[0].height;
  if (!redraw || !scaled) return laddered;
  let redrawn = await redraw(laddered.width, laddered.height);
  let delaysMs = frames.map((_, i) => (typeof opts.delaysMs === "number" ? opts.delaysMs : opts.delaysMs[i]));
  const params: EncodeParams = {
    colors: Math.max(2, Math.min(255, Math.floor(opts.maxColors ?? 255))),
    dither: opts.dither ?? false,
    keepThresholdSq: KEEP_THRESHOLDS.standard,
  };
  for (const step of laddered.reductions) {
    const colours = /^(\d+) colours$/.exec(step);
    if (step === "dithering off") params.dither = false;
    else if (step === "lossier frame difference") params.keepThresholdSq = KEEP_THRESHOLDS.lossy;
    else if (colours) params.colors = Number(colours[1]);
    else if (step.startsWith("frames ")) [redrawn, delaysMs] = everyOtherFrame(redrawn, delaysMs);
    else if (!step.startsWith("scaled to ")) return laddered; // a step this replay does not know: keep the ladder's
  }
  const replay = encodeWith(redrawn, delaysMs, params, opts.loop ?? true);
  if (replay.bytes.length > (opts.maxBytes ?? DEFAULT_GIF_MAX_BYTES)) return laddered;
  return { ...laddered, bytes: replay.bytes, frames: replay.frames, colors: replay.colors };
}

/** The encoder's last budget step: every other frame kept, each showing for its dropped neighbour too. */
function everyOtherFrame(frames: RgbImage[], delaysMs: number[]): [RgbImage[], number[]] {
  const kept: RgbImage[] = [];
  const keptDelays: number[] = [];
  for (let i = 0; i < frames.length; i += 2) {
    kept.push(frames[i]);
    keptDelays.push(delaysMs[i] + (i + 1 < frames.length ? delaysMs[i + 1] : 0));
  }
  return [kept, keptDelays];
}
