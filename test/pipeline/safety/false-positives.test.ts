/**
 * The NSFW gate's default threshold refuses none of the project's safe images (fixture photos, evaluation
 * sheets, each scaled, rotated, mirrored and JPEG q40): the real classifier, the real threshold.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_NSFW_THRESHOLD, NsfwClassifier } from "../../../src/pipeline/safety/nsfw.ts";
import { safeImageFiles, safeImages, VARIANTS } from "../../../tools/eval/safe-images.ts";

describe("NSFW gate false positives", () => {
  let classifier: NsfwClassifier;
  beforeAll(async () => {
    classifier = await NsfwClassifier.load({ provider: "cpu", threads: 2 });
  });
  afterAll(() => classifier?.release());

  it("the default threshold passes every safe image and its variants", { timeout: 240_000 }, async () => {
    const scores: Array<{ name: string; unsafe: number }> = [];
    for await (const { name, image } of safeImages()) {
      const [s] = await classifier.classify([image]);
      scores.push({ name, unsafe: s.unsafe });
    }
    expect(scores.length).toBe(safeImageFiles().length * VARIANTS.length);
    expect(scores.length).toBeGreaterThanOrEqual(70);
    const worst = scores.reduce((a, b) => (b.unsafe > a.unsafe ? b : a));
    console.log(`nsfw false positives: ${scores.filter((s) => s.unsafe >= DEFAULT_NSFW_THRESHOLD).length}/${scores.length}; highest unsafe score ${worst.unsafe.toFixed(4)} (${worst.name})`);
    expect(scores.filter((s) => s.unsafe >= DEFAULT_NSFW_THRESHOLD)).toEqual([]);
  });
});
