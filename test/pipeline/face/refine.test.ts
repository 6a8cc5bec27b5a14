import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODELS_DIR, createFaceAnalyzer, type FaceAnalyzer } from "../../../src/pipeline/face/index.ts";
import { REFINED_COUNT, REFINED_OUTPUTS, applyRefinement, irisCircles, loadRefinementMap } from "../../../src/pipeline/face/refine.ts";
import { decodeImage } from "../../../src/pipeline/image/index.ts";
import { measureExpression, transferExpression } from "../../../src/pipeline/transfer/index.ts";
import type { AnalyzedFace, RgbImage } from "../../../src/pipeline/types.ts";
import { LEFT_EYE_UPPER, RIGHT_EYE_UPPER } from "../../../src/pipeline/warp/landmarks.ts";

/**
 * The attention-mesh refinement (src/pipeline/face/refine.ts): the analyzer writes the attention model's
 * eyelid and lip points over the plain mesh, and those points follow real lid motion where the plain mesh
 * hardly does.
 */
const load = (name: string) => decodeImage(new Uint8Array(readFileSync(new URL(`../../fixtures/faces/${name}`, import.meta.url))));

let refined: FaceAnalyzer;
let plain: FaceAnalyzer;
const images = new Map<string, RgbImage>();

beforeAll(async () => {
  refined = await createFaceAnalyzer({ provider: "cpu", threads: 1 });
  plain = await createFaceAnalyzer({ provider: "cpu", threads: 1, refine: false });
  for (const f of ["franck_01829.jpg", "franck_04117.jpg"]) images.set(f, await load(f));
});

afterAll(async () => {
  await refined?.dispose();
  await plain?.dispose();
});

const face = async (a: FaceAnalyzer, img: RgbImage): Promise<AnalyzedFace> => {
  const faces = (await a.analyze(img)).faces;
  expect(faces).toHaveLength(1);
  return faces[0]!;
};

describe("attention refinement in the analyzer", () => {
  it("is on by default and can be switched off", () => {
    expect(refined.refined).toBe(true);
    expect(plain.refined).toBe(false);
  });

  it("moves exactly the mapped eyelid and lip points (x, y), leaving every other point and all depths alone", async () => {
    const map = loadRefinementMap(DEFAULT_MODELS_DIR);
    const mapped = new Set(REFINED_OUTPUTS.flatMap((k) => [...map[k]!]));
    const img = images.get("franck_04117.jpg")!;
    const a = (await face(refined, img)).landmarks;
    const b = (await face(plain, img)).landmarks;
    let shift = 0;
    for (let i = 0; i < 468; i++) {
      expect(a[3 * i + 2], `z of ${i}`).toBe(b[3 * i + 2]);
      const d = Math.hypot(a[3 * i] - b[3 * i], a[3 * i + 1] - b[3 * i + 1]);
      if (mapped.has(i)) shift += d;
      else expect(d, `point ${i}`).toBe(0);
    }
    // Measured ~4 px on this 300-px-wide laughing face; a map pointing at the wrong indices moves points by tens.
    const mean = shift / mapped.size;
    expect(mean).toBeGreaterThan(1);
    expect(mean).toBeLessThan(8);
    // On the laugh the plain mesh puts the upper lids too low (models/README.md): refined upper lids sit higher.
    const upperY = (lm: Float32Array) => [...RIGHT_EYE_UPPER, ...LEFT_EYE_UPPER].slice(1, -1).reduce((s, i) => s + lm[3 * i + 1], 0);
    expect(upperY(a)).toBeLessThan(upperY(b));
  });

  it("sees eyelids lowered in the image: openness falls much more than with the plain mesh", async () => {
    const img = images.get("franck_01829.jpg")!;
    const f = await face(refined, img);
    // Lower both upper lids by up to 12 px mid-lid in the mesh and warp the photo accordingly (upper regions only).
    const lm = Float32Array.from(f.landmarks);
    for (const upper of [RIGHT_EYE_UPPER, LEFT_EYE_UPPER]) for (let j = 1; j < 8; j++) lm[3 * upper[j]! + 1]! += 12 * Math.sin((j * Math.PI) / 8);
    const res = transferExpression({ template: img, templateFace: f, reaction: img, reactionFace: { ...f, landmarks: lm }, regions: "upper" });
    const open = (l: Float32Array) => {
      const m = measureExpression(l);
      return (m.eyeOpenRight + m.eyeOpenLeft) / 2;
    };
    const before = { refined: open(f.landmarks), plain: open((await face(plain, img)).landmarks) };
    const after = { refined: open((await face(refined, res.image)).landmarks), plain: open((await face(plain, res.image)).landmarks) };
    const dropRefined = before.refined - after.refined;
    const dropPlain = before.plain - after.plain;
    // Measured: refined 0.281 → 0.19, plain 0.289 → 0.25.
    expect(dropRefined).toBeGreaterThan(0.06);
    expect(dropRefined).toBeGreaterThan(1.5 * dropPlain);
    // The quality measures read the refined lids too.
    const q = (await face(refined, res.image)).quality;
    expect((q.eyeOpennessLeft + q.eyeOpennessRight) / 2).toBeLessThan((f.quality.eyeOpennessLeft + f.quality.eyeOpennessRight) / 2 - 0.04);
  });
});

describe("iris circles", () => {
  it("the analyzer finds both irises inside their eyes, right eye first; without refinement there are none", async () => {
    for (const name of ["franck_01829.jpg", "franck_04117.jpg"]) {
      const f = await face(refined, images.get(name)!);
      const lm = f.landmarks;
      expect(f.irises).toHaveLength(6);
      for (const [k, [outer, inner]] of [[33, 133], [263, 362]].entries()) {
        const ex = (lm[3 * outer] + lm[3 * inner]) / 2, ey = (lm[3 * outer + 1] + lm[3 * inner + 1]) / 2;
        const w = Math.hypot(lm[3 * inner] - lm[3 * outer], lm[3 * inner + 1] - lm[3 * outer + 1]);
        // Measured 0.03–0.1 eye widths off the corners' midpoint and radius 0.21–0.23 eye widths on these faces.
        expect(Math.hypot(f.irises![3 * k] - ex, f.irises![3 * k + 1] - ey) / w, `${name} iris ${k}`).toBeLessThan(0.25);
        expect(f.irises![3 * k + 2] / w).toBeGreaterThan(0.17);
        expect(f.irises![3 * k + 2] / w).toBeLessThan(0.28);
      }
      expect((await face(plain, images.get(name)!)).irises).toBeUndefined();
    }
  });

  // A mesh with the right eye's corners at x 10–30 and the left eye's at x 50–70, both on y = 20.
  const mesh = new Float32Array(468 * 3);
  for (const [i, x] of [[33, 10], [133, 30], [362, 50], [263, 70]] as const) mesh.set([x, 20, 0], 3 * i);
  const iris = (cx: number, cy: number, edges: number[]) =>
    Float32Array.from([cx, cy, cx - edges[0]!, cy, cx, cy - edges[1]!, cx + edges[2]!, cy, cx, cy + edges[3]!]);

  it("match each iris to the nearer eye whatever the output is called; radius from the two longer edges", () => {
    const c = irisCircles(mesh, 0, { output_right_iris: iris(21, 21, [4, 3, 5, 3]), output_left_iris: iris(59, 19, [4, 4, 4, 4]) })!;
    expect(Array.from(c)).toEqual([21, 21, 4.5, 59, 19, 4]);
    const swapped = irisCircles(mesh, 0, { output_right_iris: iris(59, 19, [4, 4, 4, 4]), output_left_iris: iris(21, 21, [4, 3, 5, 3]) })!;
    expect(Array.from(swapped)).toEqual(Array.from(c));
  });

  it("no circles when an output is missing, both land on one eye, or a radius or centre is implausible", () => {
    const good = iris(59, 19, [4, 4, 4, 4]);
    expect(irisCircles(mesh, 0, { output_right_iris: iris(21, 21, [4, 4, 4, 4]) })).toBeNull();
    expect(irisCircles(mesh, 0, { output_right_iris: iris(21, 21, [4, 4, 4, 4]), output_left_iris: iris(22, 20, [4, 4, 4, 4]) })).toBeNull();
    expect(irisCircles(mesh, 0, { output_right_iris: iris(21, 21, [1, 1, 1, 1]), output_left_iris: good })).toBeNull();
    expect(irisCircles(mesh, 0, { output_right_iris: iris(21, 21, [12, 12, 12, 12]), output_left_iris: good })).toBeNull();
    expect(irisCircles(mesh, 0, { output_right_iris: iris(20, 35, [4, 4, 4, 4]), output_left_iris: good })).toBeNull();
    expect(irisCircles(mesh, 0, { output_right_iris: iris(NaN, 21, [4, 4, 4, 4]), output_left_iris: good })).toBeNull();
  });
});

describe("applyRefinement and the refinement map", () => {
  it("writes refined x, y over the mapped indices and keeps z", () => {
    const map = { output_lips: Array.from({ length: 80 }, (_, k) => k), output_left_eye: Array.from({ length: 32 }, (_, k) => 100 + k), output_right_eye: Array.from({ length: 32 }, (_, k) => 200 + k) };
    const mesh = new Float32Array(2 + 468 * 3).fill(-1);
    const outputs = {
      output_lips: new Float32Array(160).map((_, i) => i),
      output_left_eye: new Float32Array(142).fill(7),
      output_right_eye: new Float32Array(142).fill(9),
    };
    applyRefinement(mesh, 2, outputs, map);
    expect([mesh[2 + 3 * 5], mesh[2 + 3 * 5 + 1], mesh[2 + 3 * 5 + 2]]).toEqual([10, 11, -1]);
    expect([mesh[2 + 3 * 131], mesh[2 + 3 * 131 + 1], mesh[2 + 3 * 131 + 2]]).toEqual([7, 7, -1]);
    expect([mesh[2 + 3 * 231], mesh[2 + 3 * 231 + 1]]).toEqual([9, 9]);
    expect([mesh[2 + 3 * 300], mesh[2 + 3 * 300 + 1]]).toEqual([-1, -1]); // unmapped
    expect(() => applyRefinement(mesh, 2, { ...outputs, output_lips: new Float32Array(10) }, map)).toThrow(/output_lips/);
  });

  it("the shipped map names the eyelid contours first and the inner lips, within the mesh", () => {
    const map = loadRefinementMap(DEFAULT_MODELS_DIR);
    for (const k of REFINED_OUTPUTS) expect(map[k]).toHaveLength(REFINED_COUNT[k]);
    for (const i of [33, 159, 145, 133]) expect(map.output_left_eye).toContain(i);
    for (const i of [263, 386, 374, 362]) expect(map.output_right_eye).toContain(i);
    for (const i of [13, 14, 78, 308, 61, 291]) expect(map.output_lips).toContain(i);
  });

  it("a missing or malformed map is a MODEL error that names the fix", () => {
    const dir = mkdtempSync(join(tmpdir(), "mimic-refine-"));
    expect(() => loadRefinementMap(dir)).toThrow(/npm run models/);
    writeFileSync(join(dir, "facemesh-attention.refinement.json"), JSON.stringify({ output_lips: [1, 2], output_left_eye: [], output_right_eye: [999] }));
    expect(() => loadRefinementMap(dir)).toThrow(/output_lips/);
  });
});
