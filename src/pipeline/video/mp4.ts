import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MimicError } from "../../errors.ts";
import type { RgbImage } from "../types.ts";
import { addMp4Provenance } from "../provenance/marks.ts";
import { runFfmpeg } from "./ffmpeg.ts";

export interface EncodeMp4Options {
  /** Display time per frame (one value for all, or one per frame), milliseconds. */
  delaysMs: number[] | number;
  /** The ffmpeg binary (findFfmpeg()). */
  ffmpegPath: string;
  /** Byte budget: met by raising the CRF in steps; beyond the last step the encode fails. */
  maxBytes?: number;
  /** x264 constant rate factor of the first attempt (lower = better). */
  crf?: number;
  /** Each ffmpeg run is killed after this long (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface EncodedMp4 {
  bytes: Uint8Array;
  width: number;
  height: number;
  /** Frames in the video (a frame shown for several ticks is repeated; x264 stores repeats as skips). */
  frames: number;
  fps: number;
  crf: number;
  /** What was given up to meet maxBytes; empty when the first encode fitted. */
  reductions: string[];
}

/** Default CRF: at least the GIF encoder's SSIM on both bench morphs (bench/README.md, "MP4 vs GIF"). */
export const DEFAULT_MP4_CRF = 20;
const CRF_STEP = 6;
const MAX_CRF = 41;
/** Frame rate ceiling: delays shorter than 20 ms are not shown faithfully by players anyway. */
const MAX_FPS = 50;
/** Input bounds: a job handing over more than this is a bug or an attack, not an animation. */
export const MAX_VIDEO_FRAMES = 1500;
export const MAX_VIDEO_SIDE = 4096;
export const MAX_VIDEO_TOTAL_PIXELS = 150_000_000;
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Frame rate and how many ticks each frame is shown, from per-frame delays. Ticks are rounded on the running
 * total (as the GIF encoder's centiseconds are), so rounding errors do not add up: 30/30/40 ms frames at 33 fps
 * rounded one by one played 9 % fast, 20/30 ms ones 20 % slow.
 */
export function frameTiming(delaysMs: number[]): { fps: number; repeats: number[] } {
  const shortest = Math.max(1000 / MAX_FPS, Math.min(...delaysMs.map((d) => (d > 0 ? d : 100))));
  const fps = Math.min(MAX_FPS, Math.max(1, Math.round(1000 / shortest)));
  let t = 0;
  let shown = 0;
  const repeats = delaysMs.map((d) => {
    t += d > 0 ? d : 100;
    const ticks = Math.max(1, Math.round((t * fps) / 1000) - shown);
    shown += ticks;
    return ticks;
  });
  return { fps, repeats };
}

/**
 * Silent H.264 MP4 (yuv420p, BT.709, faststart) as Telegram's sendAnimation and browsers play it, with the
 * provenance marks (src/pipeline/provenance).
 * Odd sizes lose their last row/column (4:2:0 needs even sides).
 */
export async function encodeMp4(frames: RgbImage[], opts: EncodeMp4Options): Promise<EncodedMp4> {
  if (frames.length === 0) throw new MimicError("BAD_INPUT", "The animation has no frames.");
  const { width, height } = frames[0];
  if (frames.some((f) => f.width !== width || f.height !== height || f.data.length !== width * height * 3)) {
    throw new MimicError("BAD_INPUT", "The animation's frames differ in size.");
  }
  if (width < 2 || height < 2 || width > MAX_VIDEO_SIDE || height > MAX_VIDEO_SIDE) {
    throw new MimicError("IMAGE_TOO_LARGE", `The animation is ${width}×${height} px; a video may be 2 to ${MAX_VIDEO_SIDE} px a side.`);
  }
  const delays = Array.isArray(opts.delaysMs) ? opts.delaysMs : frames.map(() => opts.delaysMs as number);
  if (delays.length !== frames.length) throw new MimicError("BAD_INPUT", "Each frame needs a delay.");
  const { fps, repeats } = frameTiming(delays);
  const total = repeats.reduce((s, r) => s + r, 0);
  if (total > MAX_VIDEO_FRAMES || total * width * height > MAX_VIDEO_TOTAL_PIXELS) {
    throw new MimicError("IMAGE_TOO_LARGE", "The animation is too long to turn into a video.", {
      logMessage: `mp4 input of ${total} frames of ${width}×${height}`,
    });
  }
  const outW = width & ~1;
  const outH = height & ~1;
  const dir = await mkdtemp(join(tmpdir(), "mimic-mp4-"));
  try {
    const reductions: string[] = [];
    let crf = opts.crf ?? DEFAULT_MP4_CRF;
    for (;;) {
      const out = join(dir, `crf${crf}.mp4`);
      await runFfmpeg(opts.ffmpegPath, mp4Args(width, height, fps, crf, out), {
        stdin: rawFrames(frames, repeats),
        timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        signal: opts.signal,
      });
      // The AI-edit marks (XMP in a trailing uuid box) count against the budget like any other byte.
      const bytes = new Uint8Array(addMp4Provenance(await readFile(out)));
      if (opts.maxBytes === undefined || bytes.byteLength <= opts.maxBytes) {
        return { bytes, width: outW, height: outH, frames: total, fps, crf, reductions };
      }
      if (crf + CRF_STEP > MAX_CRF) {
        throw new MimicError("IMAGE_TOO_LARGE", "The animation does not fit this chat's file size limit, even as a video.", {
          logMessage: `mp4 of ${bytes.byteLength} bytes at crf ${crf} over ${opts.maxBytes}`,
        });
      }
      crf += CRF_STEP;
      reductions.push(`crf ${crf}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function mp4Args(width: number, height: number, fps: number, crf: number, out: string): string[] {
  return [
    "-hide_banner", "-loglevel", "error", "-y",
    "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", `${width}x${height}`, "-framerate", String(fps), "-i", "pipe:0",
    "-an",
    "-vf", "crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
    "-c:v", "libx264", "-preset", "medium", "-crf", String(crf), "-profile:v", "high",
    "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
    // One job per core in the worker pool: x264's own threads would only oversubscribe.
    "-threads", "1",
    "-movflags", "+faststart", "-f", "mp4", out,
  ];
}

function* rawFrames(frames: RgbImage[], repeats: number[]): Generator<Uint8Array> {
  for (let i = 0; i < frames.length; i++) for (let r = 0; r < repeats[i]; r++) yield frames[i].data;
}

export interface DecodedVideo {
  codec: string;
  width: number;
  height: number;
  frames: RgbImage[];
}

/** Decodes a video to RGB frames with the same ffmpeg (tests and the bench check what was sent). */
export async function decodeVideo(bytes: Uint8Array, ffmpegPath: string, opts: { timeoutMs?: number; maxFrames?: number } = {}): Promise<DecodedVideo> {
  const dir = await mkdtemp(join(tmpdir(), "mimic-mp4-"));
  try {
    const input = join(dir, "in");
    await writeFile(input, bytes);
    // Without an output ffmpeg exits 1 after printing the stream's description.
    const info = await runFfmpeg(ffmpegPath, ["-hide_banner", "-i", input], { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS }).catch((e: unknown) =>
      e instanceof MimicError ? { stderr: e.message, stdout: Buffer.alloc(0) } : Promise.reject(e),
    );
    const m = info.stderr.match(/Video: (\w+)[^\n]*?, (\d+)x(\d+)/);
    if (!m) throw new MimicError("NOT_AN_IMAGE", "That is not a video.", { logMessage: info.stderr.slice(-500) });
    const width = Number(m[2]);
    const height = Number(m[3]);
    const maxFrames = opts.maxFrames ?? MAX_VIDEO_FRAMES;
    const { stdout } = await runFfmpeg(ffmpegPath, ["-hide_banner", "-loglevel", "error", "-i", input, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], {
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxStdoutBytes: maxFrames * width * height * 3,
    });
    const size = width * height * 3;
    const frames: RgbImage[] = [];
    for (let o = 0; o + size <= stdout.length; o += size) frames.push({ width, height, data: new Uint8Array(stdout.subarray(o, o + size)) });
    return { codec: m[1], width, height, frames };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
