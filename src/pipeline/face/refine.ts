import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MimicError } from "../../errors.ts";
import { MESH_POINTS } from "./geometry.ts";

/**
 * Attention-mesh refinement of the plain FaceMesh (models/facemesh-attention.onnx, see models/README.md).
 *
 * The plain mesh barely follows eyelids (on a laugh both lid rings sit ~5 px too low; a lid lowered by 12 px
 * in the image re-measured as a fraction of that). MediaPipe's attention mesh adds refined eye (71 points
 * each) and lip (80) contours; its own coarse mesh is not better than facemesh.onnx, so only the refined
 * points are used (eyelids and lips, see REFINED_COUNT): their x, y overwrite the mapped indices of the plain mesh (same 192×192 crop, same
 * crop-pixel units), z stays the plain mesh's. Irises have no index in the 468-point mesh and are not used.
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

/**
 * Writes the attention model's refined points (crop pixels) over the plain mesh (crop pixels, 468 × x,y,z
 * starting at `offset`), in place. Throws MODEL when an expected output is missing or too short.
 */
export function applyRefinement(mesh: Float32Array, offset: number, outputs: Record<string, Float32Array>, map: RefinementMap): void {
  for (const key of REFINED_OUTPUTS) {
    const indices = map[key]!;
    const pts = outputs[key];
    if (!pts || pts.length < indices.length * 2) {
      throw new MimicError("MODEL", `The face refinement model has no usable "${key}" output. Run \`npm run models\` again.`);
    }
    for (let k = 0; k < indices.length; k++) {
      const o = offset + 3 * indices[k]!;
      mesh[o] = pts[2 * k]!;
      mesh[o + 1] = pts[2 * k + 1]!;
    }
  }
}
