import { inflateSync } from "node:zlib";

/**
 * What `mimic inspect` reads from any file a user may hold: Mimic's own PNG, GIF and MP4 results, and a JPEG or
 * WebP copy of one (a converter that keeps metadata keeps the XMP packet). Every chunk, box and segment is
 * bounds-checked: a damaged text chunk is skipped and the rest still read; a file whose own structure is broken
 * (cut short, a size that runs past its end) is reported as damaged rather than read on or thrown from.
 */
export interface MarksReport {
  format: "png" | "gif" | "mp4" | "jpeg" | "webp" | "unknown";
  /** IPTC DigitalSourceType from the XMP packet, if any. */
  digitalSourceType: string | null;
  /** xmp:CreatorTool, or PNG's Software text. */
  creatorTool: string | null;
  /** Text comments (PNG Comment, GIF comment extensions). */
  comments: string[];
  /** The raw XMP packet, if any. */
  xmp: string | null;
  /** Where the file's structure is broken, in words ("the MP4 ends inside a box header"); null when it is whole. */
  damaged: string | null;
}

/** The most a compressed PNG text chunk may inflate to: far above any XMP packet, far below a decompression bomb. */
const TEXT_MAX_BYTES = 4 * 1024 * 1024;
/** The namespace that opens a JPEG APP1 segment holding the (standard) XMP packet. */
const JPEG_XMP = Buffer.from("http://ns.adobe.com/xap/1.0/\0", "latin1");
/** XMP's UUID box type for ISO base media files (XMP spec part 3). */
const MP4_XMP_UUID = "be7acfcb97a942e89c71999491e3afac";
/** PNG text keywords inspect reports; other text chunks are never inflated. */
const PNG_KEYS = new Set(["XML:com.adobe.xmp", "Software", "Comment", "Description"]);

const attr = (xmp: string, name: string): string | null => {
  const m = new RegExp(`${name}(?:="([^"]*)"|>([^<]*)<)`).exec(xmp);
  return m ? (m[1] ?? m[2]) : null;
};

function fromXmp(r: MarksReport, xmp: string): void {
  r.xmp = xmp;
  r.digitalSourceType = attr(xmp, "Iptc4xmpExt:DigitalSourceType");
  r.creatorTool = attr(xmp, "xmp:CreatorTool") ?? r.creatorTool;
}

/**
 * A tEXt, zTXt or iTXt chunk's keyword and text; null for a chunk of no interest or a damaged one (no keyword,
 * unknown flags, bad zlib data), which is skipped. zTXt is how libvips (sharp's keepMetadata) writes the XMP packet.
 */
function pngText(type: "tEXt" | "zTXt" | "iTXt", data: Buffer): [string, string] | null {
  const nul = data.indexOf(0);
  if (nul < 1) return null;
  const key = data.toString("latin1", 0, nul);
  if (!PNG_KEYS.has(key)) return null;
  // XMP is UTF-8 in every chunk; other tEXt and zTXt text is Latin-1.
  const encoding = type === "iTXt" || key === "XML:com.adobe.xmp" ? "utf8" : "latin1";
  const inflated = (raw: Buffer): string | null => {
    try {
      return inflateSync(raw, { maxOutputLength: TEXT_MAX_BYTES }).toString(encoding);
    } catch {
      return null;
    }
  };
  if (type === "tEXt") return [key, data.toString(encoding, nul + 1)];
  if (type === "zTXt") {
    const text = data[nul + 1] === 0 ? inflated(data.subarray(nul + 2)) : null;
    return text === null ? null : [key, text];
  }
  // iTXt: keyword NUL, compression flag, method, language tag NUL, translated keyword NUL, text.
  const [flag, method] = [data[nul + 1], data[nul + 2]];
  if (flag === undefined || flag > 1 || (flag === 1 && method !== 0)) return null;
  const lang = data.indexOf(0, nul + 3);
  const translated = lang < 0 ? -1 : data.indexOf(0, lang + 1);
  if (translated < 0) return null;
  const raw = data.subarray(translated + 1);
  const text = flag === 0 ? raw.toString("utf8") : inflated(raw);
  return text === null ? null : [key, text];
}

function readPng(b: Buffer, r: MarksReport): void {
  for (let o = 8; ; ) {
    if (o + 12 > b.length) {
      r.damaged = o === b.length ? "the PNG ends before its IEND chunk" : "the PNG ends inside a chunk";
      return;
    }
    const len = b.readUInt32BE(o);
    if (len > 0x7fffffff || o + 12 + len > b.length) {
      r.damaged = "the PNG ends inside a chunk";
      return;
    }
    const type = b.toString("latin1", o + 4, o + 8);
    if (type === "IEND") return;
    if (type === "tEXt" || type === "zTXt" || type === "iTXt") {
      const text = pngText(type, b.subarray(o + 8, o + 8 + len));
      if (text?.[0] === "XML:com.adobe.xmp") fromXmp(r, text[1]);
      else if (text?.[0] === "Software") r.creatorTool ??= text[1];
      else if (text) r.comments.push(text[1]);
    }
    o += 12 + len;
  }
}

function readGif(b: Buffer, r: MarksReport): void {
  // Header, logical screen descriptor, global colour table; then the extensions up to the first image.
  let o = b.length < 13 ? b.length + 1 : 13 + (b[10] & 0x80 ? 3 * (1 << ((b[10] & 7) + 1)) : 0);
  /** The data sub-blocks from `from` to their terminator, and where the next block starts; null where they run past the end. */
  const blocks = (from: number): [Buffer, number] | null => {
    const parts: Buffer[] = [];
    let p = from;
    for (; p < b.length && b[p] !== 0; p += 1 + b[p]) parts.push(b.subarray(p + 1, p + 1 + b[p]));
    return p < b.length ? [Buffer.concat(parts), p + 1] : null;
  };
  while (o < b.length && b[o] === 0x21) {
    const label = b[o + 1];
    const walked = blocks(o + 2);
    if (!walked) {
      r.damaged = "the GIF ends inside an extension block";
      return;
    }
    if (label === 0xfe) r.comments.push(walked[0].toString("latin1"));
    else if (label === 0xff && b.toString("latin1", o + 3, o + 14) === "XMP DataXMP") {
      // The packet is raw bytes, not sub-blocks (its magic trailer makes the walk above end at the terminator).
      const start = o + 14;
      const end = b.indexOf("<?xpacket end=", start, "latin1");
      const close = end < 0 || end >= walked[1] ? -1 : b.indexOf("?>", end, "latin1");
      if (close > 0 && close < walked[1]) fromXmp(r, b.toString("utf8", start, close + 2));
    }
    o = walked[1];
  }
  if (o >= b.length) r.damaged = "the GIF ends before its first frame";
}

function readMp4(b: Buffer, r: MarksReport): void {
  for (let o = 0; o < b.length; ) {
    if (o + 8 > b.length) {
      r.damaged = "the MP4 ends inside a box header";
      return;
    }
    let size = b.readUInt32BE(o);
    let header = 8;
    if (size === 1) {
      if (o + 16 > b.length) {
        r.damaged = "the MP4 ends inside a box header";
        return;
      }
      const big = b.readBigUInt64BE(o + 8);
      size = big > BigInt(b.length - o) ? Infinity : Number(big);
      header = 16;
    } else if (size === 0) size = b.length - o; // runs to the end of the file
    if (size < header) {
      r.damaged = "an MP4 box has an impossible size";
      return;
    }
    if (o + size > b.length) {
      r.damaged = "the MP4 ends inside a box";
      return;
    }
    if (b.toString("latin1", o + 4, o + 8) === "uuid" && size >= header + 16 && b.toString("hex", o + header, o + header + 16) === MP4_XMP_UUID) {
      fromXmp(r, b.toString("utf8", o + header + 16, o + size));
    }
    o += size;
  }
}

function readJpeg(b: Buffer, r: MarksReport): void {
  // Segments from SOI up to the image data (SOS): every APPn segment, the XMP among them, comes before it.
  for (let o = 2; ; ) {
    if (o + 2 > b.length) {
      r.damaged = "the JPEG ends before its image data";
      return;
    }
    if (b[o] !== 0xff) {
      r.damaged = "the JPEG's segments are out of step";
      return;
    }
    const marker = b[o + 1];
    if (marker === 0xff) {
      o += 1; // fill byte
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return; // image data, or the end of the image
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      o += 2; // a marker without a length
      continue;
    }
    const len = o + 4 <= b.length ? b.readUInt16BE(o + 2) : 0;
    if (o + 4 > b.length || o + 2 + len > b.length) {
      r.damaged = "the JPEG ends inside a segment";
      return;
    }
    if (len < 2) {
      r.damaged = "the JPEG's segments are out of step";
      return;
    }
    const data = b.subarray(o + 4, o + 2 + len);
    if (marker === 0xe1 && r.xmp === null && data.subarray(0, JPEG_XMP.length).equals(JPEG_XMP)) fromXmp(r, data.toString("utf8", JPEG_XMP.length));
    o += 2 + len;
  }
}

function readWebp(b: Buffer, r: MarksReport): void {
  const end = 8 + b.readUInt32LE(4);
  if (end > b.length) {
    r.damaged = "the WebP ends before its RIFF size says";
    return;
  }
  for (let o = 12; o < end; ) {
    if (o + 8 > end) {
      r.damaged = "the WebP ends inside a chunk header";
      return;
    }
    const size = b.readUInt32LE(o + 4);
    if (o + 8 + size > end) {
      r.damaged = "the WebP ends inside a chunk";
      return;
    }
    if (b.toString("latin1", o, o + 4) === "XMP ") fromXmp(r, b.toString("utf8", o + 8, o + 8 + size));
    o += 8 + size + (size & 1); // chunks are padded to an even length
  }
}

/** The provenance marks a file carries, by its bytes (never its name); format "unknown" for what is no picture or clip inspect knows. Never throws. */
export function readMarks(bytes: Uint8Array): MarksReport {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const r: MarksReport = { format: "unknown", digitalSourceType: null, creatorTool: null, comments: [], xmp: null, damaged: null };
  const ascii = (from: number, to: number) => b.toString("latin1", from, to);
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47) {
    r.format = "png";
    readPng(b, r);
  } else if (b.length >= 4 && ascii(0, 4) === "GIF8") {
    r.format = "gif";
    readGif(b, r);
  } else if (b.length >= 8 && ascii(4, 8) === "ftyp") {
    r.format = "mp4";
    readMp4(b, r);
  } else if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    r.format = "jpeg";
    readJpeg(b, r);
  } else if (b.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") {
    r.format = "webp";
    readWebp(b, r);
  }
  return r;
}
