/**
 * Whether `npm run eval` passes. It fails when
 *  - a mode's transfer ratio misses issue 14's targets on any measure, read by either judge (ratio.ts);
 *  - a baseline does not score what it must ('template unchanged' about 0, 'landmark change applied to the
 *    template mesh' about 1): then the metric itself is broken and no figure can be trusted;
 *  - a judge finds no face in a template or a result, the engine refuses a template, pixels outside the face changed, or the result's identity
 *    (faceres cosine to the template, median per mode) drops below the accepted engine's.
 */
import { ratioMisses, RATIO_MEASURES, type RatioStats, type RatioMeasure } from "./ratio.ts";

/**
 * Median faceres cosine of the result to its template, per mode: the engine's as it stood when this metric
 * landed (figures in that commit's message and eval/REPORT.md), less 0.02 for the figure's wobble between runs.
 */
export const IDENTITY_FLOOR = { mimic: 0.89, swap: 0.66 } as const;
/** How close a baseline's median must be to its expected score on every counted measure. */
export const BASELINE_TOLERANCE = { unchanged: 0.05, applied: 0.15 } as const;

export interface StatsRow {
  /** e.g. "mimic · analyzer". */
  label: string;
  stats: Record<RatioMeasure, RatioStats>;
}

export interface EvalFacts {
  /** The engine's ratios per mode and judge: each must meet the targets. */
  ratios: StatsRow[];
  baselines: { unchanged: StatsRow[]; applied: StatsRow[] };
  /** One line per picture that could not be scored: a judge found no face in it, or the engine refused it. */
  unscored: string[];
  outsideChanged: { pair: string; pixels: number }[];
  identity: { mode: keyof typeof IDENTITY_FLOOR; median: number }[];
}

export interface Verdict {
  ok: boolean;
  /** One line per reason the run fails. */
  failures: string[];
}

export function evalVerdict(f: EvalFacts, floor: Record<keyof typeof IDENTITY_FLOOR, number> = IDENTITY_FLOOR): Verdict {
  const failures: string[] = [];
  for (const b of f.baselines.unchanged) failures.push(...baselineProblems(b, 0, BASELINE_TOLERANCE.unchanged, "template unchanged"));
  for (const b of f.baselines.applied) failures.push(...baselineProblems(b, 1, BASELINE_TOLERANCE.applied, "landmark change applied"));
  for (const r of f.ratios) failures.push(...ratioMisses(r.label, r.stats));
  failures.push(...f.unscored);
  for (const o of f.outsideChanged) if (o.pixels > 0) failures.push(`${o.pair}: ${o.pixels} pixels outside the face changed`);
  for (const i of f.identity) {
    if (!(i.median >= floor[i.mode])) failures.push(`${i.mode}: median identity cosine ${i.median.toFixed(3)} below ${floor[i.mode]}`);
  }
  return { ok: failures.length === 0, failures };
}

function baselineProblems(b: StatsRow, want: number, tol: number, name: string): string[] {
  const out: string[] = [];
  for (const k of RATIO_MEASURES) {
    const s = b.stats[k];
    if (s.n > 0 && !(Math.abs(s.median - want) <= tol)) {
      out.push(`baseline '${name}' (${b.label}) scores ${s.median.toFixed(2)} on ${k}, not ${want}: the metric is broken`);
    }
  }
  return out;
}
