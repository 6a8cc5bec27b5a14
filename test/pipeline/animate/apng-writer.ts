import { deflateSync } from "node:zlib";

/** A test's APNG frame: RGBA pixels of its rectangle, and how it is drawn and cleared (the format's own codes). */
export interface ApngFrame {
  x?: number;
  y?: number;
  width: number;
  height: number;
  rgba: Uint8Array;
  delayMs: number;
  /** 0 none, 1 background (transparent), 2 previous. */
  dispose?: 0 | 1 | 2;
  /** 0 source (replace), 1 over (alpha blend). */
  blend?: 0 | 1;
}

function crc32(parts: Uint8Array[]): number {
  let c = ~0;
  for (const p of parts) {
    for (const byte of p) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    }
  }
  return ~c >>> 0;
}

function chunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32([head.subarray(4), body]));
  return Buffer.concat([head, body, crc]);
}

/** RGBA rows, each behind a "None" filter byte, deflated: a PNG's image data. */
export function pngData(width: number, height: number, rgba: Uint8Array): Buffer {
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) raw.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  return deflateSync(raw);
}

/** A solid RGBA rectangle. */
export function solid(width: number, height: number, [r, g, b, a]: [number, number, number, number]): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let i = 0; i < out.length; i += 4) out.set([r, g, b, a], i);
  return out;
}

/**
 * An APNG (8-bit RGBA) written chunk by chunk, as the format's specification lays it out. `defaultImage`: an
 * IDAT picture outside the animation (no frame control before it), shown only by readers without APNG support.
 * `data` per frame may be given pre-deflated (many identical frames).
 */
export function writeApng(width: number, height: number, frames: (ApngFrame & { data?: Buffer })[], opts: { defaultImage?: Uint8Array } = {}): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const actl = Buffer.alloc(8);
  actl.writeUInt32BE(frames.length, 0);
  const out: Buffer[] = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("acTL", actl)];
  let seq = 0;
  if (opts.defaultImage) out.push(chunk("IDAT", pngData(width, height, opts.defaultImage)));
  frames.forEach((f, i) => {
    const fctl = Buffer.alloc(26);
    fctl.writeUInt32BE(seq++, 0);
    fctl.writeUInt32BE(f.width, 4);
    fctl.writeUInt32BE(f.height, 8);
    fctl.writeUInt32BE(f.x ?? 0, 12);
    fctl.writeUInt32BE(f.y ?? 0, 16);
    fctl.writeUInt16BE(f.delayMs, 20);
    fctl.writeUInt16BE(1000, 22);
    fctl[24] = f.dispose ?? 0;
    fctl[25] = f.blend ?? 0;
    out.push(chunk("fcTL", fctl));
    const data = f.data ?? pngData(f.width, f.height, f.rgba);
    if (i === 0 && !opts.defaultImage) out.push(chunk("IDAT", data));
    else {
      const seqBytes = Buffer.alloc(4);
      seqBytes.writeUInt32BE(seq++, 0);
      out.push(chunk("fdAT", Buffer.concat([seqBytes, data])));
    }
  });
  out.push(chunk("IEND", new Uint8Array(0)));
  return new Uint8Array(Buffer.concat(out));
}
