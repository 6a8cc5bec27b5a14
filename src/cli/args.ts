import { constants } from "node:fs";
import { access, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { loadConfig, modelCacheDir } from "../config.ts";
import { parseMemeRequest, type MemeRequest } from "../requests.ts";
import { MimicError, quoted } from "../errors.ts";
import type { DecodedAnimation } from "../pipeline/image/decode.ts";
import type { InputLimits } from "../pipeline/settings.ts";

/**
 * Flag checks shared by the subcommands: commander parses, these validate, and every refusal is a
 * BAD_INPUT MimicError naming the flag and the value (the CLI exits 2 on those).
 */
export function choice<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new MimicError("BAD_INPUT", `${flag} must be one of ${allowed.join(", ")} (got ${quoted(value)}).`);
}

export function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
    throw new MimicError("BAD_INPUT", `${flag} must be a whole number from ${min} to ${max} (got ${quoted(value)}).`);
  }
  return n;
}

/**
 * Reads an input picture; `what` names it in the error ("--face", or nothing for a positional argument).
 * The file then passes the same door as a chat upload (src/core/input.ts): MAX_INPUT_BYTES, and only
 * JPEG, PNG, WebP or GIF, with the same words as the bots and the playground.
 */
export async function readInputFile(file: string, what?: string, allowVideo = false): Promise<Uint8Array> {
  const limitBytes = loadConfig().MAX_INPUT_BYTES;
  const bytes = await readPictureFile(file, limitBytes, what);
  // Loaded once there is a file to look at (core/input.ts loads sharp): a missing one is refused without it.
  const { loadImage } = await import("../core/input.ts");
  const checked = await loadImage({ kind: "bytes", bytes }, { limitBytes, allowVideo });
  return checked.bytes;
}

/**
 * readCappedFile for a picture: an empty file is refused naming it (a command reads two: which one?), as a
 * path that names no picture, like a missing one (exit 2).
 */
export async function readPictureFile(file: string, limitBytes: number, what?: string): Promise<Uint8Array> {
  const bytes = await readCappedFile(file, limitBytes, what);
  if (bytes.length === 0) throw new MimicError("BAD_INPUT", `Cannot use ${labelOf(file, what)}: the file is empty (0 bytes), so there is no picture in it.`);
  return bytes;
}

const labelOf = (file: string, what?: string) => (what ? `${what} ${quoted(file)}` : quoted(file));

/** What went wrong with a path, in words, from the system's error code (ENOENT and the like). */
export function pathProblem(cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return "there is no such file";
    case "EISDIR":
      return "it is a folder, not a file";
    case "ENOTDIR":
      return "a part of its path is a file, not a folder";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ELOOP":
      return "its path goes round in a loop of links";
    case "ENAMETOOLONG":
      return "the name is too long";
    case "EROFS":
      return "it is on a read-only disk";
    case "ENOSPC":
      return "the disk is full";
    default:
      return code ? `the system refused it (${code})` : "it could not be read";
  }
}

/**
 * The size of a regular file, checked before anything reads it: a missing path, a folder, a device or a pipe
 * (which would be read for ever) is refused at once, in words. `kind` says what was expected ("a picture file").
 */
export async function regularFileSize(file: string, what?: string, kind = "a picture file"): Promise<number> {
  const label = labelOf(file, what);
  let info;
  try {
    info = await stat(file);
  } catch (cause) {
    throw new MimicError("BAD_INPUT", `Cannot read ${label}: ${pathProblem(cause)}.`, { cause });
  }
  if (info.isDirectory()) throw new MimicError("BAD_INPUT", `Cannot read ${label}: it is a folder, not ${kind}.`);
  if (!info.isFile()) throw new MimicError("BAD_INPUT", `Cannot read ${label}: it is not a regular file (a device, a pipe or a socket).`);
  return info.size;
}

/**
 * A file's bytes, its size checked before it is read: a disk image or a device named by mistake is refused
 * at once instead of being read whole into memory (MAX_INPUT_BYTES, the upload limit, applies to files too).
 * `tooBig` words the refusal of a file over `limitBytes` (default: the upload limit's words).
 */
export async function readCappedFile(
  file: string,
  limitBytes: number,
  what?: string,
  opts: { kind?: string; tooBig?: (bytes: number) => MimicError } = {},
): Promise<Uint8Array> {
  const size = await regularFileSize(file, what, opts.kind);
  if (size > limitBytes) throw opts.tooBig ? opts.tooBig(size) : (await import("../core/input.ts")).tooLarge(size, limitBytes);
  try {
    const b = await readFile(file);
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  } catch (cause) {
    throw new MimicError("BAD_INPUT", `Cannot read ${labelOf(file, what)}: ${pathProblem(cause)}.`, { cause });
  }
}

/**
 * Refuses an output path before the work it would hold is done: its folder must exist and take new files,
 * and the path must not be a folder, a device or a pipe (a write to those fails or blocks after the work).
 */
export async function checkOutputFile(file: string, flag = "--out"): Promise<void> {
  const label = `${flag} ${quoted(file)}`;
  const folder = dirname(resolve(file));
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory()) throw new MimicError("BAD_INPUT", `Cannot write ${label}: it is a folder; name a file in it.`);
  if (existing && !existing.isFile()) throw new MimicError("BAD_INPUT", `Cannot write ${label}: it is not a regular file (a device, a pipe or a socket).`);
  const parent = await stat(folder).catch((cause: unknown) => cause as NodeJS.ErrnoException);
  if (parent instanceof Error) {
    const why = parent.code === "ENOENT" ? `the folder ${folder} does not exist` : `its folder ${folder} cannot be used (${pathProblem(parent)})`;
    throw new MimicError("BAD_INPUT", `Cannot write ${label}: ${why}.`, { cause: parent });
  }
  if (!parent.isDirectory()) throw new MimicError("BAD_INPUT", `Cannot write ${label}: ${folder} is a file, not a folder.`);
  try {
    await access(existing ? file : folder, constants.W_OK);
  } catch (cause) {
    const where = existing ? "the file is read-only for you" : `you may not write in the folder ${folder}`;
    throw new MimicError("BAD_INPUT", `Cannot write ${label}: ${where}.`, { cause });
  }
}

/** Writes the finished output (checked beforehand by checkOutputFile); a failure now is told in words. */
export async function writeOutputFile(file: string, bytes: Uint8Array, flag = "--out"): Promise<void> {
  try {
    await writeFile(file, bytes);
  } catch (cause) {
    // Checked before the work: a folder missing now was removed meanwhile.
    const why = (cause as NodeJS.ErrnoException).code === "ENOENT" ? `the folder ${dirname(resolve(file))} no longer exists` : pathProblem(cause);
    throw new MimicError("BAD_INPUT", `Cannot write ${flag} ${quoted(file)}: ${why}.`, { cause });
  }
}

/** Captions and the other request fields through the front door's parser (flag names in its messages). */
export function memeRequestFromFlags(flags: { top?: string; bottom?: string; mode?: string; regions?: string; intensity?: string; keepCase?: boolean }): MemeRequest {
  return parseMemeRequest(flags, { top: "--top", bottom: "--bottom", mode: "--mode", regions: "--regions", intensity: "--intensity", keepCase: "--keep-case" });
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
