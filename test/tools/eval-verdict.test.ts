import { describe, expect, it } from "vitest";
import { MISS_BUDGET, evalVerdict, type VerdictRow } from "../../tools/eval/verdict.ts";

/** `npm run eval`'s exit code: what fails the run. */

const row = (over: Partial<VerdictRow> = {}): VerdictRow => ({
  mode: "mimic",
  template: "a.jpg",
  reaction: "b.jpg",
  refound: true,
  expressionOk: true,
  identityOk: true,
  outsideChanged: 0,
  ...over,
});
const rows = (mode: VerdictRow["mode"], misses: number, total = 20) =>
  Array.from({ length: total }, (_, i) => row({ mode, reaction: `r${i}.jpg`, expressionOk: i >= misses }));

describe("eval verdict", () => {
  it("passes a clean run and runs at the miss budget", () => {
    expect(evalVerdict([...rows("mimic", 0), ...rows("swap", MISS_BUDGET.swap)])).toEqual({ ok: true, failures: [] });
  });

  it("fails on one expression miss more than the mode's budget", () => {
    const mimic = evalVerdict([...rows("mimic", 1), ...rows("swap", 0)]);
    expect(mimic).toEqual({ ok: false, failures: ["mimic: 1 expression misses, at most 0 allowed"] });
    const swap = evalVerdict([...rows("mimic", 0), ...rows("swap", MISS_BUDGET.swap + 1)]);
    expect(swap.ok).toBe(false);
    expect(swap.failures).toEqual([`swap: ${MISS_BUDGET.swap + 1} expression misses, at most ${MISS_BUDGET.swap} allowed`]);
  });

  it("fails when a result has no face to re-find, even within the miss budget", () => {
    const v = evalVerdict([row({ mode: "swap", refound: false, expressionOk: false, identityOk: null })]);
    expect(v.ok).toBe(false);
    expect(v.failures).toEqual(["swap a.jpg <- b.jpg: no face found in the result"]);
  });

  it("fails on a broken invariant", () => {
    expect(evalVerdict([row({ identityOk: false })]).failures).toEqual(["mimic a.jpg <- b.jpg: identity closer to the reaction"]);
    expect(evalVerdict([row({ outsideChanged: 3 })]).failures).toEqual(["mimic a.jpg <- b.jpg: 3 pixels outside the face changed"]);
    expect(evalVerdict([row({ identityOk: null })]).ok).toBe(true);
  });
});
