import { describe, expect, test } from "vitest";
import { FairScheduler, costInQuanta } from "../../src/queue/fair-scheduler.ts";

function drain(s: FairScheduler<string>): string[] {
  const out: string[] = [];
  for (let e = s.next(); e; e = s.next()) out.push(e.item);
  return out;
}

describe("FairScheduler (deficit round-robin)", () => {
  test("a busy server cannot starve a quiet one: lanes alternate", () => {
    const s = new FairScheduler<string>();
    for (let i = 0; i < 6; i++) s.push({ lane: "A", priority: 0, cost: 1, item: `A${i}` });
    s.push({ lane: "B", priority: 0, cost: 1, item: "B0" });
    s.push({ lane: "B", priority: 0, cost: 1, item: "B1" });
    expect(drain(s)).toEqual(["A0", "B0", "A1", "B1", "A2", "A3", "A4", "A5"]);
  });

  test("expensive jobs cost more turns: CPU time, not job count, is shared", () => {
    const s = new FairScheduler<string>();
    for (let i = 0; i < 3; i++) s.push({ lane: "gif", priority: 0, cost: 4, item: `G${i}` });
    for (let i = 0; i < 10; i++) s.push({ lane: "png", priority: 0, cost: 1, item: `P${i}` });
    const order = drain(s);
    // Before the second GIF starts, the PNG lane has had about as many quanta (4) as the first GIF.
    const secondGif = order.indexOf("G1");
    expect(order.slice(0, secondGif).filter((x) => x.startsWith("P")).length).toBeGreaterThanOrEqual(3);
    expect(order).toHaveLength(13);
  });

  test("strict priority classes, fairness inside each", () => {
    const s = new FairScheduler<string>();
    s.push({ lane: "A", priority: 2, cost: 1, item: "slow" });
    s.push({ lane: "A", priority: 0, cost: 1, item: "A-fast" });
    s.push({ lane: "B", priority: 0, cost: 1, item: "B-fast" });
    expect(drain(s)).toEqual(["A-fast", "B-fast", "slow"]);
  });

  test("order() predicts next() without consuming; remove() takes a waiting entry out", () => {
    const s = new FairScheduler<string>();
    const entries = ["A", "A", "B", "C"].map((lane, i) => ({ lane, priority: 0, cost: 1 + (i % 2), item: `${lane}${i}` }));
    entries.forEach((e) => s.push(e));
    expect(s.remove(entries[2])).toBe(true);
    expect(s.remove(entries[2])).toBe(false);
    const predicted = s.order().map((e) => e.item);
    expect(s.size).toBe(3);
    expect(drain(s)).toEqual(predicted);
  });

  test("costInQuanta is relative to the cheapest kind and at least 1", () => {
    expect(costInQuanta(150, 150)).toBe(1);
    expect(costInQuanta(1500, 150)).toBe(10);
    expect(costInQuanta(10, 150)).toBe(1);
  });
});
