import { describe, expect, it } from "vitest";
import { isMimicError } from "../../src/errors.ts";
import { decodeImage, resizeImage } from "../../src/pipeline/image/index.ts";
import { prepareCaptions } from "../../src/pipeline/render/index.ts";
import { decodeGifFrames, psnr } from "./gif/helpers.ts";
import { animatedMemeFrames, DEFAULT_ANIMATION_SIZE } from "../../src/pipeline/animate/meme.ts";
import { assembleMeme, type MemeInput } from "../../src/pipeline/meme.ts";
import { swapWorkingCopy, transferExpression } from "../../src/pipeline/transfer/index.ts";
import { WORK_FACE_PX } from "../../src/pipeline/transfer/geometry.ts";
import type { RgbImage } from "../../src/pipeline/types.ts";
import { useFixtureFaces } from "../helpers/fixture-faces.ts";

const fx = useFixtureFaces();

/** The laugh enlarged to a phone photo's size, with a sensor's grain (a smooth enlargement packs far too well). */
function phonePhoto(img: RgbImage, width: number): RgbImage {
  const big = resizeImage(img, width, Math.round((img.height * width) / img.width));
  let seed = 7;
  for (let i = 0; i < big.data.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    big.data[i] = Math.max(0, Math.min(255, big.data[i]! + ((seed >> 16) % 13) - 6));
  }
  return big;
}

describe("a still meme and the chat's byte limit", () => {
  const swapInto = async (reaction: RgbImage, maxBytes?: number, more: Partial<MemeInput> & { swapMaxSide?: number } = {}) => {
    const reactionFace = (await fx.analyzer.analyze(reaction)).faces[0]!;
    const { swapMaxSide, ...rest } = more;
    const input: MemeInput = {
      template: fx.images.get("grace_hopper_512x512.jpg")!,
      templateFace: fx.faces.get("grace_hopper_512x512.jpg")!,
      reaction: { frames: [reaction], delaysMs: [0] },
      reactionFaces: [reactionFace],
      mode: "swap",
      captions: { top: "when the build", bottom: "finally passes" },
      output: { kind: "png", ...(maxBytes === undefined ? {} : { maxBytes }), ...(swapMaxSide === undefined ? {} : { swapMaxSide }) },
      ...rest,
    };
    return assembleMeme(input);
  };

  it("scales a swap into a large photo down until it fits, keeps its shape and says so", async () => {
    const reaction = phonePhoto(fx.images.get("franck_04117.jpg")!, 1600);
    const full = await swapInto(reaction);
    expect([full.width, full.height]).toEqual([reaction.width, reaction.height]);
    const limit = Math.round(full.bytes.length / 2);
    const fitted = await swapInto(reaction, limit);
    expect(fitted.bytes.length).toBeLessThanOrEqual(limit);
    expect(fitted.width).toBeLessThan(reaction.width);
    expect(Math.abs(fitted.height - (fitted.width * reaction.height) / reaction.width)).toBeLessThanOrEqual(1);
    expect(fitted.notes.join(" ")).toContain(`scaled down to ${fitted.width}×${fitted.height} to fit this chat's`);
    // Still the meme: the PNG decodes at that size with the swapped face in it.
    const png = await decodeImage(fitted.bytes);
    expect([png.width, png.height]).toEqual([fitted.width, fitted.height]);
    expect((await fx.analyzer.analyze(png)).faces).toHaveLength(1);
    const box = fitted.still!.changedBox!;
    expect(box.x + box.width).toBeLessThanOrEqual(fitted.width);
    expect(box.y + box.height).toBeLessThanOrEqual(fitted.height);
  });

  it("leaves a picture within the limit as it is", async () => {
    const reaction = fx.images.get("franck_04117.jpg")!;
    const free = await swapInto(reaction);
    const limited = await swapInto(reaction, free.bytes.length);
    expect([limited.width, limited.height]).toEqual([reaction.width, reaction.height]);
    expect(Buffer.from(limited.bytes).equals(Buffer.from(free.bytes))).toBe(true);
    expect(limited.notes.join(" ")).not.toContain("scaled down");
  });

  it("refuses, in words that say what happened, a limit that only a thumbnail would fit", async () => {
    const err = await swapInto(fx.images.get("franck_04117.jpg")!, 20_000).catch((e: unknown) => e);
    expect(isMimicError(err) && err.code).toBe("IMAGE_TOO_LARGE");
    // Never shrunk (it would go under the smallest side kept), so it does not claim it was.
    expect((err as Error).message).toMatch(
      /^The finished picture \(\d+ KiB\) is larger than this chat accepts \(20 KiB\): it would have to shrink below 256 pixels to fit, so this chat's limit is too small for a picture like this\.$/,
    );
    expect((err as Error).message).not.toContain("scaled down");
  });

  it("makes a swap into a photo over swapMaxSide at that size, the face swapped in it", async () => {
    const reaction = phonePhoto(fx.images.get("franck_04117.jpg")!, 1600);
    const res = await swapInto(reaction, undefined, { swapMaxSide: 800 });
    expect([res.width, res.height]).toEqual([800, Math.round((reaction.height * 800) / reaction.width)]);
    const png = await decodeImage(res.bytes);
    const faces = (await fx.analyzer.analyze(png)).faces;
    expect(faces).toHaveLength(1);
    const box = res.still!.changedBox!;
    expect(box.x + box.width).toBeLessThanOrEqual(800);
    // The face sits where the reaction's did, at the new scale.
    const original = (await fx.analyzer.analyze(reaction)).faces[0]!.box;
    expect(Math.abs(faces[0]!.box.x + faces[0]!.box.width / 2 - (original.x + original.width / 2) / 2)).toBeLessThan(12);
  });

  it("never shrinks the reaction's face under the transfer's working size, and leaves mimic alone", async () => {
    const reaction = phonePhoto(fx.images.get("franck_04117.jpg")!, 1600);
    const face = (await fx.analyzer.analyze(reaction)).faces[0]!;
    const res = await swapInto(reaction, undefined, { swapMaxSide: 200 });
    expect(res.width).toBeGreaterThan(200);
    expect(Math.round(face.quality.faceSizePx * (res.width / reaction.width))).toBeGreaterThanOrEqual(WORK_FACE_PX - 1);
    const mimic = await swapInto(reaction, undefined, { swapMaxSide: 200, mode: "mimic" });
    const template = fx.images.get("grace_hopper_512x512.jpg")!;
    expect([mimic.width, mimic.height]).toEqual([template.width, template.height]);
  });

  it("swaps a still into a morph at twice the animation's size, not at the photo's", async () => {
    const reaction = phonePhoto(fx.images.get("franck_04117.jpg")!, 1600);
    const reactionFace = (await fx.analyzer.analyze(reaction)).faces[0]!;
    const template = fx.images.get("grace_hopper_512x512.jpg")!, templateFace = fx.faces.get("grace_hopper_512x512.jpg")!;
    const morph = await animatedMemeFrames({ template, templateFace, reaction: { frames: [reaction], delaysMs: [0] }, reactionFaces: [reactionFace], mode: "swap", morph: { loop: "forward" } });
    // The last frame is the swap itself at the animation's size: made from the 768-px working copy.
    const [copy, copyFace] = swapWorkingCopy(reaction, reactionFace, 2 * DEFAULT_ANIMATION_SIZE);
    expect(copy.width).toBe(2 * DEFAULT_ANIMATION_SIZE);
    const swapped = transferExpression({ template, templateFace, reaction: copy, reactionFace: copyFace, mode: "swap" }).image;
    const last = morph.frames.at(-1)!;
    const expected = resizeImage(swapped, last.width, last.height);
    let off = 0;
    for (let i = 0; i < last.data.length; i++) off = Math.max(off, Math.abs(last.data[i]! - expected.data[i]!));
    expect(off).toBeLessThanOrEqual(2);
  });
});


describe("an animated meme and the chat's byte limit", () => {
  const morph = async (format: "gif" | "gif-or-mp4", maxBytes?: number) => {
    const { findFfmpeg } = await import("../../src/pipeline/video/index.ts");
    const reaction = fx.images.get("franck_04117.jpg")!;
    return assembleMeme({
      template: fx.images.get("grace_hopper_512x512.jpg")!,
      templateFace: fx.faces.get("grace_hopper_512x512.jpg")!,
      reaction: { frames: [reaction], delaysMs: [0] },
      reactionFaces: [fx.faces.get("franck_04117.jpg")!],
      output: { kind: "animation", format, ffmpegPath: findFfmpeg(), ...(maxBytes === undefined ? {} : { maxBytes }) },
    });
  };

  it("says what a GIF gave up to fit, or that it comes as a video; nothing when it fits as it is", async () => {
    const free = await morph("gif");
    expect(free.notes.join(" ")).not.toMatch(/to fit this chat/);
    const limit = Math.floor(free.bytes.length / 3);
    const smaller = await morph("gif", limit);
    expect(smaller.mime).toBe("image/gif");
    expect(smaller.animation!.reductions.length).toBeGreaterThan(0);
    expect(smaller.notes.at(-1)).toMatch(/^The animation was made smaller to fit this chat's \d+ KiB limit \((scaled to \d+×\d+|\d+ of its \d+ frames|\d+ colours)(, .+)?\)\.$/);
    const video = await morph("gif-or-mp4", limit);
    expect(video.mime).toBe("video/mp4");
    expect(video.notes.at(-1)).toMatch(/^As a GIF it would have lost quality to fit this chat's \d+ KiB limit, so it comes as a video instead\.$/);
  });
});

describe("an animated meme's captions when the GIF is scaled to fit", () => {
  it("are laid out at the delivered size, not drawn large and shrunk with the frames", async () => {
    const text = { top: "КОГДА ДРУГ ПИШЕТ 😂😂", bottom: "ΑΥΤΟ ΕΙΝΑΙ 🔥 OK 👍" };
    const common = {
      template: fx.images.get("grace_hopper_512x512.jpg")!,
      templateFace: fx.faces.get("grace_hopper_512x512.jpg")!,
      reaction: { frames: [fx.images.get("franck_01829.jpg")!, fx.images.get("franck_04117.jpg")!], delaysMs: [500, 500] },
      reactionFaces: [fx.faces.get("franck_01829.jpg")!, fx.faces.get("franck_04117.jpg")!],
    };
    const made = await assembleMeme({ ...common, captions: text, output: { kind: "animation", format: "gif", maxBytes: 40_000 } });
    const { width, height } = made;
    expect(made.animation!.reductions.some((r) => r.startsWith("scaled to "))).toBe(true);
    // The same frames, for reference: captions laid out at the delivered size, and drawn at full size then shrunk.
    const frames = await animatedMemeFrames({ ...common, captions: prepareCaptions(text).captions });
    const laidOut = (await frames.redraw(width, height))[0]!;
    const shrunk = resizeImage(frames.frames[0]!, width, height);
    const delivered = (await decodeGifFrames(made.bytes)).frames[0]!;
    expect(psnr(delivered, laidOut)).toBeGreaterThan(psnr(delivered, shrunk) + 3);
  });
});
