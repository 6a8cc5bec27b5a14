import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MimicError } from "../../errors.ts";
import { LM, MESH_POINTS } from "./geometry.ts";
import type { FaceRoi } from "./geometry.ts";

/**
 * Attention-mesh refinement of the plain FaceMesh (models/facemesh-attention.onnx, see models/README.md).
 *
 * The plain mesh barely follows eyelids (on a laugh both lid rings sit ~5 px too low; a lid lowered by 12 px
 * in the image re-measured as a fraction of that). MediaPipe's attention mesh adds refined eye (71 points
 * each) and lip (80) contours; its own coarse mesh is not better than facemesh.onnx, so only the refined
 * points are used (eyelids and lips, see REFINED_COUNT): their x, y overwrite the mapped indices of the plain mesh
 * (first run on the mesh's own 192×192 crop), z stays the plain mesh's; the eyelids are then blended with a
 * second run on a crop placed by the eye corners (EYE_CROP). Irises have no index in the 468-point mesh and
 * are not used.
 */

/** Refined outputs that carry mesh points, by output name: entry k is the mesh index refined point k replaces. */
export type RefinementMap = Record<string, readonly number[]>;

/** Which refined outputs are applied (irises have no mesh index). */
export const REFINED_OUTPUTS = ["output_lips", "output_left_eye", "output_right_eye"] as const;

/**
 * How many leading points of each output are written in. Lips: all 80 (outer, inner and the rings between).
 * Eyes: the first 32 of 71, the eyelid contour (16, 33 … 173) and the ring just around it (16, 130 … 190),
 * so lids and their surroundings move together. The remaining 39 reach up to the brows; there the
 * attention model disagrees with the plain mesh by up to 9 % of the inter-ocular distance behind glasses
 * (grace_hopper) without being more right, and brow height is measured well by the plain mesh.
 */
export const REFINED_COUNT: Record<(typeof REFINED_OUTPUTS)[number], number> = { output_lips: 80, output_left_eye: 32, output_right_eye: 32 };

export const REFINEMENT_MAP_FILE = "facemesh-attention.refinement.json";

const cache = new Map<string, RefinementMap>();

/** Reads (once per folder and thread) and checks the mesh-index map that ships beside the model. */
export function loadRefinementMap(modelsDir: string): RefinementMap {
  const path = join(modelsDir, REFINEMENT_MAP_FILE);
  const hit = cache.get(path);
  if (hit) return hit;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new MimicError("MODEL", `The face refinement map is missing or unreadable (${path}). Run \`npm run models\` again.`, { cause });
  }
  const map: RefinementMap = {};
  for (const key of REFINED_OUTPUTS) {
    const list = (parsed as Record<string, unknown>)?.[key];
    if (!Array.isArray(list) || list.length < REFINED_COUNT[key] || !list.every((i) => Number.isInteger(i) && i >= 0 && i < MESH_POINTS)) {
      throw new MimicError("MODEL", `The face refinement map ${path} has no valid "${key}" list. Run \`npm run models\` again.`);
    }
    map[key] = (list as number[]).slice(0, REFINED_COUNT[key]);
  }
  cache.set(path, map);
  return map;
}

type RefinedOutput = (typeof REFINED_OUTPUTS)[number];

export const REFINED_EYES: readonly RefinedOutput[] = ["output_left_eye", "output_right_eye"];

/**
 * Writes the attention model's refined points (crop pixels, mapped to image pixels by `imageFromCrop`)
 * over landmarks in image pixels (468 × x, y, z), for the outputs in `keys`; z stays the plain mesh's.
 * `weight` < 1 blends: new = (1 − weight)·current + weight·refined. Throws MODEL when an expected output
 * is missing or too short.
 */
export function applyRefinement(
  landmarks: Float32Array,
  outputs: Record<string, Float32Array>,
  map: RefinementMap,
  imageFromCrop: ArrayLike<number>,
  keys: readonly RefinedOutput[] = REFINED_OUTPUTS,
  weight = 1,
): void {
  const m = imageFromCrop;
  const keep = 1 - weight;
  for (const key of keys) {
    const indices = map[key]!;
    const pts = outputs[key];
    if (!pts || pts.length < indices.length * 2) {
      throw new MimicError("MODEL", `The face refinement model has no usable "${key}" output. Run \`npm run models\` again.`);
    }
    for (let k = 0; k < indices.length; k++) {
      const x = pts[2 * k]!;
      const y = pts[2 * k + 1]!;
      const o = 3 * indices[k]!;
      landmarks[o] = keep * landmarks[o]! + weight * (m[0]! * x + m[1]! * y + m[2]!);
      landmarks[o + 1] = keep * landmarks[o + 1]! + weight * (m[3]! * x + m[4]! * y + m[5]!);
    }
  }
}

/**
 * The second look at the eyes: a tighter face crop placed by the eye corners alone (they hardly move with
 * the expression), so neither the detector box nor the mouth decides where the lids fall in the crop.
 * Side = EYE_CROP.side × the outer-corner span, centre EYE_CROP.below × that span below the corners'
 * midpoint, rolled to the corner line. On the fixtures the detector's crop is 2.3–3.1 spans wide, centred
 * 0.41–0.53 spans below the eyes and rolled up to 6° off the eye line (astronaut), and with the mouth
 * changed alone the small astronaut's right eye read up to 17 % wider; blended in, at most 10 %
 * (eval/REPORT.md, "Eyes seen through the mouth"), and all-six pairs 14 → 15/20. Only the eyes are taken,
 * half and half with the first look (EYE_CROP.weight): this crop alone gave 11–13/20 pairs (sides
 * 2.0–2.6 spans), and its lips would be worse (the mouth sits near its edge). Costs one more model run.
 */
export const EYE_CROP = { side: 2.2, below: 0.2, weight: 0.5 } as const;

export function eyeCropRoi(lm: Float32Array, side: number = EYE_CROP.side, below: number = EYE_CROP.below): FaceRoi {
  const x = (i: number) => lm[3 * i]!;
  const y = (i: number) => lm[3 * i + 1]!;
  const mx = (x(LM.rightEyeOuter) + x(LM.rightEyeInner) + x(LM.leftEyeInner) + x(LM.leftEyeOuter)) / 4;
  const my = (y(LM.rightEyeOuter) + y(LM.rightEyeInner) + y(LM.leftEyeInner) + y(LM.leftEyeOuter)) / 4;
  const dx = x(LM.leftEyeOuter) - x(LM.rightEyeOuter);
  const dy = y(LM.leftEyeOuter) - y(LM.rightEyeOuter);
  const span = Math.hypot(dx, dy);
  const angle = Math.atan2(dy, dx);
  const down = below * span;
  return { cx: mx - Math.sin(angle) * down, cy: my + Math.cos(angle) * down, side: side * span, angle };
}
