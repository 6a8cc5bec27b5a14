import sharp from "sharp";
import { damagedFile, emptyFile, formatSize, MimicError, notAPicture } from "../errors.ts";
import type { ImageInput } from "./context.ts";
import { apngFrames, gifCutShort } from "../pipeline/image/containers.ts";
import { sniffVideoMime } from "../pipeline/video/reaction.ts";
import type { EncodedImage } from "./ports.ts";

/**
 * Fetching and first checks of user images, shared by every adapter. Sizes are enforced BEFORE bytes
 * arrive where possible (the platform's declared size, then Content-Length) and while streaming
 * otherwise, so a lying server or a huge file never fills memory.
 */

export type FetchLike = (url: string, init: { headers?: Record<string, string>; signal?: AbortSignal }) => Promise<Response>;

export function tooLarge(bytes: number, limit: number): MimicError {
  // A size read off a stream cut at the limit, or one just over it, would print as the limit itself.
  const size = formatSize(bytes);
  const over = size === formatSize(limit) ? "larger than the limit of" : `too large (${size}): the limit is`;
  return new MimicError("IMAGE_TOO_LARGE", `That file is ${over} ${formatSize(limit)}. Please send a smaller picture.`, { details: { bytes, limit } });
}

/** Image type from the first bytes; the declared type of a chat upload is not trusted. */
export function sniffImageMime(bytes: Uint8Array): string | undefined {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "image/png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (b.length >= 6 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) return "image/gif";
  if (b.length >= 12 && ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 4) === "WEBP") return "image/webp";
  if (isAvif(ftypBrands(b))) return "image/avif";
  return undefined;
}

/**
 * Whether a declared type is one the core reads (the pictures sniffImageMime knows, and the clips the worker's
 * ffmpeg reads; QuickTime is an MP4-family container): adapters choosing among attachments prefer these.
 */
export function readableMime(declared: string): boolean {
  return /^(image\/(png|jpe?g|gif|webp|avif)|video\/(mp4|webm|quicktime))$/i.test(declared.split(";")[0]!.trim());
}

/** File name endings of the types readableMime accepts. */
const READABLE_NAME = /\.(png|jpe?g|gif|webp|avif|mp4|webm|mov)(\?|$)/i;

/** A declared type that says nothing of the content (none, application/octet-stream): the bytes decide (sniffImageMime). */
export function untypedMime(declared: string | null | undefined): boolean {
  const mime = (declared ?? "").split(";")[0]!.trim().toLowerCase();
  return mime === "" || mime === "application/octet-stream" || mime === "binary/octet-stream";
}

/**
 * Whether a file a platform describes is one the core reads: by its declared type, or, where that type says
 * nothing (none, application/octet-stream: a "x.jpg" some apps upload so), by its name or URL. The bytes are
 * sniffed either way; adapters choosing among a message's files prefer these.
 */
export function readableFile(file: { mime?: string | null; name?: string }): boolean {
  return untypedMime(file.mime) ? READABLE_NAME.test(file.name ?? "") : readableMime(file.mime!);
}

const ascii = (b: Uint8Array, start: number, len: number) => String.fromCharCode(...b.subarray(start, start + len));

/**
 * A clip where a face photo is wanted. Telegram sends every GIF as a clip (MP4), so "send a GIF" would be
 * advice its users cannot follow: a photo is what works everywhere.
 */
export const clipAsFace = () =>
  new MimicError("NOT_AN_IMAGE", "A face must be a still picture, and that file is a clip (chat apps send GIFs as clips too). Please send a still photo of your face.");

/**
 * Bytes gathered into one buffer as they arrive: each chunk is copied once, when it arrives, into a buffer sized
 * from the length the sender declared (grown by doubling, up to `max`, where it declared none or too little), and
 * the result is a view of that buffer, not a copy: joining the chunks at the end copied a big photo in one piece,
 * holding the event loop (bench/README.md, "Playground, big photos").
 */
export class ByteGatherer {
  private buf: Uint8Array | undefined;
  private size = 0;
  /** `expected`: the declared length (NaN where none); `max`: the most bytes that will be pushed. */
  constructor(
    private readonly expected: number,
    private readonly max: number,
  ) {}

  get length(): number {
    return this.size;
  }

  push(chunk: Uint8Array): void {
    const need = this.size + chunk.byteLength;
    if (!this.buf || need > this.buf.byteLength) {
      const first = Number.isFinite(this.expected) && this.expected > 0 ? Math.min(this.expected, this.max) : 1 << 20;
      const grown = new Uint8Array(Math.max(need, Math.min(this.max, this.buf ? this.buf.byteLength * 2 : first)));
      if (this.buf) grown.set(this.buf.subarray(0, this.size));
      this.buf = grown;
    }
    this.buf.set(chunk, this.size);
    this.size = need;
  }

  /**
   * What has arrived: a view of the one buffer. Where that buffer is much larger than what arrived (no length
   * declared, or a compressed body), a compact copy instead: a view carries its whole buffer where it is
   * serialised (the Redis queue's jobs), and its unused part would count against QUEUE_MAX_PAYLOAD_BYTES.
   */
  bytes(): Uint8Array {
    if (!this.buf) return new Uint8Array(0);
    const view = this.buf.subarray(0, this.size);
    return this.buf.byteLength - this.size > (64 << 10) + this.size / 16 ? view.slice() : view;
  }

  drop(): void {
    this.buf = undefined;
    this.size = 0;
  }
}

/** Bytes copied between two turns of the event loop while a download is read (chunks already buffered arrive without one). */
const COPY_PER_TURN = 1 << 20;

/** Reads a Response body, aborting as soon as more than `limit` bytes have arrived. */
async function readLimited(res: Response, limit: number, abort: AbortController): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    abort.abort();
    throw tooLarge(declared, limit);
  }
  if (!res.body) return new Uint8Array(0);
  // A compressed body may be longer than its Content-Length: the gatherer grows then.
  const out = new ByteGatherer(declared, limit);
  let sinceTurn = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (out.length + value.byteLength > limit) {
      const total = out.length + value.byteLength;
      out.drop();
      abort.abort();
      await reader.cancel().catch(() => undefined);
      throw tooLarge(total, limit);
    }
    out.push(value);
    sinceTurn += value.byteLength;
    if (sinceTurn >= COPY_PER_TURN) {
      sinceTurn = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return out.bytes();
}

export interface LoadImageOptions {
  limitBytes: number;
  fetch?: FetchLike;
  signal?: AbortSignal;
  /** Whole-download deadline (default 30 s). */
  timeoutMs?: number;
  /** A reaction may be a video (MP4 or WebM: Telegram's and Discord's GIFs); a face to save may not. */
  allowVideo?: boolean;
}

/** Turns an ImageInput into checked bytes + sniffed mime, or throws a friendly MimicError. */
export async function loadImage(input: ImageInput, opts: LoadImageOptions): Promise<EncodedImage> {
  const { limitBytes } = opts;
  let bytes: Uint8Array;
  if (input.kind === "bytes") {
    if (input.bytes.byteLength > limitBytes) throw tooLarge(input.bytes.byteLength, limitBytes);
    // Not copied: nothing here or in the queue writes to a job's bytes (the queue hands them to its worker
    // processes through a file or the IPC pipe, which leaves them as they are), and a big upload's copy holds the loop.
    bytes = input.bytes;
  } else {
    if (input.declaredSize !== undefined && input.declaredSize > limitBytes) throw tooLarge(input.declaredSize, limitBytes);
    refuseByDeclaredType(input, opts.allowVideo);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), opts.timeoutMs ?? 30_000);
    const onOuterAbort = () => abort.abort();
    opts.signal?.addEventListener("abort", onOuterAbort, { once: true });
    try {
      const doFetch: FetchLike = opts.fetch ?? ((url, init) => fetch(url, init));
      let res: Response;
      let url = "";
      try {
        url = typeof input.url === "string" ? input.url : await input.url();
        res = await doFetch(url, { headers: input.headers, signal: abort.signal });
      } catch (cause) {
        // The adapter's own verdict on the file (e.g. Telegram's "file is too big" for a bot) stands as it is.
        if (cause instanceof MimicError) throw cause;
        throw new MimicError("BAD_INPUT", "I could not download that picture. Please send it again.", { cause });
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        throw new MimicError("BAD_INPUT", "I could not download that picture (it may have been deleted). Please send it again.", {
          logMessage: `download failed: HTTP ${res.status} ${url.replace(/bot[^/]+\//, "bot***/")}`,
        });
      }
      bytes = await readLimited(res, limitBytes, abort);
    } catch (e) {
      if (e instanceof MimicError) throw e;
      throw new MimicError("BAD_INPUT", "I could not download that picture. Please send it again.", { cause: e });
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onOuterAbort);
    }
  }
  if (bytes.byteLength === 0) throw emptyFile();
  const mime = sniffImageMime(bytes) ?? (opts.allowVideo ? sniffVideoMime(bytes) : undefined);
  if (mime) return { bytes, mime };
  const declared = input.kind === "url" ? input.declaredMime : input.mime;
  if (!opts.allowVideo && sniffVideoMime(bytes)) throw clipAsFace();
  if (declared && isRefusedMime(declared, opts.allowVideo)) throw refusedFor(declared, opts.allowVideo);
  // What the bytes are outranks what the upload was declared as (an iPhone photo sent as a file may say octet-stream).
  throw notAPicture({ hint: describeBytes(bytes) ?? describeMime(declared, opts.allowVideo === true), clips: opts.allowVideo });
}

/** Telegram's animated stickers (Lottie, .tgs) are vector animations, not pictures: refused by type, never downloaded. */
export const LOTTIE_MIME = "application/x-tgsticker";
export const LOTTIE_REACTION_REFUSAL = "Animated stickers can't be read. Use a regular or video sticker, a photo or a GIF instead.";
export const LOTTIE_FACE_REFUSAL = "Animated stickers can't be read. Send a clear photo of your face instead.";

/** Telegram animated (Lottie) stickers, and videos where none is wanted: not worth downloading. A video's bytes decide which it is. */
function isRefusedMime(declared: string, allowVideo = false): boolean {
  const mime = declared.split(";")[0]!.trim().toLowerCase();
  return mime === LOTTIE_MIME || (mime.startsWith("video/") && !allowVideo);
}

/** The refusal of a file refused by its declared type alone (isRefusedMime). */
function refusedFor(declared: string, allowVideo = false): MimicError {
  const mime = declared.split(";")[0]!.trim().toLowerCase();
  if (mime === LOTTIE_MIME) return new MimicError("NOT_AN_IMAGE", allowVideo ? LOTTIE_REACTION_REFUSAL : LOTTIE_FACE_REFUSAL);
  return mime.startsWith("video/") && !allowVideo ? clipAsFace() : notAPicture({ hint: describeMime(mime, allowVideo), clips: allowVideo });
}

/**
 * Refuses, before anything is looked up or fetched, a file to download whose declared type alone rules it out
 * (an animated sticker, a clip as a face): that answer is the one the user can act on, whatever else they lack.
 * Bytes already here are judged by what they are (loadImage).
 */
export function refuseByDeclaredType(input: ImageInput, allowVideo = false): void {
  if (input.kind === "url" && input.declaredMime && isRefusedMime(input.declaredMime, allowVideo)) throw refusedFor(input.declaredMime, allowVideo);
}

/** Apple's photo format: phones convert it to JPEG when it is sent as a photo, not when it is sent as a file. */
const HEIC_HINT = "it is an iPhone HEIC photo, which Mimic cannot read: send a JPEG of it (a chat app's photo button usually converts it)";
const HEIC_TYPES = new Set(["image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"]);

/** What a declared type says the file is, for a refusal ("it looks like application/pdf"); nothing where it says nothing useful. */
function describeMime(declared: string | undefined, clips: boolean): string | undefined {
  const mime = (declared ?? "").split(";")[0]!.trim().toLowerCase();
  if (!mime || untypedMime(mime)) return undefined;
  if (HEIC_TYPES.has(mime)) return HEIC_HINT;
  // A type we read whose bytes are not that type: the declaration was wrong, so it tells nothing.
  if (readableMime(mime)) return undefined;
  if (mime.startsWith("video/")) return clips ? `it looks like ${mime}, a kind of clip I cannot read` : "videos are not supported";
  return `it looks like ${mime}`;
}

/**
 * What the bytes show a file to be, where that helps the sender: an iPhone photo (HEIC, in MP4's container)
 * whose upload declared no useful type. An AVIF shares the container and the "mif1" brand: it is not one.
 */
function describeBytes(bytes: Uint8Array): string | undefined {
  const brands = ftypBrands(bytes);
  return brands?.some((b) => HEIC_BRANDS.has(b)) && !isAvif(brands) ? HEIC_HINT : undefined;
}
const HEIC_BRANDS = new Set(["heic", "heix", "hevc", "hevx", "heim", "heis"]);

/** The brands of an ISO-BMFF file's ftyp box (MP4's container, which HEIC and AVIF pictures use too). */
function ftypBrands(bytes: Uint8Array): string[] | undefined {
  if (bytes.length < 12 || ascii(bytes, 4, 4) !== "ftyp") return undefined;
  const boxEnd = Math.min(bytes.length, Math.max(16, ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0));
  const brands = [ascii(bytes, 8, 4)];
  for (let o = 16; o + 4 <= boxEnd; o += 4) brands.push(ascii(bytes, o, 4));
  return brands;
}

/** An AVIF picture (AV1 in that container), which the worker's decoder reads; a HEIC one (HEVC) it cannot. */
const isAvif = (brands: string[] | undefined) => !!brands?.some((b) => b === "avif" || b === "avis") && !brands.some((b) => HEIC_BRANDS.has(b));

/**
 * Frames in a GIF, WebP or APNG (1 for other formats), from the file's header and frame table: an animated
 * WebP or PNG is an animation like a GIF, and a one-frame GIF is a still picture.
 */
export async function frameCount(image: EncodedImage): Promise<number> {
  // A video is read by the worker's ffmpeg, frame by frame: it counts as moving.
  if (image.mime.startsWith("video/")) return Number.POSITIVE_INFINITY;
  // An APNG's frames are in its chunk table (acTL, fcTL), which sharp does not read.
  if (image.mime === "image/png") return Math.max(1, apngFrames(image.bytes));
  if (image.mime !== "image/gif" && image.mime !== "image/webp") return 1;
  // Refused here, before it is queued: sharp counts the frames of a GIF cut off mid-frame as if it were whole.
  if (image.mime === "image/gif" && gifCutShort(image.bytes)) throw damagedFile({ logMessage: "GIF cut off inside a frame" });
  try {
    return (await sharp(image.bytes, { limitInputPixels: false }).metadata()).pages ?? 1;
  } catch (cause) {
    throw damagedFile({ cause, logMessage: `frame count unreadable: ${(cause as Error)?.message}` });
  }
}
