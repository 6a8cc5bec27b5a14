import { readFile, stat } from "node:fs/promises";
import { loadConfig, modelCacheDir } from "../config.ts";
import { loadImage, tooLarge } from "../core/input.ts";
import { parseMemeRequest, type MemeRequest } from "../requests.ts";
import { MimicError } from "../errors.ts";
import type { DecodedAnimation } from "../pipeline/image/decode.ts";
import type { InputLimits } from "../pipeline/settings.ts";

/**
 * Flag checks shared by the subcommands: commander parses, these validate, and every refusal is a
 * BAD_INPUT MimicError naming the flag and the value (the CLI exits 2 on those).
 */
export function choice<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new MimicError("BAD_INPUT", `${flag} must be one of ${allowed.join(", ")} (got "${value}").`);
}

export function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
    throw new MimicError("BAD_INPUT", `${flag} must be a whole number from ${min} to ${max} (got "${value}").`);
  }
  return n;
}

/** A file the user named, quoted as refusals show it. */
export const named = (file: string) => `“${file}”`;

/**
 * Reads an input picture; `what` names it in the error ("--face", or nothing for a positional argument).
 * The file then passes the same door as a chat upload (src/core/input.ts): MAX_INPUT_BYTES, and only
 * JPEG, PNG, WebP or GIF, with the same words as the bots and the playground.
 */
export async function readInputFile(file: string, what?: string, allowVideo = false): Promise<Uint8Array> {
  const limitBytes = loadConfig().MAX_INPUT_BYTES;
  const checked = await loadImage({ kind: "bytes", bytes: await readCappedFile(file, limitBytes, what) }, { limitBytes, allowVideo });
  return checked.bytes;
}

/**
 * A file's bytes, its size checked before it is read: a disk image or a device named by mistake is refused
 * at once instead of being read whole into memory (MAX_INPUT_BYTES, the upload limit, applies to files too).
 */
export async function readCappedFile(file: string, limitBytes: number, what?: string): Promise<Uint8Array> {
  const label = what ? `${what} "${file}"` : `"${file}"`;
  const cannot = (cause: unknown) =>
    new MimicError("BAD_INPUT", `Cannot read ${label}: ${(cause as NodeJS.ErrnoException).code ?? "error"}.`, { cause });
  let info;
  try {
    info = await stat(file);
  } catch (cause) {
    throw cannot(cause);
  }
  if (info.isDirectory()) throw new MimicError("BAD_INPUT", `Cannot read ${label}: it is a folder, not a picture file.`);
  if (!info.isFile()) throw new MimicError("BAD_INPUT", `Cannot read ${label}: it is not a regular file (a device, a pipe or a socket).`);
  if (info.size > limitBytes) throw tooLarge(info.size, limitBytes);
  try {
    const b = await readFile(file);
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  } catch (cause) {
    throw cannot(cause);
  }
}

/** Captions and the other request fields through the front door's parser (flag names in its messages). */
export function memeRequestFromFlags(flags: { top?: string; bottom?: string; mode?: string; regions?: string; intensity?: string }): MemeRequest {
  return parseMemeRequest(flags, { top: "--top", bottom: "--bottom", mode: "--mode", regions: "--regions", intensity: "--intensity" });
}

/** What the assembly changed in the captions to draw them, on stderr (the picture goes to a file). */
export function printNotes(notes: string[]): void {
  for (const n of notes) process.stderr.write(`note: ${n}\n`);
}

/**
 * The face analyzer with the configuration's onnxruntime options (ORT_EXECUTION_PROVIDER, ORT_THREADS): the
 * pipeline reads no environment, so each command that analyses faces starts it this way, first.
 */
export async function configuredAnalyzer() {
  const c = loadConfig();
  const { getFaceAnalyzer } = await import("../pipeline/face/index.ts");
  return getFaceAnalyzer({ provider: c.ORT_EXECUTION_PROVIDER, threads: c.ORT_THREADS, modelCacheDir: modelCacheDir(c) });
}

/** Upload guards from the configuration (MAX_INPUT_*), as the bots' workers apply them. */
export function inputLimits(): { maxPixels: number; maxBytes: number } {
  const c = loadConfig();
  return { maxPixels: c.MAX_INPUT_PIXELS, maxBytes: c.MAX_INPUT_BYTES };
}

/**
 * A reaction file's frames (readReaction): a video goes through the configured ffmpeg (FFMPEG_PATH). The
 * pipeline's modules load here, not with every command.
 */
export async function readReactionFrames(bytes: Uint8Array, limits: InputLimits, still = false): Promise<DecodedAnimation> {
  const [{ readReaction }, { findFfmpeg }] = await Promise.all([import("../pipeline/animate/index.ts"), import("../pipeline/video/ffmpeg.ts")]);
  return readReaction(bytes, { limits, ffmpegPath: findFfmpeg(loadConfig().FFMPEG_PATH), still });
}
