import { inflateSync } from "node:zlib";

/** What `mimic inspect` reports: the provenance marks found in a PNG, GIF or MP4 file. */
export interface ProvenanceReport {
  format: "png" | "gif" | "mp4" | "unknown";
  /** IPTC DigitalSourceType from the XMP packet, if any. */
  digitalSourceType: string | null;
  /** xmp:CreatorTool, or PNG's Software text. */
  creatorTool: string | null;
  /** Text comments (PNG Comment, GIF comment extensions). */
  comments: string[];
  /** The raw XMP packet, if any. */
  xmp: string | null;
}

const attr = (xmp: string, name: string): string | null => {
  const m = new RegExp(`${name}(?:="([^"]*)"|>([^<]*)<)`).exec(xmp);
  return m ? (m[1] ?? m[2]) : null;
};

function fromXmp(report: ProvenanceReport, xmp: string): void {
  report.xmp = xmp;
  report.digitalSourceType = attr(xmp, "Iptc4xmpExt:DigitalSourceType");
  report.creatorTool = attr(xmp, "xmp:CreatorTool") ?? report.creatorTool;
}

function readPng(b: Buffer, r: ProvenanceReport): void {
  let o = 8;
  while (o + 12 <= b.length) {
    const len = b.readUInt32BE(o);
    const type = b.toString("latin1", o + 4, o + 8);
    const data = b.subarray(o + 8, Math.min(b.length, o + 8 + len));
    if (type === "iTXt" || type === "tEXt") {
      const nul = data.indexOf(0);
      const key = data.toString("latin1", 0, nul);
      let text: string;
      if (type === "tEXt") text = data.toString("latin1", nul + 1);
      else {
        const compressed = data[nul + 1] === 1;
        const lang = data.indexOf(0, nul + 3);
        const translated = data.indexOf(0, lang + 1);
        const raw = data.subarray(translated + 1);
        text = (compressed ? inflateSync(raw) : raw).toString("utf8");
      }
      if (key === "XML:com.adobe.xmp") fromXmp(r, text);
      else if (key === "Software") r.creatorTool ??= text;
      else if (key === "Comment" || key === "Description") r.comments.push(text);
    }
    if (type === "IEND") break;
    o += 12 + len;
  }
}

function readGif(b: Buffer, r: ProvenanceReport): void {
  // Header, logical screen descriptor, global colour table; then scan extensions up to the first image.
  let o = 13 + (b[10] & 0x80 ? 3 * (1 << ((b[10] & 7) + 1)) : 0);
  const blocks = (from: number): [Buffer, number] => {
    const parts: Buffer[] = [];
    let p = from;
    while (p < b.length && b[p] !== 0) {
      parts.push(b.subarray(p + 1, p + 1 + b[p]));
      p += 1 + b[p];
    }
    return [Buffer.concat(parts), p + 1];
  };
  while (o < b.length && b[o] === 0x21) {
    const label = b[o + 1];
    if (label === 0xfe) {
      const [data, next] = blocks(o + 2);
      r.comments.push(data.toString("latin1"));
      o = next;
    } else if (label === 0xff && b.toString("latin1", o + 3, o + 14) === "XMP DataXMP") {
      const start = o + 14;
      const end = b.indexOf("<?xpacket end=", start, "latin1");
      const close = end < 0 ? -1 : b.indexOf("?>", end, "latin1");
      if (close > 0) fromXmp(r, b.toString("utf8", start, close + 2));
      o = blocks(o + 2)[1]; // the magic trailer makes the sub-block walk end at the terminator
    } else {
      o = blocks(o + 2)[1];
    }
  }
}

function readMp4(b: Buffer, r: ProvenanceReport): void {
  let o = 0;
  while (o + 8 <= b.length) {
    let size = b.readUInt32BE(o);
    const type = b.toString("latin1", o + 4, o + 8);
    let header = 8;
    if (size === 1) {
      size = Number(b.readBigUInt64BE(o + 8));
      header = 16;
    } else if (size === 0) size = b.length - o;
    if (size < header) break;
    if (type === "uuid" && b.toString("hex", o + header, o + header + 16) === "be7acfcb97a942e89c71999491e3afac") {
      fromXmp(r, b.toString("utf8", o + header + 16, o + size));
    }
    o += size;
  }
}

export function readProvenance(bytes: Uint8Array): ProvenanceReport {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const r: ProvenanceReport = { format: "unknown", digitalSourceType: null, creatorTool: null, comments: [], xmp: null };
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47) {
    r.format = "png";
    readPng(b, r);
  } else if (b.length >= 13 && b.toString("latin1", 0, 4) === "GIF8") {
    r.format = "gif";
    readGif(b, r);
  } else if (b.length >= 8 && b.toString("latin1", 4, 8) === "ftyp") {
    r.format = "mp4";
    readMp4(b, r);
  }
  return r;
}
