/**
 * onnxruntime's optimised graphs kept between processes (src/pipeline/face/session.ts): made by the first
 * session on a machine, read by later ones, remade when damaged, and never in the way of a session.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createFaceAnalyzer } from "../../../src/pipeline/face/index.ts";
import { DEFAULT_MODELS_DIR } from "../../../src/pipeline/face/session.ts";
import { decodeImage } from "../../../src/pipeline/image/index.ts";
import { NsfwClassifier } from "../../../src/pipeline/safety/nsfw.ts";

const dir = mkdtempSync(join(tmpdir(), "mimic-model-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const photo = await decodeImage(new Uint8Array(readFileSync(new URL("../../fixtures/faces/franck_04117.jpg", import.meta.url))));

/** The face analysis of the fixture by a fresh analyzer with these options: mesh points and scores. */
async function analyse(modelCacheDir?: string, modelsDir?: string) {
  const analyzer = await createFaceAnalyzer({ threads: 1, ...(modelCacheDir ? { modelCacheDir } : {}), ...(modelsDir ? { modelsDir } : {}) });
  try {
    const { faces } = await analyzer.analyze(photo);
    return faces.map((f) => ({ landmarks: Array.from(f.landmarks), score: f.score }));
  } finally {
    await analyzer.dispose();
  }
}

describe("optimised graph cache", () => {
  it("is made by the first analyzer, read by the next, and gives exactly the uncached analysis", async () => {
    const cache = join(dir, "a");
    const plain = await analyse();
    expect(plain).toHaveLength(1);
    expect(await analyse(cache)).toEqual(plain);
    const made = readdirSync(cache).sort();
    // The detectors (blazeface, and blazeface-front, loaded on first use), facemesh and the attention mesh; nothing half-written left behind.
    expect(made.map((f) => f.replace(/-[0-9a-f]{16}\.ort\.onnx$/, "")).sort()).toEqual(["blazeface", "blazeface-front", "facemesh", "facemesh-attention"]);
    expect(made.every((f) => f.endsWith(".ort.onnx"))).toBe(true);
    const stamps = made.map((f) => statSync(join(cache, f)).mtimeMs);
    expect(await analyse(cache)).toEqual(plain);
    expect(readdirSync(cache).sort()).toEqual(made);
    expect(made.map((f) => statSync(join(cache, f)).mtimeMs)).toEqual(stamps);
    // The same models reached through a link (as the compiled CLI reaches them, through dist/models) use the same files.
    const link = join(dir, "models-link");
    symlinkSync(DEFAULT_MODELS_DIR, link);
    expect(await analyse(cache, link)).toEqual(plain);
    expect(readdirSync(cache).sort()).toEqual(made);
  }, 120_000);

  it("a damaged graph is made again; an unusable folder means no cache, not a failure", async () => {
    const cache = join(dir, "b");
    const plain = await analyse(cache);
    const [first] = readdirSync(cache).sort();
    const size = statSync(join(cache, first!)).size;
    writeFileSync(join(cache, first!), "not a model");
    expect(await analyse(cache)).toEqual(plain);
    expect(statSync(join(cache, first!)).size).toBe(size);
    // A folder that cannot be made (under a file).
    writeFileSync(join(dir, "file"), "x");
    expect(await analyse(join(dir, "file", "cache"))).toEqual(plain);
  }, 120_000);

  it("the NSFW classifier uses it too, with the same scores", async () => {
    const cache = join(dir, "c");
    const scores = async (modelCacheDir?: string) => {
      const c = await NsfwClassifier.load({ threads: 1, modelCacheDir });
      try {
        return (await c.classify([photo]))[0];
      } finally {
        await c.release();
      }
    };
    const plain = await scores();
    expect(await scores(cache)).toEqual(plain);
    expect(readdirSync(cache)).toHaveLength(1);
    expect(await scores(cache)).toEqual(plain);
  }, 120_000);
});
