import { z } from "zod";
import { MimicError } from "./errors.ts";
import type { AnimationFormat } from "./pipeline/video/animation.ts";
import { cleanCaption, MAX_CAPTION_CHARS, readLineBreaks } from "./pipeline/render/text.ts";

/**
 * The one front door: what a meme, a morph or a face enrolment may ask for, parsed once where a request
 * enters (the command core, for the bots and the playground; the CLI for its flags). Every entrance thus
 * takes the same fields, limits and values and refuses the same way: an unknown field or value is named.
 * Form fields arrive as strings (playground, Telegram's text syntax): numbers and switches are read from
 * them here, by the same rules.
 */

export const TRANSFER_MODES = ["mimic", "swap"] as const;
export type TransferMode = (typeof TRANSFER_MODES)[number];

/**
 * Largest caption field accepted before it is even read as text: MAX_CAPTION_CHARS characters of up to
 * 12 code points (MAX_CLUSTER_CODE_POINTS) in UTF-8. Longer is refused by length, never cut.
 */
export const MAX_CAPTION_FIELD_BYTES = MAX_CAPTION_CHARS * 12 * 4;

const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

const caption = z.preprocess(
  blankToUndefined,
  z.string({ error: "must be text" }).optional(),
);

const intensity = z.preprocess(
  (v) => {
    const b = blankToUndefined(v);
    return typeof b === "string" ? Number(b.trim().replace(/%$/, "")) : b;
  },
  z
    .number({ error: "must be a number from 0 to 100 (percent)" })
    .refine((n) => Number.isFinite(n) && n >= 0 && n <= 100, "must be a number from 0 to 100 (percent)")
    .optional(),
);

const mode = z.preprocess(
  (v) => (typeof v === "string" ? (blankToUndefined(v.trim().toLowerCase()) as unknown) : v),
  z.enum(TRANSFER_MODES, { error: `must be ${TRANSFER_MODES.join(" or ")}` }).optional(),
);

export const REGIONS = ["all", "upper", "lower"] as const;
export type Regions = (typeof REGIONS)[number];
const regions = z.preprocess(
  (v) => (typeof v === "string" ? (blankToUndefined(v.trim().toLowerCase()) as unknown) : v),
  z.enum(REGIONS, { error: `must be one of ${REGIONS.join(", ")}` }).optional(),
);

const SWITCH_ON = /^(on|true|yes|1)$/i;
const SWITCH_OFF = /^(off|false|no|0)$/i;
/** On or off, from a boolean or a form's string (a checked checkbox sends "on"). */
const onOff = () =>
  z.preprocess(
    (v) => {
      const b = blankToUndefined(v);
      if (typeof b !== "string") return b;
      return SWITCH_ON.test(b.trim()) ? true : SWITCH_OFF.test(b.trim()) ? false : b;
    },
    z.boolean({ error: "must be on or off" }).optional(),
  );
const animated = onOff();
/** Captions drawn as typed instead of in capitals (URLs, @handles, codes). */
const keepCase = onOff();

const template = z.preprocess(blankToUndefined, z.string({ error: "must be a face name" }).optional());

const memeFields = z.strictObject({ top: caption, bottom: caption, template, intensity, mode, regions, animated, keepCase });
const morphFields = z.strictObject({ top: caption, bottom: caption, template, intensity, keepCase });
const enrolFields = z.strictObject({ name: z.string({ error: "must be a face name" }) });

/**
 * Captions as checked at the front door (typed line breaks read, then cleanCaption: length, spaces, control
 * characters; no fonts). They are prepared for drawing once, in the worker that draws them, which reports what it
 * changed.
 */
export interface Captioned {
  top?: string;
  bottom?: string;
  /** Drawn as typed; absent: in capitals, the classic look. */
  keepCase?: true;
}

export interface MemeRequest extends Captioned {
  template?: string;
  /** 0..1 share of the reaction's expression. */
  intensity: number;
  mode: TransferMode;
  /** Absent: the whole face. */
  regions?: Regions;
  /** true: animated even from a still (a morph); false: a still even from an animation; absent: follow the input. */
  animated?: boolean;
}

export interface MorphRequest extends Captioned {
  template?: string;
  intensity: number;
}

export interface EnrolRequest {
  name: string;
}

export type MemeFields = z.input<typeof memeFields>;
export type MorphFields = z.input<typeof morphFields>;

/** Field names as each entrance spells them (e.g. the CLI's flags), for messages. */
export type FieldLabels = Partial<Record<string, string>>;

function refusal(error: z.ZodError, raw: unknown, labels: FieldLabels, allowed: string[]): MimicError {
  const issue = error.issues[0]!;
  const label = (k: string) => labels[k] ?? k;
  if (issue.code === "unrecognized_keys") {
    const k = issue.keys[0]!;
    return new MimicError("BAD_INPUT", `Unknown field “${label(k)}”. Known fields: ${allowed.map(label).join(", ")}.`, {
      details: { field: k },
    });
  }
  const field = String(issue.path[0] ?? "request");
  // The value as it was sent (a form's string, an option's number), not as it was read.
  const got = raw && typeof raw === "object" ? (raw as Record<string, unknown>)[field] : undefined;
  const shown = typeof got === "string" || typeof got === "number" ? ` (got “${String(got).slice(0, 40)}”)` : "";
  return new MimicError("BAD_INPUT", `${label(field)} ${issue.message}${shown}.`, { details: { field } });
}

function parse<S extends z.ZodType>(schema: S, raw: unknown, labels: FieldLabels, allowed: string[]): z.output<S> {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) throw refusal(r.error, raw, labels, allowed);
  return r.data;
}

function captions(f: { top?: string; bottom?: string; keepCase?: boolean }): Captioned {
  // Named in a refusal: the user may have typed both. Line breaks are read here alone, once (readLineBreaks);
  // keepCase only when asked, so a job without it reads as before (to a worker of the version before, too).
  const clean = (text: string | undefined, which: "top" | "bottom") => cleanCaption(readLineBreaks(text ?? ""), which) || undefined;
  return { top: clean(f.top, "top"), bottom: clean(f.bottom, "bottom"), ...(f.keepCase ? { keepCase: true as const } : {}) };
}

/** A meme request from typed options or form strings. Throws BAD_INPUT naming the field. */
export function parseMemeRequest(raw: unknown, labels: FieldLabels = {}): MemeRequest {
  const f = parse(memeFields, raw, labels, Object.keys(memeFields.shape));
  return {
    ...captions(f),
    template: f.template,
    intensity: (f.intensity ?? 100) / 100,
    mode: f.mode ?? "mimic",
    regions: f.regions,
    animated: f.animated,
  };
}

export function parseMorphRequest(raw: unknown, labels: FieldLabels = {}): MorphRequest {
  const f = parse(morphFields, raw, labels, Object.keys(morphFields.shape));
  return { ...captions(f), template: f.template, intensity: (f.intensity ?? 100) / 100 };
}

export function parseEnrolRequest(raw: unknown, labels: FieldLabels = {}): EnrolRequest {
  return parse(enrolFields, raw, labels, Object.keys(enrolFields.shape));
}

// ---------------------------------------------------------------- the worker's settings

const positiveInt = z.number().int().positive();
const inference = z.strictObject({ provider: z.enum(["cpu", "cuda"]), threads: z.number().int().min(1).max(64), modelCacheDir: z.string().min(1).optional() });

/**
 * What a worker process runs with, from the configuration of the process that starts it (the app, or a
 * `mimic worker`): image limits, the face analyzer's and the NSFW classifier's onnxruntime options, and the
 * ffmpeg binary (null: animations are GIFs). Handed to each worker when it starts (its models load before
 * the first job) and validated there, so the pipeline never reads the environment.
 */
export const workerSettingsSchema = z.strictObject({
  limits: z.strictObject({ maxPixels: positiveInt, maxBytes: positiveInt }),
  analyzer: inference,
  nsfw: inference,
  ffmpegPath: z.string().min(1).nullable(),
  /** The LivePortrait generator (MIMIC_GENERATOR=liveportrait): its model folder, onnxruntime options and feature-cache folder; null/absent: mesh only. */
  generator: z.strictObject({ dir: z.string().min(1), provider: z.enum(["cpu", "cuda"]), threads: z.number().int().min(1).max(64) }).nullable().optional(),
});
export type WorkerSettings = z.infer<typeof workerSettingsSchema>;

/** Throws CONFIG naming the first bad setting. */
export function parseWorkerSettings(raw: unknown): WorkerSettings {
  const r = workerSettingsSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new MimicError("CONFIG", `Invalid worker settings: ${i.path.join(".") || "settings"}: ${i.message}`);
  }
  return r.data;
}

// ---------------------------------------------------------------- jobs: what a worker is asked to do

/** A job's input picture: bytes checked at the front door (src/core/input.ts). */
const imageSource = z.strictObject({ bytes: z.custom<Uint8Array>((v) => v instanceof Uint8Array, "must be bytes"), mime: z.string() });
/** Captions as the front door checked them (cleanCaption); the worker prepares them for drawing, as typed with keepCase. */
const jobCaptions = z.strictObject({ top: z.string().optional(), bottom: z.string().optional(), keepCase: z.boolean().optional() });
/** The NSFW gate's threshold (a per-server setting); absent: the gate is off. */
const nsfwThreshold = z.number().gt(0).lte(1).optional();
const ANIMATION_FORMATS = ["gif", "mp4", "gif-or-mp4"] as const satisfies readonly AnimationFormat[];

export const enrolJobSchema = z.strictObject({ kind: z.literal("enrol"), image: imageSource, nsfwThreshold });

const renderJobFields = {
  /** A saved face (TemplateData, opaque here: the store keeps it as it came from an enrol job; the handler checks it). */
  template: z.unknown(),
  reaction: imageSource,
  captions: jobCaptions,
  /** 0..1: how strongly the reaction's expression is applied. */
  intensity: z.number().min(0).max(1),
  mode: z.enum(TRANSFER_MODES),
  /** Which part of the face takes the expression (default all). */
  regions: z.enum(REGIONS).optional(),
  /** Largest acceptable output file in bytes (the platform's attachment limit). */
  byteBudget: z.number().int().positive(),
  /** Draw the visible "AI-edited" mark (a per-server setting; the machine-readable marks are always written). */
  visibleMark: z.boolean().optional(),
  nsfwThreshold,
  /** Which engine renders it: set by the queue from MIMIC_GENERATOR for mimic-mode jobs; absent: the mesh engine. */
  generator: z.enum(["mesh", "liveportrait"]).optional(),
};
export const memeJobSchema = z.strictObject({ kind: z.literal("meme"), ...renderJobFields });
export const animatedJobSchema = z.strictObject({
  kind: z.literal("animated"),
  ...renderJobFields,
  /** "morph": the saved face moves into the reaction's expression; "reaction": follow the animation's frames. */
  animation: z.enum(["morph", "reaction"]),
  /** The file it becomes (src/pipeline/video): default "gif". */
  format: z.enum(ANIMATION_FORMATS).optional(),
});
export const jobSchema = z.discriminatedUnion("kind", [enrolJobSchema, memeJobSchema, animatedJobSchema]);

export type ImageSource = z.infer<typeof imageSource>;
export type JobCaptions = z.infer<typeof jobCaptions>;
export type EnrolJob = z.infer<typeof enrolJobSchema>;
export type MemeJob = z.infer<typeof memeJobSchema>;
export type AnimatedJob = z.infer<typeof animatedJobSchema>;
export type Job = z.infer<typeof jobSchema>;

/**
 * Checks a job where a worker receives it (from this process's queue or from Redis): a job nobody at the
 * front door could have built is refused with the field named in the log, never half-run.
 */
export function parseJob(raw: unknown): Job {
  const r = jobSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new MimicError("INTERNAL", "Something went wrong while making your image. Please try again.", {
      logMessage: `malformed job: ${i.path.join(".") || "job"}: ${i.message}`,
      details: { field: i.path.join(".") },
    });
  }
  return r.data;
}
