import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MimicError } from "../../../src/errors.ts";
import {
  analyzeBytes,
  cosineSimilarity,
  createFaceAnalyzer,
  getFaceAnalyzer,
  type FaceAnalyzer,
} from "../../../src/pipeline/face/index.ts";
import {
  applyAffine,
  cropImage,
  decodeImage,
  flipHorizontal,
  pasteImage,
  resizeImage,
  solidImage,
} from "../../../src/pipeline/image/index.ts";
import type { AnalyzedFace, RgbImage } from "../../../src/pipeline/types.ts";

const FIXTURES = ["grace_hopper_512x512.jpg", "astronaut.png", "franck_01829.jpg", "franck_02221.jpg", "franck_04117.jpg"];
const bytesOf = (name: string) => new Uint8Array(readFileSync(new URL(`../../fixtures/faces/${name}`, import.meta.url)));

let analyzer: FaceAnalyzer;
const images = new Map<string, RgbImage>();
const only = (faces: AnalyzedFace[]) => {
  expect(faces).toHaveLength(1);
  return faces[0];
};

beforeAll(async () => {
  analyzer = await createFaceAnalyzer({ provider: "cpu", threads: 1 });
  for (const f of FIXTURES) images.set(f, await decodeImage(bytesOf(f)));
});

afterAll(async () => {
  await analyzer?.dispose();
});

describe("face analysis on the fixture photos", () => {
  it.each(FIXTURES)("%s has exactly one face, with a full mesh inside the image", async (name) => {
    const img = images.get(name)!;
    const r = await analyzer.analyze(img);
    const face = only(r.faces);
    expect([r.width, r.height]).toEqual([img.width, img.height]);
    expect(face.landmarks).toHaveLength(468 * 3);
    expect(face.score).toBeGreaterThan(0.7);
    expect(face.meshScore).toBeGreaterThan(0.9);
    for (let i = 0; i < 468; i++) {
      expect(face.landmarks[3 * i]).toBeGreaterThanOrEqual(face.box.x - 1e-3);
      expect(face.landmarks[3 * i]).toBeLessThanOrEqual(face.box.x + face.box.width + 1e-3);
    }
    expect(face.box.x).toBeGreaterThan(0);
    expect(face.box.x + face.box.width).toBeLessThan(img.width);
    expect(face.quality.faceSizePx).toBeGreaterThan(80);
    // BlazeFace keypoints: subject's right eye is on the image's left in these frontal photos.
    expect(face.keypoints[0].x).toBeLessThan(face.keypoints[1].x);
    expect(Object.keys(r.timingsMs)).toEqual(expect.arrayContaining(["detect", "mesh", "total"]));
  });

  it("finds exactly 3 faces on a large composed canvas, one of them small, largest first", async () => {
    const canvas = solidImage(2400, 1300, [128, 128, 128]);
    pasteImage(canvas, images.get("grace_hopper_512x512.jpg")!, 80, 300);
    pasteImage(canvas, resizeImage(images.get("astronaut.png")!, 400, 400), 900, 150);
    // franck at 1/4 size: a face of ~80 px on a 2400 px canvas (3 % of its width).
    const small = resizeImage(images.get("franck_04117.jpg")!, 180, 144);
    pasteImage(canvas, small, 1900, 1000);
    const r = await analyzer.analyze(canvas);
    expect(r.faces).toHaveLength(3);
    const sizes = r.faces.map((f) => f.quality.faceSizePx);
    expect([...sizes].sort((a, b) => b - a)).toEqual(sizes);
    const smallest = r.faces[2];
    expect(smallest.quality.faceSizePx).toBeLessThan(100);
    expect(smallest.box.x).toBeGreaterThan(1900);
    expect(smallest.box.y).toBeGreaterThan(1000);
    // Without tiles the small face is beyond BlazeFace's reach at this scale.
    const wholeOnly = await analyzer.analyze(canvas, { tiles: false });
    expect(wholeOnly.faces.length).toBeLessThan(3);
  });

  it("finds one face, not its parts, in a phone-sized photo where the face is bigger than a tile", async () => {
    const img = images.get("franck_01829.jpg")!;
    const small = only((await analyzer.analyze(img)).faces);
    const scale = 5.6;
    const big = resizeImage(img, Math.round(720 * scale), Math.round(576 * scale)); // 4032×3226, 13 MP
    const face = only((await analyzer.analyze(big)).faces);
    // Same landmarks, scaled: mean error under 3 % of the inter-ocular distance.
    const iod = Math.hypot(face.landmarks[3 * 263] - face.landmarks[3 * 33], face.landmarks[3 * 263 + 1] - face.landmarks[3 * 33 + 1]);
    let sum = 0;
    for (let i = 0; i < 468; i++) {
      sum += Math.hypot(face.landmarks[3 * i] - small.landmarks[3 * i] * scale, face.landmarks[3 * i + 1] - small.landmarks[3 * i + 1] * scale);
    }
    expect(sum / 468 / iod).toBeLessThan(0.03);
  });

  it("gives the same results for concurrent calls on one analyzer as for sequential ones", async () => {
    const names = ["grace_hopper_512x512.jpg", "franck_04117.jpg", "astronaut.png"];
    const sequential: Float32Array[] = [];
    for (const n of names) sequential.push((await analyzer.analyze(images.get(n)!)).faces[0].landmarks);
    const concurrent = await Promise.all(names.map((n) => analyzer.analyze(images.get(n)!)));
    concurrent.forEach((r, i) => expect(Array.from(r.faces[0].landmarks)).toEqual(Array.from(sequential[i])));
  });

  it.each(["grace_hopper_512x512.jpg", "franck_01829.jpg", "astronaut.png"])(
    "finds the face in a tight crop of %s (face fills the frame), also at 96 px",
    async (name) => {
      const img = images.get(name)!;
      const f = only((await analyzer.analyze(img)).faces);
      const side = Math.max(f.box.width, f.box.height);
      const crop = cropImage(img, { x: f.box.x + f.box.width / 2 - side / 2, y: f.box.y + f.box.height / 2 - side / 2, width: side, height: side });
      const face = only((await analyzer.analyze(crop)).faces);
      expect(face.quality.faceSizePx).toBeGreaterThan(0.8 * side);
      only((await analyzer.analyze(resizeImage(crop, 96, 96))).faces);
    },
  );

  it("honours maxFaces, keeping the largest", async () => {
    const canvas = solidImage(1100, 560, [20, 40, 60]);
    pasteImage(canvas, images.get("grace_hopper_512x512.jpg")!, 0, 24);
    pasteImage(canvas, resizeImage(images.get("franck_01829.jpg")!, 360, 288), 650, 100);
    const r = await analyzer.analyze(canvas, { maxFaces: 1 });
    expect(only(r.faces).box.x).toBeLessThan(512);
  });

  it("reports no faces (not an error) for a flat colour and for background only", async () => {
    expect((await analyzer.analyze(solidImage(640, 480, [200, 180, 160]))).faces).toEqual([]);
    const franck = images.get("franck_01829.jpg")!;
    const background = cropImage(franck, { x: 0, y: 0, width: 230, height: 576 });
    expect((await analyzer.analyze(background)).faces).toEqual([]);
    expect((await analyzer.analyze(solidImage(1, 1, [0, 0, 0]))).faces).toEqual([]);
  });

  it("flips the signs of yaw and roll on a mirrored image", async () => {
    // franck_02221 is turned (yaw ≈ 9°) and tilted (roll ≈ -8°) enough for the signs to be meaningful.
    const img = images.get("franck_02221.jpg")!;
    const a = only((await analyzer.analyze(img)).faces).pose;
    const b = only((await analyzer.analyze(flipHorizontal(img))).faces).pose;
    expect(Math.abs(a.yaw)).toBeGreaterThan(4);
    expect(Math.abs(a.roll)).toBeGreaterThan(4);
    expect(Math.sign(b.yaw)).toBe(-Math.sign(a.yaw));
    expect(Math.sign(b.roll)).toBe(-Math.sign(a.roll));
    expect(b.yaw).toBeCloseTo(-a.yaw, -1); // within ±5°
    expect(b.roll).toBeCloseTo(-a.roll, -1);
    expect(b.pitch).toBeCloseTo(a.pitch, -1);
  });

  it("tracks an in-plane rotation of the photo in roll", async () => {
    const img = images.get("grace_hopper_512x512.jpg")!;
    const base = only((await analyzer.analyze(img)).faces).pose.roll;
    const rotatedPng = await sharp(img.data, { raw: { width: 512, height: 512, channels: 3 } })
      .rotate(30, { background: "#000" })
      .png()
      .toBuffer();
    const rotated = only((await analyzer.analyze(await decodeImage(rotatedPng))).faces).pose.roll;
    // sharp rotates clockwise for positive angles; our roll is clockwise-positive.
    expect(rotated - base).toBeGreaterThan(25);
    expect(rotated - base).toBeLessThan(35);
  });

  it.each([90, 180, 270])("finds the face in a photo turned %i° (no EXIF orientation), landmarks on the face", async (deg) => {
    const img = images.get("grace_hopper_512x512.jpg")!;
    const upright = only((await analyzer.analyze(img)).faces);
    const turnedPng = await sharp(img.data, { raw: { width: 512, height: 512, channels: 3 } }).rotate(deg).png().toBuffer();
    const turned = await decodeImage(turnedPng);
    const face = only((await analyzer.analyze(turned)).faces);
    // Roll follows the turn (clockwise positive), wrapped to (-180, 180].
    const expected = ((upright.pose.roll + deg + 180) % 360) - 180;
    const diff = ((face.pose.roll - expected + 540) % 360) - 180;
    expect(Math.abs(diff)).toBeLessThan(8);
    // The nose tip (mesh point 1) lands where the upright nose tip goes under the same turn.
    const [nx, ny] = [upright.landmarks[3], upright.landmarks[4]];
    const c = 256;
    const r = (deg * Math.PI) / 180;
    const ex = c + Math.cos(r) * (nx - c) - Math.sin(r) * (ny - c);
    const ey = c + Math.sin(r) * (nx - c) + Math.cos(r) * (ny - c);
    expect(Math.hypot(face.landmarks[3] - ex, face.landmarks[4] - ey)).toBeLessThan(8);
  });

  it.each([6, 10])("a blurred (σ %i) upright photo gives the upright face or none, never a turned false one", async (sigma) => {
    for (const name of ["astronaut.png", "grace_hopper_512x512.jpg", "franck_01829.jpg"]) {
      const img = images.get(name)!;
      const blurred = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).blur(sigma).raw().toBuffer();
      const r = await analyzer.analyze({ data: new Uint8Array(blurred), width: img.width, height: img.height });
      expect(r.faces.length, name).toBeLessThanOrEqual(1);
      for (const f of r.faces) expect(Math.abs(f.pose.roll), name).toBeLessThan(30);
    }
  });

  it("orders quality measures: laugh opens the mouth more than neutral; blur lowers sharpness", async () => {
    const neutral = only((await analyzer.analyze(images.get("franck_01829.jpg")!)).faces).quality;
    const laugh = only((await analyzer.analyze(images.get("franck_04117.jpg")!)).faces).quality;
    expect(laugh.mouthOpenness).toBeGreaterThan(neutral.mouthOpenness + 0.1);
    expect(neutral.mouthOpenness).toBeLessThan(0.1);
    for (const q of [neutral, laugh]) {
      expect(q.eyeOpennessLeft).toBeGreaterThan(0.15);
      expect(q.eyeOpennessRight).toBeGreaterThan(0.15);
      expect(q.eyeOpennessLeft).toBeLessThan(0.5);
    }
    const img = images.get("grace_hopper_512x512.jpg")!;
    const sharpQ = only((await analyzer.analyze(img)).faces).quality.sharpness;
    const blurred = await sharp(img.data, { raw: { width: 512, height: 512, channels: 3 } }).blur(3).raw().toBuffer();
    const blurQ = only((await analyzer.analyze({ data: new Uint8Array(blurred), width: 512, height: 512 })).faces).quality.sharpness;
    expect(blurQ).toBeLessThan(sharpQ / 4);
  });

  it("gives aligned crops whose transform maps the landmarks into the crop", async () => {
    const img = images.get("franck_01829.jpg")!;
    const face = only((await analyzer.analyze(img)).faces);
    const { image, transform } = analyzer.alignedCrop(img, face, 256);
    expect([image.width, image.height, image.data.length]).toEqual([256, 256, 256 * 256 * 3]);
    expect(transform).toHaveLength(6);
    const lm = face.landmarks;
    const eye = (a: number, b: number) => applyAffine(transform, (lm[3 * a] + lm[3 * b]) / 2, (lm[3 * a + 1] + lm[3 * b + 1]) / 2);
    const right = eye(33, 133);
    const left = eye(263, 362);
    // Upright: both eye centres level in the crop, inside it, right eye on the crop's left.
    expect(Math.abs(right[1] - left[1])).toBeLessThan(1);
    expect(right[0]).toBeLessThan(left[0]);
    for (const p of [right, left]) {
      for (const v of p) {
        expect(v).toBeGreaterThan(0);
        expect(v).toBeLessThan(256);
      }
    }
    // A larger margin makes the face smaller in the crop.
    const wide = analyzer.alignedCrop(img, face, 256, 3);
    expect(Math.abs(wide.transform[0])).toBeLessThan(Math.abs(transform[0]));
  });

  it("embeds identities: the same man scores higher than different people", async () => {
    const emb = new Map<string, Float32Array>();
    for (const name of FIXTURES) {
      const img = images.get(name)!;
      const e = await analyzer.embed(img, only((await analyzer.analyze(img)).faces));
      expect(e).toHaveLength(1024);
      let n = 0;
      for (const v of e) n += v * v;
      expect(n).toBeCloseTo(1, 4);
      emb.set(name, e);
    }
    const franck = ["franck_01829.jpg", "franck_02221.jpg", "franck_04117.jpg"];
    const others = ["grace_hopper_512x512.jpg", "astronaut.png"];
    let minSame = 1;
    let maxDiff = -1;
    for (const a of franck) for (const b of franck) if (a < b) minSame = Math.min(minSame, cosineSimilarity(emb.get(a)!, emb.get(b)!));
    for (const a of franck) for (const b of others) maxDiff = Math.max(maxDiff, cosineSimilarity(emb.get(a)!, emb.get(b)!));
    maxDiff = Math.max(maxDiff, cosineSimilarity(emb.get(others[0])!, emb.get(others[1])!));
    expect(minSame).toBeGreaterThan(0.6);
    expect(maxDiff).toBeLessThan(0.5);
    expect(minSame - maxDiff).toBeGreaterThan(0.2);
  });

  it("the embedding is stable under mirroring (same person)", async () => {
    const img = images.get("astronaut.png")!;
    const a = await analyzer.embed(img, only((await analyzer.analyze(img)).faces));
    const m = flipHorizontal(img);
    const b = await analyzer.embed(m, only((await analyzer.analyze(m)).faces));
    expect(cosineSimilarity(a, b)).toBeGreaterThan(0.75);
  });
});

// gifenc is CommonJS without types; createRequire works under both Node ESM and vitest.
const gifenc = createRequire(import.meta.url)("gifenc") as {
  GIFEncoder: () => {
    writeFrame(index: Uint8Array, w: number, h: number, o: { palette: number[][]; delay?: number }): void;
    finish(): void;
    bytes(): Uint8Array;
  };
  quantize: (rgba: Uint8Array, n: number) => number[][];
  applyPalette: (rgba: Uint8Array, palette: number[][]) => Uint8Array;
};

function toRgba(img: RgbImage): Uint8Array {
  const out = new Uint8Array(img.width * img.height * 4);
  for (let i = 0, j = 0; i < img.data.length; i += 3, j += 4) {
    out[j] = img.data[i];
    out[j + 1] = img.data[i + 1];
    out[j + 2] = img.data[i + 2];
    out[j + 3] = 255;
  }
  return out;
}

describe("analyzeBytes (decode + analyze with the shared analyzer)", () => {
  it("analyses the first frame of an animated GIF", async () => {
    const face = toRgba(images.get("grace_hopper_512x512.jpg")!);
    const enc = gifenc.GIFEncoder();
    const palette = gifenc.quantize(face, 256);
    enc.writeFrame(gifenc.applyPalette(face, palette), 512, 512, { palette, delay: 100 });
    enc.writeFrame(new Uint8Array(512 * 512), 512, 512, { palette: [[0, 0, 0], [255, 255, 255]], delay: 100 });
    enc.finish();
    const r = await analyzeBytes(enc.bytes());
    expect(r.faces).toHaveLength(1);
    expect(r.timingsMs.decode).toBeGreaterThan(0);
    expect(r.image.width).toBe(512);
  });

  it("turns bad uploads into typed errors", async () => {
    const errOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as MimicError);
    expect((await errOf(analyzeBytes(new Uint8Array(0))))?.code).toBe("BAD_INPUT");
    expect((await errOf(analyzeBytes(new TextEncoder().encode("GIF89a but not really"))))?.code).toBe("NOT_AN_IMAGE");
    const jpeg = bytesOf("franck_01829.jpg");
    expect((await errOf(analyzeBytes(jpeg.subarray(0, 4000))))?.code).toBe("NOT_AN_IMAGE");
  });

  it("shares one analyzer per thread", async () => {
    expect(await getFaceAnalyzer()).toBe(await getFaceAnalyzer());
  });
});

describe("execution provider and model errors", () => {
  it("asking for CUDA where its provider is not installed is a CONFIG error that says what to do", async () => {
    const err = await createFaceAnalyzer({ provider: "cuda", threads: 1 }).then(
      async (a) => {
        // A GPU host with the CUDA provider installed: it must actually work.
        const r = await a.analyze(images.get("astronaut.png")!);
        expect(r.faces).toHaveLength(1);
        await a.dispose();
        return undefined;
      },
      (e: unknown) => e,
    );
    if (err === undefined) return;
    expect(err).toBeInstanceOf(MimicError);
    expect((err as MimicError).code).toBe("CONFIG");
    expect((err as MimicError).userMessage).toMatch(/ORT_EXECUTION_PROVIDER=cuda/);
    expect((err as MimicError).userMessage).toMatch(/ORT_EXECUTION_PROVIDER=cpu/);
    // allowScripts denies onnxruntime-node's install script, so `npm rebuild` would not fetch the provider.
    expect((err as MimicError).userMessage).toContain("ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install");
  });

  it("a missing models folder is a MODEL error naming the fix", async () => {
    const err = await createFaceAnalyzer({ provider: "cpu", threads: 1, modelsDir: tmpdir() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MimicError);
    expect((err as MimicError).code).toBe("MODEL");
    expect((err as MimicError).userMessage).toMatch(/npm run models/);
  });

  it("rejects malformed pixel data", async () => {
    await expect(analyzer.analyze({ data: new Uint8Array(10), width: 5, height: 5 })).rejects.toMatchObject({ code: "BAD_INPUT" });
  });
});
