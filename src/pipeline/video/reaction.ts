import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acceptedFiles, damagedFile, MimicError } from "../../errors.ts";
import { MAX_DECODE_PIXELS, MAX_SECONDS } from "../image/compose.ts";
import { cropGifScreen, gifLayout } from "../image/containers.ts";
import type { DecodedAnimation } from "../image/decode.ts";
import type { RgbImage } from "../types.ts";
import { runFfmpeg } from "./ffmpeg.ts";

/** Video reactions: Telegram turns GIFs into silent MP4, Discord's GIF picker sends MP4 or WebM. */
export type VideoMime = "video/mp4" | "video/webm";

/** The ffmpeg demuxer each sniffed container is read with: nothing else gets to parse the file. */
const DEMUXER: Record<VideoMime | "image/gif", string> = { "video/mp4": "mov", "video/webm": "matroska", "image/gif": "gif" };
/** The fastest a reaction's frames are sampled (frames per second). */
const MAX_FPS = 25;
const DEFAULT_TIMEOUT_MS = 30_000;

/** ISO-BMFF brands of still pictures (AVIF, HEIC/HEIF): the same container as MP4, not a video. */
const IMAGE_BRANDS = new Set(["avif", "avis", "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"]);

/** MP4 (an ISO-BMFF "ftyp" box first, not a picture's brand) or WebM/Matroska (EBML header), from the bytes alone. */
export function sniffVideoMime(bytes: Uint8Array): VideoMime | undefined {
  if (bytes.length >= 12 && bytes[4] === 0x66 && bytes[5] === 0x74 && bytes[6] === 0x79 && bytes[7] === 0x70) {
    return IMAGE_BRANDS.has(String.fromCharCode(...bytes.subarray(8, 12))) ? undefined : "video/mp4";
  }
  if (bytes.length >= 4 && bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return "video/webm";
  return undefined;
}

export interface VideoReactionOptions {
  /** Refuse videos whose frames have more pixels than this. */
  maxPixels: number;
  /** Keep at most this many frames: a longer clip is sampled more sparsely, not cut. */
  maxFrames: number;
  /** Frames are scaled down until width × height × frames fits this. */
  maxTotalPixels: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * A GIF read like a video (readReaction does so for one longer or larger than the frame bounds): sampled over
   * its whole length and scaled, where sharp's reader would keep only its first frames or refuse it.
   */
  gif?: boolean;
}

/**
 * Where no ffmpeg binary is configured (FFMPEG_PATH=none, or none ships for the platform). Telegram sends every
 * GIF as a clip, so "send a GIF" is no advice there: a still picture is what works on every platform.
 */
export const cannotReadVideos = () =>
  new MimicError("NOT_AN_IMAGE", "This Mimic cannot read clips (it has no ffmpeg), and GIFs sent in a chat often arrive as clips. Please send a photo or another still picture instead.");

/**
 * How long the first video stream runs, in seconds (0 if it cannot be told), from the packet-copy pass's
 * report: the container's duration is not it where a sound track runs longer, and a browser-recorded WebM
 * has none.
 */
function videoSeconds(stderr: string, fps: number): number {
  // Frames over the rate, or the last packet's time (plus that frame's) where that is later: the time stops a
  // reordered frame or two short of the end, while a GIF's or a variable-rate clip's frames do not all last 1/fps.
  const frames = Number([...stderr.matchAll(/frame=\s*(\d+)/g)].at(-1)?.[1] ?? 0);
  const t = [...stderr.matchAll(/time=(\d+):(\d+):(\d+(?:\.\d+)?)/g)].at(-1);
  const lastPacket = t ? Number(t[1]) * 3600 + Number(t[2]) * 60 + Number(t[3]) : 0;
  return Math.max(frames > 0 && fps > 0 ? frames / fps : 0, lastPacket > 0 && fps > 0 ? lastPacket + 1 / fps : lastPacket);
}

/** libvpx's decoders, which read a WebM's alpha track (ffmpeg's own VP8/VP9 decoders drop it), by codec. */
const ALPHA_DECODERS: Record<string, string> = { vp8: "libvpx", vp9: "libvpx-vp9" };

/** Whether the video stream described at `at` in ffmpeg's report carries alpha (its metadata, up to the next stream). */
function hasAlpha(stderr: string, at: number): boolean {
  const rest = stderr.slice(at);
  const next = rest.slice(1).search(/Stream #/);
  return /alpha_mode\s*:\s*1/.test(next < 0 ? rest : rest.slice(0, next + 1));
}

/** RGBA flattened onto white, as chat clients show a sticker (and as transparent GIFs and WebPs are read). */
function onWhite(rgba: Uint8Array): Uint8Array {
  const out = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
    const a = rgba[i + 3]!, white = 255 * (255 - a) + 127;
    out[o] = (rgba[i]! * a + white) / 255;
    out[o + 1] = (rgba[i + 1]! * a + white) / 255;
    out[o + 2] = (rgba[i + 2]! * a + white) / 255;
  }
  return out;
}

/** What the user sent, in the words of a refusal: a GIF read like a video is still a GIF to them. */
type Kind = "GIF" | "video";

/** ffmpeg's own timeout and output cap speak of making a video; here one is being read. */
const readingFailure = (e: unknown, kind: Kind) =>
  e instanceof MimicError && e.code === "TIMEOUT"
    ? new MimicError("TIMEOUT", `Reading that ${kind} took too long. Please send a shorter or smaller one.`, { cause: e, details: { stage: "read" } })
    : e instanceof MimicError && e.code === "IMAGE_TOO_LARGE" && kind === "GIF"
      ? new MimicError("IMAGE_TOO_LARGE", "That GIF is too large to read. Please send a shorter or smaller one.", { cause: e })
      : e;

/** A file ffmpeg could not read: in the words every decoder uses (a GIF is a file, not a "video", to its sender). */
const unreadable = (kind: Kind, cause?: unknown) => damagedFile({ cause, logMessage: `${kind} unreadable by ffmpeg: ${(cause as Error)?.message ?? "no frames"}` });

/** ffmpeg's GIF reader plays a delay under its minimum as its default one (centiseconds). */
const ffmpegGifDelayCs = (cs: number) => (cs < 2 ? 10 : cs);

/**
 * How far into a GIF (seconds) ffmpeg may read within MAX_DECODE_PIXELS: it draws every frame onto the whole
 * screen, and a small file can hold hundreds of large frames. Infinity where the whole GIF fits.
 */
function gifBudgetSeconds(bytes: Uint8Array): number {
  const layout = gifLayout(bytes);
  if (!layout) return Infinity;
  const fit = Math.max(1, Math.floor(MAX_DECODE_PIXELS / Math.max(1, layout.width * layout.height)));
  if (layout.frames.length <= fit) return Infinity;
  let cs = 0;
  for (let i = 0; i < fit; i++) cs += ffmpegGifDelayCs(layout.frames[i]!.delayCs);
  return cs / 100;
}

/**
 * A video reaction as frames and display times, read by ffmpeg: its whole length sampled evenly into at most
 * `maxFrames` frames (at most MAX_FPS a second), scaled down to fit `maxTotalPixels`; sound is ignored.
 */
export async function decodeVideoReaction(input: Uint8Array, ffmpegPath: string, opts: VideoReactionOptions): Promise<DecodedAnimation> {
  const gif = opts.gif === true;
  const kind: Kind = gif ? "GIF" : "video";
  const mime = gif ? "image/gif" : sniffVideoMime(input);
  if (!mime) throw unreadable(kind);
  // ffmpeg allocates and scales a GIF's whole logical screen: it reads the frames' area instead.
  const bytes = gif ? cropGifScreen(input) : input;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const dir = await mkdtemp(join(tmpdir(), "mimic-video-"));
  try {
    const input = join(dir, "in");
    await writeFile(input, bytes);
    const source = ["-hide_banner", "-f", DEMUXER[mime], "-i", input];
    // One pass that decodes nothing: ffmpeg describes the streams, then copies the first video stream's packets
    // to nowhere and counts them. A file it cannot copy still has its description in the error.
    const info = await runFfmpeg(ffmpegPath, [...source, "-map", "0:v:0", "-c", "copy", "-f", "null", "-"], { timeoutMs, signal: opts.signal }).catch((e: unknown) =>
      e instanceof MimicError && e.code === "INTERNAL" ? { stderr: e.message } : Promise.reject(readingFailure(e, kind)),
    );
    // The first video stream is the one read (-map 0:v:0 below): a second, larger one must not slip past the size check.
    const stream = info.stderr.match(/Video: (\w+)[^\n]*?, (\d+)x(\d+)/);
    if (!stream) {
      throw /Audio: /.test(info.stderr)
        ? new MimicError("NOT_AN_IMAGE", `That file has sound but no picture. Please send ${acceptedFiles(true)}.`)
        : unreadable(kind, new Error(info.stderr.slice(-300)));
    }
    // A phone's portrait clip is stored landscape with a rotation that ffmpeg applies as it decodes.
    const rotation = Math.abs(Number(info.stderr.match(/rotate\s*:\s*(-?\d+)/)?.[1] ?? info.stderr.match(/rotation of (-?[\d.]+) degrees/)?.[1] ?? 0)) % 180;
    const [width, height] = rotation === 90 ? [Number(stream[3]), Number(stream[2])] : [Number(stream[2]), Number(stream[3])];
    if (width * height > opts.maxPixels) {
      throw new MimicError("IMAGE_TOO_LARGE", `That ${kind} is too large (${width}×${height}). Please send a smaller one.`, {
        details: { width, height, maxPixels: opts.maxPixels },
      });
    }
    // A reaction is a moment: a longer clip is read over its first MAX_SECONDS, not spread thin over minutes.
    const sourceFps = Number(info.stderr.match(/(\d+(?:\.\d+)?) fps/)?.[1] ?? MAX_FPS);
    const seconds = Math.min(MAX_SECONDS, gif ? gifBudgetSeconds(bytes) : Infinity, videoSeconds(info.stderr, sourceFps));
    const fps = Math.max(0.1, Math.min(sourceFps || MAX_FPS, MAX_FPS, seconds > 0 ? opts.maxFrames / seconds : MAX_FPS));
    const frames = Math.max(1, Math.min(opts.maxFrames, seconds > 0 ? Math.ceil(seconds * fps) : opts.maxFrames));
    const shrink = Math.min(1, Math.sqrt(opts.maxTotalPixels / frames / (width * height)));
    const w = Math.max(2, 2 * Math.floor((width * shrink) / 2)), h = Math.max(2, 2 * Math.floor((height * shrink) / 2));
    // A transparent WebM (Telegram's video stickers) keeps its alpha only through libvpx's own decoders.
    const alphaDecoder = mime === "video/webm" && hasAlpha(info.stderr, stream.index!) ? ALPHA_DECODERS[stream[1]!] : undefined;
    // A GIF's transparent pixels come as alpha from ffmpeg's own decoder: flattened onto white like the rest.
    const channels = alphaDecoder || mime === "image/gif" ? 4 : 3;
    const { stdout } = await runFfmpeg(
      ffmpegPath,
      // One frame is the clip's first: resampling to a rate under one frame per clip would pick one from its middle.
      [...(alphaDecoder ? ["-c:v", alphaDecoder] : []), ...source.slice(1), "-loglevel", "error", "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", `${frames > 1 ? `fps=${fps.toFixed(4)},` : ""}scale=${w}:${h}:flags=area`, "-frames:v", String(frames), "-f", "rawvideo", "-pix_fmt", channels === 4 ? "rgba" : "rgb24", "pipe:1"],
      { timeoutMs, signal: opts.signal, maxStdoutBytes: opts.maxFrames * w * h * channels },
    ).catch((e: unknown) => Promise.reject(e instanceof MimicError && e.code === "INTERNAL" ? unreadable(kind, e) : readingFailure(e, kind)));
    const size = w * h * channels;
    const out: RgbImage[] = [];
    for (let o = 0; o + size <= stdout.length; o += size) {
      const frame = stdout.subarray(o, o + size);
      out.push({ width: w, height: h, data: channels === 4 ? onWhite(frame) : new Uint8Array(frame) });
    }
    if (out.length === 0) throw unreadable(kind);
    return { frames: out, delaysMs: out.map(() => Math.round(1000 / fps)), width: w, height: h };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
