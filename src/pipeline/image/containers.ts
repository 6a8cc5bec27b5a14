/**
 * Byte-level readers of the animated picture containers (APNG, animated WebP, GIF): where each frame's
 * compressed data lies, its rectangle on the canvas, its display time and how it is drawn and cleared. Nothing
 * here decompresses pixels; each frame is handed to sharp as a picture of its own (see compose.ts), because
 * sharp reads an APNG's default image only and decodes an animated WebP whole, from its first frame on.
 * Anything malformed reads as "not an animation" (undefined), so the picture is then read as sharp reads it.
 */

/** How a frame is drawn onto the canvas and what is left of it afterwards. */
export interface FrameRecord {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Display time as the file states it, in milliseconds (before the browsers' rule for tiny delays). */
  delayMs: number;
  /** After display: keep, clear its rectangle to transparent, or restore what was under it. */
  dispose: "none" | "background" | "previous";
  /** Composited over what is there (alpha blending), or replacing it. */
  blend: "over" | "source";
  /** The frame as a picture file of its own (its rectangle's size), for sharp. */
  file(): Uint8Array;
}

export interface AnimatedContainer {
  format: "apng" | "webp";
  width: number;
  height: number;
  frames: FrameRecord[];
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Chunks before the image data that change how its samples read (palette, transparency, colour). */
const PNG_COLOUR_CHUNKS = new Set(["PLTE", "tRNS", "gAMA", "cHRM", "sRGB", "iCCP", "sBIT"]);

const u32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const le16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const le24 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16);
const le32 = (b: Uint8Array, o: number) => (le24(b, o) | (b[o + 3]! << 24)) >>> 0;
const tag = (b: Uint8Array, o: number) => String.fromCharCode(b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!);

let crcTable: Int32Array | undefined;
function crc32(parts: Uint8Array[]): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (const p of parts) for (let i = 0; i < p.length; i++) c = crcTable[(c ^ p[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out;
}

function pngChunk(type: string, body: Uint8Array[]): Uint8Array {
  const head = new Uint8Array(8);
  const length = body.reduce((a, p) => a + p.length, 0);
  new DataView(head.buffer).setUint32(0, length);
  for (let i = 0; i < 4; i++) head[4 + i] = type.charCodeAt(i);
  const crc = new Uint8Array(4);
  new DataView(crc.buffer).setUint32(0, crc32([head.subarray(4), ...body]));
  return concat([head, ...body, crc]);
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((v, i) => bytes[i] === v);
}

/**
 * An APNG's frames (acTL, then fcTL + IDAT/fdAT), or undefined for a plain PNG, an animation of one frame, or
 * one whose animation chunks break the format's rules (browsers show its default image then, as sharp does).
 */
export function parseApng(bytes: Uint8Array): AnimatedContainer | undefined {
  const walked = walkApng(bytes, true);
  if (!walked) return undefined;
  const { header, colour, frames } = walked;
  // The first frame has nothing before it to restore.
  if (frames[0]!.dispose === "previous") frames[0]!.dispose = "background";
  return {
    format: "apng",
    width: walked.width,
    height: walked.height,
    frames: frames.map(({ data, ...f }) => ({
      ...f,
      file: () => {
        const h = header.slice();
        const view = new DataView(h.buffer);
        view.setUint32(0, f.width);
        view.setUint32(4, f.height);
        return concat([new Uint8Array(PNG_SIGNATURE), pngChunk("IHDR", [h]), ...colour, pngChunk("IDAT", data), pngChunk("IEND", [])]);
      },
    })),
  };
}

/**
 * An APNG's canvas and frame count, as parseApng reads them, with no record per frame: the bot's main thread
 * counts the frames of whatever a user sends (a 20 MB file can hold 300 000 one-pixel frames).
 */
export function apngLayout(bytes: Uint8Array): { width: number; height: number; frames: number } | undefined {
  const walked = walkApng(bytes, false);
  return walked && { width: walked.width, height: walked.height, frames: walked.count };
}

type ApngFrameRecord = { x: number; y: number; width: number; height: number; delayMs: number; dispose: FrameRecord["dispose"]; blend: FrameRecord["blend"]; data: Uint8Array[] };

/**
 * The chunk table by the format's rules, chunk types compared as numbers. `keep`: whether each frame's record and
 * data (and the colour chunks) are kept, or the frames only counted; a table longer than acTL declares is refused
 * at the first frame too many.
 */
function walkApng(
  bytes: Uint8Array,
  keep: boolean,
): { width: number; height: number; header: Uint8Array; colour: Uint8Array[]; frames: ApngFrameRecord[]; count: number } | undefined {
  if (!isPng(bytes)) return undefined;
  let header: Uint8Array | undefined;
  let width = 0;
  let height = 0;
  let declared = 0;
  let seenIdat = false;
  let idatIsFrame = false;
  let count = 0;
  // Whether the frame being read has image data yet (every frame needs some).
  let hasData = true;
  const colour: Uint8Array[] = [];
  const frames: ApngFrameRecord[] = [];
  for (let o = 8; o + 12 <= bytes.length; ) {
    const length = u32(bytes, o);
    const type = u32(bytes, o + 4);
    const at = o + 8;
    if (length > bytes.length - at - 4) return undefined;
    o = at + length + 4;
    if (type === IHDR) {
      if (length !== 13) return undefined;
      header = bytes.subarray(at, at + length);
      [width, height] = [u32(bytes, at), u32(bytes, at + 4)];
    } else if (type === ACTL) {
      if (seenIdat || length !== 8) return undefined;
      declared = u32(bytes, at);
    } else if (type === FCTL) {
      if (length !== 26 || !header) return undefined;
      const [w, h, x, y] = [u32(bytes, at + 4), u32(bytes, at + 8), u32(bytes, at + 12), u32(bytes, at + 16)];
      if (w === 0 || h === 0 || x + w > width || y + h > height) return undefined;
      // A frame drawn from the image data (IDAT) is the canvas itself.
      if (!seenIdat && (x !== 0 || y !== 0 || w !== width || h !== height)) return undefined;
      // Past acTL's count already (where acTL came first; it may also follow a frame control, before the image data).
      if (!hasData || (++count > declared && declared > 0)) return undefined;
      hasData = false;
      if (keep) {
        const den = u16(bytes, at + 22) || 100;
        const d = bytes[at + 24];
        const dispose = d === 1 ? "background" : d === 2 ? "previous" : "none";
        frames.push({ x, y, width: w, height: h, delayMs: (u16(bytes, at + 20) * 1000) / den, dispose, blend: bytes[at + 25] === 1 ? "over" : "source", data: [] });
      }
    } else if (type === IDAT) {
      // acTL comes before the image data: without one this is a plain PNG, and the rest need not be walked.
      if (declared < 2) return undefined;
      // Image data that follows a frame control is that frame's; without one it is a default image outside the animation.
      if (!seenIdat) idatIsFrame = count === 1;
      if (count > 1) return undefined;
      if (idatIsFrame) {
        hasData = true;
        if (keep) frames[0]!.data.push(bytes.subarray(at, at + length));
      }
      seenIdat = true;
    } else if (type === FDAT) {
      if (!seenIdat || count === 0 || length < 4) return undefined;
      hasData = true;
      if (keep) frames.at(-1)!.data.push(bytes.subarray(at + 4, at + length));
    } else if (type === IEND) {
      break;
    } else if (keep && !seenIdat && PNG_COLOUR_CHUNK_TYPES.has(type)) {
      colour.push(pngChunk(tag(bytes, at - 4), [bytes.subarray(at, at + length)]));
    }
  }
  if (!header || declared < 2 || count !== declared || !hasData) return undefined;
  return { width, height, header, colour, frames, count };
}

/** PNG chunk types as the big-endian u32 of their four letters (the walk compares numbers, not strings). */
const chunkType = (name: string) => u32(new TextEncoder().encode(name), 0);
const [IHDR, ACTL, FCTL, IDAT, FDAT, IEND] = ["IHDR", "acTL", "fcTL", "IDAT", "fdAT", "IEND"].map(chunkType);
const PNG_COLOUR_CHUNK_TYPES = new Set([...PNG_COLOUR_CHUNKS].map(chunkType));

/** Frames an APNG's animation has (0 for a plain PNG or an unreadable animation): from the chunk table alone. */
export function apngFrames(bytes: Uint8Array): number {
  return apngLayout(bytes)?.frames ?? 0;
}

function riff(parts: { type: string; body: Uint8Array }[]): Uint8Array {
  const chunks = parts.map(({ type, body }) => {
    const head = new Uint8Array(8);
    for (let i = 0; i < 4; i++) head[i] = type.charCodeAt(i);
    new DataView(head.buffer).setUint32(4, body.length, true);
    return concat(body.length % 2 ? [head, body, new Uint8Array(1)] : [head, body]);
  });
  const head = new Uint8Array(12);
  head.set([0x52, 0x49, 0x46, 0x46], 0);
  head.set([0x57, 0x45, 0x42, 0x50], 8);
  new DataView(head.buffer).setUint32(4, 4 + chunks.reduce((a, c) => a + c.length, 0), true);
  return concat([head, ...chunks]);
}

/** An animated WebP's frames (ANMF chunks), or undefined for a still WebP or a malformed animation. */
export function parseWebpAnimation(bytes: Uint8Array): AnimatedContainer | undefined {
  const walked = walkWebp(bytes, true);
  return walked && { format: "webp", width: walked.width, height: walked.height, frames: walked.frames };
}

/** An animated WebP's canvas and frame count, as parseWebpAnimation reads them, with no record per frame (see gifSize). */
export function webpSize(bytes: Uint8Array): { width: number; height: number; frames: number } | undefined {
  const walked = walkWebp(bytes, false);
  return walked && { width: walked.width, height: walked.height, frames: walked.count };
}

/** `keep`: whether each frame's record is kept (`frames`), or only counted (`count`). */
function walkWebp(bytes: Uint8Array, keep: boolean): { width: number; height: number; frames: FrameRecord[]; count: number } | undefined {
  if (bytes.length < 30 || tag(bytes, 0) !== "RIFF" || tag(bytes, 8) !== "WEBP" || tag(bytes, 12) !== "VP8X") return undefined;
  if (!(bytes[20]! & 0x02)) return undefined;
  const width = le24(bytes, 24) + 1;
  const height = le24(bytes, 27) + 1;
  const end = Math.min(bytes.length, 8 + le32(bytes, 4));
  const frames: FrameRecord[] = [];
  let count = 0;
  for (let o = 12; o + 8 <= end; ) {
    const type = tag(bytes, o);
    const size = le32(bytes, o + 4);
    const start = o + 8;
    if (size > end - start) return undefined;
    o = start + size + (size & 1);
    if (type !== "ANMF") continue;
    if (size < 16) return undefined;
    const b = bytes.subarray(start, start + size);
    const f = { x: le24(b, 0) * 2, y: le24(b, 3) * 2, width: le24(b, 6) + 1, height: le24(b, 9) + 1 };
    if (f.x + f.width > width || f.y + f.height > height) return undefined;
    let alpha: Uint8Array | undefined;
    let image: { type: string; body: Uint8Array } | undefined;
    for (let p = 16; p + 8 <= b.length && !image; ) {
      const t = tag(b, p);
      const s = le32(b, p + 4);
      if (s > b.length - p - 8) return undefined;
      const body = b.subarray(p + 8, p + 8 + s);
      if (t === "ALPH") alpha = body;
      else if (t === "VP8 " || t === "VP8L") image = { type: t, body };
      p += 8 + s + (s & 1);
    }
    if (!image) return undefined;
    count++;
    if (!keep) continue;
    const bitstream = image;
    frames.push({
      ...f,
      delayMs: le24(b, 12),
      dispose: b[15]! & 0x01 ? "background" : "none",
      blend: b[15]! & 0x02 ? "source" : "over",
      file: () => {
        if (!alpha || bitstream.type === "VP8L") return riff([bitstream]);
        // Lossy colour with a separate alpha plane needs the extended header that says so.
        const vp8x = new Uint8Array(10);
        vp8x[0] = 0x10;
        vp8x.set([(f.width - 1) & 0xff, ((f.width - 1) >> 8) & 0xff, (f.width - 1) >> 16, (f.height - 1) & 0xff, ((f.height - 1) >> 8) & 0xff, (f.height - 1) >> 16], 4);
        return riff([{ type: "VP8X", body: vp8x }, { type: "ALPH", body: alpha }, bitstream]);
      },
    });
  }
  return count >= 2 ? { width, height, frames, count } : undefined;
}

export interface GifLayout {
  width: number;
  height: number;
  /** Each frame's rectangle and display time (centiseconds, as stored). */
  frames: { x: number; y: number; width: number; height: number; delayCs: number; descriptor: number }[];
  /**
   * The file ends inside a block (a frame's data, its colour table or an extension): it was cut off. A file that
   * ends after a complete block without the trailer byte is not: some encoders leave the trailer out.
   */
  cutShort: boolean;
}

/** A GIF's logical screen and its frames' rectangles, walking the block structure (no LZW decoding); undefined if malformed. */
export function gifLayout(bytes: Uint8Array): GifLayout | undefined {
  const layout = walkGif(bytes, true);
  return layout && layout.frames.length > 0 ? layout : undefined;
}

/**
 * A GIF's logical screen and frame count, as gifLayout reads them, with no record per frame: the main thread
 * sizes whatever a user sends (a 25 MB GIF can hold a million one-pixel frames).
 */
export function gifSize(bytes: Uint8Array): { width: number; height: number; frames: number } | undefined {
  const layout = walkGif(bytes, false);
  return layout && layout.count > 0 ? { width: layout.width, height: layout.height, frames: layout.count } : undefined;
}

/** `keep`: whether each frame's record is kept (`frames`), or only counted (`count`). */
function walkGif(bytes: Uint8Array, keep: boolean): (GifLayout & { count: number }) | undefined {
  if (bytes.length < 13 || tag(bytes, 0) !== "GIF8") return undefined;
  const width = le16(bytes, 6), height = le16(bytes, 8);
  let o = 13 + (bytes[10]! & 0x80 ? 3 << ((bytes[10]! & 7) + 1) : 0);
  const frames: GifLayout["frames"] = [];
  let count = 0;
  let delayCs = 0;
  let cutShort = o > bytes.length;
  /** Past a block's sub-blocks and their zero terminator; beyond the end where the file stops inside them. */
  const skipSubBlocks = (p: number) => {
    while (p < bytes.length && bytes[p] !== 0) p += bytes[p]! + 1;
    return p + 1;
  };
  while (o < bytes.length) {
    const block = bytes[o]!;
    if (block === 0x3b) break;
    if (block === 0x21) {
      if (o + 2 > bytes.length) {
        cutShort = true;
        break;
      }
      if (bytes[o + 1] === 0xf9 && bytes[o + 2] === 4 && o + 6 < bytes.length) delayCs = le16(bytes, o + 4);
      o = skipSubBlocks(o + 2);
    } else if (block === 0x2c) {
      if (o + 10 > bytes.length) {
        cutShort = true;
        break;
      }
      const packed = bytes[o + 9]!;
      if (keep) frames.push({ x: le16(bytes, o + 1), y: le16(bytes, o + 3), width: le16(bytes, o + 5), height: le16(bytes, o + 7), delayCs, descriptor: o });
      count++;
      delayCs = 0;
      o += 10 + (packed & 0x80 ? 3 << ((packed & 7) + 1) : 0);
      // The LZW minimum code size, then the data's sub-blocks.
      o = skipSubBlocks(o + 1);
    } else {
      // Not a block: what follows the last one is not the GIF's (decoders stop here too).
      break;
    }
    if (o > bytes.length) cutShort = true;
  }
  return { width, height, frames, count, cutShort };
}

/**
 * Whether a GIF was cut off inside a frame (or a block around one). Decoders show such a file with the frames
 * that arrived, the last one partly grey, without an error; a file missing only its trailer byte is complete.
 */
export function gifCutShort(bytes: Uint8Array): boolean {
  return walkGif(bytes, false)?.cutShort ?? false;
}

/**
 * A GIF whose logical screen is larger than the area its frames cover, rewritten so the screen is that area
 * (offsets shifted to match; only header fields change). Decoders allocate the whole screen for every frame,
 * and a file of a few kilobytes may claim the largest screen the format allows; the area no frame paints is blank anyway.
 * Anything else is returned as it is.
 */
export function cropGifScreen(bytes: Uint8Array): Uint8Array {
  const layout = gifLayout(bytes);
  if (!layout) return bytes;
  const { width: sw, height: sh } = layout;
  let x0 = Infinity, y0 = Infinity, x1 = 0, y1 = 0;
  for (const f of layout.frames) {
    // Frames are clipped to the screen; a screen of zero size is the frames' own (as decoders read it).
    const right = sw > 0 ? Math.min(sw, f.x + f.width) : f.x + f.width;
    const bottom = sh > 0 ? Math.min(sh, f.y + f.height) : f.y + f.height;
    if (right <= f.x || bottom <= f.y) continue;
    x0 = Math.min(x0, f.x);
    y0 = Math.min(y0, f.y);
    x1 = Math.max(x1, right);
    y1 = Math.max(y1, bottom);
  }
  if (!(x1 > x0 && y1 > y0) || (x0 === 0 && y0 === 0 && x1 === sw && y1 === sh)) return bytes;
  const out = bytes.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint16(6, x1 - x0, true);
  view.setUint16(8, y1 - y0, true);
  for (const f of layout.frames) {
    view.setUint16(f.descriptor + 1, Math.max(0, f.x - x0), true);
    view.setUint16(f.descriptor + 3, Math.max(0, f.y - y0), true);
  }
  return out;
}
