import { describe, expect, it } from "vitest";
import { measureAckUnderLoad, summarise } from "./ack-load.ts";

describe("Discord acknowledgement under a full queue", () => {
  it("acknowledges every command, shows queue positions, refuses the overflow as BUSY (latency printed)", async () => {
    const r = await measureAckUnderLoad({ burst: 12, capacity: 4, jobMs: 400 });
    // Every interaction was acknowledged (deferReply reached the fake's callback route).
    expect(r.burstAckMs.every((ms) => Number.isFinite(ms))).toBe(true);
    // One running + `capacity` waiting get their picture; the rest are told to come back later.
    expect(r.outcomes.other).toEqual([]);
    expect(r.outcomes.image).toBeGreaterThanOrEqual(r.capacity + 1);
    expect(r.outcomes.busy).toBe(r.burst - r.outcomes.image);
    expect(r.outcomes.busy).toBeGreaterThan(0);
    expect(Math.max(...r.positionsShown)).toBeGreaterThan(1);
    const idle = summarise(r.idleAckMs);
    const busy = summarise(r.burstAckMs);
    const handler = summarise(r.burstHandlerAckMs);
    expect(r.burstHandlerAckMs).toHaveLength(r.burst);
    // A measurement, not an assertion: printed for bench/README.md.
    console.log(
      `ack latency: idle p50 ${idle.p50.toFixed(1)} ms max ${idle.max.toFixed(1)} ms; ` +
        `burst of ${r.burst} /meme on a full queue (capacity ${r.capacity}) p50 ${busy.p50.toFixed(1)} ms p95 ${busy.p95.toFixed(1)} ms max ${busy.max.toFixed(1)} ms; ` +
        `(in the handler: p50 ${handler.p50.toFixed(1)} ms max ${handler.max.toFixed(1)} ms); ${r.outcomes.image} pictures, ${r.outcomes.busy} BUSY`,
    );
  });
});
