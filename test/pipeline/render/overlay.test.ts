import { describe, expect, it } from "vitest";
import { applyOverlay, type CaptionOverlay } from "../../../src/pipeline/render/index.ts";
import type { OverlayPiece } from "../../../src/pipeline/render/meme.ts";
import { grey } from "./helpers.ts";

/** A piece of one straight-alpha colour, all of it ink. */
function solid(x: number, y: number, width: number, height: number, rgba: [number, number, number, number]): OverlayPiece {
  const px = new Uint8Array(width * height * 4);
  for (let i = 0; i < px.length; i += 4) px.set(rgba, i);
  return { rgba: px, width, height, x, y, ink: { x: 0, y: 0, width, height } };
}

const overlay = (width: number, height: number, pieces: OverlayPiece[]): CaptionOverlay => ({ width, height, pieces, layouts: [], inkBox: null });
const pixel = (img: { data: Uint8Array; width: number }, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];

describe("applyOverlay (placed pieces)", () => {
  it("draws later pieces over earlier ones, blends partial alpha, clips to the picture and leaves the rest and the input untouched", () => {
    const img = grey(10, 8, 100);
    const out = applyOverlay(
      img,
      overlay(10, 8, [
        solid(-3, -2, 6, 5, [255, 0, 0, 255]), // partly above and left of the picture
        solid(2, 1, 4, 3, [0, 0, 255, 255]), // over the first one's corner
        solid(7, 5, 6, 6, [200, 200, 200, 128]), // half transparent, past the right and bottom edges
      ]),
    );
    expect(pixel(out, 0, 0)).toEqual([255, 0, 0]);
    expect(pixel(out, 2, 1)).toEqual([0, 0, 255]); // both pieces cover it: the later one wins
    expect(pixel(out, 5, 3)).toEqual([0, 0, 255]);
    expect(pixel(out, 6, 3)).toEqual([100, 100, 100]);
    // Nothing of the first piece's clipped columns wraps onto the ends of rows.
    for (let y = 0; y < 3; y++) expect(pixel(out, 9, y)).toEqual([100, 100, 100]);
    // (200·128 + 100·127 + 127) / 255, rounded down.
    expect(pixel(out, 9, 7)).toEqual([150, 150, 150]);
    expect(pixel(out, 7, 5)).toEqual([150, 150, 150]);
    expect(pixel(out, 6, 5)).toEqual([100, 100, 100]);
    expect(pixel(out, 0, 7)).toEqual([100, 100, 100]);
    expect(img.data.every((v) => v === 100)).toBe(true);
  });

  it("blends only over each piece's ink box", () => {
    const img = grey(6, 6, 50);
    const piece = solid(0, 0, 6, 6, [255, 255, 255, 255]);
    piece.ink = { x: 1, y: 2, width: 3, height: 2 };
    const out = applyOverlay(img, overlay(6, 6, [piece]));
    let changed = 0;
    for (let y = 0; y < 6; y++) for (let x = 0; x < 6; x++) if (pixel(out, x, y)[0] !== 50) changed++;
    expect(changed).toBe(6);
    expect(pixel(out, 1, 2)).toEqual([255, 255, 255]);
    expect(pixel(out, 3, 3)).toEqual([255, 255, 255]);
  });
});
