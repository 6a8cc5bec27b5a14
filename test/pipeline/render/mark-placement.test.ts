/**
 * Where the visible "AI-edited" label goes (a server's `mark on`): never over caption ink nor over the face,
 * through the real drawing paths: renderMeme (a still: PNG, swap) and animatedMemeFrames (every frame of a
 * morph GIF, an animated GIF or the Telegram MP4 is drawn there). The label is found in the pixels: what
 * drawing it changed, compared with the same meme drawn without it.
 */
import { describe, expect, it } from "vitest";
import { animatedMemeFrames } from "../../../src/pipeline/animate/meme.ts";
import { applyOverlay, faceAvoidBox, prepareCaptions, renderCaptionOverlay, renderMeme, type CaptionText } from "../../../src/pipeline/render/index.ts";
import { renderVisibleMark } from "../../../src/pipeline/provenance/index.ts";
import { renderMemeOverlays, type OverlayPiece } from "../../../src/pipeline/render/meme.ts";
import type { AnalyzedFace, Box, RgbImage } from "../../../src/pipeline/types.ts";
import { changedPixels, decodePng, grey } from "./helpers.ts";

const LONG_BOTTOM = "A LONG BOTTOM CAPTION THAT SPANS THE WIDTH";
const LONG_TOP = "AND A LONG TOP CAPTION THAT SPANS IT TOO";

/** Boxes that share a pixel, or come within `gap` px of each other. */
const near = (a: Box, b: Box, gap = 0) =>
  a.x - gap < b.x + b.width && b.x - gap < a.x + a.width && a.y - gap < b.y + b.height && b.y - gap < a.y + a.height;

/** A picture with some texture (so every drawn pixel shows), seeded. */
function textured(width: number, height: number, seed = 1): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = 60 + ((x * 3 + y + seed * 17) % 120);
      data[i + 1] = 80 + ((x + y * 2 + seed * 5) % 100);
      data[i + 2] = 100 + ((x * 5 + y * 7 + seed) % 90);
    }
  }
  return { data, width, height };
}

/** 468 mesh points (x, y, z) on an ellipse filling `box` (px), as a face's landmarks. */
function meshIn(box: Box): Float32Array {
  const lm = new Float32Array(468 * 3);
  for (let i = 0; i < 468; i++) {
    const t = (i / 468) * 2 * Math.PI;
    const r = (i % 3) / 2; // rings inside the ellipse, its rim included
    lm[i * 3] = box.x + (box.width / 2) * (1 + r * Math.cos(t));
    lm[i * 3 + 1] = box.y + (box.height / 2) * (1 + r * Math.sin(t));
  }
  return lm;
}

/** Fractions (faceAvoidBox) to the pixels they cover. */
const px = (a: { x: number; y: number; width: number; height: number }, w: number, h: number): Box => ({
  x: Math.floor(a.x * w),
  y: Math.floor(a.y * h),
  width: Math.ceil((a.x + a.width) * w) - Math.floor(a.x * w),
  height: Math.ceil((a.y + a.height) * h) - Math.floor(a.y * h),
});

/**
 * Where the label's raster (renderVisibleMark's piece) lies in `drawn` exactly as if blended over the bare
 * picture `img` (applyOverlay's blend), as its box; null when nowhere.
 */
function findLabel(img: RgbImage, drawn: RgbImage, piece: OverlayPiece): Box | null {
  const { width: lw, height: lh } = piece.ink;
  const at = (x: number, y: number, px: number, py: number) => {
    const s = (py * piece.width + px) * 4;
    const a = piece.rgba[s + 3];
    const i = ((y + py) * img.width + x + px) * 3;
    for (let c = 0; c < 3; c++) {
      const want = a === 255 ? piece.rgba[s + c] : a === 0 ? img.data[i + c] : Math.floor((piece.rgba[s + c] * a + img.data[i + c] * (255 - a) + 127) / 255);
      if (drawn.data[i + c] !== want) return false;
    }
    return true;
  };
  for (let y = 0; y + lh <= img.height; y++) {
    for (let x = 0; x + lw <= img.width; x++) {
      if (!at(x, y, lw >> 1, lh >> 1) || !at(x, y, 1, lh >> 1) || !at(x, y, lw - 2, 1)) continue;
      let all = true;
      for (let py = 0; py < lh && all; py++) for (let px = 0; px < lw && all; px++) all = at(x, y, px, py);
      if (all) return { x, y, width: lw, height: lh };
    }
  }
  return null;
}

/** A still drawn as the assembly draws it (captions prepared, the face to avoid), with and without the label. */
async function still(img: RgbImage, c: CaptionText, avoid?: ReturnType<typeof faceAvoidBox>) {
  const draw = async (visibleMark: boolean) => decodePng(await renderMeme(img, { ...prepareCaptions(c).captions, ...(avoid ? { avoid } : {}) }, { visibleMark }));
  const [plain, marked] = await Promise.all([draw(false), draw(true)]);
  return { plain, marked, label: changedPixels(plain, marked).bbox, captionInk: changedPixels(img, plain).bbox };
}

describe("the visible label's place", () => {
  it("a long bottom caption and the label do not overlap, nor touch (the captions' measured ink and the drawn ink)", async () => {
    for (const [w, h] of [[512, 512], [200, 200], [200, 320]] as const) {
      const img = textured(w, h);
      const { label, captionInk } = await still(img, { bottom: LONG_BOTTOM });
      expect(label, `${w}×${h}`).not.toBeNull();
      expect(captionInk).not.toBeNull();
      // The label alone changed (the caption did not move): a label-sized patch, legible at 200 px wide.
      expect(label!.height, `${w}×${h}`).toBeGreaterThanOrEqual(12);
      expect(label!.height).toBeLessThanOrEqual(Math.max(12, Math.round(Math.min(w, h) * 0.05)) + 1);
      // The caption's ink as the layout measured it (each line) and as drawn: the label keeps a gap to both.
      const overlay = await renderCaptionOverlay(w, h, prepareCaptions({ bottom: LONG_BOTTOM }).captions);
      const lines = overlay.layouts.flatMap((l) => l.measuredBoxes);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(near(label!, line, 2), `${w}×${h}: label ${JSON.stringify(label)} vs line ${JSON.stringify(line)}`).toBe(false);
      expect(near(label!, captionInk!, 2), `${w}×${h}: label ${JSON.stringify(label)} vs caption ink ${JSON.stringify(captionInk)}`).toBe(false);
    }
  });

  it("a face reaching the bottom-right corner (a swap) is not covered; the label stays at the bottom when it can", async () => {
    const [w, h] = [480, 430];
    const img = textured(w, h, 2);
    const avoid = faceAvoidBox(meshIn({ x: 230, y: 120, width: 250, height: 310 }), w, h);
    const face = px(avoid, w, h);
    expect(face.x + face.width).toBe(w); // the case reported: the face's box runs into the corner
    expect(face.y + face.height).toBe(h);
    const { label } = await still(img, {}, avoid);
    expect(label).not.toBeNull();
    expect(near(label!, face), `label ${JSON.stringify(label)} vs face ${JSON.stringify(face)}`).toBe(false);
    expect(label!.y + label!.height).toBeGreaterThan(h * 0.9); // bottom-left: the next corner along
    expect(label!.x).toBeLessThan(w * 0.1);
  });

  it("with every corner taken by a caption, the captions make room: the label covers no caption ink and no face, at 200 px wide too", async () => {
    for (const [w, h] of [[512, 512], [200, 200]] as const) {
      const img = textured(w, h, 3);
      const avoid = faceAvoidBox(meshIn({ x: w * 0.3, y: h * 0.3, width: w * 0.4, height: h * 0.4 }), w, h);
      const c = prepareCaptions({ top: LONG_TOP, bottom: LONG_BOTTOM }).captions;
      const drawn = await decodePng(await renderMeme(img, { ...c, avoid }, { visibleMark: true }));
      // The label, found where it lies over the untouched picture: no caption pixel under it.
      const label = findLabel(img, drawn, (await renderVisibleMark(w, h)).pieces[0]);
      expect(label, `${w}×${h}: the label is not drawn over the bare picture anywhere`).not.toBeNull();
      expect(label!.height).toBeGreaterThanOrEqual(12);
      expect(near(label!, px(avoid, w, h))).toBe(false);
      // Nor any caption pixel in a 2 px gap around it.
      const changed = changedPixels(img, drawn);
      const ring = { x: label!.x - 2, y: label!.y - 2, width: label!.width + 4, height: label!.height + 4 };
      expect(changed.outside([ring]), `${w}×${h}: caption ink near the label`).toBe(changed.outside([label!]));
      // Both captions are still drawn, whole: the layout the renderer used, measured line by line, keeps off it.
      const o = await renderMemeOverlays(w, h, { ...c, avoid }, { visibleMark: true });
      expect(o.mark?.inkBox).toEqual(label);
      const lines = o.captions.layouts.flatMap((l) => l.measuredBoxes);
      expect(o.captions.layouts.filter((l) => l.block)).toHaveLength(2);
      expect(o.captions.layouts.some((l) => l.cut)).toBe(false);
      for (const line of lines) expect(near(label!, line, 2), `${w}×${h}: ${JSON.stringify(line)}`).toBe(false);
    }
  });

  it("an animated meme (morph frames) keeps the label in one corner on every frame, off the caption, redrawn at another size too", async () => {
    const [w, h] = [320, 320];
    const template = textured(w, h, 4);
    const landmarks = meshIn({ x: 100, y: 70, width: 120, height: 150 });
    const templateFace = { landmarks } as unknown as AnalyzedFace;
    // A stand-in engine: each step's picture differs (a brightness shift), so every frame is its own.
    const generator = async (rs: { intensity?: number }[]) => ({
      images: rs.map((r) => {
        const img = textured(w, h, 4);
        const k = Math.round(40 * (r.intensity ?? 1));
        for (let i = 0; i < img.data.length; i++) img.data[i] = Math.min(255, img.data[i] + k);
        return img;
      }),
      landmarks,
      changedBox: null,
      timingsMs: {},
    });
    const run = (captions: CaptionText | undefined, visibleMark: boolean) =>
      animatedMemeFrames({
        template,
        templateFace,
        reaction: { frames: [grey(64, 64)], delaysMs: [100] },
        reactionFaces: [templateFace],
        generator,
        morph: { frames: 6 },
        ...(captions ? { captions: prepareCaptions(captions).captions } : {}),
        visibleMark,
      });
    const [bare, captioned, marked] = await Promise.all([run(undefined, false), run({ bottom: LONG_BOTTOM }, false), run({ bottom: LONG_BOTTOM }, true)]);
    expect(marked.frames.length).toBeGreaterThan(2);
    const check = (bareFrames: RgbImage[], captionedFrames: RgbImage[], markedFrames: RgbImage[]) => {
      const labels = markedFrames.map((f, i) => changedPixels(captionedFrames[i], f).bbox);
      const face = px(faceAvoidBox(landmarks, w, h), w, h);
      for (const [i, label] of labels.entries()) {
        expect(label, `frame ${i}`).toEqual(labels[0]); // one corner, one place, every frame
        const ink = changedPixels(bareFrames[i], captionedFrames[i]).bbox!;
        expect(near(label!, ink, 2), `frame ${i}: label ${JSON.stringify(label)} vs caption ${JSON.stringify(ink)}`).toBe(false);
        if (markedFrames[i].width === w) expect(near(label!, face)).toBe(false);
      }
      return labels[0]!;
    };
    const label = check(bare.frames, captioned.frames, marked.frames);
    expect(label.height).toBeGreaterThanOrEqual(12);
    // The GIF budget's redraw (captions and label laid out again at the size reached) keeps to one corner too.
    const [w2, h2] = [200, 200];
    const again = check(await bare.redraw(w2, h2), await captioned.redraw(w2, h2), await marked.redraw(w2, h2));
    expect(again.height).toBeGreaterThanOrEqual(12);
  });
});
