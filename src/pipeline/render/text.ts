import { MimicError } from "../../errors.ts";
import { coverageOf, covers, INVISIBLE, type Ranges } from "./coverage.ts";
import { captionFontFiles } from "./fonts.ts";

/**
 * Caption text rules: what a user typed becomes a list of unbreakable tokens with the break opportunities
 * between them. Lines break at spaces, at explicit newlines, and between CJK words (Chinese and Japanese
 * have no spaces: Intl.Segmenter finds the word boundaries), never inside a word, never before closing
 * punctuation (，。！) or after opening punctuation (「（).
 */

/** Longest caption accepted, in user-perceived characters. Three lines of meme text rarely exceed 100. */
export const MAX_CAPTION_CHARS = 200;
/**
 * Combining marks kept on one letter. Real writing stacks at most 2–3 (Vietnamese, Thai tone marks,
 * Hebrew points); "zalgo" text stacks dozens, each one raising the line's ink, which is what made a
 * caption's measurement run away.
 */
export const MAX_STACKED_MARKS = 4;
/** Code points kept in one user-perceived character (the longest emoji ZWJ sequences have 10). */
export const MAX_CLUSTER_CODE_POINTS = 12;

export interface Token {
  text: string;
  /** A space separates it from the previous token on the same line. */
  spaceBefore: boolean;
  /** The user put a newline before it. */
  hardBreakBefore: boolean;
  /** Drawn instead of a plain space for spaceBefore, with the ink gap it leaves (fit.ts sets it: measure.ts's wordSpaces). */
  wideSpace?: { text: string; gap: number };
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

declare const prepared: unique symbol;
/** Caption text as prepareCaption left it: the only text the renderer draws (it does not clean again). */
export type PreparedText = string & { readonly [prepared]: true };

/** A caption cleaned for drawing, with what was changed on the way, in words for the user. */
export interface PreparedCaption {
  text: PreparedText;
  notes: string[];
}

let coverage: Ranges | null = null;
const fontCoverage = () => (coverage ??= coverageOf(captionFontFiles()));

/**
 * The cheap part, without fonts (the front door's check, on the main thread): NFC, control characters
 * dropped, runs of spaces collapsed, blank lines removed. Throws BAD_INPUT naming the limit when the caption
 * is longer than MAX_CAPTION_CHARS. Returns "" for empty or whitespace-only input. Case is kept.
 */
export function cleanCaption(text: string): string {
  if (typeof text !== "string") return "";
  const lines = text
    .normalize("NFC")
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
  return clean;
}

/**
 * Cleans user text for drawing (cleanCaption), then keeps at most MAX_STACKED_MARKS combining marks per
 * letter and MAX_CLUSTER_CODE_POINTS code points per character and leaves out characters no bundled font
 * can draw as they will be drawn (upper-cased unless keepCase: "έ" is drawn as "Ε", "ɐ" as "Ɐ"). Each such
 * change is reported in `notes`. Runs once per caption, in the worker that draws it.
 */
export function prepareCaption(text: string, keepCase = false): PreparedCaption {
  let clean = cleanCaption(text);
  if (clean === "") return { text: clean as PreparedText, notes: [] };
  const notes: string[] = [];
  let trimmed = false;
  clean = clean.replace(/(\p{M}+)/gu, (run: string) => {
    const marks = [...run];
    if (marks.length <= MAX_STACKED_MARKS) return run;
    trimmed = true;
    return marks.slice(0, MAX_STACKED_MARKS).join("");
  });
  clean = splitGraphemes(clean)
    .map((g) => {
      const cps = [...g];
      if (cps.length <= MAX_CLUSTER_CODE_POINTS) return g;
      trimmed = true;
      return cps.slice(0, MAX_CLUSTER_CODE_POINTS).join("");
    })
    .join("");
  if (trimmed) notes.push(`Stacked marks were cut to ${MAX_STACKED_MARKS} per letter.`);
  const ranges = fontCoverage();
  const missing = new Set<string>();
  const drawable = (c: string) => [...drawnCaption(c as PreparedText, keepCase)].every((d) => INVISIBLE.test(d) || covers(ranges, d.codePointAt(0)!));
  clean = [...clean].filter((c) => INVISIBLE.test(c) || drawable(c) || (missing.add(c), false)).join("");
  if (missing.size > 0) {
    const shown = [...missing].slice(0, 5).map((c) => `${c} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")})`);
    const more = missing.size > 5 ? ` and ${missing.size - 5} more` : "";
    notes.push(`I have no font for ${shown.join(", ")}${more}, so ${missing.size === 1 ? "it was" : "they were"} left out of the caption.`);
    clean = clean
      .split("\n")
      .map((l) => l.replace(/ +/g, " ").trim())
      .filter((l) => l.length > 0)
      .join("\n");
  }
  return { text: clean as PreparedText, notes };
}

/** What is drawn: prepared text, upper-cased (upperCaseCaption) unless keepCase (the classic meme look). */
export function drawnCaption(text: PreparedText, keepCase = false): string {
  return keepCase ? text : upperCaseCaption(text);
}

/** prepareCaption's text as it is drawn. */
export function normalizeCaption(text: string, keepCase = false): string {
  return drawnCaption(prepareCaption(text, keepCase).text, keepCase);
}

/** A letter (the base of a cluster) that takes Greek all-caps rules. */
const GREEK_LETTER = /^(?=\p{Script=Greek})\p{L}$/u;
/** Greek accents: oxia/tonos, varia, perispomeni. */
const GREEK_ACCENT = /[\u0300\u0301\u0342]/u;
/** What all-caps Greek drops: the accents, the breathings and the koronis. */
const GREEK_DROPPED = /[\u0300\u0301\u0342\u0313\u0314\u0343]/gu;
const DIALYTIKA = "\u0308";
const CASED = /[\p{Lu}\p{Ll}\p{Lt}]/u;
/** Characters case rules look through (Unicode's Case_Ignorable, roughly): marks, apostrophes, modifiers. */
const CASE_IGNORABLE = /^[\p{Mn}\p{Me}\p{Cf}\p{Lm}\p{Sk}'’.:·]+$/u;

/**
 * Caption upper-casing: toUpperCase, except that Greek follows its all-capitals orthography (as ICU's
 * Greek upper-casing does), which toUpperCase does not ("έ" → "Έ"):
 *  - accents and breathings are dropped ("Καλημέρα" → "ΚΑΛΗΜΕΡΑ"); the dialytika stays ("Μαΐου" → "ΜΑΪΟΥ");
 *  - an accent on a vowel before ι or υ shows the two are not a diphthong, so in capitals that ι or υ takes
 *    a dialytika instead ("άυλος" → "ΑΫΛΟΣ", "Κάιρο" → "ΚΑΪΡΟ");
 *  - the word "ή" ("or") keeps its tonos, "Ή", so it is not read as the article "Η";
 *  - a iota subscript becomes a capital Ι after its letter ("ᾳ" → "ΑΙ").
 */
export function upperCaseCaption(text: string): string {
  if (!/\p{Script=Greek}/u.test(text)) return text.toUpperCase();
  const clusters = text.match(/\P{M}\p{M}*|\p{M}+/gsu) ?? [];
  let out = "";
  let afterAccentedVowel = false;
  let afterCased = false;
  clusters.forEach((cluster, i) => {
    const nfd = cluster.normalize("NFD");
    const base = String.fromCodePoint(nfd.codePointAt(0)!);
    if (!GREEK_LETTER.test(base)) {
      out += cluster.toUpperCase();
      afterAccentedVowel = false;
      if (!CASE_IGNORABLE.test(cluster)) afterCased = CASED.test(base);
      return;
    }
    const marks = nfd.slice(base.length);
    const upper = base.toUpperCase();
    const vowel = "ΑΕΗΙΟΥΩ".includes(upper);
    const accent = GREEK_ACCENT.test(marks);
    let dialytika = marks.includes(DIALYTIKA);
    if (afterAccentedVowel && (upper === "Ι" || upper === "Υ")) dialytika = true;
    let drawn: string;
    if (upper === "Η" && accent && !marks.includes("\u0345") && !afterCased && !followedByCased(clusters, i + 1)) {
      drawn = "\u0389";
    } else {
      const kept = marks.replace(GREEK_DROPPED, "").replace(new RegExp(DIALYTIKA, "gu"), "");
      drawn = (upper + (dialytika ? DIALYTIKA : "") + kept.toUpperCase()).normalize("NFC");
    }
    out += drawn;
    afterAccentedVowel = vowel && accent && !dialytika;
    afterCased = true;
  });
  return out;
}

function followedByCased(clusters: string[], from: number): boolean {
  for (let i = from; i < clusters.length; i++) {
    if (CASE_IGNORABLE.test(clusters[i])) continue;
    return CASED.test(String.fromCodePoint(clusters[i].normalize("NFD").codePointAt(0)!));
  }
  return false;
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
