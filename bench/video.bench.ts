/**
 * MP4 vs GIF: the same rendered frames (the 24-frame 384×384 expression morph and the two-face morph of
 * bench/gif.ts) encoded by our GIF encoder and by the bundled ffmpeg's x264 (src/pipeline/video), compared
 * as a viewer sees them: PSNR and SSIM (luma, 8×8 windows) of each shown frame against its source frame.
 * "Equal quality" = the highest CRF whose SSIM is at least the GIF's. Encode time is wall time (x264 runs in
 * a child process with one thread, so on an idle core wall ≈ CPU); the load is printed beside it.
 */
import { morphExpression, morphFaces } from "../src/pipeline/animate/index.ts";
import { scalePoints } from "../src/pipeline/animate/geometry.ts";
import { encodeGif } from "../src/pipeline/gif/index.ts";
import { resizeImage } from "../src/pipeline/image/index.ts";
import type { RgbImage } from "../src/pipeline/types.ts";
import { DEFAULT_MP4_CRF, decodeVideo, encodeMp4, findFfmpeg, frameTiming } from "../src/pipeline/video/index.ts";
import { ms, percentile, type BenchContext } from "./context.ts";
import { expressionPair, framesPsnr, viewerFrames } from "./gif.ts";

const SIZE = 384;
const FRAMES = 24;

function luma(img: RgbImage): Float32Array {
  const y = new Float32Array(img.width * img.height);
  const d = img.data;
  for (let i = 0, j = 0; i < y.length; i++, j += 3) y[i] = 0.299 * d[j] + 0.587 * d[j + 1] + 0.114 * d[j + 2];
  return y;
}

/** Mean SSIM over 8×8 windows (stride 4) of luma, standard constants. */
function ssim(a: RgbImage, b: RgbImage): number {
  const ya = luma(a);
  const yb = luma(b);
  const w = a.width;
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let sum = 0;
  let n = 0;
  for (let y0 = 0; y0 + 8 <= a.height; y0 += 4) {
    for (let x0 = 0; x0 + 8 <= w; x0 += 4) {
      let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (let y = y0; y < y0 + 8; y++) {
        for (let x = x0; x < x0 + 8; x++) {
          const p = ya[y * w + x];
          const q = yb[y * w + x];
          sa += p; sb += q; saa += p * p; sbb += q * q; sab += p * q;
        }
      }
      const ma = sa / 64, mb = sb / 64;
      const va = saa / 64 - ma * ma, vb = sbb / 64 - mb * mb, cov = sab / 64 - ma * mb;
      sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      n++;
    }
  }
  return sum / n;
}


const meanSsim = (src: RgbImage[], shown: RgbImage[]) => src.reduce((s, f, i) => s + ssim(f, shown[i]), 0) / src.length;

interface Measured {
  bytes: number;
  wallMs: number;
  psnr: number;
  ssim: number;
}

async function median<T>(rounds: number, f: () => Promise<T>): Promise<{ value: T; wall: number }> {
  const walls: number[] = [];
  let value!: T;
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    value = await f();
    walls.push(performance.now() - t);
  }
  return { value, wall: percentile(walls, 50) };
}

async function measureGif(frames: RgbImage[], delaysMs: number[], rounds: number): Promise<Measured> {
  const r = await median(rounds, () => encodeGif(frames, { delaysMs }));
  const shown = await viewerFrames(r.value.bytes, frames, delaysMs);
  return { bytes: r.value.bytes.length, wallMs: r.wall, psnr: framesPsnr(frames, shown), ssim: meanSsim(frames, shown) };
}

async function measureMp4(frames: RgbImage[], delaysMs: number[], crf: number, ffmpeg: string, rounds: number): Promise<Measured> {
  const r = await median(rounds, () => encodeMp4(frames, { delaysMs, ffmpegPath: ffmpeg, crf }));
  const decoded = await decodeVideo(r.value.bytes, ffmpeg);
  const { repeats } = frameTiming(delaysMs);
  // The frame shown at each source frame's start (repeats are ticks of the same frame).
  const starts = repeats.map((_, i) => repeats.slice(0, i).reduce((s, v) => s + v, 0));
  // Odd sides are cropped to even by the encoder: compare on the common area.
  const crop = (f: RgbImage) => cropTo(f, decoded.width, decoded.height);
  const src = frames.map(crop);
  const shown = starts.map((s) => decoded.frames[s]);
  return { bytes: r.value.bytes.length, wallMs: r.wall, psnr: framesPsnr(src, shown), ssim: meanSsim(src, shown) };
}

function cropTo(f: RgbImage, w: number, h: number): RgbImage {
  if (f.width === w && f.height === h) return f;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) data.set(f.data.subarray(y * f.width * 3, y * f.width * 3 + w * 3), y * w * 3);
  return { width: w, height: h, data };
}

export async function run(ctx: BenchContext): Promise<string> {
  const ffmpeg = findFfmpeg();
  if (!ffmpeg) throw new Error("no ffmpeg binary for this platform (@ffmpeg-installer)");
  const roundsArg = ctx.args.find((a) => a.startsWith("--rounds="));
  const rounds = roundsArg ? Math.max(1, Number(roundsArg.split("=")[1])) : 3;
  const { template, templateFace, reaction, reactionFace, transfer } = await expressionPair();
  const k = SIZE / template.width;
  const expression = morphExpression({
    template: resizeImage(template, SIZE, SIZE),
    from: scalePoints(templateFace.landmarks, k),
    result: resizeImage(transfer.image, SIZE, SIZE),
    to: scalePoints(transfer.landmarks, k),
    frames: FRAMES,
  });
  const faces = morphFaces({ a: resizeImage(template, SIZE, SIZE), aLandmarks: scalePoints(templateFace.landmarks, k), b: reaction, bLandmarks: reactionFace.landmarks, frames: FRAMES });

  const sections: string[] = [];
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  const row = (name: string, m: Measured) => `| ${name} | ${kib(m.bytes)} | ${ms(m.wallMs)} | ${m.psnr.toFixed(2)} | ${m.ssim.toFixed(4)} |`;
  for (const [title, anim] of [
    ["Expression morph", expression],
    ["Two-face morph", faces],
  ] as const) {
    ctx.log(`${title}: GIF…`);
    const gif = await measureGif(anim.frames, anim.delaysMs, rounds);
    const rows = [row("GIF (encodeGif default)", gif)];
    const byCrf = new Map<number, Measured>();
    const at = async (crf: number) => {
      if (!byCrf.has(crf)) {
        ctx.log(`${title}: MP4 crf ${crf}…`);
        byCrf.set(crf, await measureMp4(anim.frames, anim.delaysMs, crf, ffmpeg, rounds));
      }
      return byCrf.get(crf)!;
    };
    for (const crf of [18, DEFAULT_MP4_CRF, 23, 28]) rows.push(row(`MP4 x264 crf ${crf}${crf === DEFAULT_MP4_CRF ? " (default)" : ""}`, await at(crf)));
    // Highest CRF (smallest file) whose SSIM still matches the GIF's: SSIM falls as CRF rises.
    let lo = 10;
    let hi = 40;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if ((await at(mid)).ssim >= gif.ssim) lo = mid;
      else hi = mid - 1;
    }
    const eq = await at(lo);
    rows.push(row(`MP4 at the GIF's SSIM (crf ${lo})`, eq));
    sections.push(
      [
        `**${title}** (${anim.frames.length} frames ${SIZE}×${SIZE}): at equal SSIM the MP4 is **${((eq.bytes / gif.bytes) * 100).toFixed(1)} % of the GIF's bytes** ` +
          `(${kib(eq.bytes)} vs ${kib(gif.bytes)}) and encodes in ${(eq.wallMs / gif.wallMs).toFixed(2)}× the GIF's time (${ms(eq.wallMs)} vs ${ms(gif.wallMs)} ms wall).`,
        "",
        "| encoding (same frames) | bytes | encode wall ms | PSNR dB | SSIM (luma) |",
        "|---|---:|---:|---:|---:|",
        ...rows,
      ].join("\n"),
    );
  }
  return [
    `Machine: ${ctx.machine.summary}. Rounds: ${rounds} (median wall). ffmpeg: @ffmpeg-installer's static build, libx264 preset medium, one thread, yuv420p.`,
    "",
    ...sections.flatMap((s) => [s, ""]),
  ].join("\n").trimEnd();
}
