/**
 * Discord acknowledgement latency while the inference queue is full (see test/bots/ack-load.ts):
 * a burst of /meme commands from the fake gateway to the real discord.js bot, one worker busy for
 * 2 s per job, queue capacity 4. Discord needs the acknowledgement within 3 s.
 */
import type { BenchContext } from "./context.ts";
import { measureAckUnderLoad, summarise } from "../test/bots/ack-load.ts";

export async function run(ctx: BenchContext): Promise<string> {
  const rows: string[] = [];
  for (const burst of [10, 40]) {
    ctx.log(`burst of ${burst}…`);
    const r = await measureAckUnderLoad({ burst, capacity: 4, jobMs: 2000 });
    const idle = summarise(r.idleAckMs);
    const b = summarise(r.burstAckMs);
    const h = summarise(r.burstHandlerAckMs);
    rows.push(
      `| ${burst} | ${idle.p50.toFixed(1)} | ${b.p50.toFixed(1)} | ${b.p95.toFixed(1)} | ${b.max.toFixed(1)} | ${h.p50.toFixed(1)} / ${h.max.toFixed(1)} | ${r.outcomes.image} | ${r.outcomes.busy} |`,
    );
  }
  return [
    `Machine: ${ctx.machine.summary}`,
    "",
    "| burst of /meme | idle ack p50 (ms) | burst ack p50 (ms) | p95 | max | in the handler p50 / max (ms) | pictures | BUSY |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
