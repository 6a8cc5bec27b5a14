import { logger } from "../../logger.ts";
import { encodeGif, type RedrawFrames } from "../gif/index.ts";
import type { RgbImage } from "../types.ts";
import { encodeMp4 } from "./mp4.ts";

/**
 * Which file an animation becomes:
 * - "gif": always a GIF;
 * - "mp4": H.264 MP4 where an ffmpeg binary exists (Telegram: clients play animations as MP4 anyway), else GIF;
 * - "gif-or-mp4": a GIF, unless it had to give up quality or frames to fit the budget: then the MP4 of the
 *   same frames (Discord shows both inline).
 */
export type AnimationFormat = "gif" | "mp4" | "gif-or-mp4";
export const ANIMATION_FORMATS: readonly AnimationFormat[] = ["gif", "mp4", "gif-or-mp4"];

export interface EncodedAnimation {
  bytes: Uint8Array;
  mime: "image/gif" | "video/mp4";
  width: number;
  height: number;
  /** Frames written (a GIF merges unchanged frames into the previous one's delay). */
  frames: number;
  /** Colours in a GIF's global palette. */
  colors?: number;
  /** What was given up to fit maxBytes (GIF or video steps). */
  reductions: string[];
}

export interface EncodeAnimationOptions {
  delaysMs: number[];
  format: AnimationFormat;
  maxBytes?: number;
  /** findFfmpeg(); undefined = no binary on this platform → GIF. */
  ffmpegPath?: string;
  dither?: boolean;
  /** Draws the frames again at another size (captions laid out there): used when the GIF must be scaled to fit. */
  redraw?: RedrawFrames;
  timeoutMs?: number;
  /** Cancellation: the GIF encoder looks at it between frames, ffmpeg is killed; either throws its reason. */
  signal?: AbortSignal;
}

export async function encodeAnimation(frames: RgbImage[], opts: EncodeAnimationOptions): Promise<EncodedAnimation> {
  const asGif = async () => {
    const g = await encodeGif(frames, { delaysMs: opts.delaysMs, loop: true, maxBytes: opts.maxBytes, dither: opts.dither, redraw: opts.redraw, signal: opts.signal });
    return { bytes: g.bytes, mime: "image/gif" as const, width: g.width, height: g.height, frames: g.frames, colors: g.colors, reductions: g.reductions };
  };
  const asMp4 = async () => {
    if (!opts.ffmpegPath) return undefined;
    try {
      const v = await encodeMp4(frames, { delaysMs: opts.delaysMs, ffmpegPath: opts.ffmpegPath, maxBytes: opts.maxBytes, timeoutMs: opts.timeoutMs, signal: opts.signal });
      return { bytes: v.bytes, mime: "video/mp4" as const, width: v.width, height: v.height, frames: frames.length, reductions: v.reductions };
    } catch (err) {
      opts.signal?.throwIfAborted();
      // A broken or missing binary must not cost the user the animation: the GIF still works everywhere.
      logger.warn({ err }, "mp4 encode failed; sending a GIF");
      return undefined;
    }
  };
  if (opts.format === "mp4") return (await asMp4()) ?? asGif();
  const gif = await asGif();
  if (opts.format === "gif" || gif.reductions.length === 0) return gif;
  return (await asMp4()) ?? gif;
}
