import { describe, expect, it } from "vitest";
import { measureTelegramBurst } from "./telegram-burst.ts";

describe("Telegram burst over a full queue", () => {
  it("acknowledges and answers every request: a picture, or BUSY for the overflow, none lost", async () => {
    const r = await measureTelegramBurst({ burst: 12, users: 3, capacity: 2, jobMs: 300 });
    // Every request got its chat action first, then a reply to its own message (measureTelegramBurst waits for it).
    expect(r.ackMs).toHaveLength(r.burst);
    expect(r.answerMs).toHaveLength(r.burst);
    for (let i = 0; i < r.burst; i++) expect(r.ackMs[i]).toBeLessThanOrEqual(r.answerMs[i]);
    expect(r.outcomes.other).toEqual([]);
    expect(r.outcomes.image).toBeGreaterThanOrEqual(3); // one running + capacity waiting
    expect(r.outcomes.busy).toBe(r.burst - r.outcomes.image);
    expect(r.outcomes.busy).toBeGreaterThan(0);
  }, 120_000);
});
