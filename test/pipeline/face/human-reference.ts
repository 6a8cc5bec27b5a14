/**
 * The TensorFlow.js reference: @vladmandic/human 3.3.6 (the project the face models come from) on the
 * tfjs WebAssembly backend, plus direct access to its graph models. Used by the landmark-agreement test
 * and by bench/analysis.ts as the peer to beat. Dev dependency only; nothing in src/ imports it.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const HUMAN_DIR = fileURLToPath(new URL("../../../node_modules/@vladmandic/human/", import.meta.url));
const WASM_DIR = fileURLToPath(new URL("../../../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url));

// Loose structural types for the parts of the CommonJS bundle we use.
interface Tensor {
  data(): Promise<Float32Array | Int32Array | Uint8Array>;
  dispose(): void;
  shape: number[];
}
interface Tf {
  tensor3d(data: Uint8Array, shape: number[], dtype: string): Tensor;
  tensor4d(data: Float32Array, shape: number[], dtype: string): Tensor;
  getBackend(): string;
  engine(): { startScope(): void; endScope(): void };
}
interface GraphModel {
  execute(input: Tensor): Tensor | Tensor[];
  outputs: { name: string }[];
}
export interface HumanFace {
  box: [number, number, number, number];
  boxScore: number;
  faceScore: number;
  /** 468 × [x, y, z] in image pixels (truncated to integers by human). */
  mesh: [number, number, number][];
  rotation?: { angle: { yaw: number; pitch: number; roll: number } };
  embedding?: number[];
}
export interface HumanResult {
  face: HumanFace[];
}
export interface HumanInstance {
  tf: Tf;
  load(): Promise<void>;
  warmup(): Promise<unknown>;
  detect(input: Tensor): Promise<HumanResult>;
}

/**
 * Node's fetch cannot read file:// URLs, and human loads models with fetch. Route just those to the
 * file system (installed once per process; other URLs pass through untouched).
 */
function allowFileFetch(): void {
  const g = globalThis as { fetch: typeof fetch; __mimicFileFetch?: boolean };
  if (g.__mimicFileFetch) return;
  const original = g.fetch;
  g.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (url.startsWith("file://")) return new Response(await readFile(new URL(url)), { status: 200 });
    return original(input, init);
  }) as typeof fetch;
  g.__mimicFileFetch = true;
}

/**
 * human configured like our pipeline: face detector + mesh (+ faceres for embeddings), iris and the
 * other heads off (iris would overwrite the eye contour points), and no frame caching (each call is a new
 * photo, as in a chat bot).
 */
export async function createHuman(opts: { description?: boolean; maxFaces?: number } = {}): Promise<HumanInstance> {
  allowFileFetch();
  const { Human } = require(`${HUMAN_DIR}dist/human.node-wasm.js`) as { Human: new (cfg: unknown) => HumanInstance };
  const human = new Human({
    backend: "wasm",
    modelBasePath: `file://${HUMAN_DIR}models/`,
    wasmPath: `file://${WASM_DIR}`,
    debug: false,
    cacheSensitivity: 0,
    skipAllowed: false,
    filter: { enabled: false },
    face: {
      enabled: true,
      detector: { maxDetected: opts.maxFaces ?? 1, skipFrames: 0, skipTime: 0, rotation: false },
      mesh: { enabled: true },
      iris: { enabled: false },
      emotion: { enabled: false },
      description: { enabled: opts.description ?? false, skipFrames: 0, skipTime: 0 },
      antispoof: { enabled: false },
      liveness: { enabled: false },
      attention: { enabled: false },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
  });
  await human.load();
  return human;
}

export function imageTensor(human: HumanInstance, data: Uint8Array, width: number, height: number): Tensor {
  return human.tf.tensor3d(data, [height, width, 3], "int32");
}

/** Loads one of human's graph models straight from its package (for same-input comparisons). */
export async function loadHumanGraphModel(human: HumanInstance, name: string): Promise<GraphModel> {
  allowFileFetch();
  const tfconv = require("@tensorflow/tfjs-converter") as { loadGraphModel(url: string): Promise<GraphModel> };
  void human; // the backend human initialised is the one the model runs on
  return tfconv.loadGraphModel(`file://${HUMAN_DIR}models/${name}.json`);
}

/** Runs a graph model on one NHWC float batch; returns each output's data keyed by its last dimension. */
export async function runGraphModel(
  human: HumanInstance,
  model: GraphModel,
  data: Float32Array,
  shape: number[],
): Promise<Map<number, Float32Array>> {
  const input = human.tf.tensor4d(data, shape, "float32");
  const out = model.execute(input);
  const list = Array.isArray(out) ? out : [out];
  const result = new Map<number, Float32Array>();
  for (const t of list) {
    result.set(t.shape[t.shape.length - 1], Float32Array.from(await t.data()));
    t.dispose();
  }
  input.dispose();
  return result;
}
