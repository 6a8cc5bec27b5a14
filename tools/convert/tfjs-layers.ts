// Reads a TensorFlow.js *layers* model (Keras topology + weights) shipped as UMD bundles, as nsfwjs ships its
// MobileNetV2, and rewrites it as the graph-model form the converter takes: one TF op per layer (BatchNorm as
// Mul + Add with folded constants, Dense as MatMul + BiasAdd + activation, Dropout as Identity).
import { runInNewContext } from "node:vm";
import { decodeWeightGroups, type ManifestWeight, type TfConst, type TfjsGraphModel, type TfjsModelFiles, type TfNode } from "./tfjs-model.ts";

interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown> & { name: string };
  inbound_nodes: Array<Array<[string, number, number, unknown]>>;
}

interface LayersBundle {
  modelTopology: { model_config: { class_name: string; config: { layers: KerasLayer[]; input_layers: Array<[string, number, number]>; output_layers: Array<[string, number, number]> } } };
  weightsManifest: Array<{ paths: string[]; weights: ManifestWeight[] }>;
}

/**
 * Evaluates a UMD bundle in an empty V8 context (no require, no process, no globals beyond the language):
 * the bundle only builds a literal and assigns it to module.exports.
 */
function evaluateUmd(source: string, file: string): unknown {
  const module = { exports: {} as unknown };
  runInNewContext(source, { module, exports: module.exports }, { filename: file, timeout: 10_000 });
  // Plain data only; re-created in this realm (objects from another context fail instanceof/iteration checks).
  return JSON.parse(JSON.stringify(module.exports)) as unknown;
}

const enc = (s: string) => Buffer.from(s).toString("base64");
const ints = (...v: number[]) => ({ list: { i: v.map(String) } });

/**
 * `files.json` is the model bundle's text; `files.shards` maps each weight bundle's file name to its bytes.
 * Weight bundles export their shard as a base64 string; the manifest names the shard without ".min.js".
 */
export function readLayersUmd(files: TfjsModelFiles, modelFile: string): LayersBundle & { shards: Map<string, Uint8Array> } {
  const bundle = evaluateUmd(files.json, modelFile) as LayersBundle;
  if (bundle?.modelTopology?.model_config?.class_name !== "Model" && bundle?.modelTopology?.model_config?.class_name !== "Functional")
    throw new Error(`${modelFile}: not a Keras functional model`);
  const shards = new Map<string, Uint8Array>();
  for (const [name, bytes] of files.shards) {
    const b64 = evaluateUmd(new TextDecoder().decode(bytes), name);
    if (typeof b64 !== "string") throw new Error(`${name}: expected a base64 weight shard`);
    shards.set(name.replace(/\.min\.js$/, ""), new Uint8Array(Buffer.from(b64, "base64")));
  }
  return { ...bundle, shards };
}

export function parseTfjsLayersUmd(files: TfjsModelFiles, modelFile: string): TfjsGraphModel {
  const bundle = readLayersUmd(files, modelFile);
  const shards = bundle.shards;
  const weights = decodeWeightGroups(bundle.weightsManifest, shards);
  const cfg = bundle.modelTopology.model_config.config;
  const nodes: TfNode[] = [];
  const consts = new Map<string, TfConst>();
  const constNode = (name: string, c: TfConst) => {
    consts.set(name, c);
    nodes.push({ name, op: "Const" });
    return name;
  };
  const weight = (layer: string, key: string): string => {
    const name = `${layer}/${key}`;
    const c = weights.get(name);
    if (!c) throw new Error(`layer ${layer}: weight ${name} missing`);
    return constNode(name, c);
  };
  const f32 = (name: string, values: Float32Array) => constNode(name, { dtype: "float32", shape: [values.length], values });
  const byName = new Map(cfg.layers.map((l) => [l.name, l]));
  const inputsOf = (l: KerasLayer) => {
    if (l.inbound_nodes.length !== 1) throw new Error(`layer ${l.name}: shared layers are not supported`);
    return l.inbound_nodes[0].map(([name, nodeIndex, tensorIndex]) => {
      if (nodeIndex !== 0 || tensorIndex !== 0) throw new Error(`layer ${l.name}: multi-output inputs are not supported`);
      return name;
    });
  };
  const padding = (l: KerasLayer) => ({ s: enc(String(l.config.padding).toUpperCase()) });
  const pair = (v: unknown) => (Array.isArray(v) ? (v as number[]) : [Number(v), Number(v)]);
  const act = (l: KerasLayer, x: string): void => {
    const a = (l.config.activation as string | undefined) ?? "linear";
    const op = { relu: "Relu", softmax: "Softmax", sigmoid: "Sigmoid", relu6: "Relu6", tanh: "Tanh" }[a];
    if (a !== "linear" && !op) throw new Error(`layer ${l.name}: activation ${a} is not supported`);
    nodes.push(op ? { name: l.name, op, input: [x] } : { name: l.name, op: "Identity", input: [x] });
  };

  for (const l of cfg.layers) {
    const c = l.config;
    if (c.data_format !== undefined && c.data_format !== "channels_last") throw new Error(`layer ${l.name}: only channels_last`);
    const ins = l.class_name === "InputLayer" ? [] : inputsOf(l);
    switch (l.class_name) {
      case "InputLayer": {
        const shape = c.batch_input_shape as Array<number | null>;
        nodes.push({ name: l.name, op: "Placeholder", attr: { dtype: { type: "DT_FLOAT" }, shape: { shape: { dim: shape.map((d) => ({ size: String(d ?? -1) })) } } } });
        break;
      }
      case "ZeroPadding2D": {
        const [[t, b], [left, r]] = c.padding as number[][];
        const p = constNode(`${l.name}/paddings`, { dtype: "int32", shape: [4, 2], values: Int32Array.from([0, 0, t, b, left, r, 0, 0]) });
        nodes.push({ name: l.name, op: "Pad", input: [ins[0], p] });
        break;
      }
      case "Conv2D":
      case "DepthwiseConv2D": {
        const depthwise = l.class_name === "DepthwiseConv2D";
        if (depthwise && c.depth_multiplier !== 1) throw new Error(`layer ${l.name}: depth_multiplier ≠ 1`);
        const [sh, sw] = pair(c.strides);
        const [dh, dw] = pair(c.dilation_rate);
        const kernel = weight(l.name, depthwise ? "depthwise_kernel" : "kernel");
        const conv = c.use_bias || (c.activation ?? "linear") !== "linear" ? `${l.name}/conv` : l.name;
        nodes.push({
          name: conv,
          op: depthwise ? "DepthwiseConv2dNative" : "Conv2D",
          input: [ins[0], kernel],
          attr: { strides: ints(1, sh, sw, 1), dilations: ints(1, dh, dw, 1), padding: padding(l), data_format: { s: enc("NHWC") } },
        });
        let y = conv;
        if (c.use_bias) {
          y = c.activation === "linear" ? l.name : `${l.name}/biased`;
          nodes.push({ name: y, op: "BiasAdd", input: [conv, weight(l.name, "bias")] });
        }
        if (y !== l.name) act(l, y);
        break;
      }
      case "BatchNormalization": {
        // Inference: y = (x − mean)·γ/√(var + ε) + β = x·scale + shift, folded here in float64.
        const eps = Number(c.epsilon);
        const get = (k: string) => weights.get(`${l.name}/${k}`)?.values as Float32Array | undefined;
        const mean = get("moving_mean");
        const variance = get("moving_variance");
        if (!mean || !variance) throw new Error(`layer ${l.name}: moving statistics missing`);
        const gamma = c.scale === false ? undefined : get("gamma");
        const beta = c.center === false ? undefined : get("beta");
        const scale = new Float32Array(mean.length);
        const shift = new Float32Array(mean.length);
        for (let k = 0; k < mean.length; k++) {
          const s = (gamma ? gamma[k] : 1) / Math.sqrt(variance[k] + eps);
          scale[k] = s;
          shift[k] = (beta ? beta[k] : 0) - mean[k] * s;
        }
        nodes.push({ name: `${l.name}/scaled`, op: "Mul", input: [ins[0], f32(`${l.name}/scale`, scale)] });
        nodes.push({ name: l.name, op: "AddV2", input: [`${l.name}/scaled`, f32(`${l.name}/shift`, shift)] });
        break;
      }
      case "ReLU": {
        const max = c.max_value as number | null;
        if ((c.negative_slope ?? 0) !== 0 || (c.threshold ?? 0) !== 0 || (max !== null && max !== 6)) throw new Error(`layer ${l.name}: only ReLU and ReLU6`);
        nodes.push({ name: l.name, op: max === 6 ? "Relu6" : "Relu", input: [ins[0]] });
        break;
      }
      case "Add":
        nodes.push({ name: l.name, op: ins.length === 2 ? "AddV2" : "AddN", input: ins });
        break;
      case "AveragePooling2D":
      case "MaxPooling2D": {
        const [ph, pw] = pair(c.pool_size);
        const [sh, sw] = pair(c.strides ?? c.pool_size);
        nodes.push({
          name: l.name,
          op: l.class_name === "AveragePooling2D" ? "AvgPool" : "MaxPool",
          input: [ins[0]],
          attr: { ksize: ints(1, ph, pw, 1), strides: ints(1, sh, sw, 1), padding: padding(l), data_format: { s: enc("NHWC") } },
        });
        break;
      }
      case "Flatten": {
        // The flattened width is the input width of the Dense layer that consumes it (through Dropouts).
        let next = cfg.layers.find((o) => o.class_name !== "InputLayer" && inputsOf(o).includes(l.name));
        while (next && next.class_name === "Dropout") {
          const from: string = next.name;
          next = cfg.layers.find((o) => o.class_name !== "InputLayer" && inputsOf(o).includes(from));
        }
        const units = next?.class_name === "Dense" ? weights.get(`${next.name}/kernel`)?.shape[0] : undefined;
        if (!units) throw new Error(`layer ${l.name}: Flatten must feed a Dense layer`);
        const shape = constNode(`${l.name}/shape`, { dtype: "int32", shape: [2], values: Int32Array.from([-1, units]) });
        nodes.push({ name: l.name, op: "Reshape", input: [ins[0], shape] });
        break;
      }
      case "Dense": {
        nodes.push({ name: `${l.name}/matmul`, op: "MatMul", input: [ins[0], weight(l.name, "kernel")] });
        let y = `${l.name}/matmul`;
        if (c.use_bias) {
          nodes.push({ name: `${l.name}/biased`, op: "BiasAdd", input: [y, weight(l.name, "bias")] });
          y = `${l.name}/biased`;
        }
        act(l, y);
        break;
      }
      case "Dropout":
        nodes.push({ name: l.name, op: "Identity", input: [ins[0]] });
        break;
      default:
        throw new Error(`layer ${l.name}: unsupported Keras layer ${l.class_name}`);
    }
  }
  for (const name of weights.keys()) if (!consts.has(name) && !name.match(/\/(gamma|beta|moving_mean|moving_variance)$/)) throw new Error(`weight ${name} unused`);
  const [inputLayer] = cfg.input_layers.map(([n]) => n);
  const outputs = cfg.output_layers.map(([n]) => n);
  if (!byName.has(inputLayer)) throw new Error(`input layer ${inputLayer} missing`);
  return {
    nodes,
    consts,
    signature: {
      inputs: { [inputLayer]: { name: `${inputLayer}:0` } },
      outputs: Object.fromEntries(outputs.map((o) => [o, { name: `${o}:0`, dtype: "DT_FLOAT" }])),
    },
  };
}
