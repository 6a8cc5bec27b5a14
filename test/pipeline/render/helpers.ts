import sharp from "sharp";
import type { Box, RgbImage } from "../../../src/pipeline/types.ts";

export function grey(width: number, height: number, v = 128): RgbImage {
  return { data: new Uint8Array(width * height * 3).fill(v), width, height };
}

export async function decodePng(png: Buffer): Promise<RgbImage> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** Pixels that differ from the original, with how many are near-white fill and near-black outline. */
export function changedPixels(before: RgbImage, after: RgbImage) {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  let white = 0;
  let black = 0;
  const outside = (boxes: Box[]) => {
    let n = 0;
    for (let y = 0; y < after.height; y++) {
      for (let x = 0; x < after.width; x++) {
        const i = (y * after.width + x) * 3;
        if (after.data[i] === before.data[i] && after.data[i + 1] === before.data[i + 1] && after.data[i + 2] === before.data[i + 2]) continue;
        if (!boxes.some((b) => x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height)) n++;
      }
    }
    return n;
  };
  for (let y = 0; y < after.height; y++) {
    for (let x = 0; x < after.width; x++) {
      const i = (y * after.width + x) * 3;
      const [r, g, b] = [after.data[i], after.data[i + 1], after.data[i + 2]];
      if (r === before.data[i] && g === before.data[i + 1] && b === before.data[i + 2]) continue;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
      if (r > 240 && g > 240 && b > 240) white++;
      if (r < 16 && g < 16 && b < 16) black++;
    }
  }
  return { bbox: x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 }, white, black, outside };
}

export const inside = (inner: Box, outer: Box) =>
  inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
