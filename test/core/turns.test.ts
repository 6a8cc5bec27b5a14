import { describe, expect, it } from "vitest";
import { Turns } from "../../src/core/turns.ts";

describe("Turns", () => {
  it("gives one key's turns in order, keeps keys apart, and forgets an idle key", async () => {
    const turns = new Turns();
    const order: string[] = [];
    const first = await turns.take("a");
    const other = await turns.take("b");
    const second = turns.take("a").then((end) => (order.push("second"), end));
    const third = turns.take("a").then((end) => (order.push("third"), end));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    first();
    first(); // ending twice changes nothing
    const endSecond = await second;
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(["second"]);
    endSecond();
    (await third)();
    expect(order).toEqual(["second", "third"]);
    expect(turns.size).toBe(1);
    other();
    expect(turns.size).toBe(0);
  });
});
