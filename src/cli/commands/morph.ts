import type { Command } from "commander";
import { checkOutputFile, configuredAnalyzer, inputLimits, choice, printNotes, readInputFile, readReactionFrames, wholeNumber, writeOutputFile } from "../args.ts";
import { parseMorphRequest } from "../../requests.ts";
import { MimicError, quoted } from "../../errors.ts";
import { renderFaceMorphGif, type LoopMode } from "../../pipeline/animate/index.ts";
import { DEFAULT_GIF_MAX_BYTES } from "../../pipeline/gif/index.ts";
import { decodeImage } from "../../pipeline/image/index.ts";
import { assembleMeme } from "../../pipeline/meme.ts";
import { prepareCaptions } from "../../pipeline/render/index.ts";
import { photoFace, selectFace } from "../../pipeline/transfer/index.ts";

interface MorphFlags {
  from: string;
  to?: string;
  mode: string;
  frames: string;
  fps: string;
  loop: string;
  size: string;
  maxBytes: string;
  top?: string;
  bottom?: string;
  keepCase?: boolean;
  dither?: boolean;
  out: string;
  json?: boolean;
}

/**
 * `mimic morph --from <face> --to <image> --out <file.gif>`: animated output from the command line.
 *  - --to a still image, --mode expression (default): the --from face morphs into --to's expression;
 *  - --to a still image, --mode faces: the classic morph from one face into the other;
 *  - --to an animated GIF/WebP/APNG or a clip: every frame's expression transferred onto the --from face.
 */
export function register(program: Command): void {
  program
    .command("morph")
    .description("Animated GIF: your face (--from) morphing into another expression or face (--to)")
    .requiredOption("--from <image>", "photo of the face that animates (JPEG, PNG, WebP or GIF)")
    .option("--to <image>", "reaction image (still or animated, or an MP4/WebM clip) or second face; required")
    .requiredOption("--out <file.gif>", "where to write the GIF")
    .option("--mode <mode>", "expression (morph into --to's expression) or faces (morph into --to's face)", "expression")
    .option("--frames <n>", "frames in the morph", "24")
    .option("--fps <n>", "frames per second", "20")
    .option("--loop <mode>", "pingpong (there and back) or forward", "pingpong")
    .option("--size <px>", "longest side of the GIF", "384")
    .option("--max-bytes <n>", "byte budget the GIF must meet", String(DEFAULT_GIF_MAX_BYTES))
    .option("--top <text>", "top caption (\\n or ~n starts a new line; \\\\n writes \\n)")
    .option("--bottom <text>", "bottom caption")
    .option("--keep-case", "draw the captions as typed, not in capitals")
    .option("--dither", "Floyd–Steinberg dithering (smoother gradients, bigger file)")
    .option("--json", "print frames, size, bytes, reductions and timings as JSON")
    .action(async (o: MorphFlags) => {
      if (!o.to) {
        throw new MimicError("BAD_INPUT", "Give --to <image>: the reaction (still or animated) or the second face to morph into.");
      }
      const mode = choice("--mode", o.mode, ["expression", "faces"] as const);
      const loop = choice("--loop", o.loop, ["pingpong", "forward"] as const) as LoopMode;
      const frames = wholeNumber("--frames", o.frames, 2, 120);
      const fps = wholeNumber("--fps", o.fps, 1, 50);
      const size = wholeNumber("--size", o.size, 16, 2048);
      const maxBytes = wholeNumber("--max-bytes", o.maxBytes, 4096, 1024 * 1024 * 1024);
      if (!/\.gif$/i.test(o.out)) throw new MimicError("BAD_INPUT", `--out must name a .gif file (got ${quoted(o.out)}).`);
      // Before the work: a folder that is not there would otherwise fail the write after the whole morph was made.
      await checkOutputFile(o.out);
      const [fromBytes, toBytes] = await Promise.all([readInputFile(o.from, "--from"), readInputFile(o.to, "--to", true)]);
      // Captions by the same rules as every other entrance (length here; marks and fonts where they are drawn).
      const req = parseMorphRequest({ top: o.top, bottom: o.bottom, keepCase: o.keepCase }, { top: "--top", bottom: "--bottom", keepCase: "--keep-case" });
      const captions = { top: req.top, bottom: req.bottom, keepCase: req.keepCase };
      const limits = inputLimits();
      const analyzer = await configuredAnalyzer();
      const template = await decodeImage(fromBytes, limits);
      const { face: templateFace, notes: photoNotes } = photoFace(await analyzer.analyze(template), quoted(o.from));
      printNotes(photoNotes);
      // The reading `mimic meme` and the bots' workers share: a long or large animation sampled and scaled, a clip by ffmpeg.
      const reaction = await readReactionFrames(toBytes, limits);
      const morph = { frames, fps, loop };
      let result: { bytes: Uint8Array; frames: number; width: number; height: number; colors: number; reductions: string[] };
      let kind: string;
      let timingsMs: Record<string, number>;
      if (mode === "faces") {
        if (reaction.frames.length > 1) throw new MimicError("BAD_INPUT", "--mode faces needs a still photo for --to.");
        const bFace = selectFace(await analyzer.analyze(reaction.frames[0]), "reaction", undefined, quoted(o.to));
        const prepared = prepareCaptions(captions);
        const r = await renderFaceMorphGif({ a: template, aFace: templateFace, b: reaction.frames[0], bFace, morph, size, captions: prepared.captions, maxBytes, dither: o.dither });
        // After drawing: a caption cut to stay legible adds its note there.
        printNotes(prepared.notes);
        result = r.gif;
        kind = "faces";
        timingsMs = r.timingsMs;
      } else {
        // A still --to's face is checked here, so a refusal names the file.
        const reactionFaces = reaction.frames.length === 1 ? [selectFace(await analyzer.analyze(reaction.frames[0]), "reaction", undefined, quoted(o.to))] : undefined;
        const r = await assembleMeme({
          template,
          templateFace,
          reaction: { frames: reaction.frames, delaysMs: reaction.delaysMs },
          reactionFaces,
          captions,
          output: { kind: "animation", format: "gif", morph, size, maxBytes, maxBytesFlag: "--max-bytes", dither: o.dither },
        });
        printNotes(r.notes);
        const a = r.animation!;
        result = { bytes: r.bytes, frames: a.frames, width: r.width, height: r.height, colors: a.colors ?? 0, reductions: a.reductions };
        kind = a.kind;
        timingsMs = r.timingsMs;
      }
      await writeOutputFile(o.out, result.bytes);
      const summary = {
        out: o.out,
        kind,
        bytes: result.bytes.length,
        frames: result.frames,
        width: result.width,
        height: result.height,
        colors: result.colors,
        reductions: result.reductions,
        timingsMs: Object.fromEntries(Object.entries(timingsMs).map(([k, v]) => [k, Math.round(v * 10) / 10])),
      };
      if (o.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else {
        process.stdout.write(
          `${o.out}: ${kind}, ${result.frames} frames ${result.width}×${result.height}, ${(result.bytes.length / 1024).toFixed(0)} KiB` +
            `${result.reductions.length ? ` (reduced: ${result.reductions.join(", ")})` : ""}, ${timingsMs.total.toFixed(0)} ms\n`,
        );
      }
    });
}
