import type { RgbImage } from "../../src/pipeline/types.ts";

/**
 * A picture resampled to width × height by exact area averaging (each output pixel the mean of the source area it
 * covers, partly covered pixels by their share): the shrink a small copy of a picture should be, with no pixel
 * skipped. Independent of the engine's resizers (resizeImage samples bilinearly below 2×).
 */
export function areaResize(src: RgbImage, width: number, height: number): RgbImage {
  const rx = src.width / width, ry = src.height / height;
  const cols = new Float64Array(width * src.height * 3);
  for (let x = 0; x < width; x++) {
    const a = x * rx, b = (x + 1) * rx;
    for (let i = Math.floor(a); i < Math.min(src.width, Math.ceil(b)); i++) {
      const share = (Math.min(b, i + 1) - Math.max(a, i)) / rx;
      if (share <= 0) continue;
      for (let y = 0; y < src.height; y++) for (let c = 0; c < 3; c++) cols[(y * width + x) * 3 + c]! += share * src.data[(y * src.width + i) * 3 + c]!;
    }
  }
  const out = new Float64Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const a = y * ry, b = (y + 1) * ry;
    for (let j = Math.floor(a); j < Math.min(src.height, Math.ceil(b)); j++) {
      const share = (Math.min(b, j + 1) - Math.max(a, j)) / ry;
      if (share <= 0) continue;
      for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c]! += share * cols[(j * width + x) * 3 + c]!;
    }
  }
  return { width, height, data: Uint8Array.from(out, (v) => Math.min(255, Math.round(v))) };
}
