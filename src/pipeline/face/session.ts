import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { MimicError } from "../../errors.ts";
import { makeDir } from "../../make-dir.ts";
import { removeOwnOrtDebugLogAtExit } from "./ort-debug-log.ts";

/**
 * onnxruntime sessions for the face models. A session is expensive to create (graph optimisation, weight
 * packing) and safe to run repeatedly, so each model gets exactly one per thread (see FaceAnalyzer).
 */

import type { ExecutionProvider } from "../settings.ts";
export type { ExecutionProvider };

export interface SessionOptions {
  provider: ExecutionProvider;
  /** intra-op threads (ORT_THREADS). */
  threads: number;
  /**
   * Folder for onnxruntime's optimised graphs (CPU only; see optimisedGraph). Unset: every session optimises
   * its graph itself.
   */
  cacheDir?: string;
}

/** The bundled models folder (repository root /models). */
export const DEFAULT_MODELS_DIR = fileURLToPath(new URL("../../../models/", import.meta.url));

export interface ModelSession {
  name: string;
  session: ort.InferenceSession;
  inputName: string;
  /** Input shape as declared by the model; symbolic dimensions are -1. */
  inputShape: number[];
  /** True when the first input dimension is symbolic, so several crops can run in one call. */
  dynamicBatch: boolean;
  outputNames: readonly string[];
}

export async function createModelSession(path: string, name: string, opts: SessionOptions): Promise<ModelSession> {
  if (!existsSync(path)) {
    throw new MimicError(
      "MODEL",
      `The face model "${name}" is missing (${path}). Run \`npm run models\` to create the bundled models.`,
      { details: { path } },
    );
  }
  removeOwnOrtDebugLogAtExit();
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [opts.provider],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
  };
  let session: ort.InferenceSession;
  try {
    session = (opts.provider === "cpu" && opts.cacheDir ? await viaOptimisedGraph(path, opts.cacheDir, sessionOptions) : undefined) ?? (await ort.InferenceSession.create(path, sessionOptions));
  } catch (cause) {
    throw sessionError(cause, name, path, opts.provider);
  }
  const meta = session.inputMetadata[0];
  const shape = meta && meta.isTensor ? meta.shape.map((d) => (typeof d === "number" && d > 0 ? d : -1)) : [];
  return {
    name,
    session,
    inputName: session.inputNames[0],
    inputShape: shape,
    dynamicBatch: shape.length > 0 && shape[0] === -1,
    outputNames: session.outputNames,
  };
}

/**
 * Where this machine's optimised graph of `model` is kept: the name carries what the graph depends on (the
 * model file, onnxruntime's version, the CPU and its instruction sets), so a change of any makes a new one.
 */
function optimisedGraph(model: string, cacheDir: string): string {
  const { size, mtimeMs } = statSync(model);
  let flags = "";
  try {
    flags = readFileSync("/proc/cpuinfo", "utf8").match(/^flags\s*:(.*)$/m)?.[1] ?? "";
  } catch {
    // Not Linux: the CPU's model name stands for its instruction sets.
  }
  // The real path: the compiled CLI reaches the same model through dist/models, a link.
  const key = createHash("sha256").update(JSON.stringify([realpathSync(model), size, mtimeMs, ort.env.versions.common, process.arch, cpus()[0]?.model, flags])).digest("hex").slice(0, 16);
  return join(cacheDir, `${model.split("/").pop()!.replace(/\.onnx$/, "")}-${key}.ort.onnx`);
}

/**
 * A CPU session from this machine's optimised graph: graph optimisation is most of a session's start (about
 * a third of a second over the face models and the NSFW classifier). The first process on a machine optimises
 * as usual and saves the result (onnxruntime's optimizedModelFilePath; written under a temporary name and
 * renamed, so a process starting beside it never reads half a file); later ones load it with optimisation off.
 * The saved graph is laid out for this CPU, hence the key. undefined where the cache cannot be used: the
 * caller then creates the session as if there were none.
 */
async function viaOptimisedGraph(model: string, cacheDir: string, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession | undefined> {
  let cached: string;
  try {
    makeDir(cacheDir);
    cached = optimisedGraph(model, cacheDir);
  } catch {
    return undefined;
  }
  if (existsSync(cached)) {
    try {
      return await ort.InferenceSession.create(cached, { ...options, graphOptimizationLevel: "disabled" });
    } catch {
      // A damaged file: made again below.
      try {
        unlinkSync(cached);
      } catch {
        // Another process removed it first.
      }
    }
  }
  const tmp = `${cached}.${process.pid}.tmp`;
  let session: ort.InferenceSession | undefined;
  try {
    // logSeverityLevel 3: onnxruntime warns that a saved "all"-level graph suits only this machine, which the key sees to.
    session = await ort.InferenceSession.create(model, { ...options, optimizedModelFilePath: tmp, logSeverityLevel: 3 });
    renameSync(tmp, cached);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // Never written.
    }
  }
  return session;
}

/** Turns onnxruntime's load errors into a MimicError that says what to change. */
function sessionError(cause: unknown, name: string, path: string, provider: ExecutionProvider): MimicError {
  const msg = cause instanceof Error ? cause.message : String(cause);
  if (provider === "cuda" && /cuda|providers_shared|provider/i.test(msg)) {
    return new MimicError(
      "CONFIG",
      "ORT_EXECUTION_PROVIDER=cuda, but onnxruntime's CUDA provider is not available here " +
        "(onnxruntime-node was installed without it, or no CUDA runtime/GPU is present). " +
        "On a GPU host with internet, reinstall it with the CUDA provider " +
        "(ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install), or set ORT_EXECUTION_PROVIDER=cpu.",
      { cause, details: { provider, model: name }, logMessage: `cuda provider unavailable: ${msg}` },
    );
  }
  return new MimicError("MODEL", `The face model "${name}" could not be loaded (${path}): it may be corrupt. Run \`npm run models\` again.`, {
    cause,
    details: { path },
    logMessage: `model load failed: ${msg}`,
  });
}

/**
 * Run options for a run whose failure the caller expects and handles (the attention mesh on a crop its
 * landmarks leave): onnxruntime logs a failing kernel as an error (severity 3) on stderr before it rejects,
 * which only severity 4 (fatal) silences. The rejection still carries the message.
 */
export const QUIET_RUN: ort.InferenceSession.RunOptions = { logSeverityLevel: 4 };

/** Runs a model on one float32 NHWC batch and returns every output's data keyed by name. */
export async function runModel(
  m: ModelSession,
  data: Float32Array,
  dims: number[],
  runOptions?: ort.InferenceSession.RunOptions,
): Promise<Record<string, Float32Array>> {
  const feeds = { [m.inputName]: new ort.Tensor("float32", data, dims) };
  let results: ort.InferenceSession.OnnxValueMapType;
  try {
    results = await (runOptions ? m.session.run(feeds, runOptions) : m.session.run(feeds));
  } catch (cause) {
    throw new MimicError("MODEL", "Face analysis failed inside the model runtime. Please try again.", {
      cause,
      logMessage: `${m.name} run failed: ${(cause as Error)?.message}`,
    });
  }
  const out: Record<string, Float32Array> = {};
  for (const name of m.outputNames) {
    const t = results[name] as ort.Tensor;
    out[name] = t.data as Float32Array;
  }
  return out;
}

/**
 * Finds the output whose per-item size is `size` (the models' output names come from the TF graph and
 * are not meaningful; their sizes are: 1404 mesh, 1 presence, 266 contours, 1024 descriptor …).
 */
export function outputBySize(outputs: Record<string, Float32Array>, batch: number, size: number): Float32Array | undefined {
  for (const v of Object.values(outputs)) if (v.length === batch * size) return v;
  return undefined;
}
