/**
 * The distributed queue (QUEUE_URL=redis://…). Bot processes enqueue; any number of `mimic worker`
 * processes consume. Same InferenceQueue interface and rules as the local queue.
 *
 * Design: BullMQ carries *tickets*, not jobs. Enqueueing atomically (Lua, redis-scripts.ts) checks
 * capacity and the user's limit and puts the job into its server's lane; then one BullMQ ticket is
 * added. A worker processing a ticket claims the next job by deficit round-robin (Lua) — so fairness
 * and priorities hold across all processes, although BullMQ OSS has no groups — and records the claim
 * under the ticket. BullMQ's lock + stalled-job detection do the rest: if a worker dies mid-job, its
 * ticket goes back to wait and the next worker resumes the *same* job from the claim. Results are
 * stored under an expiring key and announced on a pub/sub channel to the enqueuing process.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import { deserialize, serialize } from "node:v8";
import { DelayedError, Queue, WaitingError, Worker as BullWorker, type Job as BullJob } from "bullmq";
import { Redis } from "ioredis";
import { MimicError } from "../errors.ts";
import { logger } from "../logger.ts";
import { redactUrl } from "../redact-url.ts";
import { costInQuanta } from "./fair-scheduler.ts";
import {
  CHEAP_FIRST_PRIORITY,
  JOB_KINDS,
  requiredCapability,
  type InferenceQueue,
  type Job,
  type JobKind,
  type JobResult,
  type ProgressEvent,
  type QueueStats,
  type SubmitOptions,
} from "./jobs.ts";
import type { QueueOptions } from "./local.ts";
import { poolOptions, WorkerPool, type Seat } from "./pool.ts";
import { ABANDON, CANCEL_WAITING, CLAIM, ENQUEUE, FINISH, GENERATOR_PRIORITY_SHIFT, POSITIONS, STATS } from "./redis-scripts.ts";
import { deploymentChecks, jobSettings, MIMIC_VERSION, type WorkerAdvert } from "./redis-deployment.ts";
import { abortError, cancelled, noCapableWorker, noWorkers, queueFull, shuttingDown, timedOut, userLimit } from "./refusals.ts";
import { ServiceTimes } from "./service-times.ts";
import {
  Arrivals,
  classOf,
  classOffsetMs,
  expensiveCapacity,
  expensiveLimit,
  isExpensive,
  nextAnnouncement,
  standing,
  userWaitMs,
  workUnits,
  type UserJob,
} from "./policy.ts";
import { fromWireError, toWireError, type WireError } from "./wire.ts";

export interface RedisQueueOptions extends QueueOptions {
  url: string;
  /** Key prefix; every process of one deployment uses the same. */
  prefix: string;
  resultTtlSeconds: number;
  /** Largest serialised job accepted into Redis. */
  maxPayloadBytes: number;
  /** A job still waiting after this long is given up (TIMEOUT), e.g. when the workers are all busy. Default 10 min. */
  maxWaitMs?: number;
  /**
   * With no live worker (no unexpired heartbeat in P:workers), how long after the last one was seen new jobs
   * are still taken and waiting jobs keep waiting: a worker restarting comes back within it. Past it, new jobs
   * are refused at once and waiting ones are refused ("No Mimic worker is running"), and readiness fails.
   * Default 30 s (QUEUE_NO_WORKER_GRACE_MS). `Infinity` (`off`): jobs wait for a worker to come (up to
   * maxWaitMs), as with workers scaled to zero and started on queue depth; readiness then passes without one.
   */
  noWorkerGraceMs?: number;
  /**
   * Which store (database) this front end uses, without credentials: published under the prefix so that front
   * ends sharing a QUEUE_PREFIX but not a store are warned about (their users' faces and quotas would differ).
   */
  storeIdentity?: string;
}

export interface RedisWorkerOptions extends QueueOptions {
  url: string;
  prefix: string;
  resultTtlSeconds: number;
  /** BullMQ lock duration: how soon a dead worker's job is retried elsewhere. */
  stallMs: number;
}

type Outcome = { ok: true; result: JobResult } | { ok: false; error: WireError };
type QueueEvent = { id: string; type: "started" | "done" | "failed"; worker?: string };

const TICKETS = "tickets";
/** Tickets of generator jobs: only workers whose models loaded take them. */
const GENERATOR_TICKETS = "tickets-liveportrait";
/** The ticket queue of each kind of job. */
const TICKET_QUEUE = { mesh: TICKETS, liveportrait: GENERATOR_TICKETS } as const;
/** The claim script's priority range per ticket kind: mesh jobs below the shift, generator jobs from it. */
const CLAIM_RANGE = { mesh: ["-inf", `(${GENERATOR_PRIORITY_SHIFT}`], liveportrait: [String(GENERATOR_PRIORITY_SHIFT), "+inf"] } as const;
/**
 * The same ranges without the animations' class (cheap-first): what a worker claims while animations hold all
 * the processes they may (policy.ts, expensiveLimit), so its last one is kept for cheap jobs.
 */
const CHEAP_RANGE = {
  mesh: ["-inf", `(${CHEAP_FIRST_PRIORITY.animated}`],
  liveportrait: [String(GENERATOR_PRIORITY_SHIFT), `(${GENERATOR_PRIORITY_SHIFT + CHEAP_FIRST_PRIORITY.animated}`],
} as const;
/** How long a ticket whose job only a process kept for cheap jobs was free for waits before it is tried again. */
const HELD_BACK_MS = 250;
const DM_LANE = "~dm";
const DEFAULT_MAX_WAIT_MS = 10 * 60_000;
/** A worker's heartbeat (every 3 s) keeps it registered for this long. */
const HEARTBEAT_TTL_MS = 10_000;
/**
 * How long a deployment may be without a live worker before users are told so. Long enough for a worker to
 * restart (a deploy: SIGTERM, drain, start, models load; a crashed one counts as live until its heartbeat
 * expires, up to 10 s, and the grace runs from then), short enough that nobody watches "position 1, ETA 0 s"
 * for the 10-minute wait limit when no worker will come (all stopped, or started with another QUEUE_PREFIX).
 */
const DEFAULT_NO_WORKER_GRACE_MS = 30_000;

/**
 * How long a bot's command waits for Redis's answer. A Redis that stopped answering but keeps its connections
 * open (a stopped server, a network partition) never closes them, so without a bound a user would get no answer.
 */
const COMMAND_TIMEOUT_MS = 3000;

/**
 * BullMQ needs maxRetriesPerRequest: null (wait for the connection however long) on its blocking connections.
 * A bot's commands (`failFast`) give up after two reconnection attempts, or when Redis does not answer within
 * COMMAND_TIMEOUT_MS: a user is told the queue is unreachable rather than left waiting for a Redis that may not come back.
 */
function connect(url: string, failFast = false): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: failFast ? 2 : null, enableReadyCheck: true, ...(failFast ? { commandTimeout: COMMAND_TIMEOUT_MS } : {}) });
  r.on("error", (err) => {
    // ioredis selects QUEUE_URL's database after (re)connecting and, refused, goes on in database 0: start-up
    // refuses that (checkRedisReachable); a Redis restarted since with fewer databases is at least said plainly.
    if (/DB index is out of range/i.test(err.message)) {
      logger.error({ err: err.message, db: r.options.db, url: redactUrl(url) }, `Redis has no database ${r.options.db} (QUEUE_URL): this connection is using database 0 instead; fix QUEUE_URL or Redis's "databases" setting and restart`);
    } else logger.warn({ err: err.message }, "redis connection error");
  });
  return r;
}

/** How long start-up waits for Redis to answer before it refuses to start. */
const REACH_TIMEOUT_MS = 10_000;
/** The longest one Redis step of closing waits (a cancel, the ticket queues' close, QUIT). */
const CLOSE_STEP_MS = 2000;

/**
 * Start-up's check that Redis answers at `url` (one connection, one PING, no retries): a bot or worker that
 * started without it would print "running" and then leave every request unanswered.
 */
export async function checkRedisReachable(url: string, timeoutMs = REACH_TIMEOUT_MS): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  // The socket's error (ECONNREFUSED, ENOTFOUND) says more than the "Connection is closed" connect() rejects with.
  let socketError: Error | undefined;
  probe.on("error", (err: Error) => (socketError ??= err));
  try {
    await probe.connect();
    await probe.ping();
  } catch (cause) {
    probe.disconnect();
    throw unreachable(url, socketError, cause);
  }
  try {
    await checkDatabase(probe, url);
  } finally {
    probe.disconnect();
  }
}

function unreachable(url: string, socketError: Error | undefined, cause: unknown): MimicError {
  const why = (socketError ?? (cause instanceof Error ? cause : new Error(String(cause)))).message.replace(/\.$/, "");
  return new MimicError(
    "CONFIG",
    `Could not reach Redis at ${redactUrl(url)} (QUEUE_URL): ${why}. Start Redis, correct QUEUE_URL, or leave it unset to run the queue in this process.`,
    { cause },
  );
}

/**
 * The database QUEUE_URL names must exist: ioredis selects it after connecting and, when the server has no such
 * database ("ERR DB index is out of range"), only emits an error and goes on in database 0, where this
 * deployment would then mix its keys with whatever else lives there. Selecting it here makes that a refusal.
 */
async function checkDatabase(probe: Redis, url: string): Promise<void> {
  const db = Number(probe.options.db ?? 0);
  if (!db) return;
  try {
    await probe.select(db);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    // CONFIG may be renamed or forbidden (managed Redis): the refusal stands without the count.
    const count = await probe
      .config("GET", "databases")
      .then((r) => Number((r as string[])[1]))
      .catch(() => NaN);
    const has = Number.isInteger(count) && count > 0 ? `it has ${count} (numbered 0 to ${count - 1})` : `it answered "${why}"`;
    throw new MimicError(
      "CONFIG",
      `Redis at ${redactUrl(url)} (QUEUE_URL) has no database ${db}: ${has}. Correct the database number at the end of QUEUE_URL, or raise "databases" in the Redis server's configuration.`,
      { cause },
    );
  }
}

/** Refused while the connection to Redis is down: a job enqueued now would wait unseen until it returns. */
/** A waiting job Redis no longer holds: it restarted without its data (no persistence), and nobody will run it. */
function lostInQueue(): MimicError {
  return new MimicError("BUSY", "Mimic's job queue restarted and lost your request. Please send it again.", { details: { reason: "queue-lost" } });
}

function queueUnreachable(cause?: unknown): MimicError {
  return new MimicError("BUSY", "Mimic cannot reach its job queue right now. Please try again in a minute.", {
    cause,
    retryAfterSeconds: 60,
    details: { reason: "queue-unreachable" },
  });
}

/** How long a submission waits for a connection that is (re)connecting before it is refused. */
const CONNECT_GRACE_MS = 2000;

/** Whether `r` is connected, waiting up to `ms` for it to (re)connect. */
async function connected(r: Redis, ms: number): Promise<boolean> {
  if (r.status === "ready") return true;
  let timer: NodeJS.Timeout | undefined;
  let onReady: (() => void) | undefined;
  const ok = await new Promise<boolean>((resolve) => {
    onReady = () => resolve(true);
    r.once("ready", onReady);
    timer = setTimeout(() => resolve(false), ms);
  });
  clearTimeout(timer);
  r.off("ready", onReady!);
  return ok;
}

/** A Redis call whose failure (the connection gave up) reaches the user as "cannot reach its job queue". */
const viaRedis = <T>(call: Promise<T>): Promise<T> =>
  call.catch((cause: unknown) => {
    throw cause instanceof MimicError ? cause : queueUnreachable(cause);
  });

/** Waits for `work` at most `ms`: closing must not hang on a connection that is gone. */
async function atMost(ms: number, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/**
 * Fire-and-forget Redis calls (clean-ups, notifications) may fail when the connection drops or the queue
 * closes while they are in flight; that must never surface as an unhandled rejection.
 */
function bestEffort(p: Promise<unknown>, what: string): void {
  p.catch((err: unknown) => logger.debug({ err: err instanceof Error ? err.message : String(err) }, what));
}

function defineScripts(r: Redis) {
  const scripts = { mimicEnqueue: ENQUEUE, mimicClaim: CLAIM, mimicCancel: CANCEL_WAITING, mimicFinish: FINISH, mimicPositions: POSITIONS, mimicAbandon: ABANDON, mimicStats: STATS };
  for (const [name, lua] of Object.entries(scripts)) r.defineCommand(name, { numberOfKeys: 0, lua });
  return r as Redis & Record<keyof typeof scripts, (...args: (string | number | Buffer)[]) => Promise<unknown>>;
}

/** Measured service times shared by all workers (hash P:svc), read by producers for ETAs and costs. */
async function readServiceTimes(r: Redis, P: string): Promise<ServiceTimes> {
  const raw = await r.hgetall(`${P}:svc`);
  const priors: Partial<Record<JobKind, number>> = {};
  const fits: Partial<Record<JobKind, { a: number; b: number }>> = {};
  for (const k of JOB_KINDS) {
    if (raw[k] && Number(raw[k]) > 0) priors[k] = Number(raw[k]);
    const [a, b] = (raw[`${k}:fit`] ?? "").split(",").map(Number);
    if (a! >= 0 && b! >= 0) fits[k] = { a: a!, b: b! };
  }
  return new ServiceTimes(priors, fits);
}

/** Shares a worker's measured figures of one kind (its mean, and its size fit where it has one) with every process. */
function shareServiceTime(r: Redis, P: string, times: ServiceTimes, kind: JobKind): Promise<unknown> {
  const line = times.line(kind);
  return r.hset(`${P}:svc`, kind, Math.round(times.estimate(kind)), ...(line ? [`${kind}:fit`, `${Math.round(line.a)},${line.b.toFixed(3)}`] : []));
}

/** A live worker: what it advertises (version, settings, capabilities: redis-deployment.ts), its slots and state. */
interface LiveWorker extends WorkerAdvert {
  /** Its job processes offered (0 while draining): it keeps its own for cheap jobs (policy.ts, expensiveLimit). */
  slots: number;
  /** Stopping: finishing its running jobs, taking no new ones. */
  draining: boolean;
}

interface Workers {
  /** Live worker processes (unexpired heartbeats) and their worker threads, busy ones and capabilities. */
  live: number;
  each: LiveWorker[];
  slots: number;
  running: number;
  capabilities: Set<string>;
  /** When a worker was last known alive (epoch ms; now while one is), -Infinity when none is registered. */
  lastSeen: number;
}

/**
 * Live worker processes register "slots|running|expiry|capabilities|version|settings|state" in P:workers (a draining
 * one with no slots, until its running jobs end); one that stops writes its expiry as the moment it left. An
 * expired entry is kept for `keepMs` (when the last worker left is what the no-worker grace counts from), then dropped.
 */
async function liveWorkers(r: Redis, P: string, keepMs = DEFAULT_NO_WORKER_GRACE_MS): Promise<Workers> {
  const raw = await r.hgetall(`${P}:workers`);
  const now = Date.now();
  const w: Workers = { live: 0, each: [], slots: 0, running: 0, capabilities: new Set<string>(), lastSeen: -Infinity };
  for (const [id, v] of Object.entries(raw)) {
    const [s, run, exp, caps, version, settings, state] = v.split("|");
    const expiry = Number(exp);
    if (!(expiry >= now)) {
      if (Number.isFinite(expiry)) w.lastSeen = Math.max(w.lastSeen, expiry);
      if (!(now - expiry <= keepMs)) bestEffort(r.hdel(`${P}:workers`, id), "could not drop an expired worker");
      continue;
    }
    w.live += 1;
    w.lastSeen = now;
    w.slots += Number(s);
    w.running += Number(run);
    const capabilities = (caps ?? "mesh").split(",");
    for (const c of capabilities) w.capabilities.add(c);
    w.each.push({ id, version: version ?? "", settings: settings ?? "", capabilities, slots: Number(s) || 0, draining: state === "draining" });
  }
  return w;
}

interface Pending {
  kind: JobKind;
  opts: SubmitOptions;
  state: "queued" | "running";
  /** Expected service time, and when cheaper jobs stop overtaking it (epoch ms: arrival + its class's offset). */
  estimateMs: number;
  overtakableUntil: number;
  offset: number;
  lastPosition?: number;
  lastEta?: number;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
  queuedAt: number;
  /** When a worker first reported it started (a job resumed after a worker died keeps its first start). */
  startedAt?: number;
  /** In Redis (enqueued and ticketed): until then the sweeper leaves it alone. */
  enqueued?: boolean;
  /** The worker that last reported starting it, and whether the log already said that worker stopped. */
  worker?: string;
  workerGoneSaid?: boolean;
}

/** Producer side: used by bot processes. */
export function createRedisQueue(
  opts: RedisQueueOptions,
): InferenceQueue & { ready(): Promise<void>; checkWorkers(): Promise<void> } {
  const P = opts.prefix;
  const maxWaitMs = opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const noWorkerGraceMs = opts.noWorkerGraceMs ?? DEFAULT_NO_WORKER_GRACE_MS;
  // Stopped workers' entries stay as long as the grace needs them (a finite one), so that every producer sees when they left.
  const keepGoneMs = Math.max(DEFAULT_NO_WORKER_GRACE_MS, Number.isFinite(noWorkerGraceMs) ? noWorkerGraceMs : 0);
  // A job running this long has outlived a worker's own timeout, a worker dying and another resuming it, and that one's timeout.
  const runningLimitMs = opts.jobTimeoutMs * 3;
  const cmd = defineScripts(connect(opts.url, true));
  /**
   * What this process saw itself, for the grace: Redis's own record of the workers is gone after a restart
   * without its data, and stale after a stall longer than a heartbeat's validity, while the workers re-register
   * within seconds. So the grace also counts from the last time a worker was seen here, and from when this
   * process (re)gained contact with Redis (start-up, a reconnection, the first answer after failed reads).
   */
  let sawWorkerAt = -Infinity;
  let contactSince = Date.now();
  let outOfContact = false;
  cmd.on("ready", () => (contactSince = Date.now()));
  const workers = async (): Promise<Workers> => {
    let w: Workers;
    try {
      w = await liveWorkers(cmd, P, keepGoneMs);
    } catch (e) {
      outOfContact = true;
      throw e;
    }
    const now = Date.now();
    if (outOfContact) {
      outOfContact = false;
      contactSince = now;
    }
    if (w.live > 0) sawWorkerAt = now;
    return w;
  };
  /** No worker alive for the grace (0: none alive): jobs would wait for one that is not coming. */
  const noWorkerFor = (w: Workers) => w.live === 0 && Date.now() - Math.max(w.lastSeen, sawWorkerAt, contactSince) >= noWorkerGraceMs;
  const sub = connect(opts.url);
  const tickets = new Queue(TICKETS, { connection: cmd, prefix: `${P}:bull` });
  const generatorTickets = new Queue(GENERATOR_TICKETS, { connection: cmd, prefix: `${P}:bull` });
  // The connection's own listener logs it; without one, BullMQ prints every reconnection failure to stderr.
  for (const q of [tickets, generatorTickets]) q.on("error", (err) => logger.debug({ err: err.message }, "ticket queue error"));
  const pending = new Map<string, Pending>();
  const counters = { completed: 0, failed: 0, rejected: 0 };
  let closing = false;
  let drained: (() => void) | undefined;
  let svcCache: { at: number; times: ServiceTimes } | undefined;
  /** Jobs this process enqueued lately: the load of those that may overtake a waiting one (other producers' are not seen). */
  const arrivals = new Arrivals();

  const serviceTimes = async () => {
    if (!svcCache || performance.now() - svcCache.at > 2000) svcCache = { at: performance.now(), times: await readServiceTimes(cmd, P) };
    return svcCache.times;
  };

  const emit = (p: Pending, e: ProgressEvent) => {
    try {
      p.opts.onProgress?.(e);
    } catch (err) {
      logger.warn({ err, requestId: p.opts.requestId }, "onProgress callback threw");
    }
  };

  const settle = (id: string, fn: (p: Pending) => void) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    fn(p);
    if (closing && pending.size === 0) drained?.();
  };

  async function collect(id: string): Promise<boolean> {
    const raw = await cmd.getBuffer(`${P}:res:${id}`);
    if (!raw) return false;
    bestEffort(cmd.del(`${P}:res:${id}`), "could not delete a read result");
    const out = deserialize(raw) as Outcome;
    settle(id, (p) => {
      const about = { requestId: p.opts.requestId, job: id, worker: p.worker };
      if (out.ok) logger.debug(about, "job done");
      else logger.debug({ ...about, code: out.error.code }, "job failed");
      if (out.ok) {
        counters.completed += 1;
        emit(p, { type: "done" });
        p.resolve(out.result);
      } else {
        counters.failed += 1;
        const e = fromWireError(out.error);
        emit(p, { type: "failed", message: e.userMessage });
        p.reject(e);
      }
    });
    return true;
  }

  /** Jobs this producer cancelled, whose result (if a worker held them) is deleted once written; forgotten after the result's TTL. */
  const cancelledHere = new Set<string>();
  const forgetCancelled = (id: string) => {
    cancelledHere.add(id);
    setTimeout(() => cancelledHere.delete(id), opts.resultTtlSeconds * 1000).unref();
  };

  const subscribed = sub.subscribe(`${P}:events`);
  // A queue closed before its subscription completes rejects this; ready() still reports it to its caller.
  bestEffort(subscribed, "events subscription ended before it started");
  sub.on("message", (_channel: string, message: string) => {
    const ev = JSON.parse(message) as QueueEvent;
    const p = pending.get(ev.id);
    if (!p) {
      // A job this producer cancelled: nobody will read what its worker writes, so it goes now
      // rather than after QUEUE_RESULT_TTL_S (a finished animation may be megabytes).
      if (ev.type !== "started" && cancelledHere.delete(ev.id)) bestEffort(cmd.del(`${P}:res:${ev.id}`), "could not delete a cancelled job's result");
      return;
    }
    if (ev.type === "started") {
      const resumed = p.state === "running";
      if (resumed) logger.warn({ requestId: p.opts.requestId, job: ev.id, worker: ev.worker, previousWorker: p.worker }, "job resumed by another worker");
      else logger.debug({ requestId: p.opts.requestId, job: ev.id, worker: ev.worker }, "job started");
      p.worker = ev.worker;
      p.workerGoneSaid = false;
      if (p.state === "queued") {
        p.state = "running";
        p.startedAt = performance.now();
        emit(p, { type: "started", worker: ev.worker });
      }
    } else void collect(ev.id).catch((err) => logger.warn({ err }, "could not read a queue result"));
  });

  /**
   * Where waiting jobs stand in the shared queue: for each id, its position and the expected start (ms from
   * now): the work ahead of it over the workers it may use, plus the cheaper jobs expected to arrive and go
   * ahead of it while they still may (as in the local queue); and the work of every waiting job.
   */
  async function standings(ids: string[]): Promise<{ totalMs: number; of: Map<string, { position: number; etaMs: number }> }> {
    const raw = (await cmd.mimicPositions(P, ...ids)) as number[];
    const { slots, each } = await workers();
    // Each worker keeps its own processes for cheap jobs: animations may use the sum of their limits.
    const expensiveSlots = expensiveCapacity(each.filter((x) => !x.draining).map((x) => x.slots), opts.cheapFirst);
    const of = new Map<string, { position: number; etaMs: number }>();
    const now = Date.now();
    ids.forEach((id, i) => {
      const p = pending.get(id);
      const position = raw[1 + 2 * i]!;
      if (!p || !position) return;
      const startMs = raw[2 + 2 * i]! / Math.max(1, isExpensive(p.kind) ? expensiveSlots : slots);
      const s = standing(startMs, p.overtakableUntil - now, arrivals.ahead(p.offset, slots, performance.now()));
      of.set(id, { position: position + s.overtakers, etaMs: s.etaMs });
    });
    return { totalMs: raw[0]!, of };
  }

  /** Tells waiting callers their place (never taken back) and ETA, as the shared queue drains. */
  async function announcePositions(only?: string): Promise<void> {
    const queued = [...pending].filter(([id, p]) => p.state === "queued" && p.enqueued && (only === undefined || id === only));
    if (queued.length === 0) return;
    const { of } = await standings(queued.map(([id]) => id));
    for (const [id, p] of queued) {
      const s = of.get(id);
      if (!s || p.state !== "queued") continue;
      const told = nextAnnouncement(p, s.position, s.etaMs);
      if (!told) continue;
      p.lastPosition = told.position;
      p.lastEta = told.etaSeconds;
      emit(p, { type: "queued", ...told });
    }
  }

  /** Gives up on a job for good: a worker still running it is told to stop, the user's slot is freed, the caller hears `error`. */
  function giveUp(id: string, error: MimicError): void {
    const p = pending.get(id);
    if (!p) return;
    logger.warn({ requestId: p.opts.requestId, job: id, worker: p.worker, state: p.state, reason: error.details?.reason ?? error.code }, "job given up: its caller is told so");
    bestEffort(cmd.publish(`${P}:cancel`, id).then(() => cmd.mimicAbandon(P, id, p.opts.userId)), "could not abandon a job");
    settle(id, (q) => {
      counters.failed += 1;
      emit(q, { type: "failed", message: error.userMessage });
      q.reject(error);
    });
  }

  /** What the log last said about the workers: a warning when none runs (at start, or when the last one stops). */
  let workersSaid: "up" | "none" | undefined;
  /** Version, settings, generator and store checks across the deployment (logged, once each). */
  const deployment = deploymentChecks(P, opts, cmd, () => closing, bestEffort);

  /** Says, once, when a running job's worker is no longer alive: the job waits for another worker to resume it. */
  function noteGoneWorkers(w: Workers): void {
    const alive = new Set(w.each.map((x) => x.id));
    for (const [id, p] of pending) {
      if (p.state !== "running" || !p.worker || p.workerGoneSaid || alive.has(p.worker)) continue;
      p.workerGoneSaid = true;
      logger.warn({ requestId: p.opts.requestId, job: id, worker: p.worker }, "the worker running a job stopped (died or was killed): the job waits for another worker to resume it");
    }
  }
  let watching = false;
  /**
   * Logs the workers coming and going, naming QUEUE_PREFIX (a mistyped one otherwise shows only as requests
   * that wait), and refuses the jobs waiting here once no worker has been alive for the grace: also those a
   * worker had started and handed back or died with, since no worker is left to resume them.
   */
  async function watchWorkers(): Promise<void> {
    if (watching || closing) return;
    watching = true;
    try {
      const w = await workers();
      if (closing) return;
      deployment.compareWorkers(w);
      deployment.checkGenerator(w);
      noteGoneWorkers(w);
      if (w.live > 0 && workersSaid !== "up") {
        if (workersSaid === "none") logger.info({ prefix: P, workers: w.live }, `a mimic worker is running again for queue prefix "${P}"`);
        workersSaid = "up";
      } else if (w.live === 0 && workersSaid !== "none") {
        const then = !Number.isFinite(noWorkerGraceMs)
          ? "requests wait for one"
          : noWorkerFor(w)
            ? "requests are refused until one starts"
            : `requests are refused if none is back within ${noWorkerGraceMs < 1000 ? `${noWorkerGraceMs} ms` : `${Math.round(noWorkerGraceMs / 1000)} s`}`;
        logger.warn(
          { prefix: P, url: redactUrl(opts.url) },
          workersSaid === undefined
            ? `no mimic worker is running for queue prefix "${P}" (QUEUE_PREFIX): ${then}. Start \`mimic worker\` with the same QUEUE_URL and QUEUE_PREFIX as the bots.`
            : `the last mimic worker for queue prefix "${P}" (QUEUE_PREFIX) stopped: ${then}.`,
        );
        workersSaid = "none";
      }
      if (!noWorkerFor(w)) return;
      for (const [id, p] of pending) {
        if (!p.enqueued) continue;
        if (p.state === "running") giveUp(id, noWorkers(P, p.kind));
        else {
          bestEffort(cmd.mimicCancel(P, id).then((gone) => {
            if (gone === 1) giveUp(id, noWorkers(P, p.kind));
          }), "could not refuse a job no worker will take");
        }
      }
    } finally {
      watching = false;
    }
  }
  const watch = () => void watchWorkers().catch((err: unknown) => logger.debug({ err: err instanceof Error ? err.message : String(err) }, "could not read the workers"));
  watch();

  deployment.checkStores({ force: true });

  // Positions, plus a safety net: missed pub/sub messages (reconnects), jobs no worker picks up in time, jobs whose
  // worker died with none to resume them, and jobs Redis lost (restarted without its data). Every caller is answered.
  const sweeper = setInterval(() => {
    watch();
    deployment.checkStores();
    void announcePositions().catch((err) => logger.warn({ err }, "could not read queue positions"));
    const now = performance.now();
    const ids = [...pending].filter(([, p]) => p.enqueued).map(([id]) => id);
    if (ids.length > 0) {
      // The job before its result: FINISH stores the one as it deletes the other, so neither read can miss both.
      const check = cmd.pipeline();
      for (const id of ids) check.exists(`${P}:job:${id}`).exists(`${P}:res:${id}`);
      void check.exec().then((res) =>
        ids.forEach((id, i) => {
          const [job, result] = [res?.[2 * i], res?.[2 * i + 1]];
          if (result?.[1] === 1) void collect(id).catch(() => undefined);
          else if (job && !job[0] && job[1] === 0 && result && !result[0] && pending.get(id)?.state === "queued") giveUp(id, lostInQueue());
        }),
      ).catch(() => undefined);
    }
    for (const [id, p] of pending) {
      if (p.state === "queued" && now - p.queuedAt > maxWaitMs) {
        bestEffort(cmd.mimicCancel(P, id).then((gone) => {
          if (gone === 1) giveUp(id, new MimicError("TIMEOUT", "No worker was free to make your image in time. Please try again later."));
        }), "could not time out a waiting job");
      } else if (p.state === "running" && p.startedAt !== undefined && now - p.startedAt > runningLimitMs) {
        // Its worker stopped and no other resumed it, or it keeps being resumed: a worker's own timeout cannot answer.
        giveUp(id, new MimicError("TIMEOUT", "Making your image took too long (the worker making it may have stopped). Please try again."));
      }
    }
  }, 1000);
  sweeper.unref();

  /** Seconds until the work waiting now has started (the "try again in" figure of a full queue). */
  async function waitSeconds(): Promise<number> {
    const [{ totalMs }, { slots }] = await Promise.all([standings([]), workers()]);
    return totalMs / Math.max(1, slots) / 1000;
  }

  /**
   * Seconds until the first of a user's own jobs this process knows of is expected to finish: a running one's
   * remaining time, a waiting one's ETA and its own time. A user's jobs sent through another process are not
   * known here: then the new job's own time and a second.
   */
  function userWaitSeconds(userId: string, fallbackMs: number): number {
    const now = performance.now();
    const jobs = [...pending.values()]
      .filter((p) => p.opts.userId === userId && p.enqueued)
      .map((p): UserJob => (p.state === "running" ? { estimateMs: p.estimateMs, elapsedMs: now - (p.startedAt ?? now) } : { estimateMs: p.estimateMs, startsInMs: (p.lastEta ?? 0) * 1000 }));
    return (jobs.length > 0 ? userWaitMs(jobs, opts.jobTimeoutMs) : fallbackMs + 1000) / 1000;
  }

  return {
    async ready() {
      await subscribed;
      await tickets.waitUntilReady();
      await generatorTickets.waitUntilReady();
    },

    async submit(job: Job, so: SubmitOptions): Promise<JobResult> {
      if (closing) throw shuttingDown();
      if (so.signal?.aborted) throw abortError(so.signal);
      if (!(await connected(cmd, CONNECT_GRACE_MS))) throw queueUnreachable();
      const payload = serialize(job);
      if (payload.length > opts.maxPayloadBytes) {
        throw new MimicError(
          "IMAGE_TOO_LARGE",
          `That file is too large to process (${(payload.length / 1048576).toFixed(1)} MiB; the limit is ${(opts.maxPayloadBytes / 1048576).toFixed(0)} MiB). Please send a smaller one.`,
        );
      }
      const need = requiredCapability(job);
      const live = await viaRedis(workers());
      if (noWorkerFor(live)) {
        // Nobody would take it: say so now rather than after maxWaitMs. Within the grace (a worker restarting) it waits.
        counters.rejected += 1;
        throw noWorkers(P, job.kind);
      }
      if (need !== "mesh" && live.slots > 0 && !live.capabilities.has(need)) {
        // Workers are running but none has the models: refuse now rather than wait out maxWaitMs.
        counters.rejected += 1;
        throw noCapableWorker(need);
      }
      const times = await viaRedis(serviceTimes());
      const id = so.jobId ?? randomUUID();
      const cls = classOf(job.kind, opts.cheapFirst, so.priority);
      const offset = classOffsetMs(cls, opts.cheapFirst);
      const priority = cls + (need === "mesh" ? 0 : GENERATOR_PRIORITY_SHIFT);
      const estimateMs = times.estimateJob(job.kind, workUnits(job));
      const cost = costInQuanta(estimateMs, times.cheapest());
      const holdMs = maxWaitMs + opts.jobTimeoutMs * 3;
      const at = Date.now();
      const done = new Promise<JobResult>((resolve, reject) => {
        pending.set(id, { kind: job.kind, opts: so, state: "queued", estimateMs, overtakableUntil: at + offset, offset, resolve, reject, queuedAt: performance.now() });
      });
      // A worker may fail the job before this function returns `done` (a damaged picture fails at once): until
      // the caller holds it, its rejection must not count as unhandled, which stops the process.
      done.catch(() => undefined);
      const [status, , position] = (await viaRedis(
        cmd.mimicEnqueue(
          P, id, so.serverId ?? DM_LANE, priority, cost, so.userId, opts.capacity, opts.perUserLimit,
          payload, Math.ceil(holdMs / 1000), job.kind, at, holdMs, so.requestId, offset, Math.round(estimateMs), MIMIC_VERSION,
        ),
      ).catch((e: unknown) => {
        pending.delete(id);
        // Redis may still run the enqueue after it stopped answering in time: take the job back out, or it would
        // hold the user's slot with no ticket for any worker to claim it.
        bestEffort(cmd.mimicCancel(P, id), "could not take back a job whose enqueue went unanswered");
        throw e;
      })) as number[];
      if (status !== 0) {
        pending.delete(id);
        counters.rejected += 1;
        if (status === -1) throw userLimit(opts.perUserLimit, userWaitSeconds(so.userId, estimateMs));
        throw queueFull(await viaRedis(waitSeconds()), { waiting: position });
      }
      arrivals.record(performance.now(), offset, estimateMs);
      try {
        await (need === "mesh" ? tickets : generatorTickets).add("t", {}, { removeOnComplete: true, removeOnFail: true });
      } catch (cause) {
        // Without its ticket no worker would ever claim the job: take it back out and say so.
        await cmd.mimicCancel(P, id).catch(() => undefined);
        pending.delete(id);
        throw queueUnreachable(cause);
      }
      logger.debug({ requestId: so.requestId, job: id, kind: job.kind, position }, "job queued");
      const p = pending.get(id);
      if (p) p.enqueued = true;
      if (p && p.state === "queued" && p.lastPosition === undefined) {
        // The first position report; a failed read leaves the job queued without one until the sweeper's.
        await announcePositions(id).catch((err: unknown) => logger.debug({ err: err instanceof Error ? err.message : String(err) }, "could not read a new job's position"));
      }
      if (so.signal) {
        const signal = so.signal;
        const onAbort = () => {
          const cur = pending.get(id);
          if (!cur) return;
          // Waiting: leave the queue. Running: tell whichever worker has it to stop (what it writes is deleted).
          forgetCancelled(id);
          bestEffort(
            cmd.mimicCancel(P, id).then((gone) => (gone === 1 ? undefined : cmd.publish(`${P}:cancel`, id))),
            "could not cancel a job",
          );
          settle(id, (q) => q.reject(abortError(signal)));
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
        done.finally(() => signal.removeEventListener("abort", onAbort)).catch(() => undefined);
      }
      return done;
    },

    async checkWorkers() {
      const w = await workers();
      if (noWorkerFor(w)) {
        const last = Number.isFinite(w.lastSeen) ? ` (the last one stopped ${Math.round((Date.now() - w.lastSeen) / 1000)} s ago)` : "";
        throw new Error(`no worker is running for queue prefix ${P}${last}`);
      }
    },

    async abandon(jobId) {
      // Another process's job (its producer died): a worker running it is told to stop, a waiting one leaves the
      // queue; either way its user's place is freed.
      await cmd.publish(`${P}:cancel`, jobId);
      if (await cmd.mimicCancel(P, jobId)) return;
      const user = await cmd.hget(`${P}:job:${jobId}`, "user");
      if (user !== null) await cmd.mimicAbandon(P, jobId, user);
    },

    async stats(): Promise<QueueStats> {
      const [waiting, w, times, held] = await Promise.all([cmd.get(`${P}:waiting`), workers(), readServiceTimes(cmd, P), cmd.mimicStats(P, Date.now()) as Promise<number[]>]);
      const [claimed, oldestWaitMs] = held.map(Number) as [number, number];
      return {
        mode: "redis",
        waiting: Number(waiting ?? 0),
        // Claimed and unfinished: also the jobs of a worker that died, which its heartbeat no longer counts.
        running: Math.max(w.running, claimed),
        oldestWaitMs: oldestWaitMs >= 0 ? oldestWaitMs : 0,
        capacity: opts.capacity,
        workers: w.slots,
        ...counters,
        serviceMs: times.snapshot(),
      };
    },

    async close({ drainMs = 30_000 } = {}) {
      closing = true;
      if (pending.size > 0) {
        await new Promise<void>((res) => {
          drained = res;
          setTimeout(res, drainMs).unref();
        });
      }
      // Jobs still waiting leave the queue, and the workers running the others are told to stop (nobody will read
      // their answers, and their callers are told Mimic is restarting); their callers hear why. With Redis gone,
      // each Redis step is bounded: a command would otherwise wait for a reconnection that may never come.
      for (const [id, p] of pending) {
        await atMost(
          CLOSE_STEP_MS,
          cmd.mimicCancel(P, id).then(async (gone) => {
            if (gone === 1 || !p.enqueued) return;
            logger.debug({ requestId: p.opts.requestId, job: id, worker: p.worker }, "shutting down: the job's worker is told to stop");
            await cmd.publish(`${P}:cancel`, id);
            await cmd.mimicAbandon(P, id, p.opts.userId);
          }),
        );
        settle(id, (p) => {
          emit(p, { type: "failed", message: shuttingDown().userMessage });
          p.reject(shuttingDown());
        });
      }
      clearInterval(sweeper);
      await atMost(CLOSE_STEP_MS, Promise.all([tickets.close(), generatorTickets.close()]));
      sub.disconnect();
      await atMost(CLOSE_STEP_MS, cmd.quit());
      cmd.disconnect();
    },
  };
}

export interface RedisWorkerHandle {
  id: string;
  /** Stops fetching, lets running jobs finish for up to drainMs, hands the rest back to other workers. */
  close(opts?: { drainMs?: number }): Promise<void>;
}

/** Consumer side: `mimic worker` runs this; jobs execute in a local pool of worker processes. */
export async function startRedisWorker(opts: RedisWorkerOptions): Promise<RedisWorkerHandle> {
  const P = opts.prefix;
  const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  await checkRedisReachable(opts.url);
  const cmd = defineScripts(connect(opts.url));
  const sub = connect(opts.url);
  // Ticket consumers paused because no process that could run their kind was free; a freed process wakes them.
  const starved = new Set<BullWorker>();
  let closing = false;
  const wake = () => {
    if (closing) return;
    for (const w of starved) {
      starved.delete(w);
      void w.resume();
    }
  };
  const pool = new WorkerPool(poolOptions(opts, { onIdle: wake }));
  await pool.started(" No job was taken from the queue.").catch(async (err: unknown) => {
    await pool.close();
    sub.disconnect();
    cmd.disconnect();
    throw err;
  });
  // What this process's workers can run, advertised with the heartbeat; generator tickets are taken only with the models.
  const caps = Object.keys(pool.capabilities()).sort();
  const times = await readServiceTimes(cmd, P);
  const running = new Map<string, AbortController>();
  /** Animations running here, and claims under way that may turn out to be one (policy.ts, expensiveLimit). */
  let expensiveRunning = 0;
  let openClaims = 0;
  let handingBack = false;
  const claimTtlS = Math.ceil((DEFAULT_MAX_WAIT_MS + opts.jobTimeoutMs * 3) / 1000);

  const settings = jobSettings(opts);
  // Draining (SIGTERM): still alive, with no free slots, until its running jobs end; producers must not count
  // it gone (their no-worker grace would run out and they would give up the very jobs it is finishing).
  const heartbeat = () =>
    cmd
      .hset(`${P}:workers`, id, [closing ? 0 : opts.workers, running.size, Date.now() + HEARTBEAT_TTL_MS, caps.join(","), MIMIC_VERSION, settings, closing ? "draining" : "up"].join("|"))
      .catch(() => undefined);
  await heartbeat();
  const beat = setInterval(heartbeat, 3000);

  await sub.subscribe(`${P}:cancel`);
  // A cancel can arrive between a claim and the job's start: remember it for a while.
  const cancelledIds = new Set<string>();
  sub.on("message", (_c: string, jobId: string) => {
    cancelledIds.add(jobId);
    setTimeout(() => cancelledIds.delete(jobId), 60_000).unref();
    running.get(jobId)?.abort(cancelled());
  });

  /**
   * One slot count for both ticket kinds: a process is reserved before a job is claimed and held until its
   * result is stored, so this worker never holds more jobs than it has processes.
   */
  async function processTicket(ticket: BullJob, token: string | undefined, kind: keyof typeof CLAIM_RANGE, consumer: BullWorker): Promise<void> {
    const seat = pool.reserve(kind);
    if (!seat) {
      // Every process that could run it is taken (by the other kind's jobs): the ticket goes back for another
      // worker, and this consumer fetches no more until a process frees up.
      starved.add(consumer);
      await consumer.pause(true);
      if (!starved.has(consumer) || pool.idleFor(kind) > 0) {
        starved.delete(consumer);
        if (!closing) void consumer.resume();
      }
      await ticket.moveToWait(token);
      throw new WaitingError();
    }
    let heldBack = false;
    try {
      heldBack = await runTicket(ticket, token, kind, seat);
    } finally {
      seat.release();
    }
    if (heldBack) {
      // Only an animation waits, and this worker's free process is kept for cheap jobs: the ticket goes back
      // for a moment (another worker may take it meanwhile), and this consumer goes on taking cheap jobs.
      await ticket.moveToDelayed(Date.now() + HELD_BACK_MS, token);
      throw new DelayedError();
    }
  }

  /** Runs the job a ticket claims; true when it claimed none because only an animation waits and none may start here now. */
  async function runTicket(ticket: BullJob, token: string | undefined, kind: keyof typeof CLAIM_RANGE, seat: Seat): Promise<boolean> {
    // BullMQ numbers each queue's tickets from 1: the claim is keyed by queue and number, or a generator
    // ticket would find a mesh ticket's claim of the same number and rerun that job instead of its own.
    const claimKey = `${TICKET_QUEUE[kind]}:${ticket.id!}`;
    // With cheap-first, animations may hold all this worker's processes but one: past that, it claims only cheaper jobs.
    const cheapOnly = expensiveRunning + openClaims >= expensiveLimit(opts.workers, opts.cheapFirst);
    if (!cheapOnly) openClaims += 1;
    let jobId: string | null;
    let expensive = false;
    try {
      jobId = (await cmd.mimicClaim(P, claimKey, claimTtlS, ...(cheapOnly ? CHEAP_RANGE : CLAIM_RANGE)[kind])) as string | null;
      if (!jobId && cheapOnly) {
        // Nothing cheap waits: its job may be an animation held back (or cancelled while waiting; then it finds nothing again).
        return Number((await cmd.get(`${P}:waiting`)) ?? 0) > 0;
      }
      if (!jobId) return false; // its job was cancelled while waiting
      // Who holds it, in the job itself: a worker resuming it names the one that had it (died, or handed it back).
      const [kindOf, rid, previous] = await cmd.hmget(`${P}:job:${jobId}`, "kind", "rid", "worker");
      if (kindOf !== null) bestEffort(cmd.hset(`${P}:job:${jobId}`, "worker", id), "could not record a job's worker");
      if (previous && previous !== id) logger.warn({ requestId: rid, job: jobId, worker: id, previousWorker: previous }, "job resumed: its previous worker stopped before finishing it");
      else logger.debug({ requestId: rid, job: jobId, worker: id }, "job claimed");
      expensive = isExpensive((kindOf ?? "meme") as JobKind);
      if (expensive) expensiveRunning += 1;
    } finally {
      if (!cheapOnly) openClaims -= 1;
    }
    try {
      await runClaimed(ticket, token, jobId, claimKey, seat);
    } finally {
      if (expensive) expensiveRunning -= 1;
    }
    return false;
  }

  async function runClaimed(ticket: BullJob, token: string | undefined, jobId: string, claimKey: string, seat: Seat): Promise<void> {
    const finish = (out: Outcome) =>
      cmd.mimicFinish(P, jobId, claimKey, serialize(out), opts.resultTtlSeconds,
        JSON.stringify({ id: jobId, type: out.ok ? "done" : "failed" } satisfies QueueEvent));
    const raw = await cmd.hgetBuffer(`${P}:job:${jobId}`, "payload");
    if (!raw) {
      await finish({ ok: false, error: toWireError(new MimicError("TIMEOUT", "Your request expired before it could run. Please try again.")) });
      return;
    }
    let job: Job;
    try {
      job = deserialize(raw) as Job;
    } catch (e) {
      await finish({ ok: false, error: toWireError(e) });
      return;
    }
    if (cancelledIds.has(jobId)) {
      await finish({ ok: false, error: toWireError(cancelled()) });
      return;
    }
    const [rid, producerVersion] = await cmd.hmget(`${P}:job:${jobId}`, "rid", "ver");
    const requestId = rid ?? jobId;
    const about = { requestId, job: jobId, worker: id, kind: job.kind };
    await cmd.publish(`${P}:events`, JSON.stringify({ id: jobId, type: "started", worker: id } satisfies QueueEvent));
    const ac = new AbortController();
    running.set(jobId, ac);
    const timer = setTimeout(() => {
      logger.warn({ ...about, timeoutMs: opts.jobTimeoutMs }, "job timed out (QUEUE_JOB_TIMEOUT_MS): stopping it");
      ac.abort(timedOut(opts.jobTimeoutMs / 1000));
    }, opts.jobTimeoutMs);
    const t0 = performance.now();
    let out: Outcome;
    try {
      out = { ok: true, result: await seat.run(job, { requestId, signal: ac.signal }) };
      times.record(job.kind, performance.now() - t0, workUnits(job));
      bestEffort(shareServiceTime(cmd, P, times, job.kind), "could not share a service time");
    } catch (e) {
      out = { ok: false, error: toWireError(e) };
    } finally {
      clearTimeout(timer);
      running.delete(jobId);
    }
    const ms = Math.round(performance.now() - t0);
    if (handingBack) {
      // Shutting down mid-job: give the ticket back (its claim stays) so another worker reruns the job.
      logger.warn({ ...about, ms }, "worker stopping: job handed back for another worker to run");
      await ticket.moveToWait(token);
      throw new WaitingError();
    }
    if (out.ok) logger.debug({ ...about, ms }, "job done");
    else if (out.error.details?.field !== undefined && /^malformed job/.test(out.error.message)) {
      // A job this worker's Mimic cannot read: most likely a bot of another version sent it.
      logger.warn(
        { ...about, field: out.error.details.field, jobVersion: producerVersion || "unknown", workerVersion: MIMIC_VERSION, why: out.error.message },
        `mimic worker ${id} (Mimic ${MIMIC_VERSION}) could not read a job sent by Mimic ${producerVersion || "of an unknown version"}: ${out.error.message}. Run the same Mimic version on every bot and worker.`,
      );
    } else logger.debug({ ...about, ms, code: out.error.code, why: out.error.message }, "job failed");
    await finish(out);
  }

  // The ticket consumers' connections, disconnected at close whatever state BullMQ left them in.
  const consumerConnections: Redis[] = [];
  const consume = (kind: keyof typeof CLAIM_RANGE) => {
    const connection = connect(opts.url);
    consumerConnections.push(connection);
    const w: BullWorker = new BullWorker(TICKET_QUEUE[kind], (t, token) => processTicket(t, token, kind, w), {
      connection,
      prefix: `${P}:bull`,
      concurrency: kind === "mesh" ? opts.workers : Math.max(1, pool.capabilities()[kind] ?? 0),
      lockDuration: opts.stallMs,
      stalledInterval: Math.max(250, Math.floor(opts.stallMs / 2)),
      maxStalledCount: 5,
      drainDelay: 1,
    });
    w.on("error", (err) => logger.warn({ err: err.message }, "queue worker error"));
    return w;
  };
  const consumers = [consume("mesh"), ...(caps.includes("liveportrait") ? [consume("liveportrait")] : [])];
  await Promise.all(consumers.map((w) => w.waitUntilReady()));
  logger.info({ worker: id, threads: opts.workers, prefix: P, capabilities: caps }, "queue worker started");

  return {
    id,
    async close({ drainMs = 30_000 } = {}) {
      closing = true;
      // A worker that is leaving takes no new work: from now on its heartbeat offers no slots, but it keeps
      // beating while its running jobs finish, so that producers do not count it gone and give those jobs up.
      void heartbeat();
      // Every Redis step below is bounded: with Redis down (or not answering) each would wait for it forever,
      // and the process would never exit. What cannot be handed back, Redis recovers as for a killed worker
      // (the ticket's lock expires and another worker resumes the job from its claim).
      await atMost(CLOSE_STEP_MS, Promise.all(consumers.map((w) => w.pause(true))));
      const deadline = performance.now() + drainMs;
      while (running.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (running.size > 0) {
        handingBack = true;
        for (const ac of running.values()) ac.abort(shuttingDown());
        const stopBy = performance.now() + CLOSE_STEP_MS;
        while (running.size > 0 && performance.now() < stopBy) await new Promise((r) => setTimeout(r, 20));
      }
      // Gone. Not deleted: expired as of now, the entry tells producers when the last worker left (their no-worker grace).
      clearInterval(beat);
      const left = cmd.hset(`${P}:workers`, id, [0, 0, Date.now(), caps.join(","), MIMIC_VERSION, settings, "gone"].join("|")).catch(() => undefined);
      logger.info({ worker: id, prefix: P }, "queue worker stopped");
      await atMost(CLOSE_STEP_MS, Promise.all([...consumers.map((w) => w.close()), left]));
      // Whatever BullMQ still waits for (a reconnection, a lock it cannot release) ends here.
      for (const w of consumers) bestEffort(w.disconnect(), "could not disconnect a ticket consumer");
      for (const c of consumerConnections) c.disconnect();
      await pool.close(shuttingDown());
      sub.disconnect();
      if (cmd.status === "ready") await atMost(CLOSE_STEP_MS, cmd.quit());
      cmd.disconnect();
    },
  };
}

