// Accumulates ONNX nodes and initializers in creation order (which is what makes the output stable).
import {
  AttributeType,
  OnnxDataType,
  type OnnxAttribute,
  type OnnxDataTypeId,
  type OnnxNode,
  type OnnxTensor,
} from "./onnx-proto.ts";

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

function toAttribute(name: string, v: AttrValue): OnnxAttribute {
  if (typeof v === "string") return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === "number") return { name, type: AttributeType.INT, i: v };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v };
  if ("float" in v) return { name, type: AttributeType.FLOAT, f: v.float };
  return { name, type: AttributeType.FLOATS, floats: v.floats };
}

function rawBytes(data: Float32Array | Int32Array | BigInt64Array | Uint8Array): Uint8Array {
  // All supported hosts are little-endian, as ONNX raw_data requires.
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

export class OnnxGraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly usedNames = new Set<string>();

  /** Returns `base`, or `base__2`, `base__3`… if taken, and reserves it. */
  uniqueName(base: string): string {
    let name = base;
    for (let k = 2; this.usedNames.has(name); k++) name = `${base}__${k}`;
    this.usedNames.add(name);
    return name;
  }

  reserve(name: string): void {
    if (this.usedNames.has(name)) throw new Error(`internal error: tensor name ${name} used twice`);
    this.usedNames.add(name);
  }

  /** Adds a node whose outputs are the given (already reserved or fresh) names. */
  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): void {
    const attribute = Object.keys(attrs)
      .sort()
      .map((k) => toAttribute(k, attrs[k]));
    this.nodes.push({ name: outputs[0], op_type: opType, input: inputs, output: outputs, attribute });
  }

  isUsed(name: string): boolean {
    return this.usedNames.has(name);
  }

  /** Adds a single-output node, naming its output `outName` (reserved here) or a fresh name derived from it. */
  op(opType: string, inputs: string[], outName: string, attrs: Record<string, AttrValue> = {}): string {
    const out = this.uniqueName(outName);
    this.node(opType, inputs, [out], attrs);
    return out;
  }

  initializer(
    base: string,
    dataType: OnnxDataTypeId,
    dims: number[],
    data: Float32Array | Int32Array | BigInt64Array | Uint8Array,
  ): string {
    const name = this.uniqueName(base);
    this.initializers.push({ name, dims, data_type: dataType, raw_data: rawBytes(data) });
    return name;
  }

  int64(base: string, values: number[], dims: number[] = [values.length]): string {
    return this.initializer(base, OnnxDataType.INT64, dims, BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  float(base: string, values: number[], dims: number[] = [values.length]): string {
    return this.initializer(base, OnnxDataType.FLOAT, dims, Float32Array.from(values));
  }
}
