import { MimicError } from "../../errors.ts";
import { coverageOf, covers, INVISIBLE, type Ranges } from "./coverage.ts";
import { captionFontFiles } from "./fonts.ts";

/**
 * Caption text rules: what a user typed becomes a list of unbreakable tokens with the break opportunities
 * between them. Lines break at spaces, at explicit newlines (typed as \n or ~n where a field holds none:
 * readLineBreaks), and between the words of scripts written without spaces (Chinese, Japanese, Thai, Lao, Khmer,
 * Myanmar: Intl.Segmenter finds the word boundaries), never inside a word, never before what belongs to the letter
 * before it (ATTACHED), never before closing punctuation (，。！) or after opening punctuation (「（). Only fit.ts's
 * rules 4 and 7 break a long word: a URL or path at its natural points (urlPieces), between letters with a hyphen
 * (hyphenates). Each typed line keeps one direction (baseDirection) on all the lines it is wrapped onto.
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
  /** A piece of a word broken between letters (fit.ts rules 4 and 7): a line that ends before it ends with a hyphen. */
  hyphen?: true;
  /** Its typed line is right-to-left (baseDirection): so is every line it is wrapped onto, whatever word starts it. */
  rtl?: true;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const words = new Intl.Segmenter("zh", { granularity: "word" });
/** Scripts that may break between words with no space: the segmenter's word boundaries. */
const SPACELESS = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
/**
 * What belongs to the letter before it, so a line never starts with it: a combining mark, a Thai or Lao vowel
 * written after its consonant, and their repetition marks (the segmenter splits "ສະບາຍໆ" before its ໆ).
 */
const ATTACHED = /^[\p{M}\u0e30\u0e32\u0e33\u0e45\u0e46\u0eb0\u0eb2\u0eb3\u0ec6]/u;
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
 * C0/C1 controls and bidi overrides (which could visually reorder text) go; newlines stay, and tabs, vertical tabs
 * and form feeds separate words as spaces do. Exported as patterns so the playground page counts as the server does.
 */
export const CAPTION_DROPPED = /[\u0000-\u0008\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/**
 * A run of spaces is one; a zero-width space beside a space (or a line's end) would draw a second gap: it counts as nothing there.
 * The Braille blank (U+2800) and the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0) are typed as blanks that apps do not
 * trim: they are spaces here, so a caption of them alone is empty.
 */
export const CAPTION_SPACE_RUN = /[\s\u3000\u2800\u115f\u1160\u3164\uffa0\u200b]*[\s\u3000\u2800\u115f\u1160\u3164\uffa0][\s\u3000\u2800\u115f\u1160\u3164\uffa0\u200b]*/g;
export const CAPTION_EDGE_ZWSP = /^\u200b+|\u200b+$/g;

/**
 * A line break typed where a field holds none (Discord's options, the playground's one-line inputs): \n (a
 * backslash and n) and memegen's ~n. A backslash before either keeps it as typed: \\n draws \n, \~n draws ~n.
 * Read once, at the front door (requests.ts), so a kept \n is never read again where the worker cleans the caption.
 */
export const CAPTION_LINE_BREAK = /\\(\\n|~n)|\\n|~n/g;

/** The typed line breaks (CAPTION_LINE_BREAK) as newlines, and the escaped ones as typed. */
export const readLineBreaks = (text: string): string => text.replace(CAPTION_LINE_BREAK, (_, kept?: string) => kept ?? "\n");

/** Text that readLineBreaks gives back unchanged: what looks like a typed break is escaped (a name written into a caption). */
export const escapeLineBreaks = (text: string): string => text.replace(/\\n|~n/g, "\\$&");

/**
 * The cheap part, without fonts (the front door's check, on the main thread): NFC, control characters
 * dropped (tabs, vertical tabs and form feeds are spaces), runs of spaces collapsed (with zero-width spaces
 * beside them; the Braille and Hangul blanks count as spaces), blank lines removed. Throws BAD_INPUT naming
 * the limit when the caption is longer than MAX_CAPTION_CHARS. Returns "" for empty or whitespace-only input.
 * Case is kept.
 */
export function cleanCaption(text: string, which?: "top" | "bottom"): string {
  if (typeof text !== "string") return "";
  const lines = text
    .normalize("NFC")
    .replace(/\r\n?/g, "\n")
    .replace(CAPTION_DROPPED, "")
    .split("\n")
    .map((l) => l.replace(CAPTION_SPACE_RUN, " ").replace(CAPTION_EDGE_ZWSP, "").trim())
    .filter((l) => l.length > 0);
  const clean = lines.join("\n");
  if (clean === "") return "";
  const n = graphemeCount(clean);
  if (n > MAX_CAPTION_CHARS) {
    throw new MimicError(
      "BAD_INPUT",
      `${which ? `The ${which} caption` : "That caption"} is too long (${n} characters): the limit is ${MAX_CAPTION_CHARS} characters per caption.`,
      { details: { length: n, limit: MAX_CAPTION_CHARS } },
    );
  }
  return clean;
}

/**
 * Cleans user text for drawing (cleanCaption), then keeps at most MAX_STACKED_MARKS combining marks per
 * letter and MAX_CLUSTER_CODE_POINTS code points per character and leaves out characters no bundled font
 * can draw as they will be drawn (upper-cased unless keepCase: "έ" is drawn as "Ε", "ɐ" as "Ɐ"). Each such
 * change is reported in `notes` (captionNotes). Runs once per caption, in the worker that draws it.
 */
export function prepareCaption(text: string, keepCase = false): PreparedCaption {
  const c = captionChanges(text, keepCase);
  return { text: c.text, notes: captionNotes([c]) };
}

/** What prepareCaption changed in one caption, to be told in words by captionNotes (once for several captions). */
export interface CaptionChanges {
  text: PreparedText;
  /** Marks were cut (MAX_STACKED_MARKS, MAX_CLUSTER_CODE_POINTS). */
  trimmed: boolean;
  /** The characters left out for want of a font, each once, in order. */
  missing: string[];
}

/** prepareCaption's work, with its changes as data. */
export function captionChanges(text: string, keepCase = false): CaptionChanges {
  let clean = cleanCaption(text);
  if (clean === "") return { text: clean as PreparedText, trimmed: false, missing: [] };
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
  const ranges = fontCoverage();
  const missing = new Set<string>();
  const drawable = (c: string) => [...drawnCaption(c as PreparedText, keepCase)].every((d) => INVISIBLE.test(d) || covers(ranges, d.codePointAt(0)!));
  clean = [...clean].filter((c) => INVISIBLE.test(c) || drawable(c) || (missing.add(c), false)).join("");
  if (missing.size > 0) {
    clean = clean
      .split("\n")
      .map((l) => l.replace(/ +/g, " ").trim())
      .filter((l) => l.length > 0)
      .join("\n");
  }
  return { text: clean as PreparedText, trimmed, missing: [...missing] };
}

/** Characters named in a note: at most this many, then how many more. */
const NAMED_MISSING = 5;

/** A character as a note names it: a combining mark on a dotted circle (alone it would join the text before it), and its code point. */
export const namedCharacter = (c: string) =>
  `${/^\p{M}/u.test(c) ? "\u25cc" : ""}${c} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")})`;

/**
 * The notes, in words for the user, for what preparing these captions (one meme's) changed: each said once,
 * each character left out named once, whichever captions it was in.
 */
export function captionNotes(changes: CaptionChanges[]): string[] {
  const notes: string[] = [];
  if (changes.some((c) => c.trimmed)) notes.push(`Stacked marks were cut to ${MAX_STACKED_MARKS} per letter.`);
  const missing = [...new Set(changes.flatMap((c) => c.missing))];
  if (missing.length > 0) {
    const shown = missing.slice(0, NAMED_MISSING).map(namedCharacter);
    const more = missing.length > NAMED_MISSING ? ` and ${missing.length - NAMED_MISSING} more` : "";
    const where = changes.filter((c) => c.missing.length > 0).length > 1 ? "captions" : "caption";
    notes.push(`I have no font for ${shown.join(", ")}${more}, so ${missing.length === 1 ? "it was" : "they were"} left out of the ${where}.`);
  }
  return notes;
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

/**
 * A line's paragraph direction, by Unicode's rule (its first strong letter). SVG text is left-to-right
 * unless told otherwise, which would put an Arabic or Hebrew sentence's first word on the left.
 */
export function baseDirection(text: string): "ltr" | "rtl" {
  // U+200E/U+200F/U+061C are the invisible left-to-right, right-to-left and Arabic letter marks.
  const m = /[\p{L}\p{Nl}\u200e\u200f\u061c]/u.exec(text);
  return m && /[\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\u200f\u061c]/u.test(m[0]) ? "rtl" : "ltr";
}

/** Splits normalised text into unbreakable tokens (see the module comment for the rules). */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let hard = false;
  for (const line of text.split("\n")) {
    // Taken before wrapping: a wrapped line that starts with a word of the other direction keeps its paragraph's.
    const rtl = baseDirection(line) === "rtl";
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
        ((SPACELESS.test(prev) || SPACELESS.test(segment)) && !CLOSING.test(segment) && !OPENING.test(prev) && !ATTACHED.test(segment));
      if (!canBreak && last) {
        last.text += segment;
      } else {
        tokens.push({ text: segment, spaceBefore: space && prev !== null, hardBreakBefore: hard && prev === null, ...(rtl ? { rtl: true as const } : {}) });
      }
      prev = segment;
      space = false;
    }
    hard = true;
  }
  return tokens;
}

/** A URL, a path or a domain: a scheme ("https://"), "www.", a "/" or a "." between two other characters. */
const URL_LIKE = /:\/\/|^www\.|[^/]\/[^/]|[\p{L}\p{N}]\.[\p{L}\p{N}]/iu;
const BREAK_BEFORE = "?&#.";

/**
 * A URL or path split where it may break across lines: after a "/" (not a leading one, never inside "https://") and before
 * "?", "&", "#" or "." (not after another of these or a "/"), each with something after it. Null for a word
 * that is not URL_LIKE.
 */
export function urlPieces(word: string): string[] | null {
  if (!URL_LIKE.test(word)) return null;
  const g = splitGraphemes(word);
  const pieces: string[] = [];
  let cur = g[0] ?? "";
  for (let i = 1; i < g.length; i++) {
    const afterSlash = g[i - 1] === "/" && g[i] !== "/" && /[^/]/.test(cur);
    const before = BREAK_BEFORE.includes(g[i]) && !(BREAK_BEFORE + "/").includes(g[i - 1]) && i < g.length - 1;
    if (afterSlash || before) {
      pieces.push(cur);
      cur = "";
    }
    cur += g[i];
  }
  pieces.push(cur);
  return pieces;
}

/** Scripts whose words take a hyphen where they break between letters (Chinese, Thai and most others do not). */
const HYPHENATED = /^(?=[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}\p{Script=Armenian}\p{Script=Georgian}])\p{L}/u;

/** Whether a word broken between these two characters (graphemes) takes a hyphen: both letters of HYPHENATED scripts. */
export const hyphenates = (before: string, after: string) => HYPHENATED.test(before) && HYPHENATED.test(after);
