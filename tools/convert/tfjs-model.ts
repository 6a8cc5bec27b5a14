// Reads a TensorFlow.js graph model (model.json + weight shards) into plain data: the node list and
// every constant dequantised to float32 (or kept as int32/bool), as TensorFlow.js itself would see it.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export type TfDtype = "float32" | "int32" | "bool";

export interface TfConst {
  dtype: TfDtype;
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array;
}

/** One attribute value as TensorFlow.js's JSON writes it (a subset of tensorflow.AttrValue). */
export interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: { dim?: Array<{ size?: string | number }>; unknownRank?: boolean };
  list?: { i?: Array<string | number>; s?: string[]; f?: number[]; type?: string[] };
  tensor?: unknown;
}

export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

export interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

interface TfTensorSignature {
  name: string;
  dtype?: string;
  tensorShape?: { dim?: Array<{ size?: string | number }> };
}

export interface TfSignature {
  inputs: Record<string, TfTensorSignature>;
  outputs: Record<string, TfTensorSignature>;
}

export interface TfjsGraphModel {
  nodes: TfNode[];
  consts: Map<string, TfConst>;
  signature?: TfSignature;
}

export interface TfjsModelFiles {
  /** The model.json text. */
  json: string;
  /** The weight shards in the order the manifest lists them, by path as written in the manifest. */
  shards: Map<string, Uint8Array>;
}

export function readTfjsModelFiles(jsonPath: string): TfjsModelFiles {
  const json = readFileSync(jsonPath, "utf8");
  const shards = new Map<string, Uint8Array>();
  const parsed = JSON.parse(json) as { weightsManifest: Array<{ paths: string[] }> };
  for (const group of parsed.weightsManifest)
    for (const p of group.paths) shards.set(p, new Uint8Array(readFileSync(join(dirname(jsonPath), p))));
  return { json, shards };
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const STORED_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, float16: 2, uint8: 1, uint16: 2 };

function decodeWeight(w: ManifestWeight, bytes: Uint8Array): TfConst {
  const count = w.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const q = w.quantization;
  if (w.dtype !== "float32" && w.dtype !== "int32" && w.dtype !== "bool")
    throw new Error(`weight ${w.name}: unsupported dtype ${w.dtype}`);
  if (!q) {
    if (w.dtype === "bool") return { dtype: "bool", shape: w.shape, values: bytes.slice(0, count) };
    const values = w.dtype === "int32" ? new Int32Array(count) : new Float32Array(count);
    for (let k = 0; k < count; k++)
      values[k] = w.dtype === "int32" ? view.getInt32(k * 4, true) : view.getFloat32(k * 4, true);
    return { dtype: w.dtype, shape: w.shape, values };
  }
  // Dequantise exactly as tfjs-core's io.decodeWeights does: float16 → float32, or value*scale + min.
  const values = w.dtype === "int32" ? new Int32Array(count) : new Float32Array(count);
  for (let k = 0; k < count; k++) {
    let v: number;
    if (q.dtype === "float16") v = halfToFloat(view.getUint16(k * 2, true));
    else if (q.dtype === "uint8") v = view.getUint8(k) * q.scale! + q.min!;
    else if (q.dtype === "uint16") v = view.getUint16(k * 2, true) * q.scale! + q.min!;
    else throw new Error(`weight ${w.name}: unsupported quantization ${q.dtype}`);
    values[k] = w.dtype === "int32" ? Math.round(v) : v;
  }
  return { dtype: w.dtype as TfDtype, shape: w.shape, values };
}

/** Dequantises every weight of a manifest from its shards (byte-concatenated per group, as tfjs-core does). */
export function decodeWeightGroups(manifest: Array<{ paths: string[]; weights: ManifestWeight[] }>, shards: Map<string, Uint8Array>): Map<string, TfConst> {
  const consts = new Map<string, TfConst>();
  for (const group of manifest) {
    const parts = group.paths.map((p) => {
      const shard = shards.get(p);
      if (!shard) throw new Error(`weight shard ${p} missing`);
      return shard;
    });
    const total = parts.reduce((n, p) => n + p.length, 0);
    const buffer = new Uint8Array(total);
    let at = 0;
    for (const p of parts) buffer.set(p, (at += p.length) - p.length);
    let offset = 0;
    for (const w of group.weights) {
      const count = w.shape.reduce((a, b) => a * b, 1);
      const size = count * STORED_BYTES[w.quantization?.dtype ?? w.dtype];
      if (!size && count) throw new Error(`weight ${w.name}: unknown storage dtype`);
      if (offset + size > total) throw new Error(`weight ${w.name}: shards too short`);
      consts.set(w.name, decodeWeight(w, buffer.subarray(offset, offset + size)));
      offset += size;
    }
    if (offset !== total) throw new Error(`weight group ${group.paths.join(",")}: ${total - offset} bytes unused`);
  }
  return consts;
}

export function parseTfjsGraphModel(files: TfjsModelFiles): TfjsGraphModel {
  const j = JSON.parse(files.json) as {
    format?: string;
    modelTopology: { node: TfNode[] };
    weightsManifest: Array<{ paths: string[]; weights: ManifestWeight[] }>;
    signature?: TfSignature;
    userDefinedMetadata?: { signature?: TfSignature };
  };
  if (j.format !== "graph-model") throw new Error(`not a TensorFlow.js graph model (format ${j.format})`);
  const consts = decodeWeightGroups(j.weightsManifest, files.shards);
  return { nodes: j.modelTopology.node, consts, signature: j.signature ?? j.userDefinedMetadata?.signature };
}

// ---- attribute helpers (TensorFlow.js writes int64 as strings, strings as base64) ----

export const attrString = (n: TfNode, key: string): string | undefined => {
  const s = n.attr?.[key]?.s;
  return s === undefined ? undefined : Buffer.from(s, "base64").toString("utf8");
};
export const attrInts = (n: TfNode, key: string): number[] => (n.attr?.[key]?.list?.i ?? []).map(Number);
export const attrInt = (n: TfNode, key: string): number | undefined => {
  const i = n.attr?.[key]?.i;
  return i === undefined ? undefined : Number(i);
};
export const attrBool = (n: TfNode, key: string): boolean => n.attr?.[key]?.b ?? false;
export const attrFloat = (n: TfNode, key: string): number | undefined => n.attr?.[key]?.f;
export const attrStrings = (n: TfNode, key: string): string[] =>
  (n.attr?.[key]?.list?.s ?? []).map((s) => Buffer.from(s, "base64").toString("utf8"));
export const attrType = (n: TfNode, key: string): string | undefined => n.attr?.[key]?.type;
