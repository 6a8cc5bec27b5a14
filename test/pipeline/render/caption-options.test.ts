import { describe, expect, it } from "vitest";
import { captionFrames } from "../../../src/pipeline/animate/meme.ts";
import { prepareCaptions, renderMeme } from "../../../src/pipeline/render/index.ts";
import { linesNote, renderCaptionOverlay } from "../../../src/pipeline/render/meme.ts";
import { escapeLineBreaks, readLineBreaks } from "../../../src/pipeline/render/text.ts";
import { parseJob, parseMemeRequest, parseMorphRequest, type Captioned } from "../../../src/requests.ts";
import { decodePng, grey } from "./helpers.ts";

/**
 * Caption options through the front door's request parser and the renderer that draws them: a line break typed
 * where a field holds none (\n, ~n), and the letters kept as typed (keepCase) in a still and in every GIF frame.
 */

const W = 640;
const H = 480;

/** The lines each caption is drawn on, as the worker lays them out from what the parser let through. */
async function drawnLines(req: Captioned): Promise<string[][]> {
  const { captions } = prepareCaptions(req);
  return (await renderCaptionOverlay(W, H, captions)).layouts.map((l) => l.lines);
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

describe("a line break typed as \\n or ~n", () => {
  it("is a line break at the front door, for memes and morphs alike, and is drawn as one", async () => {
    const meme = parseMemeRequest({ top: "one\\ntwo", bottom: "three~nfour" });
    expect(meme).toMatchObject({ top: "one\ntwo", bottom: "three\nfour" });
    expect(parseMorphRequest({ top: "one\\ntwo", bottom: "three~nfour" })).toMatchObject({ top: "one\ntwo", bottom: "three\nfour" });
    expect(await drawnLines(meme)).toEqual([["ONE", "TWO"], ["THREE", "FOUR"]]);
    // Spaces around it go, as around a newline typed on Telegram.
    expect(parseMemeRequest({ top: "one \\n two ~n  three" }).top).toBe("one\ntwo\nthree");
  });

  it("a backslash before it keeps it as typed, drawn on one line, and the worker never reads it again", async () => {
    const req = parseMemeRequest({ top: "C:\\\\new folder", bottom: "x \\~n y" });
    expect(req).toMatchObject({ top: "C:\\new folder", bottom: "x ~n y" });
    expect(await drawnLines(req)).toEqual([["C:\\NEW FOLDER"], ["X ~N Y"]]);
    // Other backslashes and tildes are text.
    expect(parseMemeRequest({ top: "a\\b ~ok \\N ~N" }).top).toBe("a\\b ~ok \\N ~N");
  });

  it("escapeLineBreaks gives text readLineBreaks leaves as it was (a name written into a caption)", () => {
    for (const name of ["~nina", "a\\nb", "\\~n", "x\\\\n", "plain"]) expect(readLineBreaks(escapeLineBreaks(name)), name).toBe(name);
  });

  it("the line-count limit holds: a fourth typed line joins the third, and the reply says so", async () => {
    const req = parseMemeRequest({ top: "a~nb~nc~nd" });
    expect(req.top).toBe("a\nb\nc\nd");
    const prepared = prepareCaptions(req);
    expect(prepared.notes).toEqual([linesNote("top caption", 4)]);
    expect((await renderCaptionOverlay(W, H, prepared.captions)).layouts[0].lines).toEqual(["A", "B", "C D"]);
  });
});

describe("keepCase: captions drawn as typed", () => {
  const typed = "see https://x.io/AbC @Bob";

  it("is one validated request field (a switch; only carried when on), for memes and morphs", () => {
    expect(parseMemeRequest({ top: typed, keepCase: true })).toMatchObject({ top: typed, keepCase: true });
    expect(parseMemeRequest({ top: typed, keepCase: "on" }).keepCase).toBe(true);
    expect(parseMorphRequest({ bottom: typed, keepCase: "yes" })).toMatchObject({ bottom: typed, keepCase: true });
    for (const off of [false, "off", "", undefined]) expect(parseMemeRequest({ top: typed, keepCase: off }), String(off)).not.toHaveProperty("keepCase");
    expect(() => parseMemeRequest({ top: typed, keepCase: "maybe" })).toThrow("keepCase must be on or off (got “maybe”).");
    expect(() => parseMorphRequest({ keepCase: "lower" }, { keepCase: "--keep-case" })).toThrow("--keep-case must be on or off (got “lower”).");
  });

  it("a job carrying it is one a worker takes", () => {
    const job = parseJob({
      kind: "meme",
      template: {},
      reaction: { bytes: new Uint8Array(4), mime: "image/png" },
      captions: { top: typed, keepCase: true },
      intensity: 1,
      mode: "mimic",
      byteBudget: 1 << 20,
    });
    expect(job).toMatchObject({ captions: { top: typed, keepCase: true } });
  });

  it("draws the letters as typed; without it, in capitals (the default)", async () => {
    expect(await drawnLines(parseMemeRequest({ top: typed, keepCase: "on" }))).toEqual([[typed]]);
    expect(await drawnLines(parseMemeRequest({ top: typed }))).toEqual([[typed.toUpperCase()]]);
    const png = async (keepCase?: string) => (await decodePng(await renderMeme(grey(W, H), prepareCaptions(parseMemeRequest({ top: typed, keepCase })).captions))).data;
    expect(same(await png("on"), await png())).toBe(false);
    expect(same(await png("off"), await png())).toBe(true);
  });

  it("every GIF frame is drawn as typed, as the still is", async () => {
    const frames = [grey(W, H, 90), grey(W, H, 160)];
    const framesOf = async (keepCase?: string) => captionFrames(frames, prepareCaptions(parseMemeRequest({ bottom: typed, keepCase })).captions);
    const [kept, upper] = await Promise.all([framesOf("on"), framesOf()]);
    for (let i = 0; i < frames.length; i++) {
      expect(same(kept[i].data, upper[i].data), `frame ${i}`).toBe(false);
      const still = await decodePng(await renderMeme(frames[i], prepareCaptions(parseMemeRequest({ bottom: typed, keepCase: "on" })).captions));
      expect(same(kept[i].data, still.data), `frame ${i} as the still`).toBe(true);
    }
  });
});
