/**
 * Caption rendering time for the longest captions allowed (MAX_CAPTION_CHARS user-perceived characters),
 * in the shapes that cost most: one unbreakable word (measured whole, then letter by letter), letters
 * carrying the most stacked marks kept (MAX_STACKED_MARKS), the 150 × 30-mark "zalgo" input of issue #15,
 * wide CJK and emoji, Thai with tone marks, and a 512×512 meme with top and bottom at the limit. Each round
 * uses fresh letters, so the token measurement cache never answers. Target: ≤ 1 s per caption.
 */
import { fitCaption, MAX_CAPTION_CHARS, prepareCaptions, renderMeme } from "../src/pipeline/render/index.ts";
import { MAX_STACKED_MARKS } from "../src/pipeline/render/text.ts";
import { ms, percentile, type BenchContext } from "./context.ts";

const ROUNDS = 8;
const BOX = { x: 20, y: 10, width: 472, height: 100 };
const pick = (alphabet: string, i: number) => [...alphabet][i % [...alphabet].length];
// Marks the bundled fonts draw (the renderer leaves out marks no font has, which would flatter the figure).
const MARKS = "\u0300\u0301\u0302\u0303\u0304\u0306\u0307\u0308\u030a\u030b\u030c";

function cases(round: number): Record<string, string> {
  const seed = round * 7919;
  const n = MAX_CAPTION_CHARS;
  const latin = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  return {
    "one 200-letter word": Array.from({ length: n }, (_, i) => pick(latin, seed + i * 3)).join(""),
    "200 letters × 4 stacked marks, one word": Array.from(
      { length: n },
      (_, i) => pick(latin, seed + i) + Array.from({ length: MAX_STACKED_MARKS }, (_, j) => pick(MARKS, seed + i + j)).join(""),
    ).join(""),
    "zalgo 150 letters × 30 marks (cut to 4)": Array.from(
      { length: 150 },
      (_, i) => pick("abcdefghij", seed + i) + Array.from({ length: 30 }, (_, j) => String.fromCharCode(0x300 + ((seed + i * 7 + j) % 0x6f))).join(""),
    ).join(""),
    "200 words of 1 letter": Array.from({ length: n / 2 }, (_, i) => pick(latin, seed + i)).join(" "),
    // Every gap between two of these is measured for its width (Fira's narrow space is widened).
    "200 words of 1 letter, Cyrillic and Greek": Array.from({ length: n / 2 }, (_, i) => pick("БГДЖЗИЛПФЦЧШЩЭЮЯΓΔΘΛΞΠΣΦΨΩ", seed + i * 5)).join(" "),
    "200 Chinese characters": Array.from({ length: n }, (_, i) => String.fromCodePoint(0x4e00 + ((seed + i * 13) % 2000))).join(""),
    "200 emoji": Array.from({ length: n }, (_, i) => String.fromCodePoint(0x1f600 + ((seed + i) % 64))).join(""),
    "200 Thai letters with tone marks": Array.from({ length: n }, (_, i) => String.fromCodePoint(0x0e01 + ((seed + i) % 40)) + "\u0e48").join(""),
  };
}

export async function run(ctx: BenchContext): Promise<string> {
  const samples = new Map<string, number[]>();
  const add = (k: string, v: number) => samples.set(k, [...(samples.get(k) ?? []), v]);
  await fitCaption("WARM UP", BOX); // fonts.conf, fontconfig's cache and the coverage table
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, text] of Object.entries(cases(r + 1))) {
      const t0 = performance.now();
      await fitCaption(text, BOX);
      add(name, performance.now() - t0);
    }
    const c = cases(r + 100);
    const img = { data: new Uint8Array(512 * 512 * 3).fill(90), width: 512, height: 512 };
    const t0 = performance.now();
    await renderMeme(img, prepareCaptions({ top: c["200 letters × 4 stacked marks, one word"], bottom: c["zalgo 150 letters × 30 marks (cut to 4)"] }).captions);
    add("512×512 meme, top and bottom both worst cases", performance.now() - t0);
    ctx.log(`round ${r + 1}/${ROUNDS}`);
  }
  const rows = [...samples].map(([k, v]) => `| ${k} | ${ms(percentile(v, 50))} | ${ms(Math.max(...v))} |`);
  const worst = Math.max(...[...samples].filter(([k]) => !k.startsWith("512")).flatMap(([, v]) => v));
  return [
    `Measured ${ctx.machine.date} on ${ctx.machine.cpu}, Node ${ctx.machine.node}, ${ROUNDS} rounds, fresh text each round (no cache hits).`,
    `1-minute load average at start ${ctx.machine.loadAtStart.toFixed(2)} on ${ctx.machine.cores} cores.`,
    `Caption box ${BOX.width}×${BOX.height} px (a 512 px meme's top box).`,
    "",
    "| caption | p50 ms | max ms |",
    "|---|---|---|",
    ...rows,
    "",
    `| target | measured | |`,
    `|---|---|---|`,
    `| longest allowed caption ≤ 1 s (slowest single caption) | ${ms(worst)} ms | ${worst <= 1000 ? "met" : "MISSED"} |`,
  ].join("\n");
}
