import type { GifPalette } from "gifenc";
import { gifProvenanceBlocks } from "../provenance/marks.ts";
import { gifenc } from "./gifenc.ts";
import type { Palette } from "./palette.ts";

/**
 * GIF89a container writer. gifenc does the LZW coding of each frame; its writeFrame always places a frame at
 * (0, 0), so frames are written through a manual-mode gifenc encoder and the image descriptor's left/top
 * (bytes 9..12 of what it writes: 8-byte graphic control extension, then 0x2C + x + y) is patched to the
 * sub-rectangle's offset. The header, screen descriptor, loop extension and provenance marks (comment + XMP,
 * before the first frame) are written here.
 */
export interface GifFrameBlock {
  /** Indices of the sub-rectangle, width × height. */
  index: Uint8Array;
  x: number;
  y: number;
  width: number;
  height: number;
  delayCs: number;
  /** A frame-local palette, or null for the global one. */
  localPalette: Palette | null;
  /** Transparent index (unchanged pixels), or -1 for none. */
  transparentIndex: number;
  /** The image data already LZW-coded (encodeLossyLzw: code size, sub-blocks, terminator); `index` is then unused. */
  data?: Uint8Array;
}

const PROVENANCE = gifProvenanceBlocks();

export class GifWriter {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private readonly frameEncoder = gifenc.GIFEncoder({ auto: false, initialCapacity: 1 << 16 });

  constructor(width: number, height: number, globalPalette: Palette, tableSlots: number, loop: boolean) {
    const bits = tableBits(tableSlots);
    const head = new Uint8Array(13 + 3 * (1 << bits) + (loop ? 19 : 0));
    head.set([0x47, 0x49, 0x46, 0x38, 0x39, 0x61], 0); // "GIF89a"
    head[6] = width & 0xff;
    head[7] = width >> 8;
    head[8] = height & 0xff;
    head[9] = height >> 8;
    head[10] = 0x80 | ((bits - 1) << 4) | (bits - 1); // global table present, colour resolution, table size
    head[11] = 0; // background index
    head[12] = 0; // square pixels
    head.set(globalPalette.colors.subarray(0, globalPalette.count * 3), 13);
    if (loop) {
      const o = 13 + 3 * (1 << bits);
      head.set([0x21, 0xff, 0x0b], o);
      head.set(Array.from("NETSCAPE2.0", (ch) => ch.charCodeAt(0)), o + 3);
      head.set([0x03, 0x01, 0x00, 0x00, 0x00], o + 14); // loop forever
    }
    this.push(head);
    this.push(PROVENANCE);
  }

  get byteLength(): number {
    return this.size + 1;
  }

  writeFrame(f: GifFrameBlock, globalSlots: number): void {
    if (f.data) {
      this.writeCodedFrame(f, f.data);
      return;
    }
    const enc = this.frameEncoder;
    enc.reset();
    const slots = f.localPalette ? f.localPalette.count + (f.transparentIndex >= 0 ? 1 : 0) : globalSlots;
    enc.writeFrame(f.index, f.width, f.height, {
      first: false,
      palette: f.localPalette ? toGifencPalette(f.localPalette, slots) : null,
      delay: f.delayCs * 10,
      transparent: f.transparentIndex >= 0,
      transparentIndex: Math.max(0, f.transparentIndex),
      // 1 = leave in place: the next frame draws over what is shown (our transparency means "unchanged").
      dispose: 1,
      colorDepth: Math.max(2, tableBits(slots)),
    });
    const block = enc.bytes();
    if (block[8] !== 0x2c) throw new Error("gifenc frame layout changed: image descriptor not at byte 8");
    block[9] = f.x & 0xff;
    block[10] = f.x >> 8;
    block[11] = f.y & 0xff;
    block[12] = f.y >> 8;
    this.push(block);
  }

  /** The same layout gifenc writes (graphic control extension, image descriptor, local table), then `data`. */
  private writeCodedFrame(f: GifFrameBlock, data: Uint8Array): void {
    const local = f.localPalette;
    const bits = local ? tableBits(local.count + (f.transparentIndex >= 0 ? 1 : 0)) : 0;
    const tableBytes = local ? 3 * (1 << bits) : 0;
    const head = new Uint8Array(18 + tableBytes);
    const transparent = f.transparentIndex >= 0;
    head.set([0x21, 0xf9, 0x04, (1 << 2) | (transparent ? 1 : 0), f.delayCs & 0xff, f.delayCs >> 8, transparent ? f.transparentIndex : 0, 0]);
    head.set([0x2c, f.x & 0xff, f.x >> 8, f.y & 0xff, f.y >> 8, f.width & 0xff, f.width >> 8, f.height & 0xff, f.height >> 8], 8);
    head[17] = local ? 0x80 | (bits - 1) : 0;
    if (local) head.set(local.colors.subarray(0, local.count * 3), 18);
    this.push(head);
    this.push(data);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size + 1);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    out[o] = 0x3b; // trailer
    return out;
  }

  private push(c: Uint8Array): void {
    this.chunks.push(c);
    this.size += c.length;
  }
}

/** Bits for a colour table holding `slots` entries (GIF tables are 2..256 entries, powers of two). */
export function tableBits(slots: number): number {
  return Math.max(1, Math.ceil(Math.log2(Math.max(2, slots))));
}

function toGifencPalette(p: Palette, slots: number): GifPalette {
  const out: GifPalette = [];
  for (let k = 0; k < slots; k++) {
    out.push(k < p.count ? [p.colors[k * 3], p.colors[k * 3 + 1], p.colors[k * 3 + 2]] : [0, 0, 0]);
  }
  return out;
}
