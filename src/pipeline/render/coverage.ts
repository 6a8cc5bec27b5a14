import { closeSync, openSync, readSync } from "node:fs";

/**
 * Which code points the bundled caption fonts can draw, read from each TTF's `cmap` table (formats 4
 * and 12, the ones Google's fonts carry). Pango draws a box for a character no font has; knowing the
 * coverage ourselves lets us leave such characters out and say so, instead of drawing boxes silently.
 */

/** Sorted, merged, inclusive [start, end] ranges. */
export type Ranges = Array<[number, number]>;

/** Ranges of the `cmap` table given as bytes (offsets inside it are relative to its start). */
export function cmapRanges(table: Uint8Array): Ranges {
  const v = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const cmap = 0; // offsets below are relative to the table
  // Prefer a full-Unicode subtable (format 12), else the BMP one (format 4).
  let best = -1;
  let bestFormat = 0;
  const n = v.getUint16(cmap + 2);
  for (let i = 0; i < n; i++) {
    const rec = cmap + 4 + i * 8;
    const platform = v.getUint16(rec);
    const encoding = v.getUint16(rec + 2);
    const off = cmap + v.getUint32(rec + 4);
    const format = v.getUint16(off);
    const unicode = platform === 0 || (platform === 3 && (encoding === 1 || encoding === 10));
    if (unicode && (format === 12 || format === 4) && format > bestFormat) {
      best = off;
      bestFormat = format;
    }
  }
  if (best < 0) throw new Error("font has no Unicode cmap subtable");
  const out: Ranges = [];
  if (bestFormat === 12) {
    const groups = v.getUint32(best + 12);
    for (let g = 0; g < groups; g++) {
      const p = best + 16 + g * 12;
      if (v.getUint32(p + 8) !== 0) out.push([v.getUint32(p), v.getUint32(p + 4)]);
    }
  } else {
    const segX2 = v.getUint16(best + 6);
    const ends = best + 14;
    const starts = ends + segX2 + 2;
    const deltas = starts + segX2;
    const rangeOffsets = deltas + segX2;
    for (let s = 0; s < segX2 / 2; s++) {
      const end = v.getUint16(ends + s * 2);
      const start = v.getUint16(starts + s * 2);
      const delta = v.getUint16(deltas + s * 2);
      const ro = v.getUint16(rangeOffsets + s * 2);
      if (start === 0xffff) continue;
      for (let c = start; c <= end; c++) {
        let glyph: number;
        if (ro === 0) glyph = (c + delta) & 0xffff;
        else {
          const gi = rangeOffsets + s * 2 + ro + (c - start) * 2;
          glyph = v.getUint16(gi);
          if (glyph !== 0) glyph = (glyph + delta) & 0xffff;
        }
        if (glyph !== 0) out.push([c, c]);
      }
    }
  }
  return merge(out);
}

export function merge(ranges: Ranges): Ranges {
  const sorted = ranges.every((r, i) => i === 0 || ranges[i - 1][0] <= r[0]) ? ranges : [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export function covers(ranges: Ranges, cp: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < ranges[mid][0]) hi = mid - 1;
    else if (cp > ranges[mid][1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Reads only the table directory and the cmap table of a TTF/OTF file (CJK fonts are ~10 MB). */
export function readCmapTable(file: string): Uint8Array {
  const fd = openSync(file, "r");
  try {
    const read = (pos: number, len: number) => {
      const buf = new Uint8Array(len);
      if (readSync(fd, buf, 0, len, pos) !== len) throw new Error(`${file}: truncated font`);
      return buf;
    };
    const head = read(0, 12);
    const numTables = new DataView(head.buffer).getUint16(4);
    const dir = read(12, numTables * 16);
    const dv = new DataView(dir.buffer);
    for (let i = 0; i < numTables; i++) {
      const rec = i * 16;
      if (String.fromCharCode(dir[rec], dir[rec + 1], dir[rec + 2], dir[rec + 3]) === "cmap") {
        return read(dv.getUint32(rec + 8), dv.getUint32(rec + 12));
      }
    }
    throw new Error(`${file}: font has no cmap table`);
  } finally {
    closeSync(fd);
  }
}

/** Union of the cmaps of the given font files. */
export function coverageOf(files: string[]): Ranges {
  return merge(files.flatMap((f) => cmapRanges(readCmapTable(f))));
}

/**
 * Characters that draw nothing by themselves and need no glyph: spaces, joiners, variation selectors,
 * emoji tag characters, bidi marks. Pango handles them without a font.
 */
export const INVISIBLE = /[\s\u00ad\u034f\u061c\u115f\u1160\u180b-\u180f\u200b-\u200f\u2060-\u2064\u3164\ufe00-\ufe0f\ufeff\u{e0000}-\u{e007f}\u{e0100}-\u{e01ef}]/u;
