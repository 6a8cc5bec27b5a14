import { MimicError } from "../../errors.ts";

/**
 * Caption text rules: what a user typed becomes a list of unbreakable tokens with the break opportunities
 * between them. Lines break at spaces, at explicit newlines, and between CJK words (Chinese and Japanese
 * have no spaces: Intl.Segmenter finds the word boundaries), never inside a word, never before closing
 * punctuation (，。！) or after opening punctuation (「（).
 */

/** Longest caption accepted, in user-perceived characters. Three lines of meme text rarely exceed 100. */
export const MAX_CAPTION_CHARS = 200;

export interface Token {
  text: string;
  /** A space separates it from the previous token on the same line. */
  spaceBefore: boolean;
  /** The user put a newline before it. */
  hardBreakBefore: boolean;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const words = new Intl.Segmenter("zh", { granularity: "word" });
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const CLOSING = /^[\p{Pe}\p{Pf}\p{Po}]/u;
const OPENING = /[\p{Ps}\p{Pi}]$/u;

export function graphemeCount(s: string): number {
  let n = 0;
  for (const _ of graphemes.segment(s)) n++;
  return n;
}

export function splitGraphemes(s: string): string[] {
  return Array.from(graphemes.segment(s), (g) => g.segment);
}

/**
 * Cleans user text: control characters dropped, runs of spaces collapsed, blank lines removed, upper-cased
 * unless keepCase (the classic meme look). Returns "" for empty or whitespace-only input. Throws BAD_INPUT
 * naming the limit when the caption is longer than MAX_CAPTION_CHARS.
 */
export function normalizeCaption(text: string, keepCase = false): string {
  if (typeof text !== "string") return "";
  const lines = text
    .replace(/\r\n?/g, "\n")
    // C0/C1 controls and bidi overrides (which could visually reorder text) go; newlines stay.
    .replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "")
    .split("\n")
    .map((l) => l.replace(/[\s\u3000]+/g, " ").trim())
    .filter((l) => l.length > 0);
  const clean = lines.join("\n");
  if (clean === "") return "";
  const n = graphemeCount(clean);
  if (n > MAX_CAPTION_CHARS) {
    throw new MimicError(
      "BAD_INPUT",
      `That caption is too long (${n} characters): the limit is ${MAX_CAPTION_CHARS} characters per caption.`,
      { details: { length: n, limit: MAX_CAPTION_CHARS } },
    );
  }
  return keepCase ? clean : clean.toUpperCase();
}

/** Splits normalised text into unbreakable tokens (see the module comment for the rules). */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let hard = false;
  for (const line of text.split("\n")) {
    let space = false;
    let prev: string | null = null;
    for (const { segment } of words.segment(line)) {
      if (/^\s+$/u.test(segment)) {
        space = true;
        continue;
      }
      const last = tokens[tokens.length - 1];
      const canBreak =
        prev === null ||
        space ||
        ((CJK.test(prev) || CJK.test(segment)) && !CLOSING.test(segment) && !OPENING.test(prev));
      if (!canBreak && last) {
        last.text += segment;
      } else {
        tokens.push({ text: segment, spaceBefore: space && prev !== null, hardBreakBefore: hard && prev === null });
      }
      prev = segment;
      space = false;
    }
    hard = true;
  }
  return tokens;
}
