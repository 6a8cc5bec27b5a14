/**
 * `npx tsx bench/bots-burst.ts [--burst 200]`: the event-loop lag of a burst of /meme commands through the
 * real discord.js bot against the fake Discord (test/bots/ack-load.ts: real store, real queue, double
 * handlers that hold the worker 100 ms per job). The fake gateway and REST run in this process too, so
 * the lag includes their work: an upper bound for the bot's own.
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { measureAckUnderLoad, summarise } from "../test/bots/ack-load.ts";
import { lagMonitor } from "./http-load.ts";

const { values } = parseArgs({ options: { burst: { type: "string", default: "200" } } });
const burst = Number(values.burst);
const lag = lagMonitor();
const r = await measureAckUnderLoad({ burst, capacity: 4, jobMs: 100 });
const l = lag.stop();
const ack = summarise(r.burstAckMs);
process.stdout.write(
  [
    `Discord burst of ${burst} /meme, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${os.availableParallelism()} cores, load ${os.loadavg()[0].toFixed(2)}:`,
    `event-loop lag p50 / p99 / max (ms): ${l.p50.toFixed(1)} / ${l.p99.toFixed(1)} / ${l.max.toFixed(1)}; acknowledgement p50 / p95 / max (ms): ${ack.p50.toFixed(0)} / ${ack.p95.toFixed(0)} / ${ack.max.toFixed(0)}; ${r.outcomes.image} pictures, ${r.outcomes.busy} BUSY, ${r.outcomes.other.length} other`,
  ].join("\n") + "\n",
);
process.exit(0);
