/**
 * Enrolment: from an uploaded photo to a saved face.
 *
 * `assessEnrolment` is the pure decision (plain data in, verdict out): which face, whether it is usable,
 * and what to fix when it is not. `prepareEnrolment` does the heavy part (decode, analyse, align, embed;
 * worker-thread safe: no database) and returns exactly what the store keeps. `enrolFace` = both + save.
 * Only the portrait frame around the face is kept (re-encoded from pixels), never the uploaded file.
 */
import { MimicError } from "../errors.ts";
import { getFaceAnalyzer, type FaceAnalyzer } from "../pipeline/face/index.ts";
import { applyAffine, cropImage, resizeImage, rotateQuarterTurns } from "../pipeline/image/index.ts";
import { decodeImage, encodePng } from "../pipeline/image/index.ts";
import type { DecodeOptions } from "../pipeline/image/index.ts";
import { AMBIGUOUS_FACE_RATIO, ambiguousFaces } from "../pipeline/transfer/validate.ts";
import type { AnalyzedFace, FaceAnalysis, RgbImage } from "../pipeline/types.ts";
import type { EnrolledTemplate, Owner, TemplateStore, TemplateSummary } from "./templates.ts";

export interface EnrolmentRules {
  /** Smallest accepted face (the larger side of its box), source pixels. */
  minFaceSizePx: number;
  /** Below this the face is worked on enlarged (to this size) and the user is told a bigger photo is sharper. */
  smallFaceSizePx: number;
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
  minFaceSizePx: 64,
  smallFaceSizePx: 128,
  maxYawDeg: 25,
  maxPitchDeg: 25,
  maxRollDeg: 40,
  minEyeOpenness: 0.12,
  // Measured on the fixtures: neutral 0.01–0.05, closed smile 0.18, open laugh 0.27.
  warnMouthOpenness: 0.2,
  // Measured on the fixtures: sharp photos 230–1900; Gaussian blur σ 2 → 44–97 (still usable), σ 3 → 19–31.
  minSharpness: 40,
  ambiguousFaceRatio: AMBIGUOUS_FACE_RATIO,
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
  const ambiguous = ambiguousFaces(faces, rules.ambiguousFaceRatio);
  if (ambiguous) return { ok: false, refusal: ambiguous, warnings, otherFaces };
  if (otherFaces > 0) {
    warnings.push(`${otherFaces} smaller face${otherFaces > 1 ? "s were" : " was"} ignored; I saved the largest one.`);
  }
  const size = Math.round(face.quality.faceSizePx);
  if (size < rules.minFaceSizePx) {
    return refuse(
      "FACE_UNUSABLE",
      `Not saved: the face is too small (${size} px across, at least ${rules.minFaceSizePx} px needed). Send a closer or higher-resolution photo.`,
      { faceSizePx: size },
    );
  }
  if (size < rules.smallFaceSizePx) {
    warnings.push(`Your face is small in this photo (${size} px), so I work on it enlarged: a bigger photo gives a sharper result.`);
  }
  const { yaw, pitch, roll } = face.pose;
  if (Math.abs(yaw) > rules.maxYawDeg) {
    return refuse("FACE_UNUSABLE", `Not saved: your head is turned ${Math.round(Math.abs(yaw))}° to the side (at most ${rules.maxYawDeg}°). Use a photo where you face the camera.`, { yaw });
  }
  if (Math.abs(pitch) > rules.maxPitchDeg) {
    const way = pitch > 0 ? "up" : "down";
    return refuse("FACE_UNUSABLE", `Not saved: your head is tilted ${Math.round(Math.abs(pitch))}° ${way} (at most ${rules.maxPitchDeg}°). Use a photo where you look straight into the camera.`, { pitch });
  }
  if (Math.abs(roll) > rules.maxRollDeg) {
    return refuse("FACE_UNUSABLE", `Not saved: your head is tilted ${Math.round(Math.abs(roll))}° sideways (at most ${rules.maxRollDeg}°). Use a photo where you hold your head upright.`, { roll });
  }
  const eyes = Math.min(face.quality.eyeOpennessLeft, face.quality.eyeOpennessRight);
  if (eyes < rules.minEyeOpenness) {
    return refuse("FACE_UNUSABLE", "Not saved: your eyes look closed. Use a photo where both eyes are open and visible.", { eyeOpenness: eyes });
  }
  if (face.quality.sharpness < rules.minSharpness) {
    return refuse("FACE_UNUSABLE", "Not saved: the photo is too blurry. Hold the camera still, use more light, or send a sharper photo.", {
      sharpness: face.quality.sharpness,
    });
  }
  if (face.quality.mouthOpenness > rules.warnMouthOpenness) {
    warnings.push("Your mouth is open: a photo with a closed mouth gives the most natural results.");
  }
  return { ok: true, face, faceIndex: analysis.faces.indexOf(face), warnings, otherFaces };
}

/** Side of the aligned square crop templates were saved as before portrait framing (still rendered as such). */
export const TEMPLATE_CROP_SIZE = 512;
/** Longest side of a saved portrait frame. */
export const TEMPLATE_MAX_SIDE = 1024;
/**
 * Head and shoulders around the face box, in face sizes: the sides and the space above the box (hair)
 * and below it (neck, shoulders; room for a bottom caption). Clipped to the photo.
 */
export const PORTRAIT_FRAME = { side: 1.5, above: 0.7, below: 1.3 } as const;

/** A head rolled this far is a photo lying on its side or upside down, not a tilted head. */
const SIDEWAYS_ROLL_DEG = 60;
export const TURNED_UPRIGHT_NOTE = "The photo was lying on its side (or upside down), so I turned it upright.";

export interface PreparedEnrolment {
  template: EnrolledTemplate;
  warnings: string[];
  otherFaces: number;
}

/** Where the portrait frame lies in the photo and how it is scaled (frame px = (source px − origin) × scale). */
export function portraitFrame(
  image: { width: number; height: number },
  face: Pick<AnalyzedFace, "box" | "quality">,
  rules: Pick<EnrolmentRules, "smallFaceSizePx"> = DEFAULT_ENROLMENT_RULES,
): { x: number; y: number; width: number; height: number; outWidth: number; outHeight: number } {
  const f = face.quality.faceSizePx;
  const b = face.box;
  const cx = b.x + b.width / 2;
  const x0 = Math.max(0, Math.floor(cx - PORTRAIT_FRAME.side * f));
  const x1 = Math.min(image.width, Math.ceil(cx + PORTRAIT_FRAME.side * f));
  const y0 = Math.max(0, Math.floor(b.y - PORTRAIT_FRAME.above * f));
  const y1 = Math.min(image.height, Math.ceil(b.y + b.height + PORTRAIT_FRAME.below * f));
  const w = x1 - x0;
  const h = y1 - y0;
  // Small faces are enlarged to the working size (the transfer needs that many pixels of face); the
  // long side stays within TEMPLATE_MAX_SIDE either way.
  const k = Math.min(TEMPLATE_MAX_SIDE / Math.max(w, h), Math.max(1, rules.smallFaceSizePx / f));
  return { x: x0, y: y0, width: w, height: h, outWidth: Math.max(1, Math.round(w * k)), outHeight: Math.max(1, Math.round(h * k)) };
}

/**
 * Decode (orientation applied) → analyse → assess → the portrait frame (head and shoulders, re-encoded from
 * pixels, so no EXIF/GPS survives), landmarks in frame pixels, identity embedding. Throws the assessment's
 * refusal (NO_FACE / FACE_UNUSABLE) or the decoder's errors. Touches no database, so the queue can run it
 * in a worker and hand the result to `TemplateStore.save`.
 */
export async function prepareEnrolment(
  bytes: Uint8Array,
  opts: { analyzer?: FaceAnalyzer; rules?: EnrolmentRules; decode?: DecodeOptions; decoded?: RgbImage } = {},
): Promise<PreparedEnrolment> {
  const analyzer = opts.analyzer ?? (await getFaceAnalyzer());
  // `decoded`: the caller already decoded these bytes (the job handler, for the NSFW gate).
  let image = opts.decoded ?? (await decodeImage(bytes, opts.decode));
  const rules = opts.rules ?? DEFAULT_ENROLMENT_RULES;
  let verdict = assessEnrolment(await analyzer.analyze(image), rules);
  // A face lying on its side or upside down: a photo whose EXIF turn was lost (or never written). Turned
  // upright and looked at again, rather than the user told to hold their head straight.
  const roll = verdict.ok ? undefined : verdict.refusal.details?.roll;
  if (typeof roll === "number" && Math.abs(roll) >= SIDEWAYS_ROLL_DEG) {
    const upright = rotateQuarterTurns(image, -Math.round(roll / 90));
    const again = assessEnrolment(await analyzer.analyze(upright), rules);
    if (again.ok) {
      image = upright;
      verdict = { ...again, warnings: [TURNED_UPRIGHT_NOTE, ...again.warnings] };
    }
  }
  if (!verdict.ok) throw verdict.refusal;
  const face = verdict.face;
  const fr = portraitFrame(image, face, rules);
  const region = cropImage(image, fr);
  const frame = fr.outWidth === fr.width && fr.outHeight === fr.height ? region : resizeImage(region, fr.outWidth, fr.outHeight);
  const kx = fr.outWidth / fr.width;
  const ky = fr.outHeight / fr.height;
  const transform = [kx, 0, -fr.x * kx, 0, ky, -fr.y * ky];
  const kz = (kx + ky) / 2;
  const toFrame = (pts: ArrayLike<number>) => {
    const out: number[] = [];
    for (let i = 0; i + 2 < pts.length; i += 3) {
      const [x, y] = applyAffine(transform, pts[i], pts[i + 1]);
      out.push(x, y, pts[i + 2] * kz);
    }
    return out;
  };
  const landmarks = Float32Array.from(toFrame(face.landmarks));
  const irises = face.irises ? toFrame(face.irises) : undefined;
  const [framePng, embedding] = await Promise.all([encodePng(frame, { provenance: false }), analyzer.embed(image, face)]);
  return {
    template: {
      cropPng: new Uint8Array(framePng),
      cropSize: Math.max(frame.width, frame.height),
      landmarks,
      embedding,
      analysis: {
        version: 2,
        /** "portrait": head and shoulders as photographed; version 1 templates are a 512 px aligned square crop. */
        framing: "portrait",
        frame: { width: frame.width, height: frame.height },
        source: { width: image.width, height: image.height },
        box: face.box,
        score: face.score,
        meshScore: face.meshScore,
        pose: face.pose,
        quality: face.quality,
        /** frame ← source affine. */
        cropTransform: transform,
        warnings: verdict.warnings,
        otherFaces: verdict.otherFaces,
        /** Iris circles [cx, cy, r] (right, left) in frame pixels; absent in templates saved before they were kept. */
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
  await templates.checkSave(owner, name, opts);
  const prepared = await prepareEnrolment(photo, opts);
  const template = await templates.save(owner, name, prepared.template, opts);
  return { template, warnings: prepared.warnings, otherFaces: prepared.otherFaces };
}
