import { describe, expect, it } from "vitest";
import {
  balancedWrap,
  bestWrap,
  breakLongWords,
  CLIPPED_SHRINK,
  ELLIPSIS,
  estimateSize,
  fitCaption,
  greedyWrap,
  HYPHEN,
  isLong,
  legibleWrap,
  lineExtent,
  LONG_WORD,
  MAX_LINES,
  placeInk,
  prefersSplit,
  scale,
  shrunkSize,
  sideBySide,
  SPLIT_WORD_GAIN,
  splitLongWords,
  splitWideWords,
} from "../../../src/pipeline/render/fit.ts";
import { LINE_GAP_PER_PX, REF_SIZE, type Ink } from "../../../src/pipeline/render/measure.ts";
import type { Token } from "../../../src/pipeline/render/text.ts";
import { inside } from "./helpers.ts";

/**
 * The fitting rules of fit.ts one by one, on made-up glyph metrics (so each expected layout and size follows
 * from the rule by hand), then the rules together on the real fonts.
 */

const tok = (text: string, spaceBefore = true, hardBreakBefore = false): Token => ({ text, spaceBefore, hardBreakBefore });
/** Words of the given widths at REF_SIZE, ink 36 above and 12 below the baseline (48 high). */
const inkOf = (widths: Record<string, number>) =>
  new Map<string, Ink>(Object.entries(widths).map(([t, w]) => [t, { left: 1, right: 1 + w, top: -36, bottom: 12 }]));
const texts = (lines: Token[][] | null) => lines?.map((l) => l.map((t) => t.text).join(" "));
const GAP = 5;

describe("line estimates", () => {
  it("a long word's letters side by side: widths add up, from the first letter's left, spanning the baseline", () => {
    const a = { left: 2, right: 12, top: -30, bottom: 0 };
    const b = { left: 1, right: 21, top: -35, bottom: 5 };
    expect(sideBySide([a, b])).toEqual({ left: 2, right: 32, top: -35, bottom: 5 });
    // Ink wholly above (dashes) or below the baseline still reaches it: line pitch is set from the baseline.
    expect(sideBySide([{ left: 0, right: 4, top: -20, bottom: -10 }])).toEqual({ left: 0, right: 4, top: -20, bottom: 0 });
    expect(sideBySide([{ left: 0, right: 4, top: 3, bottom: 9 }])).toEqual({ left: 0, right: 4, top: 0, bottom: 9 });
    expect(sideBySide([])).toEqual({ left: 0, right: 0, top: 0, bottom: 0 });
  });

  it("a line's width is its words' ink plus a space gap where a space separates them; its height spans all of them", () => {
    const ink = new Map<string, Ink>([
      ["A", { left: 1, right: 11, top: -30, bottom: 2 }],
      ["B", { left: 0, right: 20, top: -40, bottom: 0 }],
      ["-", { left: 0, right: 6, top: -20, bottom: -14 }],
    ]);
    expect(lineExtent([tok("A"), tok("B")], ink, 7)).toEqual({ top: -40, bottom: 2, width: 37 });
    // No space (CJK words, a split word's letters): no gap. The first word's space is not drawn.
    expect(lineExtent([tok("A"), tok("B", false)], ink, 7)).toEqual({ top: -40, bottom: 2, width: 30 });
    expect(lineExtent([tok("B", true)], ink, 7)).toEqual({ top: -40, bottom: 0, width: 20 });
    expect(lineExtent([tok("-")], ink, 7)).toEqual({ top: -20, bottom: 0, width: 6 });
  });

  it("scales linearly from the reference size", () => {
    expect(scale({ top: -REF_SIZE, bottom: 12, width: 96 }, REF_SIZE / 2)).toEqual({ top: -REF_SIZE / 2, bottom: 6, width: 48 });
  });
});

describe("wrapping", () => {
  const ink = inkOf({ A: 10, B: 10, C: 10, D: 10, W: 30 });
  const abcd = [tok("A"), tok("B"), tok("C"), tok("D")];

  it("greedy: fills a line up to the limit (inclusive), then starts the next one afresh", () => {
    expect(texts(greedyWrap(abcd, ink, GAP, 25))).toEqual(["A B", "C D"]);
    expect(texts(greedyWrap(abcd, ink, GAP, 24.9))).toEqual(["A", "B", "C", "D"]);
    expect(texts(greedyWrap(abcd, ink, GAP, 40))).toEqual(["A B C", "D"]);
    expect(texts(greedyWrap(abcd, ink, GAP, 55))).toEqual(["A B C D"]);
    // The gaps add up along the line: A B C is 40 wide, so it does not fit in 36.
    expect(texts(greedyWrap(abcd, ink, GAP, 36))).toEqual(["A B", "C D"]);
    // Without spaces two words fit in 20.
    expect(texts(greedyWrap([tok("A"), tok("B", false), tok("C", false)], ink, GAP, 20))).toEqual(["A B", "C"]);
  });

  it("greedy: a word wider than the limit gets a line alone; an explicit break always starts a line", () => {
    expect(texts(greedyWrap([tok("W"), tok("A"), tok("W")], ink, GAP, 20))).toEqual(["W", "A", "W"]);
    expect(texts(greedyWrap([tok("A"), tok("B", false, true)], ink, GAP, 1000))).toEqual(["A", "B"]);
    expect(greedyWrap([], ink, GAP, 10)).toEqual([]);
  });

  it("balanced: the narrowest wrap into at most n lines", () => {
    expect(texts(balancedWrap(abcd, ink, GAP, 1))).toEqual(["A B C D"]);
    expect(texts(balancedWrap(abcd, ink, GAP, 2))).toEqual(["A B", "C D"]);
    // Three lines are no narrower than two here (some line holds two words), so two it stays.
    expect(texts(balancedWrap(abcd, ink, GAP, 3))).toEqual(["A B", "C D"]);
    const wabc = [tok("W"), tok("A"), tok("B"), tok("C")];
    expect(texts(balancedWrap(wabc, ink, GAP, 2))).toEqual(["W", "A B C"]);
    expect(texts(balancedWrap(wabc, ink, GAP, 3))).toEqual(["W", "A B", "C"]);
    const six = "ABCDAB".split("").map((t) => tok(t));
    expect(texts(balancedWrap(six, ink, GAP, 3))).toEqual(["A B", "C D", "A B"]);
  });

  it("balanced: explicit breaks that need more than n lines give no wrap", () => {
    const hard = [tok("A"), tok("B", false, true), tok("C", false, true)];
    expect(balancedWrap(hard, ink, GAP, 2)).toBeNull();
    expect(texts(balancedWrap(hard, ink, GAP, 3))).toEqual(["A", "B", "C"]);
  });
});

describe("font size estimate", () => {
  // One word 96 wide, 48 high at REF_SIZE (48): at size s it is 2s wide and s high.
  const ink = inkOf({ X: 96, Y: 48 });
  const wide = { x: 0, y: 0, width: 10_000, height: 10_000 };

  it("the largest size whose estimated ink fits, in the binding direction, rounded down", () => {
    expect(estimateSize([[tok("X")]], ink, GAP, { ...wide, width: 96, height: 48 }, 1000)).toBe(48);
    expect(estimateSize([[tok("X")]], ink, GAP, { ...wide, width: 48, height: 48 }, 1000)).toBe(24);
    expect(estimateSize([[tok("X")]], ink, GAP, { ...wide, width: 96, height: 30 }, 1000)).toBe(30);
    expect(estimateSize([[tok("X")]], ink, GAP, { ...wide, width: 101, height: 1000 }, 1000)).toBe(50); // 50.5
    // The widest line binds.
    expect(estimateSize([[tok("X")], [tok("Y")]], ink, GAP, { ...wide, width: 96 }, 1000)).toBe(48);
    expect(estimateSize([[tok("Y")], [tok("X")]], ink, GAP, { ...wide, width: 96 }, 1000)).toBe(48);
  });

  it("lines stack with LINE_GAP_PER_PX between them", () => {
    const gap = LINE_GAP_PER_PX * REF_SIZE;
    const two = [[tok("Y")], [tok("Y")]];
    const h = 2 * 48 + gap;
    expect(estimateSize(two, ink, GAP, { ...wide, height: 100 }, 1000)).toBe(Math.floor((REF_SIZE * 100) / h));
    expect(estimateSize(two, ink, GAP, { ...wide, height: 100 }, 1000)).toBe(47);
    const three = [[tok("Y")], [tok("Y")], [tok("Y")]];
    expect(estimateSize(three, ink, GAP, { ...wide, height: 3 * 48 + 2 * gap }, 1000)).toBe(48);
  });

  it("is capped at maxFont and never below 1 px", () => {
    expect(estimateSize([[tok("X")]], ink, GAP, wide, 40)).toBe(40);
    expect(estimateSize([[tok("X")]], ink, GAP, { ...wide, width: 1, height: 1 }, 40)).toBe(1);
  });

  it("picks the line count giving the largest size; fewer lines on a tie", () => {
    const words = [tok("Y"), tok("Y"), tok("Y"), tok("Y")];
    const inkW = inkOf({ Y: 48 });
    // One line: 4×48 + 3 gaps = 207 wide; in a 207×1000 box one line gives 48 and two lines (101 wide) 98;
    // three lines are no narrower (one holds two words): a tie, so two.
    const tall = { x: 0, y: 0, width: 207, height: 1000 };
    expect(bestWrap(words, inkW, GAP, tall, 1000)).toMatchObject({ fontSize: 98, lines: [words.slice(0, 2), words.slice(2)] });
    expect(texts(bestWrap(words, inkW, GAP, tall, 1000).lines)).toEqual(["Y Y", "Y Y"]);
    // Wide and low: one line wins.
    expect(bestWrap(words, inkW, GAP, { x: 0, y: 0, width: 1000, height: 60 }, 1000).lines).toHaveLength(1);
    // Both capped at 40: one line.
    expect(bestWrap(words, inkW, GAP, tall, 40)).toMatchObject({ fontSize: 40, lines: [words] });
    // Six words in a narrow, tall box: three lines.
    const six = Array.from({ length: 6 }, () => tok("Y"));
    expect(bestWrap(six, inkW, GAP, { x: 0, y: 0, width: 101, height: 10_000 }, 10_000).lines).toHaveLength(MAX_LINES);
  });

  it("tokens whose explicit breaks need more than MAX_LINES lines (layoutCaption caps them first) get one line at 1 px", () => {
    const hard = [tok("Y"), tok("Y", false, true), tok("Y", false, true), tok("Y", false, true)];
    expect(bestWrap(hard, inkOf({ Y: 48 }), GAP, wide, 100)).toEqual({ lines: [hard], fontSize: 1 });
  });
});

describe("long words", () => {
  it(`words of ${LONG_WORD}+ characters (graphemes, not code points) may break between characters`, () => {
    expect(isLong(tok("A".repeat(LONG_WORD - 1)))).toBe(false);
    expect(isLong(tok("A".repeat(LONG_WORD)))).toBe(true);
    expect(isLong(tok("👍🏽".repeat(LONG_WORD - 1)))).toBe(false);
    const split = splitLongWords([tok("SHORT", false), tok("B".repeat(LONG_WORD - 1)), tok("👍🏽" + "C".repeat(LONG_WORD - 1), true, true)]);
    expect(split.map((t) => t.text)).toEqual(["SHORT", "B".repeat(LONG_WORD - 1), "👍🏽", ...Array(LONG_WORD - 1).fill("C")]);
    // The first character keeps the word's space and break; the others join it without either.
    expect(split[2]).toEqual(tok("👍🏽", true, true));
    expect(split.slice(3).every((t) => !t.spaceBefore && !t.hardBreakBefore)).toBe(true);
    expect(split[1]).toEqual(tok("B".repeat(LONG_WORD - 1)));
  });

  it("a break between two letters of a word ends its line with a hyphen, which the line's width counts", () => {
    const split = splitLongWords([tok("ABCDEFGHIJKL")]);
    expect(split.map((t) => t.hyphen ?? false)).toEqual([false, ...Array(11).fill(true)]);
    const ink = inkOf({ ...Object.fromEntries("ABCDEFGHIJKL".split("").map((c) => [c, 10])), [HYPHEN]: 4 });
    // 60 holds six letters, or five and the hyphen: the hyphen is never pushed past the limit.
    expect(texts(greedyWrap(split, ink, GAP, 60))).toEqual(["A B C D E -", "F G H I J -", "K L"]);
    expect(texts(greedyWrap(split, ink, GAP, 64))).toEqual(["A B C D E F -", "G H I J K L"]);
    for (const limit of [30, 45, 60, 64]) for (const l of greedyWrap(split, ink, GAP, limit)) expect(lineExtent(l, ink, GAP).width).toBeLessThanOrEqual(limit);
  });

  it("no hyphen where the break is not between two letters of a hyphenated script: emoji, Chinese, digits, after a '-'", () => {
    for (const word of ["😂😂😂😂😂😂😂😂😂😂😂😂", "当你终于修好了这个错误但是发现", "123456789012345", "ABCDEF-GHIJKLMNO"]) {
      const split = splitLongWords([tok(word)]);
      const hyphens = split.filter((t) => t.hyphen).map((t) => t.text);
      expect(hyphens, word).toEqual(word.startsWith("ABC") ? "BCDEFHIJKLMNO".split("") : []);
    }
    expect(splitLongWords([tok("ΚΑΛΗΜΕΡΑΚΟΣΜΕ")]).filter((t) => t.hyphen)).toHaveLength(12);
  });

  it("a URL or path breaks after '/' and before '?', '&', '#', '.', never inside 'https://', and never with a hyphen", () => {
    const url = "HTTPS://EXAMPLE.COM/A/VERY/LONG/PATH?X=1&Y=2#TOP";
    expect(breakLongWords([tok(url)], false).map((t) => t.text)).toEqual(["HTTPS://", "EXAMPLE", ".COM/", "A/", "VERY/", "LONG/", "PATH", "?X=1", "&Y=2", "#TOP"]);
    expect(breakLongWords([tok("/USR/LOCAL/SHARE/FONTS")], false).map((t) => t.text)).toEqual(["/USR/", "LOCAL/", "SHARE/", "FONTS"]);
    // Its letters only in pieces that are long words themselves, still without hyphens.
    const letters = splitLongWords([tok("WWW.DONAUDAMPFSCHIFFFAHRT.DE")]);
    expect(letters.map((t) => t.text)).toEqual(["WWW", ...".DONAUDAMPFSCHIFFFAHRT".split(""), ".DE"]);
    expect(letters.some((t) => t.hyphen)).toBe(false);
  });

  it(`breaking them is chosen only for a font at least ${SPLIT_WORD_GAIN}× larger`, () => {
    expect(prefersSplit(40, 40 * SPLIT_WORD_GAIN)).toBe(true);
    expect(prefersSplit(40, 40 * SPLIT_WORD_GAIN - 1)).toBe(false);
    expect(prefersSplit(40, 80)).toBe(true);
  });
});

describe("captions too long for the box at the smallest legible size", () => {
  // Words 10 wide and 48 high at REF_SIZE (the ellipsis too), a space 5: a line 25 wide holds two words.
  const ink = inkOf({ A: 10, B: 10, C: 10, D: 10, E: 10, F: 10, W: 10, I: 10, WIDE: 40, AB: 20, [ELLIPSIS]: 10, [HYPHEN]: 4 });
  const words = (s: string) => s.split(" ").map((t) => tok(t));
  /** Lines as drawn: a space only where the token has one before it (the ellipsis joins its word). */
  const drawn = (r: { lines: Token[][] } | null) => r?.lines.map((l) => l.map((t, i) => (i > 0 && t.spaceBefore ? " " : "") + t.text).join(""));
  const gap = LINE_GAP_PER_PX * REF_SIZE;

  it("words wider than a line at that size break between characters; the others stay whole", () => {
    const split = splitWideWords([tok("AB", false), tok("WIDE", true, true), tok("C")], ink, 25);
    expect(split.map((t) => t.text)).toEqual(["AB", "W", "I", "D", "E", "C"]);
    expect(split[1]).toEqual(tok("W", true, true));
    expect(split.slice(2, 5).every((t) => !t.spaceBefore && !t.hardBreakBefore)).toBe(true);
    expect(splitWideWords(words("A B"), ink, 25)).toEqual(words("A B"));
  });

  it("takes as few lines as the width allows, balanced, when their height fits", () => {
    // Greedy at 40 would give "A B C" / "D"; balanced over the same two lines: two words each.
    expect(legibleWrap(words("A B C D"), ink, GAP, 40, 1000)).toMatchObject({ cut: false });
    expect(drawn(legibleWrap(words("A B C D"), ink, GAP, 40, 1000))).toEqual(["A B", "C D"]);
    expect(drawn(legibleWrap(words("A B C D"), ink, GAP, 1000, 1000))).toEqual(["A B C D"]);
    // Two lines of 48 and a gap: exactly the height allowed.
    expect(legibleWrap(words("A B C D"), ink, GAP, 25, 2 * 48 + gap)).toMatchObject({ cut: false });
  });

  it("cuts what does not fit and ends the last line with an ellipsis, joined to its word", () => {
    expect(legibleWrap(words("A B C D"), ink, GAP, 25, 2 * 48 + gap - 1)).toMatchObject({ cut: true });
    expect(drawn(legibleWrap(words("A B C D"), ink, GAP, 25, 2 * 48 + gap - 1))).toEqual([`A${ELLIPSIS}`]);
    expect(drawn(legibleWrap(words("A B C D E F"), ink, GAP, 25, 2 * 48 + gap))).toEqual(["A B", `C${ELLIPSIS}`]);
    // Letters of a split word: the ellipsis follows the last letter kept; a line ending inside the word, a hyphen.
    const letters = splitWideWords([tok("WIDE", false)], ink, 30);
    expect(drawn(legibleWrap(letters, ink, GAP, 30, 48))).toEqual([`WI${ELLIPSIS}`]);
    expect(drawn(legibleWrap(letters, ink, GAP, 30, 2 * 48 + gap))).toEqual([`WI${HYPHEN}`, "DE"]);
  });

  it("gives nothing when not even one word and the ellipsis fit", () => {
    expect(legibleWrap(words("A B"), ink, GAP, 25, 47)).toBeNull();
    expect(legibleWrap(words("A B"), ink, GAP, 15, 1000)).toMatchObject({ cut: false });
    expect(legibleWrap(words("A B C"), ink, GAP, 15, 48)).toBeNull();
  });
});

describe("measured shrink and placement", () => {
  const box = { x: 0, y: 0, width: 100, height: 60 };
  const ink = (width: number, height: number) => ({ x: 3, y: 4, width, height });

  it("a block whose ink fits keeps its size", () => {
    expect(shrunkSize(50, { clipped: false, ink: ink(100, 60) }, box)).toBeNull();
  });

  it("overflowing ink shrinks the size by the ratio of the binding direction, rounded down", () => {
    expect(shrunkSize(50, { clipped: false, ink: ink(110, 30) }, box)).toBe(45); // 50 × 100/110 = 45.45
    expect(shrunkSize(50, { clipped: false, ink: ink(50, 80) }, box)).toBe(37); // 50 × 60/80 = 37.5
    expect(shrunkSize(50, { clipped: false, ink: ink(110, 80) }, box)).toBe(37);
    expect(shrunkSize(50, { clipped: false, ink: ink(101, 60) }, box)).toBe(49);
    expect(shrunkSize(50, { clipped: false, ink: ink(100, 61) }, box)).toBe(49);
  });

  it(`clipped ink (real size unknown) shrinks by ${CLIPPED_SHRINK}, even if what was seen fits; never below 1 px`, () => {
    expect(shrunkSize(50, { clipped: true, ink: ink(40, 20) }, box)).toBe(Math.floor(50 * CLIPPED_SHRINK));
    expect(shrunkSize(2, { clipped: true, ink: ink(40, 20) }, box)).toBe(1);
    expect(shrunkSize(1, { clipped: true, ink: ink(400, 200) }, box)).toBeNull();
    expect(shrunkSize(3, { clipped: false, ink: ink(4000, 20) }, box)).toBe(1);
  });

  it("centres the ink across (rounding left) and sticks it to the top, bottom or middle (rounding up)", () => {
    const b = { x: 100, y: 200, width: 100, height: 60 };
    const i = { x: 5, y: 7, width: 51, height: 21 };
    expect(placeInk(i, b, "top")).toEqual({ offsetX: 100 + 24 - 5, offsetY: 200 - 7 });
    expect(placeInk(i, b, "bottom")).toEqual({ offsetX: 119, offsetY: 200 + 39 - 7 });
    expect(placeInk(i, b, "middle")).toEqual({ offsetX: 119, offsetY: 200 + 19 - 7 });
    expect(placeInk(i, b)).toEqual(placeInk(i, b, "middle"));
  });
});

describe("the rules together, on the real fonts", () => {
  const BOX = { x: 20, y: 10, width: 400, height: 90 };
  /** The lines of a caption with long words broken between letters, joined back (its hyphens taken off). */
  const unbroken = (lines: string[]) => lines.map((l, i) => (i < lines.length - 1 ? l.replace(/-$/, "") : l)).join("");

  it("maxFontSize is a whole number of px, at least 1", async () => {
    expect((await fitCaption("hi", BOX, { maxFontSize: 40.9 })).fontSize).toBe(40);
    expect((await fitCaption("hi", BOX, { maxFontSize: 0.5 })).fontSize).toBe(1);
  });

  it("the estimate is close: a wide box is filled across within a few px", async () => {
    const r = await fitCaption("hello world", { x: 0, y: 0, width: 300, height: 300 }, { maxFontSize: 1000 });
    const xs = r.measuredBoxes.flatMap((b) => [b.x, b.x + b.width]);
    expect(Math.max(...xs) - Math.min(...xs)).toBeGreaterThan(290);
    for (const b of r.measuredBoxes) expect(inside(b, { x: 0, y: 0, width: 300, height: 300 })).toBe(true);
  });

  it("a long word breaks where that gives a clearly larger font: its pieces join without spaces, each line ending inside it with a hyphen", async () => {
    const box = { x: 0, y: 0, width: 200, height: 200 };
    const r = await fitCaption("supercalifragilistic", box);
    expect(r.lines.length).toBeGreaterThan(1);
    expect(r.lines.slice(0, -1).every((l) => l.endsWith(HYPHEN))).toBe(true);
    expect(unbroken(r.lines)).toBe("SUPERCALIFRAGILISTIC");
    for (const b of r.measuredBoxes) expect(inside(b, box)).toBe(true);
    // Among short words too (a short word's space stays, the pieces join without one).
    const mixed = await fitCaption("so supercalifragilistic", box);
    expect(mixed.lines.length).toBeGreaterThan(1);
    expect(unbroken(mixed.lines)).toBe("SO SUPERCALIFRAGILISTIC");
    // Two long words side by side on a wide box: kept whole.
    const w = await fitCaption("supercalifragilistic expialidocious", { x: 0, y: 0, width: 1000, height: 60 });
    expect(w.lines).toEqual(["SUPERCALIFRAGILISTIC EXPIALIDOCIOUS"]);
  });

  it("in a meme's top box: a long word broken between letters gets its hyphen inside the box; a URL breaks only at its natural points", async () => {
    const box = { x: 20, y: 15, width: 472, height: 102 };
    const opts = { maxFontSize: 61, valign: "top" as const, minFontSize: 20, growTo: { ...box, height: 156 } };
    const word = await fitCaption("Donaudampfschifffahrtsgesellschaft ist toll", box, opts);
    expect(word.lines.length).toBeGreaterThan(1);
    expect(word.lines[0]).toMatch(/^DONAUDAMPF[A-Z]+-$/);
    // Lines ending with the hyphen join their next line without a space; the others broke at a space.
    const rejoined = word.lines.reduce((s, l) => (s.endsWith(HYPHEN) ? s.slice(0, -1) + l : `${s} ${l}`));
    expect(rejoined).toBe("DONAUDAMPFSCHIFFFAHRTSGESELLSCHAFT IST TOLL");
    for (const b of word.measuredBoxes) expect(inside(b, box)).toBe(true);
    for (const text of ["100% @user #hashtag https://example.com/a/very/long/path?x=1", "https://example.com/a/very/long/path?x=1&y=2#top"]) {
      const r = await fitCaption(text, box, opts);
      expect(r.lines.length).toBeGreaterThan(1);
      // Each line is the next stretch of the text; each break is at a space or a URL's natural point.
      const upper = text.toUpperCase();
      let at = 0;
      r.lines.forEach((line, i) => {
        expect(upper.slice(at, at + line.length)).toBe(line);
        at += line.length;
        if (i === r.lines.length - 1) return;
        if (upper[at] === " ") at++;
        else expect(`${upper.slice(0, at)} | ${upper.slice(at)}`).toMatch(/(?:\/ \| [^/]| \| [?&#.])/);
      });
      expect(at).toBe(upper.length);
      for (const b of r.measuredBoxes) expect(inside(b, box)).toBe(true);
    }
  });

  it("a box 1 px wide or high is not empty: it gets a 1 px caption", async () => {
    expect((await fitCaption("hi", { x: 0, y: 0, width: 1, height: 30 })).fontSize).toBe(1);
    expect((await fitCaption("hi", { x: 0, y: 0, width: 300, height: 1 })).fontSize).toBe(1);
  });

  it(`a long word stays whole for a gain under ${SPLIT_WORD_GAIN}×, and breaks for more`, async () => {
    // In a 600 px wide, low box the word is one line, its size set by the width (as in any taller box).
    const word = "internationalization";
    const whole = await fitCaption(word, { x: 0, y: 0, width: 600, height: 100 });
    expect(whole.lines).toHaveLength(1);
    const s = whole.fontSize;
    // Box heights in which its two halves (each about as high as the whole word) could be drawn k times as large.
    const twoLines = (k: number) => ({ x: 0, y: 0, width: 600, height: Math.round(k * (2 * whole.measuredBoxes[0].height + LINE_GAP_PER_PX * s)) });
    const small = await fitCaption(word, twoLines(1.1));
    expect(small).toMatchObject({ lines: whole.lines, fontSize: s });
    const large = await fitCaption(word, twoLines(1.5));
    expect(large.lines.length).toBeGreaterThan(1);
    expect(large.fontSize).toBeGreaterThanOrEqual(s * SPLIT_WORD_GAIN);
  });

  it("in small boxes the outline's 1.5 px minimum makes the ink larger than the linear estimate: the measured shrink keeps it inside", async () => {
    for (const box of [{ x: 0, y: 0, width: 25, height: 8 }, { x: 3, y: 2, width: 10, height: 5 }]) {
      const r = await fitCaption("hello", box);
      expect(r.lines).toEqual(["HELLO"]);
      for (const b of r.measuredBoxes) expect(inside(b, box)).toBe(true);
    }
  });

  it("text too large for any size shrinks to 1 px and stops", async () => {
    const r = await fitCaption("a caption far too long for a box this small", { x: 0, y: 0, width: 6, height: 4 });
    expect(r.fontSize).toBe(1);
  });

  describe("the smallest legible size (minFontSize, growTo)", () => {
    const box = { x: 20, y: 15, width: 472, height: 102 };
    const growTo = { x: 20, y: 15, width: 472, height: 156 };
    const MIN = 20;
    const long = "when the build finally passes ".repeat(7).trim(); // 209 characters
    const bottomOf = (r: { measuredBoxes: Array<{ y: number; height: number }> }) => Math.max(...r.measuredBoxes.map((b) => b.y + b.height));

    it("a caption that fits its box at that size or larger is laid out exactly as without it", async () => {
      for (const text of ["hi", "when the build finally passes", "当你终于修好了这个错误但是发现测试本身就是错的时候", "pneumonoultramicroscopicsilicovolcanoconiosis"]) {
        const plain = await fitCaption(text, box, { maxFontSize: 61, valign: "top" });
        expect(plain.fontSize).toBeGreaterThanOrEqual(MIN);
        expect(await fitCaption(text, box, { maxFontSize: 61, valign: "top", minFontSize: MIN, growTo })).toEqual(plain);
      }
    });

    it("a longer one is drawn at that size on more lines, growing into growTo only as far as it needs", async () => {
      const opts = { maxFontSize: 61, valign: "top" as const };
      // 190 letters: under the minimum on three lines; at it on four, which still fit the box.
      const text = long.slice(0, 190);
      expect((await fitCaption(text, box, opts)).fontSize).toBeLessThan(MIN);
      const r = await fitCaption(text, box, { ...opts, minFontSize: MIN, growTo });
      expect(r.fontSize).toBe(MIN);
      expect(r.lines.length).toBeGreaterThan(MAX_LINES);
      expect(r.cut).toBeUndefined();
      expect(r.lines.join(" ")).toBe(text.toUpperCase());
      for (const b of r.measuredBoxes) {
        expect(inside(b, box)).toBe(true);
        expect(b.height).toBeGreaterThanOrEqual(MIN);
      }
      // 110 Chinese characters need more height than the box: they grow into growTo, down from its top.
      const cjk = "我们都是好朋友今天天气真好".repeat(9).slice(0, 110);
      const g = await fitCaption(cjk, box, { ...opts, minFontSize: MIN, growTo });
      expect(g).toMatchObject({ fontSize: MIN });
      expect(g.cut).toBeUndefined();
      expect(g.lines.join("")).toBe(cjk);
      expect(Math.min(...g.measuredBoxes.map((b) => b.y))).toBe(growTo.y);
      expect(bottomOf(g)).toBeGreaterThan(box.y + box.height);
      for (const b of g.measuredBoxes) {
        expect(inside(b, growTo)).toBe(true);
        expect(b.height).toBeGreaterThanOrEqual(MIN);
      }
    });

    it("a short word is never broken: the smallest legible size is lowered to what the width holds, and the text shrinks instead", async () => {
      // A narrow, tall box and a minimum far larger than its width holds for "BOTTOM" (as a share of a tall picture's height was).
      const narrow = { x: 14, y: 2500, width: 332, height: 658 };
      const grown = { ...narrow, y: 2000, height: 1158 };
      for (const text of ["bottom text", "top text when it is lunchtime"]) {
        const r = await fitCaption(text, narrow, { maxFontSize: 395, valign: "bottom", minFontSize: 132, growTo: grown });
        expect(r.lines.join(" "), r.lines.join(" / ")).toBe(text.toUpperCase());
        expect(r.cut).toBeUndefined();
        for (const b of r.measuredBoxes) expect(inside(b, grown)).toBe(true);
      }
    });

    it("what does not fit even there is cut with an ellipsis, and the result says so", async () => {
      const cjk = "我们都是好朋友今天天气真好".repeat(16).slice(0, 200);
      for (const text of [cjk, "😂".repeat(200), "A".repeat(200)]) {
        const r = await fitCaption(text, box, { maxFontSize: 61, valign: "top", minFontSize: MIN, growTo: { ...growTo, height: 120 } });
        expect(r.fontSize).toBe(MIN);
        expect(r.cut).toBe(true);
        expect(r.lines.at(-1)!.endsWith(ELLIPSIS)).toBe(true);
        expect(r.lines.at(-1)!.length).toBeGreaterThan(ELLIPSIS.length);
        expect(text.toUpperCase().startsWith(unbroken(r.lines).slice(0, -ELLIPSIS.length))).toBe(true);
        for (const b of r.measuredBoxes) expect(inside(b, { ...growTo, height: 120 })).toBe(true);
      }
    });
  });
});
