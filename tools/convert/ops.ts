// One handler per TensorFlow op: each emits ONNX nodes computing exactly what TF.js computes and returns
// the ONNX names of the op's outputs. Anything not listed here fails the conversion with the op name.
import type { AttrValue } from "./onnx-builder.ts";
import { OnnxDataType } from "./onnx-proto.ts";
import type { ConversionContext, OpHandler } from "./convert.ts";
import { attrBool, attrFloat, attrInt, attrInts, attrString, attrStrings, attrType, type TfNode } from "./tfjs-model.ts";

const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];

const TF_TO_ONNX_TYPE: Record<string, number> = {
  DT_FLOAT: OnnxDataType.FLOAT,
  DT_INT32: OnnxDataType.INT32,
  DT_INT64: OnnxDataType.INT64,
  DT_BOOL: OnnxDataType.BOOL,
  DT_UINT8: OnnxDataType.UINT8,
};

function fail(n: TfNode, why: string): never {
  throw new Error(`${n.op} ${n.name}: ${why}`);
}

function requireNhwc(n: TfNode): void {
  const format = attrString(n, "data_format") ?? "NHWC";
  if (format !== "NHWC") fail(n, `data_format ${format} is not supported (only NHWC)`);
}

/** TF padding → ONNX attributes. TF's SAME puts the odd pixel at the end, which is ONNX's SAME_UPPER. */
function padAttrs(n: TfNode): Record<string, AttrValue> {
  const padding = attrString(n, "padding");
  if (padding === "SAME") return { auto_pad: "SAME_UPPER" };
  if (padding === "VALID") return { auto_pad: "VALID" };
  if (padding === "EXPLICIT") {
    const e = attrInts(n, "explicit_paddings"); // [n0,n1,h0,h1,w0,w1,c0,c1]
    return { pads: [e[2], e[4], e[3], e[5]] };
  }
  return fail(n, `padding ${padding} is not supported`);
}

function spatial(n: TfNode, key: string, fallback: number): number[] {
  const v = attrInts(n, key);
  return v.length === 4 ? [v[1], v[2]] : [fallback, fallback];
}

/** Applies a TF activation (as named in fused_ops) in NHWC; `alpha` is the Prelu slope tensor. */
function activation(ctx: ConversionContext, n: TfNode, kind: string, x: string, out: string, alpha?: string): string {
  const b = ctx.b;
  switch (kind) {
    case "Relu":
      return b.op("Relu", [x], out);
    case "Relu6":
      return b.op("Clip", [x, b.float(`${n.name}/__zero`, [0], []), b.float(`${n.name}/__six`, [6], [])], out);
    case "Elu":
      return b.op("Elu", [x], out, { alpha: { float: 1 } });
    case "Sigmoid":
      return b.op("Sigmoid", [x], out);
    case "LeakyRelu":
      return b.op("LeakyRelu", [x], out, { alpha: { float: attrFloat(n, "leakyrelu_alpha") ?? 0.2 } });
    case "Prelu":
      if (!alpha) fail(n, "Prelu without a slope argument");
      return prelu(ctx, n, x, alpha, out);
    default:
      return fail(n, `fused activation ${kind} is not supported`);
  }
}

/**
 * TF Prelu as `Relu(x) + slope·Min(x, 0)`, exactly equal to ONNX PRelu (one term is always an exact 0)
 * but faster: onnxruntime 1.30's CPU PRelu kernel is slow, while Relu/Min/Mul/Add are vectorised and fold
 * through the NCHW↔NHWC transposes. Measured on facemesh.onnx (24 Prelu, 1 thread, batch 1, median of 150):
 * PRelu 2.39 ms, Relu+Min 2.21, Max+Min 2.19 (same), Where(x<0, slope·x, x) 2.9. `Max(x, slope·x)` would be
 * cheaper still but is only right for slopes in [0, 1], and facemesh's are not.
 */
function prelu(ctx: ConversionContext, n: TfNode, x: string, alpha: string, out: string): string {
  const b = ctx.b;
  const negative = b.op("Min", [x, b.float(`${n.name}/__zero`, [0], [])], `${n.name}/__negative`);
  const scaled = b.op("Mul", [negative, alpha], `${n.name}/__negative_scaled`);
  return b.op("Add", [b.op("Relu", [x], `${n.name}/__positive`), scaled], out);
}

/** Splits a fused op's fused_ops list into its bias flag and activation, consuming the extra args in order. */
function fusedParts(ctx: ConversionContext, n: TfNode, firstArg: number) {
  const ops = attrStrings(n, "fused_ops");
  let arg = firstArg;
  let bias: string | undefined;
  let act: string | undefined;
  let alpha: string | undefined;
  for (const op of ops) {
    if (op === "BiasAdd" || op === "Add") bias = n.input![arg++];
    else if (!act) {
      act = op;
      if (op === "Prelu") alpha = ctx.tensor(n.input![arg++]);
    } else fail(n, `unsupported fused op sequence ${ops.join(",")}`);
  }
  return { bias, act, alpha };
}

function convolution(depthwise: boolean): OpHandler {
  return (ctx, n) => {
    requireNhwc(n);
    const b = ctx.b;
    const filter = ctx.requireConst(n, 1, "filter");
    const [kh, kw, ci, co] = filter.shape;
    const f = filter.values as Float32Array;
    // TF filters are HWIO (depthwise: H,W,C,multiplier); ONNX wants OIHW (depthwise: C*mult,1,H,W, group C).
    const outChannels = depthwise ? ci * co : co;
    const w = new Float32Array(f.length);
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let i = 0; i < ci; i++)
          for (let o = 0; o < co; o++) {
            const src = ((y * kw + x) * ci + i) * co + o;
            const dst = depthwise ? ((i * co + o) * kh + y) * kw + x : ((o * ci + i) * kh + y) * kw + x;
            w[dst] = f[src];
          }
    const weight = b.initializer(`${n.name}/__oihw`, OnnxDataType.FLOAT, [outChannels, depthwise ? 1 : ci, kh, kw], w);
    const fused = n.op.startsWith("_Fused") || n.op.startsWith("Fused");
    const { bias, act, alpha } = fused ? fusedParts(ctx, n, 2) : { bias: undefined, act: undefined, alpha: undefined };
    const biasConst = bias ? ctx.constOf(bias) : undefined;
    if (bias && !biasConst) fail(n, "bias must be a constant");
    const inputs = [b.op("Transpose", [ctx.tensor(n.input![0])], `${n.name}/__nchw_in`, { perm: TO_NCHW }), weight];
    if (biasConst) inputs.push(b.initializer(`${n.name}/__bias`, OnnxDataType.FLOAT, [outChannels], biasConst.values));
    const conv = b.op("Conv", inputs, `${n.name}/__nchw_out`, {
      kernel_shape: [kh, kw],
      strides: spatial(n, "strides", 1),
      dilations: spatial(n, "dilations", 1),
      group: depthwise ? ci : 1,
      ...padAttrs(n),
    });
    if (!act) return [b.op("Transpose", [conv], ctx.outName(n), { perm: TO_NHWC })];
    const nhwc = b.op("Transpose", [conv], `${n.name}/__nhwc`, { perm: TO_NHWC });
    return [activation(ctx, n, act, nhwc, ctx.outName(n), alpha)];
  };
}

function pool(onnxOp: "MaxPool" | "AveragePool"): OpHandler {
  return (ctx, n) => {
    requireNhwc(n);
    const b = ctx.b;
    const nchw = b.op("Transpose", [ctx.tensor(n.input![0])], `${n.name}/__nchw_in`, { perm: TO_NCHW });
    // TF's AvgPool with SAME padding averages over the valid pixels only: ONNX's count_include_pad=0 (default).
    const pooled = b.op(onnxOp, [nchw], `${n.name}/__nchw_out`, {
      kernel_shape: spatial(n, "ksize", 1),
      strides: spatial(n, "strides", 1),
      ...padAttrs(n),
    });
    return [b.op("Transpose", [pooled], ctx.outName(n), { perm: TO_NHWC })];
  };
}

function elementwise(onnxOp: string, arity: number): OpHandler {
  return (ctx, n) => {
    const ins = n.input!.filter((i) => !i.startsWith("^"));
    if (ins.length !== arity) fail(n, `expected ${arity} inputs, got ${ins.length}`);
    return [ctx.b.op(onnxOp, ins.map((i) => ctx.tensor(i)), ctx.outName(n))];
  };
}

function dataInputs(n: TfNode): string[] {
  return (n.input ?? []).filter((i) => !i.startsWith("^"));
}

function constInts(ctx: ConversionContext, n: TfNode, index: number, what: string): number[] {
  return Array.from(ctx.requireConst(n, index, what).values);
}

function reduce(onnxOp: string): OpHandler {
  return (ctx, n) => {
    // TF accepts a scalar axis; ONNX wants a 1-D axes tensor.
    const c = ctx.constOf(n.input![1]);
    if (!c) fail(n, "reduction axes must be constant");
    const axes = ctx.int64(n, "axes", Array.from(c.values));
    return [ctx.b.op(onnxOp, [ctx.tensor(n.input![0]), axes], ctx.outName(n), { keepdims: attrBool(n, "keep_dims") ? 1 : 0 })];
  };
}

const ELEMENTWISE = new Set([
  "Add", "AddV2", "BiasAdd", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "Pow", "SquaredDifference", "AddN", "Prelu",
  "Relu", "Relu6", "Sigmoid", "Tanh", "Exp", "Sqrt", "Rsqrt", "Neg", "Abs", "Floor", "Square", "Cast", "Identity",
  "Softmax", "Pad", "Transpose", "MatMul", "_FusedMatMul", "BatchMatMul", "BatchMatMulV2",
]);
const rankMemo = new WeakMap<TfNode, number | undefined>();

/**
 * The static rank of a TF tensor, where it follows from the graph (only ranks are tracked, not shapes);
 * undefined when unknown. Needed to transpose the last two axes of a batched matmul operand.
 */
function rankOf(ctx: ConversionContext, input: string): number | undefined {
  const c = ctx.constOf(input);
  if (c) return c.shape.length;
  const n = ctx.nodeByName.get(input.split(":")[0]);
  if (!n) return undefined;
  if (rankMemo.has(n)) return rankMemo.get(n);
  const ins = dataInputs(n);
  const r = (k: number) => rankOf(ctx, ins[k]);
  let rank: number | undefined;
  if (n.op === "Placeholder") rank = n.attr?.shape?.shape?.dim?.length;
  else if (/Conv2D|Depthwise|Pool/.test(n.op)) rank = 4;
  else if (ELEMENTWISE.has(n.op)) {
    const known = ins.slice(0, n.op === "Pad" || n.op === "Transpose" ? 1 : ins.length).map((_, k) => r(k));
    rank = known.every((k) => k !== undefined) ? Math.max(...(known as number[])) : undefined;
  } else if (n.op === "ConcatV2") rank = ins.slice(0, -1).map((_, k) => r(k)).find((k) => k !== undefined);
  else if (n.op === "Reshape") rank = ctx.constOf(ins[1])?.values.length;
  else if (n.op === "StridedSlice") {
    const shrink = attrInt(n, "shrink_axis_mask") ?? 0;
    const inRank = r(0);
    rank = inRank === undefined ? undefined : inRank - (shrink.toString(2).match(/1/g)?.length ?? 0);
  } else if (n.op === "ExpandDims") rank = (r(0) ?? NaN) + 1;
  else if (n.op === "Pack") rank = (r(0) ?? NaN) + 1;
  else if (n.op === "Squeeze") rank = (r(0) ?? NaN) - attrInts(n, "squeeze_dims").length;
  else if (["Sum", "Mean", "Max", "Min", "Prod"].includes(n.op)) {
    const axes = ctx.constOf(ins[1])?.values.length;
    rank = attrBool(n, "keep_dims") ? r(0) : axes === undefined ? undefined : (r(0) ?? NaN) - axes;
  } else if (n.op === "GatherV2") rank = (r(0) ?? NaN) - 1 + (r(1) ?? NaN);
  if (rank !== undefined && Number.isNaN(rank)) rank = undefined;
  rankMemo.set(n, rank);
  return rank;
}

/** TF MatMul / BatchMatMul (optionally fused with a bias and activation) as ONNX MatMul (+ Add + activation). */
function matMul(ctx: ConversionContext, n: TfNode, transposeA: boolean, transposeB: boolean): string[] {
  const b = ctx.b;
  const operand = (index: number, transpose: boolean): string => {
    if (!transpose) return ctx.tensor(n.input![index]);
    const c = ctx.constOf(n.input![index]);
    if (c && c.shape.length === 2) {
      const [r, k] = c.shape;
      const t = new Float32Array(r * k);
      for (let i = 0; i < r; i++) for (let j = 0; j < k; j++) t[j * r + i] = c.values[i * k + j];
      return b.initializer(`${n.name}/__t${index}`, OnnxDataType.FLOAT, [k, r], t);
    }
    // Plain MatMul operands are always rank 2; batched ones need their rank from the graph.
    const rank = n.op === "MatMul" || n.op === "_FusedMatMul" ? 2 : rankOf(ctx, n.input![index]);
    if (rank === undefined) fail(n, `cannot tell the rank of transposed operand ${n.input![index]}`);
    const perm = [...Array.from({ length: rank - 2 }, (_, k) => k), rank - 1, rank - 2];
    return b.op("Transpose", [ctx.tensor(n.input![index])], `${n.name}/__t${index}`, { perm });
  };
  const fused = n.op === "_FusedMatMul";
  const product = [operand(0, transposeA), operand(1, transposeB)];
  const { bias, act, alpha } = fused ? fusedParts(ctx, n, 2) : { bias: undefined, act: undefined, alpha: undefined };
  if (!bias && !act) return [b.op("MatMul", product, ctx.outName(n))];
  let y = b.op("MatMul", product, `${n.name}/__matmul`);
  if (bias) y = b.op("Add", [y, ctx.tensor(bias)], act ? `${n.name}/__biased` : ctx.outName(n));
  return [act ? activation(ctx, n, act, y, ctx.outName(n), alpha) : y];
}

/** TF StridedSlice with constant begin/end/strides and the usual masks, as ONNX Slice (+ Reshape/Squeeze). */
function stridedSlice(ctx: ConversionContext, n: TfNode): string[] {
  const b = ctx.b;
  const begin = constInts(ctx, n, 1, "begin");
  const end = constInts(ctx, n, 2, "end");
  const strides = constInts(ctx, n, 3, "strides");
  const beginMask = attrInt(n, "begin_mask") ?? 0;
  const endMask = attrInt(n, "end_mask") ?? 0;
  const ellipsisMask = attrInt(n, "ellipsis_mask") ?? 0;
  const newAxisMask = attrInt(n, "new_axis_mask") ?? 0;
  const shrinkMask = attrInt(n, "shrink_axis_mask") ?? 0;
  if (ellipsisMask || newAxisMask) fail(n, "ellipsis_mask/new_axis_mask are not supported");
  const starts: number[] = [];
  const ends: number[] = [];
  const axes: number[] = [];
  const steps: number[] = [];
  const squeeze: number[] = [];
  const BIG = 2 ** 31 - 1;
  for (let k = 0; k < begin.length; k++) {
    const step = strides[k];
    if (shrinkMask & (1 << k)) {
      // A shrunk axis takes exactly element begin[k]; -1 means the last one.
      starts.push(begin[k]);
      ends.push(begin[k] === -1 ? BIG : begin[k] + 1);
      steps.push(1);
      axes.push(k);
      squeeze.push(k);
      continue;
    }
    const s = beginMask & (1 << k) ? (step > 0 ? 0 : BIG) : begin[k];
    const e = endMask & (1 << k) ? (step > 0 ? BIG : -BIG) : end[k];
    if (s === 0 && e === BIG && step === 1) continue;
    starts.push(s);
    ends.push(e);
    steps.push(step);
    axes.push(k);
  }
  const x = ctx.tensor(n.input![0]);
  const sliced = axes.length
    ? b.op(
        "Slice",
        [x, ctx.int64(n, "starts", starts), ctx.int64(n, "ends", ends), ctx.int64(n, "axes", axes), ctx.int64(n, "steps", steps)],
        squeeze.length ? `${n.name}/__sliced` : ctx.outName(n),
      )
    : b.op("Identity", [x], squeeze.length ? `${n.name}/__sliced` : ctx.outName(n));
  if (!squeeze.length) return [sliced];
  return [b.op("Squeeze", [sliced, ctx.int64(n, "squeeze", squeeze)], ctx.outName(n))];
}

export const OP_HANDLERS: Record<string, OpHandler> = {
  Identity: (ctx, n) => {
    if (!ctx.graphOutputs.has(n.name)) return [ctx.tensor(n.input![0])];
    return [ctx.b.op("Identity", [ctx.tensor(n.input![0])], ctx.outName(n))];
  },
  Conv2D: convolution(false),
  _FusedConv2D: convolution(false),
  DepthwiseConv2dNative: convolution(true),
  FusedDepthwiseConv2dNative: convolution(true),
  MaxPool: pool("MaxPool"),
  AvgPool: pool("AveragePool"),

  Add: elementwise("Add", 2),
  AddV2: elementwise("Add", 2),
  BiasAdd: elementwise("Add", 2),
  Sub: elementwise("Sub", 2),
  Mul: elementwise("Mul", 2),
  RealDiv: elementwise("Div", 2),
  Maximum: elementwise("Max", 2),
  Minimum: elementwise("Min", 2),
  Pow: elementwise("Pow", 2),
  Relu: elementwise("Relu", 1),
  Sigmoid: elementwise("Sigmoid", 1),
  Tanh: elementwise("Tanh", 1),
  Exp: elementwise("Exp", 1),
  Sqrt: elementwise("Sqrt", 1),
  Neg: elementwise("Neg", 1),
  Abs: elementwise("Abs", 1),
  Floor: elementwise("Floor", 1),
  Prelu: (ctx, n) => {
    const ins = dataInputs(n);
    if (ins.length !== 2) fail(n, `expected 2 inputs, got ${ins.length}`);
    return [prelu(ctx, n, ctx.tensor(ins[0]), ctx.tensor(ins[1]), ctx.outName(n))];
  },
  AddN: (ctx, n) => [ctx.b.op("Sum", dataInputs(n).map((i) => ctx.tensor(i)), ctx.outName(n))],
  Relu6: (ctx, n) => [activation(ctx, n, "Relu6", ctx.tensor(n.input![0]), ctx.outName(n))],
  Rsqrt: (ctx, n) => [
    ctx.b.op("Reciprocal", [ctx.b.op("Sqrt", [ctx.tensor(n.input![0])], `${n.name}/__sqrt`)], ctx.outName(n)),
  ],
  Square: (ctx, n) => {
    const x = ctx.tensor(n.input![0]);
    return [ctx.b.op("Mul", [x, x], ctx.outName(n))];
  },
  SquaredDifference: (ctx, n) => {
    const d = ctx.b.op("Sub", [ctx.tensor(n.input![0]), ctx.tensor(n.input![1])], `${n.name}/__diff`);
    return [ctx.b.op("Mul", [d, d], ctx.outName(n))];
  },
  Softmax: (ctx, n) => [ctx.b.op("Softmax", [ctx.tensor(n.input![0])], ctx.outName(n), { axis: -1 })],

  Pad: (ctx, n) => {
    const p = constInts(ctx, n, 1, "paddings"); // [[before, after] per axis]
    const rank = p.length / 2;
    const pads = [...Array.from({ length: rank }, (_, k) => p[2 * k]), ...Array.from({ length: rank }, (_, k) => p[2 * k + 1])];
    return [ctx.b.op("Pad", [ctx.tensor(n.input![0]), ctx.int64(n, "pads", pads)], ctx.outName(n), { mode: "constant" })];
  },
  Reshape: (ctx, n) => {
    const shape = ctx.constOf(n.input![1]);
    // ONNX Reshape reads 0 as "copy this dimension" unless allowzero; TF never means that.
    if (shape && Array.from(shape.values).includes(0)) fail(n, "zero-sized reshape target");
    return [ctx.b.op("Reshape", [ctx.tensor(n.input![0]), ctx.int64Input(n, 1, "shape")], ctx.outName(n))];
  },
  Squeeze: (ctx, n) => {
    const dims = attrInts(n, "squeeze_dims");
    const inputs = [ctx.tensor(n.input![0])];
    if (dims.length) inputs.push(ctx.int64(n, "axes", dims));
    return [ctx.b.op("Squeeze", inputs, ctx.outName(n))];
  },
  ExpandDims: (ctx, n) => [ctx.b.op("Unsqueeze", [ctx.tensor(n.input![0]), ctx.int64Input(n, 1, "axes")], ctx.outName(n))],
  Transpose: (ctx, n) => [ctx.b.op("Transpose", [ctx.tensor(n.input![0])], ctx.outName(n), { perm: constInts(ctx, n, 1, "perm") })],
  ConcatV2: (ctx, n) => {
    const ins = dataInputs(n);
    const axis = constInts(ctx, n, ins.length - 1, "axis")[0];
    return [ctx.b.op("Concat", ins.slice(0, -1).map((i) => ctx.tensor(i)), ctx.outName(n), { axis })];
  },
  Mean: reduce("ReduceMean"),
  Prod: reduce("ReduceProd"),
  Sum: reduce("ReduceSum"),
  Max: reduce("ReduceMax"),
  Min: reduce("ReduceMin"),

  MatMul: (ctx, n) => matMul(ctx, n, attrBool(n, "transpose_a"), attrBool(n, "transpose_b")),
  _FusedMatMul: (ctx, n) => matMul(ctx, n, attrBool(n, "transpose_a"), attrBool(n, "transpose_b")),
  BatchMatMul: (ctx, n) => matMul(ctx, n, attrBool(n, "adj_x"), attrBool(n, "adj_y")),
  BatchMatMulV2: (ctx, n) => matMul(ctx, n, attrBool(n, "adj_x"), attrBool(n, "adj_y")),

  // Shape arithmetic (used by the attention mesh). TF's Shape is int32 by default, ONNX's is int64.
  Shape: (ctx, n) => {
    const shape = ctx.b.op("Shape", [ctx.tensor(n.input![0])], `${n.name}/__int64`);
    const to = TF_TO_ONNX_TYPE[attrType(n, "out_type") ?? "DT_INT32"];
    return [ctx.b.op("Cast", [shape], ctx.outName(n), { to })];
  },
  Cast: (ctx, n) => {
    const to = TF_TO_ONNX_TYPE[attrType(n, "DstT") ?? ""];
    if (!to) fail(n, `cast to ${attrType(n, "DstT")} is not supported`);
    return [ctx.b.op("Cast", [ctx.tensor(n.input![0])], ctx.outName(n), { to })];
  },
  StridedSlice: stridedSlice,
  Pack: (ctx, n) => {
    const axis = attrInt(n, "axis") ?? 0;
    const parts = dataInputs(n).map((i, k) =>
      ctx.b.op("Unsqueeze", [ctx.tensor(i), ctx.int64(n, `axis${k}`, [axis])], `${n.name}/__part${k}`),
    );
    return [ctx.b.op("Concat", parts, ctx.outName(n), { axis })];
  },
  GatherV2: (ctx, n) => {
    const axis = constInts(ctx, n, 2, "axis")[0];
    if ((attrInt(n, "batch_dims") ?? 0) !== 0) fail(n, "batch_dims is not supported");
    return [ctx.b.op("Gather", [ctx.tensor(n.input![0]), ctx.tensor(n.input![1])], ctx.outName(n), { axis })];
  },
  GatherNd: (ctx, n) => {
    // ONNX GatherND wants int64 indices.
    const indices = ctx.int64Input(n, 1, "indices");
    return [ctx.b.op("GatherND", [ctx.tensor(n.input![0]), indices], ctx.outName(n))];
  },
  Tile: (ctx, n) => [ctx.b.op("Tile", [ctx.tensor(n.input![0]), ctx.int64Input(n, 1, "repeats")], ctx.outName(n))],
};
