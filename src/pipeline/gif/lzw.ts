/**
 * GIF LZW coding of a later frame's sub-rectangle with "lossy LZW" choices (the idea of gifsicle's --lossy):
 * where the mapped symbol (a palette index, or the transparent "unchanged" index) does not continue the
 * current code string, another symbol that does is taken if it is nearly as close to the source pixel —
 * within `writeTolSq` for a colour, `keepTolSq` for leaving the pixel as shown, both scaled down to nothing
 * where the source is flat. Longer strings mean fewer codes, and so fewer bytes, for an error bounded per
 * pixel. Code sizes, clears and the dictionary follow the classic `compress` scheme (as gifenc's encoder
 * does), so any GIF decoder reads the result.
 */
export interface LossyLzwInput {
  /** Mapped symbols for the whole frame (mapFrame's choices), `stride` wide. */
  out: Uint8Array;
  stride: number;
  /** The sub-rectangle to code. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Source RGB, full frame. */
  src: Uint8Array;
  /** What the viewer shows before this frame (RGB, full frame); updated in place to what it shows after. */
  canvas: Uint8Array;
  /** Palette colours (RGB triples). */
  colors: Uint8Array;
  transparentIndex: number;
  /** Pixels that must stay as shown (never rewritten), or null. */
  lock: Uint8Array | null;
  /** Extra squared RGB error a substituted colour / a kept pixel may have over the mapped symbol's. */
  writeTolSq: number;
  keepTolSq: number;
  /** LZW minimum code size (bits of the largest symbol, at least 2). */
  minCodeSize: number;
}

const MAX_CODE = 4096;
const HASH_SIZE = 5003;
/** Children of a string examined for a substitute: bounds the cost at strings with many continuations. */
const MAX_SUBSTITUTES = 48;
/**
 * Source texture (largest channel difference to a neighbour, levels) at and below which no substitution is
 * made, and from which the full tolerances apply; in between they scale linearly.
 */
const TEXTURE_NONE = 4;
const TEXTURE_FULL = 16;

/** Returns the frame's image data as a GIF stores it: minimum code size, data sub-blocks, terminator. */
export function encodeLossyLzw(inp: LossyLzwInput): Uint8Array {
  const { out, stride, x: x0, y: y0, width: bw, height: bh, src, canvas, colors, transparentIndex: T, lock, writeTolSq, keepTolSq, minCodeSize } = inp;
  const sink = new BitSink(minCodeSize);
  const frameRows = src.length / 3 / stride;
  const rowBytes = stride * 3;
  const clearCode = 1 << minCodeSize;
  const htab = new Int32Array(HASH_SIZE).fill(-1);
  const codetab = new Int32Array(HASH_SIZE);
  const firstChild = new Int32Array(MAX_CODE).fill(-1);
  const nextSibling = new Int32Array(MAX_CODE);
  const symbolOf = new Int32Array(MAX_CODE);
  let free = clearCode + 2;
  let hshift = 0;
  for (let f = HASH_SIZE; f < 65536; f *= 2) hshift++;
  hshift = 8 - hshift;

  sink.output(clearCode, free);
  let ent = -1;
  for (let row = 0; row < bh; row++) {
    const rowStart = (y0 + row) * stride + x0;
    for (let col = 0; col < bw; col++) {
      const p = rowStart + col;
      const s = p * 3;
      let sym = out[p];
      if (ent < 0) {
        ent = sym;
      } else {
        // Exact continuation (hash lookup, as compress does).
        const fcode = (sym << 12) + ent;
        let h = (sym << hshift) ^ ent;
        let next = -1;
        if (htab[h] === fcode) next = codetab[h];
        else if (htab[h] >= 0) {
          const disp = h === 0 ? 1 : HASH_SIZE - h;
          do {
            h -= disp;
            if (h < 0) h += HASH_SIZE;
            if (htab[h] === fcode) {
              next = codetab[h];
              break;
            }
          } while (htab[h] >= 0);
        }
        const masking = next < 0 && firstChild[ent] >= 0 && (lock === null || lock[p] === 0) ? textureMasking(s, x0 + col, y0 + row) : 0;
        if (masking > 0) {
          // A substitute that continues the string: the closest to the source among those within tolerance.
          const sr = src[s];
          const sg = src[s + 1];
          const sb = src[s + 2];
          const mapped = errorOf(sym, sr, sg, sb, s);
          let best = Infinity;
          let seen = 0;
          for (let c = firstChild[ent]; c >= 0 && seen < MAX_SUBSTITUTES; c = nextSibling[c], seen++) {
            const k = symbolOf[c];
            const e = errorOf(k, sr, sg, sb, s);
            if (e < best && e <= mapped + masking * (k === T ? keepTolSq : writeTolSq)) {
              best = e;
              next = c;
            }
          }
          if (next >= 0) sym = symbolOf[next];
        }
        if (next >= 0) {
          ent = next;
        } else {
          sink.output(ent, free);
          if (free < MAX_CODE) {
            codetab[h] = free;
            htab[h] = fcode;
            symbolOf[free] = sym;
            firstChild[free] = -1;
            nextSibling[free] = firstChild[ent];
            firstChild[ent] = free;
            free++;
          } else {
            htab.fill(-1);
            firstChild.fill(-1);
            free = clearCode + 2;
            sink.clear();
            sink.output(clearCode, free);
          }
          ent = sym;
        }
      }
      if (sym !== T) {
        canvas[s] = colors[sym * 3];
        canvas[s + 1] = colors[sym * 3 + 1];
        canvas[s + 2] = colors[sym * 3 + 2];
      }
    }
  }
  sink.output(ent, free);
  sink.output(clearCode + 1, free);
  return sink.finish();

  /**
   * 0..1: how much of the tolerances applies at the pixel at byte `s`, from the largest channel difference to
   * its four source neighbours. A substitution in a flat area shows as a dash against its neighbours (and, when
   * the area changes from frame to frame, as shimmer); texture hides it.
   */
  function textureMasking(s: number, x: number, y: number): number {
    let a = 0;
    if (x > 0) a = Math.max(a, channelDiff(s, s - 3));
    if (x < stride - 1) a = Math.max(a, channelDiff(s, s + 3));
    if (y > 0) a = Math.max(a, channelDiff(s, s - rowBytes));
    if (y < frameRows - 1) a = Math.max(a, channelDiff(s, s + rowBytes));
    return a >= TEXTURE_FULL ? 1 : a <= TEXTURE_NONE ? 0 : (a - TEXTURE_NONE) / (TEXTURE_FULL - TEXTURE_NONE);
  }

  function channelDiff(s: number, t: number): number {
    return Math.max(Math.abs(src[s] - src[t]), Math.abs(src[s + 1] - src[t + 1]), Math.abs(src[s + 2] - src[t + 2]));
  }

  function errorOf(k: number, r: number, g: number, b: number, s: number): number {
    let cr: number;
    let cg: number;
    let cb: number;
    if (k === T) {
      cr = canvas[s];
      cg = canvas[s + 1];
      cb = canvas[s + 2];
    } else {
      cr = colors[k * 3];
      cg = colors[k * 3 + 1];
      cb = colors[k * 3 + 2];
    }
    return (cr - r) * (cr - r) + (cg - g) * (cg - g) + (cb - b) * (cb - b);
  }
}

/** Variable-width codes, least significant bit first, packed into GIF data sub-blocks of up to 255 bytes. */
class BitSink {
  private bytes = new Uint8Array(1 << 14);
  private length = 1;
  private blockStart = 1;
  private acc = 0;
  private bits = 0;
  private nBits: number;
  private maxCode: number;
  private clearing = false;

  constructor(private readonly minCodeSize: number) {
    this.bytes[0] = minCodeSize;
    this.nBits = minCodeSize + 1;
    this.maxCode = (1 << this.nBits) - 1;
    this.length = 2; // byte 1: first sub-block's length, filled in when the block closes
  }

  /** Writes a code, then widens the codes as compress does (from the dictionary's next free entry). */
  output(code: number, free: number): void {
    this.acc |= code << this.bits;
    this.bits += this.nBits;
    while (this.bits >= 8) {
      this.byte(this.acc & 0xff);
      this.acc >>>= 8;
      this.bits -= 8;
    }
    if (this.clearing) {
      this.clearing = false;
      this.nBits = this.minCodeSize + 1;
      this.maxCode = (1 << this.nBits) - 1;
    } else if (free > this.maxCode) {
      this.nBits++;
      this.maxCode = this.nBits === 12 ? MAX_CODE : (1 << this.nBits) - 1;
    }
  }

  /** The next code written is a clear code: code size resets after it. */
  clear(): void {
    this.clearing = true;
  }

  finish(): Uint8Array {
    if (this.bits > 0) this.byte(this.acc & 0xff);
    this.acc = 0;
    this.bits = 0;
    const open = this.length - this.blockStart - 1;
    if (open > 0) {
      this.bytes[this.blockStart] = open;
      this.reserve(1);
      this.bytes[this.length++] = 0;
    } else {
      this.bytes[this.blockStart] = 0; // the open sub-block is empty: it becomes the terminator
    }
    return this.bytes.slice(0, this.length);
  }

  private byte(v: number): void {
    this.reserve(2);
    this.bytes[this.length++] = v;
    if (this.length - this.blockStart - 1 === 255) {
      this.bytes[this.blockStart] = 255;
      this.blockStart = this.length++;
    }
  }

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(this.bytes.length * 2);
    grown.set(this.bytes);
    this.bytes = grown;
  }
}
