import sharp from "sharp";
import type { CaptionOverlay } from "../render/meme.ts";
import type { Box } from "../types.ts";

/**
 * The optional visible mark a server can turn on: a small label in a corner of the picture. Which corner is
 * clearMarkCorner's choice (used by render/meme.ts's renderMemeOverlays): the bottom-right one unless the face
 * or a caption is there.
 */
export const VISIBLE_MARK_TEXT = "AI-edited";

/** Label height as a fraction of the image's shorter side, and its smallest legible height in px. */
const MARK_HEIGHT = 0.05;
const MIN_MARK_PX = 12;

export type MarkCorner = "bottom-right" | "bottom-left" | "top-right" | "top-left";
/** The corners in the order they are preferred: the bottom-right one is the label's usual place. */
export const MARK_CORNERS: readonly MarkCorner[] = ["bottom-right", "bottom-left", "top-right", "top-left"];

/** The label's size in px for a width × height picture, and its distance from the picture's edges. */
function markSize(width: number, height: number) {
  const h = Math.min(height, Math.max(MIN_MARK_PX, Math.round(Math.min(width, height) * MARK_HEIGHT)));
  const w = Math.min(width, Math.round(h * 4.2));
  return { w, h, margin: Math.max(2, Math.round(h * 0.3)) };
}

/** Where the label goes in `corner` of a width × height picture (px, inside the picture). */
export function visibleMarkBox(width: number, height: number, corner: MarkCorner): Box {
  const { w, h, margin } = markSize(width, height);
  const x = corner.endsWith("right") ? Math.max(0, width - w - margin) : Math.min(margin, Math.max(0, width - w));
  const y = corner.startsWith("bottom") ? Math.max(0, height - h - margin) : Math.min(margin, Math.max(0, height - h));
  return { x, y, width: Math.min(w, width - x), height: Math.min(h, height - y) };
}

/**
 * The label's box in `corner` grown by the gap that keeps other ink from touching it (its margin from the
 * picture's edge, at least 2 px), clipped to the picture: what a caption must stay off.
 */
export function visibleMarkKeepOut(width: number, height: number, corner: MarkCorner): Box {
  const b = visibleMarkBox(width, height, corner);
  const gap = markSize(width, height).margin;
  const x = Math.max(0, b.x - gap);
  const y = Math.max(0, b.y - gap);
  return { x, y, width: Math.min(width, b.x + b.width + gap) - x, height: Math.min(height, b.y + b.height + gap) - y };
}

export const boxesOverlap = (a: Box, b: Box) =>
  a.width > 0 && a.height > 0 && b.width > 0 && b.height > 0 && a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

const overlapArea = (a: Box, b: Box) =>
  Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x)) * Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));

/**
 * The corner for the label: the first of MARK_CORNERS whose label is off the face box and whose keep-out
 * (visibleMarkKeepOut) touches none of `ink` (the captions' measured ink), or null when there is none.
 */
export function clearMarkCorner(width: number, height: number, face: Box | null, ink: Box[]): MarkCorner | null {
  return (
    MARK_CORNERS.find((c) => {
      if (face && boxesOverlap(visibleMarkBox(width, height, c), face)) return false;
      const keep = visibleMarkKeepOut(width, height, c);
      return !ink.some((b) => boxesOverlap(b, keep));
    }) ?? null
  );
}

/**
 * The corner for the label when the captions are to be laid out again around it (no corner was clear):
 * the first of MARK_CORNERS off the face box, else the one that covers the least of it.
 */
export function faceClearCorner(width: number, height: number, face: Box | null): MarkCorner {
  if (!face) return MARK_CORNERS[0];
  let best = MARK_CORNERS[0];
  let least = Infinity;
  for (const c of MARK_CORNERS) {
    const a = overlapArea(visibleMarkBox(width, height, c), face);
    if (a < least) [best, least] = [c, a];
  }
  return best;
}

/**
 * The mark as an overlay (the captions' type: one piece, the label) in `corner`, so it is drawn with the same
 * applyOverlay on a still or on every animation frame.
 */
export async function renderVisibleMark(width: number, height: number, corner: MarkCorner = "bottom-right"): Promise<CaptionOverlay> {
  const { w, h } = markSize(width, height);
  const font = Math.round(h * 0.68);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
<rect x="0" y="0" width="${w}" height="${h}" rx="${Math.round(h / 4)}" fill="#000" fill-opacity="0.55"/>
<text x="${w / 2}" y="${h * 0.74}" font-family="DejaVu Sans, sans-serif" font-weight="bold" font-size="${font}" fill="#fff" text-anchor="middle">${VISIBLE_MARK_TEXT}</text>
</svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const box = visibleMarkBox(width, height, corner);
  const cw = Math.min(info.width, box.width);
  const ch = Math.min(info.height, box.height);
  const rgba = new Uint8Array(data.buffer, data.byteOffset, data.length);
  const label = { x: 0, y: 0, width: cw, height: ch };
  return { width, height, pieces: [{ rgba, width: info.width, height: info.height, x: box.x, y: box.y, ink: label }], layouts: [], inkBox: { x: box.x, y: box.y, width: cw, height: ch } };
}
