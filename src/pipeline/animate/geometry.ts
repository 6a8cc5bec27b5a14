/** Small 2-D helpers for morphing: point-set similarity fit, lerp, moved-triangle filter. */

/** x' = a·x − b·y + tx, y' = b·x + a·y + ty (uniform scale + rotation + translation). */
export interface Similarity2D {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/** Least-squares similarity mapping landmark subset `idx` of `src` onto `dst` (both 468×3, x/y used). */
export function fitSimilarity2D(src: Float32Array, dst: Float32Array, idx: readonly number[]): Similarity2D {
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (const i of idx) {
    sx += src[3 * i]; sy += src[3 * i + 1];
    dx += dst[3 * i]; dy += dst[3 * i + 1];
  }
  const n = idx.length;
  sx /= n; sy /= n; dx /= n; dy /= n;
  let p = 0, q = 0, v = 0;
  for (const i of idx) {
    const ux = src[3 * i] - sx, uy = src[3 * i + 1] - sy;
    const wx = dst[3 * i] - dx, wy = dst[3 * i + 1] - dy;
    p += ux * wx + uy * wy;
    q += ux * wy - uy * wx;
    v += ux * ux + uy * uy;
  }
  const a = p / v;
  const b = q / v;
  return { a, b, tx: dx - (a * sx - b * sy), ty: dy - (b * sx + a * sy) };
}

export function invertSimilarity2D(s: Similarity2D): Similarity2D {
  const d = s.a * s.a + s.b * s.b;
  const a = s.a / d;
  const b = -s.b / d;
  return { a, b, tx: -(a * s.tx - b * s.ty), ty: -(b * s.tx + a * s.ty) };
}

export const similarityScale = (s: Similarity2D) => Math.hypot(s.a, s.b);

/** Applies to interleaved points with `stride` values each (2 for warp points, 3 for landmarks; z scales). */
export function applySimilarity2D(s: Similarity2D, pts: Float32Array, stride: 2 | 3): Float32Array {
  const out = new Float32Array(pts.length);
  const k = similarityScale(s);
  for (let i = 0; i < pts.length; i += stride) {
    const x = pts[i], y = pts[i + 1];
    out[i] = s.a * x - s.b * y + s.tx;
    out[i + 1] = s.b * x + s.a * y + s.ty;
    if (stride === 3) out[i + 2] = pts[i + 2] * k;
  }
  return out;
}

export function lerpPoints(a: Float32Array, b: Float32Array, t: number, out = new Float32Array(a.length)): Float32Array {
  for (let i = 0; i < a.length; i++) out[i] = a[i] + (b[i] - a[i]) * t;
  return out;
}

/** Scales landmark (or warp point) coordinates, e.g. after resizing the image they belong to. */
export function scalePoints(pts: Float32Array, k: number): Float32Array {
  const out = new Float32Array(pts.length);
  for (let i = 0; i < pts.length; i++) out[i] = pts[i] * k;
  return out;
}

/** Triangles (of point set `pts`) whose bounding box meets the box [x0, x1) × [y0, y1). */
export function trianglesInBox(tri: Uint32Array, pts: Float32Array, x0: number, y0: number, x1: number, y1: number): Uint32Array {
  const keep: number[] = [];
  for (let t = 0; t < tri.length; t += 3) {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let k = 0; k < 3; k++) {
      const i = tri[t + k];
      minX = Math.min(minX, pts[2 * i]); maxX = Math.max(maxX, pts[2 * i]);
      minY = Math.min(minY, pts[2 * i + 1]); maxY = Math.max(maxY, pts[2 * i + 1]);
    }
    if (maxX >= x0 && minX < x1 && maxY >= y0 && minY < y1) keep.push(tri[t], tri[t + 1], tri[t + 2]);
  }
  return Uint32Array.from(keep);
}
