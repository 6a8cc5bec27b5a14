import { describe, expect, it } from "vitest";
import { identityTable, summarizeLikeness, type PairLikeness } from "../../tools/eval/identity.ts";

const pair = (cosT: number, cosR: number, distT: number, distR: number): PairLikeness => ({
  faceres: { toTemplate: cosT, toReaction: cosR },
  faceApi: { toTemplate: distT, toReaction: distR },
});

describe("identity summary (two judges)", () => {
  it("takes medians and shares over the pairs each judge read, in each judge's own direction", () => {
    const s = summarizeLikeness([
      pair(0.9, 0.3, 0.4, 0.9), // the user's face, both judges
      pair(0.7, 0.5, 0.7, 0.5), // faceres: nearer the user; face-api: nearer the reaction, not the same person
      pair(0.5, 0.6, 0.55, 0.8), // faceres: nearer the reaction; face-api: the user
      pair(NaN, NaN, NaN, NaN), // no face re-found
    ]);
    expect(s.pairs).toBe(4);
    expect(s.faceres.n).toBe(3);
    expect(s.faceres.median).toBeCloseTo(0.7, 9);
    expect(s.faceres.closer).toBeCloseTo(2 / 3, 9);
    expect(s.faceApi.n).toBe(3);
    expect(s.faceApi.median).toBeCloseTo(0.55, 9);
    expect(s.faceApi.same).toBeCloseTo(2 / 3, 9);
    expect(s.faceApi.closer).toBeCloseTo(2 / 3, 9);
  });

  it("scores the reaction handed back unchanged as nobody's but the reaction's person", () => {
    const s = summarizeLikeness([pair(0.2, 1, 0.9, 0), pair(0.3, 1, 0.8, 0)]);
    expect([s.faceres.closer, s.faceApi.closer, s.faceApi.same]).toEqual([0, 0, 0]);
    const [head, , row] = identityTable([{ label: "baseline", summary: s }]);
    expect(head).toContain("face-api takes it for the template's person (< 0.6)");
    expect(row).toBe("| baseline | 2 | 0.250 / 0.210 (2) | 0 % | 0.850 / 0.890 (2) | 0 % | 0 % |");
  });

  it("shows a dash where no judge read anything", () => {
    const [, , row] = identityTable([{ label: "none", summary: summarizeLikeness([]) }]);
    expect(row).toBe("| none | 0 | – / – (0) | – | – / – (0) | – | – |");
  });
});
