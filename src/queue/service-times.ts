import type { JobKind } from "./jobs.ts";

/**
 * Measured service time per job kind (exponentially weighted mean), seeded with rough priors so the
 * first ETAs are sensible. Feeds queue positions' ETAs, the "try again in ~N s" hint and the fair
 * scheduler's job costs.
 */
export const PRIOR_SERVICE_MS: Record<JobKind, number> = { enrol: 250, meme: 150, animated: 1500 };
const ALPHA = 0.2;

export class ServiceTimes {
  private mean: Record<JobKind, number>;

  constructor(priors: Partial<Record<JobKind, number>> = {}) {
    this.mean = { ...PRIOR_SERVICE_MS, ...priors };
  }

  record(kind: JobKind, ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return;
    this.mean[kind] = this.mean[kind] * (1 - ALPHA) + ms * ALPHA;
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
