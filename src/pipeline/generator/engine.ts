/**
 * onnxruntime sessions for the six LivePortrait files, checked against FaceFusion's signatures before they
 * load, plus the appearance features of recent templates (in memory only). Frames share one call where a file's batch dimension is symbolic
 * (up to MAX_BATCH); the published files fix it at 1, so there each frame is its own call.
 */
import { createHash } from "node:crypto";
import * as ort from "onnxruntime-node";
import { removeOwnOrtDebugLogAtExit } from "../face/ort-debug-log.ts";
import { MimicError } from "../../errors.ts";
import type { ExecutionProvider } from "../face/session.ts";
import { angleDegrees, type Motion } from "./keypoints.ts";
import { batchable, checkGeneratorDir, LIVEPORTRAIT_MODELS, type CheckedModel, type LivePortraitModel } from "./signatures.ts";

export const MAX_BATCH = 8;
export const FEATURE_SIZE = 32 * 16 * 64 * 64;
const IMAGE_SIZE = 3 * 256 * 256;
const OUTPUT_SIZE = 3 * 512 * 512;
/**
 * Appearance features kept in memory per process (8 MiB each). Never on disk: they are enough to redraw the
 * face, and a face its user deleted or asked to forget must not outlive the store's row.
 */
const MEMORY_CACHE = 8;

export interface GeneratorEngineOptions {
  dir: string;
  provider: ExecutionProvider;
  threads: number;
}

interface Model {
  session: ort.InferenceSession;
  checked: CheckedModel;
  batch: number;
}

type Feeds = Record<string, Float32Array>;

export class LivePortraitEngine {
  private readonly memory = new Map<string, Float32Array>();
  /** Counts for tests and metrics: how appearance features were obtained. */
  readonly featureStats = { computed: 0, fromMemory: 0 };
  /** Per model: onnxruntime calls made and the items (frames) they carried. */
  readonly runStats = Object.fromEntries(Object.keys(LIVEPORTRAIT_MODELS).map((k) => [k, { calls: 0, items: 0 }])) as Record<LivePortraitModel, { calls: number; items: number }>;

  private constructor(
    private readonly models: Record<LivePortraitModel, Model>,
  ) {}

  static async load(opts: GeneratorEngineOptions): Promise<LivePortraitEngine> {
    const checked = checkGeneratorDir(opts.dir);
    removeOwnOrtDebugLogAtExit();
    const models: Partial<Record<LivePortraitModel, Model>> = {};
    for (const key of Object.keys(LIVEPORTRAIT_MODELS) as LivePortraitModel[]) {
      const c = checked[key];
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(c.path, {
          executionProviders: [opts.provider],
          intraOpNumThreads: opts.threads,
          interOpNumThreads: 1,
          graphOptimizationLevel: "all",
        });
      } catch (cause) {
        throw new MimicError("MODEL", `The generator model ${LIVEPORTRAIT_MODELS[key].file} could not be loaded: ${cause instanceof Error ? cause.message : String(cause)}`, {
          cause,
          details: { path: c.path, provider: opts.provider },
        });
      }
      models[key] = { session, checked: c, batch: batchable(c.signature) ? MAX_BATCH : 1 };
    }
    return new LivePortraitEngine(models as Record<LivePortraitModel, Model>);
  }

  /** Frames per call each model takes (1 for the published files). */
  batchOf(model: LivePortraitModel): number {
    return this.models[model].batch;
  }

  /**
   * Runs `items` through a model, `batch` at a time, feeding inputs by name; returns each item's outputs
   * (in the file's output order) as flat arrays.
   */
  private async run(model: LivePortraitModel, items: Feeds[]): Promise<Float32Array[][]> {
    const m = this.models[model];
    const out: Float32Array[][] = [];
    for (let at = 0; at < items.length; at += m.batch) {
      const chunk = items.slice(at, at + m.batch);
      const feeds: Record<string, ort.Tensor> = {};
      for (const inp of m.checked.signature.inputs) {
        const per = chunk[0]![inp.name]!.length;
        const data = new Float32Array(per * chunk.length);
        chunk.forEach((f, i) => data.set(f[inp.name]!, i * per));
        const dims = inp.shape!.map((d, i) => (i === 0 ? chunk.length : typeof d === "number" ? d : -1));
        // A symbolic inner size (none in the published files) is whatever the item's data fills.
        const known = dims.reduce((a, d) => (d > 0 ? a * d : a), 1);
        feeds[inp.name] = new ort.Tensor("float32", data, dims.map((d) => (d > 0 ? d : data.length / known)));
      }
      const res = await m.session.run(feeds);
      this.runStats[model].calls++;
      this.runStats[model].items += chunk.length;
      const tensors = m.checked.signature.outputs.map((o) => res[o.name]!);
      for (let i = 0; i < chunk.length; i++) {
        out.push(
          tensors.map((t) => {
            const all = t.data as Float32Array;
            const per = all.length / chunk.length;
            return all.slice(i * per, (i + 1) * per);
          }),
        );
      }
      for (const t of Object.values(res)) t.dispose?.();
    }
    return out;
  }

  /**
   * Appearance features of a template crop (1×3×256×256), computed once per template while it stays among the
   * process's recent ones (keyed by the crop's content hash).
   */
  async features(tensor: Float32Array, templateKey: string): Promise<Float32Array> {
    if (tensor.length !== IMAGE_SIZE) throw new RangeError("features() takes one 3×256×256 crop");
    const key = createHash("sha256").update(templateKey).update(new Uint8Array(tensor.buffer, tensor.byteOffset, tensor.byteLength)).digest("hex");
    const hit = this.memory.get(key);
    if (hit) {
      this.memory.delete(key);
      this.memory.set(key, hit);
      this.featureStats.fromMemory++;
      return hit;
    }
    const [[feats]] = (await this.run("featureExtractor", [{ input: tensor }])) as [[Float32Array]];
    this.featureStats.computed++;
    this.memory.set(key, feats);
    if (this.memory.size > MEMORY_CACHE) this.memory.delete(this.memory.keys().next().value!);
    return feats;
  }

  async motion(tensors: Float32Array[]): Promise<Motion[]> {
    const outs = await this.run("motionExtractor", tensors.map((t) => ({ input: t })));
    return outs.map(([pitch, yaw, roll, scale, t, exp, kp]) => ({
      pitch: angleDegrees(pitch!),
      yaw: angleDegrees(yaw!),
      roll: angleDegrees(roll!),
      scale: scale![0]!,
      translation: [t![0]!, t![1]!, t![2]!],
      expression: exp!,
      points: kp!,
    }));
  }

  async retargetEyes(rows: Float32Array[]): Promise<Float32Array[]> {
    return (await this.run("eyeRetargeter", rows.map((r) => ({ input: r })))).map((o) => o[0]!);
  }

  async retargetLips(rows: Float32Array[]): Promise<Float32Array[]> {
    return (await this.run("lipRetargeter", rows.map((r) => ({ input: r })))).map((o) => o[0]!);
  }

  /** The stitcher's correction of driving keypoints (`source`) against the face's own (`target`). */
  async stitch(source: Float32Array[], target: Float32Array[]): Promise<Float32Array[]> {
    return (await this.run("stitcher", source.map((s, i) => ({ source: s, target: target[i]! })))).map((o) => o[0]!);
  }

  /** 3×512×512 faces (0..1) of `features` moved from keypoints `target` to `source`. */
  async generate(features: Float32Array, source: Float32Array[], target: Float32Array[]): Promise<Float32Array[]> {
    const outs = await this.run("generator", source.map((s, i) => ({ feature_volume: features, source: s, target: target[i]! })));
    return outs.map((o) => {
      if (o[0]!.length !== OUTPUT_SIZE) throw new MimicError("MODEL", "The generator returned an image of an unexpected size.");
      return o[0]!;
    });
  }

  async release(): Promise<void> {
    for (const m of Object.values(this.models)) await m.session.release();
  }
}
