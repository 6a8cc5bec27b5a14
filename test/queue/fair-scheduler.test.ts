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

  test("exact turns: arrival order of lanes, removal anywhere, a cost equal to the deficit starts", () => {
    const s = new FairScheduler<string>();
    const e = ["A0", "A1", "B0", "C0"].map((item) => ({ lane: item[0], priority: 0, cost: 1, item }));
    e.forEach((x) => s.push(x));
    expect(s.order().map((x) => x.item)).toEqual(["A0", "B0", "C0", "A1"]);
    expect(s.size).toBe(4); // order() consumed nothing
    expect(s.remove(e[2])).toBe(true);
    expect(s.size).toBe(3);
    expect(s.order().map((x) => x.item)).toEqual(["A0", "C0", "A1"]);
    expect(s.next()!.item).toBe("A0");
    // Removing the last job of a lane drops the lane; the rotation goes on with the others.
    expect(s.remove(e[1])).toBe(true);
    expect(drain(s)).toEqual(["C0"]);
    expect(s.size).toBe(0);
    expect(s.next()).toBeUndefined();
    // Not waiting: unknown class, unknown lane, or an entry that is not in its lane.
    expect(s.remove({ lane: "Z", priority: 9, cost: 1, item: "z" })).toBe(false);
    s.push({ lane: "A", priority: 0, cost: 1, item: "a" });
    expect(s.remove({ lane: "A", priority: 0, cost: 1, item: "a" })).toBe(false);
    expect(s.size).toBe(1);

    // A cost-2 job starts on its lane's second turn (deficit 2), not its third.
    const c = new FairScheduler<string>();
    c.push({ lane: "A", priority: 0, cost: 2, item: "A0" });
    for (let i = 0; i < 3; i++) c.push({ lane: "B", priority: 0, cost: 1, item: `B${i}` });
    expect(drain(c)).toEqual(["B0", "A0", "B1", "B2"]);

    // Classes in priority order, whatever order they arrived in; removing the lane at the cursor.
    const p = new FairScheduler<string>();
    for (const prio of [5, 1, 3]) p.push({ lane: "A", priority: prio, cost: 1, item: `p${prio}` });
    expect(drain(p)).toEqual(["p1", "p3", "p5"]);
    const x = { lane: "A", priority: 0, cost: 1, item: "x" };
    p.push(x);
    p.push({ lane: "B", priority: 0, cost: 1, item: "y" });
    expect(p.remove(x)).toBe(true);
    expect(drain(p)).toEqual(["y"]);
  });

  test("turns after arrivals and cancellations: a new lane joins behind the lanes already waiting", () => {
    const job = (lane: string, item: string, cost = 1) => ({ lane, priority: 0, cost, item });
    // A lane just served waits for a lane that arrived after it.
    let s = new FairScheduler<string>();
    s.push(job("A", "a1"));
    s.push(job("A", "a2"));
    expect(s.next()?.item).toBe("a1");
    s.push(job("B", "b1"));
    expect(drain(s)).toEqual(["b1", "a2"]);

    // Removing one job of a two-job lane keeps the lane and its other job.
    s = new FairScheduler<string>();
    const x1 = job("X", "x1");
    s.push(x1);
    s.push(job("X", "x2"));
    s.push(job("Y", "y1"));
    expect(s.remove(x1)).toBe(true);
    expect(s.size).toBe(2);
    expect(drain(s)).toEqual(["x2", "y1"]);

    // A lane cancelled behind the cursor does not give the lane under it a second quantum.
    s = new FairScheduler<string>();
    const a1 = job("A", "a1", 2);
    s.push(a1);
    s.push(job("B", "b1"));
    s.push(job("B", "b2"));
    s.push(job("C", "c1"));
    expect(s.next()?.item).toBe("b1");
    expect(s.remove(a1)).toBe(true);
    expect(drain(s)).toEqual(["c1", "b2"]);

    // Mid-round, a new lane waits for every lane already waiting (C, A), and comes before the one just served (B).
    s = new FairScheduler<string>();
    for (const l of ["A", "B", "C"]) for (let i = 1; i <= 2; i++) s.push(job(l, `${l.toLowerCase()}${i}`));
    expect([s.next()?.item, s.next()?.item]).toEqual(["a1", "b1"]);
    s.push(job("D", "d1"));
    expect(drain(s)).toEqual(["c1", "a2", "d1", "b2", "c2"]);
  });

  test("costInQuanta is relative to the cheapest kind and at least 1", () => {
    expect(costInQuanta(150, 150)).toBe(1);
    expect(costInQuanta(1500, 150)).toBe(10);
    expect(costInQuanta(10, 150)).toBe(1);
  });
});
