import { describe, expect, it } from "vitest";
import { measureAckUnderLoad, summarise } from "./ack-load.ts";

/** Discord drops an interaction that is not acknowledged within 3 s ("The application did not respond"). */
const DISCORD_ACK_DEADLINE_MS = 3000;

describe("Discord acknowledgement under a full queue", () => {
  it("acknowledges every command within Discord's 3 s, shows queue positions, refuses the overflow as BUSY", async () => {
    // Each job holds the only worker for longer than Discord's deadline: an acknowledgement that waited
    // for any job (its own or one ahead of it) would miss the deadline, whatever the machine's speed.
    const r = await measureAckUnderLoad({ burst: 8, capacity: 2, jobMs: DISCORD_ACK_DEADLINE_MS + 200 });
    // Every interaction was acknowledged (deferReply reached the fake's callback route), in time.
    expect(r.burstAckMs).toHaveLength(r.burst);
    for (const ms of [...r.burstAckMs, ...r.idleAckMs]) expect(ms).toBeLessThan(DISCORD_ACK_DEADLINE_MS);
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
    // The figures themselves go to bench/README.md.
    console.log(
      `ack latency: idle p50 ${idle.p50.toFixed(1)} ms max ${idle.max.toFixed(1)} ms; ` +
        `burst of ${r.burst} /meme on a full queue (capacity ${r.capacity}) p50 ${busy.p50.toFixed(1)} ms p95 ${busy.p95.toFixed(1)} ms max ${busy.max.toFixed(1)} ms; ` +
        `(in the handler: p50 ${handler.p50.toFixed(1)} ms max ${handler.max.toFixed(1)} ms); ${r.outcomes.image} pictures, ${r.outcomes.busy} BUSY`,
    );
  });
});
