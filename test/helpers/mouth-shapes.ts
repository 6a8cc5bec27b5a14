import { fromLocal, insidePolygon, localFrame, toLocal } from "../../src/pipeline/transfer/geometry.ts";
import { innerLipPolygon } from "../../src/pipeline/transfer/measure.ts";
import type { RgbImage } from "../../src/pipeline/types.ts";
import { faceMeshTriangles, warpTriangles } from "../../src/pipeline/warp/index.ts";
import {
  CHIN,
  LIPS_OUTER_LOWER,
  LOWER_LIP_ROWS,
  UPPER_LIP_ROWS,
} from "../../src/pipeline/warp/landmarks.ts";

/**
 * Synthetic reaction mouths for the transfer tests, made by moving an analysed face's lip points (the picture
 * is left alone unless said otherwise). Units: inter-ocular distances (outer eye corners), in the face's frame.
 */
export interface OvalMouth {
  /** Half-width and half-height of the inner-lip ring and of the outer lip line. */
  inner: { a: number; b: number };
  outer: { a: number; b: number };
  /** Ring centre offset from the mouth's own, rotation (radians), and the subject's-right half's height scale. */
  dx?: number;
  dy?: number;
  tilt?: number;
  skew?: number;
  /** Corners (columns 0 and 10 of every lip row) raised by this much. */
  cornerRaise?: number;
}

/** The lips as concentric ellipses (an "O", or any round opening); the chin drops with the lower lip. */
export function ovalMouth(lm: Float32Array, m: OvalMouth): Float32Array {
  const f = localFrame(lm);
  const loc = toLocal(f, lm);
  const X = (i: number) => 3 * i, Y = (i: number) => 3 * i + 1;
  const cx = (loc[X(61)]! + loc[X(291)]!) / 2 + (m.dx ?? 0);
  const cy = (loc[Y(13)]! + loc[Y(14)]!) / 2 + (m.dy ?? 0);
  const lipBottom = loc[Y(17)]!;
  const tilt = m.tilt ?? 0, skew = m.skew ?? 1;
  for (let r = 0; r < 4; r++) {
    const t = r / 3;
    const a = m.inner.a + (m.outer.a - m.inner.a) * t, b = m.inner.b + (m.outer.b - m.inner.b) * t;
    for (let j = 0; j <= 10; j++) {
      const th = (Math.PI * j) / 10;
      for (const [row, sign] of [[UPPER_LIP_ROWS[r]!, -1], [LOWER_LIP_ROWS[r]!, 1]] as const) {
        const px = -a * Math.cos(th), py = sign * b * Math.sin(th) * (j < 5 ? skew : 1);
        loc[X(row[j]!)] = cx + px * Math.cos(tilt) - py * Math.sin(tilt);
        loc[Y(row[j]!)] = cy + px * Math.sin(tilt) + py * Math.cos(tilt) - (j === 0 || j === 10 ? (m.cornerRaise ?? 0) : 0);
      }
    }
  }
  const drop = loc[Y(17)]! - lipBottom;
  for (const i of CHIN) if (!(LIPS_OUTER_LOWER as readonly number[]).includes(i)) loc[Y(i)]! += drop * 0.8;
  return fromLocal(f, loc);
}

/** Lips parted by `px` pixels at the middle (upper lip up 40 %, lower down 60 %, tapering to the corners). */
export function partedLips(lm: Float32Array, px: number): Float32Array {
  const f = localFrame(lm);
  const loc = toLocal(f, lm);
  const g = px / f.unit;
  for (let j = 1; j < 10; j++) {
    const w = Math.sin((Math.PI * j) / 10);
    for (const row of UPPER_LIP_ROWS) loc[3 * row[j]! + 1]! -= 0.4 * g * w;
    for (const row of LOWER_LIP_ROWS) loc[3 * row[j]! + 1]! += 0.6 * g * w;
  }
  return fromLocal(f, loc);
}

/**
 * A picture of the face with its lips parted by `px`, drawn without the engine: the face warped onto the
 * parted mesh (plain piecewise-affine warp), the gap between the lips filled with a mouth's darkness
 * (antialiased edge).
 */
export function partedPicture(img: RgbImage, lm: Float32Array, px: number): RgbImage {
  const moved = partedLips(lm, px);
  const mesh = faceMeshTriangles({ landmarks: [lm, moved], width: img.width, height: img.height });
  const out: RgbImage = { ...img, data: img.data.slice() };
  warpTriangles(img, mesh.points[0]!, mesh.points[1]!, mesh.triangles, out);
  const ring = innerLipPolygon(moved);
  const dark = [45, 22, 24];
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let k = 0; k < ring.length; k += 2) {
    x0 = Math.min(x0, ring[k]!); x1 = Math.max(x1, ring[k]!);
    y0 = Math.min(y0, ring[k + 1]!); y1 = Math.max(y1, ring[k + 1]!);
  }
  for (let y = Math.floor(y0); y <= Math.ceil(y1); y++) {
    for (let x = Math.floor(x0); x <= Math.ceil(x1); x++) {
      let cover = 0;
      for (const sy of [-0.375, -0.125, 0.125, 0.375]) for (const sx of [-0.375, -0.125, 0.125, 0.375]) if (insidePolygon(ring, x + sx, y + sy)) cover++;
      if (!cover) continue;
      const a = cover / 16, o = (y * out.width + x) * 3;
      for (let c = 0; c < 3; c++) out.data[o + c] = Math.round(out.data[o + c]! * (1 - a) + dark[c]! * a);
    }
  }
  return out;
}
