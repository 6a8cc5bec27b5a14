import { packageVersion } from "../../version.ts";

/**
 * Machine-readable "made with generative/algorithmic tools" marks for every file Mimic writes: an XMP
 * packet with IPTC's DigitalSourceType (the vocabulary C2PA and the big platforms read), the tool name and
 * version, and a plain-language comment. It names no user, server or input: only what made the file.
 */
export const DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia";
export const TOOL_NAME = "Mimic";
export const TOOL_VERSION: string = packageVersion();
export const CREATOR_TOOL = `${TOOL_NAME} ${TOOL_VERSION}`;
export const PROVENANCE_COMMENT = `Edited with generative/algorithmic tools: the face's expression was changed by ${CREATOR_TOOL} (IPTC digital source type: compositeWithTrainedAlgorithmicMedia).`;

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The XMP packet (UTF-8, no NUL bytes: the GIF application extension relies on that). */
export function xmpPacket(): string {
  return [
    `<?xpacket begin="\u{feff}" id="W5M0MpCehiHzreSzNTczkc9d"?>`,
    `<x:xmpmeta xmlns:x="adobe:ns:meta/">`,
    `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">`,
    `<rdf:Description rdf:about=""`,
    ` xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"`,
    ` xmlns:xmp="http://ns.adobe.com/xap/1.0/"`,
    ` xmlns:dc="http://purl.org/dc/elements/1.1/"`,
    ` Iptc4xmpExt:DigitalSourceType="${DIGITAL_SOURCE_TYPE}"`,
    ` xmp:CreatorTool="${escapeXml(CREATOR_TOOL)}">`,
    `<dc:description><rdf:Alt><rdf:li xml:lang="x-default">${escapeXml(PROVENANCE_COMMENT)}</rdf:li></rdf:Alt></dc:description>`,
    `</rdf:Description>`,
    `</rdf:RDF>`,
    `</x:xmpmeta>`,
    `<?xpacket end="r"?>`,
  ].join("\n");
}

// ------------------------------------------------------------------------------------------------ PNG

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A PNG chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/** iTXt: keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty translated keyword, NUL, UTF-8 text. */
function iTXt(keyword: string, text: string): Uint8Array {
  const k = Buffer.from(keyword, "latin1");
  const t = Buffer.from(text, "utf8");
  return pngChunk("iTXt", Buffer.concat([k, Buffer.from([0, 0, 0, 0, 0]), t]));
}

function tEXt(keyword: string, text: string): Uint8Array {
  return pngChunk("tEXt", Buffer.concat([Buffer.from(keyword, "latin1"), Buffer.from([0]), Buffer.from(text, "latin1")]));
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The marks as PNG chunks, inserted right after IHDR (XMP must come before the image data). */
export function addPngProvenance(png: Uint8Array): Buffer {
  if (png.length < 33 || PNG_SIGNATURE.some((b, i) => png[i] !== b) || Buffer.from(png.subarray(12, 16)).toString("latin1") !== "IHDR") {
    throw new Error("addPngProvenance: not a PNG starting with IHDR");
  }
  const ihdrEnd = 8 + 12 + new DataView(png.buffer, png.byteOffset, png.length).getUint32(8);
  return Buffer.concat([
    png.subarray(0, ihdrEnd),
    iTXt("XML:com.adobe.xmp", xmpPacket()),
    tEXt("Software", CREATOR_TOOL),
    tEXt("Comment", PROVENANCE_COMMENT),
    png.subarray(ihdrEnd),
  ]);
}

// ------------------------------------------------------------------------------------------------ GIF

function subBlocks(data: Uint8Array): Uint8Array {
  const n = Math.ceil(data.length / 255);
  const out = new Uint8Array(data.length + n + 1);
  let o = 0;
  for (let i = 0; i < data.length; i += 255) {
    const len = Math.min(255, data.length - i);
    out[o++] = len;
    out.set(data.subarray(i, i + len), o);
    o += len;
  }
  out[o] = 0;
  return out;
}

/**
 * The marks as GIF extensions, to be written before the first frame: a comment extension (read by most
 * GIF tools) and Adobe's XMP application extension ("XMP DataXMP": the packet raw, then the 258-byte
 * "magic trailer" that makes readers skipping sub-blocks land on the block terminator).
 */
export function gifProvenanceBlocks(): Uint8Array {
  const comment = Buffer.concat([Buffer.from([0x21, 0xfe]), subBlocks(Buffer.from(PROVENANCE_COMMENT, "latin1"))]);
  const xmp = Buffer.from(xmpPacket(), "utf8");
  const trailer = new Uint8Array(258);
  trailer[0] = 0x01;
  for (let i = 0; i < 256; i++) trailer[1 + i] = 255 - i;
  trailer[257] = 0x00;
  const app = Buffer.concat([Buffer.from([0x21, 0xff, 0x0b]), Buffer.from("XMP DataXMP", "latin1"), xmp, trailer]);
  return Buffer.concat([comment, app]);
}

// ------------------------------------------------------------------------------------------------ MP4

/** XMP's UUID box type for ISO base media files (XMP spec part 3). */
const XMP_UUID = Buffer.from("be7acfcb97a942e89c71999491e3afac", "hex");

/**
 * Appends the XMP packet as a top-level `uuid` box. Appending (rather than inserting before `mdat`) moves
 * no sample data, so every chunk offset in `moov` stays valid.
 */
export function addMp4Provenance(mp4: Uint8Array): Buffer {
  const b = Buffer.from(mp4.buffer, mp4.byteOffset, mp4.length);
  if (b.length < 8 || b.toString("latin1", 4, 8) !== "ftyp") throw new Error("addMp4Provenance: not an MP4 starting with ftyp");
  // A last box of size 0 runs "to the end of the file": appending would land inside it.
  for (let o = 0; o + 8 <= b.length; ) {
    const size = b.readUInt32BE(o);
    if (size === 0) throw new Error("addMp4Provenance: a box runs to the end of the file");
    const next = o + (size === 1 ? Number(b.readBigUInt64BE(o + 8)) : size);
    if (next <= o || next > b.length) throw new Error("addMp4Provenance: truncated MP4");
    o = next;
  }
  const xmp = Buffer.from(xmpPacket(), "utf8");
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + 16 + xmp.length, 0);
  head.write("uuid", 4, "latin1");
  return Buffer.concat([b, head, XMP_UUID, xmp]);
}
