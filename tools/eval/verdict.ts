/**
 * Whether `npm run eval` passes. It fails when
 *  - a mode's transfer ratio misses issue 14's targets on any measure, read by either judge (ratio.ts);
 *  - a baseline does not score what it must ('template unchanged' about 0, 'landmark change applied to the
 *    template mesh' about 1): then the metric itself is broken and no figure can be trusted;
 *  - a judge finds no face in a template or a result, the engine refuses a template, pixels outside the face changed, or the result's identity
 *    (faceres cosine to the template, median per mode) drops below the accepted engine's;
 *  - a mode's results show the reaction's lips rather than the template's (tools/eval/lips.ts), by either judge.
 */
import type { LipRow } from "./lips.ts";
import { ratioMisses, RATIO_MEASURES, type RatioStats, type RatioMeasure } from "./ratio.ts";

/**
 * Median faceres cosine of the result to its template, per mode: the engine's as it stood when this metric
 * landed (figures in that commit's message and eval/REPORT.md), less 0.02 for the figure's wobble between runs.
 */
export const IDENTITY_FLOOR = { mimic: 0.89, swap: 0.66 } as const;
/**
 * "The lips keep the template's colour and thickness": the share of pairs (where the template's and the
 * reaction's lips differ beyond noise) whose result is nearer the template's lips than the reaction's.
 */
export const LIPS_NEARER = 0.9;
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
  /** Whose lips each mode's results show, per judge. */
  lips: LipRow[];
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
  for (const { label, summary } of f.lips) {
    for (const [what, fig] of [["tint", summary.tint], ["thickness", summary.thickness]] as const) {
      if (fig.counted > 0 && !(fig.nearer >= LIPS_NEARER)) failures.push(`${label}: lip ${what} nearer the template's in ${Math.round(100 * fig.nearer)} % of ${fig.counted} pairs, under ${100 * LIPS_NEARER} %`);
    }
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
