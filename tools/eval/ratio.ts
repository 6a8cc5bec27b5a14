/**
 * The identity-free transfer ratio (issue 14): how much of a reaction's change from its own person's neutral
 * photo arrives on a neutral template,
 *
 *     ratio = (out − template) / (reaction − reaction's neutral)
 *
 * per expression measure. 1: the whole change arrived; 0: nothing moved. A measure counts only where the
 * reaction's change exceeds that measure's landmark noise floor (below it the denominator is noise). The
 * functions work on plain measure records, so any judge (the project's 468-point analyzer, a 68-point net)
 * can be scored the same way.
 */
import { fromLocal, localFrame, toLocal, type LocalFrame } from "../../src/pipeline/transfer/geometry.ts";

export const RATIO_MEASURES = ["mouthOpen", "cornerLift", "mouthWidth", "eyeOpenRight", "eyeOpenLeft", "browRight", "browLeft"] as const;
export type RatioMeasure = (typeof RATIO_MEASURES)[number];
export type Measures = Record<RatioMeasure, number>;

export interface RatioSample {
  template: Measures;
  /** The result of transferring the reaction onto the template. */
  out: Measures;
  reaction: Measures;
  /** The reaction person's own neutral photo. */
  neutral: Measures;
}

/** The ratio per measure, only for measures whose reaction change exceeds the floor (others are absent). */
export function transferRatios(s: RatioSample, floors: Measures): Partial<Measures> {
  const out: Partial<Measures> = {};
  for (const k of RATIO_MEASURES) {
    const change = s.reaction[k] - s.neutral[k];
    if (!(Math.abs(change) > floors[k])) continue;
    out[k] = (s.out[k] - s.template[k]) / change;
  }
  return out;
}

/** Linearly interpolated percentile (p in [0, 100]) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const v = [...values].sort((a, b) => a - b);
  const pos = ((v.length - 1) * p) / 100;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return v[lo]! + (v[hi]! - v[lo]!) * (pos - lo);
}

export interface RatioStats {
  /** Samples in which the measure counted (its reaction change exceeded the floor). */
  n: number;
  median: number;
  p10: number;
}

export function summarizeRatios(rows: readonly Partial<Measures>[]): Record<RatioMeasure, RatioStats> {
  const out = {} as Record<RatioMeasure, RatioStats>;
  for (const k of RATIO_MEASURES) {
    const v = rows.map((r) => r[k]).filter((x): x is number => x !== undefined && Number.isFinite(x));
    out[k] = { n: v.length, median: percentile(v, 50), p10: percentile(v, 10) };
  }
  return out;
}

/** Issue 14's targets: median within [0.8, 1.2] and 10th percentile ≥ 0.5 for every measure. */
export const RATIO_TARGET = { medianMin: 0.8, medianMax: 1.2, p10Min: 0.5 } as const;

/**
 * One line per missed target. A measure that never counted (n = 0) is a miss too: a set whose reactions never
 * move a measure cannot show that it transfers.
 */
export function ratioMisses(label: string, stats: Record<RatioMeasure, RatioStats>, target = RATIO_TARGET): string[] {
  const misses: string[] = [];
  for (const k of RATIO_MEASURES) {
    const s = stats[k];
    if (s.n === 0) {
      misses.push(`${label} ${k}: no reaction changes it beyond its noise floor`);
      continue;
    }
    if (!(s.median >= target.medianMin && s.median <= target.medianMax)) {
      misses.push(`${label} ${k}: median ratio ${s.median.toFixed(2)} outside [${target.medianMin}, ${target.medianMax}]`);
    }
    if (!(s.p10 >= target.p10Min)) misses.push(`${label} ${k}: 10th percentile ${s.p10.toFixed(2)} below ${target.p10Min}`);
  }
  return misses;
}

/**
 * Baseline "reaction's landmark change applied to the template mesh": the reaction's offset from its neutral,
 * each in its own face-local frame (inter-ocular units, pose removed), added to the template's mesh in the
 * template's frame. Its measures should score a ratio of about 1. `frame` builds the local frame of a mesh
 * (the 468-point one by default; a judge with other points passes its own).
 */
export function applyLandmarkChange(
  template: Float32Array,
  reaction: Float32Array,
  neutral: Float32Array,
  frame: (lm: Float32Array) => LocalFrame = localFrame,
): Float32Array {
  if (template.length !== reaction.length || template.length !== neutral.length) {
    throw new Error(`meshes differ in size (${template.length}, ${reaction.length}, ${neutral.length})`);
  }
  const tf = frame(template);
  const t = toLocal(tf, template), r = toLocal(frame(reaction), reaction), n = toLocal(frame(neutral), neutral);
  const moved = new Float64Array(t.length);
  for (let i = 0; i < t.length; i++) moved[i] = t[i]! + r[i]! - n[i]!;
  return fromLocal(tf, moved);
}
