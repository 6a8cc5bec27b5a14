import { triangulate } from "./mesh.ts";

/**
 * Triangles of the base mesh that a warp must not turn over: index triples (base's own Delaunay
 * triangulation) whose base area is at least `minArea` px² and that `skip` does not exclude. Slivers below
 * `minArea` (a closed mouth's lip line) have no orientation worth keeping.
 */
export function guardedTriangles(base: Float32Array, minArea: number, skip?: (a: number, b: number, c: number) => boolean): Uint32Array {
  const all = triangulate(base);
  const keep: number[] = [];
  for (let k = 0; k < all.length; k += 3) {
    const a = all[k]!, b = all[k + 1]!, c = all[k + 2]!;
    if (Math.abs(signedArea(base, a, b, c)) < minArea || skip?.(a, b, c)) continue;
    keep.push(a, b, c);
  }
  return Uint32Array.from(keep);
}

/** Signed area (px²) of triangle a, b, c of an x,y point array. */
export function signedArea(p: ArrayLike<number>, a: number, b: number, c: number): number {
  return ((p[2 * b]! - p[2 * a]!) * (p[2 * c + 1]! - p[2 * a + 1]!) - (p[2 * c]! - p[2 * a]!) * (p[2 * b + 1]! - p[2 * a + 1]!)) / 2;
}

/** Triangles of `tris` whose area in `moved` has shrunk below `keep` × their area in `base` (or turned over). */
export function foldedTriangles(base: ArrayLike<number>, moved: ArrayLike<number>, tris: Uint32Array, keep = 0): number[] {
  const out: number[] = [];
  for (let k = 0; k < tris.length; k += 3) {
    const a = tris[k]!, b = tris[k + 1]!, c = tris[k + 2]!;
    const s = signedArea(base, a, b, c);
    if (signedArea(moved, a, b, c) / s < keep) out.push(k / 3);
  }
  return out;
}

/** A guarded triangle may keep no less than this share of its area: a little short of turning over. */
const FOLD_MARGIN = 0.05;
/** Per evening round, how far a folding triangle's corners move towards their common motion. */
const EVEN = 0.5;
const EVEN_ROUNDS = 60;
/** Then, per damping round, the motion of a still folding triangle's corners shrinks by this factor. */
const DAMP = 0.85;
const DAMP_ROUNDS = 80;

/**
 * `moved` (x,y pairs, same points as `base`) changed so that no triangle of `tris` keeps less than FOLD_MARGIN
 * of its area: the warp from `base` then turns none of them over (a fold mirrors the picture inside it and
 * smears it across its neighbours). First the corners of folding triangles move towards their common motion,
 * round by round (a lip rising past the skin above it takes that skin along and rises a little less), points
 * from `fixedFrom` on (the warp's anchors) staying put; what still folds then has its motion scaled down until it
 * does not (the template's own mesh never folds). Points elsewhere keep their motion; returns `moved` itself
 * when nothing folds.
 */
export function unfoldMesh(base: Float32Array, moved: Float32Array, tris: Uint32Array, fixedFrom = base.length / 2): Float32Array {
  if (foldedTriangles(base, moved, tris, FOLD_MARGIN).length === 0) return moved;
  const n = base.length / 2;
  const out = moved.slice();
  for (let round = 0; round < EVEN_ROUNDS; round++) {
    const folded = foldedTriangles(base, out, tris, FOLD_MARGIN);
    if (folded.length === 0) return out;
    const sum = new Float64Array(2 * n), count = new Float64Array(n);
    for (const t of folded) {
      let mx = 0, my = 0;
      for (let j = 0; j < 3; j++) {
        const i = tris[3 * t + j]!;
        mx += out[2 * i]! - base[2 * i]!;
        my += out[2 * i + 1]! - base[2 * i + 1]!;
      }
      for (let j = 0; j < 3; j++) {
        const i = tris[3 * t + j]!;
        sum[2 * i]! += mx / 3;
        sum[2 * i + 1]! += my / 3;
        count[i]!++;
      }
    }
    for (let i = 0; i < Math.min(n, fixedFrom); i++) {
      if (!count[i]) continue;
      for (let c = 0; c < 2; c++) {
        const d = out[2 * i + c]! - base[2 * i + c]!;
        out[2 * i + c] = base[2 * i + c]! + d + EVEN * (sum[2 * i + c]! / count[i]! - d);
      }
    }
  }
  const start = out.slice();
  const scale = new Float64Array(n).fill(1);
  for (let round = 0; round < DAMP_ROUNDS; round++) {
    const folded = foldedTriangles(base, out, tris, FOLD_MARGIN);
    if (folded.length === 0) break;
    for (const t of folded) for (let j = 0; j < 3; j++) scale[tris[3 * t + j]!]! *= DAMP;
    for (let i = 0; i < n; i++) {
      out[2 * i] = base[2 * i]! + (start[2 * i]! - base[2 * i]!) * scale[i]!;
      out[2 * i + 1] = base[2 * i + 1]! + (start[2 * i + 1]! - base[2 * i + 1]!) * scale[i]!;
    }
  }
  return out;
}
