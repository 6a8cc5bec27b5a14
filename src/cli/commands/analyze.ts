import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { MimicError } from "../../errors.ts";
import { analyzeBytes } from "../../pipeline/face/index.ts";
import type { FaceAnalysis } from "../../pipeline/types.ts";

/** `mimic analyze <image> [--json] [--landmarks] [--max-faces n]`: run face analysis on one file. */
export function register(program: Command): void {
  program
    .command("analyze")
    .description("Detect faces in an image and print boxes, head pose, quality and timings")
    .argument("<image>", "JPEG, PNG, WebP or GIF file")
    .option("--json", "print machine-readable JSON")
    .option("--landmarks", "include the 468 landmarks per face in the JSON output")
    .option("--max-faces <n>", "report at most this many faces (largest first)", "20")
    .action(async (file: string, o: { json?: boolean; landmarks?: boolean; maxFaces: string }) => {
      const maxFaces = Number(o.maxFaces);
      if (!Number.isInteger(maxFaces) || maxFaces < 0) {
        throw new MimicError("BAD_INPUT", `--max-faces must be a whole number ≥ 0 (got "${o.maxFaces}").`);
      }
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (cause) {
        throw new MimicError("BAD_INPUT", `Cannot read "${file}": ${(cause as NodeJS.ErrnoException).code ?? "error"}.`, { cause });
      }
      const { image: _image, ...analysis } = await analyzeBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), { maxFaces });
      process.stdout.write(o.json ? `${JSON.stringify(toJson(analysis, !!o.landmarks), null, 2)}\n` : summary(file, analysis));
    });
}

const r1 = (v: number) => Math.round(v * 10) / 10;
const r3 = (v: number) => Math.round(v * 1000) / 1000;

function toJson(a: FaceAnalysis, withLandmarks: boolean) {
  return {
    width: a.width,
    height: a.height,
    faces: a.faces.map((f) => ({
      box: { x: r1(f.box.x), y: r1(f.box.y), width: r1(f.box.width), height: r1(f.box.height) },
      score: r3(f.score),
      meshScore: r3(f.meshScore),
      keypoints: f.keypoints.map((p) => ({ x: r1(p.x), y: r1(p.y) })),
      pose: { yaw: r1(f.pose.yaw), pitch: r1(f.pose.pitch), roll: r1(f.pose.roll) },
      quality: {
        faceSizePx: r1(f.quality.faceSizePx),
        eyeOpennessLeft: r3(f.quality.eyeOpennessLeft),
        eyeOpennessRight: r3(f.quality.eyeOpennessRight),
        mouthOpenness: r3(f.quality.mouthOpenness),
        sharpness: r1(f.quality.sharpness),
      },
      ...(withLandmarks ? { landmarks: Array.from(f.landmarks, r1) } : {}),
    })),
    timingsMs: Object.fromEntries(Object.entries(a.timingsMs).map(([k, v]) => [k, r1(v)])),
  };
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
