import { JOB_KINDS, type JobKind } from "./jobs.ts";

/**
 * Measured service time per job kind (exponentially weighted mean), seeded with rough priors so the
 * first ETAs are sensible. Feeds queue positions' ETAs, the "try again in ~N s" hint and the fair
 * scheduler's job costs.
 */
export const PRIOR_SERVICE_MS: Record<JobKind, number> = { enrol: 250, meme: 150, animated: 1500 };
const ALPHA = 0.2;

export class ServiceTimes {
  private mean: Record<JobKind, number>;
  /**
   * How many samples each mean stands for: a built-in prior one, a measured mean handed in (Redis mode's
   * shared figures) a full window. Until a window is full the mean is a plain average, so a fresh process's
   * rough prior gives way to the machine's real times within a few jobs instead of dozens.
   */
  private samples: Record<JobKind, number>;

  constructor(priors: Partial<Record<JobKind, number>> = {}) {
    this.mean = { ...PRIOR_SERVICE_MS, ...priors };
    this.samples = Object.fromEntries(JOB_KINDS.map((k) => [k, priors[k] === undefined ? 1 : 1 / ALPHA])) as Record<JobKind, number>;
  }

  record(kind: JobKind, ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return;
    const weight = Math.max(ALPHA, 1 / (this.samples[kind] + 1));
    this.mean[kind] += (ms - this.mean[kind]) * weight;
    this.samples[kind] += 1;
  }

  estimate(kind: JobKind): number {
    return this.mean[kind];
  }

  cheapest(): number {
    return Math.min(...Object.values(this.mean));
  }

  snapshot(): Record<JobKind, number> {
    return { enrol: Math.round(this.mean.enrol), meme: Math.round(this.mean.meme), animated: Math.round(this.mean.animated) };
  }
}
