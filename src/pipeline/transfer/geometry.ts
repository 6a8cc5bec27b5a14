/**
 * 3-D rigid geometry on face meshes (x,y,z triples): similarity alignment (Horn's closed-form quaternion
 * solution of the Umeyama problem) and a face-local frame built from expression-stable points; and the 2-D
 * point-in-polygon test used to measure regions such as the inner-lip ring.
 */

/** x' = s * R * x + t, R row-major 3x3. */
export interface Similarity {
  s: number;
  r: Float64Array;
  t: Float64Array;
}

/** Least-squares similarity mapping `src[idx]` onto `dst[idx]` (3-D). */
export function alignSimilarity(src: Float32Array, dst: Float32Array, idx: readonly number[]): Similarity {
  const n = idx.length;
  let sx = 0, sy = 0, sz = 0, dx = 0, dy = 0, dz = 0;
  for (const i of idx) {
    sx += src[3 * i]!; sy += src[3 * i + 1]!; sz += src[3 * i + 2]!;
    dx += dst[3 * i]!; dy += dst[3 * i + 1]!; dz += dst[3 * i + 2]!;
  }
  sx /= n; sy /= n; sz /= n; dx /= n; dy /= n; dz /= n;
  // Cross-covariance M[a][b] = sum (src_a)(dst_b), centred.
  const m = new Float64Array(9);
  let srcVar = 0;
  for (const i of idx) {
    const a0 = src[3 * i]! - sx, a1 = src[3 * i + 1]! - sy, a2 = src[3 * i + 2]! - sz;
    const b0 = dst[3 * i]! - dx, b1 = dst[3 * i + 1]! - dy, b2 = dst[3 * i + 2]! - dz;
    m[0]! += a0 * b0; m[1]! += a0 * b1; m[2]! += a0 * b2;
    m[3]! += a1 * b0; m[4]! += a1 * b1; m[5]! += a1 * b2;
    m[6]! += a2 * b0; m[7]! += a2 * b1; m[8]! += a2 * b2;
    srcVar += a0 * a0 + a1 * a1 + a2 * a2;
  }
  const [Sxx, Sxy, Sxz, Syx, Syy, Syz, Szx, Szy, Szz] = m as unknown as number[] as [number, number, number, number, number, number, number, number, number];
  // Horn 1987: the rotation's quaternion is the top eigenvector of this symmetric 4x4 matrix.
  const nMat = new Float64Array([
    Sxx + Syy + Szz, Syz - Szy, Szx - Sxz, Sxy - Syx,
    Syz - Szy, Sxx - Syy - Szz, Sxy + Syx, Szx + Sxz,
    Szx - Sxz, Sxy + Syx, -Sxx + Syy - Szz, Syz + Szy,
    Sxy - Syx, Szx + Sxz, Syz + Szy, -Sxx - Syy + Szz,
  ]);
  const q = topEigenvector4(nMat);
  const [w, x, y, z] = q;
  const r = new Float64Array([
    w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z,
  ]);
  // Optimal scale: sum b . (R a) / sum |a|^2.
  let num = 0;
  for (const i of idx) {
    const a0 = src[3 * i]! - sx, a1 = src[3 * i + 1]! - sy, a2 = src[3 * i + 2]! - sz;
    const b0 = dst[3 * i]! - dx, b1 = dst[3 * i + 1]! - dy, b2 = dst[3 * i + 2]! - dz;
    num += b0 * (r[0]! * a0 + r[1]! * a1 + r[2]! * a2) + b1 * (r[3]! * a0 + r[4]! * a1 + r[5]! * a2) + b2 * (r[6]! * a0 + r[7]! * a1 + r[8]! * a2);
  }
  const s = srcVar > 0 ? num / srcVar : 1;
  const t = new Float64Array([
    dx - s * (r[0]! * sx + r[1]! * sy + r[2]! * sz),
    dy - s * (r[3]! * sx + r[4]! * sy + r[5]! * sz),
    dz - s * (r[6]! * sx + r[7]! * sy + r[8]! * sz),
  ]);
  return { s, r, t };
}

/** Top eigenvector of a symmetric 4x4 matrix by cyclic Jacobi rotations (exact enough in ~6 sweeps). */
function topEigenvector4(a0: Float64Array): [number, number, number, number] {
  const a = a0.slice();
  const v = new Float64Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  for (let sweep = 0; sweep < 30; sweep++) {
    let off = 0;
    for (let p = 0; p < 4; p++) for (let q = p + 1; q < 4; q++) off += a[p * 4 + q]! ** 2;
    if (off < 1e-18) break;
    for (let p = 0; p < 4; p++) {
      for (let q = p + 1; q < 4; q++) {
        const apq = a[p * 4 + q]!;
        if (Math.abs(apq) < 1e-30) continue;
        const theta = (a[q * 4 + q]! - a[p * 4 + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < 4; k++) {
          const akp = a[k * 4 + p]!, akq = a[k * 4 + q]!;
          a[k * 4 + p] = c * akp - s * akq;
          a[k * 4 + q] = s * akp + c * akq;
        }
        for (let k = 0; k < 4; k++) {
          const apk = a[p * 4 + k]!, aqk = a[q * 4 + k]!;
          a[p * 4 + k] = c * apk - s * aqk;
          a[q * 4 + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < 4; k++) {
          const vkp = v[k * 4 + p]!, vkq = v[k * 4 + q]!;
          v[k * 4 + p] = c * vkp - s * vkq;
          v[k * 4 + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let best = 0;
  for (let k = 1; k < 4; k++) if (a[k * 5]! > a[best * 5]!) best = k;
  const e: [number, number, number, number] = [v[best]!, v[4 + best]!, v[8 + best]!, v[12 + best]!];
  const n = Math.hypot(...e);
  return [e[0] / n, e[1] / n, e[2] / n, e[3] / n];
}

export function applySimilarity(sim: Similarity, pts: Float32Array): Float32Array {
  const out = new Float32Array(pts.length);
  const { s, r, t } = sim;
  for (let i = 0; i < pts.length; i += 3) {
    const x = pts[i]!, y = pts[i + 1]!, z = pts[i + 2]!;
    out[i] = s * (r[0]! * x + r[1]! * y + r[2]! * z) + t[0]!;
    out[i + 1] = s * (r[3]! * x + r[4]! * y + r[5]! * z) + t[1]!;
    out[i + 2] = s * (r[6]! * x + r[7]! * y + r[8]! * z) + t[2]!;
  }
  return out;
}

export function invertSimilarity(sim: Similarity): Similarity {
  const { s, r, t } = sim;
  const rt = new Float64Array([r[0]!, r[3]!, r[6]!, r[1]!, r[4]!, r[7]!, r[2]!, r[5]!, r[8]!]);
  const si = 1 / s;
  const ti = new Float64Array([
    -si * (rt[0]! * t[0]! + rt[1]! * t[1]! + rt[2]! * t[2]!),
    -si * (rt[3]! * t[0]! + rt[4]! * t[1]! + rt[5]! * t[2]!),
    -si * (rt[6]! * t[0]! + rt[7]! * t[1]! + rt[8]! * t[2]!),
  ]);
  return { s: si, r: rt, t: ti };
}

/**
 * A face-local orthonormal frame: x from the subject's right eye to the left eye (outer corners), y down the
 * nose (between-the-eyes 168 to nose bottom 2, made orthogonal to x), z = x × y (away from the camera for a
 * frontal face). Unit length = the inter-ocular distance (outer corners), so measures are size-free.
 */
export interface LocalFrame {
  origin: [number, number, number];
  axes: Float64Array; // rows: x, y, z axes (unit vectors) in image space
  unit: number;
}

export function localFrame(lm: Float32Array): LocalFrame {
  const p = (i: number): [number, number, number] => [lm[3 * i]!, lm[3 * i + 1]!, lm[3 * i + 2]!];
  const r = p(33), l = p(263), top = p(168), bottom = p(2);
  let ax = [l[0] - r[0], l[1] - r[1], l[2] - r[2]];
  const iod = Math.hypot(ax[0]!, ax[1]!, ax[2]!) || 1;
  ax = ax.map((v) => v / iod);
  let ay = [bottom[0] - top[0], bottom[1] - top[1], bottom[2] - top[2]];
  const d = ay[0]! * ax[0]! + ay[1]! * ax[1]! + ay[2]! * ax[2]!;
  ay = ay.map((v, k) => v - d * ax[k]!);
  const ny = Math.hypot(ay[0]!, ay[1]!, ay[2]!) || 1;
  ay = ay.map((v) => v / ny);
  const az = [ax[1]! * ay[2]! - ax[2]! * ay[1]!, ax[2]! * ay[0]! - ax[0]! * ay[2]!, ax[0]! * ay[1]! - ax[1]! * ay[0]!];
  return {
    origin: [(r[0] + l[0]) / 2, (r[1] + l[1]) / 2, (r[2] + l[2]) / 2],
    axes: new Float64Array([...ax, ...ay, ...az] as number[]),
    unit: iod,
  };
}

/** Image-space mesh → local coordinates (in inter-ocular units). */
export function toLocal(f: LocalFrame, lm: Float32Array): Float64Array {
  const out = new Float64Array(lm.length);
  const a = f.axes, u = 1 / f.unit;
  for (let i = 0; i < lm.length; i += 3) {
    const x = lm[i]! - f.origin[0], y = lm[i + 1]! - f.origin[1], z = lm[i + 2]! - f.origin[2];
    out[i] = (a[0]! * x + a[1]! * y + a[2]! * z) * u;
    out[i + 1] = (a[3]! * x + a[4]! * y + a[5]! * z) * u;
    out[i + 2] = (a[6]! * x + a[7]! * y + a[8]! * z) * u;
  }
  return out;
}

export function fromLocal(f: LocalFrame, loc: Float64Array): Float32Array {
  const out = new Float32Array(loc.length);
  const a = f.axes, u = f.unit;
  for (let i = 0; i < loc.length; i += 3) {
    const x = loc[i]! * u, y = loc[i + 1]! * u, z = loc[i + 2]! * u;
    out[i] = a[0]! * x + a[3]! * y + a[6]! * z + f.origin[0];
    out[i + 1] = a[1]! * x + a[4]! * y + a[7]! * z + f.origin[1];
    out[i + 2] = a[2]! * x + a[5]! * y + a[8]! * z + f.origin[2];
  }
  return out;
}

/** Whether (x, y) is inside a closed polygon of x,y pairs (even-odd rule). */
export function insidePolygon(poly: Float32Array, x: number, y: number): boolean {
  let inside = false;
  const n = poly.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = poly[2 * i]!, yi = poly[2 * i + 1]!, xj = poly[2 * j]!, yj = poly[2 * j + 1]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The polygon through mesh points `idx`, from the x,y pairs `pts` (e.g. faceMeshPoints). */
export function meshPolygon(pts: Float32Array, idx: readonly number[]): Float32Array {
  const poly = new Float32Array(idx.length * 2);
  idx.forEach((k, j) => {
    poly[2 * j] = pts[2 * k]!;
    poly[2 * j + 1] = pts[2 * k + 1]!;
  });
  return poly;
}

/** A face's size in pixels from its landmarks: 2.2 × the distance between the outer eye corners. */
export function faceSize(lm: Float32Array): number {
  return Math.hypot(lm[3 * 263]! - lm[3 * 33]!, lm[3 * 263 + 1]! - lm[3 * 33 + 1]!) * 2.2;
}

/** The face size (faceSize, px) small faces are drawn at: mimic's working resolution, swap's new face. */
export const WORK_FACE_PX = 256;
/** The largest enlargement (faces from 64 px, the smallest accepted, reach WORK_FACE_PX at 4×). */
const MAX_WORK_SCALE = 4;

/** The whole factor (1 to MAX_WORK_SCALE) that takes a face of `size` px to WORK_FACE_PX or more; 1 if it is that large. */
export function workScale(size: number): number {
  return Math.min(MAX_WORK_SCALE, Math.max(1, Math.ceil(WORK_FACE_PX / size)));
}
