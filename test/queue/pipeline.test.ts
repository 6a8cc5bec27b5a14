/**
 * The real handlers (src/queue/handlers.ts) driven through the worker-thread pool: an enrol job
 * produces a template, a meme job made from it returns a PNG of the saved face wearing the reaction's
 * expression, and pipeline refusals come back as user-facing errors.
 */
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { encodeGif } from "../../src/pipeline/gif/index.ts";
import { decodeAnimation, decodeImage, resizeImage } from "../../src/pipeline/image/index.ts";
import { DIGITAL_SOURCE_TYPE, readMarks } from "../../src/pipeline/provenance/index.ts";
import { DEFAULT_HANDLERS } from "../../src/queue/index.ts";
import type { ImageResult, InferenceQueue } from "../../src/queue/jobs.ts";
import { createLocalQueue } from "../../src/queue/local.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { ONE_THREAD, expectRejects, isPng, recorder } from "./helpers.ts";

const face = (f: string) => new Uint8Array(readFileSync(new URL(`../fixtures/faces/${f}`, import.meta.url)));

describe("real pipeline handlers in worker threads", () => {
  let q: InferenceQueue & { ready(): Promise<void> };
  let template: EnrolledTemplate;
  beforeAll(async () => {
    q = createLocalQueue({ workers: 1, capacity: 10, perUserLimit: 1, jobTimeoutMs: 60_000, cheapFirst: false, handlersUrl: DEFAULT_HANDLERS, settings: ONE_THREAD });
    await q.ready();
  });
  afterAll(() => q.close({ drainMs: 0 }));

  test("enrol job: an aligned face template comes back from the worker thread", async () => {
    const r = await q.submit({ kind: "enrol", image: { bytes: face("franck_01829.jpg"), mime: "image/jpeg" } }, { requestId: "e1", userId: "u1", serverId: "s" });
    expect(r.kind).toBe("enrol");
    if (r.kind !== "enrol") return;
    template = r.face.data as EnrolledTemplate;
    expect(isPng(template.cropPng)).toBe(true);
    expect(template.landmarks).toBeInstanceOf(Float32Array);
    expect(template.landmarks).toHaveLength(468 * 3);
    expect(template.embedding).toBeInstanceOf(Float32Array);
  });

  test("meme job: the saved face wears the reaction's expression, as a PNG", async () => {
    expect(template).toBeDefined();
    const rec = recorder();
    const r = (await q.submit(
      { kind: "meme", template, reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" }, captions: {}, intensity: 1, mode: "mimic", byteBudget: 8 << 20 },
      { requestId: "m1", userId: "u1", serverId: "s", ...rec },
    )) as ImageResult;
    expect(r.mime).toBe("image/png");
    expect(isPng(r.bytes)).toBe(true);
    const meta = await sharp(r.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([r.width, r.height]);
    // The output differs from the stored crop: the expression was transferred.
    const [out, crop] = await Promise.all([sharp(r.bytes).raw().toBuffer(), sharp(template.cropPng).raw().toBuffer()]);
    expect(out.length).toBe(crop.length);
    let diff = 0;
    for (let i = 0; i < out.length; i++) diff += Math.abs(out[i] - crop[i]);
    expect(diff / out.length).toBeGreaterThan(0.5);
    expect(rec.events.map((e) => e.type)).toEqual(["started", "done"]);
    expect(r.notes).toBeUndefined();
  });

  test("meme job on a reaction with two faces: the largest is used, and the reply says so", async () => {
    // The laugh beside grace at half size: two faces, the laugh the larger.
    const laugh = sharp(face("franck_04117.jpg"));
    const { width = 0, height = 0 } = await laugh.metadata();
    const grace = await sharp(face("grace_hopper_512x512.jpg")).resize(256).toBuffer();
    const pair = await laugh.extend({ right: 300, background: "#808080" }).composite([{ input: grace, left: width + 20, top: Math.round((height - 256) / 2) }]).jpeg().toBuffer();
    const r = (await q.submit(
      { kind: "meme", template, reaction: { bytes: new Uint8Array(pair), mime: "image/jpeg" }, captions: {}, intensity: 1, mode: "mimic", byteBudget: 8 << 20 },
      { requestId: "m2", userId: "u1", serverId: "s" },
    )) as ImageResult;
    expect(isPng(r.bytes)).toBe(true);
    expect(r.notes).toEqual(["The reaction shows 2 faces; I used the largest."]);
  });

  test("a job the front door could not have built is refused in the worker, the field named in the log", async () => {
    const job = { kind: "meme", template, reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" }, captions: {}, intensity: 1, mode: "evil", byteBudget: 8 << 20 };
    const e = await expectRejects(q.submit(job as never, { requestId: "bad1", userId: "u1", serverId: "s" }));
    expect(e.code).toBe("INTERNAL");
    expect(e.message).toMatch(/^malformed job: mode: /);
    const extra = await expectRejects(q.submit({ ...job, mode: "mimic", colour: "red" } as never, { requestId: "bad2", userId: "u1", serverId: "s" }));
    expect(extra.message).toMatch(/malformed job: .*colour/);
  });

  test("meme job with captions: the caption is drawn onto the picture", async () => {
    const job = (captions: { top?: string; bottom?: string }) => ({
      kind: "meme" as const, template, reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" }, captions, intensity: 1, mode: "mimic" as const, byteBudget: 8 << 20,
    });
    const plain = (await q.submit(job({}), { requestId: "c1", userId: "u1", serverId: "s" })) as ImageResult;
    const captioned = (await q.submit(job({ bottom: "WHEN THE TESTS PASS" }), { requestId: "c2", userId: "u1", serverId: "s" })) as ImageResult;
    const [a, b] = await Promise.all([sharp(plain.bytes).raw().toBuffer(), sharp(captioned.bytes).raw().toBuffer()]);
    const w = plain.width * 3;
    const rowsDiff = (y0: number, y1: number) => {
      let d = 0;
      for (let i = y0 * w; i < y1 * w; i++) d += Math.abs(a[i] - b[i]);
      return d / ((y1 - y0) * w);
    };
    const h = plain.height;
    // The pool pointed fontconfig at the bundled caption fonts before starting its threads.
    expect(process.env.FONTCONFIG_FILE).toMatch(/mimic-fonts-/);
    // The bottom fifth changed (white outlined text), the top half did not.
    expect(rowsDiff(Math.floor(h * 0.8), h)).toBeGreaterThan(5);
    expect(rowsDiff(0, Math.floor(h / 2))).toBeLessThan(0.5);
  });

  test("captions as typed (keepCase): the worker draws the letters as typed, in the PNG and in every GIF frame", async () => {
    const reaction = { bytes: face("franck_04117.jpg"), mime: "image/jpeg" };
    const still = (captions: { bottom: string; keepCase?: boolean }) => ({ kind: "meme" as const, template, reaction, captions, intensity: 1, mode: "mimic" as const, byteBudget: 8 << 20 });
    const gif = (captions: { bottom: string; keepCase?: boolean }) => ({ ...still(captions), kind: "animated" as const, animation: "morph" as const, byteBudget: 4 << 20 });
    /** Every frame's pixels (a still is one), and their size. */
    const frames = async (b: Uint8Array) => {
      const { data, info } = await sharp(b, { pages: -1 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const h = (info as { pageHeight?: number }).pageHeight ?? info.height;
      const size = info.width * h * 3;
      return { w: info.width, h, px: Array.from({ length: data.length / size }, (_, i) => data.subarray(i * size, (i + 1) * size)) };
    };
    for (const job of [still, gif]) {
      const upper = await q.submit(job({ bottom: "lower case" }), { requestId: `k-${job.name}-0`, userId: "u1", serverId: "s" });
      const kept = await q.submit(job({ bottom: "lower case", keepCase: true }), { requestId: `k-${job.name}-1`, userId: "u1", serverId: "s" });
      const [a, b] = await Promise.all([frames((upper as ImageResult).bytes), frames((kept as ImageResult).bytes)]);
      expect(b.px.length, job.name).toBe(a.px.length);
      expect(a.px.length, job.name).toBeGreaterThanOrEqual(job === gif ? 4 : 1);
      a.px.forEach((pa, f) => {
        const pb = b.px[f]!;
        let bottom = 0;
        let rest = 0;
        for (let i = 0; i < pa.length; i += 3) {
          const d = Math.abs(pa[i] - pb[i]) + Math.abs(pa[i + 1] - pb[i + 1]) + Math.abs(pa[i + 2] - pb[i + 2]);
          if (d > 60) (i / 3 / a.w > a.h * 0.75 ? bottom++ : rest++);
        }
        // Other letters in the caption's strip of every frame, nothing else.
        expect(bottom, `${job.name} frame ${f}`).toBeGreaterThan(200);
        expect(rest / (a.w * a.h), `${job.name} frame ${f}`).toBeLessThan(0.002);
      });
    }
  });

  test("outputs carry the AI-edit marks; a server's visible mark is drawn in the corner of stills and of every GIF frame", async () => {
    const job = (visibleMark: boolean, animated: boolean) =>
      animated
        ? { kind: "animated" as const, animation: "morph" as const, template, reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" }, captions: {}, intensity: 1, mode: "mimic" as const, byteBudget: 4 << 20, visibleMark }
        : { kind: "meme" as const, template, reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" }, captions: {}, intensity: 1, mode: "mimic" as const, byteBudget: 8 << 20, visibleMark };
    for (const animated of [false, true]) {
      const plain = (await q.submit(job(false, animated), { requestId: `v${+animated}0`, userId: "u1", serverId: "s" })) as ImageResult;
      const marked = (await q.submit(job(true, animated), { requestId: `v${+animated}1`, userId: "u1", serverId: "s" })) as ImageResult;
      for (const r of [plain, marked]) expect(readMarks(r.bytes).digitalSourceType).toBe(DIGITAL_SOURCE_TYPE);
      // Last frame of each (a GIF decodes to stacked pages): only the bottom-right corner differs.
      const last = async (b: Uint8Array) => {
        const { data, info } = await sharp(b, { pages: -1 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        const h = (info as { pageHeight?: number }).pageHeight ?? info.height;
        return { px: data.subarray(data.length - info.width * h * 3), w: info.width, h };
      };
      const [a, b] = await Promise.all([last(plain.bytes), last(marked.bytes)]);
      let corner = 0;
      let rest = 0;
      for (let y = 0; y < a.h; y++) {
        for (let x = 0; x < a.w; x++) {
          const i = (y * a.w + x) * 3;
          const d = Math.abs(a.px[i] - b.px[i]) + Math.abs(a.px[i + 1] - b.px[i + 1]) + Math.abs(a.px[i + 2] - b.px[i + 2]);
          if (d > 60) (x > a.w * 0.6 && y > a.h * 0.85 ? corner++ : rest++);
        }
      }
      expect(corner, animated ? "gif" : "png").toBeGreaterThan(100);
      expect(rest / (a.w * a.h), animated ? "gif" : "png").toBeLessThan(0.002);
    }
  });

  test("animated job (morph): the saved face animates into the expression, as a looping GIF", async () => {
    const r = (await q.submit(
      { kind: "animated", animation: "morph", template, reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" }, captions: { top: "OH NO" }, intensity: 1, mode: "mimic", byteBudget: 4 << 20 },
      { requestId: "a1", userId: "u1", serverId: "s" },
    )) as ImageResult;
    expect(r.mime).toBe("image/gif");
    expect(String.fromCharCode(...r.bytes.subarray(0, 6))).toBe("GIF89a");
    expect(r.bytes.length).toBeLessThanOrEqual(4 << 20);
    const meta = await sharp(r.bytes, { animated: true }).metadata();
    expect(meta.pages).toBeGreaterThan(4);
    expect([meta.width, meta.pageHeight]).toEqual([r.width, r.height]);
  });

  test("animated job (reaction): an animated GIF reaction is followed frame by frame", async () => {
    const frames = await Promise.all(["franck_02221.jpg", "franck_04117.jpg", "franck_01829.jpg"].map((f) => decodeImage(face(f))));
    const gifIn = await encodeGif(frames.map((f) => resizeImage(f, 360, 288)), { delaysMs: 120 });
    const r = (await q.submit(
      { kind: "animated", animation: "reaction", template, reaction: { bytes: gifIn.bytes, mime: "image/gif" }, captions: {}, intensity: 1, mode: "mimic", byteBudget: 4 << 20 },
      { requestId: "a2", userId: "u1", serverId: "s" },
    )) as ImageResult;
    expect(r.mime).toBe("image/gif");
    const meta = await sharp(r.bytes, { animated: true }).metadata();
    expect(meta.pages).toBeGreaterThanOrEqual(2);
  });

  test("a still from an animation whose first frames show no face is made from the first frame that does, saying so", async () => {
    const laugh = resizeImage(await decodeImage(face("franck_04117.jpg")), 360, 288);
    const card = (hex: string) => ({ width: 360, height: 288, data: new Uint8Array(360 * 288 * 3).fill(Number.parseInt(hex, 16)) });
    const gifIn = await encodeGif([card("20"), card("e0"), laugh, laugh], { delaysMs: 150 });
    // The same laugh frame as the GIF shows it, sent on its own: the still must be made from exactly this.
    const shown = (await decodeAnimation(gifIn.bytes)).frames[2]!;
    const alone = new Uint8Array(await sharp(shown.data, { raw: { width: 360, height: 288, channels: 3 } }).png().toBuffer());
    const job = (bytes: Uint8Array, mime: string) => ({ kind: "meme" as const, template, reaction: { bytes, mime }, captions: {}, intensity: 1, mode: "mimic" as const, byteBudget: 8 << 20 });
    const fromGif = (await q.submit(job(gifIn.bytes, "image/gif"), { requestId: "f1", userId: "u1", serverId: "s" })) as ImageResult;
    const fromFrame = (await q.submit(job(alone, "image/png"), { requestId: "f2", userId: "u1", serverId: "s" })) as ImageResult;
    expect(fromGif.notes).toEqual(["The animation's first frame shows no face, so the still is made from its frame at 0.3 s."]);
    expect(fromFrame.notes).toBeUndefined();
    expect(Buffer.from(fromGif.bytes).equals(Buffer.from(fromFrame.bytes))).toBe(true);

    const morph = (await q.submit({ ...job(gifIn.bytes, "image/gif"), kind: "animated", animation: "morph", byteBudget: 4 << 20 }, { requestId: "f3", userId: "u1", serverId: "s" })) as ImageResult;
    expect(morph.mime).toBe("image/gif");
    expect(morph.notes).toEqual(["The animation's first frame shows no face, so the still is made from its frame at 0.3 s."]);

    const blankGif = await encodeGif([card("20"), card("e0"), card("80")], { delaysMs: 150 });
    const e = await expectRejects(q.submit(job(blankGif.bytes, "image/gif"), { requestId: "f4", userId: "u1", serverId: "s" }));
    expect(e.code).toBe("NO_FACE");
  });

  test("a small face is saved as its portrait frame; memes are that frame; older templates render as before with a note", async () => {
    const r = await q.submit({ kind: "enrol", image: { bytes: face("astronaut.png"), mime: "image/png" } }, { requestId: "e3", userId: "u1", serverId: "s" });
    if (r.kind !== "enrol") throw new Error("expected an enrolled face");
    expect(r.face.qualityNote).toMatch(/bigger photo gives a sharper result/);
    const portrait = r.face.data as EnrolledTemplate;
    const frame = await sharp(portrait.cropPng).metadata();
    expect(frame.width).not.toBe(frame.height); // the photo's own framing, not a square face crop
    const memeOf = async (t: EnrolledTemplate, id: string) =>
      (await q.submit(
        { kind: "meme", template: t, reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" }, captions: { bottom: "houston" }, intensity: 1, mode: "mimic", byteBudget: 8 << 20 },
        { requestId: id, userId: "u1", serverId: "s" },
      )) as ImageResult;
    const meme = await memeOf(portrait, "p1");
    expect([meme.width, meme.height]).toEqual([frame.width, frame.height]);
    expect(meme.notes).toBeUndefined();
    // A template from before portrait framing (no `framing` in its analysis) still makes a meme, with a note.
    const { framing: _framing, ...oldAnalysis } = portrait.analysis as Record<string, unknown>;
    const old = await memeOf({ ...portrait, analysis: { ...oldAnalysis, version: 1 } }, "p2");
    expect(old.mime).toBe("image/png");
    expect(old.notes?.join(" ")).toMatch(/save the face again/);
  });

  test("the saved template keeps its iris circles; memes use them, and older templates without them still work", async () => {
    const r = await q.submit({ kind: "enrol", image: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" } }, { requestId: "e2", userId: "u1", serverId: "s" });
    if (r.kind !== "enrol") throw new Error("expected an enrolled face");
    const squint = r.face.data as EnrolledTemplate;
    const irises = (squint.analysis as { irises?: number[] }).irises;
    expect(irises).toHaveLength(6);
    // Crop pixels: each iris centre sits on its eye (between the stored corners), right eye first.
    const lm = squint.landmarks;
    for (const [k, [outer, inner]] of [[33, 133], [263, 362]].entries()) {
      const ex = (lm[3 * outer] + lm[3 * inner]) / 2, ey = (lm[3 * outer + 1] + lm[3 * inner + 1]) / 2;
      const w = Math.hypot(lm[3 * inner] - lm[3 * outer], lm[3 * inner + 1] - lm[3 * outer + 1]);
      expect(Math.hypot(irises![3 * k] - ex, irises![3 * k + 1] - ey) / w).toBeLessThan(0.3);
      expect(irises![3 * k + 2] / w).toBeGreaterThan(0.15);
      expect(irises![3 * k + 2] / w).toBeLessThan(0.3);
    }
    // A wide-eyed reaction on a squinting face: the uncovered eyeball is drawn from the iris circles.
    const meme = async (t: EnrolledTemplate, id: string) => {
      const res = (await q.submit(
        { kind: "meme", template: t, reaction: { bytes: face("astronaut.png"), mime: "image/png" }, captions: {}, intensity: 1, mode: "mimic", byteBudget: 8 << 20 },
        { requestId: id, userId: `u-${id}`, serverId: "s" },
      )) as ImageResult;
      return sharp(res.bytes).raw().toBuffer();
    };
    const withoutIrises = (extra: Record<string, unknown>) => {
      const { irises: _dropped, ...rest } = squint.analysis as Record<string, unknown>;
      return { ...squint, analysis: { ...rest, ...extra } };
    };
    const [drawn, older, damaged] = await Promise.all([
      meme(squint, "i1"),
      meme(withoutIrises({}), "i2"),
      meme(withoutIrises({ irises: ["x", 1, 2] }), "i3"),
    ]);
    let changed = 0;
    for (let i = 0; i < drawn.length; i++) if (drawn[i] !== older[i]) changed++;
    expect(changed).toBeGreaterThan(50);
    expect(damaged.equals(older)).toBe(true);
  });

  test("a reaction without a face is refused with a message the user can act on", async () => {
    const blank = await sharp({ create: { width: 320, height: 240, channels: 3, background: "#7a9" } }).png().toBuffer();
    const e = await expectRejects(
      q.submit(
        { kind: "meme", template, reaction: { bytes: new Uint8Array(blank), mime: "image/png" }, captions: {}, intensity: 1, mode: "mimic", byteBudget: 8 << 20 },
        { requestId: "m2", userId: "u1", serverId: "s" },
      ),
    );
    expect(e.code).toBe("NO_FACE");
    expect(e.userMessage).toMatch(/No face found in the reaction image/);
  });

  test("a saved template that is not usable is reported, not crashed on", async () => {
    const e = await expectRejects(
      q.submit(
        { kind: "meme", template: { cropPng: new Uint8Array(4) }, reaction: { bytes: face("franck_04117.jpg"), mime: "image/jpeg" }, captions: {}, intensity: 1, mode: "mimic", byteBudget: 8 << 20 },
        { requestId: "m3", userId: "u1", serverId: "s" },
      ),
    );
    expect(e.code).toBe("NOT_FOUND");
  });
});
