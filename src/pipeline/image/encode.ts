import sharp from "sharp";
import type { RgbImage } from "../types.ts";

/** Encodes an RgbImage as PNG (lossless; the format every reply is sent in). */
export async function encodePng(img: RgbImage, opts: { compressionLevel?: number } = {}): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png({ compressionLevel: opts.compressionLevel ?? 6 })
    .toBuffer();
}

/** Encodes an RgbImage as JPEG (for previews and compact test fixtures). */
export async function encodeJpeg(img: RgbImage, quality = 90): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}
