// The quick first look (128-px BlazeFace "front") against the full search (256-px BlazeFace, tiles,
// turned views) it short-cuts: same faces and close landmarks where it is sure, the full search where not.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFaceAnalyzer, iou, type FaceAnalyzer } from "../../../src/pipeline/face/index.ts";
import { decodeImage, pasteImage, resizeImage, solidImage } from "../../../src/pipeline/image/index.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";

const FIXTURES = ["grace_hopper_512x512.jpg", "astronaut.png", "franck_01829.jpg", "franck_02221.jpg", "franck_04117.jpg"];
const load = (name: string) => decodeImage(new Uint8Array(readFileSync(new URL(`../../fixtures/faces/${name}`, import.meta.url))));

let analyzer: FaceAnalyzer;
const images = new Map<string, RgbImage>();

beforeAll(async () => {
  analyzer = await createFaceAnalyzer({ provider: "cpu", threads: 1, refine: false });
  for (const f of FIXTURES) images.set(f, await load(f));
});

afterAll(async () => {
  await analyzer?.dispose();
});

describe("quick first look (blazeface-front)", () => {
  it.each(FIXTURES)("%s: same face as the full search, landmarks within a few pixels", async (name) => {
    const img = images.get(name)!;
    const quick = await analyzer.detect(img);
    const full = await analyzer.detect(img, { quickDetect: false });
    expect(quick).toHaveLength(1);
    expect(full).toHaveLength(1);
    expect(quick[0].score).toBeGreaterThanOrEqual(0.75); // it ended the search, so it was sure
    expect(iou(quick[0].box, full[0].box)).toBeGreaterThan(0.7);
    // The mesh crop follows the detector box (5-12 % apart in size): measured 0.7-2.6 px mean shift on
    // faces of 100-340 px. A wrong anchor grid or input scale would move it by tens of pixels.
    const a = (await analyzer.analyze(img)).faces[0].landmarks;
    const b = (await analyzer.analyze(img, { quickDetect: false })).faces[0].landmarks;
    let sum = 0;
    for (let i = 0; i < 468; i++) sum += Math.hypot(a[3 * i] - b[3 * i], a[3 * i + 1] - b[3 * i + 1]);
    expect(sum / 468).toBeLessThan(4);
  });

  it("leaves a face it is not sure of to the full search (12 % of a 768-px photo)", async () => {
    const canvas = solidImage(768, 768, [128, 128, 128]);
    const side = Math.round((768 * 0.12) / 0.55); // Grace Hopper's face is ~55 % of her photo's side
    pasteImage(canvas, resizeImage(images.get("grace_hopper_512x512.jpg")!, side, side), 220, 300);
    const quick = await analyzer.detect(canvas);
    const full = await analyzer.detect(canvas, { quickDetect: false });
    expect(full).toHaveLength(1);
    // Identical to the full search's answer: the quick look found nothing sure and handed over.
    expect(quick).toEqual(full);
  });

  it("quickDetect: false still finds a small second face next to a large one (the quick look's known cost)", async () => {
    const canvas = solidImage(768, 512, [128, 128, 128]);
    pasteImage(canvas, resizeImage(images.get("grace_hopper_512x512.jpg")!, 420, 420), 10, 40);
    pasteImage(canvas, resizeImage(images.get("franck_04117.jpg")!, 123, 98), 500, 100); // face ~60 px
    expect((await analyzer.analyze(canvas, { quickDetect: false })).faces).toHaveLength(2);
    // The quick look is sure of the large face and stops: the small one is only found by the full search.
    expect((await analyzer.analyze(canvas)).faces).toHaveLength(1);
  });
});
