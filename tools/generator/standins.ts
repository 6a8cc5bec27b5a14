/**
 * Stand-in LivePortrait models: small graphs with random weights whose inputs and outputs have exactly the
 * signatures of FaceFusion's published files (src/pipeline/generator/signatures.ts), written with our own
 * ONNX builder. Tests drive the whole generator path with them; the bench times the path at the real
 * tensor sizes. They compute something that depends on every input (so a wiring mistake shows), nothing
 * that looks like a face.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OnnxGraphBuilder } from "../convert/onnx-builder.ts";
import { OnnxDataType, encodeOnnxModel, type OnnxDim, type OnnxValueInfo } from "../convert/onnx-proto.ts";
import { LIVEPORTRAIT_MODELS, type LivePortraitModel } from "../../src/pipeline/generator/signatures.ts";

export interface StandInOptions {
  /** Leading dimension: 1 as published, or a symbolic name so several frames share one call. Default 1. */
  batch?: 1 | "batch";
  /** Head angles as FaceFusion exports them (degrees, one value) or as LivePortrait's own export (66 bins). Default degrees. */
  angles?: "degrees" | "bins";
  seed?: number;
  /** Replace one model's graph outputs or inputs to test refusals: a mutation of the written signature. */
  mutate?: (model: LivePortraitModel, sig: { inputs: OnnxValueInfo[]; outputs: OnnxValueInfo[] }) => void;
}

class Rng {
  constructor(private s: number) {}
  next(): number {
    this.s = (this.s * 16807) % 2147483647;
    return this.s / 2147483647 - 0.5;
  }
  array(n: number, scale: number): number[] {
    return Array.from({ length: n }, () => this.next() * scale);
  }
}

const F = OnnxDataType.FLOAT;
const vi = (name: string, shape: OnnxDim[]): OnnxValueInfo => ({ name, elemType: F, shape });

function encode(b: OnnxGraphBuilder, name: string, inputs: OnnxValueInfo[], outputs: OnnxValueInfo[]): Uint8Array {
  return encodeOnnxModel({
    producerName: "mimic-standin",
    producerVersion: "1",
    docString: `stand-in for ${name} (random weights)`,
    opset: 17,
    irVersion: 8,
    graphName: name,
    nodes: b.nodes,
    initializers: b.initializers,
    inputs,
    outputs,
    metadata: [],
  });
}

/** x · W + bias with W [k, n] random. */
function dense(b: OnnxGraphBuilder, rng: Rng, x: string, k: number, n: number, scale: number, out: string): string {
  const w = b.float(`${out}_w`, rng.array(k * n, scale), [k, n]);
  const bias = b.float(`${out}_b`, rng.array(n, scale), [n]);
  return b.op("Gemm", [x, w, bias], out);
}

function reshape(b: OnnxGraphBuilder, x: string, shape: number[], out: string): string {
  return b.op("Reshape", [x, b.int64(`${out}_shape`, shape)], out);
}

function slice(b: OnnxGraphBuilder, x: string, start: number, end: number, out: string): string {
  return b.op("Slice", [x, b.int64(`${out}_s`, [start]), b.int64(`${out}_e`, [end]), b.int64(`${out}_a`, [1])], out);
}

/** Encoded stand-in files by model key. */
export function standInModels(opts: StandInOptions = {}): Record<LivePortraitModel, Uint8Array> {
  const N: OnnxDim = opts.batch ?? 1;
  const rng = new Rng(opts.seed ?? 7);
  const out: Partial<Record<LivePortraitModel, Uint8Array>> = {};
  const finish = (key: LivePortraitModel, b: OnnxGraphBuilder, inputs: OnnxValueInfo[], outputs: OnnxValueInfo[]) => {
    const sig = { inputs, outputs };
    opts.mutate?.(key, sig);
    out[key] = encode(b, LIVEPORTRAIT_MODELS[key].file, sig.inputs, sig.outputs);
  };

  {
    // 256² image → 4×4 average pool → 1×1 conv to 512 channels → [N, 32, 16, 64, 64].
    const b = new OnnxGraphBuilder();
    b.reserve("input");
    const pooled = b.op("AveragePool", ["input"], "pooled", { kernel_shape: [4, 4], strides: [4, 4] });
    const w = b.float("conv_w", rng.array(512 * 3, 1), [512, 3, 1, 1]);
    const conv = b.op("Conv", [pooled, w], "conv");
    b.reserve("output");
    b.node("Reshape", [conv, b.int64("vol_shape", [-1, 32, 16, 64, 64])], ["output"]);
    finish("featureExtractor", b, [vi("input", [N, 3, 256, 256])], [vi("output", [N, 32, 16, 64, 64])]);
  }

  {
    // Image means → one dense layer → the seven outputs.
    const b = new OnnxGraphBuilder();
    b.reserve("input");
    const mean = b.op("GlobalAveragePool", ["input"], "mean");
    const flat = b.op("Flatten", [mean], "flat", { axis: 1 });
    const bins = opts.angles === "bins";
    const angle = bins ? 66 : 1;
    const widths = [angle, angle, angle, 1, 3, 63, 63];
    const total = widths.reduce((a, c) => a + c, 0);
    const h = dense(b, rng, flat, 3, total, 2, "dense");
    let at = 0;
    const part = (i: number) => slice(b, h, at, (at += widths[i]!), `part${i}`);
    const names = ["pitch", "yaw", "roll", "scale", "translation", "expression", "motion_points"];
    const parts = widths.map((_, i) => part(i));
    const outputs: OnnxValueInfo[] = [];
    for (let i = 0; i < 3; i++) {
      b.reserve(names[i]!);
      if (bins) {
        b.node("Mul", [parts[i]!, b.float(`${names[i]}_gain`, [4])], [names[i]!]);
        outputs.push(vi(names[i]!, [N, 66]));
      } else {
        const t = b.op("Tanh", [parts[i]!], `${names[i]}_tanh`);
        const deg = b.op("Mul", [t, b.float(`${names[i]}_gain`, [25])], `${names[i]}_deg`);
        b.node("Reshape", [deg, b.int64(`${names[i]}_shape`, [-1])], [names[i]!]);
        outputs.push(vi(names[i]!, [N]));
      }
    }
    b.reserve("scale");
    const sig = b.op("Sigmoid", [parts[3]!], "scale_sig");
    b.node("Add", [sig, b.float("scale_base", [1])], ["scale"]);
    outputs.push(vi("scale", [N, 1]));
    b.reserve("translation");
    b.node("Mul", [b.op("Tanh", [parts[4]!], "t_tanh"), b.float("t_gain", [0.05])], ["translation"]);
    outputs.push(vi("translation", [N, 3]));
    const exp = b.op("Mul", [b.op("Tanh", [parts[5]!], "e_tanh"), b.float("e_gain", [0.03])], "e_scaled");
    b.reserve("expression");
    b.node("Reshape", [exp, b.int64("e_shape", [-1, 21, 3])], ["expression"]);
    outputs.push(vi("expression", [N, 21, 3]));
    const kp = b.op("Mul", [b.op("Tanh", [parts[6]!], "k_tanh"), b.float("k_gain", [0.6])], "k_scaled");
    b.reserve("motion_points");
    b.node("Reshape", [kp, b.int64("k_shape", [-1, 21, 3])], ["motion_points"]);
    outputs.push(vi("motion_points", [N, 21, 3]));
    finish("motionExtractor", b, [vi("input", [N, 3, 256, 256])], outputs);
  }

  for (const [key, width] of [["eyeRetargeter", 66], ["lipRetargeter", 65]] as const) {
    const b = new OnnxGraphBuilder();
    b.reserve("input");
    const h = dense(b, rng, "input", width, 63, 0.05, "delta");
    b.reserve("output");
    b.node("Identity", [h], ["output"]);
    finish(key, b, [vi("input", [N, width])], [vi("output", [N, 63])]);
  }

  {
    // source + small correction from (source, target).
    const b = new OnnxGraphBuilder();
    b.reserve("source");
    b.reserve("target");
    const both = b.op("Concat", ["source", "target"], "both", { axis: 1 });
    const flat = reshape(b, both, [-1, 126], "both_flat");
    const delta = reshape(b, dense(b, rng, flat, 126, 63, 0.02, "stitch"), [-1, 21, 3], "stitch_delta");
    b.reserve("output");
    b.node("Add", ["source", delta], ["output"]);
    finish("stitcher", b, [vi("source", [N, 21, 3]), vi("target", [N, 21, 3])], [vi("output", [N, 21, 3])]);
  }

  {
    // Features → 3 channels at 64², shifted by the keypoint motion, upsampled ×8, squashed to 0..1.
    const b = new OnnxGraphBuilder();
    for (const n of ["feature_volume", "source", "target"]) b.reserve(n);
    const flat = reshape(b, "feature_volume", [-1, 512, 64, 64], "features");
    const rgb = b.op("Conv", [flat, b.float("rgb_w", rng.array(3 * 512, 0.05), [3, 512, 1, 1])], "rgb");
    const motion = reshape(b, b.op("Sub", ["source", "target"], "motion"), [-1, 63], "motion_flat");
    // The motion becomes a coarse 8×8 pattern per channel (colour matching cannot cancel a spatial change).
    const coarse = reshape(b, dense(b, rng, motion, 63, 3 * 8 * 8, 40, "shift"), [-1, 3, 8, 8], "shift8");
    const shift = b.op("Resize", [coarse, "", b.float("shift_scales", [1, 1, 8, 8])], "shift64", { mode: "linear" });
    const moved = b.op("Add", [rgb, shift], "moved");
    const up = b.op("Resize", [moved, "", b.float("scales", [1, 1, 8, 8])], "up", { mode: "linear" });
    b.reserve("output");
    b.node("Sigmoid", [up], ["output"]);
    finish(
      "generator",
      b,
      [vi("feature_volume", [N, 32, 16, 64, 64]), vi("source", [N, 21, 3]), vi("target", [N, 21, 3])],
      [vi("output", [N, 3, 512, 512])],
    );
  }
  return out as Record<LivePortraitModel, Uint8Array>;
}

/** Writes the stand-ins into `dir` under FaceFusion's file names. */
export function writeStandIns(dir: string, opts: StandInOptions = {}): void {
  mkdirSync(dir, { recursive: true });
  for (const [key, bytes] of Object.entries(standInModels(opts)) as [LivePortraitModel, Uint8Array][]) {
    writeFileSync(join(dir, LIVEPORTRAIT_MODELS[key].file), bytes);
  }
}
