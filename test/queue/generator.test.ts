/**
 * The LivePortrait generator path end to end through the real queue and the real handlers, with stand-in
 * models of exactly FaceFusion's signatures (tools/generator/standins.ts): MIMIC_GENERATOR=liveportrait
 * sends mimic jobs to the generator, appearance features are computed once per template and kept in memory
 * only (a face's features never reach the disk; an earlier version's file cache is deleted at start-up), and
 * generator jobs only reach workers that loaded the models.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { LivePortraitEngine } from "../../src/pipeline/generator/engine.ts";
import { checkGeneratorAtStartup, createQueue, DEFAULT_HANDLERS } from "../../src/queue/index.ts";
import type { AnimatedJob, ImageResult, InferenceQueue, MemeJob } from "../../src/queue/jobs.ts";
import { createLocalQueue } from "../../src/queue/local.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { writeStandIns } from "../../tools/generator/standins.ts";
import { ONE_THREAD, expectRejects, isPng } from "./helpers.ts";
import { REACTION_LAUGH_JPG, describeImage, reactionGif } from "../core/images.ts";
import { readFileSync } from "node:fs";

const face = (f: string) => new Uint8Array(readFileSync(new URL(`../fixtures/faces/${f}`, import.meta.url)));
const root = mkdtempSync(join(tmpdir(), "mimic-gen-"));
const modelDir = join(root, "models");
const dataDir = join(root, "data");
writeStandIns(modelDir);

const config = loadConfig({ MIMIC_GENERATOR: "liveportrait", MIMIC_GENERATOR_DIR: modelDir, DATA_DIR: dataDir, QUEUE_WORKERS: "1", ORT_THREADS: "1", LOG_LEVEL: "silent" });
const genSettings = { ...ONE_THREAD, generator: { dir: modelDir, provider: "cpu" as const, threads: 1 } };
/** Every file under a DATA_DIR but the optimised model graphs (model-cache/), which hold nothing of anyone. */
const filesUnder = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name))
        .filter((f) => !f.startsWith(join(dir, "model-cache")))
        .sort()
    : [];

function memeJob(template: EnrolledTemplate, reaction: string, extra: Partial<MemeJob> = {}): MemeJob {
  return { kind: "meme", template, reaction: { bytes: face(reaction), mime: "image/jpeg" }, captions: {}, intensity: 1, mode: "mimic", byteBudget: 8 << 20, ...extra };
}
const pixels = (png: Uint8Array) => sharp(png).raw().toBuffer();
async function meanDiff(a: Uint8Array, b: Uint8Array): Promise<number> {
  const [x, y] = await Promise.all([pixels(a), pixels(b)]);
  expect(x.length).toBe(y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) d += Math.abs(x[i]! - y[i]!);
  return d / x.length;
}
const genStages = (r: ImageResult) => Object.keys(r.timingsMs ?? {}).filter((k) => k.startsWith("gen.")).sort();

let template: EnrolledTemplate;

describe("generator backend through the real queue", () => {
  let q: InferenceQueue & { ready?: () => Promise<void> };
  beforeAll(async () => {
    q = createQueue(config);
    await (q as { ready(): Promise<void> }).ready();
    const r = await q.submit({ kind: "enrol", image: { bytes: face("franck_01829.jpg"), mime: "image/jpeg" } }, { requestId: "e", userId: "u", serverId: "s" });
    template = (r as { face: { data: EnrolledTemplate } }).face.data;
  }, 120_000);
  afterAll(() => q.close({ drainMs: 0 }));

  let first: ImageResult;
  test("MIMIC_GENERATOR=liveportrait: a mimic meme runs every generator stage and the face changes", async () => {
    first = (await q.submit(memeJob(template, "franck_04117.jpg"), { requestId: "m1", userId: "u", serverId: "s" })) as ImageResult;
    expect(isPng(first.bytes)).toBe(true);
    expect(genStages(first)).toEqual(["gen.crop", "gen.features", "gen.generate", "gen.keypoints", "gen.motion", "gen.paste", "gen.retarget", "gen.stitch"]);
    expect(await meanDiff(first.bytes, template.cropPng)).toBeGreaterThan(1);
    // The appearance features (enough to redraw the face) stay in the worker's memory.
    expect(filesUnder(dataDir), "nothing of the face under DATA_DIR").toEqual([]);
  }, 60_000);

  test("swap is drawn by the mesh engine, explicitly; a swap asking for the generator is refused, not redrawn", async () => {
    const r = (await q.submit(memeJob(template, "franck_04117.jpg", { mode: "swap" }), { requestId: "m2", userId: "u", serverId: "s" })) as ImageResult;
    expect(genStages(r)).toEqual([]);
    expect(r.timingsMs?.transfer).toBeGreaterThan(0);
    const e = await expectRejects(q.submit(memeJob(template, "franck_04117.jpg", { mode: "swap", generator: "liveportrait" }), { requestId: "m2b", userId: "u", serverId: "s" }));
    expect(e.code).toBe("BAD_INPUT");
    expect(e.details).toMatchObject({ reason: "swap-on-generator" });
  }, 60_000);

  test("an animated reaction GIF and a morph are rendered by the generator, every frame", async () => {
    const gif = await reactionGif(REACTION_LAUGH_JPG, 3, 240);
    const job = (extra: Partial<AnimatedJob>): AnimatedJob => ({ ...memeJob(template, "franck_04117.jpg"), kind: "animated", animation: "reaction", reaction: { bytes: gif, mime: "image/gif" }, ...extra });
    const reaction = (await q.submit(job({}), { requestId: "a1", userId: "u", serverId: "s" })) as ImageResult;
    expect(await describeImage(reaction.bytes)).toMatchObject({ format: "gif", pages: 3 });
    expect(genStages(reaction)).toEqual(["gen.crop", "gen.features", "gen.generate", "gen.keypoints", "gen.motion", "gen.paste", "gen.retarget", "gen.stitch"]);
    // The same animation drawn by the mesh engine is another picture.
    const mesh = (await q.submit(job({ generator: "mesh" }), { requestId: "a2", userId: "u", serverId: "s" })) as ImageResult;
    expect(genStages(mesh)).toEqual([]);
    expect(await describeImage(mesh.bytes)).toMatchObject({ format: "gif", pages: 3 });
    expect(await meanDiff(mesh.bytes, reaction.bytes)).toBeGreaterThan(0.5);
    const morph = (await q.submit(job({ animation: "morph", reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" } }), { requestId: "a3", userId: "u", serverId: "s" })) as ImageResult;
    expect(genStages(morph)).toContain("gen.generate");
    expect((await describeImage(morph.bytes)).pages).toBeGreaterThan(2);
    expect(filesUnder(dataDir), "nothing of the face under DATA_DIR").toEqual([]);
  }, 120_000);

  test("the reaction drives the result: another reaction, another face; intensity 0 and 1 differ", async () => {
    const other = (await q.submit(memeJob(template, "franck_02221.jpg"), { requestId: "m3", userId: "u", serverId: "s" })) as ImageResult;
    expect(await meanDiff(other.bytes, first.bytes)).toBeGreaterThan(0.05);
    const none = (await q.submit(memeJob(template, "franck_04117.jpg", { intensity: 0 }), { requestId: "m4", userId: "u", serverId: "s" })) as ImageResult;
    expect(await meanDiff(none.bytes, first.bytes)).toBeGreaterThan(0.05);
  }, 60_000);
});

describe("appearance features, and routing by capability", () => {
  test("computed once per template while it is among the recent ones, from memory after that", async () => {
    const engine = await LivePortraitEngine.load({ dir: modelDir, provider: "cpu", threads: 1 });
    const crop = (v: number) => new Float32Array(3 * 256 * 256).fill(v);
    const a = await engine.features(crop(0.2), "a");
    expect(await engine.features(crop(0.2), "a")).toBe(a);
    await engine.features(crop(0.4), "b");
    expect(engine.featureStats).toEqual({ computed: 2, fromMemory: 1 });
  }, 60_000);

  test("start-up deletes the features an earlier version kept under DATA_DIR/generator-cache, whatever MIMIC_GENERATOR says", () => {
    for (const generator of ["liveportrait", "mesh"]) {
      const dir = mkdtempSync(join(tmpdir(), "mimic-gen-retired-"));
      try {
        mkdirSync(join(dir, "generator-cache"));
        writeFileSync(join(dir, "generator-cache", "0f3a.f32"), new Uint8Array(64));
        writeFileSync(join(dir, "mimic.db"), "kept");
        checkGeneratorAtStartup(loadConfig({ MIMIC_GENERATOR: generator, MIMIC_GENERATOR_DIR: modelDir, DATA_DIR: dir, LOG_LEVEL: "silent" }));
        expect(filesUnder(dir), generator).toEqual([join(dir, "mimic.db")]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test("with one generator worker of two, generator jobs all reach it while mesh jobs keep being served", async () => {
    const q = createLocalQueue({ workers: 2, capacity: 20, perUserLimit: 1, jobTimeoutMs: 60_000, cheapFirst: false, handlersUrl: DEFAULT_HANDLERS, settings: genSettings, generatorWorkers: 1 });
    try {
      await q.ready();
      const jobs = [
        ...["a", "b", "c"].map((u) => q.submit(memeJob(template, "franck_04117.jpg", { generator: "liveportrait" }), { requestId: `g${u}`, userId: `g${u}`, serverId: "s" })),
        ...["d", "e", "f"].map((u) => q.submit(memeJob(template, "franck_04117.jpg"), { requestId: `m${u}`, userId: `m${u}`, serverId: "t" })),
      ];
      const results = (await Promise.all(jobs)) as ImageResult[];
      expect(results.slice(0, 3).map((r) => genStages(r).length)).toEqual([8, 8, 8]);
      expect(results.slice(3).map((r) => genStages(r).length)).toEqual([0, 0, 0]);
    } finally {
      await q.close({ drainMs: 0 });
    }
  }, 180_000);

  test("no worker with the models (a file missing): generator jobs are refused at once, mesh jobs still run", async () => {
    const broken = join(root, "broken");
    writeStandIns(broken);
    unlinkSync(join(broken, "live_portrait_generator.onnx"));
    const q = createLocalQueue({
      workers: 1, capacity: 10, perUserLimit: 5, jobTimeoutMs: 60_000, cheapFirst: false, handlersUrl: DEFAULT_HANDLERS,
      settings: { ...genSettings, generator: { ...genSettings.generator, dir: broken } },
    });
    try {
      await q.ready();
      const e = await expectRejects(q.submit(memeJob(template, "franck_04117.jpg", { generator: "liveportrait" }), { requestId: "x1", userId: "u", serverId: "s" }));
      expect(e.code).toBe("BUSY");
      expect(e.details).toMatchObject({ reason: "no-capable-worker", capability: "liveportrait" });
      const mesh = (await q.submit(memeJob(template, "franck_04117.jpg"), { requestId: "x2", userId: "u", serverId: "s" })) as ImageResult;
      expect(isPng(mesh.bytes)).toBe(true);
    } finally {
      await q.close({ drainMs: 0 });
    }
  }, 120_000);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));
