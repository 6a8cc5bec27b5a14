/**
 * Whether `npm run eval` passes. It fails on any broken invariant (identity closer to the reaction, pixels
 * outside the face changed), on any result in which no face is found again, and on more expression misses
 * than the mode's budget. The budgets are the misses of the accepted engine (eval/REPORT.md): mimic has
 * none, swap 3 of 20 (the reaction's own face shape limits how far its expression reads on yours); a
 * change that adds a miss fails the run.
 */
export const MISS_BUDGET = { mimic: 0, swap: 3 } as const;

export interface VerdictRow {
  mode: keyof typeof MISS_BUDGET;
  template: string;
  reaction: string;
  /** A face was found in the result (its expression and identity could be measured). */
  refound: boolean;
  expressionOk: boolean;
  identityOk: boolean | null;
  outsideChanged: number;
}

export interface Verdict {
  ok: boolean;
  /** One line per reason the run fails. */
  failures: string[];
}

export function evalVerdict(rows: VerdictRow[], budget: Record<keyof typeof MISS_BUDGET, number> = MISS_BUDGET): Verdict {
  const failures: string[] = [];
  const pair = (r: VerdictRow) => `${r.mode} ${r.template} <- ${r.reaction}`;
  for (const r of rows) {
    if (!r.refound) failures.push(`${pair(r)}: no face found in the result`);
    if (r.identityOk === false) failures.push(`${pair(r)}: identity closer to the reaction`);
    if (r.outsideChanged > 0) failures.push(`${pair(r)}: ${r.outsideChanged} pixels outside the face changed`);
  }
  for (const mode of Object.keys(budget) as (keyof typeof MISS_BUDGET)[]) {
    const misses = rows.filter((r) => r.mode === mode && r.refound && !r.expressionOk).length;
    if (misses > budget[mode]) failures.push(`${mode}: ${misses} expression misses, at most ${budget[mode]} allowed`);
  }
  return { ok: failures.length === 0, failures };
}
