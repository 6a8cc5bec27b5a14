import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MimicError } from "../../errors.ts";
import { LM, MESH_POINTS } from "./geometry.ts";

/**
 * Attention-mesh refinement of the plain FaceMesh (models/facemesh-attention.onnx, see models/README.md).
 *
 * The plain mesh barely follows eyelids (on a laugh both lid rings sit ~5 px too low; a lid lowered by 12 px
 * in the image re-measured as a fraction of that). MediaPipe's attention mesh adds refined eye (71 points
 * each) and lip (80) contours; its own coarse mesh is not better than facemesh.onnx, so only the refined
 * points are used (eyelids and lips, see REFINED_COUNT): their x, y overwrite the mapped indices of the plain mesh (same 192×192 crop, same
 * crop-pixel units), z stays the plain mesh's. Irises have no index in the 468-point mesh: they are kept
 * apart as circles (irisCircles), which the eyelid rendering uses to draw eyeball a lid uncovers.
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

/** The attention model's iris outputs: centre, then four points on the iris edge (x, y each). */
const IRIS_OUTPUTS = ["output_right_iris", "output_left_iris"] as const;
/** Plausible iris radius, in eye widths (the fixtures measure 0.21–0.24): outside it the fit is not used. */
const IRIS_RADIUS = { min: 0.12, max: 0.35 } as const;

/**
 * Both irises as circles [cx, cy, r] (subject's right eye, then left; the crop's pixels), each matched to
 * the nearer eye of the mesh (crop pixels, 468 × x,y,z at `offset`) whatever the outputs are named. The
 * radius is the mean of the two larger edge distances: lids often cover the top and bottom of an iris,
 * which pulls the other two in. Null when an output is missing or the circles are implausible.
 */
export function irisCircles(mesh: Float32Array, offset: number, outputs: Record<string, Float32Array>): Float32Array | null {
  const eye = (outer: number, inner: number) => {
    const ox = mesh[offset + 3 * outer]!, oy = mesh[offset + 3 * outer + 1]!;
    const ix = mesh[offset + 3 * inner]!, iy = mesh[offset + 3 * inner + 1]!;
    return { x: (ox + ix) / 2, y: (oy + iy) / 2, width: Math.hypot(ix - ox, iy - oy) };
  };
  const eyes = [eye(LM.rightEyeOuter, LM.rightEyeInner), eye(LM.leftEyeOuter, LM.leftEyeInner)];
  const circles = new Float32Array(6);
  const used = [false, false];
  for (const key of IRIS_OUTPUTS) {
    const pts = outputs[key];
    if (!pts || pts.length < 10 || !pts.subarray(0, 10).every(Number.isFinite)) return null;
    const cx = pts[0]!, cy = pts[1]!;
    const k = Math.hypot(cx - eyes[0]!.x, cy - eyes[0]!.y) <= Math.hypot(cx - eyes[1]!.x, cy - eyes[1]!.y) ? 0 : 1;
    if (used[k]) return null;
    used[k] = true;
    const edge = [1, 2, 3, 4].map((j) => Math.hypot(pts[2 * j]! - cx, pts[2 * j + 1]! - cy)).sort((a, b) => b - a);
    const r = (edge[0]! + edge[1]!) / 2;
    const w = eyes[k]!.width;
    if (!(r >= IRIS_RADIUS.min * w && r <= IRIS_RADIUS.max * w)) return null;
    if (Math.hypot(cx - eyes[k]!.x, cy - eyes[k]!.y) > 0.5 * w) return null;
    circles.set([cx, cy, r], 3 * k);
  }
  return circles;
}
