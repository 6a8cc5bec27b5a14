import { JOB_KINDS, type JobKind } from "./jobs.ts";

/**
 * Measured service time per job kind (exponentially weighted mean), seeded with rough priors so the
 * first ETAs are sensible. Feeds queue positions' ETAs, the "try again in ~N s" hint and the fair
 * scheduler's job costs. Where a job's size is known (policy.ts, workUnits: frames × megapixels of an
 * animation's GIF, APNG or WebP), its estimate comes from a line fitted to the kind's measured jobs of
 * known size (ms = a + b × units), so a 150-frame GIF is not expected to take as long as a 10-frame one.
 *
 * The animated priors are measured (figures in bench/README.md, "Memes beside animations"): the first ETAs, before any worker has measured its own.
 */
export const PRIOR_SERVICE_MS: Record<JobKind, number> = { enrol: 250, meme: 150, animated: 3000 };
/** ms = a + b × units, for the kinds whose size is known (animations made from an animated picture). */
export const PRIOR_FIT: Partial<Record<JobKind, { a: number; b: number }>> = { animated: { a: 2000, b: 100 } };
const ALPHA = 0.2;
/** The fit's prior, as two pseudo-jobs at these sizes. */
const PRIOR_UNITS = [4, 60];

/** Weighted sums of a line fit: total weight, Σx, Σy, Σx², Σxy. */
type Sums = [number, number, number, number, number];

export class ServiceTimes {
  private mean: Record<JobKind, number>;
  /**
   * How many samples each mean stands for: a built-in prior one, a measured mean handed in (Redis mode's
   * shared figures) a full window. Until a window is full the mean is a plain average, so a fresh process's
   * rough prior gives way to the machine's real times within a few jobs instead of dozens.
   */
  private samples: Record<JobKind, number>;
  private fits: Partial<Record<JobKind, Sums>> = {};

  constructor(priors: Partial<Record<JobKind, number>> = {}, fits: Partial<Record<JobKind, { a: number; b: number }>> = {}) {
    this.mean = { ...PRIOR_SERVICE_MS, ...priors };
    this.samples = Object.fromEntries(JOB_KINDS.map((k) => [k, priors[k] === undefined ? 1 : 1 / ALPHA])) as Record<JobKind, number>;
    for (const k of JOB_KINDS) {
      const line = fits[k] ?? PRIOR_FIT[k];
      if (!line) continue;
      // A line handed in stands for a full window of jobs; the built-in one for one job at each of two sizes.
      const w = fits[k] ? 1 / ALPHA / 2 : 1;
      const s: Sums = [0, 0, 0, 0, 0];
      for (const x of PRIOR_UNITS) add(s, x, line.a + line.b * x, w);
      this.fits[k] = s;
    }
  }

  /** A finished job's time; `units` its size where known (see workUnits). */
  record(kind: JobKind, ms: number, units?: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return;
    const weight = Math.max(ALPHA, 1 / (this.samples[kind] + 1));
    this.mean[kind] += (ms - this.mean[kind]) * weight;
    this.samples[kind] += 1;
    const s = this.fits[kind];
    if (s && units !== undefined && units >= 0 && Number.isFinite(units)) {
      // Older jobs count less once a window's worth has come in; until then a plain fit.
      if (s[0] >= 1 / ALPHA) for (let i = 0; i < s.length; i++) s[i]! *= 1 - ALPHA;
      add(s, units, ms, 1);
    }
  }

  /** The kind's mean: for a job of unknown size. */
  estimate(kind: JobKind): number {
    return this.mean[kind];
  }

  /** A job's expected service time: from its size where known and the kind has a fit, else the kind's mean. */
  estimateJob(kind: JobKind, units?: number): number {
    const line = units === undefined ? undefined : this.line(kind);
    return line ? Math.max(1, line.a + line.b * units!) : this.mean[kind];
  }

  /** The fitted line of a kind whose size is known (undefined for the others). */
  line(kind: JobKind): { a: number; b: number } | undefined {
    const s = this.fits[kind];
    if (!s) return undefined;
    const [w, sx, sy, sxx, sxy] = s;
    const varX = sxx / w - (sx / w) ** 2;
    // All jobs of about one size: the slope stays the prior's, the line goes through their mean.
    let b = varX > 1e-6 ? (sxy / w - (sx / w) * (sy / w)) / varX : PRIOR_FIT[kind]!.b;
    b = Math.max(0, b);
    let a = sy / w - b * (sx / w);
    if (a < 0) {
      // A line through the origin fits better than one with a negative start.
      a = 0;
      b = sxx > 0 ? sxy / sxx : b;
    }
    return { a, b };
  }

  cheapest(): number {
    return Math.min(...Object.values(this.mean));
  }

  snapshot(): Record<JobKind, number> {
    return { enrol: Math.round(this.mean.enrol), meme: Math.round(this.mean.meme), animated: Math.round(this.mean.animated) };
  }
}

function add(s: Sums, x: number, y: number, w: number): void {
  s[0] += w;
  s[1] += w * x;
  s[2] += w * y;
  s[3] += w * x * x;
  s[4] += w * x * y;
}
