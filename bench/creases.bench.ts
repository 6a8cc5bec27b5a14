/**
 * What an animated reaction's expression creases and lip colour cost (src/pipeline/transfer/creases.ts,
 * lip-colour.ts): one frame of franck's laugh transferred onto grace_hopper with his rest frame's picture (both
 * laid on) beside the same frame with his rest face only (the peer: the same geometry, neither), per mode, and the ratio.
 */
import { readFileSync } from "node:fs";
import { createFaceAnalyzer } from "../src/pipeline/face/index.ts";
import { decodeImage } from "../src/pipeline/image/index.ts";
import { transferExpression, type TransferMode } from "../src/pipeline/transfer/index.ts";
import { ms, percentile, type BenchContext } from "./context.ts";

const ROUNDS = 30;

export async function run(ctx: BenchContext): Promise<string> {
  const analyzer = await createFaceAnalyzer({ provider: "cpu", threads: 1 });
  const load = async (name: string) => {
    const image = await decodeImage(new Uint8Array(readFileSync(new URL(`../test/fixtures/faces/${name}`, import.meta.url))));
    return { image, face: (await analyzer.analyze(image)).faces[0]! };
  };
  const [user, rest, laugh] = [await load("grace_hopper_512x512.jpg"), await load("franck_01829.jpg"), await load("franck_04117.jpg")];
  await analyzer.dispose();
  const rows: string[] = [];
  for (const mode of ["mimic", "swap"] as TransferMode[]) {
    const frame = (withPicture: boolean) => () =>
      transferExpression({
        template: user.image,
        templateFace: user.face,
        reaction: laugh.image,
        reactionFace: laugh.face,
        reactionRest: rest.face.landmarks,
        reactionRestImage: withPicture ? rest.image : undefined,
        mode,
      });
    // Rounds alternate between the two, so a busy spell of the shared machine falls on both.
    for (let i = 0; i < 3; i++) frame(false)(), frame(true)();
    const peerMs: number[] = [], linedMs: number[] = [], creasesMs: number[] = [], lipsMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      let t0 = performance.now();
      frame(false)();
      peerMs.push(performance.now() - t0);
      t0 = performance.now();
      const r = frame(true)();
      linedMs.push(performance.now() - t0);
      creasesMs.push(r.timingsMs.creases ?? 0);
      lipsMs.push(r.timingsMs.lipColour ?? 0);
    }
    const peer = { total: percentile(peerMs, 50) };
    const lined = { total: percentile(linedMs, 50), creases: percentile(creasesMs, 50), lips: percentile(lipsMs, 50) };
    ctx.log(`${mode}: ${ms(peer.total)} → ${ms(lined.total)} ms`);
    rows.push(`| ${mode} | ${ms(peer.total)} | ${ms(lined.total)} | ${ms(lined.creases)} | ${ms(lined.lips)} | ${(lined.total / peer.total).toFixed(2)} |`);
  }
  return [
    `Machine: ${ctx.machine.summary}. One frame: franck_04117 (720 × 576) onto grace_hopper (512²), ${ROUNDS} rounds, p50.`,
    "",
    "| mode | rest face only (peer) ms | with the rest picture ms | of which creases ms | of which lip colour ms | ratio |",
    "|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
