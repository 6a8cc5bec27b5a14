import type { Box } from "../types.ts";
import {
  LINE_GAP_PER_PX,
  REF_SIZE,
  emojiBolden,
  emojiGrown,
  emojiSize,
  joinEmoji,
  measureTokens,
  renderBlock,
  wordSpaceKey,
  wordSpaces,
  type DrawnLine,
  type Ink,
  type RenderedBlock,
} from "./measure.ts";
import { drawnCaption, graphemeCount, hyphenates, prepareCaption, splitGraphemes, tokenize, urlPieces, type PreparedText, type Token } from "./text.ts";

/**
 * Caption fitting rules (tested in test/pipeline/render/fit.test.ts):
 *  1. Text is normalised (see text.ts): upper-cased unless keepCase (Greek by its all-caps rules:
 *     upperCaseCaption), blank → nothing to draw.
 *  2. It is wrapped into 1, 2 or 3 lines (MAX_LINES), each line count balanced to minimise its widest line;
 *     breaks only where text.ts allows them. Explicit newlines are kept (beyond 3 lines they become spaces,
 *     and meme.ts's prepareCaptions says so in a note).
 *  3. For each line count, the font size is the largest whose estimated ink (outline included) fits the
 *     box, capped at maxFontSize. The line count giving the largest size wins; fewer lines on a tie.
 *  4. Words of 12+ characters (a long word, a URL) may break, but only when that gives a font at least 25 %
 *     larger than keeping them whole: a URL or path first at its natural points only (after "/", before "?",
 *     "&", "#" or "."; never inside "https://"), then also between characters (a word and a URL's long pieces),
 *     each step chosen only for a font 25 % larger than the one before it. A line ending between two letters
 *     of a word (Latin, Greek, Cyrillic…: text.ts's hyphenates) ends with HYPHEN, whose width the wrap counts;
 *     no hyphen in a URL, in CJK or between emoji.
 *  5. The chosen layout is rendered and its ink MEASURED; while it exceeds the box, the size shrinks in
 *     proportion (at least 1 px per step). So no glyph or outline pixel ever leaves the box.
 *  6. The ink is centred horizontally; vertically it sticks to the box's top, bottom, or middle (valign).
 *  7. A caption whose size by rules 2–5 is below minFontSize (the smallest legible size, when given) is drawn
 *     at minFontSize instead, in growTo (a taller box around the box, when given; else the box): on as few
 *     lines as the width allows at that size (balanced, rule 2, explicit breaks kept, long words wider than a
 *     line broken as in rule 4: a URL at its natural points, then between characters), so it covers no more
 *     of the picture than it needs. A word shorter than 12 characters is never broken: minFontSize is lowered
 *     to the size at which the widest of them fits across growTo, and if one no longer fits a line once the
 *     width allowed shrinks (below), rule 5 takes over. What still does not fit is cut: the last line ends
 *     with ELLIPSIS and the result says `cut`. Captions at minFontSize or larger by rules 2–5 are laid out
 *     exactly as without it. If the measured ink overflows, the width or height allowed shrinks by the
 *     overflow (at most LEGIBLE_TRIES renders), then rule 5 applies.
 */
export const MAX_LINES = 3;
/** Graphemes from which a word may break between characters (rule 4). */
export const LONG_WORD = 12;
/** How much larger a font breaking long words must give to be chosen (rule 4). */
export const SPLIT_WORD_GAIN = 1.25;
/** Shrink ratio when the ink touched the raster's edge, so its real size is unknown (rule 5). */
export const CLIPPED_SHRINK = 0.8;
/** Ends a line where a word breaks between letters (rule 4). */
export const HYPHEN = "-";
/** Ends a caption cut at the smallest legible size (rule 7). */
export const ELLIPSIS = "\u2026";
/** Renders tried at the smallest legible size before rule 5 takes over (rule 7). */
export const LEGIBLE_TRIES = 4;

export type VAlign = "top" | "middle" | "bottom";

export interface FitOptions {
  keepCase?: boolean;
  /** Largest font size in px (default: the box height). */
  maxFontSize?: number;
  /** Vertical placement of the text inside the box (default "middle"). */
  valign?: VAlign;
  /** Smallest legible font size in px (rule 7; default none: rules 2–5 alone, down to 1 px). */
  minFontSize?: number;
  /** The box a caption below minFontSize may use instead of `box` (rule 7); it should contain `box`. */
  growTo?: Box;
}

export interface FitResult {
  /** Font size in px (0 when there is nothing to draw). */
  fontSize: number;
  lines: string[];
  /** Measured ink box of each line, outline included, in the same coordinates as the given box. */
  measuredBoxes: Box[];
  /** Set when the text did not fit at minFontSize and was cut, ending with ELLIPSIS (rule 7). */
  cut?: true;
}

export interface CaptionLayout extends FitResult {
  /** The rendered block and where its raster's top-left goes, or null when there is nothing to draw. */
  block: RenderedBlock | null;
  offsetX: number;
  offsetY: number;
}

/** Fits one caption as typed into a pixel box (see the rules above): prepareCaption, then layoutCaption. */
export async function fitCaption(text: string, box: Box, opts: FitOptions = {}): Promise<FitResult> {
  const { fontSize, lines, measuredBoxes, cut } = await layoutCaption(prepareCaption(text, opts.keepCase).text, box, opts);
  return { fontSize, lines, measuredBoxes, ...(cut ? { cut } : {}) };
}

export interface Candidate {
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
  const [ink, spaced] = await Promise.all([
    measureTokens([...tokens.flatMap((t) => (isLong(t) ? splitGraphemes(t.text) : [t.text])), "H", "H H", HYPHEN]),
    withWordSpaces(tokens),
  ]);
  tokens = spaced;
  // Long words and the pieces a URL breaks into (rules 4 and 7): their letters put side by side.
  const letterInk = (text: string) => ink.set(text, sideBySide(splitGraphemes(text).map((g) => ink.get(g)!)));
  for (const t of tokens.filter(isLong)) for (const text of [t.text, ...(urlPieces(t.text) ?? [])]) letterInk(text);
  const spaceGap = width(ink.get("H H")!) - 2 * width(ink.get("H")!);

  // Rule 4: whole, then broken at a URL's natural points, then between letters; each only for a clearly larger font.
  let best = sizedWrap(tokens, ink, spaceGap, box, maxFont);
  let chosen = tokens;
  for (const broken of [breakLongWords(tokens, false), splitLongWords(tokens)]) {
    if (broken.length === chosen.length) continue;
    const alt = sizedWrap(broken, ink, spaceGap, box, maxFont);
    if (prefersSplit(best.fontSize, alt.fontSize)) [best, chosen] = [alt, broken];
  }

  // Rule 7. An estimate below the smallest legible size only shrinks when measured: straight to rule 7.
  const legibleBox = opts.growTo ?? box;
  const minFont = opts.minFontSize === undefined ? 0 : Math.min(maxFont, Math.floor(opts.minFontSize), widestShortWordFont(tokens, ink, legibleBox));
  const legible = () => legibleLayout(tokens, ink, spaceGap, legibleBox, minFont, opts.valign);
  if (best.fontSize < minFont) {
    const l = await legible();
    if (l) return l;
  }
  const size = best.fontSize;
  const block = await renderBlock(drawnLines(best.lines), size, extentsAt(best.lines, ink, spaceGap, size));
  const shrunk = await shrinkToFit(best.lines, ink, spaceGap, size, block, box);
  if (shrunk.size < minFont && size >= minFont) {
    const l = await legible();
    if (l) return l;
  }
  return placed(lineTexts(best.lines), shrunk.size, shrunk.block, box, opts.valign);
}

/** The lines as text (plain spaces), for the result. */
const lineTexts = (lines: Token[][]) => lines.map((l) => l.map((t, i) => (i > 0 && t.spaceBefore ? " " : "") + t.text).join(""));
/** The lines as drawn: with the wider spaces withWordSpaces chose, each in its typed line's direction (its first token's). */
const drawnLines = (lines: Token[][]): DrawnLine[] =>
  lines.map((l) => ({ text: l.map((t, i) => (i > 0 && t.spaceBefore ? (t.wideSpace?.text ?? " ") : "") + t.text).join(""), dir: l[0]?.rtl ? "rtl" : "ltr" }));

/**
 * Tokens after a space get the wider space measure.ts's wordSpaces draws where a plain one would be narrower
 * than Latin's. It depends only on the facing characters, so it survives splitting words (rules 4 and 7).
 */
async function withWordSpaces(tokens: Token[]): Promise<Token[]> {
  const facing = (i: number) => [splitGraphemes(tokens[i - 1].text).at(-1)!, splitGraphemes(tokens[i].text)[0]] as const;
  const spaced = tokens.map((t, i) => i > 0 && t.spaceBefore);
  const spaces = await wordSpaces(tokens.flatMap((_, i) => (spaced[i] ? [facing(i)] : [])));
  return tokens.map((t, i) => {
    const space = spaced[i] ? spaces.get(wordSpaceKey(...facing(i))) : undefined;
    return space ? { ...t, wideSpace: space } : t;
  });
}

/** The estimated ink gap (REF_SIZE) before a token that follows another on its line with a space. */
const gapBefore = (t: Token, spaceGap: number) => t.wideSpace?.gap ?? spaceGap;

const fits = (block: Pick<RenderedBlock, "clipped" | "ink">, box: Box) => !block.clipped && block.ink.width <= box.width && block.ink.height <= box.height;

/** Rule 5: the measured shrink. Ends: every step takes at least 1 px off, down to 1 px. */
async function shrinkToFit(lines: Token[][], ink: Map<string, Ink>, spaceGap: number, size: number, block: RenderedBlock, box: Box) {
  const text = drawnLines(lines);
  for (let next = shrunkSize(size, block, box); next !== null; next = shrunkSize(size, block, box)) {
    size = next;
    block = await renderBlock(text, size, extentsAt(lines, ink, spaceGap, size));
  }
  return { size, block };
}

/** Rule 6: the rendered block placed in the box. */
function placed(lines: string[], fontSize: number, block: RenderedBlock, box: Box, valign?: VAlign, cut = false): CaptionLayout {
  const { offsetX, offsetY } = placeInk(block.ink, box, valign);
  const measuredBoxes = block.lineInk.map((b) => ({ x: b.x + offsetX, y: b.y + offsetY, width: b.width, height: b.height }));
  return { fontSize, lines, measuredBoxes, ...(cut ? { cut: true as const } : {}), block, offsetX, offsetY };
}

/**
 * Rule 7: the tokens at the smallest legible size in `box` (wrapped, and cut if need be, by legibleWrap), or
 * null when not even one word fits there. The width and height allowed shrink by what the measured ink
 * overflows, LEGIBLE_TRIES times at most; then rule 5 shrinks the last try.
 */
async function legibleLayout(tokens: Token[], ink: Map<string, Ink>, spaceGap: number, box: Box, size: number, valign?: VAlign): Promise<CaptionLayout | null> {
  let limit = (box.width * REF_SIZE) / size;
  let heightLimit = (box.height * REF_SIZE) / size;
  if (!ink.has(ELLIPSIS)) ink.set(ELLIPSIS, (await measureTokens([ELLIPSIS])).get(ELLIPSIS)!);
  let last: { lines: Token[][]; cut: boolean; block: RenderedBlock } | null = null;
  for (let i = 0; i < LEGIBLE_TRIES; i++) {
    const sized = inkAt(ink, size);
    // A short word is never broken (only long words' letters are measured): when one no longer fits a line, rule 5 takes over.
    if (tokens.some((t) => !isLong(t) && width(sized.get(t.text)!) > limit)) break;
    const wrap = legibleWrap(splitWideWords(tokens, sized, limit), sized, spaceGap, limit, heightLimit);
    if (!wrap) break;
    const block = await renderBlock(drawnLines(wrap.lines), size, extentsAt(wrap.lines, ink, spaceGap, size));
    last = { ...wrap, block };
    if (fits(block, box)) return placed(lineTexts(wrap.lines), size, block, box, valign, wrap.cut);
    if (block.clipped) break;
    // Estimates can run a little short: allow less by the ratio the ink overflowed, and by at least half a px.
    if (block.ink.width > box.width) limit = Math.min(limit * (box.width / block.ink.width), limit - REF_SIZE / (2 * size));
    if (block.ink.height > box.height) heightLimit = Math.min(heightLimit * (box.height / block.ink.height), heightLimit - REF_SIZE / (2 * size));
  }
  if (!last) return null;
  const shrunk = await shrinkToFit(last.lines, ink, spaceGap, size, last.block, box);
  return placed(lineTexts(last.lines), shrunk.size, shrunk.block, box, valign, last.cut);
}

const width = (i: Ink) => i.right - i.left;

/** Rule 7: the largest size at which every word shorter than LONG_WORD fits across the box (they are never broken). */
function widestShortWordFont(tokens: Token[], ink: Map<string, Ink>, box: Box): number {
  const widest = Math.max(0, ...tokens.filter((t) => !isLong(t)).map((t) => width(ink.get(t.text)!)));
  return widest > 0 ? Math.floor((REF_SIZE * box.width) / widest) : Infinity;
}

/** Rule 4: which tokens may break between characters. */
export const isLong = (t: Token) => graphemeCount(t.text) >= LONG_WORD;

/** Rule 4: breaking long words is chosen only for a font at least SPLIT_WORD_GAIN times larger. */
export const prefersSplit = (wholeSize: number, splitSize: number) => splitSize >= wholeSize * SPLIT_WORD_GAIN;

/**
 * Rule 5: the next size after measuring a rendered block, or null when its ink fits (or at 1 px). The size
 * shrinks by the ratio the ink overflows in its binding direction (CLIPPED_SHRINK when the ink was clipped,
 * as its real size is unknown), rounded down: sizes are whole px and the ratio is below 1, so by at least 1 px.
 */
export function shrunkSize(size: number, block: Pick<RenderedBlock, "clipped" | "ink">, box: Box): number | null {
  const fits = !block.clipped && block.ink.width <= box.width && block.ink.height <= box.height;
  if (fits || size <= 1) return null;
  const ratio = block.clipped ? CLIPPED_SHRINK : Math.min(box.width / block.ink.width, box.height / block.ink.height);
  return Math.max(1, Math.floor(size * ratio));
}

/**
 * Rule 6: where the raster's top-left goes so its ink is centred across the box (rounded left) and stuck
 * to the box's top, bottom or (by default) middle, rounded up.
 */
export function placeInk(ink: Box, box: Box, valign?: VAlign): { offsetX: number; offsetY: number } {
  const offsetX = box.x + Math.floor((box.width - ink.width) / 2) - ink.x;
  const freeY = box.height - ink.height;
  const offsetY = box.y + (valign === "top" ? 0 : valign === "bottom" ? freeY : Math.floor(freeY / 2)) - ink.y;
  return { offsetX, offsetY };
}

/** Estimated ink of letters drawn one after another (the final render is measured, so an estimate does). */
export function sideBySide(letters: Ink[]): Ink {
  const w = letters.reduce((s, l) => s + width(l), 0);
  const left = letters[0]?.left ?? 0;
  const emoji = joinEmoji(letters.map((l) => l.emoji));
  const ink = { left, right: left + w, top: Math.min(0, ...letters.map((l) => l.top)), bottom: Math.max(0, ...letters.map((l) => l.bottom)) };
  return emoji ? { ...ink, emoji } : ink;
}

/**
 * Token ink in REF_SIZE units as drawn at `size`: below EMOJI_MIN_PX emoji are drawn larger than the text
 * and with widened lines (measure.ts's emojiSize and emojiBolden), with EMOJI_PADs beside them, which scaling
 * from REF_SIZE alone misses.
 * The same map when nothing differs.
 */
export function inkAt(ink: Map<string, Ink>, size: number): Map<string, Ink> {
  if (!emojiGrown(size)) return ink;
  const k = emojiSize(size) / size;
  const grow = (emojiBolden(size) * REF_SIZE) / size;
  let out: Map<string, Ink> | null = null;
  for (const [text, m] of ink) {
    const e = m.emoji;
    if (!e) continue;
    out ??= new Map(ink);
    out.set(text, {
      left: m.left,
      right: m.right + e.width * (k - 1) + 2 * grow * e.count + e.pad * k * e.pads,
      top: Math.min(m.top, e.top * k - grow),
      bottom: Math.max(m.bottom, e.bottom * k + grow),
      emoji: e,
    });
  }
  return out ?? ink;
}

/** The estimated ink extents (px) of lines drawn at `size`, for renderBlock. */
function extentsAt(lines: Token[][], ink: Map<string, Ink>, spaceGap: number, size: number) {
  const sized = inkAt(ink, size);
  return lines.map((l) => scale(lineExtent(l, sized, spaceGap), size));
}

/**
 * bestWrap with emoji drawn as they are at the size found (inkAt): emoji grow relative to the text at small
 * sizes, so the size is lowered until the wrap fits with them.
 */
export function sizedWrap(tokens: Token[], ink: Map<string, Ink>, spaceGap: number, box: Box, maxFont: number): Candidate {
  let best = bestWrap(tokens, ink, spaceGap, box, maxFont);
  for (;;) {
    const sized = inkAt(ink, best.fontSize);
    if (sized === ink || best.fontSize <= 1) return best;
    const at = bestWrap(tokens, sized, spaceGap, box, best.fontSize);
    if (at.fontSize >= best.fontSize) return at;
    best = at;
  }
}

export function scale(e: { top: number; bottom: number; width: number }, size: number) {
  const k = size / REF_SIZE;
  return { top: e.top * k, bottom: e.bottom * k, width: e.width * k };
}

/** Estimated ink extent of one line at REF_SIZE. */
export function lineExtent(line: Token[], ink: Map<string, Ink>, spaceGap: number): { top: number; bottom: number; width: number } {
  let w = 0;
  let top = 0;
  let bottom = 0;
  line.forEach((t, i) => {
    const m = ink.get(t.text)!;
    w += width(m) + (i > 0 && t.spaceBefore ? gapBefore(t, spaceGap) : 0);
    top = Math.min(top, m.top);
    bottom = Math.max(bottom, m.bottom);
  });
  return { top, bottom, width: w };
}

/**
 * Rule 3: the largest font size (1 to maxFont) at which the estimated ink of these lines fits the box: their
 * widest line across, their ink heights plus LINE_GAP_PER_PX between lines down, all scaled from REF_SIZE.
 */
export function estimateSize(lines: Token[][], ink: Map<string, Ink>, spaceGap: number, box: Box, maxFont: number): number {
  const ext = lines.map((l) => lineExtent(l, ink, spaceGap));
  const w = Math.max(...ext.map((e) => e.width));
  const h = ext.reduce((s, e) => s + e.bottom - e.top, 0) + (lines.length - 1) * LINE_GAP_PER_PX * REF_SIZE;
  return Math.max(1, Math.min(maxFont, Math.floor(REF_SIZE * Math.min(box.width / w, box.height / h))));
}

/** Rules 2 and 3: the line count (1 to MAX_LINES) whose balanced wrap gives the largest size; fewer lines on a tie. */
export function bestWrap(tokens: Token[], ink: Map<string, Ink>, spaceGap: number, box: Box, maxFont: number): Candidate {
  let best: Candidate | null = null;
  for (let n = 1; n <= MAX_LINES; n++) {
    const lines = balancedWrap(tokens, ink, spaceGap, n);
    if (!lines) continue;
    const fontSize = estimateSize(lines, ink, spaceGap, box, maxFont);
    if (!best || fontSize > best.fontSize) best = { lines, fontSize };
  }
  // One line always exists when hard breaks are capped; this only guards an impossible state.
  return best ?? { lines: [tokens], fontSize: 1 };
}

/**
 * Greedy wrap: tokens fill a line while its estimated width stays within `limit`; a new line starts at an
 * explicit break or when the next token would pass the limit. A token wider than the limit gets a line alone.
 * A line that ends before a `hyphen` token ends with HYPHEN, which must fit within the limit too (its ink in `ink`).
 */
export function greedyWrap(tokens: Token[], ink: Map<string, Ink>, spaceGap: number, limit: number): Token[][] {
  const lines: Token[][] = [];
  let cur: Token[] = [];
  let cw = 0;
  tokens.forEach((t, i) => {
    const w = width(ink.get(t.text)!);
    // A line's first word draws no space: its gap counts only when it joins a line.
    const add = w + (t.spaceBefore ? gapBefore(t, spaceGap) : 0);
    // Rule 4: a line that may end here, inside a word broken between letters, needs room for its hyphen.
    const next = tokens[i + 1];
    const tail = next?.hyphen && !next.hardBreakBefore ? width(ink.get(HYPHEN)!) : 0;
    if (cur.length > 0 && (t.hardBreakBefore || cw + add + tail > limit)) {
      if (t.hyphen && !t.hardBreakBefore) cur.push(HYPHEN_TOKEN);
      lines.push(cur);
      cur = [];
      cw = 0;
    }
    cw += cur.length > 0 ? add : w;
    cur.push(t);
  });
  if (cur.length > 0) lines.push(cur);
  return lines;
}

const HYPHEN_TOKEN: Token = { text: HYPHEN, spaceBefore: false, hardBreakBefore: false };

/**
 * Rule 2: the greedy wrap with the smallest width limit giving ≤ n lines (found by bisection to within half
 * a reference pixel), or null when the explicit breaks alone need more than n lines.
 */
export function balancedWrap(tokens: Token[], ink: Map<string, Ink>, spaceGap: number, n: number): Token[][] | null {
  const w = tokens.map((t) => width(ink.get(t.text)!));
  const greedy = (limit: number) => greedyWrap(tokens, ink, spaceGap, limit);
  let lo = Math.max(...w);
  let hi = tokens.reduce((s, t, i) => s + w[i] + gapBefore(t, spaceGap), 0);
  if (greedy(hi).length > n) return null; // explicit breaks need more lines
  for (let i = 0; i < 24 && hi - lo > 0.5; i++) {
    const mid = (lo + hi) / 2;
    if (greedy(mid).length <= n) hi = mid;
    else lo = mid;
  }
  return greedy(hi);
}

/**
 * Rules 4 and 7: a word's pieces where it may break. A URL or path (text.ts's urlPieces) breaks at its natural
 * points, and those of its pieces `letters` picks between their characters, with no hyphen (one would read as
 * part of the address); any other word, when `letters` picks it, between its characters, each break between
 * two letters of a hyphenated script (text.ts's hyphenates) marked `hyphen`. Only the first piece keeps the
 * word's space and break before it.
 */
export function breakWord(t: Token, letters: (piece: string) => boolean): Token[] {
  const url = urlPieces(t.text);
  const pieces: Array<{ text: string; hyphen: boolean }> = [];
  if (url) {
    for (const p of url) {
      if (letters(p)) pieces.push(...splitGraphemes(p).map((g) => ({ text: g, hyphen: false })));
      else pieces.push({ text: p, hyphen: false });
    }
  } else if (letters(t.text)) {
    const g = splitGraphemes(t.text);
    g.forEach((c, i) => pieces.push({ text: c, hyphen: i > 0 && hyphenates(g[i - 1], c) }));
  } else return [t];
  return pieces.map((p, i) =>
    i === 0
      ? { ...t, text: p.text }
      : { text: p.text, spaceBefore: false, hardBreakBefore: false, ...(p.hyphen ? { hyphen: true as const } : {}), ...(t.rtl ? { rtl: true as const } : {}) },
  );
}

/** Rule 4: long words broken as breakWord does (their letters too when `letters`, long URL pieces only). */
export function breakLongWords(tokens: Token[], letters: boolean): Token[] {
  return tokens.flatMap((t) => (isLong(t) ? breakWord(t, (p) => letters && graphemeCount(p) >= LONG_WORD) : [t]));
}

/** Rule 4: long words broken between their characters (a URL at its natural points, and its long pieces too). */
export const splitLongWords = (tokens: Token[]) => breakLongWords(tokens, true);

/**
 * Rule 7: words wider than `limit` (at REF_SIZE) broken as breakWord does: a URL at its natural points, and
 * the pieces still wider than a line between their characters. The ink of every piece must be in `ink`.
 */
export function splitWideWords(tokens: Token[], ink: Map<string, Ink>, limit: number): Token[] {
  const wide = (text: string) => width(ink.get(text)!) > limit;
  return tokens.flatMap((t) => (wide(t.text) ? breakWord(t, wide) : [t]));
}

/** Estimated height at REF_SIZE of lines stacked with LINE_GAP_PER_PX between them (as estimateSize). */
function stackHeight(lines: Token[][], ink: Map<string, Ink>, spaceGap: number): number {
  return lines.reduce((s, l) => {
    const e = lineExtent(l, ink, spaceGap);
    return s + e.bottom - e.top;
  }, 0) + (lines.length - 1) * LINE_GAP_PER_PX * REF_SIZE;
}

/**
 * Rule 7 at one size, in REF_SIZE units: the tokens in lines at most `limit` wide whose stacked height is at
 * most `heightLimit`. As few lines as the width allows (greedy), then balanced over that many (rule 2). When
 * they do not all fit: the longest start of the text that fits with ELLIPSIS at the end of its last line (no
 * space before it; its ink must be in `ink`), `cut`. Null when not even one token and the ellipsis fit. Tokens wider than the
 * limit (splitWideWords breaks them) each get a line alone.
 */
export function legibleWrap(
  tokens: Token[],
  ink: Map<string, Ink>,
  spaceGap: number,
  limit: number,
  heightLimit: number,
): { lines: Token[][]; cut: boolean } | null {
  const ok = (lines: Token[][]) => lines.every((l) => lineExtent(l, ink, spaceGap).width <= limit) && stackHeight(lines, ink, spaceGap) <= heightLimit;
  const all = greedyWrap(tokens, ink, spaceGap, limit);
  if (ok(all)) {
    const balanced = balancedWrap(tokens, ink, spaceGap, all.length);
    return { lines: balanced && ok(balanced) ? balanced : all, cut: false };
  }
  const ellipsis: Token = { text: ELLIPSIS, spaceBefore: false, hardBreakBefore: false };
  // The most tokens that fit (more tokens never take fewer lines or less height)…
  let lo = 0;
  let hi = tokens.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(greedyWrap(tokens.slice(0, mid), ink, spaceGap, limit))) lo = mid;
    else hi = mid - 1;
  }
  // …then fewer, until the ellipsis fits at the end of the last line (never on a line of its own).
  for (let k = lo; k > 0; k--) {
    const lines = greedyWrap(tokens.slice(0, k), ink, spaceGap, limit);
    const cut = [...lines.slice(0, -1), [...lines[lines.length - 1], ellipsis]];
    if (ok(cut)) return { lines: cut, cut: true };
  }
  return null;
}
