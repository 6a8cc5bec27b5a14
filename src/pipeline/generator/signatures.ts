/**
 * The LivePortrait ONNX files as FaceFusion publishes them (models-3.0.0, MIT weights by KwaiVGI), and the
 * start-up check of an owner's folder against them: every file present, every input named as FaceFusion
 * feeds it, every tensor's rank, fixed sizes and element type as its code reads them. A refusal names the
 * file and what differs.
 *
 * Inputs are checked by name (FaceFusion feeds them by name); outputs by position, shape and type (its code
 * unpacks them by position, so their names are not part of the contract and are only reported).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { MimicError } from "../../errors.ts";
import { readOnnxSignature, type OnnxSignature, type TensorSignature } from "./onnx-signature.ts";

const FLOAT32 = 1;
/** Leading batch dimension: the published files fix it at 1; a symbolic one lets frames share a call. */
const B = "batch";

/** One acceptable shape; `B` accepts 1 or a symbolic size. */
type Dim = number | typeof B;
export interface TensorSpec {
  /** Checked for inputs; for outputs a label used in messages. */
  name: string;
  /** Alternatives: the tensor must match one of them. */
  shapes: Dim[][];
}

export interface ModelSpec {
  file: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

const IMAGE: TensorSpec = { name: "input", shapes: [[B, 3, 256, 256]] };
const POINTS = (name: string): TensorSpec => ({ name, shapes: [[B, 21, 3]] });
const FEATURES = (name: string): TensorSpec => ({ name, shapes: [[B, 32, 16, 64, 64]] });
/** Head angles: FaceFusion's export gives degrees (one value); LivePortrait's own export the 66 bin logits. */
const ANGLE = (name: string): TensorSpec => ({ name, shapes: [[B, 66], [B], [B, 1], []] });
const DELTA = (name: string): TensorSpec => ({ name, shapes: [[B, 63], [B, 21, 3]] });

export const LIVEPORTRAIT_MODELS = {
  featureExtractor: { file: "live_portrait_feature_extractor.onnx", inputs: [IMAGE], outputs: [FEATURES("feature_volume")] },
  motionExtractor: {
    file: "live_portrait_motion_extractor.onnx",
    inputs: [IMAGE],
    outputs: [
      ANGLE("pitch"),
      ANGLE("yaw"),
      ANGLE("roll"),
      { name: "scale", shapes: [[B, 1], [B]] },
      { name: "translation", shapes: [[B, 3]] },
      POINTS("expression"),
      POINTS("motion_points"),
    ],
  },
  eyeRetargeter: { file: "live_portrait_eye_retargeter.onnx", inputs: [{ name: "input", shapes: [[B, 66]] }], outputs: [DELTA("eye_motion")] },
  lipRetargeter: { file: "live_portrait_lip_retargeter.onnx", inputs: [{ name: "input", shapes: [[B, 65]] }], outputs: [DELTA("lip_motion")] },
  stitcher: { file: "live_portrait_stitcher.onnx", inputs: [POINTS("source"), POINTS("target")], outputs: [POINTS("motion_points")] },
  generator: {
    file: "live_portrait_generator.onnx",
    inputs: [FEATURES("feature_volume"), POINTS("source"), POINTS("target")],
    outputs: [{ name: "image", shapes: [[B, 3, 512, 512]] }],
  },
} as const satisfies Record<string, ModelSpec>;

export type LivePortraitModel = keyof typeof LIVEPORTRAIT_MODELS;
export const LIVEPORTRAIT_FILES: readonly string[] = Object.values(LIVEPORTRAIT_MODELS).map((m) => m.file);

const TYPE_NAMES: Record<number, string> = { 0: "undeclared", 1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64" };
const typeName = (t: number) => TYPE_NAMES[t] ?? `type ${t}`;
const showShape = (s: readonly (number | string)[] | undefined) => (s ? `[${s.join(", ")}]` : "no declared shape");
const showSpec = (spec: TensorSpec) => spec.shapes.map((s) => `[${s.map((d) => (d === B ? "N" : d)).join(", ")}]`).join(" or ");

function dimMatches(actual: number | string, expected: Dim): boolean {
  // A symbolic size in the file cannot contradict anything; a fixed one must be the expected size.
  if (typeof actual === "string") return true;
  return expected === B ? actual === 1 : actual === expected;
}

function shapeMatches(actual: readonly (number | string)[] | undefined, spec: TensorSpec): boolean {
  if (!actual) return false;
  return spec.shapes.some((s) => s.length === actual.length && s.every((d, i) => dimMatches(actual[i]!, d)));
}

/** What differs between one tensor and its spec, or undefined when it matches. */
function tensorProblem(kind: "input" | "output", t: TensorSignature, spec: TensorSpec, position: number): string | undefined {
  const label = kind === "input" ? `input "${spec.name}"` : `output ${position + 1} (${spec.name}, named "${t.name}" in the file)`;
  if (t.elemType !== FLOAT32) return `${label} is ${typeName(t.elemType)}, expected float32`;
  if (!shapeMatches(t.shape, spec)) return `${label} has shape ${showShape(t.shape)}, expected ${showSpec(spec)}`;
  return undefined;
}

/** Every difference between a file's signature and its spec (empty: it matches). */
export function signatureProblems(sig: OnnxSignature, spec: ModelSpec): string[] {
  const problems: string[] = [];
  const byName = new Map(sig.inputs.map((i) => [i.name, i]));
  for (const want of spec.inputs) {
    const got = byName.get(want.name);
    if (!got) problems.push(`it has no input "${want.name}" (its inputs: ${sig.inputs.map((i) => `"${i.name}"`).join(", ") || "none"})`);
    else {
      const p = tensorProblem("input", got, want, 0);
      if (p) problems.push(p);
    }
  }
  const extra = sig.inputs.filter((i) => !spec.inputs.some((w) => w.name === i.name));
  if (extra.length > 0) problems.push(`it has inputs Mimic does not feed: ${extra.map((i) => `"${i.name}"`).join(", ")}`);
  if (sig.outputs.length !== spec.outputs.length) {
    problems.push(`it has ${sig.outputs.length} outputs, expected ${spec.outputs.length} (${spec.outputs.map((o) => o.name).join(", ")})`);
  } else {
    spec.outputs.forEach((want, i) => {
      const p = tensorProblem("output", sig.outputs[i]!, want, i);
      if (p) problems.push(p);
    });
  }
  return problems;
}

export interface CheckedModel {
  path: string;
  signature: OnnxSignature;
}

/**
 * Checks the whole folder before any session is created. Throws a CONFIG MimicError that names every file
 * that is missing, unreadable or different from what FaceFusion publishes.
 */
export function checkGeneratorDir(dir: string): Record<LivePortraitModel, CheckedModel> {
  const problems: string[] = [];
  const out: Partial<Record<LivePortraitModel, CheckedModel>> = {};
  for (const [key, spec] of Object.entries(LIVEPORTRAIT_MODELS) as [LivePortraitModel, ModelSpec][]) {
    const path = join(dir, spec.file);
    if (!existsSync(path)) {
      problems.push(`${spec.file} is missing (looked for ${path})`);
      continue;
    }
    let signature: OnnxSignature;
    try {
      signature = readOnnxSignature(path);
    } catch (e) {
      problems.push(`${spec.file} is not a readable ONNX model (${e instanceof Error ? e.message : String(e)})`);
      continue;
    }
    const diff = signatureProblems(signature, spec);
    if (diff.length > 0) problems.push(`${spec.file}: ${diff.join("; ")}`);
    else out[key] = { path, signature };
  }
  if (problems.length > 0) {
    throw new MimicError(
      "CONFIG",
      `MIMIC_GENERATOR=liveportrait, but the model folder ${dir} (MIMIC_GENERATOR_DIR) is not usable: ${problems.join(". ")}. ` +
        "See README.md, \"Generator backend\", for the files and where to get them.",
      { details: { dir, problems } },
    );
  }
  return out as Record<LivePortraitModel, CheckedModel>;
}

/** Whether a model's leading (batch) dimension is symbolic in every input, so several frames can share one call. */
export function batchable(sig: OnnxSignature): boolean {
  return sig.inputs.every((i) => i.shape !== undefined && i.shape.length > 0 && typeof i.shape[0] === "string");
}
