import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CAPTION_FONT_FAMILY, ensureCaptionFonts, fitCaption, layoutCaption, prepareCaptions, renderMeme, type CaptionLayout } from "../../../src/pipeline/render/index.ts";
import { coverageOf, covers } from "../../../src/pipeline/render/coverage.ts";
import { renderCaptionOverlay } from "../../../src/pipeline/render/meme.ts";
import { xmlEscape } from "../../../src/pipeline/render/fonts.ts";
import { isMarkedLetter, measureTokens, REF_SIZE, strokeWidth } from "../../../src/pipeline/render/measure.ts";
import { MAX_CLUSTER_CODE_POINTS, MAX_STACKED_MARKS, normalizeCaption, prepareCaption, tokenize } from "../../../src/pipeline/render/text.ts";
import { changedPixels, decodePng, grey, inside } from "./helpers.ts";

/**
 * Every script Mimic promises is drawn with real glyphs. The reference for "no glyph" is the same SVG
 * rendered in a child process whose fontconfig knows only Anton (Latin): there Pango can only draw its
 * boxes. A script whose font were missing would be drawn as those same boxes here, and the images would match.
 */
const SAMPLES: Record<string, string> = {
  Hangul: "안녕하세요",
  kana: "ひらがなカタカナ",
  Thai: "สวัสดีที่นี่",
  Devanagari: "नमस्ते दुनिया",
  Arabic: "مرحبا بالعالم",
  Hebrew: "שלום עולם",
  Chinese: "我们都是",
  emoji: "😀🎉",
  Greek: "Καλημέρα κόσμε Ώρα άυλος Μαΐου",
  Cyrillic: "Їжак і є ґанок ЁЛКА йод",
  "Serbian, Macedonian and Belarusian": "ЂЈЉЊЋЏЅЃЌЎ ђјљњћџѕѓќў",
};

const tmp = mkdtempSync(path.join(os.tmpdir(), "mimic-scripts-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function svgOf(text: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="120"><text x="20" y="85" font-family="${xmlEscape(CAPTION_FONT_FAMILY)}" ` +
    `font-size="64" fill="#fff" stroke="#000" stroke-width="8" paint-order="stroke">${xmlEscape(text)}</text></svg>`
  );
}

async function drawHere(svg: string): Promise<Buffer> {
  ensureCaptionFonts();
  return sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer();
}

/** Each SVG rendered where fontconfig has Anton only (and no system fonts), in one child process. */
function drawWithoutFonts(svgs: string[]): Buffer[] {
  const anton = ensureCaptionFonts().fontFiles.find((f) => f.includes("Anton"))!;
  const conf = path.join(tmp, "fonts.conf");
  writeFileSync(conf, `<?xml version="1.0"?><fontconfig><dir>${path.dirname(anton)}</dir><cachedir>${tmp}/cache</cachedir></fontconfig>`);
  const list = path.join(tmp, "in.json");
  writeFileSync(list, JSON.stringify(svgs));
  const script = `
    const fs = require("fs"), sharp = require("sharp");
    (async () => {
      const svgs = JSON.parse(fs.readFileSync(${JSON.stringify(list)}, "utf8"));
      for (let i = 0; i < svgs.length; i++) fs.writeFileSync(${JSON.stringify(tmp)} + "/out" + i, await sharp(Buffer.from(svgs[i])).ensureAlpha().raw().toBuffer());
    })().catch((e) => { console.error(e); process.exit(1); });`;
  execFileSync(process.execPath, ["-e", script], { env: { ...process.env, FONTCONFIG_FILE: conf }, cwd: process.cwd(), stdio: "pipe" });
  return svgs.map((_, i) => readFileSync(path.join(tmp, `out${i}`)));
}

/** A layout's block placed in its box, as RGBA of the box's size. */
function placed(l: CaptionLayout, box: { width: number; height: number }): Buffer {
  const out = Buffer.alloc(box.width * box.height * 4);
  const b = l.block!;
  for (let y = 0; y < b.height; y++) {
    for (let x = 0; x < b.width; x++) {
      const tx = x + l.offsetX;
      const ty = y + l.offsetY;
      if (tx < 0 || ty < 0 || tx >= box.width || ty >= box.height) continue;
      for (let c = 0; c < 4; c++) out[(ty * box.width + tx) * 4 + c] = b.rgba[(y * b.width + x) * 4 + c];
    }
  }
  return out;
}

/** A line's words as drawn in a layout's block, left to right: runs of inked columns between blank ones. */
function wordsLeftToRight(l: CaptionLayout, line: number): Array<{ x: number; width: number }> {
  const b = l.block!;
  const band = b.lineInk[line];
  const runs: Array<{ x: number; width: number }> = [];
  for (let x = band.x; x < band.x + band.width; x++) {
    let inked = false;
    for (let y = band.y; y < band.y + band.height && !inked; y++) inked = b.rgba[(y * b.width + x) * 4 + 3] > 0;
    if (!inked) continue;
    const last = runs.at(-1);
    if (last && last.x + last.width === x) last.width++;
    else runs.push({ x, width: 1 });
  }
  return runs;
}

/** Fraction of pixels whose alpha differs by more than a half. */
function differing(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = 3; i < a.length; i += 4) if (Math.abs(a[i] - b[i]) > 128) n++;
  return n / (a.length / 4);
}

describe("caption scripts", () => {
  const entries = [...Object.entries(SAMPLES), ["Latin", "HELLO"]];
  let boxes: Map<string, Buffer>;
  beforeAll(() => {
    boxes = new Map(drawWithoutFonts(entries.map(([, t]) => svgOf(t))).map((b, i) => [entries[i][0], b]));
  });

  it.each(Object.entries(SAMPLES))("%s: every character has a bundled font and is drawn as a glyph, not a box", async (script, text) => {
    expect(prepareCaption(text)).toEqual({ text, notes: [] });
    const here = await drawHere(svgOf(text));
    expect(here.length).toBe(boxes.get(script)!.length);
    // Boxes and glyphs differ over a good part of the text's area (a row of boxes covers ~30 % of this canvas).
    expect(differing(here, boxes.get(script)!)).toBeGreaterThan(0.04);
  });

  it("the no-font reference really draws boxes: Latin (which Anton has) matches it exactly", async () => {
    expect(differing(await drawHere(svgOf("HELLO")), boxes.get("Latin")!)).toBe(0);
  });

  it("right-to-left: a caption starting with Arabic is laid out right to left", async () => {
    // In a right-to-left paragraph the first (Arabic) word goes to the right, so "مرحبا LOL" and "LOL مرحبا"
    // look the same; a left mark (U+200E) makes the paragraph left-to-right, putting the Arabic word left.
    const box = { x: 0, y: 0, width: 600, height: 100 };
    const [rtl, ltr, forcedLtr] = await Promise.all(["مرحبا LOL", "LOL مرحبا", "\u200eمرحبا LOL"].map((t) => layoutCaption(prepareCaption(t).text, box, { maxFontSize: 60 })));
    const alpha = (l: CaptionLayout) => placed(l, box);
    expect(differing(alpha(rtl), alpha(ltr))).toBeLessThan(0.01);
    expect(differing(alpha(forcedLtr), alpha(ltr))).toBeGreaterThan(0.03);
  });

  it("right-to-left: a line wrapped from a right-to-left sentence stays right to left when it starts with a Latin word", async () => {
    // Wrapped as typed text is: "IPHONE" starts the second line, and is still the rightmost word there (read first).
    const l = await layoutCaption(prepareCaption("אני אוהב את iPhone הישן שלי").text, { x: 0, y: 0, width: 240, height: 80 }, { maxFontSize: 60 });
    expect(l.lines).toEqual(["אני אוהב את", "IPHONE הישן שלי"]);
    const ink = await measureTokens(l.lines.flatMap((line) => line.split(" ")));
    const widthOf = (word: string) => ((ink.get(word)!.right - ink.get(word)!.left) * l.fontSize) / REF_SIZE;
    l.lines.forEach((line, i) => {
      // The words as drawn, left to right, told apart by their measured widths: the typed order, reversed.
      const drawn = wordsLeftToRight(l, i);
      const typed = line.split(" ");
      expect(drawn, line).toHaveLength(typed.length);
      typed.reverse().forEach((word, k) => expect(Math.abs(drawn[k].width - widthOf(word)), `${line}: ${word}`).toBeLessThanOrEqual(3));
    });
  });

  it("right-to-left: a caption cut short ends with its ellipsis on the left, where the sentence goes on", async () => {
    const box = { x: 0, y: 0, width: 300, height: 110 };
    const l = await layoutCaption(
      prepareCaption("שלום lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor").text,
      box,
      { minFontSize: 30, growTo: box },
    );
    expect(l.cut).toBe(true);
    const last = l.lines.at(-1)!;
    expect(last).toMatch(/^[A-Z]+.*…$/);
    // The last line's leftmost ink is the ellipsis's dots, low on the line; its rightmost a capital, full height.
    const b = l.block!;
    const line = b.lineInk.at(-1)!;
    const top = (x: number) => {
      for (let y = line.y; y < line.y + line.height; y++) if (b.rgba[(y * b.width + x) * 4 + 3] > 0) return y - line.y;
      return line.height;
    };
    expect(top(line.x + 2), last).toBeGreaterThan(line.height / 2);
    expect(top(line.x + line.width - 3), last).toBeLessThan(line.height / 4);
  });

  it("each script renders inside its meme box", async () => {
    for (const text of Object.values(SAMPLES)) {
      const img = grey(400, 300);
      const changed = changedPixels(img, await decodePng(await renderMeme(img, prepareCaptions({ top: text }).captions)));
      expect(changed.bbox).not.toBeNull();
      expect(changed.white).toBeGreaterThan(100);
    }
  });
});

describe("scripts written without spaces", () => {
  const words = new Intl.Segmenter("th", { granularity: "word" });
  /** Where the segmenter puts word boundaries in `text` (offsets in UTF-16 units). */
  const boundaries = (text: string) => new Set([...words.segment(text)].map((w) => w.index).concat(text.length));
  /** What must not start a line: a combining mark, a Thai or Lao vowel written after its consonant, a repetition mark. */
  const ATTACHED = /^[\p{M}\u0e30\u0e32\u0e33\u0e45\u0e46\u0eb0\u0eb2\u0eb3\u0ec6]/u;

  it("Thai wraps between words, as the segmenter finds them, never inside one", async () => {
    for (const text of ["ฉันชอบกินข้าวผัดกะเพราไก่ไข่ดาวมากที่สุดในโลกนี้เลยจริงๆนะ", "ภาษาไทยไม่มีช่องว่างระหว่างคำเลยทำให้ตัดคำยากมากสำหรับคอมพิวเตอร์"]) {
      const overlay = await renderCaptionOverlay(400, 400, prepareCaptions({ bottom: text }).captions);
      const { lines } = overlay.layouts[0];
      expect(lines.length, text).toBeGreaterThan(1);
      expect(lines.join(""), text).toBe(text); // no hyphen, nothing dropped
      const at = boundaries(text);
      let end = 0;
      for (const line of lines.slice(0, -1)) {
        end += line.length;
        expect(at.has(end), `${lines.join(" | ")}`).toBe(true);
      }
      for (const line of lines) expect(line, lines.join(" | ")).not.toMatch(ATTACHED);
    }
  });

  it("Thai, Lao, Khmer and Myanmar words are tokens of their own; a repetition mark stays with its word", () => {
    for (const text of ["ไปกินข้าวกันไหม", "ສະບາຍດີເຈົ້າເປັນແນວໃດ", "ខ្ញុំស្រឡាញ់ភាសាខ្មែរណាស់", "မင်္ဂလာပါခင်ဗျားနေကောင်းလား"]) {
      const tokens = tokenize(text).map((t) => t.text);
      expect(tokens.length, text).toBeGreaterThan(2);
      expect(tokens.join(""), text).toBe(text);
      const at = boundaries(text);
      let start = 0;
      for (const t of tokens) {
        expect(at.has(start), `${tokens.join(" | ")}`).toBe(true);
        expect(t, tokens.join(" | ")).not.toMatch(ATTACHED);
        start += t.length;
      }
    }
    // The segmenter splits a repetition mark off some words ("ສະບາຍໆ": "ສະ", "ບາຍ", "ໆ"): it stays on the word.
    expect(tokenize("ສະບາຍໆ").map((t) => t.text)).toEqual(["ສະ", "ບາຍໆ"]);
    expect(tokenize("เกมส์ๆๆ").map((t) => t.text)).toEqual(["เกมส์ๆๆ"]);
  });
});

describe("Greek and Cyrillic", () => {
  /** Letters (not marks or signs) of a Unicode block. */
  const letters = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => String.fromCodePoint(from + i)).filter((c) => /\p{L}/u.test(c));
  const uncovered = (from: number, to: number) => {
    const ranges = coverageOf(ensureCaptionFonts().fontFiles);
    return letters(from, to).filter((c) => !covers(ranges, c.codePointAt(0)!));
  };

  it("the bundled fonts have every Greek and Cyrillic letter but Coptic's and Old Cyrillic's", () => {
    // Coptic letters in the Greek block (Ϣ–ϯ), and the Old Cyrillic round omega, omega with titlo, ot and koppa.
    expect(uncovered(0x370, 0x3ff).join("")).toBe("ϢϣϤϥϦϧϨϩϪϫϬϭϮϯ");
    expect(uncovered(0x400, 0x4ff).join("")).toBe("ѺѻѼѽѾѿҀҁ");
  });

  it("a real caption draws each accented Greek and Ukrainian, Belarusian, Serbian and Macedonian letter", async () => {
    const img = grey(480, 360);
    const draw = async (top: string) => {
      const { captions, notes } = prepareCaptions({ top });
      const overlay = await renderCaptionOverlay(img.width, img.height, captions);
      const png = await decodePng(await renderMeme(img, captions));
      return { notes, lines: overlay.layouts[0]?.lines ?? [], changed: changedPixels(img, png), png };
    };
    const repro = await draw("Καλημέρα κόσμε, τι κάνεις; Ώρα για καφέ");
    expect(repro.notes).toEqual([]);
    expect(repro.lines.join(" ")).toBe("ΚΑΛΗΜΕΡΑ ΚΟΣΜΕ, ΤΙ ΚΑΝΕΙΣ; ΩΡΑ ΓΙΑ ΚΑΦΕ");
    // Each letter under test, between two others, against the same caption with a plain letter in its place:
    // the pictures differ only if the letter itself is drawn (a dropped letter leaves "ЖЖ" in both).
    const pairs = "ЇІ ІЖ ЄЕ ҐГ ЎУ ЂЋ ЈЛ ЉЛ ЊН ЋТ ЏП ЅС ЃГ ЌК ΪΙ ΫΥ ΆΑ".split(" ");
    for (const [letter, plain] of pairs) {
      const [a, b] = await Promise.all([draw(`Ж${letter}Ж`), draw(`Ж${plain}Ж`)]);
      expect(a.notes, letter).toEqual([]);
      expect(a.lines, letter).toEqual([`Ж${letter === "Ά" ? "Α" : letter}Ж`]);
      expect(a.changed.white, letter).toBeGreaterThan(100);
      if (letter !== "Ά") expect(Buffer.from(a.png.data).equals(Buffer.from(b.png.data)), letter).toBe(false);
    }
    // Lower case, as typed in keepCase captions.
    const lower = "їієґўђјљњћџѕѓќάέήίόύώΐΰ";
    expect(prepareCaption(lower, true)).toEqual({ text: lower, notes: [] });
  });

  it("Greek letters are all drawn in one font (Anton's few Greek letters are math symbols in another style)", async () => {
    // The Greek font alone draws these exactly as the caption fonts do: none comes from Anton.
    const text = "ΚΟΣΜΕ ΩΡΑ ΔΕΛΤΑ π";
    const alone = `'Fira Sans Extra Condensed Black'`;
    const captionSvg = svgOf(text);
    const aloneSvg = captionSvg.replace(`font-family="${xmlEscape(CAPTION_FONT_FAMILY)}"`, `font-family="${xmlEscape(alone)}"`);
    expect(aloneSvg).not.toBe(captionSvg);
    expect(differing(await drawHere(captionSvg), await drawHere(aloneSvg))).toBe(0);
  });
});

describe("characters no font has", () => {
  it("are left out and named in a note, never drawn as boxes", async () => {
    const r = prepareCaption("hi ሰላም there");
    expect(r.text).toBe("hi there");
    expect(r.notes).toHaveLength(1);
    expect(r.notes[0]).toMatch(/no font for ሰ \(U\+1230\), ላ \(U\+120B\), ም \(U\+121D\)/);
    const img = grey(400, 300);
    const withEthiopic = await renderMeme(img, prepareCaptions({ top: "hi ሰላም there" }).captions);
    const without = await renderMeme(img, prepareCaptions({ top: "hi there" }).captions);
    expect(withEthiopic.equals(without)).toBe(true);
  });
});

describe("combining marks and the notes that name them", () => {
  it("a stroke overlay (U+0334, U+0335) is drawn over its letter, not beside it", async () => {
    const WIDE = { x: 0, y: 0, width: 1000, height: 200 };
    for (const [plain, marked] of [["GO", "GO\u0335"], ["ZA", "ZA\u0334"], ["LOG", "LO\u0335G"]]) {
      expect(prepareCaption(marked)).toEqual({ text: marked, notes: [] });
      const [a, b] = await Promise.all([plain, marked].map((t) => layoutCaption(prepareCaption(t).text, WIDE, { maxFontSize: 48 })));
      expect(b.fontSize).toBe(48);
      // Beside the O it made the word a third of a letter wider; over it, no wider.
      expect(Math.abs(b.measuredBoxes[0].width - a.measuredBoxes[0].width), marked).toBeLessThanOrEqual(1);
    }
  });

  it("a long stroke overlay (U+0336, typed to strike text through) is drawn across its own letter, not out to its left", async () => {
    const WIDE = { x: 0, y: 0, width: 1000, height: 200 };
    for (const plain of ["I", "NOT", "W", "ЖЁ", "ΣΟΦΙΑ", "שלום", "I W"]) {
      const struck = [...plain].map((c) => (c === " " ? c : c + "\u0336")).join("");
      expect(prepareCaption(struck)).toEqual({ text: struck, notes: [] });
      const [a, b] = await Promise.all([plain, struck].map((t) => layoutCaption(prepareCaption(t).text, WIDE, { maxFontSize: 48 })));
      expect(b.fontSize).toBe(48);
      // Fira's stroke is as wide for every letter and ended where its letter ends: it stuck out far to the left of an
      // "I". The line through spans the letters' advance: wider than their ink by their side bearings at most.
      expect(Math.abs(b.measuredBoxes[0].width - a.measuredBoxes[0].width), struck).toBeLessThanOrEqual(strokeWidth(48));
      // And it is drawn: it inks the gaps between letters and the ends of its line.
      const inked = (l: CaptionLayout) => l.block!.rgba.filter((v, i) => i % 4 === 3 && v > 0).length;
      expect(inked(b), struck).toBeGreaterThan(inked(a));
    }
  });

  it("an accent with no precomposed letter sits over its Cyrillic, Greek or Latin letter, not beside it; other scripts' marks keep their fonts", async () => {
    // The accent beside the letter made it a third wider; over it, as wide as the letter alone.
    for (const [plain, marked] of [["О", "О\u0301"], ["Я", "Я\u0301"], ["Σ", "Σ\u0301"], ["Ж", "Ж\u0306\u0301"]]) {
      const ink = await measureTokens([plain, marked]);
      expect(ink.get(marked)!.right - ink.get(plain)!.right, marked).toBeLessThanOrEqual(1);
      expect(ink.get(marked)!.top, marked).toBeLessThan(ink.get(plain)!.top - 6);
    }
    // A Latin capital with no precomposed form (Q̃) is drawn whole by the next font, whose tilde sits over its Q.
    expect(["É", "E\u0301", "Ё", "\u0e01\u0e34", "\u0628\u064e", "GO\u0335"].map(isMarkedLetter)).toEqual([false, false, false, false, false, false]);
    expect(["О\u0301", "Q\u0303", "\u03c9\u0311"].map(isMarkedLetter)).toEqual([true, true, true]);
  });

  it("the widest single characters (Arabic ligatures such as ﷽, a dozen letters wide) are measured and fitted, not an error", async () => {
    const ink = await measureTokens(["\ufdfd", "\ufdfa"]);
    expect(ink.get("\ufdfd")!.right - ink.get("\ufdfd")!.left).toBeGreaterThan(ink.get("\ufdfa")!.right - ink.get("\ufdfa")!.left);
    const fitted = await layoutCaption(prepareCaption("hello \ufdfd world").text, { x: 0, y: 0, width: 600, height: 120 }, { maxFontSize: 48 });
    expect(fitted.fontSize).toBeGreaterThan(0);
    // A word of them, wider than the canvas a word of three letters gets, is measured too (drawn smaller).
    const one = ink.get("\ufdfd")!;
    const three = (await measureTokens(["\ufdfd\ufdfd\ufdfd"])).get("\ufdfd\ufdfd\ufdfd")!;
    expect(three.right - three.left).toBeGreaterThan(2.5 * (one.right - one.left));
    // Drawn smaller as a whole, its outline stays in proportion: about as tall as one of its words drawn at full size
    // (a 1.5 px outline on a 3 px glyph read it half as tall again).
    const word = (await measureTokens(["\u0627\u0644\u0631\u062d\u064a\u0645"])).get("\u0627\u0644\u0631\u062d\u064a\u0645")!;
    expect(one.bottom - one.top).toBeLessThan(1.4 * (word.bottom - word.top));
  });

  it("one note for the whole meme: each character left out named once, a combining mark on a dotted circle", () => {
    const zalgo = "Z\u0337\u031b\u0339a\u0334l\u0336g\u0338o\u0335";
    const { notes } = prepareCaptions({ top: zalgo, bottom: `Ångström ${zalgo}` });
    const missing = notes.filter((n) => n.includes("no font"));
    expect(missing).toEqual(["I have no font for \u25cc\u0337 (U+0337), \u25cc\u0338 (U+0338), so they were left out of the captions."]);
    // One caption: "the caption", as before.
    expect(prepareCaptions({ bottom: "hi ሰ" }).notes).toEqual(["I have no font for ሰ (U+1230), so it was left out of the caption."]);
  });
});

describe("stacked combining marks (zalgo)", () => {
  const zalgo = Array.from(
    { length: 150 },
    (_, i) => "abcdefghij"[i % 10] + Array.from({ length: 30 }, (_, j) => String.fromCharCode(0x300 + ((i * 7 + j) % 0x6f))).join(""),
  ).join("");

  it(`are cut to ${MAX_STACKED_MARKS} per letter, and the user is told`, () => {
    const r = prepareCaption(zalgo);
    expect(r.notes[0]).toBe(`Stacked marks were cut to ${MAX_STACKED_MARKS} per letter.`);
    expect(Math.max(...r.text.split(/\P{M}/u).map((run) => [...run].length))).toBeLessThanOrEqual(MAX_STACKED_MARKS);
    // Real writing keeps its marks: Vietnamese and Thai stack two.
    expect(prepareCaption("Tiếng Việt ที่นี่")).toEqual({ text: "Tiếng Việt ที่นี่", notes: [] });
    // A family emoji (7 code points) stays whole; a chain of 40 joined emoji is one "character" and is cut.
    expect(prepareCaption("👨‍👩‍👧‍👦").notes).toEqual([]);
    const chain = prepareCaption(Array(40).fill("😀").join("\u200d"));
    expect([...chain.text].length).toBe(MAX_CLUSTER_CODE_POINTS);
    expect(chain.notes[0]).toMatch(/cut/);
  });

  it("150 letters × 30 marks render inside the box (it used to fail after minutes)", { timeout: 30_000 }, async () => {
    const box = { x: 10, y: 10, width: 480, height: 100 };
    const r = await fitCaption(zalgo, box);
    expect(r.fontSize).toBeGreaterThan(0);
    for (const b of r.measuredBoxes) expect(inside(b, box)).toBe(true);
    // Broken between letters: each line but the last ends with a hyphen.
    const rejoined = r.lines.map((l, i) => (i < r.lines.length - 1 ? l.replace(/-$/, "") : l)).join("");
    expect(rejoined.replace(/\s/g, "")).toBe(normalizeCaption(zalgo).replace(/\s/g, ""));
  });
});
