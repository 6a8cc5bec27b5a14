import sharp from "sharp";
import { describe, expect, it } from "vitest";
import {
  applyAffine,
  composeAffine,
  cropImage,
  flipHorizontal,
  invertAffine,
  pasteImage,
  resizeImage,
  rotateQuarterTurns,
  shrinkByBox,
  solidImage,
  squareCropTransform,
  warpAffine,
} from "../../../src/pipeline/image/index.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";

/** A deterministic test pattern: r = x, g = y, b = x ^ y. */
function pattern(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      data[o] = x & 255;
      data[o + 1] = y & 255;
      data[o + 2] = (x ^ y) & 255;
    }
  return { data, width: w, height: h };
}

describe("affine helpers", () => {
  it("inverts and composes", () => {
    const m = squareCropTransform(100, 80, 50, 0.3, 192);
    const id = composeAffine(invertAffine(m), m);
    [1, 0, 0, 0, 1, 0].forEach((v, i) => expect(id[i]).toBeCloseTo(v, 10));
  });

  it("maps the square's centre to the crop centre and its rotated corner to the crop corner", () => {
    const angle = 0.4;
    const m = squareCropTransform(100, 80, 50, angle, 192);
    expect(applyAffine(m, 100, 80).map((v) => +v.toFixed(9))).toEqual([96, 96]);
    // The square's own x axis points along (cos, sin) in the image; 25 px along it is the crop's right edge.
    const [x, y] = applyAffine(m, 100 + 25 * Math.cos(angle), 80 + 25 * Math.sin(angle));
    expect(x).toBeCloseTo(192, 9);
    expect(y).toBeCloseTo(96, 9);
  });

  it("refuses singular transforms", () => {
    expect(() => invertAffine([0, 0, 0, 0, 0, 0])).toThrow(RangeError);
  });
});

describe("pixel helpers", () => {
  it("rotateQuarterTurns turns clockwise as sharp does, for any number of quarter turns", async () => {
    const w = 5, h = 3;
    const data = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7) % 251);
    for (const turns of [0, 1, 2, 3, -1, 6]) {
      const mine = rotateQuarterTurns({ data, width: w, height: h }, turns);
      const ref = await sharp(Buffer.from(data), { raw: { width: w, height: h, channels: 3 } }).rotate((((turns % 4) + 4) % 4) * 90).raw().toBuffer({ resolveWithObject: true });
      expect([mine.width, mine.height], `${turns}`).toEqual([ref.info.width, ref.info.height]);
      expect(Buffer.from(mine.data).equals(ref.data), `${turns}`).toBe(true);
    }
  });

  it("identity warp reproduces the image", () => {
    const img = pattern(37, 23);
    const out = warpAffine(img, [1, 0, 0, 0, 1, 0], 37, 23);
    // The last row/column read a black neighbour at weight 0: still exact.
    expect(Buffer.from(out.data).equals(Buffer.from(img.data))).toBe(true);
  });

  it("integer translation shifts pixels and fills outside with black", () => {
    const img = pattern(20, 10);
    const out = warpAffine(img, [1, 0, -5, 0, 1, 0], 20, 10); // crop x = image x - 5
    expect(out.data[(3 * 20 + 0) * 3]).toBe(5);
    expect(Array.from(out.data.subarray((3 * 20 + 17) * 3, (3 * 20 + 18) * 3))).toEqual([0, 0, 0]);
  });

  it("flips horizontally (twice is identity)", () => {
    const img = pattern(9, 4);
    const f = flipHorizontal(img);
    expect(f.data[0]).toBe(8);
    expect(Buffer.from(flipHorizontal(f).data).equals(Buffer.from(img.data))).toBe(true);
  });

  it("box-shrinks by averaging", () => {
    const img = pattern(8, 8);
    const s = shrinkByBox(img, 4);
    expect([s.width, s.height]).toEqual([2, 2]);
    expect(s.data[0]).toBe(2); // mean of 0,1,2,3 = 1.5 → rounds to 2
    expect(s.data[1]).toBe(2);
  });

  it("resizes a flat image to the same flat colour", () => {
    const s = resizeImage(solidImage(640, 480, [10, 200, 30]), 64, 48);
    expect([s.width, s.height]).toEqual([64, 48]);
    expect(Array.from(s.data.subarray((20 * 64 + 30) * 3, (20 * 64 + 31) * 3))).toEqual([10, 200, 30]);
  });

  it("averages what a shrink of more than 2× covers: fine stripes come out flat, not as speckle", () => {
    // Bilinear sampling at 2.5× read two of every five one-pixel stripes: 0 and 255 bands in the result.
    const w = 500, h = 400, stripes = solidImage(w, h, [0, 0, 0]);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x += 2) stripes.data.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
    for (const k of [2.5, 3.3, 7]) {
      const s = resizeImage(stripes, Math.round(w / k), Math.round(h / k));
      const v = Array.from(s.data);
      expect(Math.max(...v) - Math.min(...v), `${k}×`).toBeLessThan(255 / k + 2);
    }
  });

  it("keeps a shrunk picture in place: a bright square lands where its scaled position says", () => {
    // The larger shrinks sum whole blocks first; the block sum drops a partial block at the edge, which must
    // not stretch the picture.
    const w = 1001, h = 803, img = solidImage(w, h, [0, 0, 0]);
    const [x0, y0, side] = [700, 500, 60];
    for (let y = y0; y < y0 + side; y++) img.data.fill(255, (y * w + x0) * 3, (y * w + x0 + side) * 3);
    for (const k of [2.2, 4.5, 9]) {
      const W = Math.round(w / k), H = Math.round(h / k);
      const s = resizeImage(img, W, H);
      let sx = 0, sy = 0, m = 0;
      for (let i = 0; i < W * H; i++) {
        const v = s.data[i * 3]!;
        sx += v * ((i % W) + 0.5);
        sy += v * (Math.floor(i / W) + 0.5);
        m += v;
      }
      expect(Math.abs(sx / m - (x0 + side / 2) * (W / w)), `${k}× x`).toBeLessThan(0.05);
      expect(Math.abs(sy / m - (y0 + side / 2) * (H / h)), `${k}× y`).toBeLessThan(0.05);
    }
  });

  it("crops and pastes", () => {
    const img = pattern(30, 20);
    const c = cropImage(img, { x: 5, y: 6, width: 10, height: 4 });
    expect([c.width, c.height]).toEqual([10, 4]);
    expect([c.data[0], c.data[1]]).toEqual([5, 6]);
    const canvas = solidImage(30, 20, [0, 0, 0]);
    pasteImage(canvas, c, 25, 18); // clipped at the right and bottom edges
    expect([canvas.data[(18 * 30 + 25) * 3], canvas.data[(18 * 30 + 25) * 3 + 1]]).toEqual([5, 6]);
    expect(cropImage(img, { x: 28, y: 0, width: 10, height: 3 }).width).toBe(2);
  });
});
