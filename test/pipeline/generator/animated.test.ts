/**
 * Animations through the generator, at the pipeline: the engine's own call counts show that every frame of
 * an animated reaction (and every step of a morph) was rendered by the generator, with the template's
 * appearance features and motion taken once, and that frames share onnxruntime calls when the files'
 * batch dimension allows it (stand-ins of FaceFusion's signatures, tools/generator/standins.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeReaction } from "../../../src/pipeline/animate/index.ts";
import { reactionSources } from "../../../src/pipeline/animate/reaction.ts";
import { animatedMemeFrames } from "../../../src/pipeline/animate/meme.ts";
import { createFaceAnalyzer, type FaceAnalyzer } from "../../../src/pipeline/face/index.ts";
import { generatorTransfer, LivePortraitEngine } from "../../../src/pipeline/generator/index.ts";
import { decodeImage } from "../../../src/pipeline/image/index.ts";
import type { AnalyzedFace, RgbImage } from "../../../src/pipeline/types.ts";
import { writeStandIns } from "../../../tools/generator/standins.ts";
import { REACTION_LAUGH_JPG, reactionGif } from "../../core/images.ts";

const root = mkdtempSync(join(tmpdir(), "mimic-gen-anim-"));
let analyzer: FaceAnalyzer;
let template: RgbImage;
let templateFace: AnalyzedFace;
let gif: { frames: RgbImage[]; delaysMs: number[] };
let gifFaces: AnalyzedFace[];

beforeAll(async () => {
  analyzer = await createFaceAnalyzer({ provider: "cpu", threads: 1 });
  template = await decodeImage(new Uint8Array(readFileSync(new URL("../../fixtures/faces/franck_01829.jpg", import.meta.url))));
  templateFace = (await analyzer.analyze(template)).faces[0]!;
  gif = await decodeReaction(await reactionGif(REACTION_LAUGH_JPG, 3, 320));
  gifFaces = await Promise.all(gif.frames.map(async (f) => (await analyzer.analyze(f)).faces[0]!));
}, 120_000);
afterAll(async () => {
  await analyzer?.dispose();
  rmSync(root, { recursive: true, force: true });
});

async function engineFor(batch: 1 | "batch"): Promise<LivePortraitEngine> {
  const dir = join(root, String(batch));
  writeStandIns(dir, { batch });
  return LivePortraitEngine.load({ dir, provider: "cpu", threads: 1 });
}

const generatorOf = (engine: LivePortraitEngine) => (reactions: { image: RgbImage; face: AnalyzedFace; intensity?: number }[]) =>
  generatorTransfer(engine, { template, templateFace, templateKey: "t", reactions, intensity: 1 });

describe("animations rendered by the generator", () => {
  it("a reaction GIF: every frame is generated; features and the template's motion once; one call per frame with the published batch of 1", async () => {
    const engine = await engineFor(1);
    try {
      const res = await animatedMemeFrames({ template, templateFace, reaction: gif, reactionFaces: gifFaces, generator: generatorOf(engine) });
      expect(res.kind).toBe("reaction");
      expect(res.frames).toHaveLength(3);
      expect(engine.runStats.generator).toEqual({ calls: 3, items: 3 });
      expect(engine.runStats.featureExtractor).toEqual({ calls: 1, items: 1 });
      expect(engine.runStats.motionExtractor.items).toBe(4); // the template once, each frame once
      expect(Object.keys(res.timingsMs).filter((k) => k.startsWith("transfer.gen.")).sort()).toContain("transfer.gen.generate");
    } finally {
      await engine.release();
    }
  }, 120_000);

  it("with a symbolic batch dimension, the frames share one generator call", async () => {
    const engine = await engineFor("batch");
    try {
      const res = await animatedMemeFrames({ template, templateFace, reaction: gif, reactionFaces: gifFaces, generator: generatorOf(engine) });
      expect(res.frames).toHaveLength(3);
      expect(engine.runStats.generator).toEqual({ calls: 1, items: 3 });
      expect(engine.runStats.motionExtractor).toEqual({ calls: 1, items: 4 });
    } finally {
      await engine.release();
    }
  }, 120_000);

  it("an animation that shows its person at rest moves the face relative to that frame, whose motion is taken once", async () => {
    const load = async (n: string) => {
      const image = await decodeImage(new Uint8Array(readFileSync(new URL(`../../fixtures/faces/${n}`, import.meta.url))));
      return { image, face: (await analyzer.analyze(image)).faces[0]! };
    };
    const [user, rest, laugh] = await Promise.all(["grace_hopper_512x512.jpg", "franck_01829.jpg", "franck_04117.jpg"].map(load));
    const src = reactionSources({ templateFace: user.face, frames: [rest.image, laugh.image], delaysMs: [100, 100], faces: [rest.face, laugh.face] });
    // The rest is the rest frame's own source, so the generator crops it and extracts its motion once.
    expect(src.sources[1]!.rest?.face).toBe(src.sources[0]!.face);
    const engine = await engineFor("batch");
    try {
      const run = (reactions: { image: RgbImage; face: AnalyzedFace }[]) =>
        generatorTransfer(engine, { template: user.image, templateFace: user.face, templateKey: "grace", reactions, intensity: 1 });
      const relative = await run(src.sources);
      expect(engine.runStats.motionExtractor.items).toBe(3); // the user, the rest frame, the laugh
      const absolute = await run(src.sources.map(({ image, face }) => ({ image, face })));
      const same = (a: RgbImage, b: RgbImage) => Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)) === 0;
      expect(same(relative.images[1]!, absolute.images[1]!)).toBe(false);
      expect(same(relative.images[0]!, absolute.images[0]!)).toBe(false);
    } finally {
      await engine.release();
    }
  }, 120_000);

  it("a morph: each distinct step is generated once, at its share of the intensity; the loop reuses them", async () => {
    const engine = await engineFor("batch");
    try {
      const still = { frames: [gif.frames[0]!], delaysMs: [0] };
      const res = await animatedMemeFrames({ template, templateFace, reaction: still, reactionFaces: [gifFaces[0]!], generator: generatorOf(engine), morph: { frames: 8 } });
      expect(res.kind).toBe("morph");
      expect(res.frames).toHaveLength(8);
      // pingpong over 8 frames: steps 1/4 … 1 (4 distinct, the template itself is frame 0), two calls of up to 8.
      expect(engine.runStats.generator.items).toBe(4);
      // A single face crop and motion for the reaction, however many steps.
      expect(engine.runStats.motionExtractor.items).toBe(2);
      const same = (a: RgbImage, b: RgbImage) => Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)) === 0;
      expect(same(res.frames[1]!, res.frames[7]!)).toBe(true);
      expect(same(res.frames[1]!, res.frames[4]!)).toBe(false);
      expect(same(res.frames[0]!, res.frames[4]!)).toBe(false);
    } finally {
      await engine.release();
    }
  }, 120_000);
});
