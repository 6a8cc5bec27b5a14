import type { Command } from "commander";
import { MimicError, quoted, userMessageOf } from "../../errors.ts";
import { loadConfig, modelCacheDir } from "../../config.ts";
import { inputLimits, readPictureFile } from "../args.ts";
import { analyzeBytes } from "../../pipeline/face/index.ts";
import { measureExpression } from "../../pipeline/transfer/index.ts";
import type { FaceAnalysis } from "../../pipeline/types.ts";

/**
 * `mimic analyze <image…> [--json] [--landmarks] [--max-faces n]`: run face analysis on each file, loading the
 * models once. With --json, one JSON line per image (in the order given), so a reader can stream them; an image
 * that cannot be read gets a line with `error` and the command exits 1 after the rest.
 */
export function register(program: Command): void {
  program
    .command("analyze")
    .description("Detect faces in images and print boxes, head pose, expression, quality and timings")
    .argument("<image...>", "JPEG, PNG, WebP or GIF files")
    .option("--json", "print one machine-readable JSON line per image")
    .option("--landmarks", "include the 468 landmarks per face ([x, y, z] in image pixels) in the JSON output")
    .option("--max-faces <n>", "report at most this many faces per image (largest first)", "20")
    .action(async (files: string[], o: { json?: boolean; landmarks?: boolean; maxFaces: string }) => {
      const maxFaces = Number(o.maxFaces);
      // 0 would report every picture as having no face.
      if (!/^\d+$/.test(o.maxFaces.trim()) || !Number.isSafeInteger(maxFaces) || maxFaces < 1) {
        throw new MimicError("BAD_INPUT", `--max-faces must be a whole number ≥ 1 (got ${quoted(o.maxFaces)}).`);
      }
      if (o.landmarks && !o.json) throw new MimicError("BAD_INPUT", "--landmarks adds the 468 landmarks to the JSON lines: use it with --json.");
      const failed: string[] = [];
      let firstError: MimicError | undefined;
      // The configuration's upload guards and onnxruntime options (the pipeline reads no environment).
      const limits = inputLimits();
      const c = loadConfig();
      const inference = { provider: c.ORT_EXECUTION_PROVIDER, threads: c.ORT_THREADS, modelCacheDir: modelCacheDir(c) };
      for (const file of files) {
        try {
          const { image: _image, ...analysis } = await analyzeBytes(await readPictureFile(file, c.MAX_INPUT_BYTES), { maxFaces, ...limits, inference });
          process.stdout.write(o.json ? `${JSON.stringify(toJson(file, analysis, !!o.landmarks))}\n` : summary(file, analysis));
        } catch (cause) {
          if (!(cause instanceof MimicError)) throw cause;
          failed.push(file);
          firstError ??= cause;
          if (o.json) process.stdout.write(`${JSON.stringify({ path: file, error: { code: cause.code, message: cause.userMessage } })}\n`);
          else process.stderr.write(`${file}: ${userMessageOf(cause)}\n`);
        }
      }
      // The first failure's code sets the exit status, as it would for that file alone.
      if (firstError) throw new MimicError(firstError.code, `${failed.length} of ${files.length} images could not be analysed: ${failed.join(", ")}.`);
    });
}

const r1 = (v: number) => Math.round(v * 10) / 10;
const r2 = (v: number) => Math.round(v * 100) / 100;
const r3 = (v: number) => Math.round(v * 1000) / 1000;
const r4 = (v: number) => Math.round(v * 10000) / 10000;

function toJson(path: string, a: FaceAnalysis, withLandmarks: boolean) {
  return {
    path,
    width: a.width,
    height: a.height,
    faces: a.faces.map((f) => ({
      box: { x: r1(f.box.x), y: r1(f.box.y), width: r1(f.box.width), height: r1(f.box.height) },
      score: r3(f.score),
      meshScore: r3(f.meshScore),
      keypoints: f.keypoints.map((p) => ({ x: r1(p.x), y: r1(p.y) })),
      pose: { yaw: r1(f.pose.yaw), pitch: r1(f.pose.pitch), roll: r1(f.pose.roll) },
      // Size- and pose-free measures (src/pipeline/transfer/measure.ts), the ones the evaluation compares.
      expression: Object.fromEntries(Object.entries(measureExpression(f.landmarks)).map(([k, v]) => [k, r4(v)])),
      quality: {
        faceSizePx: r1(f.quality.faceSizePx),
        eyeOpennessLeft: r3(f.quality.eyeOpennessLeft),
        eyeOpennessRight: r3(f.quality.eyeOpennessRight),
        mouthOpenness: r3(f.quality.mouthOpenness),
        sharpness: r1(f.quality.sharpness),
      },
      ...(withLandmarks ? { landmarks: points(f.landmarks) } : {}),
    })),
    timingsMs: Object.fromEntries(Object.entries(a.timingsMs).map(([k, v]) => [k, r1(v)])),
  };
}

/** Flat x,y,z → [[x, y, z], …], to 0.01 px (sub-pixel detail a reader may measure expressions from). */
function points(lm: Float32Array): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i + 2 < lm.length; i += 3) out.push([r2(lm[i]!), r2(lm[i + 1]!), r2(lm[i + 2]!)]);
  return out;
}

function summary(file: string, a: FaceAnalysis): string {
  const lines = [`${file}: ${a.width}×${a.height}, ${a.faces.length === 0 ? "no face found" : `${a.faces.length} face${a.faces.length > 1 ? "s" : ""}`}`];
  a.faces.forEach((f, i) => {
    const q = f.quality;
    lines.push(
      `  face ${i + 1}: box ${Math.round(f.box.x)},${Math.round(f.box.y)} ${Math.round(f.box.width)}×${Math.round(f.box.height)}  score ${f.score.toFixed(2)}`,
      `    pose: yaw ${f.pose.yaw.toFixed(0)}°, pitch ${f.pose.pitch.toFixed(0)}°, roll ${f.pose.roll.toFixed(0)}°`,
      `    quality: size ${Math.round(q.faceSizePx)} px, eyes ${q.eyeOpennessLeft.toFixed(2)}/${q.eyeOpennessRight.toFixed(2)} (left/right), mouth ${q.mouthOpenness.toFixed(2)}, sharpness ${q.sharpness.toFixed(0)}`,
    );
  });
  lines.push(`  timings: ${Object.entries(a.timingsMs).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(", ")}`);
  return `${lines.join("\n")}\n`;
}
