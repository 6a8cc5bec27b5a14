/**
 * Reads an ONNX file's graph inputs and outputs (names, element types, shapes) straight from the protobuf
 * wire format with positioned reads, skipping the weights: the generator's files are hundreds of MB, and
 * start-up only needs their signatures, not an inference session.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

export interface TensorSignature {
  name: string;
  /** onnx.TensorProto.DataType (1 = float32); 0 when the file declares none. */
  elemType: number;
  /** Fixed sizes as numbers, symbolic ones as their name (or "?" when unnamed); undefined: no shape declared. */
  shape?: (number | string)[];
}

export interface OnnxSignature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

/** A protobuf field: where its payload lies in the file (length-delimited) or its value (varint). */
interface Field {
  no: number;
  wire: number;
  value: bigint;
  start: number;
  end: number;
}

class FileReader {
  private readonly fd: number;
  readonly size: number;
  private buf = Buffer.alloc(64 * 1024);
  private bufStart = 0;
  private bufEnd = 0;

  constructor(path: string) {
    this.fd = openSync(path, "r");
    this.size = fstatSync(this.fd).size;
  }

  close(): void {
    closeSync(this.fd);
  }

  byte(pos: number): number {
    if (pos < this.bufStart || pos >= this.bufEnd) {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, pos);
      this.bufStart = pos;
      this.bufEnd = pos + n;
      if (n <= 0) throw new Error("unexpected end of file");
    }
    return this.buf[pos - this.bufStart]!;
  }

  bytes(start: number, end: number): Buffer {
    const out = Buffer.alloc(end - start);
    readSync(this.fd, out, 0, out.length, start);
    return out;
  }

  varint(pos: number): [bigint, number] {
    let v = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.byte(pos++);
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return [v, pos];
      shift += 7n;
    }
    throw new Error("malformed varint");
  }

  /** The fields of the message occupying [start, end). */
  *fields(start: number, end: number): Generator<Field> {
    let pos = start;
    while (pos < end) {
      const [key, p1] = this.varint(pos);
      const no = Number(key >> 3n);
      const wire = Number(key & 7n);
      pos = p1;
      if (wire === 0) {
        const [value, p2] = this.varint(pos);
        yield { no, wire, value, start: pos, end: p2 };
        pos = p2;
      } else if (wire === 2) {
        const [len, p2] = this.varint(pos);
        const s = p2;
        const e = s + Number(len);
        if (e > end) throw new Error("field runs past its message");
        yield { no, wire, value: len, start: s, end: e };
        pos = e;
      } else if (wire === 1) {
        yield { no, wire, value: 0n, start: pos, end: pos + 8 };
        pos += 8;
      } else if (wire === 5) {
        yield { no, wire, value: 0n, start: pos, end: pos + 4 };
        pos += 4;
      } else {
        throw new Error(`unsupported protobuf wire type ${wire}`);
      }
    }
  }

  text(f: Field): string {
    return this.bytes(f.start, f.end).toString("utf8");
  }
}

// Field numbers of onnx.proto (ModelProto.graph, GraphProto.initializer/input/output, ValueInfoProto, TypeProto…).
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const TENSOR_NAME = 8;

function valueInfo(r: FileReader, start: number, end: number): TensorSignature {
  const sig: TensorSignature = { name: "", elemType: 0 };
  for (const f of r.fields(start, end)) {
    if (f.no === 1 && f.wire === 2) sig.name = r.text(f);
    else if (f.no === 2 && f.wire === 2) {
      for (const t of r.fields(f.start, f.end)) {
        if (t.no !== 1 || t.wire !== 2) continue; // tensor_type only
        for (const tt of r.fields(t.start, t.end)) {
          if (tt.no === 1 && tt.wire === 0) sig.elemType = Number(tt.value);
          else if (tt.no === 2 && tt.wire === 2) {
            sig.shape = [];
            for (const d of r.fields(tt.start, tt.end)) {
              if (d.no !== 1 || d.wire !== 2) continue;
              let dim: number | string = "?";
              for (const dv of r.fields(d.start, d.end)) {
                if (dv.no === 1 && dv.wire === 0) dim = Number(BigInt.asIntN(64, dv.value));
                else if (dv.no === 2 && dv.wire === 2) dim = r.text(dv) || "?";
              }
              sig.shape.push(typeof dim === "number" && dim <= 0 ? "?" : dim);
            }
          }
        }
      }
    }
  }
  return sig;
}

/** The graph's inputs (without weights listed as inputs, as older exporters do) and outputs. Throws on a file that is not ONNX. */
export function readOnnxSignature(path: string): OnnxSignature {
  const r = new FileReader(path);
  try {
    let graph: Field | undefined;
    for (const f of r.fields(0, r.size)) if (f.no === MODEL_GRAPH && f.wire === 2) graph = f;
    if (!graph) throw new Error("no graph in the file");
    const inputs: TensorSignature[] = [];
    const outputs: TensorSignature[] = [];
    const weights = new Set<string>();
    for (const f of r.fields(graph.start, graph.end)) {
      if (f.wire !== 2) continue;
      if (f.no === GRAPH_INPUT) inputs.push(valueInfo(r, f.start, f.end));
      else if (f.no === GRAPH_OUTPUT) outputs.push(valueInfo(r, f.start, f.end));
      else if (f.no === GRAPH_INITIALIZER) {
        for (const t of r.fields(f.start, f.end)) if (t.no === TENSOR_NAME && t.wire === 2) weights.add(r.text(t));
      }
    }
    return { inputs: inputs.filter((i) => !weights.has(i.name)), outputs };
  } finally {
    r.close();
  }
}
