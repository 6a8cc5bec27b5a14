import { describe, expect, it } from "vitest";
import { layoutCaption, lineExtent } from "../../../src/pipeline/render/fit.ts";
import { measureTokens, REF_SIZE, WIDE_SPACE, wordSpaceKey, wordSpaces } from "../../../src/pipeline/render/measure.ts";
import { prepareCaption, splitGraphemes, tokenize } from "../../../src/pipeline/render/text.ts";

/**
 * Word gaps, counted on the rendered pixels: Fira Sans Extra Condensed (Greek, Cyrillic) has a much
 * narrower space than Anton (Latin), and the outline takes as much of it, so Greek and Cyrillic words ran
 * together at small sizes. A clear column is one where every row of the line is at most faint (alpha < 128).
 */
const WIDE = { x: 0, y: 0, width: 2000, height: 400 };
const SIZES = [12, 15, 20, 26, 40];

/** The runs of clear columns strictly inside a one-line caption's ink, drawn at `size` px, left to right. */
async function gapsIn(text: string, size: number): Promise<number[]> {
  const l = await layoutCaption(prepareCaption(text).text, WIDE, { maxFontSize: size });
  expect(l.fontSize).toBe(size);
  expect(l.lines).toHaveLength(1);
  const b = l.block!;
  const runs: number[] = [];
  let run = 0;
  for (let x = b.ink.x + 1; x < b.ink.x + b.ink.width - 1; x++) {
    let clear = true;
    for (let y = b.ink.y; y < b.ink.y + b.ink.height && clear; y++) if (b.rgba[(y * b.width + x) * 4 + 3] >= 128) clear = false;
    if (clear) run++;
    else if (run > 0) [runs[runs.length], run] = [run, 0];
  }
  return runs;
}

/** The widest run of clear columns strictly inside a one-line caption's ink, drawn at `size` px. */
const widestGap = async (text: string, size: number) => Math.max(0, ...(await gapsIn(text, size)));

/** Clear columns between the words of each caption and of its Latin counterpart, per size. */
async function gapsAgainstLatin(cases: Array<[text: string, latin: string]>) {
  const rows: Array<{ text: string; size: number; gap: number; latin: number }> = [];
  for (const [text, latin] of cases) {
    for (const size of SIZES) rows.push({ text, size, gap: await widestGap(text, size), latin: await widestGap(latin, size) });
  }
  return rows;
}

describe("word gaps in every script are at least as clear as Latin's", () => {
  it("Cyrillic and Greek words stay apart, by at least Latin's clear gap at the same size", async () => {
    const rows = await gapsAgainstLatin([
      ["Привет мир", "Hello world"],
      ["Добрый день", "Hello world"],
      ["Καλή μέρα", "Hello world"],
      ["Γειά σου", "Hello world"],
    ]);
    for (const r of rows) {
      expect(r.gap, `${r.text} at ${r.size} px`).toBeGreaterThanOrEqual(Math.max(1, r.latin));
    }
  });

  it("an emoji keeps as clear a gap to a Greek, Cyrillic or Hebrew word as to a Latin one", async () => {
    const rows = await gapsAgainstLatin([
      ["😀 Καλημέρα", "😀 Hello"],
      ["Καλημέρα 😀", "Hello 😀"],
      ["😀 Привет", "😀 Hello"],
      ["Привет 😀", "Hello 😀"],
      ["😀 עולם", "😀 Hello"],
      ["עולם 😀", "Hello 😀"],
    ]);
    for (const r of rows) expect(r.gap, `${r.text} at ${r.size} px`).toBeGreaterThanOrEqual(r.latin);
  });

  it("a tab, vertical tab or form feed between words is a word space; a zero-width space beside a space adds no gap", async () => {
    for (const size of [15, 40]) {
      const latin = await widestGap("Hello world", size);
      for (const text of ["Hello\tworld", "Hello\vworld", "Hello\fworld", "Hello \u200b world", "Hello\u200b world", "Hello \u200bworld", "\u200bHello world\u200b"]) {
        const l = await layoutCaption(prepareCaption(text).text, WIDE, { maxFontSize: size });
        expect(l.lines, JSON.stringify(text)).toEqual(["HELLO WORLD"]);
        expect(await widestGap(text, size), `${JSON.stringify(text)} at ${size} px`).toBe(latin);
      }
    }
  });

  it("symbols the emoji font draws in text style (☺ ✔) keep an even word gap: its own space, over an em, is not drawn", async () => {
    for (const size of [15, 20, 40]) {
      for (const text of ["☺ ✔ ★", "✔ ☺ ☺ ★"]) {
        const gaps = await gapsIn(text, size);
        expect(gaps, `${text} at ${size} px`).toHaveLength(text.split(" ").length - 1);
        expect(Math.max(...gaps), `${text} at ${size} px: ${gaps}`).toBeLessThanOrEqual(1.5 * Math.min(...gaps) + 1);
      }
    }
  });

  it("only spaces narrower than Latin's are widened: Latin, Hebrew and emoji next to Latin keep a plain space", async () => {
    const plain = [["O", "W"], ["T", "A"], ["ם", "ע"], ["😀", "H"], ["O", "😀"], ["😀", "ע"]] as const;
    const narrow = [["Т", "М"], ["Η", "Μ"], ["😀", "Κ"], ["Α", "😀"]] as const;
    const spaces = await wordSpaces([...plain, ...narrow]);
    expect([...spaces.keys()].sort()).toEqual(narrow.map(([a, b]) => wordSpaceKey(a, b)).sort());
    for (const s of spaces.values()) expect(s.text).toBe(WIDE_SPACE);
  });

  it("fitting plans with the wider spaces: a line's estimated width is its drawn ink's, give or take a pixel a word", async () => {
    for (const text of ["ПРИВЕТ МИР КАК ДЕЛА", "ΚΑΛΗ ΜΕΡΑ ΚΟΣΜΕ ΤΙ ΛΕΣ", "ДОБРЫЙ ДЕНЬ 😀 ΓΕΙΑ ΣΟΥ"]) {
      const tokens = tokenize(text);
      const ink = await measureTokens([...tokens.map((t) => t.text), "H", "H H"]);
      const w = (t: string) => ink.get(t)!.right - ink.get(t)!.left;
      const facing = (i: number) => [splitGraphemes(tokens[i - 1].text).at(-1)!, splitGraphemes(tokens[i].text)[0]] as const;
      const spaces = await wordSpaces(tokens.slice(1).map((_, i) => facing(i + 1)));
      const spaced = tokens.map((t, i) => {
        const space = i > 0 ? spaces.get(wordSpaceKey(...facing(i))) : undefined;
        return space ? { ...t, wideSpace: space } : t;
      });
      const estimate = lineExtent(spaced, ink, w("H H") - 2 * w("H")).width;
      const drawn = await layoutCaption(prepareCaption(text).text, WIDE, { maxFontSize: REF_SIZE });
      expect(drawn.fontSize).toBe(REF_SIZE);
      expect(Math.abs(drawn.measuredBoxes[0].width - estimate), text).toBeLessThanOrEqual(tokens.length);
      // The result's lines are the caption's text: plain spaces, whatever space was drawn.
      expect(drawn.lines).toEqual([text]);
    }
  });
});
