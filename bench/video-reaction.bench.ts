/**
 * What reading a video reaction costs (src/pipeline/video/reaction.ts): a Telegram-style GIF-as-MP4 (the
 * fixture laugh panned and zoomed, 3 s at 30 fps, 480 × 384) read by the bundled ffmpeg into the reaction's
 * at most 48 frames, beside the peer: the same 48 frames as a GIF read by the GIF path (decodeReaction, sharp).
 * A third row: a GIF of all the clip's frames, past the 48-frame bound, which readReaction reads as a clip.
 * Wall time per read, median of rounds that alternate between the two; ffmpeg runs as a child process.
 */
import { readFileSync } from "node:fs";
import { decodeReaction, readReaction } from "../src/pipeline/animate/index.ts";
import { encodeGif } from "../src/pipeline/gif/index.ts";
import { decodeImage, resizeImage } from "../src/pipeline/image/index.ts";
import type { RgbImage } from "../src/pipeline/types.ts";
import { decodeVideoReaction, encodeMp4, findFfmpeg } from "../src/pipeline/video/index.ts";
import { MAX_REACTION_FRAMES, MAX_REACTION_TOTAL_PIXELS } from "../src/pipeline/animate/index.ts";
import { ms, percentile, type BenchContext } from "./context.ts";

const ROUNDS = 15;
const W = 480, H = 384, FPS = 30, SECONDS = 3;

/** The laugh photo, slowly zoomed and panned: a clip whose frames all differ, as a real GIF's do. */
async function clip(): Promise<RgbImage[]> {
  const photo = await decodeImage(new Uint8Array(readFileSync(new URL("../test/fixtures/faces/franck_04117.jpg", import.meta.url))));
  const frames: RgbImage[] = [];
  for (let i = 0; i < FPS * SECONDS; i++) {
    const zoom = 1 + (0.15 * i) / (FPS * SECONDS);
    const cw = Math.round(photo.width / zoom), ch = Math.round(photo.height / zoom);
    const x0 = Math.round(((photo.width - cw) * i) / (FPS * SECONDS)), y0 = Math.round((photo.height - ch) / 2);
    const crop: RgbImage = { width: cw, height: ch, data: new Uint8Array(cw * ch * 3) };
    for (let y = 0; y < ch; y++) crop.data.set(photo.data.subarray(((y + y0) * photo.width + x0) * 3, ((y + y0) * photo.width + x0 + cw) * 3), y * cw * 3);
    frames.push(await resizeImage(crop, W, H));
  }
  return frames;
}

export async function run(ctx: BenchContext): Promise<string> {
  const ffmpeg = findFfmpeg();
  if (!ffmpeg) return "Skipped: no ffmpeg binary for this platform.";
  const frames = await clip();
  const mp4 = (await encodeMp4(frames, { delaysMs: 1000 / FPS, ffmpegPath: ffmpeg })).bytes;
  const step = frames.length / MAX_REACTION_FRAMES;
  const sampled = Array.from({ length: MAX_REACTION_FRAMES }, (_, i) => frames[Math.floor(i * step)]!);
  const gif = (await encodeGif(sampled, { delaysMs: Math.round(step * (1000 / FPS)) })).bytes;
  const readMp4 = () => decodeVideoReaction(mp4, ffmpeg, { maxPixels: 40_000_000, maxFrames: MAX_REACTION_FRAMES, maxTotalPixels: MAX_REACTION_TOTAL_PIXELS });
  const readGif = () => decodeReaction(gif);
  const longGif = (await encodeGif(frames, { delaysMs: Math.round(1000 / FPS) })).bytes;
  const readLong = () => readReaction(longGif, { ffmpegPath: ffmpeg });
  const [a, b, c] = [await readMp4(), await readGif(), await readLong()];
  ctx.log(`mp4 ${mp4.byteLength} B → ${a.frames.length} frames ${a.width}×${a.height}; gif ${gif.byteLength} B → ${b.frames.length} frames; long gif ${longGif.byteLength} B → ${c.frames.length} frames`);
  const mp4Ms: number[] = [], gifMs: number[] = [], longMs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let t = performance.now();
    await readMp4();
    mp4Ms.push(performance.now() - t);
    t = performance.now();
    await readGif();
    gifMs.push(performance.now() - t);
    t = performance.now();
    await readLong();
    longMs.push(performance.now() - t);
  }
  const [m, g, l] = [percentile(mp4Ms, 50), percentile(gifMs, 50), percentile(longMs, 50)];
  return [
    `Machine: ${ctx.machine.summary}. Clip: ${SECONDS} s at ${FPS} fps, ${W} × ${H}, ${ROUNDS} rounds, median wall time.`,
    "",
    "| input | bytes | frames read | read ms |",
    "|---|---|---|---|",
    `| MP4 (H.264), ffmpeg: sampled to ${a.frames.length} | ${mp4.byteLength} | ${a.frames.length} (${a.width} × ${a.height}) | ${ms(m)} |`,
    `| GIF of the same ${b.frames.length} frames (peer), sharp | ${gif.byteLength} | ${b.frames.length} (${b.width} × ${b.height}) | ${ms(g)} |`,
    `| GIF of all ${frames.length} frames (past the bound), read as a clip by ffmpeg | ${longGif.byteLength} | ${c.frames.length} (${c.width} × ${c.height}) | ${ms(l)} |`,
    "",
    `MP4 ÷ GIF read time: ${(m / g).toFixed(2)}. Long GIF ÷ GIF: ${(l / g).toFixed(2)}.`,
  ].join("\n");
}
