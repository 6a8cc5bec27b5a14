/**
 * The LivePortrait generator path on the CPU with stand-in models of the real tensor sizes (256² inputs,
 * 32×16×64×64 appearance features, 512² output; tools/generator/standins.ts): what each stage costs here,
 * and how much the pre- and post-processing (crop/align, keypoint maths, colour-matched paste-back) adds to
 * the networks. The stand-ins' networks are tiny, so their rows measure tensor handling and onnxruntime
 * overhead, not LivePortrait's compute (issue #19 has the real networks' CPU figures).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFaceAnalyzer } from "../src/pipeline/face/index.ts";
import { generatorTransfer, LivePortraitEngine } from "../src/pipeline/generator/index.ts";
import { decodeImage } from "../src/pipeline/image/index.ts";
import { writeStandIns } from "../tools/generator/standins.ts";
import { ms, percentile, type BenchContext } from "./context.ts";

const ROUNDS = 20;
const STAGES = ["gen.crop", "gen.features", "gen.motion", "gen.keypoints", "gen.retarget", "gen.stitch", "gen.generate", "gen.paste"];
const PRE_POST = new Set(["gen.crop", "gen.keypoints", "gen.paste"]);

export async function run(_ctx: BenchContext): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "mimic-gen-bench-"));
  try {
    writeStandIns(join(dir, "models"));
    const photo = (f: string) => decodeImage(new Uint8Array(readFileSync(new URL(`../test/fixtures/faces/${f}`, import.meta.url))));
    const [template, reaction] = await Promise.all([photo("franck_01829.jpg"), photo("franck_04117.jpg")]);
    const analyzer = await createFaceAnalyzer({ provider: "cpu", threads: 2 });
    const [tFace] = (await analyzer.analyze(template)).faces;
    const [rFace] = (await analyzer.analyze(reaction)).faces;
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
    return [
      `Template ${template.width}×${template.height}, one reaction, intensity 1, regions all; medians of ${ROUNDS} runs (3 warm-up) per thread count.`,
      "",
      `| ORT threads | ${STAGES.join(" | ")} | pre/post (crop + keypoints + paste) | total |`,
      `|---|${STAGES.map(() => "---").join("|")}|---|---|`,
      ...rows,
    ].join("\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
