import Delaunator from "delaunator";
import { FACE_OVAL, MESH_POINTS } from "./landmarks.ts";

export interface FaceMeshOptions {
  /** One or more 468-point meshes (x,y,z triples in image pixels). With several (e.g. a morph's two ends) the
   * triangulation is built on their mean, so one topology serves all of them. */
  landmarks: Float32Array | readonly Float32Array[];
  /** Image size, for the border anchors. */
  width: number;
  height: number;
  /** Anchor ring: the face oval scaled by this factor about its centre (>1). Keeps hair and neck from tearing
   * because the ring points never move. Default 1.4; 0 disables the ring. */
  ringScale?: number;
  /** Also anchor the image corners and edge midpoints (the whole image gets covered). Default false. */
  border?: boolean;
}

export interface FaceMesh {
  /** One x,y point set per input mesh: the 468 landmarks, then the ring, then the border anchors. */
  points: Float32Array[];
  /** Index triples into `points[k]`, counter-clockwise-consistent, covering the hull of all points. The mouth
   * and eyes are closed over (Delaunay fills them), so opening a closed mouth stretches triangles instead of
   * tearing a hole. */
  triangles: Uint32Array;
  /** Index of the first ring anchor and of the first border anchor in `points[k]` (pairs, not floats). */
  ringStart: number;
  borderStart: number;
}

/**
 * 2-D warp points for a face mesh: the 468 landmarks followed by fixed anchors. Anchors of the same index
 * correspond across meshes, so a warp between two point sets leaves everything beyond the ring in place.
 */
export function faceMeshPoints(
  landmarks: Float32Array,
  opts: { width: number; height: number; ringScale?: number; border?: boolean },
): Float32Array {
  const ringScale = opts.ringScale ?? 1.4;
  const ringCount = ringScale > 0 ? FACE_OVAL.length : 0;
  const borderCount = opts.border ? 8 : 0;
  const pts = new Float32Array((MESH_POINTS + ringCount + borderCount) * 2);
  for (let i = 0; i < MESH_POINTS; i++) {
    pts[2 * i] = landmarks[3 * i]!;
    pts[2 * i + 1] = landmarks[3 * i + 1]!;
  }
  let k = MESH_POINTS;
  if (ringCount) {
    const [cx, cy] = faceOvalCentre(landmarks);
    for (const i of FACE_OVAL) {
      pts[2 * k] = cx + (landmarks[3 * i]! - cx) * ringScale;
      pts[2 * k + 1] = cy + (landmarks[3 * i + 1]! - cy) * ringScale;
      k++;
    }
  }
  if (borderCount) {
    const w = opts.width - 1, h = opts.height - 1;
    // Slightly outside the image so the outermost pixel row/column is inside the hull.
    const e = 0.5;
    const border = [-e, -e, w / 2, -e, w + e, -e, w + e, h / 2, w + e, h + e, w / 2, h + e, -e, h + e, -e, h / 2];
    for (let j = 0; j < 8; j++) {
      pts[2 * k] = border[2 * j]!;
      pts[2 * k + 1] = border[2 * j + 1]!;
      k++;
    }
  }
  return pts;
}

/** Anchor points plus a Delaunay triangulation over them (see FaceMesh). */
export function faceMeshTriangles(opts: FaceMeshOptions): FaceMesh {
  const meshes = opts.landmarks instanceof Float32Array ? [opts.landmarks] : [...opts.landmarks];
  if (meshes.length === 0) throw new Error("faceMeshTriangles: no landmarks");
  const points = meshes.map((m) => faceMeshPoints(m, opts));
  const n = points[0]!.length;
  const mean = new Float64Array(n);
  for (const p of points) for (let i = 0; i < n; i++) mean[i]! += p[i]! / points.length;
  const triangles = triangulate(mean);
  const ringCount = (opts.ringScale ?? 1.4) > 0 ? FACE_OVAL.length : 0;
  return { points, triangles, ringStart: MESH_POINTS, borderStart: MESH_POINTS + ringCount };
}

/** Delaunay triangulation of x,y pairs (delaunator: robust, ~1 ms for 500 points). */
export function triangulate(xy: ArrayLike<number>): Uint32Array {
  const coords = xy instanceof Float64Array ? xy : new Float64Array(xy as ArrayLike<number>);
  return new Uint32Array(new Delaunator(coords).triangles);
}

/**
 * Triangles with at least one corner that moves more than `eps` (px, either axis) between the two point sets
 * (x,y pairs): the others map onto themselves, and a warp can skip them.
 */
export function movedTriangles(tri: Uint32Array, a: Float32Array, b: Float32Array, eps = 0): Uint32Array {
  const keep = new Uint32Array(tri.length);
  let n = 0;
  for (let t = 0; t < tri.length; t += 3) {
    for (let k = 0; k < 3; k++) {
      const i = tri[t + k]!;
      if (Math.abs(a[2 * i]! - b[2 * i]!) > eps || Math.abs(a[2 * i + 1]! - b[2 * i + 1]!) > eps) {
        keep[n++] = tri[t]!;
        keep[n++] = tri[t + 1]!;
        keep[n++] = tri[t + 2]!;
        break;
      }
    }
  }
  return keep.slice(0, n);
}

/** The mean of the face outline's points (468×3 landmarks): the centre the anchor ring is scaled about. */
export function faceOvalCentre(landmarks: Float32Array): [number, number] {
  let cx = 0, cy = 0;
  for (const i of FACE_OVAL) {
    cx += landmarks[3 * i]!;
    cy += landmarks[3 * i + 1]!;
  }
  return [cx / FACE_OVAL.length, cy / FACE_OVAL.length];
}
