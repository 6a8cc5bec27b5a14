import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MimicError } from "../../../src/errors.ts";
import {
  captionBoxes,
  ensureCaptionFonts,
  fitCaption,
  MAX_CAPTION_CHARS,
  prepareCaptions,
  renderMeme as renderPrepared,
  tokenize,
  normalizeCaption,
  type CaptionText,
} from "../../../src/pipeline/render/index.ts";
import { cutNote, MAX_BOX_SHARE, MIN_FONT_PER_SIDE, MIN_FONT_PX, minCaptionFont, renderCaptionOverlay } from "../../../src/pipeline/render/meme.ts";
import { ELLIPSIS } from "../../../src/pipeline/render/fit.ts";
import { cleanCaption, prepareCaption, upperCaseCaption } from "../../../src/pipeline/render/text.ts";
import { changedPixels, decodePng, grey, inside } from "./helpers.ts";

const BOX = { x: 20, y: 10, width: 400, height: 90 };

/** Captions as typed, prepared as the assembly prepares them, then drawn. */
const renderMeme = (img: Parameters<typeof renderPrepared>[0], c: CaptionText) => renderPrepared(img, prepareCaptions(c).captions);
const boxesOf = (w: number, h: number, c: CaptionText) => captionBoxes(w, h, prepareCaptions(c).captions);

/** Draws one caption alone on grey and returns where pixels changed: the ground truth of "fits". */
async function drawnInBox(text: string, opts: { keepCase?: boolean } = {}) {
  const img = grey(440, 300);
  const png = await renderMeme(img, { boxes: [{ text, x: BOX.x / 440, y: BOX.y / 300, width: BOX.width / 440, height: BOX.height / 300 }], ...opts });
  const box = boxesOf(440, 300, { boxes: [{ text, x: BOX.x / 440, y: BOX.y / 300, width: BOX.width / 440, height: BOX.height / 300 }] })[0].box;
  return { changed: changedPixels(img, await decodePng(png)), box };
}

describe("caption fonts", () => {
  it("generates a fonts.conf with the bundled TTF folders and points fontconfig at it", () => {
    const s = ensureCaptionFonts();
    expect(process.env.FONTCONFIG_FILE).toBe(s.fontsConf);
    const conf = readFileSync(s.fontsConf, "utf8");
    for (const f of s.fontFiles) {
      expect(existsSync(f)).toBe(true);
      expect(f).toMatch(/\.ttf$/);
      expect(conf).toContain(f.slice(0, f.lastIndexOf("/")));
    }
    if (existsSync("/etc/fonts/fonts.conf")) expect(conf).toContain("<include ignore_missing=\"yes\">/etc/fonts/fonts.conf</include>");
  });
});

describe("caption text rules", () => {
  it("upper-cases by default, keeps case on request, skips blank text", () => {
    expect(normalizeCaption("  hello   world ")).toBe("HELLO WORLD");
    expect(normalizeCaption("Hello", true)).toBe("Hello");
    expect(normalizeCaption(" \n\t ")).toBe("");
  });

  it("Greek in capitals drops its accents but keeps the dialytika (JavaScript's toUpperCase keeps the tonos)", () => {
    expect("καφέ".toUpperCase()).toBe("ΚΑΦΈ"); // what the rule is for
    const cases: Array<[string, string]> = [
      ["Καλημέρα κόσμε, τι κάνεις; Ώρα για καφέ", "ΚΑΛΗΜΕΡΑ ΚΟΣΜΕ, ΤΙ ΚΑΝΕΙΣ; ΩΡΑ ΓΙΑ ΚΑΦΕ"],
      ["Μαΐου", "ΜΑΪΟΥ"], // dialytika kept, tonos dropped
      ["ΐ ΰ ϊ ϋ", "Ϊ Ϋ Ϊ Ϋ"],
      ["άυλος", "ΑΫΛΟΣ"], // a tonos that splits two vowels becomes a dialytika on the second
      ["Κάιρο, κορόιδο", "ΚΑΪΡΟ, ΚΟΡΟΪΔΟ"],
      ["ευχαριστώ, καλοί, αύριο", "ΕΥΧΑΡΙΣΤΩ, ΚΑΛΟΙ, ΑΥΡΙΟ"], // accent on the second vowel: a diphthong, no dialytika
      ["εσύ ή εγώ", "ΕΣΥ Ή ΕΓΩ"], // the word "or" keeps its tonos
      ["ήλιος", "ΗΛΙΟΣ"],
      ["ἄνθρωπος Ἀθῆναι ᾳ", "ΑΝΘΡΩΠΟΣ ΑΘΗΝΑΙ ΑΙ"], // polytonic: breathings and perispomeni go, iota subscript becomes Ι
      ["Ε\u0301λα", "ΕΛΑ"], // a combining tonos
      ["café ΟΚ ß", "CAFÉ ΟΚ SS"], // other scripts as toUpperCase has them
      ["Їжак і є ґанок ЁЛКА йод", "ЇЖАК І Є ҐАНОК ЁЛКА ЙОД"],
    ];
    for (const [typed, drawn] of cases) {
      expect(upperCaseCaption(typed)).toBe(drawn);
      expect(normalizeCaption(typed)).toBe(drawn);
    }
    expect(normalizeCaption("Καλημέρα", true)).toBe("Καλημέρα");
  });

  it.runIf("ά".toLocaleUpperCase("el") === "Α")("Greek capitals agree with ICU's Greek upper-casing where the runtime has it", () => {
    const words = "άυλος Μαΐου Κάιρο ή ἤ εσύ ή εγώ ευχαριστώ ρολόι προϊόν Ἀθῆναι ᾠδή ὅτι ἀΰπνία Ζεύς γάιδαρος ναι ΆΈΉΊΌΎΏ".split(" ");
    for (const w of words) expect(upperCaseCaption(w)).toBe(w.toLocaleUpperCase("el"));
  });

  it("a character is kept when a bundled font has it as it is drawn: upper-cased, or as typed with keepCase", () => {
    // No bundled font has the capital of "ɐ" (U+2C6F), so an all-caps caption would draw a box for it.
    expect(prepareCaption("ok ɐ")).toEqual({ text: "ok", notes: [expect.stringMatching(/no font for ɐ \(U\+0250\)/)] });
    expect(prepareCaption("ok ɐ", true)).toEqual({ text: "ok ɐ", notes: [] });
  });

  it("refuses over-long captions with a message naming the limit", () => {
    const long = "A".repeat(MAX_CAPTION_CHARS + 1);
    expect(() => normalizeCaption(long)).toThrow(MimicError);
    expect(() => normalizeCaption(long)).toThrow(new RegExp(`limit is ${MAX_CAPTION_CHARS}`));
  });

  it("the Braille blank and the Hangul fillers are blanks: alone they make no caption, between words one space, and no note", async () => {
    for (const blank of ["\u2800", "\u3164", "\u115f", "\u1160", "\uffa0"]) {
      const name = `U+${blank.codePointAt(0)!.toString(16).toUpperCase()}`;
      expect(cleanCaption(blank), name).toBe("");
      expect(cleanCaption(`${blank} ${blank}\n${blank}`), name).toBe("");
      expect(prepareCaption(`${blank}${blank}`), name).toEqual({ text: "", notes: [] });
      expect(prepareCaption(`hi${blank}there ${blank}`), name).toEqual({ text: "hi there", notes: [] });
    }
    // Nothing is drawn for a caption of blanks.
    const img = grey(64, 64, 77);
    const after = await decodePng(await renderMeme(img, { top: "\u2800", bottom: "\u3164\u3164" }));
    expect(Buffer.compare(Buffer.from(after.data), Buffer.from(img.data))).toBe(0);
  });

  it("breaks between CJK words but never before closing punctuation", () => {
    const toks = tokenize(normalizeCaption("我不知道你在说什么，真的。"));
    expect(toks.length).toBeGreaterThan(3);
    expect(toks.every((t) => !/^[，。]/.test(t.text))).toBe(true);
    expect(tokenize("GOOD, BAD").map((t) => t.text)).toEqual(["GOOD,", "BAD"]);
  });
});

describe("fitCaption (measured)", () => {
  it("short text: one line at the size cap, ink inside the box", async () => {
    const r = await fitCaption("hi", BOX, { maxFontSize: 40 });
    expect(r.lines).toEqual(["HI"]);
    expect(r.fontSize).toBe(40);
    for (const b of r.measuredBoxes) expect(inside(b, BOX)).toBe(true);
  });

  it("long text: wraps to at most 3 balanced lines and shrinks until the measured ink fits", async () => {
    const text = "when you finally fix the bug at three in the morning and realise the tests were wrong all along";
    const r = await fitCaption(text, BOX);
    expect(r.lines.length).toBeGreaterThan(1);
    expect(r.lines.length).toBeLessThanOrEqual(3);
    expect(r.lines.join(" ")).toBe(normalizeCaption(text));
    for (const b of r.measuredBoxes) expect(inside(b, BOX)).toBe(true);
    // Balanced: no line is less than half as wide as the widest.
    const widths = r.measuredBoxes.map((b) => b.width);
    expect(Math.min(...widths)).toBeGreaterThan(Math.max(...widths) * 0.5);
  });

  it("uses more lines only when they allow a larger font", async () => {
    const one = await fitCaption("tiny", BOX);
    expect(one.lines).toHaveLength(1);
    const sizes: number[] = [];
    for (const n of [4, 8, 16, 32]) sizes.push((await fitCaption("word ".repeat(n), BOX)).fontSize);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeLessThanOrEqual(sizes[i - 1]);
  });

  it("keeps explicit line breaks", async () => {
    const r = await fitCaption("top line\nsecond", BOX);
    expect(r.lines).toEqual(["TOP LINE", "SECOND"]);
  });

  it("Chinese and Japanese wrap without spaces and fit", async () => {
    const r = await fitCaption("当你终于修好了这个错误但是发现测试本身就是错的时候", BOX);
    expect(r.lines.length).toBeGreaterThan(1);
    expect(r.lines.join("")).toBe("当你终于修好了这个错误但是发现测试本身就是错的时候");
    for (const b of r.measuredBoxes) expect(inside(b, BOX)).toBe(true);
    const ja = await fitCaption("これは本当に面白いですね", BOX);
    for (const b of ja.measuredBoxes) expect(inside(b, BOX)).toBe(true);
  });

  it("emoji are drawn (the bundled emoji font) and fit", async () => {
    const r = await fitCaption("😂🔥", BOX, { maxFontSize: 40 });
    expect(r.measuredBoxes[0].width).toBeGreaterThan(40); // two glyphs ~1 em each, not empty
    expect(inside(r.measuredBoxes[0], BOX)).toBe(true);
  });

  it("empty or whitespace-only captions produce nothing", async () => {
    expect(await fitCaption("   ", BOX)).toEqual({ fontSize: 0, lines: [], measuredBoxes: [] });
  });

  it("an unbreakable long word breaks between letters rather than shrinking to dust", async () => {
    const r = await fitCaption("pneumonoultramicroscopicsilicovolcanoconiosis", { x: 0, y: 0, width: 200, height: 120 });
    expect(r.lines.length).toBeGreaterThan(1);
    for (const b of r.measuredBoxes) expect(inside(b, { x: 0, y: 0, width: 200, height: 120 })).toBe(true);
  });
});

describe("fitCaption placement and limits", () => {
  const TALL = { x: 30, y: 40, width: 300, height: 200 };
  const top = (r: { measuredBoxes: Array<{ y: number }> }) => Math.min(...r.measuredBoxes.map((b) => b.y));
  const bottom = (r: { measuredBoxes: Array<{ y: number; height: number }> }) => Math.max(...r.measuredBoxes.map((b) => b.y + b.height));

  it("sticks the ink to the box's top or bottom, or centres it, and always centres it across", async () => {
    const opts = { maxFontSize: 40 };
    const t = await fitCaption("hello", TALL, { ...opts, valign: "top" });
    const b = await fitCaption("hello", TALL, { ...opts, valign: "bottom" });
    const m = await fitCaption("hello", TALL, opts);
    expect(t.fontSize).toBe(40);
    expect(top(t)).toBe(TALL.y);
    expect(bottom(b)).toBe(TALL.y + TALL.height);
    const above = top(m) - TALL.y, below = TALL.y + TALL.height - bottom(m);
    expect(above).toBeGreaterThan(50);
    expect(Math.abs(above - below)).toBeLessThanOrEqual(1);
    for (const r of [t, b, m]) {
      const [line] = r.measuredBoxes;
      const left = line.x - TALL.x, right = TALL.x + TALL.width - (line.x + line.width);
      expect(left).toBeGreaterThan(50);
      expect(Math.abs(left - right)).toBeLessThanOrEqual(1);
    }
  });

  it("keeps at most two explicit breaks (three lines); later ones become spaces", async () => {
    const r = await fitCaption("one\ntwo\nthree\nfour", TALL);
    expect(r.lines).toEqual(["ONE", "TWO", "THREE FOUR"]);
    expect(r.measuredBoxes).toHaveLength(3);
  });

  it("a caption typed on more than three lines is drawn on three, and the meme's notes say so, in words", async () => {
    const caps = { top: "line one\nline two\nline three\nline four\nline five", bottom: "a\n\n\nb" };
    const prepared = prepareCaptions(caps);
    const overlay = await renderCaptionOverlay(512, 512, prepared.captions);
    expect(overlay.layouts[0].lines).toEqual(["LINE ONE", "LINE TWO", "LINE THREE LINE FOUR LINE FIVE"]);
    expect(overlay.layouts[1].lines).toEqual(["A", "B"]);
    expect(prepared.notes).toEqual(["The top caption has 5 lines, but a caption has at most 3, so lines 3 to 5 were joined into one line."]);
    const boxed = prepareCaptions({ boxes: [{ text: "x", x: 0, y: 0, width: 1, height: 0.5 }, { text: "1\n2\n3\n4", x: 0, y: 0.5, width: 1, height: 0.5 }] });
    expect(boxed.notes).toEqual(["The caption in box 2 has 4 lines, but a caption has at most 3, so lines 3 to 4 were joined into one line."]);
  });

  it("keeps case when asked; nothing to draw in an empty box", async () => {
    expect((await fitCaption("Hello There", TALL, { keepCase: true })).lines.join(" ")).toBe("Hello There");
    for (const box of [{ ...TALL, width: 0 }, { ...TALL, height: 0 }]) expect((await fitCaption("hi", box)).fontSize).toBe(0);
  });

  it("the font is capped by the box height by default, and never below 1 px", async () => {
    const low = { x: 0, y: 0, width: 600, height: 30 };
    // Dashes have little ink height: only the cap stops them at the box's height.
    const r = await fitCaption("- - -", low);
    expect(r.fontSize).toBe(30);
    for (const b of r.measuredBoxes) expect(inside(b, low)).toBe(true);
    const tiny = await fitCaption("a caption far too long for a box this small", { x: 0, y: 0, width: 6, height: 4 });
    expect(tiny.fontSize).toBeGreaterThanOrEqual(1);
  });

  it("picks the largest font that fits: the ink fills the box in the direction that binds, over balanced lines", async () => {
    const boxes = [
      { x: 20, y: 10, width: 400, height: 90 },
      { x: 0, y: 0, width: 300, height: 200 },
      { x: 0, y: 0, width: 200, height: 120 },
    ];
    const texts = [
      "when you finally fix the bug at three in the morning",
      "word word word word word word word word",
      "top line\nsecond",
      "当你终于修好了这个错误但是发现测试本身就是错的时候",
      "pneumonoultramicroscopicsilicovolcanoconiosis",
      "one two three four five six",
      "a bb ccc dddd eeeee ffffff",
    ];
    for (const box of boxes) {
      for (const text of texts) {
        const r = await fitCaption(text, box);
        const xs = r.measuredBoxes.flatMap((b) => [b.x, b.x + b.width]), ys = r.measuredBoxes.flatMap((b) => [b.y, b.y + b.height]);
        const fill = Math.max((Math.max(...xs) - Math.min(...xs)) / box.width, (Math.max(...ys) - Math.min(...ys)) / box.height);
        expect(fill, `${text} in ${box.width}×${box.height}`).toBeGreaterThan(0.8);
        expect(fill).toBeLessThanOrEqual(1);
      }
    }
    // Balanced: eight equal words are shared out as evenly as the line count allows.
    for (const box of boxes) {
      const r = await fitCaption(texts[1], box);
      expect(r.lines.length).toBeGreaterThan(1);
      const counts = r.lines.map((l) => l.split(" ").length);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(8);
      expect(Math.max(...counts) - Math.min(...counts), r.lines.join(" / ")).toBeLessThanOrEqual(1);
    }
  });

  it("a long word stays whole where breaking it would not give a clearly larger font", async () => {
    const wide = { x: 0, y: 0, width: 900, height: 80 };
    const r = await fitCaption("internationalization", wide);
    expect(r.lines).toEqual(["INTERNATIONALIZATION"]);
    expect(r.fontSize).toBeGreaterThan(40);
  });
});

describe("renderMeme (pixels)", () => {
  it.each([
    ["short", "lol"],
    ["long", "this caption is rather long and has to wrap onto several lines to fit inside its box at all"],
    ["multi-line", "first\nsecond\nthird"],
    ["CJK", "我不知道你在说什么但是我完全同意"],
    ["emoji", "MOOD 😂🔥👍"],
    ["markup-like", `<b>& "quotes" 'n' </svg>`],
  ])("%s: every changed pixel lies inside the box, with white fill and black outline", async (_name, text) => {
    const { changed, box } = await drawnInBox(text);
    expect(changed.bbox).not.toBeNull();
    expect(inside(changed.bbox!, box)).toBe(true);
    expect(changed.white).toBeGreaterThan(30);
    expect(changed.black).toBeGreaterThan(30);
  });

  it("classic top and bottom captions stay inside their boxes on a small image", async () => {
    const img = grey(160, 120);
    const caps = { top: "one does not simply", bottom: "walk into a meme generator without a fitting algorithm" };
    const after = await decodePng(await renderMeme(img, caps));
    const boxes = boxesOf(160, 120, caps).map((p) => p.box);
    const c = changedPixels(img, after);
    expect(c.outside(boxes)).toBe(0);
    expect(c.white).toBeGreaterThan(20);
  });

  it("top and bottom captions keep off the face where the frame leaves room, and keep the classic boxes where it does not", async () => {
    const img = grey(300, 400);
    // A portrait: the face from 20 % to 60 % of the height; a caption box under 9 % of the height would be unreadable.
    const face = { x: 0.3, y: 0.2, width: 0.4, height: 0.4 };
    const caps = { top: "when the portrait", bottom: "keeps your face visible", avoid: face };
    const [top, bottom] = boxesOf(300, 400, caps).map((p) => p.box);
    const facePx = { x: 90, y: 80, width: 120, height: 160 };
    expect(top.y + top.height).toBeLessThanOrEqual(facePx.y);
    expect(bottom.y).toBeGreaterThanOrEqual(facePx.y + facePx.height);
    const c = changedPixels(img, await decodePng(await renderMeme(img, caps)));
    expect(c.outside([top, bottom])).toBe(0);
    expect(c.outside([{ x: 0, y: 0, width: 300, height: facePx.y }, { x: 0, y: facePx.y + facePx.height, width: 300, height: 400 - facePx.y - facePx.height }])).toBe(0);
    // Without the face the top caption is the classic 20 % box, which would reach into it.
    const classic = boxesOf(300, 400, { top: "x" })[0].box;
    expect(classic.y + classic.height).toBeGreaterThan(facePx.y);
    // A close crop (face from 5 % to 95 %): no room, so the classic boxes stay.
    const close = boxesOf(300, 400, { top: "x", bottom: "y", avoid: { x: 0.1, y: 0.05, width: 0.8, height: 0.9 } });
    expect(close.map((p) => p.box)).toEqual(boxesOf(300, 400, { top: "x", bottom: "y" }).map((p) => p.box));
  });

  it("no captions (or blank ones) leave the image untouched", async () => {
    const img = grey(64, 64, 77);
    const after = await decodePng(await renderMeme(img, { top: "  ", bottom: "" }));
    expect(Buffer.compare(Buffer.from(after.data), Buffer.from(img.data))).toBe(0);
  });

  it("validates custom boxes", async () => {
    const img = grey(64, 64);
    await expect(renderMeme(img, { boxes: [{ text: "x", x: 0.8, y: 0, width: 0.5, height: 0.2 }] })).rejects.toThrow(/inside the picture/);
    const many = Array.from({ length: 9 }, () => ({ text: "x", x: 0, y: 0, width: 0.1, height: 0.1 }));
    await expect(renderMeme(img, { boxes: many })).rejects.toThrow(/limit is 8/);
  });
});

describe("long top and bottom captions stay legible", () => {
  const CJK = "我们都是好朋友今天天气真好".repeat(16).slice(0, MAX_CAPTION_CHARS);

  it(`the smallest caption size is ${MIN_FONT_PER_SIDE * 100} % of the picture's shorter side, at least ${MIN_FONT_PX} px (never above the size cap)`, () => {
    expect(minCaptionFont(512, 512)).toBe(20);
    expect(minCaptionFont(1000, 1000)).toBe(40);
    expect(minCaptionFont(200, 200)).toBe(MIN_FONT_PX);
    expect(minCaptionFont(120, 120)).toBe(MIN_FONT_PX);
    // A picture so small that the size cap (12 % of the height, at least 6 px) is below the floor: the cap.
    expect(minCaptionFont(50, 50)).toBe(6);
    // Wide pictures: their height; tall ones: their width (a share of the height would not fit across).
    expect(minCaptionFont(2000, 500)).toBe(20);
    expect(minCaptionFont(360, 3288)).toBe(14);
  });

  it("a very tall picture (1:9) never breaks short words: the legible size follows its width, and the text shrinks to fit", async () => {
    const [w, h] = [360, 3288];
    const caps = { top: "top text when it is lunchtime", bottom: "bottom text" };
    const prepared = prepareCaptions(caps);
    const overlay = await renderCaptionOverlay(w, h, prepared.captions);
    const placed = captionBoxes(w, h, prepared.captions);
    overlay.layouts.forEach((l, i) => {
      // Every word whole on one line: the lines joined with spaces give the caption back.
      expect(l.lines.join(" "), l.lines.join(" / ")).toBe(normalizeCaption([caps.top, caps.bottom][i]));
      expect(l.cut).toBeUndefined();
      for (const b of l.measuredBoxes) expect(inside(b, placed[i].growTo!)).toBe(true);
    });
    expect(prepared.notes).toEqual([]);
  });

  it(`top and bottom may grow into their ${MAX_BOX_SHARE === 1 / 3 ? "third" : "share"} of the picture; custom boxes do not`, () => {
    const [top, bottom, custom] = boxesOf(512, 512, { top: "a", bottom: "b", boxes: [{ text: "c", x: 0.1, y: 0.4, width: 0.5, height: 0.1 }] });
    expect(top).toMatchObject({ box: { x: 20, y: 15, width: 472, height: 102 }, growTo: { x: 20, y: 15, width: 472, height: 156 }, minFontSize: 20 });
    expect(bottom).toMatchObject({ box: { x: 20, y: 395, width: 472, height: 102 }, growTo: { x: 20, y: 341, width: 472, height: 156 }, minFontSize: 20 });
    expect(custom.growTo).toBeUndefined();
    expect(custom.minFontSize).toBeUndefined();
  });

  it("200 characters top and bottom on a 512 px meme: glyphs at least the minimum high, the middle third untouched, the cut said in a note", async () => {
    const img = grey(512, 512);
    const min = minCaptionFont(512, 512);
    const prepared = prepareCaptions({ top: CJK, bottom: "A".repeat(MAX_CAPTION_CHARS) });
    const overlay = await renderCaptionOverlay(512, 512, prepared.captions);
    const [top, bottom] = overlay.layouts;
    for (const l of [top, bottom]) {
      expect(l.lines.length).toBeGreaterThan(3);
      for (const b of l.measuredBoxes) expect(b.height).toBeGreaterThanOrEqual(min);
    }
    // The Chinese does not fit in the top third at the minimum size: cut; the Latin letters fit in theirs.
    expect(top.cut).toBe(true);
    expect(top.lines.at(-1)!.endsWith(ELLIPSIS)).toBe(true);
    expect(bottom.cut).toBeUndefined();
    // Broken between its letters: every line but the last ends with a hyphen.
    expect(bottom.lines.slice(0, -1).every((l) => l.endsWith("-"))).toBe(true);
    expect(bottom.lines.map((l) => l.replace(/-$/, "")).join("")).toBe("A".repeat(MAX_CAPTION_CHARS));
    // Drawn: ink in the top and bottom thirds only, and many rows of each.
    const after = await decodePng(await renderPrepared(img, prepared.captions));
    const c = changedPixels(img, after);
    expect(c.outside([{ x: 0, y: 0, width: 512, height: 171 }, { x: 0, y: 341, width: 512, height: 171 }])).toBe(0);
    const rows = (y0: number, y1: number) => {
      let n = 0;
      for (let y = y0; y < y1; y++) if (after.data.subarray(y * 512 * 3, (y + 1) * 512 * 3).some((v) => v !== 128)) n++;
      return n;
    };
    expect(rows(0, 171)).toBeGreaterThan(4 * min);
    expect(rows(341, 512)).toBeGreaterThan(4 * min);
    expect(prepared.notes).toEqual([cutNote("top")]);
  });

  it("a short caption is drawn as before and gets no note", async () => {
    const prepared = prepareCaptions({ top: "when the build", bottom: "finally passes" });
    const overlay = await renderCaptionOverlay(512, 512, prepared.captions);
    for (const l of overlay.layouts) {
      expect(l.cut).toBeUndefined();
      expect(l.fontSize).toBe(61);
    }
    expect(prepared.notes).toEqual([]);
  });
});
