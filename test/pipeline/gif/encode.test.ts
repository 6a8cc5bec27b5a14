import { describe, expect, it } from "vitest";
import { encodeGif, toCentiseconds } from "../../../src/pipeline/gif/index.ts";
import { encodeWith, KEEP_THRESHOLDS } from "../../../src/pipeline/gif/encode.ts";
import { MimicError } from "../../../src/errors.ts";
import { decodeGifFrames, image, psnr, rng } from "./helpers.ts";

/** A smooth moving gradient with a bright disc: photo-like, > 256 colours over the animation. */
function movingScene(n: number, w = 96, h = 80) {
  return Array.from({ length: n }, (_, f) =>
    image(w, h, (x, y) => {
      const d = Math.hypot(x - 20 - f * 4, y - 40);
      const disc = d < 14 ? 120 : 0;
      return [Math.min(255, x * 2 + disc), Math.min(255, y * 3 + f * 5), Math.min(255, 60 + disc + ((x + y) & 31))];
    }),
  );
}

describe("encodeGif", () => {
  it("round-trips an animation: frame count, size, delays and quality", async () => {
    const frames = movingScene(6);
    const out = await encodeGif(frames, { delaysMs: 50 });
    expect(out.frames).toBe(6);
    expect([out.width, out.height]).toEqual([96, 80]);
    expect(out.reductions).toEqual([]);
    expect(out.colors).toBeLessThanOrEqual(255);
    const decoded = await decodeGifFrames(out.bytes);
    expect(decoded.frames).toHaveLength(6);
    expect(decoded.delays).toEqual([50, 50, 50, 50, 50, 50]);
    for (let i = 0; i < 6; i++) expect(psnr(decoded.frames[i], frames[i])).toBeGreaterThan(32);
  });

  it("is lossless for content that fits the palette, through transparency and sub-rectangles", async () => {
    const colors: [number, number, number][] = [[255, 0, 0], [0, 128, 255], [250, 250, 250], [20, 20, 20]];
    const base = image(64, 48, (x, y) => colors[((x >> 3) + (y >> 3)) % 4]);
    const second = image(64, 48, (x, y) => (x >= 30 && x < 38 && y >= 10 && y < 20 ? colors[3] : colors[((x >> 3) + (y >> 3)) % 4]));
    const out = await encodeGif([base, second], { delaysMs: [100, 200], loop: false });
    const { frames, delays } = await decodeGifFrames(out.bytes);
    expect(Buffer.compare(Buffer.from(frames[0].data), Buffer.from(base.data))).toBe(0);
    expect(Buffer.compare(Buffer.from(frames[1].data), Buffer.from(second.data))).toBe(0);
    expect(delays).toEqual([100, 200]);
    // The second frame is written as its 8 × 10 changed sub-rectangle: far smaller than a full frame.
    const full = await encodeGif([base], { delaysMs: 100 });
    expect(out.bytes.length - full.bytes.length).toBeLessThan(120);
  });

  it("merges unchanged frames into the previous frame's delay", async () => {
    const a = image(32, 32, (x) => [x * 8, 0, 0]);
    const b = image(32, 32, (x) => [0, x * 8, 0]);
    const out = await encodeGif([a, a, a, b], { delaysMs: 40 });
    expect(out.frames).toBe(2);
    const { frames, delays } = await decodeGifFrames(out.bytes);
    expect(frames).toHaveLength(2);
    expect(delays).toEqual([120, 40]);
  });

  it("meets a tight byte budget on noisy frames by reducing, never failing", async () => {
    const rand = rng(7);
    const frames = Array.from({ length: 16 }, () => image(160, 160, () => [rand() * 256, rand() * 256, rand() * 256]));
    const maxBytes = 40_000;
    const out = await encodeGif(frames, { delaysMs: 50, maxBytes, dither: true });
    expect(out.bytes.length).toBeLessThanOrEqual(maxBytes);
    expect(out.reductions.length).toBeGreaterThan(0);
    // The documented order: dithering off, size (to 60 %), lossier difference, colours, size again.
    expect(out.reductions[0]).toBe("dithering off");
    expect(out.reductions[1]).toMatch(/^scaled to \d+×\d+$/);
    expect(out.reductions.indexOf("lossier frame difference")).toBeGreaterThan(1);
    expect(out.reductions.some((r) => / colours$/.test(r))).toBe(true);
    // Close to the budget, not far under it: the size estimate is from measured bytes.
    expect(out.bytes.length).toBeGreaterThan(maxBytes * 0.4);
    const { frames: decoded } = await decodeGifFrames(out.bytes);
    expect(decoded.length).toBe(out.frames);
    expect(decoded[0].width).toBe(out.width);
  });

  it("dithering keeps local averages of a smooth gradient closer with few colours", async () => {
    const grad = image(128, 32, (x) => [x * 2, x * 2, x * 2]);
    const plain = (await decodeGifFrames((await encodeGif([grad], { delaysMs: 0, maxColors: 6 })).bytes)).frames[0];
    const dith = (await decodeGifFrames((await encodeGif([grad], { delaysMs: 0, maxColors: 6, dither: true })).bytes)).frames[0];
    // Mean error of 8 × 8 block averages: what the eye sees from a distance.
    const blockError = (img: typeof grad) => {
      let e = 0;
      let n = 0;
      for (let by = 0; by < 32; by += 8) {
        for (let bx = 0; bx < 128; bx += 8) {
          let s = 0;
          let t = 0;
          for (let y = by; y < by + 8; y++) {
            for (let x = bx; x < bx + 8; x++) {
              s += img.data[(y * 128 + x) * 3];
              t += grad.data[(y * 128 + x) * 3];
            }
          }
          e += Math.abs(s - t) / 64;
          n++;
        }
      }
      return e / n;
    };
    expect(blockError(dith)).toBeLessThan(blockError(plain) * 0.6);
  });

  it("re-quantises what the global palette serves worst with a refinement palette on the second frame (played once)", async () => {
    // A mostly static scene with far more than 255 colours and a small moving disc (like a face morph):
    // the frame difference keeps the background as the first frame drew it, unless it is refined.
    const frames = Array.from({ length: 4 }, (_, f) =>
      image(128, 128, (x, y) => (Math.hypot(x - 40 - f * 6, y - 64) < 8 ? [250, 30, 30] : [x * 2, y * 2, 255 - x - y])),
    );
    // Lossy LZW off: it may keep a pixel the refinement would rewrite, which is a separate trade.
    const params = { colors: 255, dither: false, keepThresholdSq: KEEP_THRESHOLDS.standard, lossyLzw: false };
    const refined = encodeWith(frames, [50, 50, 50, 50], params, false);
    const plain = encodeWith(frames, [50, 50, 50, 50], { ...params, refine: false }, false);
    const a = (await decodeGifFrames(refined.bytes)).frames;
    const b = (await decodeGifFrames(plain.bytes)).frames;
    expect(a).toHaveLength(4);
    expect(psnr(a[0], frames[0])).toBeCloseTo(psnr(b[0], frames[0]), 5); // the first frame is the same
    for (let i = 1; i < 4; i++) expect(psnr(a[i], frames[i])).toBeGreaterThan(psnr(b[i], frames[i]) + 0.3);
    // One local colour table (768 B) plus the rewritten pixels: far less than a second full frame.
    expect(refined.bytes.length - plain.bytes.length).toBeLessThan(encodeWith([frames[0]], [50], params).bytes.length * 0.5);
  });

  it("a looping GIF never re-colours what does not move, so its first frame and the rest match at every turn", async () => {
    // As above: a static background of far more than 255 colours and a small moving disc.
    const frames = Array.from({ length: 6 }, (_, f) =>
      image(128, 128, (x, y) => (Math.hypot(x - 40 - f * 6, y - 64) < 8 ? [250, 30, 30] : [x * 2, y * 2, 255 - x - y])),
    );
    const out = await encodeGif(frames, { delaysMs: 50 });
    const { frames: shown } = await decodeGifFrames(out.bytes);
    expect(shown).toHaveLength(6);
    let still = 0;
    for (let y = 0; y < 128; y++) {
      for (let x = 0; x < 128; x++) {
        if (y >= 52 && y < 77 && x >= 28 && x < 83) continue; // where the disc passes
        still++;
        const p = (y * 128 + x) * 3;
        for (let i = 1; i < 6; i++) {
          for (let c = 0; c < 3; c++) if (shown[i].data[p + c] !== shown[0].data[p + c]) throw new Error(`frame ${i} re-coloured still pixel (${x}, ${y})`);
        }
      }
    }
    expect(still).toBeGreaterThan(10_000);
    for (let i = 0; i < 6; i++) expect(psnr(shown[i], frames[i])).toBeGreaterThan(32);
  });

  /** A looping morph: a still textured background (far more than 255 colours) and a disc that changes (pingpong). */
  function loopingMorph(n = 10) {
    return Array.from({ length: n }, (_, f) => {
      const t = f <= n / 2 ? f / (n / 2) : (n - f) / (n / 2);
      return image(128, 128, (x, y) => {
        const d = Math.hypot(x - 64, y - 64);
        if (d < 30 + 6 * t) {
          const a = Math.atan2(y - 64, x - 64);
          return [200 + 40 * Math.sin(a * 3 + t * 2), 120 + 60 * Math.cos(d / 5 + t * 3), 90 + 50 * t + 30 * Math.sin(d / 3)];
        }
        return [x * 1.6 + 20 * Math.sin(y / 7), y * 1.8 + ((x * 7 + y * 3) % 13), 220 - x - y * 0.5];
      });
    });
  }
  const meanPsnr = (shown: { data: Uint8Array }[], frames: { data: Uint8Array }[]) => {
    let sse = 0;
    let n = 0;
    for (let i = 0; i < frames.length; i++) {
      for (let k = 0; k < frames[i].data.length; k++) sse += (frames[i].data[k] - shown[i].data[k]) ** 2;
      n += frames[i].data.length;
    }
    return 10 * Math.log10((255 * 255) / (sse / n));
  };

  it("by default a looping GIF's still background gets a first-frame palette of its own, the global one serves what moves", async () => {
    const frames = loopingMorph();
    const params = { colors: 255, dither: false, keepThresholdSq: KEEP_THRESHOLDS.standard };
    const split = await encodeGif(frames, { delaysMs: 50 });
    const { frames: shown } = await decodeGifFrames(split.bytes);
    expect(shown).toHaveLength(frames.length);
    for (let i = 0; i < frames.length; i++) expect(psnr(shown[i], frames[i])).toBeGreaterThan(34.8);
    const onePalette = encodeWith(frames, Array(frames.length).fill(50), { ...params, splitPalettes: false });
    expect(meanPsnr(shown, frames)).toBeGreaterThan(meanPsnr((await decodeGifFrames(onePalette.bytes)).frames, frames) + 1);
  });

  /** A pingpong morph as the bot makes them: a still photo-like background, a textured "face" that moves, frame 0 held. */
  function faceMorph(n = 24, size = 160) {
    const rand = rng(11);
    const grain = Array.from({ length: size * size }, () => rand() * 6 - 3);
    return Array.from({ length: n }, (_, f) => {
      const t = f <= n / 2 ? f / (n / 2) : (n - f) / (n / 2);
      const ease = t * t * (3 - 2 * t);
      return image(size, size, (x, y) => {
        const g = grain[y * size + x];
        const dx = (x - 80) / 34;
        const dy = (y - 80 - 4 * ease) / 42;
        if (dx * dx + dy * dy < 1) {
          // Skin: smooth shading, fine texture, a mouth that opens.
          const mouth = Math.abs(x - 80) < 12 && Math.abs(y - 100 - 3 * ease) < 2 + 5 * ease ? 90 : 0;
          const shade = 30 * Math.sin(x / 9 + ease) + 20 * Math.cos(y / 7);
          return [205 + shade + g - mouth, 150 + shade * 0.8 + g * 1.2 - mouth, 120 + shade * 0.6 + g - mouth * 0.6];
        }
        return [40 + x * 0.9 + 25 * Math.sin(y / 11), 70 + y * 0.7 + ((x * 7 + y * 3) % 9), 200 - x * 0.4 - y * 0.3 + g];
      });
    });
  }
  const FACE_BOX = { x0: 44, y0: 36, x1: 116, y1: 128 };
  const boxPsnr = (a: { data: Uint8Array }, b: { data: Uint8Array }, size: number) => {
    let sse = 0;
    let n = 0;
    for (let y = FACE_BOX.y0; y < FACE_BOX.y1; y++) {
      for (let x = FACE_BOX.x0; x < FACE_BOX.x1; x++) {
        for (let c = 0; c < 3; c++) sse += (a.data[(y * size + x) * 3 + c] - b.data[(y * size + x) * 3 + c]) ** 2;
        n += 3;
      }
    }
    return 10 * Math.log10((255 * 255) / (sse / n));
  };
  /** Share of face-box pixels whose shown colour changes by more than 8 levels in some channel. */
  const faceChangeShare = (a: { data: Uint8Array }, b: { data: Uint8Array }, size: number) => {
    let changed = 0;
    let n = 0;
    for (let y = FACE_BOX.y0; y < FACE_BOX.y1; y++) {
      for (let x = FACE_BOX.x0; x < FACE_BOX.x1; x++) {
        const p = (y * size + x) * 3;
        if (Math.max(Math.abs(a.data[p] - b.data[p]), Math.abs(a.data[p + 1] - b.data[p + 1]), Math.abs(a.data[p + 2] - b.data[p + 2])) > 8) changed++;
        n++;
      }
    }
    return changed / n;
  };

  it("a looping morph's first frame draws the face as finely as later frames, and the loop turn keeps its grain", async () => {
    const frames = faceMorph();
    const delaysMs = frames.map((_, i) => (i === 0 || i === 12 ? 600 : 50));
    const out = await encodeGif(frames, { delaysMs });
    const { frames: shown } = await decodeGifFrames(out.bytes);
    expect(shown).toHaveLength(frames.length);
    const last = frames.length - 1;
    // Frame 0 is held longest: its face must not be coarser than the frames that follow.
    expect(boxPsnr(shown[0], frames[0], 160)).toBeGreaterThan(boxPsnr(shown[2], frames[2], 160));
    expect(boxPsnr(shown[1], frames[1], 160)).toBeGreaterThan(boxPsnr(shown[2], frames[2], 160) - 0.3);
    // From the last frame back to frame 0 the source face barely changes; what is shown must not jump either.
    expect(faceChangeShare(frames[last], frames[0], 160)).toBeLessThan(0.02);
    expect(faceChangeShare(shown[last], shown[0], 160)).toBeLessThan(0.05);
  });

  it("two palettes on a looping morph cost no more bytes than one, for a better picture", async () => {
    // The frame difference keeps more with two palettes (KEEP_SPLIT): the face's own palette serves it finely.
    const frames = faceMorph();
    const delaysMs = frames.map((_, i) => (i === 0 || i === 12 ? 600 : 50));
    const params = { colors: 255, dither: false, keepThresholdSq: KEEP_THRESHOLDS.standard, loopTail: false };
    const two = encodeWith(frames, delaysMs, params);
    const one = encodeWith(frames, delaysMs, { ...params, splitPalettes: false });
    expect(two.bytes.length).toBeLessThan(one.bytes.length);
    const shownTwo = (await decodeGifFrames(two.bytes)).frames;
    const shownOne = (await decodeGifFrames(one.bytes)).frames;
    expect(shownTwo).toHaveLength(frames.length);
    expect(meanPsnr(shownTwo, frames)).toBeGreaterThan(meanPsnr(shownOne, frames) + 0.1);
  });

  it("a looping morph's last frames come back to the first frame's pixels, spread over several frames", async () => {
    const frames = faceMorph();
    const delaysMs = frames.map((_, i) => (i === 0 || i === 12 ? 600 : 50));
    const last = frames.length - 1;
    // Share of the face that changes by more than 8 levels between consecutive frames (the last to frame 0 at
    // the turn), shown against the source's own.
    const excess = (shown: { data: Uint8Array }[]) =>
      shown.map((_, i) => {
        const j = (i + 1) % shown.length;
        return faceChangeShare(shown[i], shown[j], 160) - faceChangeShare(frames[i], frames[j], 160);
      });
    for (const dither of [false, true]) {
      const { frames: shown } = await decodeGifFrames((await encodeGif(frames, { delaysMs, dither })).bytes);
      expect(shown).toHaveLength(frames.length);
      // At the turn the face changes where the source does, not where two palettes or stale pixels disagree.
      expect(faceChangeShare(shown[last], shown[0], 160), `dither ${dither}`).toBeLessThanOrEqual(faceChangeShare(frames[last], frames[0], 160) + 0.005);
      // Getting there is spread over the last frames: none of them jumps much more than the morph's own frames do.
      const e = excess(shown);
      const way = Math.max(...e.slice(0, 12));
      expect(Math.max(...e.slice(12)), `dither ${dither}`).toBeLessThan(way + 0.05);
    }
  });

  it("lossy LZW leaves no dashes in a flat background that fades", async () => {
    // A nearly flat blue background (faint noise, as a photo's) fading darker, with a small textured object moving.
    const rand = rng(5);
    const noise = Array.from({ length: 128 * 96 }, () => rand() * 2);
    const frames = Array.from({ length: 12 }, (_, f) =>
      image(128, 96, (x, y) => {
        if (Math.hypot(x - 30 - f * 5, y - 48) < 10) return [230 - ((x * 13 + y * 7) % 40), 180 + ((x * y) % 30), 60];
        const k = 1 - f * 0.01;
        return [(40 + noise[y * 128 + x]) * k, (90 + noise[y * 128 + x]) * k, (215 + noise[y * 128 + x]) * k];
      }),
    );
    const out = await encodeGif(frames, { delaysMs: 60 });
    const { frames: shown } = await decodeGifFrames(out.bytes);
    expect(shown).toHaveLength(frames.length);
    const params = { colors: 255, dither: false, keepThresholdSq: KEEP_THRESHOLDS.standard, lossyLzw: false };
    const { frames: exact } = await decodeGifFrames(encodeWith(frames, Array(frames.length).fill(60), params).bytes);
    // Mean vertical neighbour difference in the background, away from the object's path: dashes raise it.
    const vertical = (img: { data: Uint8Array }) => {
      let sum = 0;
      let n = 0;
      for (let y = 70; y < 95; y++) {
        for (let x = 0; x < 127; x++) {
          for (let c = 0; c < 3; c++) sum += Math.abs(img.data[(y * 128 + x) * 3 + c] - img.data[((y + 1) * 128 + x) * 3 + c]);
          n += 3;
        }
      }
      return sum / n;
    };
    // Against the exact coder's frames (the frame difference alone): lossy choices add no horizontal dashes.
    for (let i = 1; i < frames.length; i++) expect(vertical(shown[i]), `frame ${i}`).toBeLessThan(vertical(exact[i]) + 0.1);
  });

  it("lossy LZW saves bytes on later frames for a bounded loss, and the result decodes", async () => {
    const frames = loopingMorph();
    const delays = Array(frames.length).fill(50);
    const params = { colors: 255, dither: false, keepThresholdSq: KEEP_THRESHOLDS.standard };
    const lossy = encodeWith(frames, delays, params);
    const exact = encodeWith(frames, delays, { ...params, lossyLzw: false });
    const a = (await decodeGifFrames(lossy.bytes)).frames;
    const b = (await decodeGifFrames(exact.bytes)).frames;
    expect(a).toHaveLength(frames.length);
    expect(Buffer.compare(Buffer.from(a[0].data), Buffer.from(b[0].data))).toBe(0); // the first frame is coded exactly
    expect(lossy.bytes.length).toBeLessThan(exact.bytes.length * 0.985);
    expect(meanPsnr(a, frames)).toBeGreaterThan(meanPsnr(b, frames) - 0.3);
    // Played once (no still pixels locked), on a moving scene: the same holds.
    const scene = movingScene(8);
    const once = encodeWith(scene, Array(8).fill(50), params, false);
    const onceExact = encodeWith(scene, Array(8).fill(50), { ...params, lossyLzw: false }, false);
    const c = (await decodeGifFrames(once.bytes)).frames;
    expect(c).toHaveLength(8);
    expect(once.bytes.length).toBeLessThan(onceExact.bytes.length);
    for (let i = 0; i < 8; i++) expect(psnr(c[i], scene[i])).toBeGreaterThan(30);
  });

  it("keeps long animations' total duration when rounding delays to centiseconds", () => {
    expect(toCentiseconds([33, 33, 34, 33, 33, 34])).toEqual([3, 4, 3, 3, 4, 3]);
    expect(toCentiseconds([0, 5])).toEqual([2, 2]);
  });

  it("rejects unusable input with typed errors", async () => {
    const a = image(8, 8, () => [0, 0, 0]);
    const b = image(9, 8, () => [0, 0, 0]);
    await expect(encodeGif([], { delaysMs: 10 })).rejects.toBeInstanceOf(MimicError);
    await expect(encodeGif([a, b], { delaysMs: 10 })).rejects.toThrow(/same size/);
    await expect(encodeGif([a], { delaysMs: 10, maxBytes: 100 })).rejects.toThrow(/at least 4096/);
    await expect(encodeGif([a, a], { delaysMs: [10] })).rejects.toThrow(/one per frame/);
  });
});
