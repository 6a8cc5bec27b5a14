// The subset of onnx.proto (github.com/onnx/onnx, onnx/onnx.proto3) needed to write a model file.
// Field numbers are copied from the upstream schema; protobufjs encodes fields in declaration order
// with no timestamps or map iteration, so the same message always yields the same bytes.
import protobuf from "protobufjs";

const ONNX_SCHEMA = `
syntax = "proto3";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5;
    FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10;
  }
  string name = 1;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  AttributeType type = 20;
}

message ValueInfoProto {
  string name = 1;
  TypeProto type = 2;
  string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  repeated AttributeProto attribute = 5;
  string domain = 7;
}

message StringStringEntryProto {
  string key = 1;
  string value = 2;
}

message ModelProto {
  int64 ir_version = 1;
  string producer_name = 2;
  string producer_version = 3;
  string domain = 4;
  int64 model_version = 5;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
  repeated StringStringEntryProto metadata_props = 14;
}

message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  repeated int64 dims = 1;
  int32 data_type = 2;
  string name = 8;
  bytes raw_data = 9;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    int32 elem_type = 1;
    TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}

message OperatorSetIdProto {
  string domain = 1;
  int64 version = 2;
}
`;

/** onnx.TensorProto.DataType values used by the converter. */
export const OnnxDataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, BOOL: 9 } as const;
export type OnnxDataTypeId = (typeof OnnxDataType)[keyof typeof OnnxDataType];

export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  floats?: number[];
  ints?: number[];
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  data_type: OnnxDataTypeId;
  raw_data: Uint8Array;
}

export interface OnnxNode {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: OnnxAttribute[];
}

/** A dimension is either a fixed size or a symbolic name such as "N" for a dynamic batch. */
export type OnnxDim = number | string;

export interface OnnxValueInfo {
  name: string;
  elemType: OnnxDataTypeId;
  /** Undefined when unknown (no shape is written). */
  shape?: OnnxDim[];
}

export interface OnnxModel {
  producerName: string;
  producerVersion: string;
  docString: string;
  opset: number;
  irVersion: number;
  graphName: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  metadata: Array<[string, string]>;
}

let modelType: protobuf.Type | undefined;

function valueInfo(v: OnnxValueInfo) {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: v.elemType,
        shape: v.shape && { dim: v.shape.map((d) => (typeof d === "number" ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

/** Serialises a model to the ONNX protobuf wire format. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  modelType ??= protobuf.parse(ONNX_SCHEMA, { keepCase: true }).root.lookupType("onnx.ModelProto");
  const message = {
    ir_version: model.irVersion,
    producer_name: model.producerName,
    producer_version: model.producerVersion,
    doc_string: model.docString,
    opset_import: [{ domain: "", version: model.opset }],
    metadata_props: model.metadata.map(([key, value]) => ({ key, value })),
    graph: {
      name: model.graphName,
      node: model.nodes,
      initializer: model.initializers,
      input: model.inputs.map(valueInfo),
      output: model.outputs.map(valueInfo),
    },
  };
  const err = modelType.verify(message);
  if (err) throw new Error(`internal error: invalid ONNX message: ${err}`);
  return modelType.encode(modelType.fromObject(message)).finish();
}
