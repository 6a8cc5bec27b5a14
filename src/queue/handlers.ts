/**
 * The real job handlers (enrol, meme, animated), loaded inside every worker process (the local queue's and
 * every `mimic worker`'s). They only compose the pipeline's stages; each stage lives in its own module. Module-level
 * singletons (the face analyzer's onnxruntime sessions, fonts) are created once per process.
 *
 * Between stages a handler checks its AbortSignal, so a cancelled or timed-out job stops at the next
 * stage boundary (and the pool kills the process if a single stage runs on too long).
 */
import { createHash } from "node:crypto";
import sharp from "sharp";
import { MimicError } from "../errors.ts";
import { describeFace, getFaceAnalyzer, keypointsFromLandmarks } from "../pipeline/face/index.ts";
import { laterFrameNote, reactionFacesNote, readReaction, stillReaction } from "../pipeline/animate/index.ts";
import { decodeImage } from "../pipeline/image/index.ts";
import { assembleMeme, type StillGenerator } from "../pipeline/meme.ts";
import { selectFace } from "../pipeline/transfer/index.ts";
import type { WorkerSettings } from "../requests.ts";
import type { AnalyzedFace, RgbImage } from "../pipeline/types.ts";
import { checkSafe, getNsfwClassifier, sampleFrames, type GateStage, type NsfwClassifier } from "../pipeline/safety/nsfw.ts";
import { prepareEnrolment } from "../templates/enrol.ts";
import { capabilities, generateFrames, loadGeneratorIfAssigned, templateKey, usesGenerator } from "./generator.ts";
import type { EnrolledTemplate } from "../templates/templates.ts";
import {
  MODEL_LOAD_STAGE,
  type AnimatedJob,
  type EnrolJob,
  type EnrolResult,
  type HandlerSet,
  type ImageResult,
  type ImageSource,
  type JobContext,
  type MemeJob,
  type StageTimings,
} from "./jobs.ts";

// Parallelism comes from the pool (one job per worker process, one process per core); libvips's own
// thread pool on top of that only oversubscribes the cores.
sharp.concurrency(1);

/** Wall time per pipeline stage of one job, returned with its result (the ops metrics' stage histograms). */
class StageClock {
  readonly timings: StageTimings = {};
  async time<T>(stage: string, fn: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.timings[stage] = (this.timings[stage] ?? 0) + (performance.now() - t0);
    }
  }
}

let modelsLoaded = false;
/** How long this process took to load its face models and the NSFW classifier; reported with the next job's stages, then cleared. */
let unreportedModelLoadMs: number | undefined;

/** The process's models, created with its settings (the first call, normally the warm-up, creates them). */
async function loadModels(settings: WorkerSettings) {
  const t0 = performance.now();
  // The NSFW gate's classifier loads with the face models (it is on by default on every server).
  const [faces, nsfw] = await Promise.all([getFaceAnalyzer(settings.analyzer), getNsfwClassifier(settings.nsfw)]);
  if (!modelsLoaded) {
    modelsLoaded = true;
    unreportedModelLoadMs = performance.now() - t0;
  }
  return { faces, nsfw };
}

/** The process's shared models; the first job after the models loaded reports their load time. */
async function models(ctx: JobContext, clock: StageClock) {
  const m = await loadModels(ctx.settings);
  if (unreportedModelLoadMs !== undefined) {
    clock.timings[MODEL_LOAD_STAGE] = unreportedModelLoadMs;
    unreportedModelLoadMs = undefined;
  }
  return m;
}

/** Input bytes of a job (checked at the front door; the signal is kept for the stage's shape). */
async function bytesOf(src: ImageSource, ctx: JobContext): Promise<Uint8Array> {
  ctx.signal.throwIfAborted();
  return src.bytes;
}

function templateOf(data: unknown): EnrolledTemplate {
  const t = data as EnrolledTemplate;
  if (!t || !(t.cropPng instanceof Uint8Array) || !(t.landmarks instanceof Float32Array) || t.landmarks.length !== 468 * 3) {
    throw new MimicError("NOT_FOUND", "Your saved face could not be read. Please save it again.", {
      logMessage: "meme job without a usable EnrolledTemplate",
    });
  }
  return t;
}

/**
 * Decoded template crops, per process: a user's saved face is reused across many requests, and decoding
 * the 512 px PNG is ~10 % of a meme's CPU time. Keyed by content hash; callers get their own copy.
 */
const decodedTemplates = new Map<string, RgbImage>();
const TEMPLATE_CACHE_SIZE = 32;

async function decodeTemplate(t: EnrolledTemplate, ctx: JobContext): Promise<RgbImage> {
  const key = createHash("sha1").update(t.cropPng).digest("hex");
  let img = decodedTemplates.get(key);
  if (img) decodedTemplates.delete(key); // re-inserted below: most recently used last
  // Not the upload limits (MAX_INPUT_BYTES/PIXELS): the crop is Mimic's own PNG, saved under whatever limits
  // were in force then; a lower limit set later must not refuse every meme of that face as "your file".
  else img = await decodeImage(t.cropPng);
  decodedTemplates.set(key, img);
  if (decodedTemplates.size > TEMPLATE_CACHE_SIZE) decodedTemplates.delete(decodedTemplates.keys().next().value!);
  return { width: img.width, height: img.height, data: img.data.slice() };
}

/**
 * The saved face as an AnalyzedFace in crop pixels, rebuilt from the stored mesh instead of running
 * the face models again on every meme (saves a detection + mesh pass per job).
 */
function templateFace(t: EnrolledTemplate): AnalyzedFace {
  const a = (t.analysis ?? {}) as { score?: number; meshScore?: number; quality?: { sharpness?: number }; irises?: unknown };
  const face = describeFace(t.landmarks, {
    score: a.score ?? 1,
    meshScore: a.meshScore ?? 1,
    keypoints: keypointsFromLandmarks(t.landmarks),
    sharpness: a.quality?.sharpness ?? 0,
  });
  // Templates saved before irises were kept (or with a damaged record) simply draw eyes without them.
  if (Array.isArray(a.irises) && a.irises.length === 6 && a.irises.every((v) => typeof v === "number" && Number.isFinite(v))) {
    face.irises = Float32Array.from(a.irises as number[]);
  }
  return face;
}

/**
 * The NSFW gate inside the worker (a per-server threshold travels with the job): refuses with
 * UNSAFE_CONTENT before any further work, so a refused picture is never analysed, encoded or returned.
 */
async function gate(ctx: JobContext, threshold: number | undefined, images: RgbImage[], stage: GateStage, clock: StageClock): Promise<void> {
  if (threshold === undefined) return;
  const { nsfw } = await models(ctx, clock);
  await clock.time(`nsfw.${stage}`, () => checkSafe(nsfw, images, threshold, stage));
}

/**
 * Templates saved before portrait framing hold only the 512 px aligned face crop: they still work, and
 * the reply says how to get the whole photo.
 */
function framingNotes(t: EnrolledTemplate, mode: MemeJob["mode"]): string[] {
  // swap results are framed by the reaction: the template's framing does not show.
  if (mode === "swap") return [];
  const framing = (t.analysis as { framing?: unknown } | undefined)?.framing;
  return framing === "portrait" ? [] : [LEGACY_FRAMING_NOTE];
}

/** The reaction's frames (a picture, a GIF/WebP, an MP4/WebM read by this worker's ffmpeg), or only the first for a still. */
const reactionOf = (bytes: Uint8Array, ctx: JobContext, still: boolean) =>
  readReaction(bytes, { limits: ctx.settings.limits, ffmpegPath: ctx.settings.ffmpegPath, still, signal: ctx.signal });

/**
 * A still's reaction picture and its analysis (stillReaction: the first frame that shows a face), with the note
 * saying which frame where it was not the first. Reading is timed as "decode", face search as "analyze".
 */
async function stillOf(bytes: Uint8Array, ctx: JobContext, clock: StageClock) {
  const { faces } = await models(ctx, clock);
  const still = await stillReaction(
    (first) => clock.time("decode", () => reactionOf(bytes, ctx, first)),
    (image) => {
      ctx.signal.throwIfAborted();
      return clock.time("analyze", () => faces.analyze(image));
    },
  );
  return { ...still, notes: still.laterFrameMs === undefined ? [] : [laterFrameNote(still.laterFrameMs)] };
}

const withNotes = (notes: string[]) => (notes.length > 0 ? { notes } : {});
export const LEGACY_FRAMING_NOTE = "This face was saved before Mimic kept the photo around it, so the result is a close crop: save the face again to get your whole photo.";

async function enrol(job: EnrolJob, ctx: JobContext): Promise<EnrolResult> {
  const clock = new StageClock();
  const bytes = await clock.time("fetch", () => bytesOf(job.image, ctx));
  const { faces } = await models(ctx, clock);
  const decoded = await clock.time("decode", () => decodeImage(bytes, ctx.settings.limits));
  await gate(ctx, job.nsfwThreshold, [decoded], "face", clock);
  const prepared = await clock.time("enrol", () => prepareEnrolment(bytes, { decoded, analyzer: faces }));
  const note = prepared.warnings.join(" ");
  return { kind: "enrol", face: { data: prepared.template, ...(note ? { qualityNote: note } : {}) }, timingsMs: clock.timings };
}

/** The worker's options for the one meme assembly (src/pipeline/meme.ts): the output gate, and its stage times. */
function assembly(job: MemeJob | AnimatedJob, ctx: JobContext, clock: StageClock) {
  return {
    captions: job.captions,
    mode: job.mode,
    intensity: job.intensity,
    regions: job.regions,
    visibleMark: job.visibleMark,
    check: async (images: RgbImage[]) => {
      ctx.signal.throwIfAborted();
      await gate(ctx, job.nsfwThreshold, sampleFrames(images), "output", clock);
    },
  };
}

/** The generator as the meme assembly's engine for a job the queue routed to this worker. */
function generatorFor(job: MemeJob | AnimatedJob, t: EnrolledTemplate, template: RgbImage): StillGenerator {
  return (reactions) => generateFrames({ template, templateFace: templateFace(t), templateKey: templateKey(t), reactions, intensity: job.intensity, regions: job.regions });
}

/** Longest side of a swap meme sent to a chat (a chat shows it far smaller; mimic's is the saved face's, at most 1024). */
export const SWAP_MAX_SIDE = 2048;

async function meme(job: MemeJob, ctx: JobContext): Promise<ImageResult> {
  const clock = new StageClock();
  const t = templateOf(job.template);
  const [template, { image: reaction, analysis, notes: frameNotes }] = await Promise.all([
    clock.time("decode", () => decodeTemplate(t, ctx)),
    bytesOf(job.reaction, ctx).then((b) => stillOf(b, ctx, clock)),
  ]);
  ctx.signal.throwIfAborted();
  await gate(ctx, job.nsfwThreshold, [reaction], "input", clock);
  const reactionFace = selectFace(analysis, "reaction");
  // A group photo: say whose expression was taken (the bots have no face index to pick another).
  const whichFace = reactionFacesNote(analysis.faces.length);
  ctx.signal.throwIfAborted();
  const out = await assembleMeme({
    ...assembly(job, ctx, clock),
    template,
    templateFace: templateFace(t),
    reaction: { frames: [reaction], delaysMs: [0] },
    reactionFaces: [reactionFace],
    output: { kind: "png", maxBytes: job.byteBudget, swapMaxSide: SWAP_MAX_SIDE },
    ...(usesGenerator(job) ? { generator: generatorFor(job, t, template) } : {}),
  });
  clock.timings.transfer = out.timingsMs.transfer ?? 0;
  clock.timings.render = (out.timingsMs.caption ?? 0) + (out.timingsMs.encode ?? 0);
  // The generator's own stages (gen.crop … gen.paste) are reported as stages of the job.
  for (const [k, v] of Object.entries(out.timingsMs)) if (k.startsWith("transfer.gen.")) clock.timings[k.slice("transfer.".length)] = v;
  const { bytes, mime, width, height } = out;
  return { kind: "meme", bytes, mime, width, height, timingsMs: clock.timings, ...withNotes([...frameNotes, ...whichFace, ...out.notes, ...framingNotes(t, job.mode)]) };
}

/**
 * An animation: "morph" animates the saved face into the reaction's expression (a still, or an
 * animation's first frame); "reaction" follows every frame of an animated reaction (a still gives a morph).
 */
async function animated(job: AnimatedJob, ctx: JobContext): Promise<ImageResult> {
  const clock = new StageClock();
  const t = templateOf(job.template);
  const input = bytesOf(job.reaction, ctx);
  // A morph animates towards one expression: the reaction's first frame that shows a face (its largest, saying
  // so as a still does; an animated reaction's faces are found, and spoken of, in the pipeline).
  const [template, reaction] = await Promise.all([
    clock.time("decode", () => decodeTemplate(t, ctx)),
    job.animation === "morph"
      ? input.then((b) => stillOf(b, ctx, clock)).then((s) => ({ frames: [s.image], delaysMs: [0], faces: s.analysis.faces.slice(0, 1), notes: [...s.notes, ...reactionFacesNote(s.analysis.faces.length)] }))
      : input.then((b) => clock.time("decode", () => reactionOf(b, ctx, false))).then((r) => ({ ...r, faces: undefined, notes: [] })),
  ]);
  ctx.signal.throwIfAborted();
  await gate(ctx, job.nsfwThreshold, sampleFrames(reaction.frames), "input", clock);
  await models(ctx, clock);
  const out = await assembleMeme({
    ...assembly(job, ctx, clock),
    template,
    templateFace: templateFace(t),
    reaction: { frames: reaction.frames, delaysMs: reaction.delaysMs },
    ...(reaction.faces ? { reactionFaces: reaction.faces } : {}),
    output: {
      kind: "animation",
      format: job.format ?? "gif",
      maxBytes: job.byteBudget,
      ffmpegPath: ctx.settings.ffmpegPath ?? undefined,
      signal: ctx.signal,
      // Where a long animation has got to, when it seems stuck (LOG_LEVEL=debug).
      onFrame: (made, of) => ctx.log.debug({ requestId: ctx.requestId, made, of }, "animation frame made"),
    },
    ...(usesGenerator(job) ? { generator: generatorFor(job, t, template) } : {}),
  });
  const { encode = 0, total = 0 } = out.timingsMs;
  clock.timings.animate = total - encode;
  clock.timings.encode = encode;
  for (const [k, v] of Object.entries(out.timingsMs)) if (k.startsWith("transfer.gen.")) clock.timings[k.slice("transfer.".length)] = v;
  const { bytes, mime, width, height } = out;
  return { kind: "animated", bytes, mime, width, height, timingsMs: clock.timings, ...withNotes([...reaction.notes, ...out.notes, ...framingNotes(t, job.mode)]) };
}

export const handlers: HandlerSet = { enrol, meme, animated };

/** Loads the face models and the NSFW classifier with the worker's settings before it reports ready (see worker.ts). */
export async function warmUp(settings: WorkerSettings): Promise<void> {
  await loadModels(settings);
  await loadGeneratorIfAssigned(settings);
}

/** What this worker can run, sent with its "ready" message (the generator only where its models loaded). */
export { capabilities };
