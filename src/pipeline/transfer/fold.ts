import { guardedTriangles, unfoldMesh } from "../warp/index.ts";
import {
  INNER_LIP_RING,
  LEFT_EYE_LOWER,
  LEFT_EYE_UPPER,
  LIPS_INNER_LOWER,
  LIPS_INNER_UPPER,
  MESH_POINTS,
  RIGHT_EYE_LOWER,
  RIGHT_EYE_UPPER,
} from "../warp/landmarks.ts";

/** Below this area ((share of the face size)², px²) a template triangle is a sliver the fold guard ignores. */
const FOLD_MIN_SIDE = 0.003;
const INNER_RING = new Set<number>(INNER_LIP_RING);
/** Openings whose two sides (interior points) may meet or part freely: inner lips, each eye's lids. */
const OPENINGS = [
  [LIPS_INNER_UPPER, LIPS_INNER_LOWER],
  [RIGHT_EYE_UPPER, RIGHT_EYE_LOWER],
  [LEFT_EYE_UPPER, LEFT_EYE_LOWER],
].map(([up, lo]) => [new Set<number>(up!.slice(1, -1)), new Set<number>(lo!.slice(1, -1))] as const);

/**
 * Changes the motion of `target` (468×3, mutated) wherever it would turn a triangle of the template's mesh
 * (`base`: warp points, landmarks then any fixed ring) over (see unfoldMesh): an extreme mouth (a tall "O" whose
 * upper lip rises past the philtrum) otherwise folds the skin over itself and the warp mirrors and smears it.
 * Triangles spanning an opening (lips, lids) may close or open at will.
 */
export function keepUnfolded(base: Float32Array, target: Float32Array, size: number): void {
  const spans = (a: number, b: number, c: number) =>
    (INNER_RING.has(a) && INNER_RING.has(b) && INNER_RING.has(c)) ||
    OPENINGS.some(([up, lo]) => (up.has(a) || up.has(b) || up.has(c)) && (lo.has(a) || lo.has(b) || lo.has(c)));
  const tris = guardedTriangles(base, (FOLD_MIN_SIDE * size) ** 2, spans);
  const moved = base.slice();
  for (let i = 0; i < MESH_POINTS; i++) {
    moved[2 * i] = target[3 * i]!;
    moved[2 * i + 1] = target[3 * i + 1]!;
  }
  const safe = unfoldMesh(base, moved, tris, MESH_POINTS);
  if (safe === moved) return;
  for (let i = 0; i < MESH_POINTS; i++) {
    target[3 * i] = safe[2 * i]!;
    target[3 * i + 1] = safe[2 * i + 1]!;
  }
}
