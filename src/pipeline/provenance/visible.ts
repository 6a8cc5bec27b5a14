import sharp from "sharp";
import type { CaptionOverlay } from "../render/meme.ts";

/** The optional visible mark a server can turn on: a small label in the bottom-right corner. */
export const VISIBLE_MARK_TEXT = "AI-edited";

/** Label height as a fraction of the image's shorter side, and its smallest legible height in px. */
const MARK_HEIGHT = 0.05;
const MIN_MARK_PX = 12;

/**
 * The mark as an overlay (the captions' type: one piece, the label), so it is drawn with the same
 * applyOverlay on a still or on every animation frame.
 */
export async function renderVisibleMark(width: number, height: number): Promise<CaptionOverlay> {
  const h = Math.min(height, Math.max(MIN_MARK_PX, Math.round(Math.min(width, height) * MARK_HEIGHT)));
  const w = Math.min(width, Math.round(h * 4.2));
  const font = Math.round(h * 0.68);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
<rect x="0" y="0" width="${w}" height="${h}" rx="${Math.round(h / 4)}" fill="#000" fill-opacity="0.55"/>
<text x="${w / 2}" y="${h * 0.74}" font-family="DejaVu Sans, sans-serif" font-weight="bold" font-size="${font}" fill="#fff" text-anchor="middle">${VISIBLE_MARK_TEXT}</text>
</svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const margin = Math.max(2, Math.round(h * 0.3));
  const ox = Math.max(0, width - info.width - margin);
  const oy = Math.max(0, height - info.height - margin);
  const cw = Math.min(info.width, width - ox);
  const ch = Math.min(info.height, height - oy);
  const rgba = new Uint8Array(data.buffer, data.byteOffset, data.length);
  const label = { x: 0, y: 0, width: cw, height: ch };
  return { width, height, pieces: [{ rgba, width: info.width, height: info.height, x: ox, y: oy, ink: label }], layouts: [], inkBox: { x: ox, y: oy, width: cw, height: ch } };
}
