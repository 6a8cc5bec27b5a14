import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { decodeAnimation } from "../../src/pipeline/image/index.ts";
import { encodeMp4, runFfmpeg } from "../../src/pipeline/video/index.ts";

/** Inputs for core and bot tests: real fixture photos plus generated GIFs and non-images. */
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/faces/${name}`, import.meta.url)));

export const FACE_JPG = fixture("grace_hopper_512x512.jpg");
export const REACTION_LAUGH_JPG = fixture("franck_04117.jpg");
export const REACTION_SMILE_JPG = fixture("franck_02221.jpg");
export const NOT_AN_IMAGE = new TextEncoder().encode("%PDF-1.4 this is a document, not a picture\n");

/** A flat grey picture: decodes fine, has no face. */
export async function flatPng(size = 256): Promise<Uint8Array> {
  return new Uint8Array(await sharp({ create: { width: size, height: size, channels: 3, background: "#808080" } }).png().toBuffer());
}

const gifenc = createRequire(import.meta.url)("gifenc") as {
  GIFEncoder: () => { writeFrame(i: Uint8Array, w: number, h: number, o: { palette: number[][]; delay?: number }): void; finish(): void; bytes(): Uint8Array };
  quantize: (rgba: Uint8Array, n: number) => number[][];
  applyPalette: (rgba: Uint8Array, p: number[][]) => Uint8Array;
};

/** A small animated GIF made of frames of a fixture photo (a "reaction GIF"), `frames` frames. */
export async function reactionGif(source = REACTION_LAUGH_JPG, frames = 4, width = 240): Promise<Uint8Array> {
  const { data, info } = await sharp(source).resize({ width }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const enc = gifenc.GIFEncoder();
  for (let f = 0; f < frames; f++) {
    const rgba = new Uint8Array(data);
    // Shift brightness a little per frame so frames differ.
    for (let i = 0; i < rgba.length; i += 4) rgba[i] = Math.min(255, rgba[i] + f * 8);
    const palette = gifenc.quantize(rgba, 128);
    enc.writeFrame(gifenc.applyPalette(rgba, palette), info.width, info.height, { palette, delay: 100 });
  }
  enc.finish();
  return enc.bytes();
}

/** Decoded facts about an output file, to assert it is really what it claims. */
export async function describeImage(bytes: Uint8Array): Promise<{ format: string; width: number; height: number; pages: number }> {
  const m = await sharp(bytes, { animated: true }).metadata();
  return { format: m.format ?? "?", width: m.width ?? 0, height: m.pageHeight ?? m.height ?? 0, pages: m.pages ?? 1 };
}

/** The reaction GIF's frames as a silent H.264 MP4, as Telegram turns a GIF into one (needs the bundled ffmpeg). */
export async function reactionMp4(ffmpegPath: string, frames = 4): Promise<Uint8Array> {
  const { frames: decoded } = await decodeAnimation(await reactionGif(REACTION_LAUGH_JPG, frames));
  return (await encodeMp4(decoded, { delaysMs: 100, ffmpegPath })).bytes;
}

/**
 * A Telegram video sticker: the laugh as a VP9 WebM with alpha, its outer `border` px transparent (and black
 * under the alpha, so a reader that drops alpha shows black there).
 */
export async function reactionStickerWebm(ffmpegPath: string, frames = 4, border = 24): Promise<Uint8Array> {
  const { data, info } = await sharp(REACTION_LAUGH_JPG).resize({ width: 240 }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width: w, height: h } = info;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (x >= border && y >= border && x < w - border && y < h - border) continue;
      data.fill(0, (y * w + x) * 4, (y * w + x) * 4 + 4);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "mimic-sticker-"));
  try {
    writeFileSync(join(dir, "in.rgba"), Buffer.concat(Array.from({ length: frames }, () => data)));
    const args = ["-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgba", "-s", `${w}x${h}`, "-r", "10", "-i", join(dir, "in.rgba")];
    await runFfmpeg(ffmpegPath, [...args, "-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-y", join(dir, "out.webm")], { timeoutMs: 60_000 });
    return new Uint8Array(readFileSync(join(dir, "out.webm")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
