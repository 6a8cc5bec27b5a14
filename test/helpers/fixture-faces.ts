import { readFileSync } from "node:fs";
import { afterAll, beforeAll } from "vitest";
import { createFaceAnalyzer, type FaceAnalyzer } from "../../src/pipeline/face/index.ts";
import { decodeImage } from "../../src/pipeline/image/index.ts";
import type { AnalyzedFace, RgbImage } from "../../src/pipeline/types.ts";

/** The five fixture photos the transfer tests and `npm run eval` use (test/fixtures/faces, see its provenance file). */
export const FIXTURE_FACES = ["grace_hopper_512x512.jpg", "astronaut.png", "franck_01829.jpg", "franck_02221.jpg", "franck_04117.jpg"] as const;
export type FixtureFace = (typeof FIXTURE_FACES)[number];

export interface FixtureFaces {
  analyzer: FaceAnalyzer;
  images: Map<FixtureFace, RgbImage>;
  /** Each photo's largest face, as the analyzer (CPU, one thread) finds it. */
  faces: Map<FixtureFace, AnalyzedFace>;
}

/**
 * The fixture faces for the calling test file: filled in by its beforeAll, the analyzer disposed by its
 * afterAll. Read the fields inside tests (they are empty while the file is being collected).
 */
export function useFixtureFaces(): FixtureFaces {
  const fx = {} as FixtureFaces;
  beforeAll(async () => {
    Object.assign(fx, await loadFixtureFaces());
  });
  afterAll(async () => fx.analyzer?.dispose());
  return fx;
}

/** Decodes and analyses every fixture face once. */
async function loadFixtureFaces(): Promise<FixtureFaces> {
  const analyzer = await createFaceAnalyzer({ provider: "cpu", threads: 1 });
  const images = new Map<FixtureFace, RgbImage>();
  const faces = new Map<FixtureFace, AnalyzedFace>();
  for (const n of FIXTURE_FACES) {
    const img = await decodeImage(new Uint8Array(readFileSync(new URL(`../fixtures/faces/${n}`, import.meta.url))));
    images.set(n, img);
    faces.set(n, (await analyzer.analyze(img)).faces[0]!);
  }
  return { analyzer, images, faces };
}
