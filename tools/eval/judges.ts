/**
 * The evaluation's two judges: each reads a picture's largest face and gives the same expression measures.
 *  - `analyzer`: the project's own face analysis (BlazeFace + FaceMesh, eyelids and lips refined by the
 *    attention mesh), measures from src/pipeline/transfer/measure.ts;
 *  - `face-api`: an independent model the engine never uses, the 68-point landmark net of @vladmandic/face-api
 *    (its own SSD-MobileNet detector, TensorFlow.js on the WebAssembly backend), measures from measures68.ts;
 *    it also gives the face's 128-d descriptor (face-api's recognition net), a second judge of identity beside
 *    the engine's faceres.
 * face-api is a devDependency, loaded only here: the product never depends on it.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { LocalFrame } from "../../src/pipeline/transfer/geometry.ts";
import { localFrame } from "../../src/pipeline/transfer/geometry.ts";
import { measureExpression } from "../../src/pipeline/transfer/index.ts";
import type { FaceAnalyzer } from "../../src/pipeline/face/index.ts";
import type { RgbImage } from "../../src/pipeline/types.ts";
import { LIPS_468, LIPS_68, readLips, type Lips } from "./lips.ts";
import { localFrame68, measure68, to3d } from "./measures68.ts";
import { RATIO_MEASURES, type Measures } from "./ratio.ts";

export interface JudgedFace {
  measures: Measures;
  /** The judge's landmarks as x,y,z triples in image pixels (z = 0 for a 2-D judge). */
  mesh: Float32Array;
  /** The lips' thickness and tint (tools/eval/lips.ts). */
  lips: Lips;
  /** face-api only: the face's recognition descriptor (compare with descriptorDistance). */
  descriptor?: Float32Array;
}

/**
 * face-api's own match rule: two descriptors closer than this (Euclidean) are taken for the same person (the
 * threshold its documentation and FaceMatcher use).
 */
export const SAME_PERSON_DISTANCE = 0.6;

/** Euclidean distance between two face-api descriptors (0: identical; under SAME_PERSON_DISTANCE: same person). */
export function descriptorDistance(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`descriptor lengths differ (${a.length} vs ${b.length})`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

export interface Judge {
  name: "analyzer" | "face-api";
  /** The largest face in the picture, or undefined when the judge finds none. */
  read(img: RgbImage): Promise<JudgedFace | undefined>;
  /** Measures and local frame of a mesh in this judge's layout (for the applied-change baseline). */
  measure(mesh: Float32Array): Measures;
  frame(mesh: Float32Array): LocalFrame;
  dispose(): Promise<void>;
}

const pick = (m: Measures): Measures => Object.fromEntries(RATIO_MEASURES.map((k) => [k, m[k]])) as Measures;

export function analyzerJudge(analyzer: FaceAnalyzer): Judge {
  const measure = (mesh: Float32Array) => pick(measureExpression(mesh));
  return {
    name: "analyzer",
    async read(img) {
      const f = (await analyzer.analyze(img)).faces[0];
      return f ? { measures: measure(f.landmarks), mesh: f.landmarks, lips: readLips(img, f.landmarks, LIPS_468, localFrame(f.landmarks)) } : undefined;
    },
    measure,
    frame: localFrame,
    dispose: async () => {},
  };
}

/** What the evaluation uses of face-api's API (its bundle ships no usable types for a CommonJS require). */
interface FaceApi {
  tf: {
    setBackend(name: string): Promise<boolean>;
    ready(): Promise<void>;
    tensor3d(data: Int32Array, shape: [number, number, number], dtype: "int32"): { dispose(): void };
    io: { decodeWeights(buf: ArrayBuffer, specs: unknown[]): unknown };
  };
  nets: Record<"ssdMobilenetv1" | "faceLandmark68Net" | "faceRecognitionNet", { loadFromWeightMap(map: unknown): void }>;
  SsdMobilenetv1Options: new (o: { minConfidence: number }) => unknown;
  detectAllFaces(input: unknown, options: unknown): {
    withFaceLandmarks(): {
      withFaceDescriptors(): Promise<{ detection: { box: { width: number; height: number } }; landmarks: { positions: { x: number; y: number }[] }; descriptor: Float32Array }[]>;
    };
  };
}

export async function faceApiJudge(): Promise<Judge> {
  const require = createRequire(import.meta.url);
  const faceapi = require("@vladmandic/face-api/dist/face-api.node-wasm.js") as FaceApi;
  await faceapi.tf.setBackend("wasm");
  await faceapi.tf.ready();
  const modelDir = join(dirname(require.resolve("@vladmandic/face-api/package.json")), "model");
  for (const [net, file] of [
    ["ssdMobilenetv1", "ssd_mobilenetv1_model"],
    ["faceLandmark68Net", "face_landmark_68_model"],
    ["faceRecognitionNet", "face_recognition_model"],
  ] as const) {
    const manifest = JSON.parse(readFileSync(join(modelDir, `${file}-weights_manifest.json`), "utf8")) as { weights: unknown[] }[];
    const bin = readFileSync(join(modelDir, `${file}.bin`));
    const weights = faceapi.tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length) as ArrayBuffer, manifest.flatMap((g) => g.weights));
    faceapi.nets[net].loadFromWeightMap(weights);
  }
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.3 });
  return {
    name: "face-api",
    async read(img) {
      const t = faceapi.tf.tensor3d(Int32Array.from(img.data), [img.height, img.width, 3], "int32");
      try {
        const faces = await faceapi.detectAllFaces(t, options).withFaceLandmarks().withFaceDescriptors();
        const area = (f: (typeof faces)[number]) => f.detection.box.width * f.detection.box.height;
        const f = faces.sort((a, b) => area(b) - area(a))[0];
        if (!f) return undefined;
        const mesh = to3d(f.landmarks.positions.flatMap((p) => [p.x, p.y]));
        return { measures: measure68(mesh), mesh, lips: readLips(img, mesh, LIPS_68, localFrame68(mesh)), descriptor: f.descriptor };
      } finally {
        t.dispose();
      }
    },
    measure: measure68,
    frame: localFrame68,
    dispose: async () => {},
  };
}
