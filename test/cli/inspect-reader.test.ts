/**
 * The reader behind `mimic inspect` (readMarks): Mimic's marks are found in a JPEG, WebP or PNG copy that kept
 * its metadata (sharp's keepMetadata), a damaged text chunk is skipped with the others still read, and no cut or
 * damaged file makes it throw: a broken structure is reported as damaged. The CLI's words: inspect-marks.test.ts.
 */
import { deflateSync } from "node:zlib";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { encodeGif } from "../../src/pipeline/gif/index.ts";
import { encodePng } from "../../src/pipeline/image/index.ts";
import { addMp4Provenance, CREATOR_TOOL, DIGITAL_SOURCE_TYPE, pngChunk as markChunk, PROVENANCE_COMMENT } from "../../src/pipeline/provenance/marks.ts";
import { readMarks } from "../../src/pipeline/provenance/read.ts";
import type { RgbImage } from "../../src/pipeline/types.ts";

function gradient(width: number, height: number, phase = 0): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set([(i % width) * 4, Math.floor(i / width) * 5, (phase * 40 + i) & 255], i * 3);
  return { data, width, height };
}

const pngChunk = (type: string, data: Buffer) => Buffer.from(markChunk(type, data));

/** A compressed iTXt chunk whose zlib data is garbage (what a damaged download or a broken tool leaves). */
const badITxt = (keyword: string) => pngChunk("iTXt", Buffer.concat([Buffer.from(keyword, "latin1"), Buffer.from([0, 1, 0, 0, 0]), Buffer.from("garbage-not-zlib")]));

/** `chunks` inserted right after IHDR. */
const afterIhdr = (png: Buffer, ...chunks: Buffer[]) => Buffer.concat([png.subarray(0, 33), ...chunks, png.subarray(33)]);

/** An MP4 box: 32-bit size, type, body. */
const mp4Box = (type: string, body: Buffer) => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, "latin1");
  return Buffer.concat([head, body]);
};

/** The smallest MP4-shaped file (ftyp, a small mdat) marked by the real appender. */
const markedMp4 = () => addMp4Provenance(Buffer.concat([mp4Box("ftyp", Buffer.from("isom\0\0\x02\0isomiso2mp41", "latin1")), mp4Box("mdat", Buffer.alloc(64, 7))]));

/** Where each top-level box of an MP4 ends. */
function boxEnds(mp4: Buffer): number[] {
  const ends: number[] = [];
  for (let o = 0; o < mp4.length; o += mp4.readUInt32BE(o)) ends.push(o + mp4.readUInt32BE(o));
  return ends;
}

/** Where a GIF's first image descriptor is: after the header, the global colour table and the extensions. */
function firstImage(gif: Uint8Array): number {
  let o = 13 + (gif[10] & 0x80 ? 3 * (1 << ((gif[10] & 7) + 1)) : 0);
  while (gif[o] === 0x21) {
    for (o += 2; gif[o] !== 0; ) o += 1 + gif[o];
    o += 1;
  }
  return o;
}

const marked = { digitalSourceType: DIGITAL_SOURCE_TYPE, creatorTool: CREATOR_TOOL, damaged: null };

describe("readMarks: copies that kept their metadata", () => {
  it("a JPEG, a WebP and a PNG made by sharp with keepMetadata from a Mimic PNG carry its marks; without it they carry none", async () => {
    const png = await encodePng(gradient(48, 40));
    const copies = {
      jpeg: await sharp(png).keepMetadata().jpeg({ quality: 85 }).toBuffer(),
      webp: await sharp(png).keepMetadata().webp({ quality: 80 }).toBuffer(),
      // libvips writes the XMP packet and the text into zTXt chunks.
      png: await sharp(png).keepMetadata().resize(24).png().toBuffer(),
    };
    for (const [format, bytes] of Object.entries(copies)) expect(readMarks(bytes), format).toMatchObject({ format, ...marked });
    expect(readMarks(copies.png).comments).toEqual([PROVENANCE_COMMENT]);
    for (const [format, bytes] of [
      ["jpeg", await sharp(png).jpeg({ quality: 85 }).toBuffer()],
      ["webp", await sharp(png).webp({ quality: 80 }).toBuffer()],
    ] as const) {
      expect(readMarks(bytes), format).toEqual({ format, digitalSourceType: null, creatorTool: null, comments: [], xmp: null, damaged: null });
    }
  });

  it("Mimic's own PNG, GIF and MP4 still read as before", async () => {
    expect(readMarks(await encodePng(gradient(16, 16)))).toMatchObject({ format: "png", ...marked, comments: [PROVENANCE_COMMENT] });
    const gif = await encodeGif([0, 1].map((k) => gradient(20, 16, k)), { delaysMs: 100 });
    expect(readMarks(gif.bytes)).toMatchObject({ format: "gif", ...marked });
    expect(readMarks(markedMp4())).toMatchObject({ format: "mp4", ...marked });
    expect(readMarks(await encodePng(gradient(16, 16), { provenance: false }))).toMatchObject({ format: "png", digitalSourceType: null, damaged: null });
    expect(readMarks(Buffer.from("not a picture\n"))).toMatchObject({ format: "unknown", damaged: null });
  });
});

describe("readMarks: damaged files never throw", () => {
  it("a compressed iTXt chunk with bad zlib data is skipped, under any keyword, and the other marks are still read", async () => {
    const png = await encodePng(gradient(16, 16));
    for (const keyword of ["Comment", "XML:com.adobe.xmp", "Software", "Author"]) {
      expect(readMarks(afterIhdr(png, badITxt(keyword))), keyword).toMatchObject({ format: "png", ...marked, comments: [PROVENANCE_COMMENT] });
    }
    // A compressed text that inflates past any XMP's size (a decompression bomb) is skipped the same way.
    const bomb = pngChunk("iTXt", Buffer.concat([Buffer.from("Comment\0\x01\0\0\0", "latin1"), deflateSync(Buffer.alloc(64 * 1024 * 1024))]));
    expect(readMarks(afterIhdr(png, bomb))).toMatchObject({ ...marked, comments: [PROVENANCE_COMMENT] });
  });

  it("an MP4 whose last box header is cut short is damaged, not a crash", () => {
    const mp4 = markedMp4();
    // A 64-bit box size (size 1) whose 8-byte largesize is missing; a 32-bit header cut after 5 bytes.
    const bigHeader = Buffer.from([0, 0, 0, 1, 0x66, 0x72, 0x65, 0x65]);
    expect(readMarks(Buffer.concat([mp4, bigHeader]))).toMatchObject({ format: "mp4", damaged: "the MP4 ends inside a box header" });
    expect(readMarks(Buffer.concat([mp4, bigHeader.subarray(0, 5)]))).toMatchObject({ damaged: "the MP4 ends inside a box header" });
    const huge = Buffer.concat([bigHeader, Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0])]);
    expect(readMarks(Buffer.concat([mp4, huge]))).toMatchObject({ damaged: "the MP4 ends inside a box" });
  });

  it("every cut of a marked PNG, GIF, MP4, JPEG and WebP, and every flipped byte, reads without throwing; a cut one is damaged", async () => {
    const png = await encodePng(gradient(24, 20));
    const files = {
      png,
      gif: Buffer.from((await encodeGif([0, 1].map((k) => gradient(20, 16, k)), { delaysMs: 100 })).bytes),
      mp4: markedMp4(),
      jpeg: await sharp(png).keepMetadata().jpeg().toBuffer(),
      webp: await sharp(png).keepMetadata().webp().toBuffer(),
    };
    for (const [format, whole] of Object.entries(files)) {
      expect(readMarks(whole).damaged, format).toBeNull();
      // Where a cut leaves a whole file as far as it goes: a JPEG cut in its image data (all its segments come
      // before it), an MP4 cut between top-level boxes, a GIF cut after its extensions (only they are read).
      const whole_ = (n: number) =>
        format === "jpeg" ? n >= whole.indexOf(Buffer.from([0xff, 0xda])) + 2 : format === "mp4" ? boxEnds(whole).includes(n) : format === "gif" ? n > firstImage(whole) : false;
      for (let n = 1; n < whole.length; n++) {
        const r = readMarks(whole.subarray(0, n));
        // Too short to tell what it was (a PNG's signature, an MP4's ftyp, a WebP's RIFF header cut): no picture.
        if (n >= 12) expect(r.format).toBe(format);
        if (r.format !== "unknown" && !whole_(n)) expect(r.damaged, `${format} cut at ${n} of ${whole.length}`).not.toBeNull();
      }
      for (let i = 0; i < Math.min(whole.length, 4000); i++) {
        const flipped = Buffer.from(whole);
        for (const v of [0x00, 0xff, flipped[i] ^ 0x80]) {
          flipped[i] = v;
          expect(() => readMarks(flipped), `${format} byte ${i} = ${v}`).not.toThrow();
        }
      }
    }
  });
});
