/**
 * The LivePortrait generator path on the CPU with stand-in models of the real tensor sizes (256² inputs,
 * 32×16×64×64 appearance features, 512² output; tools/generator/standins.ts): what each stage costs here,
 * and how much the pre- and post-processing (crop/align, keypoint maths, colour-matched paste-back) adds to
 * the networks. The stand-ins' networks are tiny, so their rows measure tensor handling and onnxruntime
 * overhead, not LivePortrait's compute (issue #19 has the real networks' CPU figures).
 *
 * Second table: an animated reaction's frames through one generator call, as the animated handler makes it,
 * with the files' batch dimension fixed at 1 (as FaceFusion publishes them: one onnxruntime call per frame)
 * and symbolic (frames share calls, up to MAX_BATCH): calls per animation, per-frame cost, and per-frame
 * pre/post-processing.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFaceAnalyzer } from "../src/pipeline/face/index.ts";
import { generatorTransfer, LivePortraitEngine } from "../src/pipeline/generator/index.ts";
import { MAX_BATCH } from "../src/pipeline/generator/engine.ts";
import type { AnalyzedFace, RgbImage } from "../src/pipeline/types.ts";
import { decodeImage } from "../src/pipeline/image/index.ts";
import { writeStandIns } from "../tools/generator/standins.ts";
import { ms, percentile, type BenchContext } from "./context.ts";

const ROUNDS = 20;
const STAGES = ["gen.crop", "gen.features", "gen.motion", "gen.keypoints", "gen.retarget", "gen.stitch", "gen.generate", "gen.paste"];
const PRE_POST = new Set(["gen.crop", "gen.keypoints", "gen.paste"]);
/** Frames of the animated runs: one full batch and two (the second table). */
const ANIMATION_FRAMES = [MAX_BATCH, 2 * MAX_BATCH];
const ANIMATION_ROUNDS = 5;

export async function run(_ctx: BenchContext): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "mimic-gen-bench-"));
  try {
    writeStandIns(join(dir, "models"));
    const photo = (f: string) => decodeImage(new Uint8Array(readFileSync(new URL(`../test/fixtures/faces/${f}`, import.meta.url))));
    const [template, reaction] = await Promise.all([photo("franck_01829.jpg"), photo("franck_04117.jpg")]);
    const analyzer = await createFaceAnalyzer({ provider: "cpu", threads: 2 });
    const [tFace] = (await analyzer.analyze(template)).faces;
    const [rFace] = (await analyzer.analyze(reaction)).faces;
    const second = await photo("franck_02221.jpg");
    const [sFace] = (await analyzer.analyze(second)).faces;
    await analyzer.dispose();
    const rows: string[] = [];
    for (const threads of [1, 2]) {
      // No file cache and a fresh engine per round set: "features" is the extractor's cost, not a cache hit.
      const engine = await LivePortraitEngine.load({ dir: join(dir, "models"), provider: "cpu", threads });
      const per: Record<string, number[]> = {};
      const totals: number[] = [];
      for (let i = 0; i < ROUNDS + 3; i++) {
        const t0 = performance.now();
        const r = await generatorTransfer(engine, {
          template,
          templateFace: tFace!,
          templateKey: `bench-${i}`,
          reactions: [{ image: reaction, face: rFace! }],
          intensity: 1,
        });
        if (i < 3) continue;
        totals.push(performance.now() - t0);
        for (const s of STAGES) (per[s] ??= []).push(r.timingsMs[s] ?? 0);
      }
      await engine.release();
      const med = (s: string) => percentile(per[s]!, 50);
      const pre = [...PRE_POST].reduce((a, s) => a + med(s), 0);
      rows.push(`| ${threads} | ${STAGES.map((s) => ms(med(s))).join(" | ")} | ${ms(pre)} | ${ms(percentile(totals, 50))} |`);
      process.stderr.write(`generator bench: ${threads} thread(s) done\n`);
    }
    // An animation: each frame its own picture and face (as a GIF's frames are analysed one by one), alternating two photos.
    const frameOf = (i: number) => (i % 2 === 0 ? { image: reaction, face: { ...rFace! } } : { image: second, face: { ...sFace! } });
    const animRows: string[] = [];
    for (const batch of [1, "batch"] as const) {
      const models = join(dir, `models-${batch}`);
      writeStandIns(models, { batch });
      const engine = await LivePortraitEngine.load({ dir: models, provider: "cpu", threads: 1 });
      for (const n of ANIMATION_FRAMES) {
        animRows.push(await animate(engine, template, tFace!, Array.from({ length: n }, (_, i) => frameOf(i)), batch));
        process.stderr.write(`generator bench: ${n} frames, batch ${batch} done\n`);
      }
      await engine.release();
    }
    return [
      `Template ${template.width}×${template.height}, one reaction, intensity 1, regions all; medians of ${ROUNDS} runs (3 warm-up) per thread count.`,
      "",
      `| ORT threads | ${STAGES.join(" | ")} | pre/post (crop + keypoints + paste) | total |`,
      `|---|${STAGES.map(() => "---").join("|")}|---|---|`,
      ...rows,
      "",
      `Animated reaction, one generator call per animation (1 ORT thread; frames alternate franck_04117 and franck_02221, each its own face); medians of ${ANIMATION_ROUNDS} runs (1 warm-up). "frames per call": frames per onnxruntime call of the generator network (the other networks batch the same way); per-frame figures are the call's totals divided by its frames.`,
      "",
      "| batch dimension | frames | generator calls | frames per call | total | per frame | networks per frame | pre/post per frame (crop + keypoints + paste) |",
      "|---|---|---|---|---|---|---|---|",
      ...animRows,
    ].join("\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NETWORKS = STAGES.filter((s) => !PRE_POST.has(s));

async function animate(
  engine: LivePortraitEngine,
  template: RgbImage,
  templateFace: AnalyzedFace,
  reactions: { image: RgbImage; face: AnalyzedFace }[],
  batch: 1 | "batch",
): Promise<string> {
  const totals: number[] = [];
  const nets: number[] = [];
  const prePost: number[] = [];
  let calls = 0;
  for (let i = 0; i < ANIMATION_ROUNDS + 1; i++) {
    const before = engine.runStats.generator.calls;
    const t0 = performance.now();
    // A fresh template key per round: the appearance features are computed, as for a template's first animation.
    const r = await generatorTransfer(engine, { template, templateFace, templateKey: `anim-${batch}-${reactions.length}-${i}`, reactions, intensity: 1 });
    if (i === 0) continue;
    totals.push(performance.now() - t0);
    calls = engine.runStats.generator.calls - before;
    nets.push(NETWORKS.reduce((a, s) => a + (r.timingsMs[s] ?? 0), 0));
    prePost.push([...PRE_POST].reduce((a, s) => a + (r.timingsMs[s] ?? 0), 0));
  }
  const n = reactions.length;
  const med = (xs: number[]) => percentile(xs, 50);
  return `| ${batch === 1 ? "1 (as published)" : `symbolic (≤ ${MAX_BATCH})`} | ${n} | ${calls} | ${(n / calls).toFixed(0)} | ${ms(med(totals))} | ${ms(med(totals) / n)} | ${ms(med(nets) / n)} | ${ms(med(prePost) / n)} |`;
}
