/**
 * Enrolment: from an uploaded photo to a saved face.
 *
 * `assessEnrolment` is the pure decision (plain data in, verdict out): which face, whether it is usable,
 * and what to fix when it is not. `prepareEnrolment` does the heavy part (decode, analyse, align, embed;
 * worker-thread safe: no database) and returns exactly what the store keeps. `enrolFace` = both + save.
 * Only the aligned crop is kept, never the uploaded photo.
 */
import { MimicError } from "../errors.ts";
import { getFaceAnalyzer, type FaceAnalyzer } from "../pipeline/face/index.ts";
import { applyAffine } from "../pipeline/image/index.ts";
import { decodeImage, encodePng } from "../pipeline/image/index.ts";
import type { DecodeOptions } from "../pipeline/image/index.ts";
import type { AnalyzedFace, FaceAnalysis } from "../pipeline/types.ts";
import { normaliseTemplateName } from "./names.ts";
import type { EnrolledTemplate, Owner, TemplateStore, TemplateSummary } from "./templates.ts";

export interface EnrolmentRules {
  /** Smallest accepted face (the larger side of its box), source pixels. */
  minFaceSizePx: number;
  /** Largest accepted |yaw| and |pitch| (degrees): the face must look at the camera. */
  maxYawDeg: number;
  maxPitchDeg: number;
  /** Largest accepted |roll| (degrees); the crop is de-rotated, so this is generous. */
  maxRollDeg: number;
  /** Below this eye openness (aperture / width) an eye counts as closed. */
  minEyeOpenness: number;
  /** Above this mouth openness a warning (not a refusal) suggests a closed mouth. */
  warnMouthOpenness: number;
  /** Variance of the Laplacian on the face crop below which the photo is too blurry. */
  minSharpness: number;
  /** A second face at least this fraction of the largest one's size makes the photo ambiguous. */
  ambiguousFaceRatio: number;
}

export const DEFAULT_ENROLMENT_RULES: EnrolmentRules = {
  minFaceSizePx: 128,
  maxYawDeg: 25,
  maxPitchDeg: 25,
  maxRollDeg: 40,
  minEyeOpenness: 0.12,
  // Measured on the fixtures: neutral 0.01–0.05, closed smile 0.18, open laugh 0.27.
  warnMouthOpenness: 0.2,
  // Measured on the fixtures: sharp photos 230–1900; Gaussian blur σ 2 → 44–97 (still usable), σ 3 → 19–31.
  minSharpness: 40,
  ambiguousFaceRatio: 0.8,
};

export type EnrolmentVerdict =
  | { ok: true; face: AnalyzedFace; faceIndex: number; warnings: string[]; otherFaces: number }
  | { ok: false; refusal: MimicError; warnings: string[]; otherFaces: number };

/** The pure decision: is there exactly one usable face (or a clearly largest one), and is it good enough? */
export function assessEnrolment(analysis: Pick<FaceAnalysis, "faces">, rules: EnrolmentRules = DEFAULT_ENROLMENT_RULES): EnrolmentVerdict {
  const faces = [...analysis.faces].sort((a, b) => b.quality.faceSizePx - a.quality.faceSizePx);
  const warnings: string[] = [];
  const otherFaces = Math.max(0, faces.length - 1);
  const refuse = (code: "NO_FACE" | "FACE_UNUSABLE", message: string, details?: Record<string, unknown>): EnrolmentVerdict => ({
    ok: false,
    refusal: new MimicError(code, message, { details }),
    warnings,
    otherFaces,
  });
  const face = faces[0];
  if (!face) {
    return refuse("NO_FACE", "I couldn't find a face in that photo. Send a well-lit photo where your face is clearly visible.");
  }
  const second = faces[1];
  if (second && second.quality.faceSizePx >= rules.ambiguousFaceRatio * face.quality.faceSizePx) {
    return refuse(
      "FACE_UNUSABLE",
      `I see ${faces.length} faces of about the same size, so I can't tell which one is you. Crop the photo to just your face.`,
      { faces: faces.length },
    );
  }
  if (otherFaces > 0) {
    warnings.push(`${otherFaces} smaller face${otherFaces > 1 ? "s were" : " was"} ignored; I saved the largest one.`);
  }
  const size = Math.round(face.quality.faceSizePx);
  if (size < rules.minFaceSizePx) {
    return refuse(
      "FACE_UNUSABLE",
      `face too small: at least ${rules.minFaceSizePx} px (this one is ${size} px). Send a closer or higher-resolution photo.`,
      { faceSizePx: size },
    );
  }
  const { yaw, pitch, roll } = face.pose;
  if (Math.abs(yaw) > rules.maxYawDeg) {
    return refuse("FACE_UNUSABLE", `turn to face the camera: your head is turned ${Math.round(Math.abs(yaw))}° to the side (at most ${rules.maxYawDeg}°).`, { yaw });
  }
  if (Math.abs(pitch) > rules.maxPitchDeg) {
    const way = pitch > 0 ? "up" : "down";
    return refuse("FACE_UNUSABLE", `look straight into the camera: your head is tilted ${Math.round(Math.abs(pitch))}° ${way} (at most ${rules.maxPitchDeg}°).`, { pitch });
  }
  if (Math.abs(roll) > rules.maxRollDeg) {
    return refuse("FACE_UNUSABLE", `hold your head upright: it is tilted ${Math.round(Math.abs(roll))}° sideways (at most ${rules.maxRollDeg}°).`, { roll });
  }
  const eyes = Math.min(face.quality.eyeOpennessLeft, face.quality.eyeOpennessRight);
  if (eyes < rules.minEyeOpenness) {
    return refuse("FACE_UNUSABLE", "keep your eyes open: use a photo where both eyes are open and visible.", { eyeOpenness: eyes });
  }
  if (face.quality.sharpness < rules.minSharpness) {
    return refuse("FACE_UNUSABLE", "the photo is too blurry: hold the camera still, use more light, or send a sharper photo.", {
      sharpness: face.quality.sharpness,
    });
  }
  if (face.quality.mouthOpenness > rules.warnMouthOpenness) {
    warnings.push("Your mouth is open: a photo with a closed mouth gives the most natural results.");
  }
  return { ok: true, face, faceIndex: analysis.faces.indexOf(face), warnings, otherFaces };
}

/** Side of the stored face crop, pixels. */
export const TEMPLATE_CROP_SIZE = 512;

export interface PreparedEnrolment {
  template: EnrolledTemplate;
  warnings: string[];
  otherFaces: number;
}

/**
 * Decode → analyse → assess → aligned crop, landmarks in crop pixels, identity embedding. Throws the
 * assessment's refusal (NO_FACE / FACE_UNUSABLE) or the decoder's errors. Touches no database, so the
 * queue can run it in a worker and hand the result to `TemplateStore.save`.
 */
export async function prepareEnrolment(
  bytes: Uint8Array,
  opts: { analyzer?: FaceAnalyzer; rules?: EnrolmentRules; decode?: DecodeOptions } = {},
): Promise<PreparedEnrolment> {
  const analyzer = opts.analyzer ?? (await getFaceAnalyzer());
  const image = await decodeImage(bytes, opts.decode);
  const analysis = await analyzer.analyze(image);
  const verdict = assessEnrolment(analysis, opts.rules);
  if (!verdict.ok) throw verdict.refusal;
  const face = verdict.face;
  const crop = analyzer.alignedCrop(image, face, TEMPLATE_CROP_SIZE);
  const landmarks = new Float32Array(face.landmarks.length);
  const scale = Math.hypot(crop.transform[0], crop.transform[3]); // crop px per source px (z scales alike)
  for (let i = 0; i < landmarks.length; i += 3) {
    const [x, y] = applyAffine(crop.transform, face.landmarks[i], face.landmarks[i + 1]);
    landmarks[i] = x;
    landmarks[i + 1] = y;
    landmarks[i + 2] = face.landmarks[i + 2] * scale;
  }
  let irises: number[] | undefined;
  if (face.irises) {
    irises = [];
    for (let i = 0; i + 2 < face.irises.length; i += 3) {
      const [x, y] = applyAffine(crop.transform, face.irises[i], face.irises[i + 1]);
      irises.push(x, y, face.irises[i + 2] * scale);
    }
  }
  const [cropPng, embedding] = await Promise.all([encodePng(crop.image, { provenance: false }), analyzer.embed(image, face)]);
  return {
    template: {
      cropPng: new Uint8Array(cropPng),
      cropSize: TEMPLATE_CROP_SIZE,
      landmarks,
      embedding,
      analysis: {
        version: 1,
        source: { width: image.width, height: image.height },
        box: face.box,
        score: face.score,
        meshScore: face.meshScore,
        pose: face.pose,
        quality: face.quality,
        /** crop ← source affine. */
        cropTransform: crop.transform,
        warnings: verdict.warnings,
        otherFaces: verdict.otherFaces,
        /** Iris circles [cx, cy, r] (right, left) in crop pixels; absent in templates saved before they were kept. */
        ...(irises ? { irises } : {}),
      },
    },
    warnings: verdict.warnings,
    otherFaces: verdict.otherFaces,
  };
}

/** Save a face from a photo: prepareEnrolment + TemplateStore.save. */
export async function enrolFace(
  templates: TemplateStore,
  owner: Owner,
  name: string,
  photo: Uint8Array,
  opts: { maxTemplates?: number | null; makeDefault?: boolean; analyzer?: FaceAnalyzer; rules?: EnrolmentRules; decode?: DecodeOptions } = {},
): Promise<{ template: TemplateSummary; warnings: string[]; otherFaces: number }> {
  // Fail fast, before the heavy analysis, on what the save would refuse anyway (it re-checks atomically).
  const wanted = normaliseTemplateName(name);
  const existing = await templates.list(owner);
  if (existing.some((t) => t.name === wanted)) {
    throw new MimicError("BAD_INPUT", `You already have a face named "${wanted}". Pick another name, or remove that one first.`);
  }
  const limit = Math.min(templates.maxTemplatesPerUser, opts.maxTemplates ?? Infinity);
  if (existing.length >= limit) {
    throw new MimicError("LIMIT_REACHED", `You already have ${existing.length} saved faces, the most allowed here is ${limit}. Remove one first (face rm <name>).`, {
      details: { limit, count: existing.length },
    });
  }
  const prepared = await prepareEnrolment(photo, opts);
  const template = await templates.save(owner, name, prepared.template, opts);
  return { template, warnings: prepared.warnings, otherFaces: prepared.otherFaces };
}
