// TensorFlow.js (wasm backend) running the ORIGINAL graph model: the reference the ONNX files must match.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { loadGraphModel, type GraphModel } from "@tensorflow/tfjs-converter";
import { loadLayersModel, type LayersModel } from "@tensorflow/tfjs-layers";
import { readLayersUmd } from "./tfjs-layers.ts";
import type { TfjsModelFiles } from "./tfjs-model.ts";

let ready: Promise<void> | undefined;

export function initTfjsWasm(threads = 1): Promise<void> {
  ready ??= (async () => {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    wasm.setThreadsCount(threads);
    await tf.setBackend("wasm");
    await tf.ready();
  })();
  return ready;
}

/** Loads a graph model from already-read files through an in-memory IOHandler (no fetch, no file://). */
export async function loadTfjsModel(files: TfjsModelFiles): Promise<GraphModel> {
  await initTfjsWasm();
  const j = JSON.parse(files.json);
  const weightSpecs = j.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
  const shards = j.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map((p) => files.shards.get(p)!));
  const weightData = new Uint8Array(shards.reduce((n: number, s: Uint8Array) => n + s.length, 0));
  let at = 0;
  for (const s of shards) {
    weightData.set(s, at);
    at += s.length;
  }
  return loadGraphModel({
    load: async () => ({
      modelTopology: j.modelTopology,
      weightSpecs,
      weightData: weightData.buffer,
      format: j.format,
      generatedBy: j.generatedBy,
      convertedBy: j.convertedBy,
      signature: j.signature,
      userDefinedMetadata: j.userDefinedMetadata,
    }),
  });
}

/** Loads a Keras layers model from its UMD bundles (nsfwjs) with TF.js's own layers implementation. */
export async function loadTfjsLayersUmd(files: TfjsModelFiles, modelFile: string): Promise<LayersModel> {
  await initTfjsWasm();
  const b = readLayersUmd(files, modelFile);
  const weightSpecs = b.weightsManifest.flatMap((g) => g.weights);
  const parts = b.weightsManifest.flatMap((g) => g.paths.map((p) => b.shards.get(p)!));
  const weightData = new Uint8Array(parts.reduce((n, s) => n + s.length, 0));
  let at = 0;
  for (const s of parts) {
    weightData.set(s, at);
    at += s.length;
  }
  return loadLayersModel({ load: async () => ({ modelTopology: b.modelTopology as unknown as object, weightSpecs: weightSpecs as never, weightData: weightData.buffer }) });
}

/** Runs the model on one NHWC float32 input and returns every output by the TF.js output name. */
export function runTfjs(model: GraphModel, input: Float32Array, shape: number[]): Record<string, { data: Float32Array; shape: number[] }> {
  return tf.tidy(() => {
    const x = tf.tensor(input, shape, "float32");
    const names = model.outputs.map((o) => o.name);
    const out = model.execute(x, model.outputNodes) as tf.Tensor[] | tf.Tensor;
    const list = Array.isArray(out) ? out : [out];
    return Object.fromEntries(list.map((t, k) => [names[k], { data: t.dataSync() as Float32Array, shape: t.shape }]));
  });
}

export { tf };
