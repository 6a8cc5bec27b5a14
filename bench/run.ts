/**
 * `npm run bench [-- <name filter>…] [--write]`: runs the project's benchmarks one after another in this
 * process and prints each one's report (markdown). Results that matter are copied into bench/README.md
 * with the machine and date; `--write` lets a benchmark update its own section there (between its
 * `<!-- bench:NAME:begin -->` / `<!-- bench:NAME:end -->` markers), nothing else in the file.
 *
 * HOW TO ADD A BENCHMARK (either way works):
 *   1. name the module `bench/<name>.bench.ts`: it is picked up automatically, or
 *   2. add ONE line to BENCHMARKS below: `{ name: "<name>", module: "./<file>.ts" },`
 * The module must `export async function run(ctx: BenchContext): Promise<string>` returning its report
 * as markdown. Keep it a few minutes at most on the 2-core CI-sized machine; print progress to stderr.
 */
import { readdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { machineInfo, writeReadmeSection, type BenchContext } from "./context.ts";

const BENCHMARKS: { name: string; module: string }[] = [
  { name: "analysis", module: "./analysis.ts" },
  { name: "meme", module: "./meme.ts" },
  { name: "gif", module: "./gif.ts" },
  // one line per benchmark, e.g. { name: "render", module: "./render.ts" },
];

const benchDir = fileURLToPath(new URL(".", import.meta.url));

function discover(): { name: string; module: string }[] {
  const listed = new Set(BENCHMARKS.map((b) => b.module));
  const found = readdirSync(benchDir)
    .filter((f) => f.endsWith(".bench.ts"))
    .map((f) => ({ name: f.slice(0, -".bench.ts".length), module: `./${f}` }))
    .filter((b) => !listed.has(b.module));
  return [...BENCHMARKS, ...found];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const write = args.includes("--write");
  const filters = args.filter((a) => !a.startsWith("--"));
  const selected = discover().filter((b) => filters.length === 0 || filters.some((f) => b.name.includes(f)));
  if (selected.length === 0) {
    process.stderr.write(`bench: nothing matches ${filters.join(", ")}; known: ${discover().map((b) => b.name).join(", ")}\n`);
    process.exit(2);
  }
  const machine = machineInfo();
  process.stderr.write(`bench: ${machine.summary}\n`);
  let failed = 0;
  for (const b of selected) {
    process.stderr.write(`bench: running ${b.name}…\n`);
    const ctx: BenchContext = { name: b.name, machine, args, log: (m) => process.stderr.write(`  [${b.name}] ${m}\n`) };
    try {
      const mod = (await import(pathToFileURL(`${benchDir}${b.module.slice(2)}`).href)) as { run(ctx: BenchContext): Promise<string> };
      const report = await mod.run(ctx);
      process.stdout.write(`\n${report}\n`);
      if (write) writeReadmeSection(b.name, report);
    } catch (e) {
      failed++;
      process.stderr.write(`bench: ${b.name} failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    }
  }
  process.exit(failed ? 1 : 0);
}

await main();
