// Does the attention mesh (facemesh-attention.onnx) place the inner lips and eyelids better than the plain
// mesh (facemesh.onnx)? Runs both on the same crops of the franck fixtures and compares against points
// annotated by hand, then times every model. `npx tsx tools/convert/evaluate-attention.ts [--render DIR]`
// (the numbers go into models/README.md).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { MODEL_SOURCES, loadSourceFiles } from "./sources.ts";
import { loadTfjsModel, runTfjs, tf } from "./tfjs-reference.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const FACES = join(ROOT, "test", "fixtures", "faces");
type Pt = [number, number];

interface Annotation {
  crop: { left: number; top: number; width: number; height: number };
  /** Hand-annotated in original image pixels on 4x/8x nearest-neighbour zooms with a 10-px grid (±1.5 px). */
  points: Record<string, Pt>;
}

// Mesh indices (MediaPipe canonical): 13/14 inner lip midline upper/lower, 78/308 inner lip corners,
// 159/145 upper/lower lid of the eye on the image's left (subject's right), 33/133 its corners,
// 386/374 and 263/362 the same for the eye on the image's right.
const ANNOTATED: Record<string, Annotation> = {
  "franck_04117.jpg": {
    crop: { left: 175, top: 137, width: 380, height: 380 },
    points: {
      13: [362, 360.5], 14: [362, 389], 78: [315, 369], 308: [421, 365],
      159: [312, 236.5], 145: [312, 249.5], 33: [297, 246], 133: [342.5, 248],
      386: [428, 230.5], 374: [428, 242], 362: [397.5, 244.5], 263: [452.5, 244],
    },
  },
  "franck_01829.jpg": {
    crop: { left: 204, top: 142, width: 382, height: 382 },
    points: {
      13: [405, 388], 14: [405, 388], 78: [364, 397], 308: [452, 378],
      159: [335, 260], 145: [335, 278], 33: [312, 272.5], 133: [363, 267.5],
      386: [447, 235.5], 374: [447, 253], 362: [421, 249], 263: [477.5, 248],
    },
  },
};
const OPENINGS: Record<string, [number, number]> = { mouth: [13, 14], eyeImageLeft: [159, 145], eyeImageRight: [386, 374] };

// Inner-lip ring and both eyelid rings (MediaPipe canonical indices), drawn by --render.
const CONTOURS = [
  [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95, 78],
  [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7, 33],
  [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249, 263],
];

const refinement = JSON.parse(readFileSync(join(ROOT, "models", "facemesh-attention.refinement.json"), "utf8")) as Record<string, number[]>;

async function crop192(file: string, c: Annotation["crop"]): Promise<Float32Array> {
  const data = await sharp(join(FACES, file)).removeAlpha().extract(c).resize(192, 192, { fit: "fill" }).raw().toBuffer();
  return Float32Array.from(data, (v) => v / 255);
}

const session = (file: string) => ort.InferenceSession.create(join(ROOT, "models", file), { intraOpNumThreads: 2, interOpNumThreads: 1 });

/** 468 points in original image pixels from the plain mesh. */
async function plainMesh(s: ort.InferenceSession, x: Float32Array, c: Annotation["crop"]): Promise<Pt[]> {
  const out = await s.run({ input_1: new ort.Tensor("float32", x, [1, 192, 192, 3]) });
  const m = out.Identity_2.data as Float32Array;
  return Array.from({ length: 468 }, (_, i) => [c.left + (m[i * 3] * c.width) / 192, c.top + (m[i * 3 + 1] * c.height) / 192]);
}

/** 468 points from the attention mesh with its refined lips/eyes written over the mesh points they replace. */
async function attentionMesh(s: ort.InferenceSession, x: Float32Array, c: Annotation["crop"], refine: boolean) {
  const out = await s.run({ input_1: new ort.Tensor("float32", x, [1, 192, 192, 3]) });
  const m = out.output_mesh_identity.data as Float32Array;
  const toImage = (px: number, py: number): Pt => [c.left + (px * c.width) / 192, c.top + (py * c.height) / 192];
  const pts: Pt[] = Array.from({ length: 468 }, (_, i) => toImage(m[i * 3], m[i * 3 + 1]));
  let replacedShift = 0;
  let replaced = 0;
  if (refine)
    for (const key of ["output_lips", "output_left_eye", "output_right_eye"]) {
      const r = out[key].data as Float32Array;
      refinement[key].forEach((meshIndex, k) => {
        const p = toImage(r[k * 2], r[k * 2 + 1]);
        replacedShift += Math.hypot(p[0] - pts[meshIndex][0], p[1] - pts[meshIndex][1]);
        replaced++;
        pts[meshIndex] = p;
      });
    }
  return { pts, meanShift: replaced ? replacedShift / replaced : 0, out };
}

const dist = (a: Pt, b: Pt) => Math.hypot(a[0] - b[0], a[1] - b[1]);

function score(pts: Pt[], ann: Annotation) {
  const ids = Object.keys(ann.points).map(Number);
  const pointErr = (subset: number[]) => subset.reduce((s, i) => s + dist(pts[i], ann.points[i]), 0) / subset.length;
  const openings = Object.fromEntries(
    Object.entries(OPENINGS).map(([name, [a, b]]) => {
      const truth = dist(ann.points[a], ann.points[b]);
      return [name, { predicted: dist(pts[a], pts[b]), truth, error: Math.abs(dist(pts[a], pts[b]) - truth) }];
    }),
  );
  return {
    lipPointErrPx: pointErr([13, 14, 78, 308]),
    eyePointErrPx: pointErr(ids.filter((i) => ![13, 14, 78, 308].includes(i))),
    openings,
  };
}

async function render(dir: string, file: string, c: Annotation["crop"], sets: Array<[string, Pt[]]>, ann: Annotation) {
  const scale = 2;
  const colours = ["#00ff00", "#ff00ff", "#00ffff"];
  const xy = (p: Pt) => `${((p[0] - c.left) * scale).toFixed(1)},${((p[1] - c.top) * scale).toFixed(1)}`;
  const dots = sets.flatMap(([, pts], k) =>
    CONTOURS.map((ring) => `<polyline points="${ring.map((i) => xy(pts[i])).join(" ")}" fill="none" stroke="${colours[k]}" stroke-width="1.2"/>`),
  );
  const truth = Object.values(ann.points).map(
    (p) => `<circle cx="${(p[0] - c.left) * scale}" cy="${(p[1] - c.top) * scale}" r="4" fill="none" stroke="yellow" stroke-width="1.5"/>`,
  );
  const legend = sets.map(([name], k) => `<text x="6" y="${16 + 16 * k}" font-size="14" fill="${colours[k]}">${name}</text>`);
  const size = c.width * scale;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">${dots.join("")}${truth.join("")}${legend.join("")}</svg>`;
  await sharp(join(FACES, file)).extract(c).resize(size, size).composite([{ input: Buffer.from(svg) }]).png().toFile(join(dir, file.replace(".jpg", ".mesh.png")));
}

async function timeMs(run: () => Promise<unknown>, repeats = 40): Promise<number> {
  for (let k = 0; k < 5; k++) await run();
  const times: number[] = [];
  for (let k = 0; k < repeats; k++) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const renderDir = process.argv.includes("--render") ? process.argv[process.argv.indexOf("--render") + 1] : undefined;
const plain = await session("facemesh.onnx");
const attention = await session("facemesh-attention.onnx");
const results: Record<string, unknown> = {};
for (const [file, ann] of Object.entries(ANNOTATED)) {
  const x = await crop192(file, ann.crop);
  const p = await plainMesh(plain, x, ann.crop);
  const raw = await attentionMesh(attention, x, ann.crop, false);
  const refined = await attentionMesh(attention, x, ann.crop, true);
  // Sanity check of the refinement mapping: refined points land next to the mesh points they replace.
  const irisSide = (key: string) => {
    const iris = refined.out[key].data as Float32Array;
    const centre: Pt = [ann.crop.left + (iris[0] * ann.crop.width) / 192, ann.crop.top + (iris[1] * ann.crop.height) / 192];
    return dist(centre, refined.pts[159]) < dist(centre, refined.pts[386]) ? "image-left eye (159)" : "image-right eye (386)";
  };
  results[file] = {
    "facemesh.onnx": score(p, ann),
    "attention mesh only": score(raw.pts, ann),
    "attention refined": score(refined.pts, ann),
    refinedShiftMeanPx: refined.meanShift,
    output_left_iris: irisSide("output_left_iris"),
    output_right_iris: irisSide("output_right_iris"),
    conv_faceflag: (refined.out.conv_faceflag.data as Float32Array)[0],
  };
  if (renderDir) await render(renderDir, file, ann.crop, [["facemesh", p], ["attention refined", refined.pts]], ann);
}
console.log(JSON.stringify(results, (_, v) => (typeof v === "number" ? Math.round(v * 100) / 100 : v), 2));

// Latency on one input, onnxruntime CPU with 2 intra-op threads (median of 40 after 5 warm-ups).
const inputs: Record<string, [string, number[]]> = {
  "blazeface.onnx": ["input", [1, 256, 256, 3]],
  "facemesh.onnx": ["input_1", [1, 192, 192, 3]],
  "facemesh-attention.onnx": ["input_1", [1, 192, 192, 3]],
  "faceres.onnx": ["input_1", [1, 224, 224, 3]],
};
const timings: Record<string, { onnxruntime: number; tfjsWasm: number }> = {};
for (const [file, [name, shape]] of Object.entries(inputs)) {
  const s = await session(file);
  const data = new Float32Array(shape.reduce((a, b) => a * b)).fill(0.5);
  const x = new ort.Tensor("float32", data, shape);
  const onnxruntime = await timeMs(() => s.run({ [name]: x }));
  await s.release();
  // The same input through the original TF.js graph on tfjs-backend-wasm (outputs read back, as a caller must).
  const source = MODEL_SOURCES.find((m) => m.file === file)!;
  const model = await loadTfjsModel(loadSourceFiles(ROOT, source));
  const tfjsWasm = await timeMs(async () => runTfjs(model, data, shape), 20);
  model.dispose();
  timings[file] = { onnxruntime, tfjsWasm };
}
console.log(`latency, median ms (onnxruntime-node CPU 2 intra-op threads; tfjs ${tf.version_core} wasm backend, ${tf.backend() ? tf.getBackend() : "?"}):`);
console.log(JSON.stringify(timings, (_, v) => (typeof v === "number" ? Math.round(v * 10) / 10 : v)));
