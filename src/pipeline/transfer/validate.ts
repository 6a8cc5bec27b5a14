import { MimicError } from "../../errors.ts";
import type { AnalyzedFace, FaceAnalysis } from "../types.ts";
import { LEFT_BROW, LEFT_EYE_LOWER, LEFT_EYE_UPPER, LIPS_OUTER_LOWER, LIPS_OUTER_UPPER, RIGHT_BROW, RIGHT_EYE_LOWER, RIGHT_EYE_UPPER } from "../warp/landmarks.ts";
import type { RegionsSeen } from "./expression.ts";
import { faceSize } from "./geometry.ts";

/** Limits below which a face cannot give a believable result (the user is told what to send instead). */
export const FACE_LIMITS = {
  minScore: 0.5,
  minMeshScore: 0.5,
  maxAbsYaw: 45,
  minFaceSizePx: 64,
} as const;

/** template: a saved face; photo: a face photo given as a file (the CLI); reaction: the reaction image. */
export type FaceRole = "template" | "photo" | "reaction";

/** What the user gave, in words; `source` names it (a file name, a flag) where the caller knows it. */
const what = (role: FaceRole, source?: string) => {
  const thing = role === "template" ? "your saved face" : role === "photo" ? "the face photo" : "the reaction image";
  return source ? `${thing} ${source}` : thing;
};
const sendInstead = (role: FaceRole) =>
  role === "template"
    ? "Save your face again from a sharp, well-lit photo looking at the camera."
    : role === "photo"
      ? "Use a sharp, well-lit photo of your face looking at the camera."
      : "Use a reaction image where the face looks roughly at the camera and fills a good part of the picture.";

/** Throws a MimicError with an actionable message if the face is not usable for expression transfer. */
export function checkFace(face: AnalyzedFace, role: FaceRole, source?: string): void {
  if (face.score < FACE_LIMITS.minScore || face.meshScore < FACE_LIMITS.minMeshScore) {
    throw new MimicError(
      "FACE_UNUSABLE",
      `The face in ${what(role, source)} could not be made out reliably (confidence ${Math.round(Math.min(face.score, face.meshScore) * 100)} %). ${sendInstead(role)}`,
      { details: { role, score: face.score, meshScore: face.meshScore } },
    );
  }
  if (Math.abs(face.pose.yaw) > FACE_LIMITS.maxAbsYaw) {
    throw new MimicError(
      "FACE_UNUSABLE",
      `The face in ${what(role, source)} is turned too far to the side (${Math.round(Math.abs(face.pose.yaw))}°, at most ${FACE_LIMITS.maxAbsYaw}° works). ${sendInstead(role)}`,
      { details: { role, yaw: face.pose.yaw } },
    );
  }
  if (face.quality.faceSizePx < FACE_LIMITS.minFaceSizePx) {
    throw new MimicError(
      "FACE_UNUSABLE",
      `The face in ${what(role, source)} is too small (${Math.round(face.quality.faceSizePx)} px; at least ${FACE_LIMITS.minFaceSizePx} px across is needed). ${sendInstead(role)}`,
      { details: { role, faceSizePx: face.quality.faceSizePx } },
    );
  }
  if (face.landmarks.length !== 468 * 3 || !face.landmarks.every(Number.isFinite)) {
    throw new MimicError("FACE_UNUSABLE", `The face in ${what(role, source)} could not be measured. ${sendInstead(role)}`, {
      details: { role, landmarks: face.landmarks.length },
    });
  }
}

/**
 * The face to use from an analysis: `index` (0-based, faces sorted largest first) or the largest.
 * Throws NO_FACE / BAD_INPUT with a message saying what to do.
 */
export function selectFace(analysis: FaceAnalysis, role: FaceRole, index?: number, source?: string): AnalyzedFace {
  if (analysis.faces.length === 0) {
    throw new MimicError("NO_FACE", `No face found in ${what(role, source)}. ${sendInstead(role)}`, { details: { role } });
  }
  const i = index ?? 0;
  if (!Number.isInteger(i) || i < 0 || i >= analysis.faces.length) {
    const n = analysis.faces.length;
    throw new MimicError(
      "BAD_INPUT",
      `There ${n === 1 ? "is only 1 face" : `are ${n} faces`} in ${what(role, source)}; face index ${i} does not exist. Pick an index from 0 to ${n - 1} (0 is the largest face).`,
      { details: { role, index: i, faces: n } },
    );
  }
  const face = analysis.faces[i]!;
  checkFace(face, role, source);
  return face;
}

/** A second face at least this share of the largest one's size makes a face photo ambiguous (saving a face uses it too). */
export const AMBIGUOUS_FACE_RATIO = 0.8;

/**
 * The refusal of a face photo whose second face is at least `ratio` of its largest's size (which one is the
 * user?), naming the photo where `where` says which; undefined where one face is clearly the largest.
 */
export function ambiguousFaces(faces: readonly AnalyzedFace[], ratio: number, where?: string): MimicError | undefined {
  const sizes = faces.map((f) => f.quality.faceSizePx).sort((a, b) => b - a);
  if (sizes.length < 2 || sizes[1]! < ratio * sizes[0]!) return undefined;
  return new MimicError(
    "FACE_UNUSABLE",
    `I see ${sizes.length} faces of about the same size${where ? ` in ${where}` : ""}, so I can't tell which one is you. Crop the photo to just your face.`,
    { details: { faces: sizes.length } },
  );
}

/**
 * The face of a face photo given as a file (`photo`), by the rule saving a face uses: its largest, with a note
 * when others were left out; refused where another is about as large (which one is the user?).
 */
export function photoFace(analysis: FaceAnalysis, source?: string): { face: AnalyzedFace; notes: string[] } {
  const ambiguous = ambiguousFaces(analysis.faces, AMBIGUOUS_FACE_RATIO, what("photo", source));
  if (ambiguous) throw ambiguous;
  const face = selectFace(analysis, "photo", undefined, source);
  const others = analysis.faces.length - 1;
  return { face, notes: others > 0 ? [`${others} smaller face${others > 1 ? "s" : ""} in ${what("photo", source)} ${others > 1 ? "were" : "was"} ignored; I used the largest one.`] : [] };
}

/**
 * A feature whose nearest landmark lies within EDGE_UNSEEN × the face size of the picture's edge (or beyond it)
 * counts as not shown: the face mesh still places its points, but guesses them, and a guessed brow bent the
 * user's brows and spectacle frames. From EDGE_SEEN inwards it counts as fully shown; in between, partly.
 */
const EDGE_UNSEEN = 0.06;
const EDGE_SEEN = 0.12;
const EYE_FEATURES = [...RIGHT_EYE_UPPER, ...RIGHT_EYE_LOWER, ...LEFT_EYE_UPPER, ...LEFT_EYE_LOWER];
const BROW_FEATURES = [...RIGHT_BROW, ...LEFT_BROW];
const LOWER_FEATURES = [...LIPS_OUTER_UPPER, ...LIPS_OUTER_LOWER];

/**
 * How far a face in a `width` × `height` picture shows its eyes (upper), its brows (at most as far as its eyes:
 * brows above eyes cut off are cut off too) and its lips (lower), from 0 (cut off by the picture's edge, or too
 * near it for its landmarks to be trusted) to 1 (well inside). A crop tight on the forehead keeps the eyes.
 */
export function regionsSeen(face: AnalyzedFace, width: number, height: number): RegionsSeen {
  const lm = face.landmarks;
  const size = faceSize(lm);
  const shown = (points: readonly number[]) => {
    let near = Infinity;
    for (const i of points) {
      const x = lm[3 * i]!, y = lm[3 * i + 1]!;
      near = Math.min(near, x, y, width - 1 - x, height - 1 - y);
    }
    const f = (near / size - EDGE_UNSEEN) / (EDGE_SEEN - EDGE_UNSEEN);
    return f >= 1 ? 1 : f > 0 ? f : 0;
  };
  const upper = shown(EYE_FEATURES);
  return { upper, brows: Math.min(upper, shown(BROW_FEATURES)), lower: shown(LOWER_FEATURES) };
}
