import { MimicError } from "../../errors.ts";
import { encodePng } from "../image/encode.ts";
import { boxesOverlap, clearMarkCorner, faceClearCorner, renderVisibleMark, visibleMarkKeepOut, type MarkCorner } from "../provenance/visible.ts";
import type { Box, RgbImage } from "../types.ts";
import { ensureCaptionFonts } from "./fonts.ts";
import { layoutCaption, MAX_LINES, type CaptionLayout, type VAlign } from "./fit.ts";
import { captionChanges, captionNotes, type CaptionChanges, type PreparedText } from "./text.ts";

/** A caption in a custom layout. Position and size are fractions (0..1) of the image, so they survive resizing. */
export interface CaptionBox<T extends string = PreparedText> {
  text: T;
  x: number;
  y: number;
  width: number;
  height: number;
  /** Default "middle". */
  valign?: VAlign;
}

/** Captions to draw, prepared (prepareCaptions); `CaptionText` is the same as typed. */
export interface MemeCaptions<T extends string = PreparedText> {
  top?: T;
  bottom?: T;
  boxes?: CaptionBox<T>[];
  /** Keep the user's letter case instead of the classic all-caps. */
  keepCase?: boolean;
  /**
   * The face, as fractions (0..1) of the image: top and bottom captions shrink to stay off it where the
   * space above or below it allows a readable caption (otherwise they keep the classic boxes).
   */
  avoid?: { x: number; y: number; width: number; height: number };
  /**
   * Where drawing adds what it had to change (a caption cut with "…", see cutNote), in words for the user:
   * prepareCaptions points it at the `notes` it returns, so they reach the meme's notes. Each is added once.
   */
  notes?: string[];
}

export type CaptionText = MemeCaptions<string>;

/**
 * Prepares every caption once (prepareCaption: marks capped, characters without a font left out), before
 * anything is drawn; `notes` says what was changed, in words for the user: one note for all the captions
 * (captionNotes), and one for each caption typed on more lines than MAX_LINES (linesNote).
 */
export function prepareCaptions(c: CaptionText): { captions: MemeCaptions; notes: string[] } {
  const changes: CaptionChanges[] = [];
  const lineNotes: string[] = [];
  const prep = (s: string | undefined, which: string) => {
    if (s === undefined) return undefined;
    const p = captionChanges(s, c.keepCase);
    changes.push(p);
    const lines = p.text === "" ? 0 : p.text.split("\n").length;
    if (lines > MAX_LINES) lineNotes.push(linesNote(which, lines));
    return p.text;
  };
  const captions: MemeCaptions = {
    top: prep(c.top, "top caption"),
    bottom: prep(c.bottom, "bottom caption"),
    ...(c.boxes ? { boxes: c.boxes.map((b, i) => ({ ...b, text: prep(b.text, `caption in box ${i + 1}`)! })) } : {}),
    ...(c.keepCase !== undefined ? { keepCase: c.keepCase } : {}),
    ...(c.avoid ? { avoid: c.avoid } : {}),
  };
  const notes = [...captionNotes(changes), ...lineNotes];
  captions.notes = notes;
  return { captions, notes };
}

/** The note for a caption typed on more lines than a caption has (fit.ts rule 2 runs the last ones together). */
export const linesNote = (which: string, lines: number) =>
  `The ${which} has ${lines} lines, but a caption has at most ${MAX_LINES}, so lines ${MAX_LINES} to ${lines} were joined into one line.`;

/** Classic layout, after memegen: boxes span the width minus side margins, each ~20 % of the height. */
export const SIDE_MARGIN = 0.04;
export const EDGE_MARGIN = 0.03;
export const BOX_HEIGHT = 0.2;
/** Caps the font size of short captions so "LOL" does not fill a fifth of the picture. */
export const MAX_FONT_PER_HEIGHT = 0.12;
export const MAX_CAPTION_BOXES = 8;
/** Smallest caption box (fraction of the height) worth keeping off the face; below it the classic box is used. */
export const MIN_AVOID_BOX = 0.09;
/**
 * Smallest legible caption size (font px, about the height of a capital or a Chinese character with its
 * outline) per the picture's shorter side, and its floor in px: a top or bottom caption that would be drawn
 * smaller in its box is drawn at this size on more lines, growing into its share of the picture (fit.ts rule 7).
 * The shorter side, not the height: a picture is seen scaled to fit, so a tall one's text looks as large as
 * its width allows, and a share of its height asked for letters so large that short words were broken.
 */
export const MIN_FONT_PER_SIDE = 0.04;
export const MIN_FONT_PX = 10;
/** The part of the picture's height a top (or bottom) caption may grow into at the smallest legible size. */
export const MAX_BOX_SHARE = 1 / 3;

/** The size cap of top and bottom captions (MAX_FONT_PER_HEIGHT, at least 6 px). */
export const maxCaptionFont = (height: number) => Math.max(6, Math.round(height * MAX_FONT_PER_HEIGHT));

/** The smallest legible size of top and bottom captions: MIN_FONT_PER_SIDE of the shorter side, at least MIN_FONT_PX, at most the size cap. */
export const minCaptionFont = (width: number, height: number) =>
  Math.min(maxCaptionFont(height), Math.max(MIN_FONT_PX, Math.round(Math.min(width, height) * MIN_FONT_PER_SIDE)));

/** The note for a top or bottom caption cut at the smallest legible size. */
export const cutNote = (which: "top" | "bottom") =>
  `The ${which} caption was too long to draw at a readable size, so it was cut short with “…”.`;

/** The face to keep captions off: its mesh's bounds (a little more above, for the forehead), as image fractions. */
export function faceAvoidBox(landmarks: ArrayLike<number>, width: number, height: number): NonNullable<MemeCaptions["avoid"]> {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i + 1 < landmarks.length; i += 3) {
    x0 = Math.min(x0, landmarks[i]);
    x1 = Math.max(x1, landmarks[i]);
    y0 = Math.min(y0, landmarks[i + 1]);
    y1 = Math.max(y1, landmarks[i + 1]);
  }
  const h = y1 - y0;
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  const top = clamp((y0 - 0.12 * h) / height);
  const bottom = clamp((y1 + 0.03 * h) / height);
  const left = clamp((x0 - 0.03 * h) / width);
  const right = clamp((x1 + 0.03 * h) / width);
  return { x: left, y: top, width: right - left, height: bottom - top };
}

export interface PlacedCaption {
  text: PreparedText;
  box: Box;
  valign: VAlign;
  maxFontSize: number;
  /** Top and bottom captions: which one, the smallest legible size and the share of the picture they may grow into (fit.ts rule 7). */
  which?: "top" | "bottom";
  minFontSize?: number;
  growTo?: Box;
}

/**
 * The pixel boxes captions go into, validated. Empty or whitespace-only captions are skipped. Top and bottom
 * captions may grow, at the smallest legible size, from their edge margin to MAX_BOX_SHARE of the height.
 * `keepOut` (px; the visible mark in its corner, see renderMemeOverlays) is a box no caption may reach: a top
 * or bottom caption that meets it is laid out from the keep-out's inner edge instead of the picture's (full
 * width, still centred, still off the face where there is room), and a custom box is cut back to its largest
 * part beside it.
 */
export function captionBoxes(width: number, height: number, captions: MemeCaptions, keepOut?: Box): PlacedCaption[] {
  const placed = placeCaptions(width, height, captions);
  if (!keepOut || keepOut.width <= 0 || keepOut.height <= 0) return placed;
  const hit = (which: "top" | "bottom") => placed.some((p) => p.which === which && boxesOverlap(p.growTo ?? p.box, keepOut));
  // The new edge leaves room for at least a few px of caption, or it is not worth moving to.
  const top = keepOut.y + keepOut.height;
  const bottom = keepOut.y;
  const edges = {
    ...(hit("top") && height - top >= 4 ? { top } : {}),
    ...(hit("bottom") && bottom >= 4 ? { bottom } : {}),
  };
  const again = edges.top !== undefined || edges.bottom !== undefined ? placeCaptions(width, height, captions, edges) : placed;
  return again.map((p) => {
    if (p.which) return p;
    const box = keepOff(p.box, keepOut);
    return box === p.box ? p : { ...p, box, maxFontSize: Math.min(p.maxFontSize, box.height) };
  });
}


/** `box` kept off `keep`: the largest of its parts above, below, left or right of it (unchanged where none is left). */
function keepOff(box: Box, keep: Box): Box {
  if (!boxesOverlap(box, keep)) return box;
  const parts = [
    { ...box, height: keep.y - box.y },
    { ...box, y: keep.y + keep.height, height: box.y + box.height - (keep.y + keep.height) },
    { ...box, width: keep.x - box.x },
    { ...box, x: keep.x + keep.width, width: box.x + box.width - (keep.x + keep.width) },
  ].filter((b) => b.width >= 1 && b.height >= 1);
  return parts.length === 0 ? box : parts.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));
}

/** A face box (image fractions) that can be laid out around: every value finite and within the picture. */
function usableFaceBox(a: MemeCaptions["avoid"]): a is NonNullable<MemeCaptions["avoid"]> {
  return !!a && [a.x, a.y, a.width, a.height].every((v) => Number.isFinite(v) && v >= 0 && v <= 1);
}

/** The caption boxes; `edges` (px) moves the top caption's top edge and the bottom caption's bottom edge. */
function placeCaptions(width: number, height: number, captions: MemeCaptions, edges: { top?: number; bottom?: number } = {}): PlacedCaption[] {
  const out: PlacedCaption[] = [];
  const maxFontSize = maxCaptionFont(height);
  const minFontSize = minCaptionFont(width, height);
  const mx = Math.max(2, Math.round(width * SIDE_MARGIN));
  const my = Math.max(2, Math.round(height * EDGE_MARGIN));
  const topEdge = edges.top ?? my;
  const bottomEdge = edges.bottom ?? height - my;
  const bh = Math.max(4, Math.round(height * BOX_HEIGHT));
  const bw = Math.max(4, width - 2 * mx);
  const has = (s: PreparedText | undefined): s is PreparedText => typeof s === "string" && s.trim() !== "";
  const a = captions.avoid;
  const validAvoid = usableFaceBox(a);
  // Space left above and below the face; a caption squeezed under MIN_AVOID_BOX would be unreadable.
  const minBox = Math.max(4, Math.round(height * MIN_AVOID_BOX));
  const above = validAvoid ? Math.round(a.y * height) - topEdge : -1;
  const below = validAvoid ? bottomEdge - Math.round((a.y + a.height) * height) : -1;
  // (Moved edges only: from the picture's own, even a tiny picture's boxes are as they always were.)
  const topH = Math.min(edges.top === undefined ? Infinity : height - topEdge, above >= minBox ? Math.min(bh, above) : bh);
  const bottomH = Math.min(edges.bottom === undefined ? Infinity : bottomEdge, below >= minBox ? Math.min(bh, below) : bh);
  // The share of the picture a caption may grow into, from its edge.
  const share = Math.round(height * MAX_BOX_SHARE);
  if (has(captions.top)) {
    const box = { x: mx, y: topEdge, width: bw, height: topH };
    const growTo = { ...box, height: Math.max(topH, share - topEdge) };
    out.push({ text: captions.top, box, valign: "top", maxFontSize, which: "top", minFontSize, growTo });
  }
  if (has(captions.bottom)) {
    const box = { x: mx, y: bottomEdge - bottomH, width: bw, height: bottomH };
    const growH = Math.max(bottomH, bottomEdge - (height - share));
    const growTo = { ...box, y: bottomEdge - growH, height: growH };
    out.push({ text: captions.bottom, box, valign: "bottom", maxFontSize, which: "bottom", minFontSize, growTo });
  }
  const boxes = captions.boxes ?? [];
  if (boxes.length > MAX_CAPTION_BOXES) {
    throw new MimicError("BAD_INPUT", `Too many caption boxes (${boxes.length}): the limit is ${MAX_CAPTION_BOXES}.`);
  }
  for (const b of boxes) {
    const frac = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 1;
    if (!frac(b.x) || !frac(b.y) || !frac(b.width) || !frac(b.height) || b.x + b.width > 1.0001 || b.y + b.height > 1.0001) {
      throw new MimicError("BAD_INPUT", "A caption box must lie inside the picture (x, y, width, height as fractions 0–1).");
    }
    if (!has(b.text)) continue;
    const x = Math.round(b.x * width);
    const y = Math.round(b.y * height);
    const box = {
      x,
      y,
      width: Math.max(1, Math.min(width - x, Math.round(b.width * width))),
      height: Math.max(1, Math.min(height - y, Math.round(b.height * height))),
    };
    out.push({ text: b.text, box, valign: b.valign ?? "middle", maxFontSize: box.height });
  }
  return out;
}

/**
 * Straight-alpha RGBA pixels placed on the image at (x, y) (may lie partly outside it); `ink` is the part
 * with alpha > 0, in the piece's own coordinates.
 */
export interface OverlayPiece {
  rgba: Uint8Array;
  width: number;
  height: number;
  x: number;
  y: number;
  ink: Box;
}

/**
 * All captions of a meme, reusable across animation frames: each rendered block where it goes, drawn in
 * order. Pieces, not a full-size layer: captions cover a few strips of the picture, and allocating,
 * compositing and scanning a whole-frame layer cost a still meme more than drawing the strips.
 */
export interface CaptionOverlay {
  width: number;
  height: number;
  pieces: OverlayPiece[];
  layouts: CaptionLayout[];
  /** Bounding box of all ink, or null when no caption has text. */
  inkBox: Box | null;
  /** What drawing had to change (cutNote), in words for the user; also added to `captions.notes`. */
  notes?: string[];
}

/** The captions laid out and rendered; `keepOut` (px) is a box none of them may reach (captionBoxes). */
export async function renderCaptionOverlay(width: number, height: number, captions: MemeCaptions, keepOut?: Box): Promise<CaptionOverlay> {
  ensureCaptionFonts();
  const placed = captionBoxes(width, height, captions, keepOut);
  const layouts = await Promise.all(
    placed.map((p) =>
      layoutCaption(p.text, p.box, {
        keepCase: captions.keepCase,
        maxFontSize: p.maxFontSize,
        valign: p.valign,
        ...(p.minFontSize === undefined ? {} : { minFontSize: p.minFontSize, growTo: p.growTo }),
      }),
    ),
  );
  const notes = placed.flatMap((p, i) => (layouts[i].cut && p.which ? [cutNote(p.which)] : []));
  for (const n of notes) if (captions.notes && !captions.notes.includes(n)) captions.notes.push(n);
  const pieces: OverlayPiece[] = [];
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (const l of layouts) {
    const b = l.block;
    if (!b) continue;
    pieces.push({ rgba: b.rgba, width: b.width, height: b.height, x: l.offsetX, y: l.offsetY, ink: b.ink });
    for (const m of l.measuredBoxes) {
      if (m.width === 0) continue;
      x0 = Math.min(x0, m.x);
      y0 = Math.min(y0, m.y);
      x1 = Math.max(x1, m.x + m.width);
      y1 = Math.max(y1, m.y + m.height);
    }
  }
  return { width, height, pieces, layouts, inkBox: x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, notes };
}

/** Blends the overlay's pieces, in order, onto a copy of the image (only over each piece's ink, clipped to the image). */
export function applyOverlay(img: RgbImage, overlay: CaptionOverlay): RgbImage {
  if (img.width !== overlay.width || img.height !== overlay.height) {
    throw new Error(`overlay ${overlay.width}×${overlay.height} does not match image ${img.width}×${img.height}`);
  }
  const out = new Uint8Array(img.data);
  for (const p of overlay.pieces) blendPiece(out, img.width, img.height, p);
  return { data: out, width: img.width, height: img.height };
}

/** Straight-alpha "over" of one piece onto RGB pixels, in place. */
function blendPiece(out: Uint8Array, width: number, height: number, p: OverlayPiece): void {
  const o = p.rgba;
  const ys = Math.max(p.ink.y, -p.y);
  const ye = Math.min(p.ink.y + p.ink.height, height - p.y);
  const xs = Math.max(p.ink.x, -p.x);
  const xe = Math.min(p.ink.x + p.ink.width, width - p.x);
  for (let y = ys; y < ye; y++) {
    for (let x = xs; x < xe; x++) {
      const s = (y * p.width + x) * 4;
      const a = o[s + 3];
      if (a === 0) continue;
      const i = ((y + p.y) * width + x + p.x) * 3;
      if (a === 255) {
        out[i] = o[s];
        out[i + 1] = o[s + 1];
        out[i + 2] = o[s + 2];
      } else {
        for (let c = 0; c < 3; c++) out[i + c] = (o[s + c] * a + out[i + c] * (255 - a) + 127) / 255;
      }
    }
  }
}

/** What a meme draws over its picture: the captions, then the visible mark (where asked for). */
export interface MemeOverlays {
  captions: CaptionOverlay;
  /** The visible "AI-edited" label, and the corner it is in; null when not asked for. */
  mark: (CaptionOverlay & { corner: MarkCorner }) | null;
}

/** The face box (image fractions), in px, when valid. */
function facePx(a: MemeCaptions["avoid"], width: number, height: number): Box | null {
  if (!usableFaceBox(a)) return null;
  const x = Math.floor(a.x * width);
  const y = Math.floor(a.y * height);
  return { x, y, width: Math.ceil((a.x + a.width) * width) - x, height: Math.ceil((a.y + a.height) * height) - y };
}

/**
 * The captions and, with `visibleMark`, the label, laid out so that neither covers the other nor the label the
 * face: the label goes in the first corner (bottom-right, bottom-left, top-right, top-left) where it is off
 * the face box and a gap away from every line of caption ink (as measured). Where no corner is, it takes the
 * first corner off the face (else the one covering least of it) and the captions are laid out again with its
 * box as a keep-out (captionBoxes). `face` (image fractions) is the face the label keeps off, by default the
 * captions' `avoid`; an animation passes the box of its faces in every frame, and draws these same overlays
 * on each frame, so the label stays in one corner.
 */
export async function renderMemeOverlays(
  width: number,
  height: number,
  captions: MemeCaptions,
  opts: { visibleMark?: boolean; face?: MemeCaptions["avoid"] } = {},
): Promise<MemeOverlays> {
  if (!opts.visibleMark) return { captions: await renderCaptionOverlay(width, height, captions), mark: null };
  const face = facePx(opts.face ?? captions.avoid, width, height);
  // Laid out apart from the caller's notes: only the layout kept says what it cut.
  const { notes: _, ...detached } = captions;
  let overlay = await renderCaptionOverlay(width, height, detached);
  const ink = overlay.layouts.flatMap((l) => l.measuredBoxes).filter((b) => b.width > 0 && b.height > 0);
  let corner = clearMarkCorner(width, height, face, ink);
  if (!corner) {
    corner = faceClearCorner(width, height, face);
    overlay = await renderCaptionOverlay(width, height, detached, visibleMarkKeepOut(width, height, corner));
  }
  for (const n of overlay.notes ?? []) if (captions.notes && !captions.notes.includes(n)) captions.notes.push(n);
  return { captions: overlay, mark: { ...(await renderVisibleMark(width, height, corner)), corner } };
}

/**
 * Draws meme captions (and, when a server asked for it, the visible "AI-edited" mark, placed by
 * renderMemeOverlays) on the image and returns a PNG. Empty captions are skipped; no caption → the image as PNG.
 */
export async function renderMeme(
  image: RgbImage,
  captions: MemeCaptions,
  opts: { visibleMark?: boolean; compressionLevel?: number; timingsMs?: Record<string, number> } = {},
): Promise<Buffer> {
  const t0 = performance.now();
  const overlays = await renderMemeOverlays(image.width, image.height, captions, { visibleMark: opts.visibleMark });
  let out = applyOverlay(image, overlays.captions);
  if (overlays.mark) out = applyOverlay(out, overlays.mark);
  const t1 = performance.now();
  const png = await encodePng(out, { compressionLevel: opts.compressionLevel });
  if (opts.timingsMs) Object.assign(opts.timingsMs, { caption: t1 - t0, encode: performance.now() - t1 });
  return png;
}
