/**
 * The queue's scheduling policy, shared by the in-process queue (local.ts) and the Redis queue (redis.ts and
 * its Lua): which class a job waits in and how long cheaper jobs may still overtake it (ageing), how many
 * workers expensive jobs may hold, how big a job is, how long a running job still has, and when a waiting
 * job is expected to start given that cheaper jobs arriving later may go ahead of it. Pure functions and
 * small data structures: no timers, no I/O.
 */
import { apngLayout, gifSize, webpSize } from "../pipeline/image/containers.ts";
import { STRICT_OFFSETS } from "./fair-scheduler.ts";
import { CHEAP_FIRST_PRIORITY, JOB_KINDS, type Job, type JobKind } from "./jobs.ts";

/**
 * With cheap-first, how long after a job of this kind arrived cheaper jobs arriving later may still go ahead
 * of it. Past that, it is served in arrival order with them: an animation waits at most this long for memes
 * sent after it (plus whatever was ahead of it then), however many keep coming.
 */
export const OVERTAKE_MS: Record<JobKind, number> = { meme: 0, enrol: 1000, animated: 5000 };

/** The scheduling class (priority number) of a job: an explicit one, else its kind's with cheap-first, else 0. */
export function classOf(kind: JobKind, cheapFirst: boolean, explicit?: number): number {
  return explicit ?? (cheapFirst ? CHEAP_FIRST_PRIORITY[kind] : 0);
}

/**
 * The class offsets (FairScheduler, and the Redis claim script): the cheap-first classes by their kinds'
 * OVERTAKE_MS; any other priority (a job that named its own) strictly before or after them.
 */
export function classOffsetMs(priority: number, cheapFirst: boolean): number {
  if (cheapFirst) for (const k of JOB_KINDS) if (CHEAP_FIRST_PRIORITY[k] === priority) return OVERTAKE_MS[k];
  return STRICT_OFFSETS(priority);
}

/** Animations take seconds where a meme takes a fraction of one: they may not hold every worker. */
export function isExpensive(kind: JobKind): boolean {
  return kind === "animated";
}

/**
 * How many expensive jobs may run at once on `workers` workers: with cheap-first, all but one when there are two
 * or more, so a meme never waits for a worker behind animations. Without cheap-first every job is in one class,
 * so neither queue can tell a worker's next job is cheap before it claims it (the Redis claim picks by class),
 * and a kept worker would only sit idle while animations wait: all run everything. One worker runs one job at a time.
 */
export function expensiveLimit(workers: number, cheapFirst: boolean): number {
  return cheapFirst && workers >= 2 ? workers - 1 : Math.max(1, workers);
}

/**
 * How many expensive jobs may run at once across several `mimic worker` processes, each of which keeps its own
 * processes by expensiveLimit: the sum of each one's limit, over the workers taking jobs (`slotsPerWorker`: each
 * live, non-draining worker's processes; one with none counts for nothing).
 */
export function expensiveCapacity(slotsPerWorker: number[], cheapFirst: boolean): number {
  return slotsPerWorker.reduce((sum, s) => sum + (s > 0 ? expensiveLimit(s, cheapFirst) : 0), 0);
}

/**
 * A job's size, where its input's container tells it without decoding: frames × megapixels of a GIF, an APNG
 * or an animated WebP that an animation is made from. Undefined for stills and videos (their kind's mean
 * service time is used).
 */
export function workUnits(job: Job): number | undefined {
  if (job.kind !== "animated") return undefined;
  const { bytes, mime } = job.reaction;
  // The containers' sizes without a record per frame: this runs on the bot's main thread.
  const size = mime === "image/gif" ? gifSize(bytes) : mime === "image/png" ? apngLayout(bytes) : mime === "image/webp" ? webpSize(bytes) : undefined;
  return size ? (size.frames * size.width * size.height) / 1e6 : undefined;
}

/**
 * How long a running job is still expected to take. A job past its estimate is not about to finish: it is
 * expected to run on at least a quarter of its estimate, and as long again as it has overrun it; never past
 * its timeout, when it is stopped.
 */
export function remainingMs(estimateMs: number, elapsedMs: number, timeoutMs = Infinity): number {
  const left = Math.max(estimateMs - elapsedMs, 0.25 * estimateMs, elapsedMs - estimateMs);
  return Math.max(0, Math.min(left, timeoutMs - elapsedMs));
}

/**
 * When a waiting job is expected to start (ms from now): `startMs` if nothing else arrived; but jobs arriving
 * for the next `overtakableMs` may go ahead of it, and they take `load` (0..1) of all workers' time. Its
 * wait grows by that share of itself while it can be overtaken, and by no more once it cannot.
 */
export function startWithOvertaking(startMs: number, overtakableMs: number, load: number): number {
  const rho = Math.min(0.9, Math.max(0, load));
  const window = Math.max(0, overtakableMs);
  const open = startMs / (1 - rho);
  return open <= window ? open : startMs + rho * window;
}

/**
 * Where a waiting job stands, given when it would start if nothing else arrived (`startMs`), how much longer
 * cheaper jobs may still go ahead of it (`overtakableMs`) and those jobs' arrivals (Arrivals.ahead): when it
 * is expected to start, and how many are expected to arrive and overtake it meanwhile (added to its place).
 */
export function standing(startMs: number, overtakableMs: number, ahead: { perMs: number; load: number }): { etaMs: number; overtakers: number } {
  const etaMs = startWithOvertaking(startMs, overtakableMs, ahead.load);
  return { etaMs, overtakers: Math.round(ahead.perMs * Math.min(Math.max(0, overtakableMs), etaMs)) };
}

/** What a waiting job's caller was last told ("queued" progress events). */
export interface Told {
  lastPosition?: number;
  lastEta?: number;
}

/**
 * The "queued" announcement a waiting job is due, if any, given where it stands now. A place once told is not
 * taken back: a cheaper job that overtakes (while it still may) shows in the ETA. Told again when its place
 * moves up, or when it will wait longer than it was told.
 */
export function nextAnnouncement(told: Told, position: number, etaMs: number): { position: number; etaSeconds: number } | undefined {
  const place = Math.min(position, told.lastPosition ?? Infinity);
  const eta = Math.ceil(etaMs / 1000);
  if (told.lastPosition === place && eta <= told.lastEta!) return undefined;
  return { position: place, etaSeconds: eta };
}

/** One of a user's jobs: running for `elapsedMs`, or waiting and expected to start in `startsInMs`; its expected service time. */
export type UserJob = { estimateMs: number } & ({ elapsedMs: number } | { startsInMs: number });

/**
 * How long until the first of a user's jobs is expected to finish, freeing a slot (ms): a running one's
 * remaining time (remainingMs, never past `timeoutMs`), a waiting one's start and its own time. Infinity for none.
 */
export function userWaitMs(jobs: UserJob[], timeoutMs: number): number {
  return Math.min(...jobs.map((j) => ("elapsedMs" in j ? remainingMs(j.estimateMs, j.elapsedMs, timeoutMs) : j.startsInMs + j.estimateMs)));
}

/** How far back arrivals count for the load of jobs that overtake others (a fresh process counts the time before it as quiet). */
const ARRIVAL_WINDOW_MS = 30_000;

/**
 * Recent arrivals (when, class offset, expected service time), for the share of the workers' time that jobs
 * able to overtake a waiting one take, and how many of them arrive per second.
 */
export class Arrivals {
  private seen: { at: number; offset: number; ms: number }[] = [];

  record(at: number, offset: number, ms: number): void {
    this.seen.push({ at, offset, ms });
    this.prune(at);
  }

  /** Jobs with a smaller class offset than `offset`: how many arrive per ms, and the share of `workers` workers they take (0..1). */
  ahead(offset: number, workers: number, now: number): { perMs: number; load: number } {
    this.prune(now);
    let n = 0;
    let ms = 0;
    for (const a of this.seen) if (a.offset < offset) (n += 1), (ms += a.ms);
    return { perMs: n / ARRIVAL_WINDOW_MS, load: ms / ARRIVAL_WINDOW_MS / Math.max(1, workers) };
  }

  private prune(now: number): void {
    let i = 0;
    while (i < this.seen.length && now - this.seen[i]!.at > ARRIVAL_WINDOW_MS) i++;
    if (i > 0) this.seen.splice(0, i);
  }
}

/** One running job, for the simulation: whether it is expensive and how long it still has (ms). */
export interface RunningJob {
  expensive: boolean;
  remainingMs: number;
}
/** One waiting job, in the scheduler's order: whether it is expensive and its expected service time (ms). */
export interface WaitingJob {
  expensive: boolean;
  estimateMs: number;
}

/**
 * When each waiting job would start (ms from now) if they started in the given order and nothing else
 * arrived, on `workers` workers of which expensive jobs may hold at most expensiveLimit(workers, cheapFirst): those run
 * on the "general" workers, cheap jobs on any (a meme behind an animation that must wait for a general worker
 * starts first on the kept one).
 */
export function simulateStarts(workers: number, cheapFirst: boolean, running: RunningJob[], waiting: WaitingJob[]): number[] {
  const n = Math.max(1, workers);
  const general = expensiveLimit(n, cheapFirst);
  // free[0 .. general-1]: workers expensive jobs may use; the rest are kept for cheap jobs.
  const free = Array.from({ length: n }, () => 0);
  const busy = Array.from({ length: n }, () => false);
  const place = (from: number, to: number, ms: number) => {
    for (let k = from; k < to; k++) if (!busy[k]) return ((busy[k] = true), (free[k] = ms), true);
    return false;
  };
  // Running expensive jobs on general workers; cheap ones on kept workers first.
  for (const r of running) if (r.expensive) place(0, n, r.remainingMs);
  for (const r of running) if (!r.expensive) place(general, n, r.remainingMs) || place(0, n, r.remainingMs);
  return waiting.map((w) => {
    const to = w.expensive ? general : n;
    let k = 0;
    for (let j = 1; j < to; j++) if (free[j]! < free[k]!) k = j;
    const start = free[k]!;
    free[k] = start + w.estimateMs;
    return start;
  });
}
