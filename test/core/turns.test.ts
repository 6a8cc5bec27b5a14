import { describe, expect, it } from "vitest";
import { Turns, TurnWaitTimeout } from "../../src/core/turns.ts";

/** One turn of the event loop: promises already settled have run their callbacks. */
const tick = () => new Promise((r) => setImmediate(r));

describe("Turns", () => {
  it("gives one key's turns in order, keeps keys apart, and forgets an idle key", async () => {
    const turns = new Turns();
    const order: string[] = [];
    const first = await turns.take("a");
    const other = await turns.take("b");
    const second = turns.take("a").then((end) => (order.push("second"), end));
    const third = turns.take("a").then((end) => (order.push("third"), end));
    await tick();
    expect(order).toEqual([]);
    first();
    first(); // ending twice changes nothing
    const endSecond = await second;
    await tick();
    expect(order).toEqual(["second"]);
    endSecond();
    (await third)();
    expect(order).toEqual(["second", "third"]);
    await tick();
    expect(turns.size).toBe(1);
    other();
    await tick();
    expect(turns.size).toBe(0);
  });
});

describe("Turns given up", () => {
  it("a wait that times out or is aborted lets those behind it go on, and throws its reason", async () => {
    const turns = new Turns();
    const first = await turns.take("a");
    const ac = new AbortController();
    const aborted = turns.take("a", { signal: ac.signal });
    const timedOut = turns.take("a", { timeoutMs: 20 });
    const patient = turns.take("a");
    ac.abort(new Error("hung up"));
    await expect(aborted).rejects.toThrow("hung up");
    await expect(timedOut).rejects.toBeInstanceOf(TurnWaitTimeout);
    let got = false;
    const waiting = patient.then((end) => ((got = true), end));
    await tick();
    // Still behind the first, which holds its turn.
    expect(got).toBe(false);
    first();
    (await waiting)();
    await tick();
    expect(turns.size).toBe(0);
  });

  it("the last waiter giving up does not let a later request past the one still holding its turn", async () => {
    const turns = new Turns();
    const holder = await turns.take("a");
    const ac = new AbortController();
    const gaveUp = turns.take("a", { signal: ac.signal });
    ac.abort(new Error("gone"));
    await expect(gaveUp).rejects.toThrow("gone");
    let later = false;
    const next = turns.take("a").then((end) => ((later = true), end));
    await tick();
    expect(later).toBe(false);
    holder();
    (await next)();
    await tick();
    expect(turns.size).toBe(0);
  });
});
