import type { Command } from "commander";
import {
  checkOutputFile,
  configuredAnalyzer,
  inputLimits,
  choice,
  memeRequestFromFlags,
  printNotes,
  readInputFile,
  readReactionFrames,
  wholeNumber,
  writeOutputFile,
} from "../args.ts";
import { MimicError, quoted } from "../../errors.ts";
import type { Regions, TransferMode } from "../../pipeline/transfer/index.ts";
import type { LoopMode } from "../../pipeline/animate/index.ts";
import type { InputLimits } from "../../pipeline/settings.ts";

/** The pipeline, loaded once the flags and files passed their checks (see meme-pipeline.ts). */
type Pipeline = typeof import("./meme-pipeline.ts");

/** A video, or a GIF/WebP/APNG of several frames (read from its header; an unreadable file is left to makeMeme's refusal). */
async function moves(p: Pipeline, bytes: Uint8Array): Promise<boolean> {
  if (p.sniffVideoMime(bytes)) return true;
  return ((await p.readHeader(bytes, Number.POSITIVE_INFINITY).catch(() => undefined))?.pages ?? 1) > 1;
}

interface MemeFlags {
  face: string;
  reaction: string;
  mode: string;
  intensity: string;
  regions: string;
  faceIndex: string;
  top?: string;
  bottom?: string;
  keepCase?: boolean;
  out: string;
  json?: boolean;
  animate?: boolean;
  frames?: string;
  fps?: string;
  loop?: string;
  maxBytes?: string;
}

/**
 * `mimic meme --face <template> --reaction <image> --out <file.png> [...]`: the expression-transfer engine
 * from the command line (flags are stable: the engine is evaluated from outside through them).
 */
export function register(program: Command): void {
  program
    .command("meme")
    .description("Make a meme: your face (--face) wearing the expression of a reaction image")
    .requiredOption("--face <file>", "template photo of your face (JPEG, PNG, WebP or GIF)")
    .requiredOption("--reaction <file>", "reaction image, GIF, WebP, APNG or MP4/WebM clip whose expression is copied")
    .requiredOption("--out <file.png|file.gif>", "where to write the meme: .png, or .gif for an animated one")
    .option("--mode <mode>", "mimic (your photo, their expression) or swap (your face in their image)", "mimic")
    .option("--intensity <0..100>", "how strongly the expression is applied, in percent (as in the bots)", "100")
    .option("--regions <which>", "all, upper (brows and eyes) or lower (mouth and jaw)", "all")
    .option("--face-index <n>", "which face of the reaction to copy (0 = largest)", "0")
    .option("--top <text>", "top caption (\\n or ~n starts a new line; \\\\n writes \\n)")
    .option("--bottom <text>", "bottom caption")
    .option("--keep-case", "draw the captions as typed, not in capitals")
    .option("--animate", "the bots' animated option: --out x.gif already makes the meme animated; with --animate a non-.gif --out is refused")
    .option("--frames <n>", "frames of the morph (GIF output)")
    .option("--fps <n>", "frame rate of the morph (GIF output)")
    .option("--loop <mode>", "pingpong or forward (GIF output)")
    .option("--max-bytes <n>", "byte budget of the GIF (default 10 MiB)")
    .option("--json", "print faces used, timings per stage and the output path as JSON")
    .action(async (o: MemeFlags) => {
      // The same request rules as the bots and the playground: captions (length), mode, regions, intensity.
      const req = memeRequestFromFlags({ top: o.top, bottom: o.bottom, mode: o.mode, regions: o.regions, intensity: o.intensity, keepCase: o.keepCase });
      const mode: TransferMode = req.mode;
      const regions: Regions = req.regions ?? "all";
      const captions = { top: req.top, bottom: req.bottom, keepCase: req.keepCase };
      const intensity = req.intensity;
      const faceIndex = Number(o.faceIndex);
      if (!/^\d+$/.test(o.faceIndex.trim()) || !Number.isSafeInteger(faceIndex)) {
        throw new MimicError("BAD_INPUT", `--face-index must be a whole number ≥ 0 (got ${quoted(o.faceIndex)}; 0 is the largest face).`);
      }
      const gifOut = /\.gif$/i.test(o.out);
      if (!gifOut && !/\.png$/i.test(o.out)) {
        throw new MimicError("BAD_INPUT", `--out must name a .png or .gif file (got ${quoted(o.out)}).`);
      }
      if (o.animate && !gifOut) throw new MimicError("BAD_INPUT", "--animate makes a GIF: give --out a .gif file name.");
      // Said, not silently ignored: these shape only an animated output.
      const gifOnly = (["frames", "fps", "loop", "maxBytes"] as const).filter((k) => o[k] !== undefined);
      if (gifOnly.length && !gifOut) {
        const flags = gifOnly.map((k) => (k === "maxBytes" ? "--max-bytes" : `--${k}`)).join(", ");
        throw new MimicError("BAD_INPUT", `${flags} shape${gifOnly.length === 1 ? "s" : ""} a GIF: give --out a .gif file name, or leave ${gifOnly.length === 1 ? "it" : "them"} out.`);
      }
      // Before the work: a folder that is not there would otherwise fail the write after the whole meme was made.
      await checkOutputFile(o.out);
      const [template, reactionFile] = await Promise.all([readInputFile(o.face, "--face"), readInputFile(o.reaction, "--reaction", true)]);
      const p = await import("./meme-pipeline.ts");
      const limits = inputLimits();
      let reaction = reactionFile;
      if (!gifOut && (await moves(p, reactionFile))) {
        // A still meme of an animation or a video (read by ffmpeg) takes its first frame that shows a face, as a PNG for
        // makeMeme (an APNG's default image, which makeMeme would read, may be no frame of its animation).
        const analyzer = await configuredAnalyzer();
        const still = await p.stillReaction((first) => readReactionFrames(reactionFile, limits, first), (image) => analyzer.analyze(image));
        if (still.laterFrameMs !== undefined) printNotes([p.laterFrameNote(still.laterFrameMs)]);
        reaction = await p.encodePng(still.image);
      }
      if (gifOut) {
        await writeAnimatedMeme(p, o, template, reaction, { mode, regions, intensity, faceIndex, captions, limits });
        return;
      }
      const sources = { face: quoted(o.face), reaction: quoted(o.reaction) };
      const meme = await p.makeMeme(template, reaction, { mode, regions, intensity, faceIndex, captions, sources, limits }, await configuredAnalyzer());
      printNotes([...whichFace(p, faceIndex, meme.reactionFaceCount), ...meme.notes]);
      await writeOutputFile(o.out, meme.png);
      const r1 = (v: number) => Math.round(v * 10) / 10;
      const face = (f: typeof meme.templateFace) => ({
        box: { x: r1(f.box.x), y: r1(f.box.y), width: r1(f.box.width), height: r1(f.box.height) },
        score: Math.round(f.score * 1000) / 1000,
        pose: { yaw: r1(f.pose.yaw), pitch: r1(f.pose.pitch), roll: r1(f.pose.roll) },
        faceSizePx: r1(f.quality.faceSizePx),
      });
      if (o.json) {
        const json = {
          out: o.out,
          width: meme.image.width,
          height: meme.image.height,
          bytes: meme.png.length,
          mode,
          // In the flag's unit (percent), as given.
          intensity: Math.round(intensity * 100),
          regions,
          faces: {
            template: face(meme.templateFace),
            reaction: { index: meme.reactionFaceIndex, of: meme.reactionFaceCount, ...face(meme.reactionFace) },
          },
          mouthSynthesised: meme.mouthSynthesised,
          changedBox: meme.changedBox,
          timingsMs: Object.fromEntries(Object.entries(meme.timingsMs).map(([k, v]) => [k, r1(v)])),
        };
        process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      } else {
        process.stdout.write(
          `${o.out}: ${meme.image.width}×${meme.image.height} ${mode}, reaction face ${meme.reactionFaceIndex} of ${meme.reactionFaceCount}, ` +
            `${meme.timingsMs.total!.toFixed(0)} ms\n`,
        );
      }
    });
}

/**
 * The bots' note on a reaction with several faces ("…; I used the largest"), where the largest was used. A face
 * picked with --face-index gets none: the user chose it, and the bots, which cannot pick, have no words for it.
 */
function whichFace(p: Pipeline, faceIndex: number, faces: number): string[] {
  return faceIndex === 0 ? p.reactionFacesNote(faces) : [];
}

/**
 * `--out x.gif`: a still reaction becomes a morph from the template's expression to the transferred one;
 * an animated reaction (GIF / animated WebP / APNG / clip) gets the expression transferred frame by frame.
 */
async function writeAnimatedMeme(
  p: Pipeline,
  o: MemeFlags,
  templateBytes: Uint8Array,
  reactionBytes: Uint8Array,
  opts: { mode: TransferMode; regions: Regions; intensity: number; faceIndex: number; captions: { top?: string; bottom?: string; keepCase?: boolean }; limits: InputLimits },
): Promise<void> {
  const count = (flag: string, v: string | undefined, min: number, max: number) =>
    v === undefined ? undefined : wholeNumber(flag, v, min, max);
  const frames = count("--frames", o.frames, 2, 96);
  const fps = count("--fps", o.fps, 1, 50);
  const maxBytes = count("--max-bytes", o.maxBytes, 4096, 1024 * 1024 * 1024) ?? p.DEFAULT_GIF_MAX_BYTES;
  const loop = o.loop === undefined ? undefined : choice<LoopMode>("--loop", o.loop, ["pingpong", "forward"]);
  const t0 = performance.now();
  const [template, reaction] = await Promise.all([p.decodeImage(templateBytes, opts.limits), readReactionFrames(reactionBytes, opts.limits)]);
  const analyzer = await configuredAnalyzer();
  const { face: templateFace, notes: photoNotes } = p.photoFace(await analyzer.analyze(template), quoted(o.face));
  printNotes(photoNotes);
  // The reaction's face is chosen here so --face-index applies: a still's, or the one an animation tracks from.
  let reactionFaces: Awaited<ReturnType<Pipeline["trackReactionFaces"]>>["faces"];
  let chosenAmong: number;
  if (reaction.frames.length === 1) {
    const analysis = await analyzer.analyze(reaction.frames[0]!);
    reactionFaces = [p.selectFace(analysis, "reaction", opts.faceIndex, quoted(o.reaction))];
    chosenAmong = analysis.faces.length;
  } else {
    ({ faces: reactionFaces, chosenAmong } = await p.trackReactionFaces(reaction.frames, opts.faceIndex, analyzer));
  }
  printNotes(whichFace(p, opts.faceIndex, chosenAmong));
  const result = await p.assembleMeme({
    template,
    templateFace,
    reaction: { frames: reaction.frames, delaysMs: reaction.delaysMs },
    reactionFaces,
    captions: opts.captions,
    mode: opts.mode,
    intensity: opts.intensity,
    regions: opts.regions,
    output: { kind: "animation", format: "gif", morph: { frames, fps, loop }, maxBytes, maxBytesFlag: "--max-bytes" },
  });
  printNotes(result.notes);
  const gif = { ...result.animation!, bytes: result.bytes, width: result.width, height: result.height };
  await writeOutputFile(o.out, gif.bytes);
  const totalMs = performance.now() - t0;
  if (o.json) {
    const r1 = (v: number) => Math.round(v * 10) / 10;
    const json = {
      out: o.out,
      kind: gif.kind,
      width: gif.width,
      height: gif.height,
      frames: gif.frames,
      bytes: gif.bytes.length,
      colors: gif.colors,
      reductions: gif.reductions,
      faceFrames: gif.faceFrames,
      carriedFrames: gif.carriedFrames,
      mode: opts.mode,
      timingsMs: { ...Object.fromEntries(Object.entries(result.timingsMs).map(([k, v]) => [k, r1(v)])), total: r1(totalMs) },
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    process.stdout.write(
      `${o.out}: ${gif.kind} GIF ${gif.width}×${gif.height}, ${gif.frames} frames, ` +
        `${gif.bytes.length} bytes, ${totalMs.toFixed(0)} ms\n`,
    );
  }
}
