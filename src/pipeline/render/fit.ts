import type { Box } from "../types.ts";
import { LINE_GAP_PER_PX, REF_SIZE, measureTokens, renderBlock, type Ink, type RenderedBlock } from "./measure.ts";
import { drawnCaption, graphemeCount, prepareCaption, splitGraphemes, tokenize, type PreparedText, type Token } from "./text.ts";

/**
 * Caption fitting rules (tested in test/pipeline/render/fit.test.ts):
 *  1. Text is normalised (see text.ts): upper-cased unless keepCase, blank → nothing to draw.
 *  2. It is wrapped into 1, 2 or 3 lines (MAX_LINES), each line count balanced to minimise its widest line;
 *     breaks only where text.ts allows them. Explicit newlines are kept (beyond 3 lines they become spaces).
 *  3. For each line count, the font size is the largest whose estimated ink (outline included) fits the
 *     box, capped at maxFontSize. The line count giving the largest size wins; fewer lines on a tie.
 *  4. Words of 12+ characters (a long word, a URL) may break between characters, but only when that
 *     gives a font at least 25 % larger than keeping them whole.
 *  5. The chosen layout is rendered and its ink MEASURED; while it exceeds the box, the size shrinks in
 *     proportion (at least 1 px per step). So no glyph or outline pixel ever leaves the box.
 *  6. The ink is centred horizontally; vertically it sticks to the box's top, bottom, or middle (valign).
 */
export const MAX_LINES = 3;
const LONG_WORD = 12;
const SPLIT_WORD_GAIN = 1.25;
const MAX_SHRINK_STEPS = 12;

export type VAlign = "top" | "middle" | "bottom";

export interface FitOptions {
  keepCase?: boolean;
  /** Largest font size in px (default: the box height). */
  maxFontSize?: number;
  /** Vertical placement of the text inside the box (default "middle"). */
  valign?: VAlign;
}

export interface FitResult {
  /** Font size in px (0 when there is nothing to draw). */
  fontSize: number;
  lines: string[];
  /** Measured ink box of each line, outline included, in the same coordinates as the given box. */
  measuredBoxes: Box[];
}

export interface CaptionLayout extends FitResult {
  /** The rendered block and where its raster's top-left goes, or null when there is nothing to draw. */
  block: RenderedBlock | null;
  offsetX: number;
  offsetY: number;
}

/** Fits one caption as typed into a pixel box (see the rules above): prepareCaption, then layoutCaption. */
export async function fitCaption(text: string, box: Box, opts: FitOptions = {}): Promise<FitResult> {
  const { fontSize, lines, measuredBoxes } = await layoutCaption(prepareCaption(text).text, box, opts);
  return { fontSize, lines, measuredBoxes };
}

interface Candidate {
  lines: Token[][];
  fontSize: number;
}

/** Lays out and renders one prepared caption (prepareCaption) in a pixel box. */
export async function layoutCaption(text: PreparedText, box: Box, opts: FitOptions = {}): Promise<CaptionLayout> {
  const empty: CaptionLayout = { fontSize: 0, lines: [], measuredBoxes: [], block: null, offsetX: 0, offsetY: 0 };
  const clean = drawnCaption(text, opts.keepCase);
  if (clean === "" || box.width < 1 || box.height < 1) return empty;
  const maxFont = Math.max(1, Math.floor(opts.maxFontSize ?? box.height));
  let tokens = tokenize(clean);
  // Rule 2: at most MAX_LINES - 1 explicit breaks survive.
  let hard = 0;
  tokens = tokens.map((t) => (t.hardBreakBefore && ++hard >= MAX_LINES ? { ...t, hardBreakBefore: false, spaceBefore: true } : t));
  // A long word is not rendered whole at the reference size (200 emoji in one run took seconds in
  // librsvg): its letters are measured (splitting needs them anyway) and their ink put side by side.
  const isLong = (t: Token) => graphemeCount(t.text) >= LONG_WORD;
  const ink = await measureTokens([...tokens.flatMap((t) => (isLong(t) ? splitGraphemes(t.text) : [t.text])), "H", "H H"]);
  for (const t of tokens.filter(isLong)) ink.set(t.text, sideBySide(splitGraphemes(t.text).map((g) => ink.get(g)!)));
  const spaceGap = width(ink.get("H H")!) - 2 * width(ink.get("H")!);

  let best = bestWrap(tokens, ink, spaceGap, box, maxFont);
  if (tokens.some(isLong)) {
    const split = splitLongWords(tokens);
    const splitInk = await measureTokens(split.map((t) => t.text));
    const alt = bestWrap(split, splitInk, spaceGap, box, maxFont);
    if (alt.fontSize >= best.fontSize * SPLIT_WORD_GAIN) {
      best = alt;
      for (const [k, v] of splitInk) ink.set(k, v);
    }
  }

  const lines = best.lines.map((l) => l.map((t, i) => (i > 0 && t.spaceBefore ? " " : "") + t.text).join(""));
  const extents = best.lines.map((l) => lineExtent(l, ink, spaceGap));
  let size = best.fontSize;
  let block = await renderBlock(lines, size, extents.map((e) => scale(e, size)));
  for (let step = 0; step < MAX_SHRINK_STEPS && size > 1; step++) {
    const fits = !block.clipped && block.ink.width <= box.width && block.ink.height <= box.height;
    if (fits) break;
    const ratio = block.clipped ? 0.8 : Math.min(box.width / block.ink.width, box.height / block.ink.height);
    size = Math.max(1, Math.min(size - 1, Math.floor(size * ratio)));
    block = await renderBlock(lines, size, extents.map((e) => scale(e, size)));
  }
  const offsetX = box.x + Math.floor((box.width - block.ink.width) / 2) - block.ink.x;
  const valign = opts.valign ?? "middle";
  const freeY = box.height - block.ink.height;
  const offsetY = box.y + (valign === "top" ? 0 : valign === "bottom" ? freeY : Math.floor(freeY / 2)) - block.ink.y;
  const measuredBoxes = block.lineInk.map((b) => ({ x: b.x + offsetX, y: b.y + offsetY, width: b.width, height: b.height }));
  return { fontSize: size, lines, measuredBoxes, block, offsetX, offsetY };
}

const width = (i: Ink) => i.right - i.left;

/** Estimated ink of letters drawn one after another (the final render is measured, so an estimate does). */
function sideBySide(letters: Ink[]): Ink {
  const w = letters.reduce((s, l) => s + width(l), 0);
  const left = letters[0]?.left ?? 0;
  return { left, right: left + w, top: Math.min(0, ...letters.map((l) => l.top)), bottom: Math.max(0, ...letters.map((l) => l.bottom)) };
}

function scale(e: { top: number; bottom: number; width: number }, size: number) {
  const k = size / REF_SIZE;
  return { top: e.top * k, bottom: e.bottom * k, width: e.width * k };
}

/** Estimated ink extent of one line at REF_SIZE. */
function lineExtent(line: Token[], ink: Map<string, Ink>, spaceGap: number): { top: number; bottom: number; width: number } {
  let w = 0;
  let top = 0;
  let bottom = 0;
  line.forEach((t, i) => {
    const m = ink.get(t.text)!;
    w += width(m) + (i > 0 && t.spaceBefore ? spaceGap : 0);
    top = Math.min(top, m.top);
    bottom = Math.max(bottom, m.bottom);
  });
  return { top, bottom, width: w };
}

function bestWrap(tokens: Token[], ink: Map<string, Ink>, spaceGap: number, box: Box, maxFont: number): Candidate {
  let best: Candidate | null = null;
  for (let n = 1; n <= MAX_LINES; n++) {
    const lines = balancedWrap(tokens, ink, spaceGap, n);
    if (!lines) continue;
    const ext = lines.map((l) => lineExtent(l, ink, spaceGap));
    const w = Math.max(...ext.map((e) => e.width));
    const h = ext.reduce((s, e) => s + e.bottom - e.top, 0) + (lines.length - 1) * LINE_GAP_PER_PX * REF_SIZE;
    const fontSize = Math.max(1, Math.min(maxFont, Math.floor(REF_SIZE * Math.min(box.width / w, box.height / h))));
    if (!best || fontSize > best.fontSize) best = { lines, fontSize };
  }
  // One line always exists when hard breaks are capped; this only guards an impossible state.
  return best ?? { lines: [tokens], fontSize: 1 };
}

/** Greedy wrap with a width limit: the smallest limit giving ≤ n lines, found by bisection. */
function balancedWrap(tokens: Token[], ink: Map<string, Ink>, spaceGap: number, n: number): Token[][] | null {
  const w = tokens.map((t) => width(ink.get(t.text)!));
  const greedy = (limit: number): Token[][] => {
    const lines: Token[][] = [];
    let cur: Token[] = [];
    let cw = 0;
    tokens.forEach((t, i) => {
      const add = w[i] + (cur.length > 0 && t.spaceBefore ? spaceGap : 0);
      if (cur.length > 0 && (t.hardBreakBefore || cw + add > limit)) {
        lines.push(cur);
        cur = [];
        cw = 0;
      }
      cw += cur.length > 0 ? add : w[i];
      cur.push(t);
    });
    if (cur.length > 0) lines.push(cur);
    return lines;
  };
  let lo = Math.max(...w);
  let hi = w.reduce((s, x) => s + x + spaceGap, 0);
  if (greedy(hi).length > n) return null; // explicit breaks need more lines
  for (let i = 0; i < 24 && hi - lo > 0.5; i++) {
    const mid = (lo + hi) / 2;
    if (greedy(mid).length <= n) hi = mid;
    else lo = mid;
  }
  return greedy(hi);
}

function splitLongWords(tokens: Token[]): Token[] {
  const out: Token[] = [];
  for (const t of tokens) {
    if (graphemeCount(t.text) < LONG_WORD) {
      out.push(t);
      continue;
    }
    splitGraphemes(t.text).forEach((g, i) =>
      out.push(i === 0 ? { ...t, text: g } : { text: g, spaceBefore: false, hardBreakBefore: false }),
    );
  }
  return out;
}
