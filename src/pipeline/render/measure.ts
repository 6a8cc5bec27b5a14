import sharp from "sharp";
import { MimicError } from "../../errors.ts";
import type { Box } from "../types.ts";
import { coverageOf, covers, type Ranges } from "./coverage.ts";
import { CAPTION_FONT_FAMILY, captionFontFiles, ensureCaptionFonts, xmlEscape } from "./fonts.ts";
import { graphemeCount, splitGraphemes } from "./text.ts";

/**
 * Text measurement by rendering. We measure with the very renderer that draws the captions (librsvg +
 * Pango through sharp), so shaping, kerning and per-character font fallback (CJK, emoji) are exactly what
 * ends up on the image; reading advances from the TTF would need a shaper plus our own reimplementation of
 * Pango's fallback, and would still miss the outline. Tokens are measured once at a reference size, many
 * per render, and cached; a layout's final block is rendered at its real size and its ink measured, and
 * that measurement is what the fitting rules check.
 */

/** Reference size for token measurements (px); estimates scale linearly from it. */
export const REF_SIZE = 48;
/** SVG stroke width per font px. The stroke straddles the outline, so the visible border is half of it. */
export const STROKE_PER_PX = 1 / 8;
/** Vertical gap between the ink of consecutive lines, per font px. */
export const LINE_GAP_PER_PX = 0.12;

export const strokeWidth = (fontSize: number) => Math.max(1.5, fontSize * STROKE_PER_PX);

/**
 * Emoji at small sizes. Noto Emoji draws its pictures with lines EMOJI_LINE_PER_PX of its size wide; below
 * about 25 px they are thinner than the black outline around them and the picture turns into a grey
 * scribble. So an emoji is drawn at EMOJI_MIN_PX at least (at most EMOJI_MAX_SCALE times the text's size,
 * so it still shrinks with the text), and its white lines are widened to EMOJI_MIN_LINE_PX, its black
 * outline by as much. The text around it keeps its size; fit.ts (inkAt) plans with the emoji's real size.
 */
export const EMOJI_MIN_PX = 15;
export const EMOJI_MAX_SCALE = 1.5;
export const EMOJI_LINE_PER_PX = 0.06;
export const EMOJI_MIN_LINE_PX = 1.5;

/**
 * Room beside each grown emoji (drawn inside its run, so an em of the emoji's size): without it the larger
 * picture and widened outline took the gap to the next word and touched the next emoji. One six-per-em space
 * between an emoji and whatever is next to it on the line (another emoji included): no caption font has
 * U+2006, so HarfBuzz makes it em/6 wide in every font. fit.ts's inkAt counts it (EmojiInk's pads and pad).
 */
export const EMOJI_PAD = "\u2006";
/** Whether emoji in text of fontSize are drawn grown (larger, or with widened lines), and so padded. */
export const emojiGrown = (fontSize: number) => emojiBolden(fontSize) > 0 || emojiSize(fontSize) !== fontSize;

/** The size emoji are drawn at in text of fontSize. */
export const emojiSize = (fontSize: number) => Math.max(fontSize, Math.min(EMOJI_MIN_PX, fontSize * EMOJI_MAX_SCALE));
/** How far (px) an emoji's lines are widened on each side in text of fontSize. */
export const emojiBolden = (fontSize: number) => Math.max(0, (EMOJI_MIN_LINE_PX - EMOJI_LINE_PER_PX * emojiSize(fontSize)) / 2);

let textFontCoverage: Ranges | null = null;

/**
 * A user-perceived character the emoji font draws: a pictograph (or flag letter) that no text font has.
 * The text fonts come first in the fallback, so the few pictographs they have (©, ♥, ⚠, 🆗…) are theirs.
 */
export function isEmoji(grapheme: string): boolean {
  if (!/^[\p{Extended_Pictographic}\p{Regional_Indicator}]/u.test(grapheme)) return false;
  textFontCoverage ??= coverageOf(captionFontFiles("text"));
  return !covers(textFontCoverage, grapheme.codePointAt(0)!);
}

/** Ink extents relative to the text origin (start of the advance, baseline), outline included. */
export interface Ink {
  left: number;
  right: number;
  top: number;
  bottom: number;
  /** The emoji in it (isEmoji), measured alone, when it has any; fit.ts's inkAt grows them at small sizes. */
  emoji?: EmojiInk;
}

/** Emoji of a token at REF_SIZE: how many, their ink widths summed, the highest top and lowest bottom. */
export interface EmojiInk {
  count: number;
  width: number;
  top: number;
  bottom: number;
  /**
   * The EMOJI_PADs drawn when the emoji grow: one between each emoji and each neighbour, counting one before
   * and after the token where it starts or ends with an emoji (blank at a line's ends: a pixel to spare).
   */
  pads: number;
  /** The advance of one EMOJI_PAD beside an emoji at REF_SIZE (the same for every emoji). */
  pad: number;
}

/** The emoji of several tokens (or letters) together; undefined when none has any. */
export function joinEmoji(parts: Array<EmojiInk | undefined>): EmojiInk | undefined {
  const some = parts.filter((p): p is EmojiInk => p !== undefined);
  if (some.length === 0) return undefined;
  return {
    count: some.reduce((s, p) => s + p.count, 0),
    width: some.reduce((s, p) => s + p.width, 0),
    top: Math.min(...some.map((p) => p.top)),
    bottom: Math.max(...some.map((p) => p.bottom)),
    pads: some.reduce((s, p) => s + p.pads, 0),
    pad: some[0].pad,
  };
}

const CACHE_LIMIT = 4000;
const inkCache = new Map<string, Ink>();
const BATCH_ROWS = 16;

/**
 * A letter of Latin, Greek or Cyrillic with a combining diacritic (U+0300–U+036F) that has no precomposed form:
 * Anton places no marks, so its accent would stand beside the letter (and beside a Greek or Cyrillic letter drawn
 * by Fira, Pango takes the mark from Anton). Such a letter is drawn whole by the fonts after Anton (MARKED_FAMILY),
 * Fira's marks sitting over it. Other scripts' marks stay with their own fonts' shaping.
 */
export function isMarkedLetter(grapheme: string): boolean {
  const nfc = grapheme.normalize("NFC");
  // Overlays need no anchor: fonts.ts gives the tilde and short stroke (U+0334, U+0335) to Fira, which draws them over
  // Anton's letter; the long stroke (STRUCK) is drawn as a line through it. No font has the slashes (U+0337, U+0338).
  return /^[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}]\p{M}*[\u0300-\u0333\u0337-\u036f]/u.test(nfc);
}

/**
 * The long stroke overlay, typed after each letter to strike text through. Fira's (Anton has none) is as wide for every
 * letter and ends where its letter ends, so it stuck out to the left of most letters. A letter with it is drawn without
 * it, with a line through (text-decoration), which spans the letter's own width.
 */
const STRUCK = "\u0336";

/** The caption family list without Anton, for isMarkedLetter's letters. */
const MARKED_FAMILY = CAPTION_FONT_FAMILY.split(", ").filter((f) => f !== "Anton").join(", ");

type RunKind = "plain" | "emoji" | "marked";
interface TextRun {
  text: string;
  kind: RunKind;
  /** Its letters had STRUCK, left out of `text`: drawn with a line through. */
  struck: boolean;
}

/**
 * The text split into runs of emoji (isEmoji, where they are drawn grown), marked letters and everything else, each
 * struck through or not, in order.
 */
function textRuns(text: string, growEmoji: boolean): TextRun[] {
  const runs: TextRun[] = [];
  for (const typed of splitGraphemes(text)) {
    const g = typed.replaceAll(STRUCK, "");
    const struck = g !== typed;
    const kind: RunKind = growEmoji && isEmoji(g) ? "emoji" : isMarkedLetter(g) ? "marked" : "plain";
    const last = runs[runs.length - 1];
    if (last && last.kind === kind && last.struck === struck) last.text += g;
    else runs.push({ text: g, kind, struck });
  }
  return runs;
}

function textElement(text: string, x: number, y: number, size: number, anchor: "start" | "middle", dir: "ltr" | "rtl" = "ltr"): string {
  const open = (paint: string) =>
    `<text x="${x.toFixed(2)}" y="${y.toFixed(2)}" text-anchor="${anchor}" direction="${dir}" font-family="${xmlEscape(CAPTION_FONT_FAMILY)}" ` +
    `font-size="${size.toFixed(2)}" ${paint} stroke-linejoin="round">`;
  const stroke = strokeWidth(size);
  const outlined = open(`fill="#fff" stroke="#000" stroke-width="${stroke.toFixed(2)}" paint-order="stroke"`);
  const bolden = emojiBolden(size);
  const runs = textRuns(text, emojiGrown(size));
  if (runs.every((r) => r.kind === "plain" && !r.struck)) return `${outlined}${xmlEscape(text)}</text>`;
  // Emoji in their own size, with EMOJI_PADs beside them (preserved: librsvg folds a pad next to a word space
  // into it); a second pass draws only their widened white lines, over the widened outline.
  const padded = (i: number) =>
    (i > 0 ? EMOJI_PAD : "") + splitGraphemes(runs[i].text).join(EMOJI_PAD) + (i < runs.length - 1 ? EMOJI_PAD : "");
  const line = (r: TextRun) => (r.struck ? ' text-decoration="line-through"' : "");
  const spans = (paint: string) =>
    runs
      .map((r, i) =>
        r.kind === "emoji"
          ? `<tspan xml:space="preserve" font-size="${emojiSize(size).toFixed(2)}"${line(r)} ${paint}>${xmlEscape(padded(i))}</tspan>`
          : r.kind === "marked"
            ? `<tspan font-family="${xmlEscape(MARKED_FAMILY)}"${line(r)}>${xmlEscape(r.text)}</tspan>`
            : r.struck
              ? `<tspan${line(r)}>${xmlEscape(r.text)}</tspan>`
              : xmlEscape(r.text),
      )
      .join("");
  const first = `${outlined}${spans(`stroke-width="${(stroke + 2 * bolden).toFixed(2)}"`)}</text>`;
  if (bolden === 0 || !runs.some((r) => r.kind === "emoji")) return first;
  return `${first}${open('fill="none" stroke="none"')}${spans(`fill="#fff" stroke="#fff" stroke-width="${(2 * bolden).toFixed(2)}"`)}</text>`;
}

async function renderSvg(width: number, height: number, body: string): Promise<Uint8Array> {
  ensureCaptionFonts();
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${body}</svg>`;
  const buf = await sharp(Buffer.from(svg), { limitInputPixels: false }).ensureAlpha().raw().toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** Ink bounds (alpha > 0) of the band [y0, y1) of an RGBA raster; null when empty. */
export function inkBounds(rgba: Uint8Array, width: number, y0: number, y1: number): Box | null {
  let minX = width;
  let maxX = -1;
  let minY = -1;
  let maxY = -1;
  for (let y = y0; y < y1; y++) {
    const row = y * width * 4;
    let any = false;
    for (let x = 0; x < width; x++) {
      if (rgba[row + x * 4 + 3] !== 0) {
        any = true;
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
      }
    }
    if (any) {
      if (minY < 0) minY = y;
      maxY = y;
    }
  }
  return maxX < 0 ? null : { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

/** EMOJI_PADs a token draws when its emoji grow (EmojiInk's pads): one per side of each emoji, shared between two. */
function padsIn(text: string): number {
  const emoji = splitGraphemes(text).map(isEmoji);
  let pads = (emoji[0] ? 1 : 0) + (emoji[emoji.length - 1] ? 1 : 0);
  for (let i = 1; i < emoji.length; i++) if (emoji[i - 1] || emoji[i]) pads++;
  return pads;
}

/** Two emoji side by side, without and with an EMOJI_PAD between them: the pad's width, measured as drawn. */
const PAD_PAIRS = ["\u{1F602}\u{1F602}", "\u{1F602}" + EMOJI_PAD + "\u{1F602}"] as const;

/** Measures tokens at REF_SIZE (cached). */
export async function measureTokens(texts: string[]): Promise<Map<string, Ink>> {
  const emojiOf = new Map(texts.map((t) => [t, splitGraphemes(t).filter(isEmoji)]));
  const anyEmoji = [...emojiOf.values()].some((e) => e.length > 0);
  // Similar lengths share a batch, so one long token does not widen the canvas of fifteen short ones.
  const missing = [...new Set([...texts, ...[...emojiOf.values()].flat(), ...(anyEmoji ? PAD_PAIRS : [])])]
    .filter((t) => !inkCache.has(t))
    .sort((a, b) => graphemeCount(a) - graphemeCount(b));
  for (let i = 0; i < missing.length; i += BATCH_ROWS) {
    await measureBatch(missing.slice(i, i + BATCH_ROWS));
  }
  const out = new Map<string, Ink>();
  // Both strings draw the same two emoji: the difference is the pad's advance.
  const pad = anyEmoji ? Math.max(0, inkWidth(inkCache.get(PAD_PAIRS[1])!) - inkWidth(inkCache.get(PAD_PAIRS[0])!)) : 0;
  for (const t of texts) {
    const ink = inkCache.get(t)!;
    const emoji = joinEmoji(
      emojiOf.get(t)!.map((g) => {
        const e = inkCache.get(g)!;
        return { count: 1, width: e.right - e.left, top: e.top, bottom: e.bottom, pads: 0, pad };
      }),
    );
    out.set(t, emoji ? { ...ink, emoji: { ...emoji, pads: padsIn(t) } } : ink);
  }
  return out;
}

/**
 * Word spaces. Pango draws a space in a neighbouring letter's font, and Fira Sans Extra Condensed's (Greek,
 * Cyrillic) is much narrower than Anton's while the outline takes as much of it: its words ran together.
 * librsvg ignores word-spacing, so a space narrower than Latin's (by NARROW_SPACE_PER_PX of the font size or
 * more, measured where it stands: between the two words' facing characters) is drawn as WIDE_SPACE instead,
 * a four-per-em and a hair space (HarfBuzz makes them em/4 and em/16 in fonts without them, as Fira is):
 * wider than Latin's space, as Fira's letters also have tighter sides than Anton's.
 * A space wider than Latin's by as much is drawn as QUARTER_EM_SPACE: between two characters of the emoji font
 * that default to text presentation (☺ ✔) Pango draws the emoji font's own space, over an em wide.
 */
export const WIDE_SPACE = "\u2005\u200a";
export const NARROW_SPACE_PER_PX = 1 / 24;
/** The yardstick for a space's width: no caption font has U+2005, so HarfBuzz draws it em/4 wide in each. */
export const QUARTER_EM_SPACE = "\u2005";
/** Latin's word space, the reference: between two letters Anton draws. */
const LATIN_PAIR = ["H", "H"] as const;
/** Anton has every printable ASCII character, so a space between two of them is always Anton's: Latin's. */
const ASCII = /^[\x21-\x7e]$/;

/** A wider space drawn between two words, and the ink gap (REF_SIZE) it leaves between them. */
export interface WordSpace {
  text: string;
  gap: number;
}

/** wordSpaces' key for the space between a word ending in `last` and one starting with `first`. */
export const wordSpaceKey = (last: string, first: string) => `${last} ${first}`;

/**
 * The spaces to draw between words instead of a plain one (WIDE_SPACE or QUARTER_EM_SPACE, see above), for
 * pairs of facing characters (the last grapheme of one word, the first of the next), keyed by wordSpaceKey;
 * a pair left out keeps a plain space.
 */
export async function wordSpaces(pairs: Array<readonly [last: string, first: string]>): Promise<Map<string, WordSpace>> {
  const unique = new Map(pairs.filter(([a, b]) => !(ASCII.test(a) && ASCII.test(b))).map((p) => [wordSpaceKey(...p), p]));
  const out = new Map<string, WordSpace>();
  if (unique.size === 0) return out;
  const ink = await measureTokens([LATIN_PAIR, ...unique.values()].flatMap(([a, b]) => [a + " " + b, a + QUARTER_EM_SPACE + b]));
  // Both spacings of a pair draw the same letters: the difference is the two spaces' widths alone.
  const widening = ([a, b]: readonly [string, string]) => inkWidth(ink.get(a + QUARTER_EM_SPACE + b)!) - inkWidth(ink.get(a + " " + b)!);
  const latin = widening(LATIN_PAIR);
  const off = REF_SIZE * NARROW_SPACE_PER_PX;
  const narrow = [...unique.values()].filter((p) => widening(p) - latin >= off);
  const wide = [...unique.values()].filter((p) => latin - widening(p) >= off);
  if (narrow.length + wide.length === 0) return out;
  const drawn = await measureTokens([...narrow, ...wide].flatMap(([a, b]) => [a, b, a + WIDE_SPACE + b]));
  const gap = ([a, b]: readonly [string, string], space: string) =>
    inkWidth((space === WIDE_SPACE ? drawn : ink).get(a + space + b)!) - inkWidth(drawn.get(a)!) - inkWidth(drawn.get(b)!);
  for (const p of narrow) out.set(wordSpaceKey(...p), { text: WIDE_SPACE, gap: gap(p, WIDE_SPACE) });
  for (const p of wide) out.set(wordSpaceKey(...p), { text: QUARTER_EM_SPACE, gap: gap(p, QUARTER_EM_SPACE) });
  return out;
}

const inkWidth = (i: Ink) => i.right - i.left;

/** librsvg's largest canvas side. */
const MAX_SIDE = 32767;
/** Rows grow at most 4 times (marks stacked high are cut to MAX_STACKED_MARKS). */
const MAX_GROW = 4;
/** How much smaller, at most, a too-wide word is drawn to be measured. */
const MAX_SHRINK = 16;

/**
 * Renders a batch of tokens one per row at REF_SIZE and reads their ink. The canvas is sized from the
 * grapheme count; ink touching a side means the estimate was too small (wide glyph sequences, marks
 * stacked high), so those tokens are measured again: with rows twice as tall (at most MAX_GROW times), or drawn
 * `shrink` times smaller on a canvas of the same width (at most MAX_SHRINK; their ink scaled back up), so a word
 * of glyphs a dozen letters wide (﷽) costs a canvas like any other word's. One wider still is refused in words
 * the user can act on.
 */
async function measureBatch(texts: string[], growY = 1, shrink = 1): Promise<void> {
  const size = REF_SIZE / shrink;
  const pad = size;
  const row = Math.ceil(size * 2.4 * growY);
  const base = Math.ceil(row * 0.7);
  const width = Math.min(MAX_SIDE, Math.ceil(pad * 2 + Math.max(...texts.map(graphemeCount)) * REF_SIZE * 1.4));
  const height = row * texts.length;
  // Tokens are measured left-to-right from a start point: a run of one direction draws the same either way.
  // Drawn smaller as a whole (a scaled group, not a smaller font): the outline and an emoji keep their proportions.
  const rows = texts.map((t, i) => textElement(t, pad * shrink, (i * row + base) * shrink, REF_SIZE, "start")).join("");
  const body = shrink === 1 ? rows : `<g transform="scale(${1 / shrink})">${rows}</g>`;
  const rgba = await renderSvg(width, height, body);
  const wider: string[] = [];
  const taller: string[] = [];
  texts.forEach((t, i) => {
    const b = inkBounds(rgba, width, i * row, (i + 1) * row);
    if (b && (b.x <= 0 || b.x + b.width >= width)) {
      wider.push(t);
      return;
    }
    if (b && (b.y <= i * row || b.y + b.height >= (i + 1) * row)) {
      taller.push(t);
      return;
    }
    const ink = b
      ? { left: (b.x - pad) * shrink, right: (b.x + b.width - pad) * shrink, top: (b.y - i * row - base) * shrink, bottom: (b.y + b.height - i * row - base) * shrink }
      : { left: 0, right: 0, top: 0, bottom: 0 };
    if (inkCache.size >= CACHE_LIMIT) inkCache.delete(inkCache.keys().next().value!);
    inkCache.set(t, ink);
  });
  const fail = (t: string) => new Error(`caption measurement failed for ${JSON.stringify(t.slice(0, 40))}`);
  if (wider.length > 0) {
    if (shrink >= MAX_SHRINK) throw new MimicError("BAD_INPUT", "A word in that caption is too wide to draw. Please shorten it or put spaces in it.");
    await measureBatch(wider, growY, shrink * 4);
  }
  if (taller.length > 0) {
    if (growY >= MAX_GROW) throw fail(taller[0]);
    await measureBatch(taller, growY * 2, shrink);
  }
}

export interface RenderedBlock {
  /** RGBA raster of the caption block (transparent background). */
  rgba: Uint8Array;
  width: number;
  height: number;
  /** Ink of the whole block and of each line, in raster coordinates. */
  ink: Box;
  lineInk: Box[];
  /** True when ink touched the raster's edge (the layout estimate was too small: treat as overflow). */
  clipped: boolean;
}

/** A line to draw, in the direction of the typed line it was wrapped from (text.ts's baseDirection). */
export interface DrawnLine {
  text: string;
  dir: "ltr" | "rtl";
}

/**
 * Renders lines centred under each other at fontSize. `lineExtents` are the estimated ink top/bottom of
 * each line relative to its baseline (from token measurements), used for line pitch and the bands in which
 * each line's ink is measured.
 */
export async function renderBlock(
  lines: DrawnLine[],
  fontSize: number,
  lineExtents: { top: number; bottom: number; width: number }[],
): Promise<RenderedBlock> {
  const pad = Math.ceil(fontSize * 0.6 + 4);
  const gap = fontSize * LINE_GAP_PER_PX;
  const baselines: number[] = [];
  let y = pad - lineExtents[0].top;
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) y += lineExtents[i - 1].bottom + gap - lineExtents[i].top;
    baselines.push(y);
  }
  const width = Math.ceil(Math.max(...lineExtents.map((e) => e.width)) * 1.15 + 2 * pad);
  const height = Math.ceil(baselines[lines.length - 1] + lineExtents[lines.length - 1].bottom + pad);
  const body = lines.map((l, i) => textElement(l.text, width / 2, baselines[i], fontSize, "middle", l.dir)).join("");
  const rgba = await renderSvg(width, height, body);
  const lineInk: Box[] = [];
  for (let i = 0; i < lines.length; i++) {
    const y0 = i === 0 ? 0 : Math.round(baselines[i] + lineExtents[i].top - gap / 2);
    const y1 = i === lines.length - 1 ? height : Math.round(baselines[i] + lineExtents[i].bottom + gap / 2);
    lineInk.push(inkBounds(rgba, width, Math.max(0, y0), Math.min(height, y1)) ?? { x: width / 2, y: y0, width: 0, height: 0 });
  }
  const ink = inkBounds(rgba, width, 0, height) ?? { x: 0, y: 0, width: 0, height: 0 };
  const clipped = ink.width > 0 && (ink.x === 0 || ink.y === 0 || ink.x + ink.width >= width || ink.y + ink.height >= height);
  return { rgba, width, height, ink, lineInk, clipped };
}
