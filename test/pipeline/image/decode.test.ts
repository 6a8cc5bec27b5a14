import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { deflateSync } from "node:zlib";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { MimicError } from "../../../src/errors.ts";
import { decodeAnimation, decodeImage, encodePng } from "../../../src/pipeline/image/index.ts";

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../../fixtures/faces/${name}`, import.meta.url)));

// gifenc is CommonJS without types; createRequire works under both Node ESM and vitest.
const gifenc = createRequire(import.meta.url)("gifenc") as {
  GIFEncoder: () => {
    writeFrame(index: Uint8Array, w: number, h: number, o: { palette: number[][]; delay?: number; repeat?: number }): void;
    finish(): void;
    bytes(): Uint8Array;
  };
};

/** A GIF whose frames are solid red, green, blue (in that order), `delayMs` each. */
function threeFrameGif(w: number, h: number, delayMs: number): Uint8Array {
  const enc = gifenc.GIFEncoder();
  const palette = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ];
  for (let f = 0; f < 3; f++) enc.writeFrame(new Uint8Array(w * h).fill(f), w, h, { palette, delay: delayMs, repeat: 0 });
  enc.finish();
  return enc.bytes();
}

function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pngChunk(type: string, body: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const typed = Buffer.concat([Buffer.from(type, "ascii"), body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([len, typed, crc]);
}

/** A ~100-byte PNG whose header claims width × height RGB pixels (a decompression-bomb header). */
function bombPng(width: number, height: number): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", deflateSync(Buffer.alloc(1024))),
    pngChunk("IEND", new Uint8Array()),
  ]);
}

async function expectMimicError(p: Promise<unknown>, code: string, message: RegExp): Promise<MimicError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MimicError);
  expect((err as MimicError).code).toBe(code);
  expect((err as MimicError).userMessage).toMatch(message);
  return err as MimicError;
}

describe("decodeImage", () => {
  it("decodes a JPEG fixture to packed RGB", async () => {
    const img = await decodeImage(fixture("grace_hopper_512x512.jpg"));
    expect([img.width, img.height]).toEqual([512, 512]);
    expect(img.data.length).toBe(512 * 512 * 3);
    expect(img.data.byteOffset).toBe(0);
  });

  it("decodes a PNG fixture", async () => {
    const img = await decodeImage(fixture("astronaut.png"));
    expect([img.width, img.height]).toEqual([512, 512]);
  });

  it("applies the EXIF orientation", async () => {
    // 40×20: left half black, right half white; orientation 6 means "rotate 90° clockwise to display".
    const raw = Buffer.alloc(40 * 20 * 3);
    for (let y = 0; y < 20; y++) raw.fill(255, (y * 40 + 20) * 3, (y * 40 + 40) * 3);
    const jpeg = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const img = await decodeImage(jpeg);
    expect([img.width, img.height]).toEqual([20, 40]);
    // After a clockwise quarter turn the black (left) half is on top.
    expect(img.data[(5 * 20 + 10) * 3]).toBeLessThan(40);
    expect(img.data[(35 * 20 + 10) * 3]).toBeGreaterThan(215);
  });

  it("flattens transparency onto white and expands grey to RGB", async () => {
    const rgba = Buffer.alloc(8 * 8 * 4); // fully transparent black
    const png = await sharp(rgba, { raw: { width: 8, height: 8, channels: 4 } }).png().toBuffer();
    const img = await decodeImage(png);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([255, 255, 255]);
    const grey = await sharp(Buffer.alloc(16, 77), { raw: { width: 4, height: 4, channels: 1 } }).png().toBuffer();
    const g = await decodeImage(grey);
    expect(g.data.length).toBe(4 * 4 * 3);
    expect(Array.from(g.data.subarray(0, 3))).toEqual([77, 77, 77]);
  });

  it("converts 16-bit and CMYK inputs to 8-bit sRGB", async () => {
    const raw = Buffer.alloc(8 * 8 * 3, 200);
    const png16 = await sharp(raw, { raw: { width: 8, height: 8, channels: 3 } }).toColourspace("rgb16").png().toBuffer();
    const a = await decodeImage(png16);
    expect(a.data.length).toBe(8 * 8 * 3);
    expect(Array.from(a.data.subarray(0, 3))).toEqual([200, 200, 200]);
    const cmyk = await sharp(raw, { raw: { width: 8, height: 8, channels: 3 } }).toColourspace("cmyk").jpeg().toBuffer();
    const b = await decodeImage(cmyk);
    expect(b.data.length).toBe(8 * 8 * 3);
    for (const v of b.data.subarray(0, 3)) expect(Math.abs(v - 200)).toBeLessThan(20);
  });

  it("takes the first frame of an animated GIF", async () => {
    const img = await decodeImage(threeFrameGif(16, 12, 50));
    expect([img.width, img.height]).toEqual([16, 12]);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([255, 0, 0]);
  });

  it("refuses non-image bytes with the words every entry point uses (a face photo: no clips offered)", async () => {
    const e = await expectMimicError(decodeImage(new TextEncoder().encode("hello, this is not a picture")), "NOT_AN_IMAGE", /not a picture/);
    expect(e.userMessage).toBe("That file is not a picture I can use. Please send a JPEG, PNG, WebP or GIF image.");
  });

  it("a PNG cut off inside its header is damaged, not some other kind of file", async () => {
    const e = await expectMimicError(decodeImage(fixture("astronaut.png").subarray(0, 20)), "NOT_AN_IMAGE", /damaged/);
    expect(e.userMessage).toBe("That file looks damaged or incomplete (maybe the upload was cut off). Please send it again.");
  });

  it("refuses zero bytes", async () => {
    const e = await expectMimicError(decodeImage(new Uint8Array(0)), "BAD_INPUT", /empty/);
    expect(e.userMessage).toBe("That file is empty (0 bytes). Please send the picture again.");
  });

  it("refuses a truncated JPEG", async () => {
    const full = fixture("franck_01829.jpg");
    await expectMimicError(decodeImage(full.subarray(0, Math.floor(full.length / 2))), "NOT_AN_IMAGE", /damaged or incomplete/);
  });

  it("refuses a 50 000 × 50 000 PNG from its header without allocating the pixels", async () => {
    const bomb = bombPng(50_000, 50_000);
    expect(bomb.length).toBeLessThan(200);
    const before = process.memoryUsage().rss;
    const err = await expectMimicError(decodeImage(bomb), "IMAGE_TOO_LARGE", /50000×50000 pixels/);
    expect(err.details).toMatchObject({ width: 50_000, height: 50_000 });
    // 7.5 GB would be needed to decode it; we must not have grown by anything near that.
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it("refuses SVG documents (including huge ones) as unsupported", async () => {
    const svg = new TextEncoder().encode(
      '<svg xmlns="http://www.w3.org/2000/svg" width="50000" height="50000"><rect width="100%" height="100%"/></svg>',
    );
    await expectMimicError(decodeImage(svg), "NOT_AN_IMAGE", /SVG files are not supported/);
  });

  it("honours maxPixels and maxBytes", async () => {
    const png = new Uint8Array(await sharp(fixture("grace_hopper_512x512.jpg")).png().toBuffer());
    await expectMimicError(decodeImage(png, { maxPixels: 512 * 511 }), "IMAGE_TOO_LARGE", /512×512/);
    await expectMimicError(decodeImage(fixture("grace_hopper_512x512.jpg"), { maxBytes: 1024 }), "IMAGE_TOO_LARGE", /too large/);
  });

  it("reads a JPEG over maxPixels (a phone's 48 MP photo) scaled down to the limit, upright; refuses one over 16 times it, in the size the user sees", async () => {
    // Stored sideways (EXIF 6), as phones do: 8064×6048 in the file, 6048×8064 to its owner.
    const phone = await sharp({ create: { width: 8064, height: 6048, channels: 3, background: "#8a7" } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const maxPixels = 40_000_000;
    const image = await decodeImage(new Uint8Array(phone), { maxPixels });
    expect(image.width * image.height).toBeLessThanOrEqual(maxPixels);
    expect(image.width * image.height).toBeGreaterThan(0.99 * maxPixels);
    expect(image.height).toBeGreaterThan(image.width);
    expect(image.height / image.width).toBeCloseTo(8064 / 6048, 2);
    // The same through the animation decoder (a still reaction).
    const still = await decodeAnimation(new Uint8Array(phone), { maxPixels });
    expect([still.width, still.height]).toEqual([image.width, image.height]);

    const err = await expectMimicError(decodeImage(new Uint8Array(phone), { maxPixels: Math.floor((8064 * 6048) / 16) - 1 }), "IMAGE_TOO_LARGE", /6048×8064 pixels/);
    expect(err.details).toMatchObject({ width: 6048, height: 8064 });
  });
});

describe("decodeAnimation", () => {
  it("returns every frame with its delay", async () => {
    const anim = await decodeAnimation(threeFrameGif(10, 6, 70));
    expect(anim.frames).toHaveLength(3);
    expect([anim.width, anim.height]).toEqual([10, 6]);
    expect(anim.delaysMs).toEqual([70, 70, 70]);
    expect(anim.frames.map((f) => Array.from(f.data.subarray(0, 3)))).toEqual([
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
    ]);
    for (const f of anim.frames) expect(f.data.length).toBe(10 * 6 * 3);
  });

  it("decodes an animated WebP too", async () => {
    const webp = await sharp(threeFrameGif(10, 6, 70), { animated: true }).webp({ lossless: true }).toBuffer();
    const anim = await decodeAnimation(webp);
    expect(anim.frames).toHaveLength(3);
    expect(anim.delaysMs).toEqual([70, 70, 70]);
    expect(Array.from(anim.frames[2].data.subarray(0, 3))).toEqual([0, 0, 255]);
    const still = await decodeImage(webp);
    expect(Array.from(still.data.subarray(0, 3))).toEqual([255, 0, 0]);
  });

  it("keeps only maxFrames frames", async () => {
    const anim = await decodeAnimation(threeFrameGif(10, 6, 70), { maxFrames: 2 });
    expect(anim.frames).toHaveLength(2);
    expect(anim.delaysMs).toHaveLength(2);
  });

  it("plays near-zero GIF delays at 100 ms, as browsers do", async () => {
    const anim = await decodeAnimation(threeFrameGif(4, 4, 0));
    expect(anim.delaysMs).toEqual([100, 100, 100]);
  });

  it("bounds the total pixel count before decoding", async () => {
    await expectMimicError(
      decodeAnimation(threeFrameGif(100, 100, 50), { maxTotalPixels: 25_000 }),
      "IMAGE_TOO_LARGE",
      /at most 2 frames fit/,
    );
  });

  it("treats a still image as one frame", async () => {
    const anim = await decodeAnimation(fixture("astronaut.png"));
    expect(anim.frames).toHaveLength(1);
    expect(anim.frames[0].width).toBe(512);
  });

  it("refuses a GIF cut off inside a frame, however much arrived; one missing only its trailer byte is whole", async () => {
    // Noise, so each frame's data runs over many sub-blocks (a flat frame packs into a few bytes).
    const enc = gifenc.GIFEncoder();
    const palette = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]];
    let seed = 3;
    for (let f = 0; f < 4; f++) {
      const index = new Uint8Array(64 * 64).map(() => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16) & 3);
      enc.writeFrame(index, 64, 64, { palette, delay: 100, repeat: 0 });
    }
    enc.finish();
    const gif = enc.bytes();
    expect(gif.at(-1)).toBe(0x3b);
    const damaged = "That file looks damaged or incomplete (maybe the upload was cut off). Please send it again.";
    // Half (two frames and a bit), inside the last frame, and its last data block's terminator missing.
    for (const length of [Math.floor(gif.length / 2), gif.length - 100, gif.length - 2]) {
      const cut = gif.slice(0, length);
      expect((await expectMimicError(decodeAnimation(cut), "NOT_AN_IMAGE", /damaged/)).userMessage, `${length} bytes`).toBe(damaged);
      await expectMimicError(decodeImage(cut), "NOT_AN_IMAGE", /damaged/);
    }
    // Some encoders leave the trailer out: every frame is there, so it is read whole.
    const noTrailer = await decodeAnimation(gif.slice(0, -1));
    expect(noTrailer.frames).toHaveLength(4);
    expect(noTrailer).toEqual(await decodeAnimation(gif));
  });

  it("refuses bad inputs like decodeImage", async () => {
    await expectMimicError(decodeAnimation(new Uint8Array(0)), "BAD_INPUT", /empty/);
    await expectMimicError(decodeAnimation(bombPng(50_000, 50_000)), "IMAGE_TOO_LARGE", /too large/);
  });
});

describe("encodePng", () => {
  it("round-trips pixels losslessly", async () => {
    const img = await decodeImage(fixture("franck_02221.jpg"));
    const back = await decodeImage(await encodePng(img));
    expect([back.width, back.height]).toEqual([img.width, img.height]);
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
  });
});
