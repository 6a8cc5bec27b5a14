import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../../../src/pipeline/image/index.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";
import { faceMeshPoints, faceMeshTriangles, foldedTriangles, guardedTriangles, meshIndex, triangulate, unfoldMesh, warpTriangles } from "../../../src/pipeline/warp/index.ts";

function noise(width: number, height: number, seed = 1): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return { width, height, data };
}

/** A jittered grid of points whose hull is [-0.5, w-0.5]×[-0.5, h-0.5]: every pixel centre strictly inside. */
function grid(w: number, h: number, n: number, jitter: number): Float32Array {
  const pts: number[] = [];
  let s = 7;
  for (let j = 0; j <= n; j++) {
    for (let i = 0; i <= n; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      const inner = i > 0 && i < n && j > 0 && j < n;
      const jx = inner ? ((s >>> 16) / 65536 - 0.5) * jitter : 0;
      const jy = inner ? ((s & 0xffff) / 65536 - 0.5) * jitter : 0;
      pts.push((w * i) / n - 0.5 + jx, (h * j) / n - 0.5 + jy);
    }
  }
  return Float32Array.from(pts);
}

const blank = (img: RgbImage): RgbImage => ({ width: img.width, height: img.height, data: new Uint8Array(img.data.length) });

describe("warpTriangles", () => {
  it("copies pixels exactly under an identity mesh, fractional vertices included", () => {
    const src = noise(97, 61);
    const pts = grid(97, 61, 7, 9);
    const tris = triangulate(pts);
    const out = blank(src);
    const cov = new Float32Array(97 * 61);
    warpTriangles(src, pts, pts, tris, out, cov);
    expect(Buffer.compare(Buffer.from(out.data), Buffer.from(src.data))).toBe(0);
    expect(cov.every((v) => v === 1)).toBe(true);
  });

  it("writes every pixel of a mesh exactly once (watertight, no overlaps)", () => {
    const src = noise(80, 50);
    const pts = grid(80, 50, 6, 10);
    const tris = triangulate(pts);
    const count = new Float32Array(80 * 50);
    for (let t = 0; t < tris.length; t += 3) {
      const cov = new Float32Array(80 * 50);
      warpTriangles(src, pts, pts, tris.subarray(t, t + 3), blank(src), cov);
      for (let i = 0; i < cov.length; i++) count[i]! += cov[i]!;
    }
    expect(Math.min(...count)).toBe(1);
    expect(Math.max(...count)).toBe(1);
  });

  it("moves content by a pure integer translation and leaves pixels outside the triangles alone", () => {
    const src = noise(64, 64, 3);
    const srcPts = Float32Array.from([10, 10, 40, 12, 20, 45]);
    const dstPts = srcPts.map((v, i) => v + (i % 2 === 0 ? 5 : -3));
    const out: RgbImage = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(77) };
    const cov = new Float32Array(64 * 64);
    warpTriangles(src, srcPts, dstPts, Uint32Array.from([0, 1, 2]), out, cov);
    let inside = 0;
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const o = (y * 64 + x) * 3;
        if (cov[y * 64 + x]) {
          inside++;
          const s = ((y + 3) * 64 + (x - 5)) * 3;
          expect([out.data[o], out.data[o + 1], out.data[o + 2]]).toEqual([src.data[s], src.data[s + 1], src.data[s + 2]]);
        } else {
          expect([out.data[o], out.data[o + 1], out.data[o + 2]]).toEqual([77, 77, 77]);
        }
      }
    }
    // Triangle area ≈ 0.5·|30·35 − 10·2| = 515 pixels.
    expect(inside).toBeGreaterThan(480);
    expect(inside).toBeLessThan(550);
  });

  it("samples bilinearly between pixels on a half-pixel shift", () => {
    const src: RgbImage = { width: 4, height: 1, data: Uint8Array.from([0, 0, 0, 100, 100, 100, 200, 200, 200, 50, 50, 50]) };
    const out: RgbImage = { width: 4, height: 1, data: new Uint8Array(12) };
    // dst x ∈ [0, 2] ← src x ∈ [0.5, 2.5] (a thin quad around the row y = 0).
    const dst = Float32Array.from([0, -1, 3, -1, 0, 1, 3, 1]);
    const srcPts = Float32Array.from([0.5, -1, 3.5, -1, 0.5, 1, 3.5, 1]);
    warpTriangles(src, srcPts, dst, Uint32Array.from([0, 1, 2, 1, 3, 2]), out);
    expect(Array.from(out.data.subarray(0, 9))).toEqual([50, 50, 50, 150, 150, 150, 125, 125, 125]);
  });

  it("cubic sampling copies exactly under an identity mesh and keeps an edge sharper on a half-pixel shift", () => {
    const src = noise(97, 61);
    const pts = grid(97, 61, 7, 9);
    const out = blank(src);
    warpTriangles(src, pts, pts, triangulate(pts), out, undefined, true);
    expect(Buffer.compare(Buffer.from(out.data), Buffer.from(src.data))).toBe(0);
    // A dark-to-bright step shifted by half a pixel: Catmull-Rom weights (−1/16, 9/16, 9/16, −1/16), so the
    // pixels either side of the edge stay further apart than bilinear's plain average, clamped to 0…255.
    const row = [20, 20, 20, 20, 220, 220, 220, 220];
    const step: RgbImage = { width: 8, height: 1, data: Uint8Array.from(row.flatMap((v) => [v, v, v])) };
    const dst = Float32Array.from([0, -1, 7, -1, 0, 1, 7, 1]);
    const from = Float32Array.from([0.5, -1, 7.5, -1, 0.5, 1, 7.5, 1]);
    const cubic = { width: 8, height: 1, data: new Uint8Array(24) }, linear = { width: 8, height: 1, data: new Uint8Array(24) };
    warpTriangles(step, from, dst, Uint32Array.from([0, 1, 2, 1, 3, 2]), cubic, undefined, true);
    warpTriangles(step, from, dst, Uint32Array.from([0, 1, 2, 1, 3, 2]), linear);
    expect(cubic.data[3 * 3]).toBe(120); // the edge itself: (20 + 220) / 2 either way
    expect(cubic.data[3 * 2]).toBeLessThan(20); // just before it: a slight undershoot, as a sharpened edge has
    expect(cubic.data[3 * 4]).toBeGreaterThan(220);
    expect(linear.data[3 * 2]).toBe(20);
  });

  it("skips degenerate triangles", () => {
    const src = noise(8, 8);
    const out = blank(src);
    const cov = new Float32Array(64);
    const pts = Float32Array.from([1, 1, 4, 4, 7, 7]);
    warpTriangles(src, pts, pts, Uint32Array.from([0, 1, 2]), out, cov);
    expect(cov.every((v) => v === 0)).toBe(true);
  });
});

describe("faceMeshTriangles", async () => {
  const { getFaceAnalyzer } = await import("../../../src/pipeline/face/index.ts");
  const img = await decodeImage(new Uint8Array(readFileSync(new URL("../../fixtures/faces/franck_04117.jpg", import.meta.url))));
  const face = (await (await getFaceAnalyzer()).analyze(img)).faces[0]!;

  const covered = (mesh: { points: Float32Array[]; triangles: Uint32Array }, w: number, h: number) => {
    const cov = new Float32Array(w * h);
    const p = mesh.points[0]!;
    warpTriangles(img, p, p, mesh.triangles, blank(img), cov);
    return cov;
  };
  const at = (cov: Float32Array, x: number, y: number) => cov[Math.round(y) * img.width + Math.round(x)];
  const lm = face.landmarks;
  const mid = (a: number, b: number): [number, number] => [(lm[3 * a]! + lm[3 * b]!) / 2, (lm[3 * a + 1]! + lm[3 * b + 1]!) / 2];

  it("covers the face closed over the open mouth and the eyes, inside an anchor ring", () => {
    const mesh = faceMeshTriangles({ landmarks: lm, width: img.width, height: img.height });
    expect(mesh.points[0]!.length / 2).toBe(meshIndex.MESH_POINTS + meshIndex.FACE_OVAL.length);
    const cov = covered(mesh, img.width, img.height);
    expect(at(cov, ...mid(13, 14))).toBe(1); // open mouth centre
    expect(at(cov, ...mid(159, 145))).toBe(1); // right eye centre
    expect(at(cov, ...mid(386, 374))).toBe(1); // left eye centre
    // Beyond the face oval but inside the ring (hair above the forehead) is covered; the image corner is not.
    const [fx, fy] = [lm[3 * 10]!, lm[3 * 10 + 1]!];
    expect(at(cov, fx, fy - 20)).toBe(1);
    expect(at(cov, 0, 0)).toBe(0);
  });

  it("covers the whole image with border anchors, and shares one topology between two meshes", () => {
    const moved = lm.map((v, i) => (i % 3 === 1 ? v + 4 : v));
    const mesh = faceMeshTriangles({ landmarks: [lm, moved], width: img.width, height: img.height, border: true });
    expect(mesh.points).toHaveLength(2);
    expect(mesh.borderStart).toBe(meshIndex.MESH_POINTS + meshIndex.FACE_OVAL.length);
    const cov = covered(mesh, img.width, img.height);
    expect(cov.every((v) => v === 1)).toBe(true);
    // Border anchors do not depend on the face; ring anchors follow it.
    const [a, b] = mesh.points as [Float32Array, Float32Array];
    expect(Array.from(a.subarray(2 * mesh.borderStart))).toEqual(Array.from(b.subarray(2 * mesh.borderStart)));
    expect(b[2 * mesh.ringStart + 1]! - a[2 * mesh.ringStart + 1]!).toBeCloseTo(4, 3);
  });

  it("puts the ring further out with a larger ring scale", () => {
    const near = faceMeshPoints(lm, { width: img.width, height: img.height, ringScale: 1.2 });
    const far = faceMeshPoints(lm, { width: img.width, height: img.height, ringScale: 1.8 });
    const top = 2 * meshIndex.MESH_POINTS + 1; // ring point of forehead (10): y
    expect(far[top]!).toBeLessThan(near[top]!);
  });
});

describe("unfoldMesh", () => {
  // A 5 × 5 grid of 10-px cells; the middle point pushed 18 px right, past its right neighbour.
  const base = new Float32Array(50);
  for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) base.set([10 * x, 10 * y], 2 * (5 * y + x));
  const centre = 12;

  it("leaves a mesh that does not fold as it is", () => {
    const moved = base.slice();
    moved[2 * centre]! += 4;
    const tris = guardedTriangles(base, 1);
    expect(unfoldMesh(base, moved, tris)).toBe(moved);
  });

  it("turns no triangle over, and keeps the push (shared with its neighbours) rather than dropping it", () => {
    const moved = base.slice();
    moved[2 * centre]! += 18;
    const tris = guardedTriangles(base, 1);
    expect(foldedTriangles(base, moved, tris).length).toBeGreaterThan(0);
    const out = unfoldMesh(base, moved, tris);
    expect(foldedTriangles(base, out, tris)).toEqual([]);
    expect(out[2 * centre]! - base[2 * centre]!).toBeGreaterThan(5);
  });
});
