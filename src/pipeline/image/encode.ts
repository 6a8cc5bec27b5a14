import sharp from "sharp";
import { addPngProvenance } from "../provenance/marks.ts";
import type { RgbImage } from "../types.ts";

/**
 * zlib level for replies. Measured on a 512² photo (one core): level 6 took 12.9 ms for 589 KB, level 1
 * 6.7 ms for 671 KB. Encoding was the largest single stage of a meme, and +14 % bytes is far inside every
 * platform's upload limit, so replies favour latency.
 */
export const REPLY_PNG_COMPRESSION = 1;

/**
 * Encodes an RgbImage as PNG (lossless; the format every reply is sent in). Outputs carry the provenance
 * marks (src/pipeline/provenance); only internal images that no one receives (a saved face's aligned crop)
 * pass `provenance: false`.
 */
export async function encodePng(img: RgbImage, opts: { compressionLevel?: number; provenance?: boolean } = {}): Promise<Buffer> {
  const png = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png({ compressionLevel: opts.compressionLevel ?? REPLY_PNG_COMPRESSION })
    .toBuffer();
  return opts.provenance === false ? png : addPngProvenance(png);
}

/** Encodes an RgbImage as JPEG (for previews and compact test fixtures). */
export async function encodeJpeg(img: RgbImage, quality = 90): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}
