import type { RgbImage } from "../../src/pipeline/types.ts";

/** A black-and-white copy of a picture (Rec. 601 luma in all three channels), as a scanned old photo is. */
export function greyscale(img: RgbImage): RgbImage {
  const d = img.data.slice();
  for (let i = 0; i < d.length; i += 3) d[i] = d[i + 1] = d[i + 2] = Math.round(0.299 * d[i]! + 0.587 * d[i + 1]! + 0.114 * d[i + 2]!);
  return { ...img, data: d };
}

/** The largest spread between a pixel's channels over the picture: 0 (or 1, rounding) for a grey picture. */
export function mostColourful(img: RgbImage): number {
  let most = 0;
  const d = img.data;
  for (let p = 0; p < d.length; p += 3) most = Math.max(most, Math.max(d[p]!, d[p + 1]!, d[p + 2]!) - Math.min(d[p]!, d[p + 1]!, d[p + 2]!));
  return most;
}
