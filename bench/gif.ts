/**
 * GIF benchmark: a 24-frame 384×384 expression morph (render + encode) with our encoder vs sharp's own GIF
 * encoder (libvips + libimagequant/cgif) on the SAME frames: time, bytes and PSNR to the source frames as a
 * viewer sees them. Also the two-face morph, the byte-budget ladder on a hard case (noise), and what each
 * budget step costs and saves (the measured order encodeGif applies them in).
 * Timings: wall median and CPU median (process.cpuUsage: our encoder is single-threaded JS; sharp's CPU
 * time sums its threads). On a shared machine CPU time is the steadier of the two. Options: `--rounds=N`.
 */
import { readFileSync } from "node:fs";
import sharp, { type CreateRaw, type GifOptions } from "sharp";
import { morphExpression, morphFaces } from "../src/pipeline/animate/index.ts";
import { scalePoints } from "../src/pipeline/animate/geometry.ts";
import { createFaceAnalyzer } from "../src/pipeline/face/index.ts";
import { encodeGif } from "../src/pipeline/gif/index.ts";
import { encodeWith, KEEP_THRESHOLDS } from "../src/pipeline/gif/encode.ts";
import { decodeImage, resizeImage } from "../src/pipeline/image/index.ts";
import { transferExpression } from "../src/pipeline/transfer/index.ts";
import type { RgbImage } from "../src/pipeline/types.ts";
import { ms, percentile, type BenchContext } from "./context.ts";

const SIZE = 384;
const FRAMES = 24;
const TARGET_MS = 400;

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function timed<T>(rounds: number, f: () => Promise<T> | T): Promise<{ value: T; wall: number; cpu: number }> {
  const walls: number[] = [];
  const cpus: number[] = [];
  let value!: T;
  for (let i = 0; i < rounds; i++) {
    const c = cpuMs();
    const t = performance.now();
    value = await f();
    walls.push(performance.now() - t);
    cpus.push(cpuMs() - c);
  }
  return { value, wall: percentile(walls, 50), cpu: percentile(cpus, 50) };
}

/** PSNR over all source frames against what a viewer sees at each frame's start (any size, frames merged or dropped). */
async function viewerPsnr(gif: Uint8Array, src: RgbImage[], delaysMs: number[]): Promise<number> {
  return framesPsnr(src, await viewerFrames(gif, src, delaysMs));
}

/** PSNR over every pixel of a frame sequence against the frames shown for it (same sizes). */
export function framesPsnr(src: RgbImage[], shown: RgbImage[]): number {
  let sse = 0;
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const a = src[i].data;
    const b = shown[i].data;
    for (let k = 0; k < a.length; k++) sse += (a[k] - b[k]) ** 2;
    n += a.length;
  }
  return 10 * Math.log10((255 * 255) / (sse / n));
}

/** For each source frame, the GIF frame a viewer sees at its start, at the source's size. */
export async function viewerFrames(gif: Uint8Array, src: RgbImage[], delaysMs: number[]): Promise<RgbImage[]> {
  const meta = await sharp(gif).metadata();
  const { data, info } = await sharp(gif, { pages: -1 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const h = (info as { pageHeight?: number }).pageHeight ?? info.height;
  const pages = info.height / h;
  const gifDelays = meta.delay ?? Array(pages).fill(100);
  const shown: RgbImage[] = [];
  for (let p = 0; p < pages; p++) {
    let f: RgbImage = { data: new Uint8Array(data.subarray(p * info.width * h * 3, (p + 1) * info.width * h * 3)), width: info.width, height: h };
    if (f.width !== src[0].width || f.height !== src[0].height) f = resizeImage(f, src[0].width, src[0].height);
    shown.push(f);
  }
  const out: RgbImage[] = [];
  let t = 0;
  for (let i = 0; i < src.length; i++) {
    let acc = 0;
    let p = 0;
    while (p < pages - 1 && acc + gifDelays[p] <= t + 1) acc += gifDelays[p++];
    out.push(shown[p]);
    t += Math.max(20, Math.round(delaysMs[i] / 10) * 10);
  }
  return out;
}

/** The face's box in the bench morph: the landmarks of both ends of the morph, at frame size. */
type Box = { x0: number; y0: number; x1: number; y1: number };
function landmarkBox(...sets: Float32Array[]): Box {
  const box = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  for (const pts of sets) {
    for (let i = 0; i < pts.length; i += 3) {
      box.x0 = Math.min(box.x0, Math.floor(pts[i]));
      box.y0 = Math.min(box.y0, Math.floor(pts[i + 1]));
      box.x1 = Math.max(box.x1, Math.ceil(pts[i]));
      box.y1 = Math.max(box.y1, Math.ceil(pts[i + 1]));
    }
  }
  return box;
}

/** PSNR inside the face box. */
function boxPsnr(a: RgbImage, b: RgbImage, box: Box): number {
  let sse = 0;
  let n = 0;
  for (let y = box.y0; y < box.y1; y++) {
    for (let x = box.x0; x < box.x1; x++) {
      const p = (y * a.width + x) * 3;
      for (let c = 0; c < 3; c++) sse += (a.data[p + c] - b.data[p + c]) ** 2;
      n += 3;
    }
  }
  return 10 * Math.log10((255 * 255) / (sse / n));
}

/** Share of the face box's pixels that change by more than 8 levels in some channel from `a` to `b`. */
function changeShare(a: RgbImage, b: RgbImage, box: Box): number {
  let changed = 0;
  let n = 0;
  for (let y = box.y0; y < box.y1; y++) {
    for (let x = box.x0; x < box.x1; x++) {
      const p = (y * a.width + x) * 3;
      if (Math.max(Math.abs(a.data[p] - b.data[p]), Math.abs(a.data[p + 1] - b.data[p + 1]), Math.abs(a.data[p + 2] - b.data[p + 2])) > 8) changed++;
      n++;
    }
  }
  return changed / n;
}

/** The loop-turn and first-frames checks: face change from the last frame to frame 0, face-box PSNR of frames 0 and 1. */
async function loopChecks(gif: Uint8Array, src: RgbImage[], delaysMs: number[], box: Box) {
  const shown = await viewerFrames(gif, src, delaysMs);
  const last = src.length - 1;
  return { turn: changeShare(shown[last], shown[0], box), f0: boxPsnr(shown[0], src[0], box), f1: boxPsnr(shown[1], src[1], box) };
}

function sharpGif(frames: RgbImage[], delaysMs: number[], opts: GifOptions): Promise<Buffer> {
  const { width, height } = frames[0];
  const all = Buffer.concat(frames.map((f) => Buffer.from(f.data.buffer, f.data.byteOffset, f.data.length)));
  return sharp(all, { raw: { width, height: height * frames.length, channels: 3, pageHeight: height } as CreateRaw })
    .gif({ ...opts, delay: delaysMs.map((d) => Math.round(d)), loop: 0 })
    .toBuffer();
}

/** The animation benchmarks' pair: grace_hopper's face taking franck_04117's expression, analysed once. */
export async function expressionPair() {
  const fixture = (f: string) => new Uint8Array(readFileSync(new URL(`../test/fixtures/faces/${f}`, import.meta.url)));
  const analyzer = await createFaceAnalyzer({ provider: "cpu", threads: 1 });
  const template = await decodeImage(fixture("grace_hopper_512x512.jpg"));
  const templateFace = (await analyzer.analyze(template)).faces[0]!;
  const reaction = await decodeImage(fixture("franck_04117.jpg"));
  const reactionFace = (await analyzer.analyze(reaction)).faces[0]!;
  await analyzer.dispose();
  const transfer = transferExpression({ template, templateFace, reaction, reactionFace });
  return { template, templateFace, reaction, reactionFace, transfer };
}

export async function run(ctx: BenchContext): Promise<string> {
  const roundsArg = ctx.args.find((a) => a.startsWith("--rounds="));
  const rounds = roundsArg ? Math.max(1, Number(roundsArg.split("=")[1])) : 5;
  const { template, templateFace, reaction, reactionFace, transfer } = await expressionPair();
  const k = SIZE / template.width;
  const faceBox = landmarkBox(scalePoints(templateFace.landmarks, k), scalePoints(transfer.landmarks, k));

  ctx.log(`expression morph: ${rounds} rounds of render + encode`);
  const render = () =>
    morphExpression({
      template: resizeImage(template, SIZE, SIZE),
      from: scalePoints(templateFace.landmarks, k),
      result: resizeImage(transfer.image, SIZE, SIZE),
      to: scalePoints(transfer.landmarks, k),
      frames: FRAMES,
    });
  render(); // warm-up (JIT)
  const rendered = await timed(rounds, render);
  const { frames, delaysMs } = rendered.value;
  await encodeGif(frames, { delaysMs });
  const ours = await timed(rounds, () => encodeGif(frames, { delaysMs }));
  const oursDither = await timed(rounds, () => encodeGif(frames, { delaysMs, dither: true }));
  const std = { colors: 255, dither: false, keepThresholdSq: KEEP_THRESHOLDS.standard };
  // Session 24's default: one palette (+ refinement), no loop tail; and two palettes without the loop tail.
  const oursOne = await timed(rounds, () => encodeWith(frames, delaysMs, { ...std, splitPalettes: false, loopTail: false }));
  const oursNoTail = await timed(rounds, () => encodeWith(frames, delaysMs, { ...std, loopTail: false }));
  const oursExactLzw = await timed(rounds, () => encodeWith(frames, delaysMs, { ...std, lossyLzw: false }));
  // Session 23's default: one palette for all frames + the refinement palette, exact LZW, ~6 levels kept.
  const oursBefore = await timed(rounds, () => encodeWith(frames, delaysMs, { ...std, keepThresholdSq: 108, splitPalettes: false, lossyLzw: false }));
  const oursLossy = await timed(rounds, () => encodeWith(frames, delaysMs, { ...std, keepThresholdSq: KEEP_THRESHOLDS.lossy }));
  const oursLocal = await timed(rounds, () => encodeWith(frames, delaysMs, { ...std, palettes: "per-frame" }));
  ctx.log("sharp's encoder (2 rounds per setting)…");
  const sharpDefault = await timed(2, () => sharpGif(frames, delaysMs, {}));
  const sharpFast = await timed(2, () => sharpGif(frames, delaysMs, { effort: 1, dither: 0 }));
  const psnr = {
    ours: await viewerPsnr(ours.value.bytes, frames, delaysMs),
    oursDither: await viewerPsnr(oursDither.value.bytes, frames, delaysMs),
    oursOne: await viewerPsnr(oursOne.value.bytes, frames, delaysMs),
    oursNoTail: await viewerPsnr(oursNoTail.value.bytes, frames, delaysMs),
    oursExactLzw: await viewerPsnr(oursExactLzw.value.bytes, frames, delaysMs),
    oursBefore: await viewerPsnr(oursBefore.value.bytes, frames, delaysMs),
    oursLossy: await viewerPsnr(oursLossy.value.bytes, frames, delaysMs),
    oursLocal: await viewerPsnr(oursLocal.value.bytes, frames, delaysMs),
    sharpDefault: await viewerPsnr(sharpDefault.value, frames, delaysMs),
    sharpFast: await viewerPsnr(sharpFast.value, frames, delaysMs),
  };

  const checks = {
    ours: await loopChecks(ours.value.bytes, frames, delaysMs, faceBox),
    oursOne: await loopChecks(oursOne.value.bytes, frames, delaysMs, faceBox),
    oursNoTail: await loopChecks(oursNoTail.value.bytes, frames, delaysMs, faceBox),
    sharpDefault: await loopChecks(sharpDefault.value, frames, delaysMs, faceBox),
  };
  const sourceTurn = changeShare(frames[frames.length - 1], frames[0], faceBox);

  ctx.log("two-face morph…");
  const faceRender = () =>
    morphFaces({ a: resizeImage(template, SIZE, SIZE), aLandmarks: scalePoints(templateFace.landmarks, k), b: reaction, bLandmarks: reactionFace.landmarks, frames: FRAMES });
  faceRender();
  const faces = await timed(rounds, faceRender);
  const facesGif = await timed(rounds, () => encodeGif(faces.value.frames, { delaysMs: faces.value.delaysMs }));
  const facesSharp = await timed(1, () => sharpGif(faces.value.frames, faces.value.delaysMs, {}));
  const facesPsnr = {
    ours: await viewerPsnr(facesGif.value.bytes, faces.value.frames, faces.value.delaysMs),
    sharp: await viewerPsnr(facesSharp.value, faces.value.frames, faces.value.delaysMs),
  };

  ctx.log("budget steps on the two-face morph…");
  const ff = faces.value.frames;
  const fd = faces.value.delaysMs;
  const base = { colors: 255, dither: false, keepThresholdSq: KEEP_THRESHOLDS.standard };
  const half = (a: RgbImage[]) => a.filter((_, i) => i % 2 === 0);
  const halfDelays = fd.filter((_, i) => i % 2 === 0).map((d, j) => d + (fd[2 * j + 1] ?? 0));
  const small = ff.map((f) => resizeImage(f, Math.round(SIZE * 0.8), Math.round(SIZE * 0.8)));
  const steps: [string, () => Uint8Array][] = [
    ["baseline (encodeGif default: 255 colours + refinement palette, lossy LZW, no dither, standard difference)", () => encodeWith(ff, fd, base).bytes],
    ["dithering on (for reference)", () => encodeWith(ff, fd, { ...base, dither: true }).bytes],
    ["lossier frame difference", () => encodeWith(ff, fd, { ...base, keepThresholdSq: KEEP_THRESHOLDS.lossy }).bytes],
    ["128 colours", () => encodeWith(ff, fd, { ...base, colors: 128 }).bytes],
    ["64 colours", () => encodeWith(ff, fd, { ...base, colors: 64 }).bytes],
    ["scaled to 80 %", () => encodeWith(small, fd, base).bytes],
    ["every other frame", () => encodeWith(half(ff), halfDelays, base).bytes],
  ];
  const stepRows: string[] = [];
  let baseBytes = 0;
  let basePsnr = 0;
  for (const [name, f] of steps) {
    const bytes = f();
    const p = await viewerPsnr(bytes, ff, fd);
    if (!baseBytes) {
      baseBytes = bytes.length;
      basePsnr = p;
    }
    const saved = (1 - bytes.length / baseBytes) * 100;
    const lost = basePsnr - p;
    const per = lost > 0.01 ? (saved / lost).toFixed(1) : "∞";
    stepRows.push(`| ${name} | ${(bytes.length / 1024).toFixed(0)} | ${saved.toFixed(1)} % | ${p.toFixed(2)} | ${lost.toFixed(2)} | ${baseBytes === bytes.length ? "–" : per} |`);
  }

  ctx.log("hard case: 24 noisy 256×256 frames, 400 KB budget…");
  let seed = 42;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) & 255);
  const noisy = Array.from({ length: 24 }, () => {
    const d = new Uint8Array(256 * 256 * 3);
    for (let i = 0; i < d.length; i++) d[i] = rnd();
    return { data: d, width: 256, height: 256 };
  });
  const hard = await timed(1, () => encodeGif(noisy, { delaysMs: 50, maxBytes: 400_000, dither: true }));
  const hardPsnr = await viewerPsnr(hard.value.bytes, noisy, Array(24).fill(50));

  const renderEncodeWall = rendered.wall + ours.wall;
  const renderEncodeCpu = rendered.cpu + ours.cpu;
  const m = ctx.machine;
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  const row = (name: string, t: { wall: number; cpu: number }, bytes: number, p: number) =>
    `| ${name} | ${ms(t.wall)} | ${ms(t.cpu)} | ${kb(bytes)} | ${p.toFixed(2)} |`;
  return [
    `Machine: ${m.summary}. Rounds: ${rounds} (sharp: 2). Frames: ${FRAMES} × ${SIZE}×${SIZE}, grace_hopper → franck_04117 expression (pingpong, 20 fps).`,
    "",
    `**Expression morph render + encode: ${ms(renderEncodeWall)} ms wall, ${ms(renderEncodeCpu)} ms CPU** (render ${ms(rendered.wall)} / ${ms(rendered.cpu)}, encode ${ms(ours.wall)} / ${ms(ours.cpu)}); target ≤ ${TARGET_MS} ms.`,
    "",
    "| encoder (same 24 frames) | wall ms | CPU ms | bytes | PSNR dB |",
    "|---|---:|---:|---:|---:|",
    row("ours (default: first frame's own palette, the global one fitted to what moves, loop tail, lossy LZW in textured areas, no dither)", ours, ours.value.bytes.length, psnr.ours),
    row("ours, two palettes without the loop tail", oursNoTail, oursNoTail.value.bytes.length, psnr.oursNoTail),
    row("ours, session 24 default (one palette + refinement palette on frame 2, no loop tail)", oursOne, oursOne.value.bytes.length, psnr.oursOne),
    row("ours, exact LZW", oursExactLzw, oursExactLzw.value.bytes.length, psnr.oursExactLzw),
    row("ours, session 23 default (one palette + refinement, exact LZW, keep ≤ 6 levels)", oursBefore, oursBefore.value.bytes.length, psnr.oursBefore),
    row("ours, dithered", oursDither, oursDither.value.bytes.length, psnr.oursDither),
    row("ours, lossier frame difference (a budget step)", oursLossy, oursLossy.value.bytes.length, psnr.oursLossy),
    row("ours, a palette per frame (PNN on each)", oursLocal, oursLocal.value.bytes.length, psnr.oursLocal),
    row("sharp .gif() defaults (effort 7, dither 1)", sharpDefault, sharpDefault.value.length, psnr.sharpDefault),
    row("sharp .gif({ effort: 1, dither: 0 })", sharpFast, sharpFast.value.length, psnr.sharpFast),
    "",
    `Ours vs sharp defaults: ${(sharpDefault.wall / ours.wall).toFixed(1)}× faster (wall), ${(sharpDefault.cpu / ours.cpu).toFixed(1)}× less CPU, ` +
      `${((ours.value.bytes.length / sharpDefault.value.length) * 100).toFixed(1)} % of its bytes, ${(psnr.ours - psnr.sharpDefault).toFixed(2)} dB PSNR difference.`,
    "",
    `Loop turn and first frames (face box ${faceBox.x1 - faceBox.x0}×${faceBox.y1 - faceBox.y0}: both ends' landmarks). Turn: share of the face's pixels changing by more than 8 levels from the last frame to frame 0 as shown (the source: ${(sourceTurn * 100).toFixed(1)} %).`,
    "",
    "| encoder | loop turn | frame 0 face dB | frame 1 face dB |",
    "|---|---:|---:|---:|",
    ...(
      [
        ["ours (default)", checks.ours],
        ["ours, two palettes without the loop tail", checks.oursNoTail],
        ["ours, session 24 default", checks.oursOne],
        ["sharp .gif() defaults", checks.sharpDefault],
      ] as const
    ).map(([name, c]) => `| ${name} | ${(c.turn * 100).toFixed(1)} % | ${c.f0.toFixed(2)} | ${c.f1.toFixed(2)} |`),
    "",
    `Two-face morph (grace_hopper → franck_04117, ${FRAMES} frames ${SIZE}×${SIZE}): render ${ms(faces.wall)} ms wall / ${ms(faces.cpu)} CPU, ` +
      `encode ${ms(facesGif.wall)} / ${ms(facesGif.cpu)}: ${kb(facesGif.value.bytes.length)} at ${facesPsnr.ours.toFixed(2)} dB; ` +
      `sharp defaults ${ms(facesSharp.wall)} ms wall: ${kb(facesSharp.value.length)} at ${facesPsnr.sharp.toFixed(2)} dB.`,
    "",
    "Budget steps, each alone on the two-face morph (PSNR as the viewer sees it, at source size and timing):",
    "",
    "| step | KiB | bytes saved | PSNR dB | dB lost | % saved per dB |",
    "|---|---:|---:|---:|---:|---:|",
    ...stepRows,
    "",
    `Hard case (24 frames of 256×256 RGB noise, dithered, budget 400 000 B): ${hard.value.bytes.length} B (${hardPsnr.toFixed(2)} dB) in ${ms(hard.wall)} ms wall / ${ms(hard.cpu)} CPU, reductions: ${hard.value.reductions.join(" → ")}.`,
  ].join("\n");
}
