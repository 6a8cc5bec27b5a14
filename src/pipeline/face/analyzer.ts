import { join } from "node:path";
import sharp from "sharp";
import { MimicError } from "../../errors.ts";
import { decodeImage } from "../image/decode.ts";
import type { DecodeOptions } from "../image/decode.ts";
import { invertAffine, squareCropTransform, warpAffine, warpAffineToTensor } from "../image/transform.ts";
import type { AnalyzedFace, Box, FaceAnalysis, RgbImage, StageTimings } from "../types.ts";
import { blazeFaceAnchors } from "./anchors.ts";
import {
  DETECTOR_SIZE,
  DETECTOR_STRIDE,
  FRONT_DETECTOR_SIZE,
  decodeDetections,
  fillDetectorInput,
  letterboxView,
  planDetectorViews,
  quickDetectorView,
  rotatedView,
  shrinkFactor,
} from "./detect.ts";
import type { DetectorView, ShrunkImage, TilingOptions } from "./detect.ts";
import { describeFace } from "./describe.ts";
import {
  MESH_POINTS,
  meshRoll,
  roiFromDetection,
  roiFromLandmarks,
  roiTransform,
} from "./geometry.ts";
import type { FaceRoi } from "./geometry.ts";
import { nonMaxSuppression } from "./nms.ts";
import type { Detection } from "./nms.ts";
import { DEFAULT_INFERENCE } from "../settings.ts";
import { laplacianVariance } from "./quality.ts";
import { applyRefinement, irisCircles, loadRefinementMap } from "./refine.ts";
import type { RefinementMap } from "./refine.ts";
import { DEFAULT_MODELS_DIR, QUIET_RUN, createModelSession, outputBySize, runModel } from "./session.ts";
import type { ExecutionProvider, ModelSession } from "./session.ts";

export interface FaceAnalyzerOptions {
  /** Default "cpu" (the app passes ORT_EXECUTION_PROVIDER). */
  provider?: ExecutionProvider;
  /** intra-op threads per session. Default DEFAULT_INFERENCE_THREADS (the app passes its share of ORT_THREADS). */
  threads?: number;
  /** Folder holding blazeface.onnx, blazeface-front.onnx, facemesh.onnx, faceres.onnx (and the attention mesh). Default: the repository's models/. */
  modelsDir?: string;
  /**
   * Refine eyelids and lips with the attention mesh (facemesh-attention.onnx, +1 model run per face, see
   * refine.ts). Default true: the plain mesh hardly follows eyelids, which openness measures rely on.
   */
  refine?: boolean;
  /** Folder for onnxruntime's optimised graphs (see session.ts); unset: none kept. */
  modelCacheDir?: string;
}

export interface AnalyzeOptions {
  /** Keep at most this many faces (the largest). Default 20. */
  maxFaces?: number;
  /** Detector confidence below which a candidate is dropped (0..1). Default 0.5. */
  minDetectionScore?: number;
  /** Face-mesh presence below which a face is dropped (0..1). Default 0.5. */
  minMeshScore?: number;
  /** Also search overlapping tiles of large images for small faces. Default true. */
  tiles?: boolean | TilingOptions;
  /** When no upright face is found, also search the image turned 90°, -90° and 180°. Default true. */
  rotations?: boolean;
  /**
   * First try the 5× cheaper 128-px "front" BlazeFace on photos too small for tiles, and stop there when it
   * is sure of a face (score ≥ 0.75). Default true; false always runs the 256-px detector.
   */
  quickDetect?: boolean;
  /**
   * Run the mesh model on all faces in one batch (default true). On CPU a batch costs about the same as
   * separate runs (measured in bench/analysis.ts); it saves per-call overhead and helps on GPU.
   */
  meshBatch?: boolean;
}

export interface AlignedCrop {
  image: RgbImage;
  /** crop ← image affine [a, b, c, d, e, f]: (x, y) ↦ (a·x + b·y + c, d·x + e·y + f). */
  transform: number[];
}

export const MESH_SIZE = 192;
export const EMBED_SIZE = 224;
/** MediaPipe's detection → mesh ROI: box long side × 1.5, rolled to the eye line. */
export const MESH_ROI_SCALE = 1.5;
/**
 * The identity model (faceres) was fed, in @vladmandic/human, the mesh crop: the detector box × 1.4.
 * The mesh's extent is a little smaller than that box, hence a slightly larger margin here.
 */
const EMBED_MARGIN = 1.45;
const DEFAULT_ALIGN_MARGIN = 1.5;
const MAX_MESH_CANDIDATES = 32;
/** Upright faces score 0.85–0.95 on clear photos; below this the turned search double-checks. */
const UNSURE_SCORE = 0.75;
/**
 * A second-look detection replaces an overlapping first-look one only when it scores this much higher:
 * an upright face seen upside down can score up to ~0.65, the right orientation scores ~0.9.
 */
const SECOND_LOOK_MARGIN = 0.15;
/**
 * A face is looked at again (reorient()) when its mesh's eye line turns away from its crop's roll by more than
 * this, or its mesh presence is below REORIENT_PRESENCE, or the attention mesh failed on the crop. BlazeFace's
 * eye keypoints are a few degrees off on upright faces, which the mesh corrects on its own; on a face tilted
 * 45–90° they can be off by far more than one mesh fit corrects (it stays half-way, brows on the glasses).
 * Upright faces with a sure detection (SURE_UPRIGHT) run nothing more.
 */
const REORIENT_DEG = 8;
const REORIENT_PRESENCE = 0.9;
/**
 * Below this detector score the face's roll is checked by the second look even when the mesh agrees with its
 * crop: the misread tilted faces score lower than upright ones, even degraded ones (bench/README, tilt.test.ts).
 */
const SURE_UPRIGHT = 0.86;
/** The second-look detector view: a square this many times the face's side, centred on the mesh, rolled to it. */
const SECOND_LOOK_VIEW = 2.5;
/** A re-fitted mesh whose eye line is within this many degrees of its crop's roll is taken as converged. */
const CONVERGED_DEG = 3;
/** At most this many plain-mesh fits after the second look (each ~1.7 ms on one thread). */
const MAX_REFITS = 4;

/**
 * The face analysis stage: BlazeFace detection (whole image + tiles, weighted NMS), a rotation-aligned
 * FaceMesh per face (468 landmarks in image pixels), head pose, quality measures, and identity
 * embeddings (faceres). One instance holds one onnxruntime session per model; share it (getFaceAnalyzer).
 */
export class FaceAnalyzer {
  private readonly anchors = blazeFaceAnchors(DETECTOR_SIZE);
  private readonly frontAnchors = blazeFaceAnchors(FRONT_DETECTOR_SIZE);
  private frontDetector?: Promise<ModelSession>;
  private embedder?: Promise<ModelSession>;
  /**
   * Reusable model-input buffers by length (each call takes its own, so concurrent analyze() calls on one
   * analyzer never share one): saves allocating and zeroing ~1 MB per photo.
   */
  private readonly buffers = new Map<number, Float32Array[]>();

  private takeBuffer(length: number): Float32Array {
    return this.buffers.get(length)?.pop() ?? new Float32Array(length);
  }

  private giveBuffer(buf: Float32Array): void {
    const list = this.buffers.get(buf.length) ?? [];
    if (list.length < 4) list.push(buf);
    this.buffers.set(buf.length, list);
  }

  private constructor(
    private readonly detector: ModelSession,
    private readonly mesh: ModelSession,
    private readonly opts: ResolvedOptions,
    private readonly refiner?: { model: ModelSession; map: RefinementMap },
  ) {}

  static async create(options: FaceAnalyzerOptions = {}): Promise<FaceAnalyzer> {
    const resolved = resolveOptions(options);
    const so = { provider: resolved.provider, threads: resolved.threads, cacheDir: resolved.cacheDir };
    const detector = await createModelSession(join(resolved.modelsDir, "blazeface.onnx"), "blazeface", so);
    const mesh = await createModelSession(join(resolved.modelsDir, "facemesh.onnx"), "facemesh", so);
    let refiner: { model: ModelSession; map: RefinementMap } | undefined;
    if (options.refine !== false) {
      const map = loadRefinementMap(resolved.modelsDir);
      refiner = { model: await createModelSession(join(resolved.modelsDir, "facemesh-attention.onnx"), "facemesh-attention", so), map };
    }
    return new FaceAnalyzer(detector, mesh, resolved, refiner);
  }

  get provider(): ExecutionProvider {
    return this.opts.provider;
  }

  /** Whether landmarks carry the attention mesh's refined eyelids and lips. */
  get refined(): boolean {
    return this.refiner !== undefined;
  }

  /** Finds every face (largest first) with landmarks, pose and quality. No face → `faces: []`. */
  async analyze(img: RgbImage, opts: AnalyzeOptions = {}): Promise<FaceAnalysis> {
    checkImage(img);
    const t0 = performance.now();
    const maxFaces = Math.max(0, Math.floor(opts.maxFaces ?? 20));
    let candidates = await this.detect(img, opts);
    if (candidates.length > maxFaces + 2) {
      // Only the largest faces are wanted: mesh those (plus two spares for candidates the mesh rejects).
      const area = (d: Detection) => d.box.width * d.box.height;
      candidates = [...candidates].sort((a, b) => area(b) - area(a)).slice(0, maxFaces + 2);
    }
    const t1 = performance.now();
    const faces = await this.landmarks(img, candidates, opts.minMeshScore ?? 0.5, opts.meshBatch ?? true);
    const t2 = performance.now();
    faces.sort((a, b) => b.quality.faceSizePx - a.quality.faceSizePx);
    return {
      width: img.width,
      height: img.height,
      faces: faces.slice(0, maxFaces),
      timingsMs: { detect: t1 - t0, mesh: t2 - t1, total: t2 - t0 },
    };
  }

  /**
   * A photo too small for tiles is first seen whole by the 128-px BlazeFace (quickDetect; 5× cheaper): a
   * sure face (≥ UNSURE_SCORE) there ends the search. Otherwise (or for a large photo):
   * BlazeFace over the letterboxed image and (large images) tiles, merged by weighted NMS. BlazeFace
   * copes with sideways faces but mistakes an upside-down face for an upright one (eyes on the mouth,
   * scores ~0.5–0.65, and the mesh then fits happily), and misses a face that fills the whole frame. So
   * when nothing upright is found, or the best upright score is below UNSURE_SCORE, the whole image is
   * searched again with a wide black border, and turned 90°, -90° and 180°; a second-look face replaces
   * an overlapping first-look one only when it scores SECOND_LOOK_MARGIN higher (never blending views).
   */
  async detect(img: RgbImage, opts: AnalyzeOptions = {}): Promise<Detection[]> {
    checkImage(img);
    const tiling = opts.tiles === false ? { tileAbove: Infinity } : opts.tiles === true || opts.tiles === undefined ? {} : opts.tiles;
    const minScore = opts.minDetectionScore ?? 0.5;
    const shrunk = new Map<number, ShrunkImage>();
    const quick = opts.quickDetect === false ? undefined : quickDetectorView(img.width, img.height, tiling);
    if (quick) {
      // Only sure faces end the search: anything less (a small or hard face) gets the full search below.
      const sure = Math.max(minScore, UNSURE_SCORE);
      const found = nonMaxSuppression(await this.runDetector(img, [quick], sure, shrunk, await this.frontModel(), this.frontAnchors), 0.3, true);
      if (found.length > 0) return found.slice(0, MAX_MESH_CANDIDATES);
    }
    const raw = await this.runDetector(img, planDetectorViews(img.width, img.height, tiling), minScore, shrunk);
    let found = nonMaxSuppression(raw, 0.3, true);
    const best = found.reduce((m, d) => Math.max(m, d.score), 0);
    if (opts.rotations !== false && best < UNSURE_SCORE) {
      const second = [
        letterboxView(img.width, img.height, 1.6),
        ...[Math.PI / 2, -Math.PI / 2, Math.PI].map((angle) => rotatedView(img.width, img.height, angle)),
      ];
      const extra: Detection[] = [];
      // Extra views bring extra false positives (a blurred astronaut photo: 0.62–0.70 on helmet and
      // shoulder, which the mesh then accepted); right answers there score ≥ 0.78, so ask for sure ones.
      const sure = Math.max(minScore, UNSURE_SCORE);
      for (const view of second) extra.push(...nonMaxSuppression(await this.runDetector(img, [view], sure, shrunk), 0.3, true));
      found = preferFirstLook(found, extra);
    }
    return found.slice(0, MAX_MESH_CANDIDATES);
  }

  private async runDetector(
    img: RgbImage,
    views: DetectorView[],
    minScore: number,
    shrunk: Map<number, ShrunkImage>,
    model = this.detector,
    anchors = this.anchors,
  ): Promise<Detection[]> {
    await prepareShrunkCopies(img, views, shrunk);
    const size = views[0]?.inputSize ?? DETECTOR_SIZE;
    const per = size * size * 3;
    const found: Detection[] = [];
    const batch = model.dynamicBatch ? views.length : 1;
    const input = this.takeBuffer(per * batch);
    const anchorCount = anchors.length / 2;
    const logits = new Float32Array(anchorCount);
    const regressors = new Float32Array(anchorCount * DETECTOR_STRIDE);
    for (let start = 0; start < views.length; start += batch) {
      const n = Math.min(batch, views.length - start);
      for (let i = 0; i < n; i++) fillDetectorInput(img, views[start + i], input, i * per, shrunk);
      const out = await runModel(model, n === batch ? input : input.subarray(0, n * per), [n, size, size, 3]);
      for (let i = 0; i < n; i++) {
        gatherDetectorOutputs(out, n, i, logits, regressors);
        found.push(...decodeDetections(logits, regressors, anchors, views[start + i], img.width, img.height, minScore));
      }
    }
    this.giveBuffer(input);
    return found;
  }

  /**
   * FaceMesh on rotation-aligned crops (batched when the model allows), mapped back to image pixels. A face
   * whose mesh disagrees with its crop's roll, or is unsure, gets a second look (reorient()).
   */
  private async landmarks(img: RgbImage, dets: Detection[], minMeshScore: number, batched: boolean): Promise<AnalyzedFace[]> {
    if (dets.length === 0) return [];
    const per = MESH_SIZE * MESH_SIZE * 3;
    const rois = dets.map((d) => roiFromDetection(d, MESH_ROI_SCALE));
    const transforms = rois.map((r) => roiTransform(r, MESH_SIZE));
    const batch = this.mesh.dynamicBatch && batched ? dets.length : 1;
    const input = this.takeBuffer(per * dets.length);
    for (let i = 0; i < dets.length; i++) warpAffineToTensor(img, transforms[i], MESH_SIZE, MESH_SIZE, input, i * per, 1 / 255, 0);
    const faces: AnalyzedFace[] = [];
    for (let start = 0; start < dets.length; start += batch) {
      const n = Math.min(batch, dets.length - start);
      const out = await runModel(this.mesh, input.subarray(start * per, (start + n) * per), [n, MESH_SIZE, MESH_SIZE, 3]);
      const { mesh, presence } = meshOutputs(out, n);
      for (let i = 0; i < n; i++) {
        const k = start + i;
        const meshScore = presenceScore(presence[i]);
        if (!(meshScore >= minMeshScore)) continue;
        let fit: MeshFit = {
          mesh: mesh.subarray(i * MESH_POINTS * 3, (i + 1) * MESH_POINTS * 3),
          meshScore,
          roi: rois[k],
          transform: transforms[k],
          crop: input.subarray(k * per, (k + 1) * per),
        };
        const plain = meshToImage(fit.mesh, 0, fit.transform, fit.roi);
        let refined = this.refiner ? await this.refine(fit.mesh, 0, fit.crop) : undefined;
        let lm = refined ? meshToImage(refined.mesh, 0, fit.transform, fit.roi) : plain;
        let own: Float32Array | undefined;
        // Free signs of a crop rolled away from the face: the mesh is unsure, turns away from its crop, or the
        // attention mesh's landmarks left the crop. Otherwise a detection below SURE_UPRIGHT is checked by the
        // cheap second look alone (the mesh can sit, sure of itself, on a crop 50° off the face).
        let seen: SecondLook | undefined;
        const doubtful = meshScore < REORIENT_PRESENCE || refined?.failed === true || turnedAway(plain, fit.roi) || turnedAway(lm, fit.roi);
        if (!doubtful && dets[k].score < SURE_UPRIGHT) {
          seen = await this.secondLook(img, lm);
        }
        if (doubtful || (seen?.roi && Math.abs(angleBetween(seen.roi.angle, meshRoll(lm))) > REORIENT_DEG)) {
          own = this.takeBuffer(per);
          const again = await this.reorient(img, fit, lm, own, seen ?? (await this.secondLook(img, lm)));
          // The second look wins unless its mesh is clearly less sure (it found something else, or nothing).
          if (again && again.meshScore >= minMeshScore && again.meshScore + 0.05 >= meshScore) {
            fit = again;
            refined = this.refiner ? await this.refine(fit.mesh, 0, fit.crop) : undefined;
            lm = meshToImage(refined?.mesh ?? fit.mesh, 0, fit.transform, fit.roi);
          }
        }
        const face = describeFace(lm, {
          score: dets[k].score,
          keypoints: dets[k].keypoints,
          meshScore: fit.meshScore,
          sharpness: laplacianVariance(fit.crop, 0, MESH_SIZE, 255),
        });
        if (refined?.irises) face.irises = circlesToImage(refined.irises, fit.transform);
        if (own) this.giveBuffer(own);
        faces.push(face);
      }
    }
    this.giveBuffer(input);
    // Two candidates can converge on one face (a tile and the whole view, or part of a face taken for a
    // face): keep the surer one. Overlap is measured on the smaller box, so a part inside a face counts.
    faces.sort((a, b) => b.meshScore * b.score - a.meshScore * a.score);
    return faces.filter((f, i) => !faces.slice(0, i).some((g) => overlapOfSmaller(f.box, g.box) > 0.6));
  }

  /**
   * The 128-px detector on a close view of a face (SECOND_LOOK_VIEW × its side, centred on its mesh `lm` and
   * rolled to the mesh's eye line): the detection nearest the centre as a mesh ROI (undefined: none there).
   * The whole-image detector can misread a tilted face's eye line by tens of degrees while still scoring it
   * fairly; seen close up and mostly upright, the same face is within its reach.
   */
  private async secondLook(img: RgbImage, lm: Float32Array): Promise<SecondLook> {
    const around = roiFromLandmarks(lm, 1);
    const view: DetectorView = {
      inputFromImage: squareCropTransform(around.cx, around.cy, around.side * SECOND_LOOK_VIEW, around.angle, FRONT_DETECTOR_SIZE),
      region: { x: 0, y: 0, width: img.width, height: img.height },
      isTile: false,
      inputSize: FRONT_DETECTOR_SIZE,
    };
    const found = nonMaxSuppression(await this.runDetector(img, [view], 0.5, new Map(), await this.frontModel(), this.frontAnchors), 0.3, true);
    const near = found
      .filter((d) => Math.hypot(d.box.x + d.box.width / 2 - around.cx, d.box.y + d.box.height / 2 - around.cy) < 0.5 * around.side)
      .sort((a, b) => b.score - a.score)[0];
    return { roi: near && roiFromDetection(near, MESH_ROI_SCALE), score: near?.score ?? 0 };
  }

  /**
   * A face whose first crop was rolled away from it (see landmarks()): the mesh is fitted again on the second
   * look's eye line (its own ROI's when the second look found nothing) and re-fitted on its own eye line
   * (roiFromLandmarks, as MediaPipe tracks a face) until the two agree within CONVERGED_DEG: a mesh fitted
   * far off turns only part of the way. The crop keeps the first crop's side (the second look's box is the
   * axis-aligned hull of a turned box). `crop` receives the final crop.
   */
  private async reorient(img: RgbImage, first: MeshFit, lm: Float32Array, crop: Float32Array, seen: SecondLook): Promise<MeshFit | undefined> {
    let roi: FaceRoi = seen.roi ? { ...seen.roi, side: first.roi.side } : roiFromLandmarks(lm, MESH_ROI_SCALE);
    let fit: MeshFit | undefined;
    for (let i = 0; i < MAX_REFITS; i++) {
      fit = await this.fitMesh(img, roi, crop);
      const fitLm = meshToImage(fit.mesh, 0, fit.transform, fit.roi);
      if (Math.abs(angleBetween(meshRoll(fitLm), roi.angle)) <= CONVERGED_DEG) break;
      roi = roiFromLandmarks(fitLm, MESH_ROI_SCALE);
    }
    return fit;
  }

  /** One plain-mesh fit on `roi` (its crop written into `crop`, one face long). */
  private async fitMesh(img: RgbImage, roi: FaceRoi, crop: Float32Array): Promise<MeshFit> {
    const transform = roiTransform(roi, MESH_SIZE);
    warpAffineToTensor(img, transform, MESH_SIZE, MESH_SIZE, crop, 0, 1 / 255, 0);
    const out = await runModel(this.mesh, crop, [1, MESH_SIZE, MESH_SIZE, 3]);
    const { mesh, presence } = meshOutputs(out, 1);
    return { mesh, meshScore: presenceScore(presence[0]), roi, transform, crop };
  }

  /**
   * Face `item` of a plain-mesh batch with the attention mesh's eyelids and lips written in, and its iris
   * circles (crop pixels). The attention graph gathers features at its own coarse landmarks and fails
   * ("invalid index" in GatherND) when they leave the crop, which happens on faces cut by the frame and on a
   * crop rolled far from the face: those keep the plain mesh and have no irises (`failed`). onnxruntime's own
   * log line for that failure is silenced (QUIET_RUN): the failure is expected and handled here.
   */
  private async refine(mesh: Float32Array, item: number, crop: Float32Array): Promise<{ mesh: Float32Array; irises: Float32Array | null; failed?: true }> {
    const { model, map } = this.refiner!;
    const refined = mesh.slice(item * MESH_POINTS * 3, (item + 1) * MESH_POINTS * 3);
    let out: Record<string, Float32Array>;
    try {
      out = await runModel(model, crop, [1, MESH_SIZE, MESH_SIZE, 3], QUIET_RUN); // the attention graph's batch is fixed at 1
    } catch {
      return { mesh: refined, irises: null, failed: true };
    }
    applyRefinement(refined, 0, out, map);
    return { mesh: refined, irises: irisCircles(refined, 0, out) };
  }

  /**
   * An upright square crop of the face (rolled to its eye line), size × size pixels, covering the
   * landmarks' extent × marginScale. `transform` maps image → crop.
   */
  alignedCrop(img: RgbImage, face: AnalyzedFace, size: number, marginScale = DEFAULT_ALIGN_MARGIN): AlignedCrop {
    checkImage(img);
    const roi = faceRoi(face, marginScale);
    const transform = roiTransform(roi, size);
    return { image: warpAffine(img, transform, size, size), transform };
  }

  /** Identity embedding (faceres, 1024-d, L2-normalised) of an analysed face. Compare with cosineSimilarity. */
  async embed(img: RgbImage, face: AnalyzedFace): Promise<Float32Array> {
    checkImage(img);
    const model = await this.embedModel();
    const transform = roiTransform(faceRoi(face, EMBED_MARGIN), EMBED_SIZE);
    const input = new Float32Array(EMBED_SIZE * EMBED_SIZE * 3);
    warpAffineToTensor(img, transform, EMBED_SIZE, EMBED_SIZE, input, 0, 1, 0); // faceres takes 0..255
    const out = await runModel(model, input, [1, EMBED_SIZE, EMBED_SIZE, 3]);
    const desc = outputBySize(out, 1, 1024);
    if (!desc) throw new MimicError("MODEL", "The face identity model has an unexpected output shape. Run `npm run models` again.");
    return l2Normalise(Float32Array.from(desc));
  }

  /** The 128-px detector, loaded on first use (like faceres) so create() keeps its model set. */
  private frontModel(): Promise<ModelSession> {
    return (this.frontDetector ??= this.loadLazily("blazeface-front", () => (this.frontDetector = undefined)));
  }

  private embedModel(): Promise<ModelSession> {
    return (this.embedder ??= this.loadLazily("faceres", () => (this.embedder = undefined)));
  }

  /** Starts loading `models/<name>.onnx`; `forget` clears the cached promise if the load fails, so a later call retries. */
  private loadLazily(name: string, forget: () => void): Promise<ModelSession> {
    const so = { provider: this.opts.provider, threads: this.opts.threads, cacheDir: this.opts.cacheDir };
    const loading = createModelSession(join(this.opts.modelsDir, `${name}.onnx`), name, so);
    loading.catch(forget);
    return loading;
  }

  /** Frees the native sessions. The analyzer must not be used afterwards. */
  async dispose(): Promise<void> {
    await Promise.all([
      this.detector.session.release(),
      this.mesh.session.release(),
      this.refiner?.model.session.release(),
      this.frontDetector?.then((m) => m.session.release()).catch(() => undefined),
      this.embedder?.then((m) => m.session.release()).catch(() => undefined),
    ]);
  }
}

/** What the second look found: a mesh ROI from its detection (undefined: nothing near the face) and its score. */
interface SecondLook {
  roi: FaceRoi | undefined;
  score: number;
}

/** One face's plain mesh (crop pixels) with the crop it was fitted on. */
interface MeshFit {
  mesh: Float32Array;
  meshScore: number;
  roi: FaceRoi;
  transform: number[];
  /** The mesh model's input for this face (one face long). */
  crop: Float32Array;
}

function meshOutputs(out: Record<string, Float32Array>, n: number): { mesh: Float32Array; presence: Float32Array } {
  const mesh = outputBySize(out, n, MESH_POINTS * 3);
  const presence = outputBySize(out, n, 1);
  if (!mesh || !presence) throw new MimicError("MODEL", "The face mesh model has an unexpected output shape. Run `npm run models` again.");
  return { mesh, presence };
}

/** The mesh's face presence as a probability (the converted model gives one; a logit is accepted too). */
const presenceScore = (p: number) => (p >= 0 && p <= 1 ? p : 1 / (1 + Math.exp(-p)));

/** Whether a mesh's eye line (image pixels) turns away from its crop's roll by more than REORIENT_DEG. */
const turnedAway = (lm: Float32Array, roi: FaceRoi) => Math.abs(angleBetween(meshRoll(lm), roi.angle)) > REORIENT_DEG;

/** a − b in degrees, wrapped to (−180, 180]. */
function angleBetween(a: number, b: number): number {
  const d = (((a - b) * 180) / Math.PI) % 360;
  return d > 180 ? d - 360 : d <= -180 ? d + 360 : d;
}

/** Above this many pixels, downscaled copies are made by libvips (SIMD, ~4× faster than our JS box filter). */
const SHARP_SHRINK_PIXELS = 2_000_000;

/** Makes the area-averaged copies the views need, all at once, with sharp for large photos. */
async function prepareShrunkCopies(img: RgbImage, views: DetectorView[], shrunk: Map<number, ShrunkImage>): Promise<void> {
  if (img.width * img.height < SHARP_SHRINK_PIXELS) return; // fillDetectorInput's JS box filter is fine
  const needed = [...new Set(views.map(shrinkFactor))].filter((k) => k >= 2 && !shrunk.has(k));
  await Promise.all(
    needed.map(async (k) => {
      const w = Math.max(1, Math.round(img.width / k));
      const h = Math.max(1, Math.round(img.height / k));
      const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
        .resize(w, h, { fit: "fill", kernel: "linear" })
        .raw()
        .toBuffer();
      shrunk.set(k, { image: { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: w, height: h }, sx: img.width / w, sy: img.height / h });
    }),
  );
}

/**
 * The converted BlazeFace keeps MediaPipe's two heads apart: 512 anchors of the 16×16 grid and 384 of the
 * 8×8 grid, each as scores (…×1) and regressors (…×16). Anchor order is the 16×16 grid first, as in
 * blazeFaceAnchors. A single fused output (896×17, score first) is accepted too.
 */
function gatherDetectorOutputs(
  out: Record<string, Float32Array>,
  batch: number,
  item: number,
  logits: Float32Array,
  regressors: Float32Array,
): void {
  const total = logits.length;
  const fused = outputBySize(out, batch, total * (DETECTOR_STRIDE + 1));
  if (fused) {
    const base = item * total * (DETECTOR_STRIDE + 1);
    for (let a = 0; a < total; a++) {
      logits[a] = fused[base + a * (DETECTOR_STRIDE + 1)];
      regressors.set(fused.subarray(base + a * 17 + 1, base + a * 17 + 17), a * DETECTOR_STRIDE);
    }
    return;
  }
  const heads = [512, 384];
  let anchor = 0;
  for (const count of heads) {
    const sc = outputBySize(out, batch, count);
    const rg = outputBySize(out, batch, count * DETECTOR_STRIDE);
    if (!sc || !rg) throw new MimicError("MODEL", "The face detector model has an unexpected output shape. Run `npm run models` again.");
    logits.set(sc.subarray(item * count, (item + 1) * count), anchor);
    regressors.set(rg.subarray(item * count * DETECTOR_STRIDE, (item + 1) * count * DETECTOR_STRIDE), anchor * DETECTOR_STRIDE);
    anchor += count;
  }
}

/** Merges second-look detections into the first look (never blending across views; see detect()). */
function preferFirstLook(first: Detection[], second: Detection[]): Detection[] {
  let kept = [...first];
  for (const d of [...second].sort((a, b) => b.score - a.score)) {
    const overlapping = kept.filter((k) => overlapOfSmaller(k.box, d.box) > 0.4);
    if (overlapping.every((k) => k.score + SECOND_LOOK_MARGIN < d.score)) {
      kept = kept.filter((k) => !overlapping.includes(k));
      kept.push(d);
    }
  }
  return kept.sort((a, b) => b.score - a.score);
}

function overlapOfSmaller(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / Math.min(a.width * a.height, b.width * b.height);
}

function resolveOptions(o: FaceAnalyzerOptions): ResolvedOptions {
  return {
    provider: o.provider ?? DEFAULT_INFERENCE.provider,
    threads: o.threads ?? DEFAULT_INFERENCE.threads,
    modelsDir: o.modelsDir ?? DEFAULT_MODELS_DIR,
    ...(o.modelCacheDir ? { cacheDir: o.modelCacheDir } : {}),
  };
}

interface ResolvedOptions {
  provider: ExecutionProvider;
  threads: number;
  modelsDir: string;
  cacheDir?: string;
}

function checkImage(img: RgbImage): void {
  if (!img || !(img.data instanceof Uint8Array) || !(img.width >= 1) || !(img.height >= 1) || img.data.length !== img.width * img.height * 3) {
    throw new MimicError("BAD_INPUT", "The picture could not be processed (invalid pixel data).", {
      logMessage: `bad RgbImage ${img?.width}x${img?.height} len=${img?.data?.length}`,
    });
  }
}

/** Raw mesh (crop pixels; x, y, z) → image pixels; z scaled like x and y. */
function meshToImage(raw: Float32Array, offset: number, cropFromImage: number[], roi: FaceRoi): Float32Array {
  const inv = invertAffine(cropFromImage);
  const zScale = roi.side / MESH_SIZE;
  const lm = new Float32Array(MESH_POINTS * 3);
  for (let i = 0; i < MESH_POINTS; i++) {
    const o = offset + 3 * i;
    const x = raw[o];
    const y = raw[o + 1];
    lm[3 * i] = inv[0] * x + inv[1] * y + inv[2];
    lm[3 * i + 1] = inv[3] * x + inv[4] * y + inv[5];
    lm[3 * i + 2] = raw[o + 2] * zScale;
  }
  return lm;
}

/** Circles [cx, cy, r]… in crop pixels → image pixels (the crop transform is a similarity). */
function circlesToImage(circles: Float32Array, cropFromImage: number[]): Float32Array {
  const inv = invertAffine(cropFromImage);
  const scale = Math.hypot(inv[0], inv[3]);
  const out = new Float32Array(circles.length);
  for (let i = 0; i < circles.length; i += 3) {
    out[i] = inv[0] * circles[i] + inv[1] * circles[i + 1] + inv[2];
    out[i + 1] = inv[3] * circles[i] + inv[4] * circles[i + 1] + inv[5];
    out[i + 2] = circles[i + 2] * scale;
  }
  return out;
}

/** The crop region for a face: from its landmarks when it has them, else from the detector output. */
function faceRoi(face: AnalyzedFace, marginScale: number): FaceRoi {
  if (face.landmarks && face.landmarks.length === MESH_POINTS * 3) return roiFromLandmarks(face.landmarks, marginScale);
  if (face.keypoints?.length >= 2) return roiFromDetection(face, marginScale);
  throw new MimicError("BAD_INPUT", "That face has no landmarks to align on.");
}

function l2Normalise(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

/** Cosine of the angle between two embeddings (1 = same direction). Works on unnormalised vectors too. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new RangeError(`embedding lengths differ (${a.length} vs ${b.length})`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

export function createFaceAnalyzer(opts: FaceAnalyzerOptions = {}): Promise<FaceAnalyzer> {
  return FaceAnalyzer.create(opts);
}

let shared: Promise<FaceAnalyzer> | undefined;

/**
 * The analyzer shared by everything in this process (module-level singleton: each worker process gets its
 * own sessions). `opts` apply to the call that creates it (a worker's warm-up passes its settings first);
 * later calls get the same one. A failed start is retried on the next call.
 */
export function getFaceAnalyzer(opts: FaceAnalyzerOptions = {}): Promise<FaceAnalyzer> {
  if (!shared) {
    shared = FaceAnalyzer.create(opts);
    shared.catch(() => (shared = undefined));
  }
  return shared;
}

/** Decode (with the upload guards) + analyze, using the shared analyzer. Timings include `decode`. */
export async function analyzeBytes(
  bytes: Uint8Array,
  opts: AnalyzeOptions & DecodeOptions & { inference?: FaceAnalyzerOptions } = {},
): Promise<FaceAnalysis & { image: RgbImage }> {
  const t0 = performance.now();
  const image = await decodeImage(bytes, opts);
  const t1 = performance.now();
  const analyzer = await getFaceAnalyzer(opts.inference);
  const t2 = performance.now();
  const analysis = await analyzer.analyze(image, opts);
  const decode = t1 - t0;
  // `init` appears only on the call that had to start the models (once per thread).
  const timingsMs: StageTimings = { decode };
  if (t2 - t1 > 1) timingsMs.init = t2 - t1;
  Object.assign(timingsMs, analysis.timingsMs, { total: decode + analysis.timingsMs.total });
  return { ...analysis, image, timingsMs };
}
