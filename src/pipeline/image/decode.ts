import sharp from "sharp";
import type { Metadata, OutputInfo, Sharp } from "sharp";
import { damagedFile, emptyFile, MimicError, notAPicture } from "../../errors.ts";
import type { RgbImage } from "../types.ts";
import { DEFAULT_INPUT_LIMITS } from "../settings.ts";
import { animationTooLarge, composeAnimation, displayMs } from "./compose.ts";
import { cropGifScreen, gifCutShort, parseApng, parseWebpAnimation } from "./containers.ts";

/**
 * Decoding of untrusted uploads. Everything a chat user can send lands here first, so every failure
 * becomes a typed MimicError with a message the user can act on, and size limits are checked from the
 * header (sharp's metadata reads no pixels) before a single pixel buffer is allocated.
 */

export interface DecodeOptions {
  /** Refuse images with more pixels than this (default DEFAULT_MAX_INPUT_PIXELS; the app passes MAX_INPUT_PIXELS). */
  maxPixels?: number;
  /** Refuse files larger than this (default DEFAULT_MAX_INPUT_BYTES; the app passes MAX_INPUT_BYTES). */
  maxBytes?: number;
}

export interface AnimationOptions extends DecodeOptions {
  /** Keep at most this many frames (later frames are dropped, not an error). Default 120. */
  maxFrames?: number;
  /** Refuse when width × height × kept frames exceeds this. Default 4 × maxPixels, at most 100 M. */
  maxTotalPixels?: number;
  /**
   * APNG and animated WebP: spread maxFrames over the whole length (its first MAX_SECONDS) and scale the
   * frames down to fit maxTotalPixels, as a clip is read, instead of keeping the first frames and refusing
   * large ones. (A GIF is sampled by ffmpeg: see readReaction.)
   */
  sample?: boolean;
}

export interface DecodedAnimation {
  frames: RgbImage[];
  /** Display time of each frame in milliseconds (browser rule: GIF delays under 20 ms play as 100 ms). */
  delaysMs: number[];
  width: number;
  height: number;
}

/** Formats we accept. SVG is refused: it is a document (fonts, external references), not a photo. */
const ACCEPTED = new Set(["jpeg", "png", "webp", "gif", "tiff", "heif"]);
const FRIENDLY_FORMATS = "JPEG, PNG, WebP or GIF";
/** Flatten transparency onto white, as chat clients display it. */
const WHITE = { r: 255, g: 255, b: 255 };

function checkBytes(bytes: Uint8Array, maxBytes: number): void {
  if (!(bytes instanceof Uint8Array)) {
    throw new MimicError("BAD_INPUT", "No image data was received. Please attach a picture.");
  }
  if (bytes.length === 0) throw emptyFile();
  if (bytes.length > maxBytes) {
    throw new MimicError(
      "IMAGE_TOO_LARGE",
      `That file is too large (${formatMiB(bytes.length)}): the limit is ${formatMiB(maxBytes)}. Please send a smaller picture.`,
      { details: { bytes: bytes.length, maxBytes } },
    );
  }
}

/** "0.3", "4.5", "40": never "0" for a small limit. */
const formatMegapixels = (n: number) => (n / 1e6).toFixed(n < 10e6 ? 1 : 0);
const formatMiB = (n: number) => `${(n / (1024 * 1024)).toFixed(n < 1024 * 1024 ? 2 : 1)} MiB`;

interface HeaderInfo {
  format: string;
  width: number;
  /** Height of one frame (pageHeight for multi-page inputs). */
  height: number;
  pages: number;
  delay?: number[];
  /**
   * A JPEG over the pixel limit that is read scaled down to it (its decoder shrinks while it reads, so the
   * full-size picture is never held): the longest side, upright, that the decoded picture gets.
   */
  shrinkToSide?: number;
}

/**
 * How far over the pixel limit a JPEG may be and still be read, scaled down: a phone's 48–200 MP photo. JPEG
 * alone: its decoder scales as it reads (1/2 to 1/8), where others would hold every pixel first.
 */
const JPEG_SHRINKABLE = 16;

/**
 * The bytes a decoder is given: a GIF's logical screen cut to its frames' area (see cropGifScreen), so a
 * screen claimed far larger than the frames is neither allocated nor read differently by sharp and ffmpeg.
 */
function decodable(bytes: Uint8Array): Uint8Array {
  return bytes.length >= 4 && bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46 ? cropGifScreen(bytes) : bytes;
}

/**
 * Reads only the header (an APNG's frame table too: sharp sees its default image alone). Throws NOT_AN_IMAGE
 * for anything sharp cannot identify or that we do not accept.
 */
export async function readHeader(input: Uint8Array, maxPixels: number): Promise<HeaderInfo> {
  const bytes = decodable(input);
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false, failOn: "none" }).metadata();
  } catch (cause) {
    const logMessage = `image header unreadable: ${(cause as Error)?.message}`;
    // "Unsupported image format": no decoder knows the file. Anything else: one knew its signature but the
    // header is cut short or broken, so it is a damaged picture, not another kind of file.
    throw /unsupported image format/i.test((cause as Error)?.message ?? "") ? notAPicture({ cause, logMessage }) : damagedFile({ cause, logMessage });
  }
  const format = meta.format ?? "unknown";
  if (!ACCEPTED.has(format)) {
    throw new MimicError(
      "NOT_AN_IMAGE",
      `${format.toUpperCase()} files are not supported. Please send a ${FRIENDLY_FORMATS} image.`,
      { details: { format } },
    );
  }
  // sharp reads a GIF cut off mid-frame without complaint (the frames that arrived, the last one part grey).
  if (format === "gif" && gifCutShort(bytes)) throw damagedFile({ logMessage: "GIF cut off inside a frame" });
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width < 1 || height < 1) {
    throw new MimicError("NOT_AN_IMAGE", `That picture has no pixels. Please send a ${FRIENDLY_FORMATS} image.`);
  }
  if (width * height > maxPixels) {
    const pages = Math.max(1, meta.pages ?? 1);
    if (format === "jpeg" && pages === 1 && width * height <= maxPixels * JPEG_SHRINKABLE) {
      const shrinkToSide = Math.floor(Math.max(width, height) * Math.sqrt(maxPixels / (width * height)));
      return { format, width, height, pages, shrinkToSide };
    }
    // As the user sees the picture: a phone photo is stored sideways, with its turn in EXIF.
    const [w, h] = (meta.orientation ?? 1) >= 5 ? [height, width] : [width, height];
    throw new MimicError(
      "IMAGE_TOO_LARGE",
      `That picture is too large (${w}×${h} pixels): the limit is ${formatMegapixels(maxPixels)} megapixels. Please send a smaller picture.`,
      { details: { width: w, height: h, maxPixels } },
    );
  }
  const apng = format === "png" ? parseApng(bytes) : undefined;
  if (apng) return { format, width, height, pages: apng.frames.length, delay: apng.frames.map((f) => Math.round(f.delayMs)) };
  return { format, width, height, pages: Math.max(1, meta.pages ?? 1), delay: meta.delay };
}

/**
 * Decodes one still image to interleaved RGB: EXIF orientation applied, first frame of an animation,
 * transparency flattened onto white, any colour space converted to sRGB.
 */
export async function decodeImage(input: Uint8Array, opts: DecodeOptions = {}): Promise<RgbImage> {
  const limits = DEFAULT_INPUT_LIMITS;
  const maxPixels = opts.maxPixels ?? limits.maxPixels;
  checkBytes(input, opts.maxBytes ?? limits.maxBytes);
  const bytes = decodable(input);
  const header = await readHeader(bytes, maxPixels);
  try {
    const { data, info } = await upright(bytes, header, maxPixels)
      .flatten({ background: WHITE })
      .toColourspace("srgb")
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    // sharp's output buffer is this call's own, sized to the image: an RGB one is used as it is (a copy
    // would only double the allocation, and with it the garbage collector's work, on every request).
    if (info.channels === 3 && data.length === info.width * info.height * 3 && data.byteOffset === 0 && data.buffer.byteLength === data.length) {
      return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
    }
    return toRgb(data, info.width, info.height, info.channels);
  } catch (cause) {
    throw damagedFile({ cause, logMessage: `image decode failed: ${(cause as Error)?.message}` });
  }
}

/**
 * Decodes every frame of an animated GIF / WebP / APNG (a still image gives one frame, EXIF orientation
 * applied). Frames beyond maxFrames are dropped; the total pixel count is bounded before decoding (or, with
 * `sample`, the frames are spread over the whole length and scaled to fit).
 */
export async function decodeAnimation(input: Uint8Array, opts: AnimationOptions = {}): Promise<DecodedAnimation> {
  const limits = DEFAULT_INPUT_LIMITS;
  const maxPixels = opts.maxPixels ?? limits.maxPixels;
  const maxFrames = Math.max(1, Math.floor(opts.maxFrames ?? 120));
  const maxTotalPixels = opts.maxTotalPixels ?? Math.min(4 * maxPixels, 100_000_000);
  checkBytes(input, opts.maxBytes ?? limits.maxBytes);
  const bytes = decodable(input);
  const header = await readHeader(bytes, maxPixels);
  // sharp reads an APNG's default image only, and an animated WebP from its first frame to the last kept.
  const container =
    header.pages < 2 ? undefined
    : header.format === "png" ? parseApng(bytes)
    : header.format === "webp" && opts.sample ? parseWebpAnimation(bytes)
    : undefined;
  if (container) return composeAnimation(container, { maxFrames, maxTotalPixels, sample: opts.sample === true });
  const frameCount = Math.min(header.pages, maxFrames);
  const framePixels = header.width * header.height;
  // A still picture (one frame) is bounded by maxPixels alone, like any still.
  if (frameCount > 1 && framePixels * frameCount > maxTotalPixels) throw animationTooLarge(frameCount, header.width, header.height, maxTotalPixels);
  let raw: { data: Buffer; info: OutputInfo };
  try {
    // limitInputPixels applies to the whole stacked strip here, which we bounded above. A still is turned
    // upright by its EXIF orientation, as decodeImage does (a phone photo is stored sideways).
    raw = await (frameCount === 1 ? upright(bytes, header, framePixels) : sharp(bytes, { limitInputPixels: framePixels * frameCount, failOn: "truncated", pages: frameCount }))
      .flatten({ background: WHITE })
      .toColourspace("srgb")
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (cause) {
    throw damagedFile({ cause, logMessage: `image decode failed: ${(cause as Error)?.message}` });
  }
  const { width, channels } = raw.info;
  const height = frameCount === 1 ? raw.info.height : (raw.info.pageHeight ?? raw.info.height / frameCount);
  const frames: RgbImage[] = [];
  const frameBytes = width * height * channels;
  const decodedFrames = Math.min(frameCount, Math.floor(raw.data.length / frameBytes));
  for (let f = 0; f < decodedFrames; f++) {
    frames.push(toRgb(raw.data.subarray(f * frameBytes, (f + 1) * frameBytes), width, height, channels));
  }
  const delaysMs = frames.map((_, i) => displayMs(header.delay?.[i] ?? 100));
  return { frames, delaysMs, width, height };
}

/**
 * One still picture's decoder, turned upright by its EXIF orientation; a JPEG over the pixel limit scaled down
 * to it as it is read (header.shrinkToSide).
 */
function upright(bytes: Uint8Array, header: HeaderInfo, limitInputPixels: number): Sharp {
  const side = header.shrinkToSide;
  const source = sharp(bytes, { limitInputPixels: side ? header.width * header.height : limitInputPixels, failOn: "truncated", pages: 1 }).rotate();
  return side ? source.resize({ width: side, height: side, fit: "inside" }) : source;
}

/** Copies sharp's output into a tightly packed RGB buffer we own (grey and RGB inputs alike). */
function toRgb(src: Uint8Array, width: number, height: number, channels: number): RgbImage {
  const n = width * height;
  if (channels === 3) return { data: new Uint8Array(src.buffer.slice(src.byteOffset, src.byteOffset + n * 3)), width, height };
  const data = new Uint8Array(n * 3);
  if (channels === 1) {
    for (let i = 0, o = 0; i < n; i++, o += 3) data[o] = data[o + 1] = data[o + 2] = src[i];
  } else {
    for (let i = 0, s = 0, o = 0; i < n; i++, s += channels, o += 3) {
      data[o] = src[s];
      data[o + 1] = src[s + 1];
      data[o + 2] = src[s + 2];
    }
  }
  return { data, width, height };
}
