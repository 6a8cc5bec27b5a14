/**
 * The NSFW gate: cost per check (one 512² photo: resize to 224² + classifier; four sampled animation frames
 * in one batch) beside a face analysis of the same photo as the peer, and the false-positive rate of the
 * default threshold on every safe image with its variants (tools/eval/safe-images.ts).
 */
import { readFileSync } from "node:fs";
import { decodeImage } from "../src/pipeline/image/index.ts";
import { createFaceAnalyzer } from "../src/pipeline/face/index.ts";
import { DEFAULT_NSFW_THRESHOLD, NsfwClassifier } from "../src/pipeline/safety/nsfw.ts";
import { safeImages } from "../tools/eval/safe-images.ts";
import { ms, percentile, type BenchContext } from "./context.ts";

const ROUNDS = 30;

export async function run(_ctx: BenchContext): Promise<string> {
  const photo = await decodeImage(new Uint8Array(readFileSync(new URL("../test/fixtures/faces/grace_hopper_512x512.jpg", import.meta.url))));
  const rows: string[] = [];
  for (const threads of [1, 2]) {
    const classifier = await NsfwClassifier.load({ provider: "cpu", threads });
    const analyzer = await createFaceAnalyzer({ provider: "cpu", threads });
    const time = async (f: () => Promise<unknown>) => {
      for (let i = 0; i < 3; i++) await f();
      const t: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const t0 = performance.now();
        await f();
        t.push(performance.now() - t0);
      }
      return t;
    };
    const one = await time(() => classifier.classify([photo]));
    const four = await time(() => classifier.classify([photo, photo, photo, photo]));
    const face = await time(() => analyzer.analyze(photo));
    rows.push(
      `| ${threads} | ${ms(percentile(one, 50))} | ${ms(percentile(one, 95))} | ${ms(percentile(four, 50))} | ${ms(percentile(face, 50))} | ${(percentile(one, 50) / percentile(face, 50)).toFixed(2)} |`,
    );
    await classifier.release();
    await analyzer.dispose();
  }
  const classifier = await NsfwClassifier.load({ provider: "cpu", threads: 2 });
  let n = 0;
  let refused = 0;
  let worst = { name: "", unsafe: 0 };
  for await (const { name, image } of safeImages()) {
    const [s] = await classifier.classify([image]);
    n++;
    if (s.unsafe >= DEFAULT_NSFW_THRESHOLD) refused++;
    if (s.unsafe > worst.unsafe) worst = { name, unsafe: s.unsafe };
  }
  await classifier.release();
  return [
    "| ORT threads | one check p50 (ms) | p95 | 4 frames, one batch p50 | face analysis p50 (peer) | check / analysis |",
    "|---|---|---|---|---|---|",
    ...rows,
    "",
    `False positives of the default threshold (${DEFAULT_NSFW_THRESHOLD}): ${refused}/${n} safe images refused; highest unsafe score ${worst.unsafe.toFixed(4)} (${worst.name}).`,
  ].join("\n");
}
