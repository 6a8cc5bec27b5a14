/**
 * The NSFW gate on the real path: the job handlers in worker processes run the converted nsfwjs classifier on
 * the reaction, on a face before it is saved, and on the result (sampled frames for animations). Explicit
 * images cannot be shipped, so the decision path is proven with thresholds a known safe image crosses, and
 * the default threshold is shown to pass the same jobs.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { decodeImage } from "../../src/pipeline/image/index.ts";
import { DEFAULT_NSFW_THRESHOLD, NsfwClassifier } from "../../src/pipeline/safety/nsfw.ts";
import { DEFAULT_HANDLERS } from "../../src/queue/index.ts";
import type { ImageResult, InferenceQueue, Job } from "../../src/queue/jobs.ts";
import { createLocalQueue } from "../../src/queue/local.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { ONE_THREAD, expectRejects } from "./helpers.ts";

const face = (f: string) => new Uint8Array(readFileSync(new URL(`../fixtures/faces/${f}`, import.meta.url)));
const opts = (id: string) => ({ requestId: id, userId: "u1", serverId: "s" });

describe("NSFW gate in the job handlers (real classifier)", () => {
  let q: InferenceQueue & { ready(): Promise<void> };
  let classifier: NsfwClassifier;
  let template: EnrolledTemplate;
  const reaction = { bytes: face("franck_02221.jpg"), mime: "image/jpeg" };
  const meme = (over: Partial<Extract<Job, { kind: "meme" }>> = {}): Job => ({ kind: "meme", template, reaction, captions: {}, intensity: 1, mode: "mimic", byteBudget: 8 << 20, ...over });
  const unsafeOf = async (bytes: Uint8Array) => (await classifier.classify([await decodeImage(bytes)]))[0].unsafe;

  beforeAll(async () => {
    q = createLocalQueue({ workers: 1, capacity: 10, perUserLimit: 1, jobTimeoutMs: 60_000, cheapFirst: false, handlersUrl: DEFAULT_HANDLERS, settings: ONE_THREAD });
    classifier = await NsfwClassifier.load({ provider: "cpu", threads: 1 });
    await q.ready();
    const r = await q.submit({ kind: "enrol", image: { bytes: face("astronaut.png"), mime: "image/png" }, nsfwThreshold: DEFAULT_NSFW_THRESHOLD }, opts("e0"));
    if (r.kind !== "enrol") throw new Error("expected an enrolled face");
    template = r.face.data as EnrolledTemplate;
  });
  afterAll(async () => {
    await classifier?.release();
    await q?.close({ drainMs: 0 });
  });

  test("a face whose safe photo crosses a (test-only) threshold is refused before it is saved", async () => {
    const score = await unsafeOf(face("franck_01829.jpg"));
    const e = await expectRejects(q.submit({ kind: "enrol", image: { bytes: face("franck_01829.jpg"), mime: "image/jpeg" }, nsfwThreshold: score / 2 }, opts("e1")));
    expect(e.code).toBe("UNSAFE_CONTENT");
    expect(e.userMessage).toMatch(/can't save that photo.*explicit.*Nothing was kept/);
    expect(e.details).toMatchObject({ stage: "face" });
    // Just above its score the same photo is saved.
    const ok = await q.submit({ kind: "enrol", image: { bytes: face("franck_01829.jpg"), mime: "image/jpeg" }, nsfwThreshold: score * 2 }, opts("e2"));
    expect(ok.kind).toBe("enrol");
  });

  test("a reaction that crosses the threshold is refused before any face work; the result is checked too", async () => {
    const input = await unsafeOf(reaction.bytes);
    let e = await expectRejects(q.submit(meme({ nsfwThreshold: input / 2 }), opts("m1")));
    expect(e.code).toBe("UNSAFE_CONTENT");
    expect(e.details).toMatchObject({ stage: "input" });
    expect(e.userMessage).toMatch(/can't use that picture/);

    // The result is the astronaut's portrait wearing the expression: it scores higher than this reaction, so a
    // threshold between the two lets the input through and stops the output.
    const plain = (await q.submit(meme(), opts("m2"))) as ImageResult;
    const output = await unsafeOf(plain.bytes);
    expect(output, "precondition: the result scores above the reaction").toBeGreaterThan(input * 2);
    e = await expectRejects(q.submit(meme({ nsfwThreshold: Math.sqrt(input * output) }), opts("m3")));
    expect(e.code).toBe("UNSAFE_CONTENT");
    expect(e.details).toMatchObject({ stage: "output" });
    expect(e.userMessage).toMatch(/didn't send it/);
  });

  test("animations: sampled reaction frames and sampled result frames are checked", async () => {
    const input = await unsafeOf(reaction.bytes);
    const job = (nsfwThreshold: number): Job => ({ kind: "animated", animation: "morph", template, reaction, captions: {}, intensity: 1, mode: "mimic", byteBudget: 4 << 20, nsfwThreshold });
    let e = await expectRejects(q.submit(job(input / 2), opts("a1")));
    expect(e.details).toMatchObject({ stage: "input" });
    // The morph starts from the astronaut's portrait, which scores above the reaction.
    const portrait = await unsafeOf(template.cropPng);
    expect(portrait).toBeGreaterThan(input * 2);
    e = await expectRejects(q.submit(job(Math.sqrt(input * portrait)), opts("a2")));
    expect(e.code).toBe("UNSAFE_CONTENT");
    expect(e.details).toMatchObject({ stage: "output" });
  });

  test("the default threshold lets the same safe face, reaction, still and animation through", async () => {
    const r = await q.submit({ kind: "enrol", image: { bytes: face("franck_01829.jpg"), mime: "image/jpeg" }, nsfwThreshold: DEFAULT_NSFW_THRESHOLD }, opts("d1"));
    expect(r.kind).toBe("enrol");
    expect(((await q.submit(meme({ nsfwThreshold: DEFAULT_NSFW_THRESHOLD }), opts("d2"))) as ImageResult).mime).toBe("image/png");
    const gif = (await q.submit(
      { kind: "animated", animation: "morph", template, reaction, captions: {}, intensity: 1, mode: "mimic", byteBudget: 4 << 20, nsfwThreshold: DEFAULT_NSFW_THRESHOLD },
      opts("d3"),
    )) as ImageResult;
    expect(gif.mime).toBe("image/gif");
  });
});
