// Converts a parsed TensorFlow.js graph model into an ONNX model that keeps the TF.js contract:
// the same input/output tensor names, NHWC float32 tensors, the same value ranges. Convolutions and
// pools run in ONNX's NCHW between two transposes; onnxruntime's layout optimiser removes almost all.
import { OnnxGraphBuilder } from "./onnx-builder.ts";
import { OnnxDataType, encodeOnnxModel, type OnnxDataTypeId, type OnnxDim, type OnnxValueInfo } from "./onnx-proto.ts";
import { OP_HANDLERS } from "./ops.ts";
import type { TfConst, TfjsGraphModel, TfNode } from "./tfjs-model.ts";

export const OPSET = 18;
const IR_VERSION = 8;

export interface ConvertOptions {
  /** Graph name and doc string written into the file. */
  name: string;
  description: string;
  /** Key/value provenance (source package, version, sha256 of sources) stored as ONNX metadata. */
  metadata: Array<[string, string]>;
}

/** What an op handler sees: the builder plus lookups of already converted tensors and constants. */
export class ConversionContext {
  readonly b = new OnnxGraphBuilder();
  private readonly tensors = new Map<string, string>();
  private readonly materialised = new Map<string, string>();

  constructor(
    readonly model: TfjsGraphModel,
    readonly graphOutputs: ReadonlySet<string>,
  ) {}

  static ref(input: string): string {
    return input.includes(":") ? input : `${input}:0`;
  }

  /** The constant behind a TF tensor reference, looking through Identity nodes; undefined if computed. */
  constOf(input: string): TfConst | undefined {
    const [nodeName, port] = ConversionContext.ref(input).split(":");
    if (port !== "0") return undefined;
    const c = this.model.consts.get(nodeName);
    if (c) return c;
    const node = this.nodeByName.get(nodeName);
    return node?.op === "Identity" && node.input ? this.constOf(node.input[0]) : undefined;
  }

  requireConst(n: TfNode, index: number, what: string): TfConst {
    const c = this.constOf(n.input![index]);
    if (!c) throw new Error(`${n.op} ${n.name}: ${what} (input ${index}) must be a constant`);
    return c;
  }

  /** The ONNX tensor name for a TF tensor reference; constants become initializers on first use. */
  tensor(input: string): string {
    const ref = ConversionContext.ref(input);
    const known = this.tensors.get(ref);
    if (known) return known;
    const c = this.model.consts.get(ref.slice(0, -2));
    if (c && ref.endsWith(":0")) {
      let name = this.materialised.get(ref);
      if (!name) {
        const type = c.dtype === "float32" ? OnnxDataType.FLOAT : c.dtype === "int32" ? OnnxDataType.INT32 : OnnxDataType.BOOL;
        name = this.b.initializer(ref.slice(0, -2), type, c.shape, c.values);
        this.materialised.set(ref, name);
      }
      return name;
    }
    throw new Error(`internal error: tensor ${input} used before it was produced`);
  }

  setOutputs(n: TfNode, names: string[]): void {
    names.forEach((name, k) => this.tensors.set(`${n.name}:${k}`, name));
  }

  /** The name for output `k` of node `n`, to pass to `b.op` (graph outputs must keep their TF names). */
  outName(n: TfNode, k = 0): string {
    const wanted = k === 0 ? n.name : `${n.name}:${k}`;
    if (this.b.isUsed(wanted) && this.graphOutputs.has(n.name)) throw new Error(`output name ${wanted} already taken`);
    return wanted;
  }

  /** A fresh helper tensor name derived from the node name. */
  tmp(n: TfNode, suffix: string): string {
    return this.b.uniqueName(`${n.name}/__${suffix}`);
  }

  /** An int64 initializer (ONNX wants int64 for shapes, axes, pads) named after the node. */
  int64(n: TfNode, suffix: string, values: number[], dims?: number[]): string {
    return this.b.int64(`${n.name}/__${suffix}`, values, dims);
  }

  /** An int64 tensor from a TF int32 input: a constant initializer when it is constant, else a Cast. */
  int64Input(n: TfNode, index: number, suffix: string): string {
    const c = this.constOf(n.input![index]);
    if (c) return this.int64(n, suffix, Array.from(c.values), c.shape);
    return this.b.op("Cast", [this.tensor(n.input![index])], `${n.name}/__${suffix}`, { to: OnnxDataType.INT64 });
  }

  readonly nodeByName = new Map<string, TfNode>();
}

export type OpHandler = (ctx: ConversionContext, n: TfNode) => string[];

function topologicalOrder(nodes: Map<string, TfNode>, outputs: string[]): TfNode[] {
  const order: TfNode[] = [];
  const state = new Map<string, 1 | 2>();
  const visit = (name: string) => {
    const s = state.get(name);
    if (s === 2) return;
    if (s === 1) throw new Error(`graph has a cycle through ${name}`);
    const node = nodes.get(name);
    if (!node) throw new Error(`graph references missing node ${name}`);
    state.set(name, 1);
    for (const input of node.input ?? []) if (!input.startsWith("^")) visit(input.split(":")[0]);
    state.set(name, 2);
    order.push(node);
  };
  for (const o of outputs) visit(o);
  return order;
}

function shapeFrom(dims: Array<{ size?: string | number }> | undefined, dynamicBatch: boolean): OnnxDim[] | undefined {
  return dims?.map((d, k) => {
    const size = Number(d.size ?? -1);
    if (k === 0 && dynamicBatch) return "N";
    return size < 0 ? (k === 0 ? "N" : `d${k}`) : size;
  });
}

export function convertTfjsGraph(model: TfjsGraphModel, options: ConvertOptions): Uint8Array {
  const byName = new Map(model.nodes.map((n) => [n.name, n]));
  if (!model.signature) throw new Error("model has no signature: cannot tell its outputs");
  const outputSigs = Object.values(model.signature.outputs);
  const outputNodes = outputSigs.map((s) => s.name.split(":")[0]);
  const ctx = new ConversionContext(model, new Set(outputNodes));
  for (const [k, v] of byName) ctx.nodeByName.set(k, v);

  const inputs: OnnxValueInfo[] = [];
  let dynamicBatch = false;
  for (const n of topologicalOrder(byName, outputNodes)) {
    if (n.op === "Const") {
      if (!model.consts.has(n.name)) throw new Error(`Const ${n.name} has no value in the weights manifest`);
      continue;
    }
    if (n.op === "Placeholder") {
      const dtype = n.attr?.dtype?.type;
      if (dtype !== "DT_FLOAT") throw new Error(`Placeholder ${n.name}: only float32 inputs are supported (${dtype})`);
      const dims = n.attr?.shape?.shape?.dim;
      if (Number(dims?.[0]?.size ?? -1) < 0) dynamicBatch = true;
      ctx.b.reserve(n.name);
      inputs.push({ name: n.name, elemType: OnnxDataType.FLOAT, shape: shapeFrom(dims, false) });
      ctx.setOutputs(n, [n.name]);
      continue;
    }
    const handler = OP_HANDLERS[n.op];
    if (!handler) throw new Error(`unsupported TensorFlow op ${n.op} (node ${n.name})`);
    ctx.setOutputs(n, handler(ctx, n));
  }

  const outputs: OnnxValueInfo[] = outputSigs.map((s, k) => {
    const onnxName = ctx.tensor(outputNodes[k]);
    if (onnxName !== outputNodes[k]) throw new Error(`internal error: output ${outputNodes[k]} came out as ${onnxName}`);
    const elemType: OnnxDataTypeId = s.dtype === "DT_INT32" ? OnnxDataType.INT32 : OnnxDataType.FLOAT;
    return { name: onnxName, elemType, shape: shapeFrom(s.tensorShape?.dim, dynamicBatch) };
  });

  return encodeOnnxModel({
    irVersion: IR_VERSION,
    opset: OPSET,
    producerName: "mimic tools/convert",
    producerVersion: "1",
    docString: options.description,
    graphName: options.name,
    nodes: ctx.b.nodes,
    initializers: ctx.b.initializers,
    inputs,
    outputs,
    metadata: options.metadata,
  });
}
