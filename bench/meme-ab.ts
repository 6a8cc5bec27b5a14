/**
 * `npx tsx bench/meme-ab.ts DIR… [--rounds=N] [--mode=swap]`: the meme benchmark's full path (makeMeme, bytes →
 * captioned PNG; mimic unless `--mode=swap`) of several checkouts in ONE process, one meme of each per round,
 * the order rotating, so that a shared machine's load falls on all of them alike. DIR is a checkout of any
 * commit (e.g. `git archive <commit> | tar -x -C DIR`, then `ln -s $PWD/node_modules DIR/node_modules`); `.` is
 * this one. Reports per-stage p50/min, wall and CPU time (all threads) per meme, and each tree's paired ratio
 * against the first.
 */
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import sharp from "sharp";
import { ms, percentile } from "./context.ts";
import { CAPTIONS, memeInputs } from "./meme.ts";

const args = process.argv.slice(2);
const dirs = args.filter((a) => !a.startsWith("--"));
const rounds = Number(args.find((a) => a.startsWith("--rounds="))?.split("=")[1] ?? 60);
const mode = args.find((a) => a.startsWith("--mode="))?.split("=")[1] ?? "mimic";
if (dirs.length === 0 || (mode !== "mimic" && mode !== "swap")) {
  process.stderr.write("usage: npx tsx bench/meme-ab.ts DIR… [--rounds=N] [--mode=mimic|swap]\n");
  process.exit(2);
}
sharp.concurrency(1);
const load = (dir: string, rel: string) => import(pathToFileURL(path.resolve(dir, rel)).href);
const trees = await Promise.all(
  dirs.map(async (dir) => {
    const face = await load(dir, "src/pipeline/face/index.ts");
    const meme = await load(dir, "src/pipeline/transfer/meme.ts");
    return { name: path.basename(path.resolve(dir)), meme, analyzer: await face.createFaceAnalyzer({ provider: "cpu", threads: 1 }) };
  }),
);
const { templateBytes, reactionBytes } = await memeInputs();

const samples = trees.map(() => new Map<string, number[]>());
const bytes = trees.map(() => 0);
const loadAtStart = os.loadavg()[0];
const started = new Date().toISOString();
for (let r = -5; r < rounds; r++) {
  for (let j = 0; j < trees.length; j++) {
    const i = (j + r + 5) % trees.length;
    const c0 = process.cpuUsage();
    const out = await trees[i].meme.makeMeme(templateBytes, reactionBytes, { captions: CAPTIONS, mode }, trees[i].analyzer);
    const cpu = process.cpuUsage(c0);
    bytes[i] = out.png.length;
    if (r < 0) continue;
    const add = (k: string, v: number) => samples[i].set(k, [...(samples[i].get(k) ?? []), v]);
    for (const [k, v] of Object.entries(out.timingsMs as Record<string, number>)) if (!k.startsWith("transfer.")) add(k, v);
    add("cpu (all threads)", (cpu.user + cpu.system) / 1000);
  }
}
for (const t of trees) await t.analyzer.dispose();
const p50 = (v: number[]) => percentile(v, 50);
const f = ms;
const lines = [
  `Mode ${mode}. Started ${started}, 1-minute load ${loadAtStart.toFixed(2)} → ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} cores; ${rounds} rounds, one meme per tree each, order rotating.`,
  "",
  `| stage | ${trees.map((t) => `${t.name} p50 / min ms`).join(" | ")} |`,
  `|---|${trees.map(() => "---|").join("")}`,
  ...[...samples[0].keys()].map((k) => `| ${k} | ${samples.map((s) => `${f(p50(s.get(k)!))} / ${f(Math.min(...s.get(k)!))}`).join(" | ")} |`),
  `| PNG bytes | ${bytes.join(" | ")} |`,
  "",
  ...trees.slice(1).flatMap((t, j) =>
    ["total", "cpu (all threads)"].map((k) => {
      const a = samples[0].get(k)!;
      const b = samples[j + 1].get(k)!;
      return `${t.name} / ${trees[0].name}, ${k}: paired median ratio ${p50(b.map((v, n) => v / a[n])).toFixed(3)}, ratio of mins ${(Math.min(...b) / Math.min(...a)).toFixed(3)}`;
    }),
  ),
];
process.stdout.write(`${lines.join("\n")}\n`);
process.exit(0);
