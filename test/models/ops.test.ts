// Op coverage beyond the four shipped models: a small synthetic TF.js graph that uses every other op the
// converter maps (and uint8/float16-quantised weights) is converted and compared with TF.js itself.
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { convertTfjsGraph } from "../../tools/convert/convert.ts";
import { parseTfjsGraphModel, type TfjsModelFiles } from "../../tools/convert/tfjs-model.ts";
import { loadTfjsModel, runTfjs } from "../../tools/convert/tfjs-reference.ts";

type Attr = Record<string, unknown>;
const b64 = (s: string) => Buffer.from(s).toString("base64");
const ints = (...v: number[]) => ({ list: { i: v.map(String) } });
const F = { T: { type: "DT_FLOAT" } };
const CONV = { data_format: { s: b64("NHWC") }, dilations: ints(1, 1, 1, 1) };

function floatToHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  return sign | (exp << 10) | (Math.round((x & 0x7fffff) / 8192) & 0x3ff);
}

/** Accumulates nodes and a weights manifest the way tensorflowjs_converter writes them. */
class GraphWriter {
  nodes: Array<{ name: string; op: string; input?: string[]; attr?: Attr }> = [];
  weights: Attr[] = [];
  chunks: Uint8Array[] = [];
  private seed = 1;

  private random(): number {
    this.seed = (this.seed * 16807) % 2147483647;
    return this.seed / 2147483647 - 0.5;
  }

  op(name: string, op: string, input: string[], attr: Attr = F): string {
    this.nodes.push({ name, op, input, attr });
    return name;
  }

  int32(name: string, values: number[], shape: number[] = [values.length]): string {
    this.nodes.push({ name, op: "Const", attr: { dtype: { type: "DT_INT32" } } });
    this.weights.push({ name, shape, dtype: "int32" });
    this.chunks.push(new Uint8Array(Int32Array.from(values).buffer));
    return name;
  }

  /** A random float constant stored as float32, float16 or uint8 (value = q*scale + min). */
  float(name: string, shape: number[], storage: "float32" | "float16" | "uint8" = "float32", given?: number[]): string {
    const count = shape.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: count }, (_, i) => given?.[i] ?? this.random());
    this.nodes.push({ name, op: "Const", attr: { dtype: { type: "DT_FLOAT" } } });
    if (storage === "float32") {
      this.weights.push({ name, shape, dtype: "float32" });
      this.chunks.push(new Uint8Array(values.buffer));
    } else if (storage === "float16") {
      this.weights.push({ name, shape, dtype: "float32", quantization: { dtype: "float16", original_dtype: "float32" } });
      this.chunks.push(new Uint8Array(Uint16Array.from(values, floatToHalf).buffer));
    } else {
      const min = Math.min(...values);
      const scale = (Math.max(...values) - min) / 255;
      this.weights.push({ name, shape, dtype: "float32", quantization: { dtype: "uint8", min, scale, original_dtype: "float32" } });
      this.chunks.push(Uint8Array.from(values, (v) => Math.round((v - min) / scale)));
    }
    return name;
  }

  files(input: [string, number[]], outputs: string[]): TfjsModelFiles {
    const json = {
      format: "graph-model",
      modelTopology: { versions: { producer: 1 }, library: {}, node: [{ name: input[0], op: "Placeholder", attr: { dtype: { type: "DT_FLOAT" }, shape: { shape: { dim: input[1].map((size) => ({ size: String(size) })) } } } }, ...this.nodes] },
      weightsManifest: [{ paths: ["w.bin"], weights: this.weights }],
      signature: {
        inputs: { [input[0]]: { name: `${input[0]}:0`, dtype: "DT_FLOAT" } },
        outputs: Object.fromEntries(outputs.map((o) => [o, { name: `${o}:0`, dtype: "DT_FLOAT" }])),
      },
    };
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const bin = new Uint8Array(total);
    let at = 0;
    for (const c of this.chunks) bin.set(c, (at += c.length) - c.length);
    return { json: JSON.stringify(json), shards: new Map([["w.bin", bin]]) };
  }
}

function buildGraph(): TfjsModelFiles {
  const g = new GraphWriter();
  // Image branch: quantised convolutions, pools, fused activations.
  const conv = g.op("conv", "Conv2D", ["x", g.float("w_conv", [3, 3, 4, 6], "uint8")], { ...F, ...CONV, strides: ints(1, 2, 2, 1), padding: { s: b64("SAME") } });
  const relu6 = g.op("relu6", "Relu6", [conv]);
  const avg = g.op("avg", "AvgPool", [relu6], { ...F, data_format: { s: b64("NHWC") }, ksize: ints(1, 3, 3, 1), strides: ints(1, 1, 1, 1), padding: { s: b64("SAME") } });
  const dw = g.op("dw", "FusedDepthwiseConv2dNative", [avg, g.float("w_dw", [3, 3, 6, 2], "float16"), g.float("b_dw", [12])], {
    ...F, ...CONV, strides: ints(1, 1, 1, 1), padding: { s: b64("VALID") }, fused_ops: { list: { s: [b64("BiasAdd"), b64("Relu")] } }, num_args: { i: "1" },
  });
  const prelu = g.op("prelu_conv", "_FusedConv2D", [dw, g.float("w_pc", [1, 1, 12, 5]), g.float("b_pc", [5]), g.float("a_pc", [5])], {
    ...F, ...CONV, strides: ints(1, 1, 1, 1), padding: { s: b64("SAME") }, fused_ops: { list: { s: [b64("BiasAdd"), b64("Prelu")] } }, num_args: { i: "2" }, epsilon: { f: 0 },
  });
  const padded = g.op("padded", "Pad", [prelu, g.int32("pads", [0, 0, 1, 0, 0, 2, 0, 0], [4, 2])]);
  const pooled = g.op("maxpool", "MaxPool", [conv], { ...F, data_format: { s: b64("NHWC") }, ksize: ints(1, 2, 2, 1), strides: ints(1, 2, 2, 1), padding: { s: b64("VALID") } });
  // Shape arithmetic: flatten to [batch, -1] with a dynamically computed target shape, then tile.
  const shape = g.op("shape", "Shape", [padded], { T: { type: "DT_FLOAT" }, out_type: { type: "DT_INT32" } });
  const batch = g.op("batch", "StridedSlice", [shape, g.int32("b0", [0]), g.int32("b1", [1]), g.int32("b2", [1])], {
    T: { type: "DT_INT32" }, Index: { type: "DT_INT32" }, begin_mask: { i: "0" }, end_mask: { i: "0" }, ellipsis_mask: { i: "0" }, new_axis_mask: { i: "0" }, shrink_axis_mask: { i: "1" },
  });
  const target = g.op("target", "Pack", [batch, g.int32("minus1", [-1], [])], { T: { type: "DT_INT32" }, axis: { i: "0" }, N: { i: "2" } });
  const flat = g.op("flat", "Reshape", [padded, target]);
  const tiled = g.op("tiled", "Tile", [flat, g.int32("reps", [2, 1])]);
  const expanded = g.op("expanded", "ExpandDims", [tiled, g.int32("ax0", [0], [])]);
  const squeezed = g.op("squeezed", "Squeeze", [expanded], { ...F, squeeze_dims: ints(0) });
  const sliced = g.op("sliced", "StridedSlice", [squeezed, g.int32("s0", [0, 1]), g.int32("s1", [0, -1]), g.int32("s2", [1, 2])], {
    ...F, Index: { type: "DT_INT32" }, begin_mask: { i: "1" }, end_mask: { i: "1" }, ellipsis_mask: { i: "0" }, new_axis_mask: { i: "0" }, shrink_axis_mask: { i: "0" },
  });
  const gathered = g.op("gathered", "GatherV2", [sliced, g.int32("gidx", [1, 0]), g.int32("gaxis", [0], [])], { Tparams: { type: "DT_FLOAT" }, batch_dims: { i: "0" } });
  // Dense head: mean, fused matmul, batched matmul with an adjoint non-constant operand.
  const mean = g.op("mean", "Mean", [pooled, g.int32("hw", [1, 2])], { ...F, keep_dims: { b: false } });
  const dense = g.op("dense", "_FusedMatMul", [mean, g.float("w_fc", [4, 6]), g.float("b_fc", [4])], {
    ...F, transpose_a: { b: false }, transpose_b: { b: true }, fused_ops: { list: { s: [b64("BiasAdd"), b64("Relu")] } }, num_args: { i: "1" }, epsilon: { f: 0 },
  });
  const cube = g.op("cube", "Reshape", [g.op("sq", "Square", [prelu]), g.int32("cube_shape", [1, 4, 5])]);
  const gram = g.op("gram", "BatchMatMulV2", [cube, cube], { ...F, adj_x: { b: true }, adj_y: { b: false } });
  const norm = g.op("norm", "Rsqrt", [g.op("sumsq", "Sum", [gram, g.int32("ax2", [2], [])], { ...F, keep_dims: { b: true } })]);
  const scaled = g.op("scaled", "RealDiv", [g.op("sub", "Sub", [gram, g.op("prod", "Prod", [gram, g.int32("ax1", [1])], { ...F, keep_dims: { b: true } })]), norm]);
  const clipped = g.op("clipped", "Maximum", [g.op("minimum", "Minimum", [scaled, g.float("hi", [], "float32", [2])]), g.op("neg", "Neg", [g.float("lo", [], "float32", [2])])]);
  const transposed = g.op("transposed", "Transpose", [clipped, g.int32("perm", [0, 2, 1])], { ...F, Tperm: { type: "DT_INT32" } });
  const soft = g.op("soft", "Softmax", [g.op("tanh", "Tanh", [transposed])]);
  // Indices computed in float, floored, cast to int32 and gathered with GatherNd (as the attention mesh does).
  const idx = g.op("idx", "Cast", [g.op("floor", "Floor", [g.op("absidx", "Abs", [g.op("scaledidx", "Mul", [g.float("fidx", [3, 2]), g.float("four", [])])])])], {
    SrcT: { type: "DT_FLOAT" }, DstT: { type: "DT_INT32" }, Truncate: { b: false },
  });
  const nd = g.op("nd", "GatherNd", [g.op("sq2", "Squeeze", [soft], { ...F, squeeze_dims: ints(0) }), idx], { Tparams: { type: "DT_FLOAT" }, Tindices: { type: "DT_INT32" } });
  const mixed = g.op("mixed", "AddN", [nd, g.op("sig", "Sigmoid", [nd]), g.op("ex", "Exp", [g.op("sqrt", "Sqrt", [g.op("abs", "Abs", [nd])])])], { ...F, N: { i: "3" } });
  const row = g.op("row", "Reshape", [mixed, g.int32("row_shape", [1, 3])]);
  const mx = g.op("mx", "Max", [row, g.int32("ax1b", [1])], { ...F, keep_dims: { b: true } });
  const mn = g.op("mn", "Min", [row, g.int32("ax1c", [1], [])], { ...F, keep_dims: { b: true } });
  const joined = g.op("joined", "ConcatV2", [dense, mx, mn, row, g.int32("cat_axis", [1], [])], { ...F, N: { i: "4" }, Tidx: { type: "DT_INT32" } });
  const biased = g.op("biased", "BiasAdd", [g.op("sqd", "SquaredDifference", [joined, g.float("ref", [1, 9])]), g.float("bias9", [9])], { ...F, data_format: { s: b64("NHWC") } });
  const out = g.op("out_head", "Identity", [g.op("powed", "Pow", [g.op("relu", "Relu", [biased]), g.float("two", [], "float32", [2])])]);
  // Every other fused activation, then a plain MatMul with a transposed non-constant operand.
  const acts = ["Relu6", "Elu", "LeakyRelu", "Sigmoid"].map((act) =>
    g.op(`fc_${act}`, "_FusedConv2D", [avg, g.float(`w_${act}`, [1, 1, 6, 2]), g.float(`b_${act}`, [2])], {
      ...F, ...CONV, strides: ints(1, 1, 1, 1), padding: { s: b64("VALID") }, fused_ops: { list: { s: [b64("BiasAdd"), b64(act)] } }, num_args: { i: "1" }, leakyrelu_alpha: { f: 0.3 },
    }),
  );
  const stacked = g.op("stacked", "Reshape", [g.op("acts", "ConcatV2", [...acts, g.int32("ch", [3], [])], { ...F, N: { i: "4" }, Tidx: { type: "DT_INT32" } }), g.int32("m16", [16, 8])]);
  const gramT = g.op("gram_t", "MatMul", [stacked, stacked], { ...F, transpose_a: { b: true }, transpose_b: { b: false } });
  return g.files(["x", [1, 8, 8, 4]], [gathered, out, "mean", gramT]);
}

describe("synthetic graph covering the remaining ops", () => {
  it("converts and matches TensorFlow.js on every output", async () => {
    const files = buildGraph();
    const onnx = convertTfjsGraph(parseTfjsGraphModel(files), { name: "ops", description: "op coverage", metadata: [] });
    const input = Float32Array.from({ length: 8 * 8 * 4 }, (_, i) => Math.sin(i * 0.37));
    const reference = runTfjs(await loadTfjsModel(files), input, [1, 8, 8, 4]);
    const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 1 });
    const out = await session.run({ x: new ort.Tensor("float32", input, [1, 8, 8, 4]) });
    expect(session.outputNames).toEqual(Object.keys(reference));
    for (const [name, ref] of Object.entries(reference)) {
      expect(out[name].dims, name).toEqual(ref.shape);
      const got = out[name].data as Float32Array;
      // Small graph, float32 everywhere: any mapping error is O(1), rounding ~1e-6.
      for (let i = 0; i < ref.data.length; i++) expect(Math.abs(got[i] - ref.data[i]), `${name}[${i}]`).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.data[i])));
    }
    await session.release();
  });

  it("fails loudly, naming the op, on an unsupported op", () => {
    const g = new GraphWriter();
    g.op("y", "Erf", ["x"]);
    expect(() => convertTfjsGraph(parseTfjsGraphModel(g.files(["x", [1, 2]], ["y"])), { name: "e", description: "", metadata: [] })).toThrow(
      "unsupported TensorFlow op Erf (node y)",
    );
  });
});
