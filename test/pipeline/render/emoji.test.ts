import { describe, expect, it } from "vitest";
import { layoutCaption, prepareCaptions, renderCaptionOverlay } from "../../../src/pipeline/render/index.ts";
import { inkAt } from "../../../src/pipeline/render/fit.ts";
import { EMOJI_MIN_PX, emojiSize, isEmoji, measureTokens, REF_SIZE } from "../../../src/pipeline/render/measure.ts";
import { MIN_FONT_PX } from "../../../src/pipeline/render/meme.ts";
import { prepareCaption } from "../../../src/pipeline/render/text.ts";
import { inside } from "./helpers.ts";

/**
 * Noto Emoji draws its pictures with lines about a sixteenth of their size wide: at the smallest caption size
 * (a 128 px morph GIF) they used to vanish into their black outline, leaving a grey scribble. Checked on the
 * rendered pixels: the share of an emoji's ink that is the white fill.
 */
const EMOJI = ["😂", "🔥", "👍", "🎉", "😭", "🙏", "💀", "🤔"];

/** Of the pixels a rendered block inks, the share that is near-white fill (not outline, not a grey blend). */
function whiteShare(block: { rgba: Uint8Array; width: number; ink: { x: number; y: number; width: number; height: number } }) {
  let ink = 0;
  let white = 0;
  for (let y = block.ink.y; y < block.ink.y + block.ink.height; y++) {
    for (let x = block.ink.x; x < block.ink.x + block.ink.width; x++) {
      const i = (y * block.width + x) * 4;
      if (block.rgba[i + 3] === 0) continue;
      ink++;
      if (block.rgba[i + 3] >= 192 && Math.min(block.rgba[i], block.rgba[i + 1], block.rgba[i + 2]) >= 192) white++;
    }
  }
  return white / ink;
}

const WIDE = { x: 0, y: 0, width: 400, height: 100 };

/** Whether some row between rows y0 and y1 of a block is at most faint (antialiasing): a gap between two lines. */
function gapBetween(block: { rgba: Uint8Array; width: number }, y0: number, y1: number) {
  for (let y = Math.ceil(y0); y < y1; y++) {
    let faint = true;
    for (let x = 0; x < block.width && faint; x++) if (block.rgba[(y * block.width + x) * 4 + 3] >= 128) faint = false;
    if (faint) return true;
  }
  return false;
}

describe("emoji stay legible at the smallest caption size", () => {
  it(`an emoji caption at ${MIN_FONT_PX} px keeps a white picture: as much white fill as at a large size, not a grey outline`, async () => {
    const shares: Record<string, number> = {};
    for (const e of EMOJI) {
      const small = await layoutCaption(prepareCaption(e).text, WIDE, { maxFontSize: MIN_FONT_PX });
      expect(small.fontSize).toBe(MIN_FONT_PX);
      shares[e] = whiteShare(small.block!);
    }
    const large = await layoutCaption(prepareCaption(EMOJI.join("")).text, WIDE, { maxFontSize: 40 });
    const reference = whiteShare(large.block!);
    // A 40 px emoji is clearly legible; at 10 px the old drawing kept under a fifth of that white.
    for (const e of EMOJI) expect(shares[e], e).toBeGreaterThanOrEqual(0.8 * reference);
  });

  it(`an emoji among ${MIN_FONT_PX} px text is drawn at ${EMOJI_MIN_PX} px, its ink as tall as that`, async () => {
    const text = await layoutCaption(prepareCaption("MOOD").text, WIDE, { maxFontSize: MIN_FONT_PX });
    const mixed = await layoutCaption(prepareCaption("MOOD 😭").text, WIDE, { maxFontSize: MIN_FONT_PX });
    expect(mixed.fontSize).toBe(MIN_FONT_PX);
    const emoji = await layoutCaption(prepareCaption("😭").text, WIDE, { maxFontSize: EMOJI_MIN_PX });
    // The line's ink is the emoji's at EMOJI_MIN_PX (taller than the capitals), give or take a pixel of rounding.
    expect(mixed.measuredBoxes[0].height).toBeGreaterThan(text.measuredBoxes[0].height);
    expect(Math.abs(mixed.measuredBoxes[0].height - emoji.measuredBoxes[0].height)).toBeLessThanOrEqual(1);
  });

  it("large sizes are drawn as before: no emoji grows at or above its minimum size", () => {
    for (const size of [EMOJI_MIN_PX, 20, 31, 61]) expect(emojiSize(size)).toBe(size);
    expect(emojiSize(MIN_FONT_PX)).toBe(EMOJI_MIN_PX);
    // Still shrinks with the text below the smallest caption size (custom boxes), so fitting always ends.
    expect(emojiSize(4)).toBeLessThan(emojiSize(6));
  });

  it("only pictographs no text font has are emoji: ©, ♥ and 🆗 come from the text fonts", () => {
    for (const e of [...EMOJI, "❤️", "🇫🇷", "👨‍👩‍👧"]) expect(isEmoji(e), e).toBe(true);
    for (const c of ["A", "我", "©", "♥", "🆗", "1"]) expect(isEmoji(c), c).toBe(false);
  });

  it("the layout plans with the emoji's drawn size: a 128 px meme's captions with emoji stay in their boxes, lines apart", async () => {
    const { captions } = prepareCaptions({ top: "when the build passes on the first try 😭🙏", bottom: "me 😂🔥👍 at 3 am 💀🎉" });
    const overlay = await renderCaptionOverlay(128, 128, captions);
    for (const l of overlay.layouts) {
      expect(l.fontSize).toBeLessThan(EMOJI_MIN_PX);
      for (const b of l.measuredBoxes) expect(inside(b, { x: 0, y: 0, width: 128, height: 128 })).toBe(true);
      // Lines do not run into each other (the line pitch counts the taller emoji): blank rows part them.
      expect(l.lines.length).toBeGreaterThan(1);
      const mid = l.block!.lineInk.map((b) => b.y + b.height / 2);
      for (let i = 1; i < mid.length; i++) expect(gapBetween(l.block!, mid[i - 1], mid[i]), l.lines[i]).toBe(true);
    }
    expect(overlay.layouts[0].measuredBoxes.at(-1)!.y + overlay.layouts[0].measuredBoxes.at(-1)!.height).toBeLessThan(
      overlay.layouts[1].measuredBoxes[0].y,
    );
  });

  it("inkAt widens and raises a token's emoji by the drawn size at small sizes, and leaves large sizes alone", async () => {
    const ink = await measureTokens(["MOOD😂", "MOOD"]);
    expect(inkAt(ink, 40)).toBe(ink);
    const small = inkAt(ink, MIN_FONT_PX);
    const k = emojiSize(MIN_FONT_PX) / MIN_FONT_PX;
    const e = ink.get("MOOD😂")!.emoji!;
    expect(e.count).toBe(1);
    const w = (m: { left: number; right: number }) => m.right - m.left;
    expect(w(small.get("MOOD😂")!)).toBeGreaterThanOrEqual(w(ink.get("MOOD😂")!) + e.width * (k - 1));
    expect(small.get("MOOD😂")!.top).toBeLessThanOrEqual(e.top * k);
    expect(small.get("MOOD")).toEqual(ink.get("MOOD"));
    expect(REF_SIZE).toBeGreaterThanOrEqual(EMOJI_MIN_PX); // measured at REF_SIZE exactly as drawn large
  });

  it("grown emoji get room: clear columns between adjacent emoji, and a word gap before one as wide as Latin's", async () => {
    // Runs of columns with no ink of even half opacity, inside the block's ink, left to right.
    const clearRuns = (block: { rgba: Uint8Array; width: number; ink: { x: number; y: number; width: number; height: number } }) => {
      const runs: number[] = [];
      let run = 0;
      for (let x = block.ink.x; x < block.ink.x + block.ink.width; x++) {
        let inked = false;
        for (let y = block.ink.y; y < block.ink.y + block.ink.height && !inked; y++) inked = block.rgba[(y * block.width + x) * 4 + 3] >= 128;
        if (!inked) run++;
        else if (run > 0) runs.push(run), (run = 0);
      }
      return runs;
    };
    for (let size = MIN_FONT_PX; size <= EMOJI_MIN_PX; size++) {
      const emoji = await layoutCaption(prepareCaption("😂😂😂").text, WIDE, { maxFontSize: size });
      expect(emoji.fontSize).toBe(size);
      const between = clearRuns(emoji.block!);
      expect(between.length, `${size} px`).toBeGreaterThanOrEqual(2);
      const latin = await layoutCaption(prepareCaption("CHAT YOU").text, WIDE, { maxFontSize: size });
      const beforeEmoji = await layoutCaption(prepareCaption("CHAT 🔥").text, WIDE, { maxFontSize: size });
      expect(clearRuns(beforeEmoji.block!).at(-1), `${size} px`).toBeGreaterThanOrEqual(clearRuns(latin.block!)[0]);
    }
  });
});
