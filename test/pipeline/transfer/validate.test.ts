import { describe, expect, it } from "vitest";
import type { MimicError } from "../../../src/errors.ts";
import { FACE_LIMITS, checkFace, selectFace } from "../../../src/pipeline/transfer/validate.ts";
import type { AnalyzedFace, FaceAnalysis } from "../../../src/pipeline/types.ts";

/** The limits below which a face is refused for transfer, at and around each boundary, and the messages. */

function face(over: { score?: number; meshScore?: number; yaw?: number; size?: number; landmarks?: Float32Array } = {}): AnalyzedFace {
  return {
    score: over.score ?? 0.9,
    meshScore: over.meshScore ?? 0.9,
    pose: { yaw: over.yaw ?? 0, pitch: 0, roll: 0 },
    quality: { faceSizePx: over.size ?? 200 },
    landmarks: over.landmarks ?? new Float32Array(468 * 3).fill(1),
  } as unknown as AnalyzedFace;
}
const analysis = (...faces: AnalyzedFace[]): FaceAnalysis => ({ width: 512, height: 512, faces, timingsMs: {} });
const refusal = (f: () => unknown): MimicError => {
  try {
    f();
  } catch (e) {
    return e as MimicError;
  }
  throw new Error("expected a refusal");
};

describe("checkFace", () => {
  it("accepts a good face and every limit itself (the limits are inclusive)", () => {
    expect(() => checkFace(face(), "template")).not.toThrow();
    const { minScore, minMeshScore, maxAbsYaw, minFaceSizePx } = FACE_LIMITS;
    expect(() => checkFace(face({ score: minScore, meshScore: minMeshScore, yaw: maxAbsYaw, size: minFaceSizePx }), "reaction")).not.toThrow();
    expect(() => checkFace(face({ yaw: -maxAbsYaw }), "reaction")).not.toThrow();
  });

  it("refuses an unsure detection or mesh with the confidence and what to send instead", () => {
    const low = refusal(() => checkFace(face({ score: 0.49 }), "template"));
    expect(low.code).toBe("FACE_UNUSABLE");
    expect(low.userMessage).toBe(
      "The face in your saved face could not be made out reliably (confidence 49 %). Save your face again from a sharp, well-lit photo looking at the camera.",
    );
    expect(low.details).toEqual({ role: "template", score: 0.49, meshScore: 0.9 });
    const mesh = refusal(() => checkFace(face({ meshScore: 0.3 }), "reaction"));
    expect(mesh.userMessage).toBe(
      "The face in the reaction image could not be made out reliably (confidence 30 %). Use a reaction image where the face looks roughly at the camera and fills a good part of the picture.",
    );
  });

  it("refuses a face turned too far either way, and one too small", () => {
    const right = refusal(() => checkFace(face({ yaw: 45.6 }), "reaction"));
    expect(right.userMessage).toMatch(/^The face in the reaction image is turned too far to the side \(46°, at most 45° works\)\. Use a reaction/);
    expect(right.code).toBe("FACE_UNUSABLE");
    expect(right.details).toEqual({ role: "reaction", yaw: 45.6 });
    expect(refusal(() => checkFace(face({ yaw: -50 }), "template")).userMessage).toMatch(/turned too far to the side \(50°/);
    const small = refusal(() => checkFace(face({ size: 63.4 }), "template"));
    expect(small.userMessage).toMatch(/^The face in your saved face is too small \(63 px; at least 64 px across is needed\)\. Save your face again/);
    expect(small.details).toEqual({ role: "template", faceSizePx: 63.4 });
  });

  it("refuses a mesh of the wrong length or with a non-finite point", () => {
    const short = refusal(() => checkFace(face({ landmarks: new Float32Array(10) }), "template"));
    expect(short.userMessage).toMatch(/^The face in your saved face could not be measured\. Save your face again/);
    expect(short.details).toEqual({ role: "template", landmarks: 10 });
    const nan = new Float32Array(468 * 3).fill(1);
    nan[700] = NaN;
    expect(refusal(() => checkFace(face({ landmarks: nan }), "reaction")).code).toBe("FACE_UNUSABLE");
    nan[700] = Infinity;
    expect(refusal(() => checkFace(face({ landmarks: nan }), "reaction")).code).toBe("FACE_UNUSABLE");
  });
});

describe("selectFace", () => {
  it("takes the largest (index 0) or the one asked for, and checks it", () => {
    const big = face({ size: 300 });
    const other = face({ size: 150 });
    expect(selectFace(analysis(big, other), "reaction")).toBe(big);
    expect(selectFace(analysis(big, other), "reaction", 1)).toBe(other);
    expect(refusal(() => selectFace(analysis(big, face({ size: 50 })), "reaction", 1)).code).toBe("FACE_UNUSABLE");
  });

  it("says when there is no face, and which indexes exist", () => {
    const none = refusal(() => selectFace(analysis(), "template"));
    expect(none.code).toBe("NO_FACE");
    expect(none.userMessage).toBe("No face found in your saved face. Save your face again from a sharp, well-lit photo looking at the camera.");
    expect(none.details).toEqual({ role: "template" });
    const one = refusal(() => selectFace(analysis(face()), "reaction", 1));
    expect(one.code).toBe("BAD_INPUT");
    expect(one.userMessage).toBe("There is only 1 face in the reaction image; face index 1 does not exist. Pick an index from 0 to 0 (0 is the largest face).");
    expect(one.details).toEqual({ role: "reaction", index: 1, faces: 1 });
    const two = refusal(() => selectFace(analysis(face(), face()), "reaction", -1));
    expect(two.userMessage).toMatch(/^There are 2 faces in the reaction image; face index -1 does not exist\. Pick an index from 0 to 1/);
    expect(refusal(() => selectFace(analysis(face(), face()), "reaction", 0.5)).code).toBe("BAD_INPUT");
    expect(refusal(() => selectFace(analysis(face(), face()), "reaction", 2)).code).toBe("BAD_INPUT");
    // A file given to the CLI is named in the message.
    expect(refusal(() => selectFace(analysis(), "photo", undefined, "me.jpg")).userMessage).toBe(
      "No face found in the face photo me.jpg. Use a sharp, well-lit photo of your face looking at the camera.",
    );
  });
});
