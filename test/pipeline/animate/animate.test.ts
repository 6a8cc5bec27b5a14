import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MimicError } from "../../../src/errors.ts";
import {
  animateReaction,
  decodeReaction,
  MAX_REACTION_FRAMES,
  morphExpression,
  morphFaces,
  morphTiming,
  smoothLandmarks,
  stillReaction,
  STILL_SEARCH_FRAMES,
} from "../../../src/pipeline/animate/index.ts";
import { createFaceAnalyzer, type FaceAnalyzer } from "../../../src/pipeline/face/index.ts";
import { encodeGif } from "../../../src/pipeline/gif/index.ts";
import { cropImage, decodeAnimation, decodeImage, pasteImage, resizeImage, solidImage, warpAffine } from "../../../src/pipeline/image/index.ts";
import { measureExpression, transferExpression } from "../../../src/pipeline/transfer/index.ts";
import { assembleMeme } from "../../../src/pipeline/meme.ts";
import { renderFaceMorphGif } from "../../../src/pipeline/animate/index.ts";
import { faceView } from "../../../src/pipeline/animate/meme.ts";
import type { AnalyzedFace, Box, RgbImage } from "../../../src/pipeline/types.ts";
import { decodeGifFrames, psnr } from "../gif/helpers.ts";

const fixture = (n: string) => fileURLToPath(new URL(`../../fixtures/faces/${n}`, import.meta.url));
let analyzer: FaceAnalyzer;
const img: Record<string, RgbImage> = {};
const face: Record<string, AnalyzedFace> = {};

beforeAll(async () => {
  analyzer = await createFaceAnalyzer({ provider: "cpu", threads: 1 });
  for (const n of ["franck_01829.jpg", "franck_02221.jpg", "franck_04117.jpg", "grace_hopper_512x512.jpg"]) {
    img[n] = await decodeImage(new Uint8Array(readFileSync(fixture(n))));
    face[n] = (await analyzer.analyze(img[n])).faces[0]!;
  }
});
afterAll(async () => analyzer?.dispose());

const same = (a: RgbImage, b: RgbImage) => a.width === b.width && a.height === b.height && Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)) === 0;

function psnrIn(a: RgbImage, b: RgbImage, box: Box): number {
  let sse = 0;
  let n = 0;
  for (let y = Math.max(0, Math.floor(box.y)); y < Math.min(a.height, box.y + box.height); y++) {
    for (let x = Math.max(0, Math.floor(box.x)); x < Math.min(a.width, box.x + box.width); x++) {
      for (let c = 0; c < 3; c++) {
        const i = (y * a.width + x) * 3 + c;
        sse += (a.data[i] - b.data[i]) ** 2;
        n++;
      }
    }
  }
  return 10 * Math.log10((255 * 255) / (sse / n));
}

describe("morph timing", () => {
  it("pingpong goes there and back without repeating the turn; forward ends on the target; ends hold", () => {
    const p = morphTiming(24, "pingpong", 20, 600);
    expect(p.t).toHaveLength(24);
    expect(p.t[0]).toBe(0);
    expect(p.t[12]).toBe(1);
    expect(p.t[23]).toBeCloseTo(1 / 12);
    for (let i = 1; i < 12; i++) expect(p.t[i]).toBeCloseTo(p.t[24 - i]);
    expect(p.delaysMs[0]).toBe(600);
    expect(p.delaysMs[1]).toBe(50);
    const f = morphTiming(5, "forward", 10, 0);
    expect(f.t).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(f.delaysMs).toEqual([100, 100, 100, 100, 100]);
    expect(() => morphTiming(1)).toThrow(MimicError);
    expect(() => morphTiming(24, "sideways" as never)).toThrow(/pingpong/);
  });
});

describe("expression morph", () => {
  it("starts on the template, ends on the transferred result, and moves steadily in between", () => {
    const template = img["franck_01829.jpg"];
    const r = transferExpression({ template, templateFace: face["franck_01829.jpg"], reaction: img["franck_04117.jpg"], reactionFace: face["franck_04117.jpg"] });
    const m = morphExpression({ template, from: face["franck_01829.jpg"].landmarks, result: r.image, to: r.landmarks, frames: 8, loop: "forward" });
    expect(m.frames).toHaveLength(8);
    expect(same(m.frames[0], template)).toBe(true);
    expect(same(m.frames[7], r.image)).toBe(true);
    // Distance to the template grows frame by frame (eased motion, no jumps back).
    const dist = m.frames.map((f) => psnr(f, template));
    for (let i = 2; i < 8; i++) expect(dist[i]).toBeLessThanOrEqual(dist[i - 1] + 0.05);
    // Only the face moves: a background corner is untouched in every frame.
    const corner = { x: 0, y: 0, width: 80, height: 80 };
    for (const f of m.frames) expect(psnrIn(f, template, corner)).toBe(Infinity);
  });
});

describe("two-face morph", () => {
  it("endpoints are exact and a morph onto a scaled, moved copy of the same face shows no ghost", () => {
    const a = img["grace_hopper_512x512.jpg"];
    const aLm = face["grace_hopper_512x512.jpg"].landmarks;
    // b: the same photo scaled by 0.8 and shifted; its landmarks follow the same transform.
    const s = 0.8, tx = 40, ty = 30;
    const b = warpAffine(a, [s, 0, tx, 0, s, ty], 512, 512);
    const bLm = new Float32Array(aLm.length);
    for (let i = 0; i < aLm.length; i += 3) {
      bLm[i] = aLm[i] * s + tx;
      bLm[i + 1] = aLm[i + 1] * s + ty;
      bLm[i + 2] = aLm[i + 2] * s;
    }
    const m = morphFaces({ a, aLandmarks: aLm, b, bLandmarks: bLm, frames: 5, loop: "forward" });
    expect(same(m.frames[0], a)).toBe(true);
    expect(same(m.frames[4], m.fittedB)).toBe(true);
    // Halfway the face is where the two photos put it on average: the same face scaled and shifted halfway,
    // sharp and single ...
    const e = m.progress[2];
    const se = 1 + (s - 1) * e, txe = tx * e, tye = ty * e;
    const expected = warpAffine(a, [se, 0, txe, 0, se, tye], 512, 512);
    const fb = face["grace_hopper_512x512.jpg"].box;
    const inner = { x: (fb.x + fb.width * 0.15) * se + txe, y: (fb.y + fb.height * 0.15) * se + tye, width: fb.width * 0.7 * se, height: fb.height * 0.7 * se };
    const mid = m.frames[2];
    expect(psnrIn(mid, expected, inner)).toBeGreaterThan(28);
    // ... while a plain cross-dissolve of the two photos ghosts badly.
    const dissolve = { data: a.data.map((v, i) => (v + b.data[i]) / 2), width: 512, height: 512 };
    expect(psnrIn(dissolve, expected, inner)).toBeLessThan(psnrIn(mid, expected, inner) - 8);
  });
});

/**
 * Best PSNR of `frame` against a window of `photo` scaled to cover it (the photo as it is: only cut to the
 * frame's shape, never rotated, shifted off its own pixels or mixed with another picture).
 */
function bestWindowPsnr(frame: RgbImage, photo: RgbImage): number {
  const k = Math.max(frame.width / photo.width, frame.height / photo.height);
  const big = resizeImage(photo, Math.max(frame.width, Math.round(photo.width * k)), Math.max(frame.height, Math.round(photo.height * k)));
  let best = 0;
  for (let dy = 0; dy <= big.height - frame.height; dy++) {
    for (let dx = 0; dx <= big.width - frame.width; dx++) {
      const win = { x: dx, y: dy, width: frame.width, height: frame.height };
      const cut = { data: new Uint8Array(frame.data.length), width: frame.width, height: frame.height };
      for (let y = 0; y < frame.height; y++) cut.data.set(big.data.subarray(((y + dy) * big.width + dx) * 3, ((y + dy) * big.width + dx + frame.width) * 3), y * frame.width * 3);
      best = Math.max(best, psnrIn(frame, cut, { ...win, x: 0, y: 0 }));
    }
  }
  return best;
}

describe("two-face morph between different photos", () => {
  it("ends on the second photo as it is (no body, flag or empty corner of the first) and starts on the first", () => {
    for (const [from, to] of [["grace_hopper_512x512.jpg", "franck_04117.jpg"], ["franck_01829.jpg", "grace_hopper_512x512.jpg"]]) {
      const k = 384 / Math.max(img[from].width, img[from].height);
      const a = resizeImage(img[from], Math.round(img[from].width * k), Math.round(img[from].height * k));
      const aLm = face[from].landmarks.map((v) => v * k);
      const m = morphFaces({ a, aLandmarks: aLm, b: img[to], bLandmarks: face[to].landmarks, frames: 6, loop: "forward" });
      expect(same(m.frames[0], a)).toBe(true);
      const last = m.frames[5];
      expect(same(last, m.fittedB)).toBe(true);
      expect([last.width, last.height]).toEqual([a.width, a.height]);
      // The last frame is a scaled window of the to-photo everywhere, its bottom rows and edges included.
      expect(bestWindowPsnr(last, img[to]), `${from} → ${to}`).toBeGreaterThan(32);
      const bottom = { x: 0, y: Math.round(last.height * 0.75), width: last.width, height: Math.round(last.height * 0.25) };
      expect(psnrIn(last, a, bottom)).toBeLessThan(20);
    }
  });
});

describe("animated reactions", () => {
  it("smooths landmark jitter over time but never across a cut", () => {
    const base = face["franck_04117.jpg"];
    let seed = 1;
    const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 6;
    const faces = Array.from({ length: 12 }, (_, i) => {
      const jump = i >= 6 ? 300 : 0;
      const lm = base.landmarks.map((v, k) => v + (k % 3 === 0 ? jump : 0) + noise());
      return { ...base, landmarks: lm, box: { ...base.box, x: base.box.x + jump } };
    });
    const out = smoothLandmarks(faces, 1.5);
    const jitter = (seq: Float32Array[], from: number, to: number) => {
      let s = 0;
      for (let i = from + 1; i < to; i++) for (let k = 0; k < 30; k++) s += Math.abs(seq[i][k] - seq[i - 1][k]);
      return s;
    };
    const raw = faces.map((f) => f.landmarks);
    expect(jitter(out, 0, 6)).toBeLessThan(jitter(raw, 0, 6) * 0.5);
    // Frame 5 (before the cut) stays with its segment: nothing of the +300 px jump leaks in.
    expect(Math.abs(out[5][0] - base.landmarks[0])).toBeLessThan(6);
    expect(Math.abs(out[6][0] - base.landmarks[0] - 300)).toBeLessThan(6);
  });

  it("keeps the apex: an animated laugh's peak frame transfers as the same frame sent as a still", async () => {
    // neutral → smile → laugh → smile, one person: the laugh is a one-frame peak between smiles.
    const seq = ["franck_01829.jpg", "franck_02221.jpg", "franck_04117.jpg", "franck_02221.jpg"];
    const template = img["grace_hopper_512x512.jpg"], templateFace = face["grace_hopper_512x512.jpg"];
    const anim = animateReaction({ template, templateFace, frames: seq.map((n) => img[n]), delaysMs: [100, 100, 100, 100], faces: seq.map((n) => face[n]) });
    const laughStill = { template, templateFace, reaction: img["franck_04117.jpg"], reactionFace: face["franck_04117.jpg"] };
    // The animation reads its mouth's rest from its own first frame (rest-frame.test.ts) and its creases against
    // that frame's picture (creases.test.ts); the still given the same rest face and picture isolates what
    // smoothing does to the peak. The plain still reads the typical rest instead.
    const still = transferExpression({ ...laughStill, reactionRest: face["franck_01829.jpg"].landmarks, reactionRestImage: img["franck_01829.jpg"] });
    const plain = transferExpression(laughStill);
    const read = async (im: RgbImage) => measureExpression((await analyzer.analyze(im)).faces[0]!.landmarks);
    const [a, s] = [await read(anim.frames[2]), await read(still.image)];
    const tpl = measureExpression(templateFace.landmarks);
    const laugh = measureExpression(face["franck_04117.jpg"].landmarks), rest = measureExpression(face["franck_01829.jpg"].landmarks);
    let compared = 0;
    for (const k of Object.keys(laugh) as (keyof typeof laugh)[]) {
      const change = laugh[k] - rest[k];
      if (Math.abs(change) < 0.02) continue;
      compared++;
      expect(Math.abs((a[k] - tpl[k]) / change - (s[k] - tpl[k]) / change), k).toBeLessThan(0.1);
    }
    expect(compared).toBeGreaterThanOrEqual(3); // mouth opening, width and corner lift at least
    // Against the plain still, the own rest only brings the mouth the engine draws towards nearer the whole change
    // (its mesh: on grace the analyzer's corner lift also moves with her brows, which the rest frame moves too).
    const [am, pm] = [measureExpression(anim.expressions[2]!), measureExpression(plain.expression)];
    for (const k of ["mouthOpen", "mouthWidth", "cornerLift"] as const) {
      const off = (m: typeof a) => Math.abs((m[k] - tpl[k]) / (laugh[k] - rest[k]) - 1);
      expect(off(am), k).toBeLessThanOrEqual(off(pm) + 0.02);
    }
  });

  it("carries face-less frames over from the nearest good frame; no face at all is a NO_FACE error", () => {
    const reaction = img["franck_04117.jpg"];
    const blank = solidImage(reaction.width, reaction.height, [90, 120, 160]);
    const template = img["franck_01829.jpg"];
    const r = animateReaction({
      template,
      templateFace: face["franck_01829.jpg"],
      frames: [reaction, blank, reaction],
      delaysMs: [100, 100, 100],
      faces: [face["franck_04117.jpg"], null, face["franck_04117.jpg"]],
    });
    expect(r.frames).toHaveLength(3);
    expect(r.carriedFrames).toBe(1);
    expect(r.faceFrames).toBe(2);
    expect(psnr(r.frames[1], r.frames[0])).toBeGreaterThan(35);
    expect(psnr(r.frames[0], template)).toBeLessThan(35); // the expression did change
    expect(() =>
      animateReaction({ template, templateFace: face["franck_01829.jpg"], frames: [blank], delaysMs: [100], faces: [null] }),
    ).toThrow(expect.objectContaining({ code: "NO_FACE" }));
  });

  it("an animation whose faces are all too small says so, as a still's refusal does, not that it has no face", async () => {
    const small = resizeImage(img["franck_04117.jpg"], 120, 96);
    const found = (await analyzer.analyze(small)).faces[0] ?? null;
    expect(found).not.toBeNull();
    expect(() =>
      animateReaction({ template: img["franck_01829.jpg"], templateFace: face["franck_01829.jpg"], frames: [small, small], delaysMs: [100, 100], faces: [found, found] }),
    ).toThrow(expect.objectContaining({ code: "FACE_UNUSABLE", userMessage: expect.stringMatching(/is too small \(\d+ px; at least 64 px across is needed\)/) }));
  });

  it("renders an animated GIF reaction with a face-less frame end to end, captions and byte budget included", async () => {
    const laugh = img["franck_04117.jpg"];
    const blank = solidImage(laugh.width, laugh.height, [200, 200, 200]);
    const neutral = img["franck_01829.jpg"];
    const input = await encodeGif([laugh, blank, neutral], { delaysMs: [120, 80, 120] });
    const anim = await decodeAnimation(input.bytes, { maxFrames: 48 });
    expect(anim.frames).toHaveLength(3);
    const maxBytes = 60_000;
    const out = await assembleMeme({
      template: img["grace_hopper_512x512.jpg"],
      templateFace: face["grace_hopper_512x512.jpg"],
      reaction: { frames: anim.frames, delaysMs: anim.delaysMs },
      captions: { bottom: "same energy" },
      output: { kind: "animation", format: "gif", size: 256, maxBytes },
    });
    expect(out.animation?.kind).toBe("reaction");
    expect(out.animation?.carriedFrames).toBe(1);
    expect(out.mime).toBe("image/gif");
    expect(out.bytes.length).toBeLessThanOrEqual(maxBytes);
    const decoded = await decodeGifFrames(out.bytes);
    expect(decoded.frames.length).toBeGreaterThanOrEqual(2);
    expect(decoded.frames[0].width).toBeLessThanOrEqual(256);
  });
});

describe("animated meme from a still reaction", () => {
  it("swap mode morphs the reaction's own face into the user's, in the reaction's frame", async () => {
    const reaction = img["franck_04117.jpg"];
    const out = await assembleMeme({
      template: img["grace_hopper_512x512.jpg"],
      templateFace: face["grace_hopper_512x512.jpg"],
      reaction: { frames: [reaction], delaysMs: [0] },
      reactionFaces: [face["franck_04117.jpg"]],
      mode: "swap",
      output: { kind: "animation", format: "gif", morph: { frames: 4, loop: "forward" }, size: 180 },
    });
    expect(out.animation?.kind).toBe("morph");
    expect([out.width, out.height]).toEqual([180, 144]); // 720×576 reaction, longest side 180
    const { frames } = await decodeGifFrames(out.bytes);
    expect(frames).toHaveLength(4);
    const first = resizeImage(reaction, 180, 144);
    expect(psnr(frames[0], first)).toBeGreaterThan(30);
    expect(psnr(frames[3], first)).toBeLessThan(psnr(frames[0], first) - 3); // the face did change
  });
});

describe("animated meme from an extremely tall or wide picture", () => {
  /** The photo on a plain canvas, padded as a screenshot or a banner would pad it. */
  function padded(photo: RgbImage, width: number, height: number, x: number, y: number): RgbImage {
    const canvas = solidImage(width, height, [30, 30, 34]);
    pasteImage(canvas, photo, x, y);
    return canvas;
  }

  it("a very tall photo is cut around its face, so the face stays big enough to read", async () => {
    // Grace's portrait with 1200 px above and 200 px below: 512 × 1912.
    const template = padded(img["grace_hopper_512x512.jpg"], 512, 1912, 0, 1200);
    const templateFace = (await analyzer.analyze(template)).faces[0]!;
    const out = await assembleMeme({
      template,
      templateFace,
      reaction: { frames: [img["franck_04117.jpg"]], delaysMs: [0] },
      reactionFaces: [face["franck_04117.jpg"]],
      captions: { top: "tall top", bottom: "tall bottom" },
      output: { kind: "animation", format: "gif", morph: { frames: 4, loop: "forward" } },
    });
    expect([out.width, out.height]).toEqual([192, 384]);
    const { frames } = await decodeGifFrames(out.bytes);
    const seen = (await analyzer.analyze(frames[0])).faces[0]!;
    // Scaled whole, the face would be under 45 px wide; cut to 1:2 around it, it keeps 3/8 of its size.
    expect(seen.box.width).toBeGreaterThan(65);
    expect(seen.box.y).toBeGreaterThan(384 * 0.2);
    expect(seen.box.y + seen.box.height).toBeLessThan(384 * 0.8);
  });

  it("a very wide reaction swapped into is cut around its face the same way", async () => {
    // franck's 720 × 576 photo on a 2000 px wide banner, near its right end.
    const reaction = padded(img["franck_04117.jpg"], 2000, 576, 1200, 0);
    const reactionFace = (await analyzer.analyze(reaction)).faces[0]!;
    const out = await assembleMeme({
      template: img["grace_hopper_512x512.jpg"],
      templateFace: face["grace_hopper_512x512.jpg"],
      reaction: { frames: [reaction], delaysMs: [0] },
      reactionFaces: [reactionFace],
      mode: "swap",
      output: { kind: "animation", format: "gif", morph: { frames: 4, loop: "forward" } },
    });
    expect([out.width, out.height]).toEqual([384, 192]);
    const { frames } = await decodeGifFrames(out.bytes);
    const seen = (await analyzer.analyze(frames[0])).faces[0]!;
    expect(seen.box.width).toBeGreaterThan(reactionFace.box.width * (192 / 576) * 0.9);
    expect(Math.abs(seen.box.x + seen.box.width / 2 - 192)).toBeLessThan(384 * 0.15);
  });
});

describe("animated meme from a big picture whose face is small", () => {
  /** The photo on a plain canvas (a phone photo taken from afar, a screenshot with a small face in it). */
  function onCanvas(photo: RgbImage, width: number, height: number, x: number, y: number): RgbImage {
    const canvas = solidImage(width, height, [30, 30, 34]);
    pasteImage(canvas, photo, x, y);
    return canvas;
  }

  for (const mode of ["mimic", "swap"] as const) {
    it(`${mode}: the frames are cut around the face, in the picture's shape, so it is a quarter of the animation's side`, async () => {
      // grace's 512 px portrait (face 204 px) in a 2400 × 1800 picture: scaled whole to 384 px, the face would be 33 px.
      const big = onCanvas(img["grace_hopper_512x512.jpg"], 2400, 1800, 1700, 300);
      const bigFace = (await analyzer.analyze(big)).faces[0]!;
      const out = await assembleMeme({
        ...(mode === "mimic"
          ? { template: big, templateFace: bigFace, reaction: { frames: [img["franck_04117.jpg"]], delaysMs: [0] }, reactionFaces: [face["franck_04117.jpg"]] }
          : { template: img["franck_01829.jpg"], templateFace: face["franck_01829.jpg"], reaction: { frames: [big], delaysMs: [0] }, reactionFaces: [bigFace] }),
        mode,
        output: { kind: "animation", format: "gif", morph: { frames: 4, loop: "forward" } },
      });
      expect([out.width, out.height]).toEqual([384, 288]);
      const { frames } = await decodeGifFrames(out.bytes);
      const seen = (await analyzer.analyze(frames[0])).faces[0]!;
      expect(Math.max(seen.box.width, seen.box.height)).toBeGreaterThan(384 * 0.2);
    });
  }

  it("a small picture is shown whole: animations are not enlarged, so a cut would only make it smaller", () => {
    // A face's mesh as a box of points (only its bounds matter here).
    const faceAt = (x: number, y: number, side: number) => Float32Array.from([x, y, 0, x + side, y + side, 0]);
    // A picture within the animation's 384 px, its face small: shown whole.
    expect(faceView(300, 200, [faceAt(130, 80, 40)])).toBeNull();
    // A typical reaction GIF (498 × 280) with a 90 px face: cut to 384 px (the face kept at its pixels), never below.
    expect(faceView(498, 280, [faceAt(200, 90, 90)])).toMatchObject({ width: 384, height: 216 });
    // At a smaller --size, to the faces' quarter share (360 px), still never below that size.
    expect(faceView(498, 280, [faceAt(200, 90, 90)], 200)).toMatchObject({ width: 360, height: 202 });
    expect(faceView(2400, 1800, [faceAt(1700, 300, 204)], 384)).toMatchObject({ width: 816, height: 612 });
  });

  it("the two-face morph (mimic morph --mode faces) cuts its first photo the same way", async () => {
    const big = onCanvas(img["grace_hopper_512x512.jpg"], 2400, 1800, 1700, 300);
    const { gif } = await renderFaceMorphGif({
      a: big,
      aFace: (await analyzer.analyze(big)).faces[0]!,
      b: img["franck_04117.jpg"],
      bFace: face["franck_04117.jpg"],
      morph: { frames: 3, loop: "forward" },
    });
    const { frames } = await decodeGifFrames(gif.bytes);
    expect([frames[0].width, frames[0].height]).toEqual([384, 288]);
    const seen = (await analyzer.analyze(frames[0])).faces[0]!;
    expect(Math.max(seen.box.width, seen.box.height)).toBeGreaterThan(384 * 0.2);
  });
});

describe("untrusted animations", () => {
  it("keep at most MAX_REACTION_FRAMES frames and refuse too many pixels", async () => {
    const tiny = Array.from({ length: MAX_REACTION_FRAMES + 12 }, (_, i) => solidImage(16, 16, [(i * 37) % 256, (i * 91) % 256, (i * 53) % 256]));
    const many = await encodeGif(tiny, { delaysMs: 40 });
    expect((await decodeReaction(many.bytes)).frames).toHaveLength(MAX_REACTION_FRAMES);
    const big = Array.from({ length: 8 }, (_, i) => solidImage(2000, 1000, [i * 30, 0, 0]));
    const huge = await encodeGif(big, { delaysMs: 40 });
    await expect(decodeReaction(huge.bytes)).rejects.toMatchObject({ code: "IMAGE_TOO_LARGE" });
  });
});

describe("mimic morph (CLI)", () => {
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  const run = promisify(execFile);
  it("writes a morph GIF and reports it as JSON; missing --to is a friendly error", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "mimic-morph-"));
    const out = path.join(dir, "m.gif");
    const { stdout } = await run(
      process.execPath,
      ["bin/mimic.mjs", "morph", "--from", fixture("franck_01829.jpg"), "--to", fixture("franck_04117.jpg"), "--frames", "6", "--size", "160", "--out", out, "--json"],
      { cwd: root, env: { ...process.env, LOG_LEVEL: "silent" } },
    );
    const j = JSON.parse(stdout);
    expect(j).toMatchObject({ kind: "morph", frames: 6, width: 160 });
    const gif = await decodeGifFrames(new Uint8Array(await readFile(out)));
    expect(gif.frames).toHaveLength(6);
    const err = (await run(process.execPath, ["bin/mimic.mjs", "morph", "--from", fixture("franck_01829.jpg"), "--out", out], { cwd: root }).catch(
      (e: unknown) => e,
    )) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/Give --to/);
  });
});

describe("stillReaction: the frame a still is made from", () => {
  // A stand-in analyzer (the search's bookkeeping, not face finding): a frame "shows a face" where its first byte is 255.
  const frame = (v: number): RgbImage => ({ width: 2, height: 2, data: new Uint8Array(12).fill(v) });
  const analysisOf = (img: RgbImage) => ({ width: 2, height: 2, faces: img.data[0] === 255 ? [{} as AnalyzedFace] : [], timingsMs: {} });
  const search = async (frames: RgbImage[]) => {
    const reads: boolean[] = [];
    const analysed: RgbImage[] = [];
    const still = await stillReaction(
      async (first) => {
        reads.push(first);
        return { frames: first ? frames.slice(0, 1) : frames, delaysMs: frames.map(() => 40), width: 2, height: 2 };
      },
      async (img) => (analysed.push(img), analysisOf(img)),
    );
    return { still, reads, analysed: analysed.map((f) => frames.indexOf(f)) };
  };

  it("a first frame with a face is used as it is: the rest is never read", async () => {
    const frames = [frame(255), frame(0), frame(0)];
    const { still, reads, analysed } = await search(frames);
    expect(still.image).toBe(frames[0]);
    expect(still.laterFrameMs).toBeUndefined();
    expect(reads).toEqual([true]);
    expect(analysed).toEqual([0]);
  });

  it("otherwise the first later frame with a face, over at most STILL_SEARCH_FRAMES spread to the last", async () => {
    const frames = Array.from({ length: 48 }, (_, i) => frame(i === 47 ? 255 : i));
    const { still, reads, analysed } = await search(frames);
    expect(reads).toEqual([true, false]);
    expect(analysed).toHaveLength(1 + STILL_SEARCH_FRAMES);
    expect(analysed.at(-1)).toBe(47);
    expect(still.image).toBe(frames[47]);
    expect(still.laterFrameMs).toBe(47 * 40);
    const early = Array.from({ length: 6 }, (_, i) => frame(i >= 2 ? 255 : i));
    const found = await search(early);
    expect(found.analysed).toEqual([0, 1, 2]);
    expect(found.still.laterFrameMs).toBe(80);
  });

  it("no face anywhere: the first frame and its empty analysis, for the caller's refusal", async () => {
    const frames = [frame(0), frame(1), frame(2)];
    const { still } = await search(frames);
    expect(still.image).toBe(frames[0]);
    expect(still.analysis.faces).toEqual([]);
    expect(still.laterFrameMs).toBeUndefined();
  });
});

describe("a reaction whose face the picture cuts off", () => {
  it("tells the user their eyes and brows were left as they are: in a PNG, a morph and an animation", async () => {
    const whole = img["franck_04117.jpg"];
    const cut = cropImage(whole, { x: 0, y: 240, width: whole.width, height: whole.height - 240 });
    const cutFace = (await analyzer.analyze(cut)).faces[0]!;
    const base = { template: img["grace_hopper_512x512.jpg"], templateFace: face["grace_hopper_512x512.jpg"] };
    const note = /eyes and brows are cut off .* left yours as they are/;
    const png = await assembleMeme({ ...base, reaction: { frames: [cut], delaysMs: [0] }, reactionFaces: [cutFace], output: { kind: "png" } });
    expect(png.notes).toEqual([expect.stringMatching(note)]);
    const morph = await assembleMeme({
      ...base,
      reaction: { frames: [cut], delaysMs: [0] },
      reactionFaces: [cutFace],
      output: { kind: "animation", format: "gif", morph: { frames: 3, loop: "forward" }, size: 160 },
    });
    expect(morph.notes).toEqual([expect.stringMatching(note)]);
    const animated = await assembleMeme({ ...base, reaction: { frames: [cut, cut], delaysMs: [100, 100] }, output: { kind: "animation", format: "gif", size: 160 } });
    expect(animated.animation?.kind).toBe("reaction");
    expect(animated.notes, "said once, not per frame").toEqual([expect.stringMatching(note)]);
    // The whole face: nothing to say.
    const full = await assembleMeme({ ...base, reaction: { frames: [whole], delaysMs: [0] }, reactionFaces: [face["franck_04117.jpg"]], output: { kind: "png" } });
    expect(full.notes).toEqual([]);
  });

  it("an animation is refused only when no frame has anything to copy; frames cut off for a while are left at rest", async () => {
    const whole = img["franck_04117.jpg"];
    // 420 px wide windows of the laugh: at x 0 its right edge runs through his eyes and mouth, at x 200 the face is inside.
    const window = (x: number) => cropImage(whole, { x, y: 0, width: 420, height: whole.height });
    const base = { template: img["grace_hopper_512x512.jpg"], templateFace: face["grace_hopper_512x512.jpg"], output: { kind: "animation" as const, format: "gif" as const, size: 160 } };
    const mixed = await assembleMeme({ ...base, reaction: { frames: [window(200), window(0), window(200)], delaysMs: [100, 100, 100] } });
    expect(mixed.animation?.kind).toBe("reaction");
    expect(mixed.notes.some((n) => /cut off or too close to the picture's edge/.test(n))).toBe(true);
    const refused = await assembleMeme({ ...base, reaction: { frames: [window(0), window(0)], delaysMs: [100, 100] } }).then(
      () => undefined,
      (e: unknown) => e as MimicError,
    );
    expect([refused?.code, refused?.userMessage]).toEqual(["FACE_UNUSABLE", expect.stringMatching(/^The reaction's face is cut off by the picture's edge/)]);
    // Swap still has the user's face to put into the picture.
    const swapped = await assembleMeme({ ...base, mode: "swap", reaction: { frames: [window(0), window(0)], delaysMs: [100, 100] } });
    expect(swapped.animation?.frames).toBeGreaterThan(0);
  });
});
