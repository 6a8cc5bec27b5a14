/**
 * A fixed pool of worker processes for the CPU-heavy stages (decode, face analysis, warping, GIF
 * encoding), so the main thread only schedules and keeps bot heartbeats on time.
 *
 * Processes, not worker threads: a runaway job must be stoppable, and terminating a thread while
 * onnxruntime-node (or another native addon) is inside a call aborts the whole process
 * (`terminate called after throwing an instance of 'Napi::Error'`). Killing a child process is always
 * safe: the OS reclaims everything and the bot keeps running.
 *
 * One job per process at a time: pixel work saturates a core, so more would only interleave.
 * Cancellation: the handler gets an AbortSignal and stops at its next stage boundary; one that does not
 * stop within `cancelGraceMs` has its process killed (and replaced), so a cancelled or timed-out job can
 * never hold a slot. The caller's promise settles at once either way; a late result is discarded.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { MimicError } from "../errors.ts";
import { logger } from "../logger.ts";
import { removeOrtDebugLog } from "../pipeline/face/ort-debug-log.ts";
import { ensureCaptionFonts } from "../pipeline/render/fonts.ts";
import { parseWorkerSettings, type WorkerSettings } from "../requests.ts";
import { defaultWorkerSettings } from "./settings.ts";
import { requiredCapability, type Job, type JobResult } from "./jobs.ts";
import { queueModule, workerEntry } from "./modules.ts";
import { shuttingDown, workersRestarting } from "./refusals.ts";
import { createSpillDir, removeFiles, removeSpillDir, spill, spilledPaths, SPILL_MIN_BYTES, unspill } from "./spill.ts";
import { fromWireError, type WireError } from "./wire.ts";

/** `spillDir`: where the worker writes a large result (src/queue/spill.ts); large inputs arrive as files there. */
export type ToWorker = { type: "run"; id: number; job: Job; requestId: string; spill: { dir: string; minBytes: number } } | { type: "cancel"; id: number };
export type FromWorker =
  /** `capabilities`: what the worker's handlers can run (e.g. "mesh", "liveportrait"); absent: mesh only. */
  | { type: "ready"; capabilities?: string[] }
  /** Sent just before a worker dies loading its handler module or models: the error's message. */
  | { type: "load-failed"; reason: string }
  | { type: "result"; id: number; result: JobResult }
  | { type: "error"; id: number; error: WireError };

export interface PoolOptions {
  size: number;
  /** Module exporting `handlers: HandlerSet` (and optionally `warmUp()`), loaded in every worker process. */
  handlersUrl: string | URL;
  /** How long a cancelled handler may take to notice its AbortSignal before its process is killed. */
  cancelGraceMs?: number;
  /** What every worker process runs with (limits, inference, ffmpeg), validated by the worker at start. */
  settings: WorkerSettings;
  /** Byte arrays from this size on travel as files (default SPILL_MIN_BYTES). */
  spillMinBytes?: number;
  /**
   * How many workers (the first ones) get `settings.generator` and load the generator's models; the others
   * run without it (mesh jobs only). Default: all. A replaced worker keeps its place and so its role.
   */
  generatorWorkers?: number;
  /** Called whenever a worker becomes free. */
  onIdle?: () => void;
  /**
   * Restart back-off for workers that die before loading their handlers (a broken module or model):
   * the first restart waits `initialMs`, each further one twice as long, up to `maxMs`.
   */
  restartBackoff?: { initialMs: number; maxMs: number };
  /** Called when a worker failed to load its handlers, with the wait before its restart. */
  onLoadFailure?: (info: { failures: number; restartInMs: number }) => void;
}

/** Why start-up stops when the worker processes could not load their handlers (`reason`: what the worker said). */
export function handlersDidNotLoad(url: string | URL, reason: string | undefined, cause: unknown, after = ""): MimicError {
  const href = String(url);
  const what = href === String(queueModule("./handlers.ts")) ? "the built-in pipeline" : href.startsWith("file:") ? fileURLToPath(href) : href;
  return new MimicError(
    "CONFIG",
    `The worker processes could not load their job handlers (${what}): ${reason ?? "they exited without saying why (see the error above)"}.${after}`,
    { cause },
  );
}

/** A queue's settings as its worker pool's options: the one place the local queue and a Redis worker build them. */
export function poolOptions(
  opts: { workers: number; handlersUrl: string | URL; cancelGraceMs?: number; settings?: WorkerSettings; restartBackoff?: PoolOptions["restartBackoff"]; generatorWorkers?: number },
  hooks: Pick<PoolOptions, "onIdle" | "onLoadFailure"> = {},
): PoolOptions {
  return {
    size: opts.workers,
    handlersUrl: opts.handlersUrl,
    cancelGraceMs: opts.cancelGraceMs,
    settings: opts.settings ?? defaultWorkerSettings(),
    restartBackoff: opts.restartBackoff,
    generatorWorkers: opts.generatorWorkers,
    ...hooks,
  };
}

interface Current {
  id: number;
  /** The request's id (the bot's, carried through the queue): what every log line about the job names. */
  requestId: string;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
  /** Set once the caller's promise has settled (cancelled/timed out): the worker's answer is discarded. */
  settled: boolean;
  graceTimer?: NodeJS.Timeout;
  cleanup: () => void;
  /** The job's large inputs, written to files for the worker (deleted once the job is settled). */
  files: string[];
}

interface Slot {
  child: ChildProcess;
  current?: Current;
  ready: boolean;
  /** Settles once the worker loaded its handlers (resolves) or died before that (rejects). */
  loaded: Promise<void>;
  /** Position in the pool: a replacement gets the same settings. */
  index: number;
  /** Advertised in the worker's "ready" message. */
  capabilities: Set<string>;
  /** Held by a Seat: takes no other job until the seat is released, even while idle. */
  reserved: boolean;
}

/** One worker held for a job that is not known yet (see WorkerPool.reserve). */
export interface Seat {
  /** Runs the job on the held worker (on the next free one if that worker died meanwhile); the seat stays held. */
  run(job: Job, ctx: { requestId: string; signal?: AbortSignal }): Promise<JobResult>;
  /** Gives the worker back to the pool. */
  release(): void;
}

interface Waiter {
  need: string;
  take: (slot?: Slot) => void;
}

/**
 * Job processes still running when this process exits (a second Ctrl+C, a fatal error) are killed with it: one
 * busy in a long synchronous stage would not see its pipe close, and would run on as an orphan.
 */
const liveChildren = new Set<ChildProcess>();
let killingOnExit = false;
function killOnExit(child: ChildProcess): void {
  if (!killingOnExit) process.on("exit", killLiveChildren);
  killingOnExit = true;
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
}
function killLiveChildren(): void {
  for (const c of liveChildren) c.kill("SIGKILL");
}

export class WorkerPool {
  private slots: Slot[] = [];
  private waiters: Waiter[] = [];
  private nextId = 1;
  private closed = false;
  private kills = 0;
  private readonly spillDir = createSpillDir();
  /** Workers in a row that died before loading their handlers (reset by one that loads). */
  private loadFailures = 0;
  /** Why the last worker that died loading its handlers did (its error's message), if it could say. */
  lastLoadFailure: string | undefined;
  /** When the next restart after a load failure is due (performance.now() time), while one is pending. */
  private restartAt = 0;
  private readonly opts: Required<Omit<PoolOptions, "onIdle" | "onLoadFailure" | "handlersUrl" | "generatorWorkers">> &
    Pick<PoolOptions, "onIdle" | "onLoadFailure" | "generatorWorkers"> & { handlersUrl: string };

  constructor(opts: PoolOptions) {
    // Checked here too, so a bad setting fails at start-up instead of in every worker it would respawn.
    // An option passed as undefined (poolOptions passes every queue setting through) takes its default.
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as PoolOptions;
    this.opts = {
      cancelGraceMs: 250,
      spillMinBytes: SPILL_MIN_BYTES,
      restartBackoff: { initialMs: 1000, maxMs: 30_000 },
      ...given,
      settings: parseWorkerSettings(opts.settings),
      handlersUrl: String(opts.handlersUrl),
    };
    // Workers inherit this process's environment: FONTCONFIG_FILE must be set before the first fork.
    ensureCaptionFonts();
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn(i));
  }

  get size(): number {
    return this.slots.length;
  }

  get idle(): number {
    return this.closed ? 0 : this.slots.filter((s) => this.isFree(s)).length;
  }

  /** Idle workers that can run this job (see requiredCapability), or jobs needing this capability. */
  idleFor(job: Job | string): number {
    const need = typeof job === "string" ? job : requiredCapability(job);
    return this.closed ? 0 : this.slots.filter((s) => this.isFree(s) && s.capabilities.has(need)).length;
  }

  /**
   * Holds an idle worker that can run jobs needing `need`, for a job the caller has yet to fetch (a Redis
   * worker reserves before it claims, so it never claims more jobs than it has workers); undefined when
   * none is free. The worker takes no other job until the seat is released.
   */
  reserve(need: string): Seat | undefined {
    const slot = this.closed ? undefined : this.freeSlotFor(need);
    if (!slot) return undefined;
    slot.reserved = true;
    let released = false;
    return {
      run: (job, ctx) =>
        this.slots.includes(slot) && slot.ready && !slot.current && slot.capabilities.has(requiredCapability(job)) && !this.closed
          ? this.runOn(slot, job, ctx)
          : this.run(job, ctx),
      release: () => {
        if (released) return;
        released = true;
        slot.reserved = false;
        if (this.slots.includes(slot) && this.isFree(slot)) this.wakeWaiter(slot);
      },
    };
  }

  /** The free worker for `need` that can do the least else, so a scarce capability (the generator) stays free. */
  private freeSlotFor(need: string): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) {
      if (this.isFree(s) && s.capabilities.has(need) && (!best || s.capabilities.size < best.capabilities.size)) best = s;
    }
    return best;
  }

  private isFree(s: Slot): boolean {
    return s.ready && !s.current && !s.reserved;
  }

  /**
   * false when every worker has started and none advertises what the job needs (it would wait forever);
   * true when one does, or one is still starting.
   */
  mayRun(job: Job): boolean {
    const need = requiredCapability(job);
    return this.slots.some((s) => !s.ready || s.capabilities.has(need));
  }

  /** What the started workers can run: capability → number of workers. */
  capabilities(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.slots) if (s.ready) for (const c of s.capabilities) out[c] = (out[c] ?? 0) + 1;
    return out;
  }

  get busy(): number {
    return this.slots.filter((s) => s.current).length;
  }

  /** Worker processes killed because a job ignored its cancellation (or the pool closed mid-job). */
  get killed(): number {
    return this.kills;
  }

  /**
   * True while no worker can take work because the last ones died loading their handlers: they are
   * restarting with back-off, and jobs would only wait for a module that may never load.
   */
  get restarting(): boolean {
    return !this.closed && this.loadFailures > 0 && !this.slots.some((s) => s.ready);
  }

  /** Seconds until the next restart attempt while `restarting` (at least 1). */
  get restartInSeconds(): number {
    return Math.max(1, Math.ceil((this.restartAt - performance.now()) / 1000));
  }

  /**
   * Resolves once every worker has loaded its handlers (start-up cost is paid before the first job);
   * rejects with BUSY when one died loading them (it restarts with back-off).
   */
  async ready(): Promise<void> {
    // A worker that died loading is out of `slots` until its restart: not loaded either.
    if (!this.closed && this.slots.length < this.opts.size) throw workersRestarting(this.restartInSeconds);
    await Promise.all(this.slots.map((s) => s.loaded));
    await new Promise((res) => setImmediate(res));
  }

  /**
   * Start-up (`mimic start`, `mimic worker`): as ready(), but a worker that died loading its handlers (a broken
   * module, a provider that cannot load) rejects with CONFIG naming why, so the command stops rather than restart
   * workers forever. `after`: a sentence added to that message.
   */
  async started(after = ""): Promise<void> {
    await this.ready().catch((err: unknown) => {
      throw handlersDidNotLoad(this.opts.handlersUrl, this.lastLoadFailure, err, after);
    });
  }

  /**
   * Runs a job on the next free worker that can run it: at once (synchronously taking the slot) when one
   * is idle, otherwise after the workers ahead of it free up, in FIFO order among the jobs that worker can run.
   */
  run(job: Job, ctx: { requestId: string; signal?: AbortSignal }): Promise<JobResult> {
    const need = requiredCapability(job);
    const slot = this.waiters.some((w) => w.need === need) ? undefined : this.freeSlotFor(need);
    if (slot && !this.closed) return this.runOn(slot, job, ctx);
    if (this.restarting) return Promise.reject(workersRestarting(this.restartInSeconds));
    return new Promise<JobResult>((resolve, reject) => {
      // Called synchronously with the freed worker, so nobody can take it in between.
      this.waiters.push({
        need,
        take: (free) => {
          if (!free) reject(this.closed ? shuttingDown() : workersRestarting(this.restartInSeconds));
          else this.runOn(free, job, ctx).then(resolve, reject);
        },
      });
    });
  }

  private runOn(slot: Slot, job: Job, ctx: { requestId: string; signal?: AbortSignal }): Promise<JobResult> {
    const id = this.nextId++;
    return new Promise<JobResult>((resolve, reject) => {
      const onAbort = () => this.abort(slot, id, ctx.signal?.reason);
      const cur: Current = {
        id,
        requestId: ctx.requestId,
        resolve,
        reject,
        settled: false,
        cleanup: () => ctx.signal?.removeEventListener("abort", onAbort),
        files: [],
      };
      slot.current = cur;
      this.hold(slot, true);
      if (ctx.signal?.aborted) {
        // Never started: nothing to stop, the worker stays.
        this.settle(slot, ctx.signal.reason instanceof MimicError ? ctx.signal.reason : new MimicError("CANCELLED", "The request was cancelled."));
        this.free(slot);
        return;
      }
      ctx.signal?.addEventListener("abort", onAbort, { once: true });
      // Large inputs go as files, written off the main thread; the message carries their paths.
      spill(job, this.spillDir, `job-${id}-in`, this.opts.spillMinBytes).then(
        ({ value, files }) => {
          cur.files = files;
          if (slot.current !== cur || cur.settled) {
            // Cancelled while its input was being written: the worker never got it, so it is free again.
            void removeFiles(files);
            if (slot.current === cur) this.free(slot);
          } else this.send(slot, { type: "run", id, job: value, requestId: ctx.requestId, spill: { dir: this.spillDir, minBytes: this.opts.spillMinBytes } });
        },
        (err: unknown) => {
          logger.error({ err }, "could not hand a job's input to its worker");
          this.finish(cur, new MimicError("INTERNAL", "Something went wrong while making your image. Please try again.", { cause: err }));
          if (slot.current === cur) this.free(slot);
        },
      );
    });
  }

  /** Kills every worker; jobs still running reject with `reason`. */
  async close(reason: unknown = new MimicError("CANCELLED", "Mimic is shutting down.")): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.take(undefined);
    for (const s of this.slots) if (s.current) this.settle(s, reason);
    await Promise.all(this.slots.map((s) => this.stop(s)));
    removeSpillDir(this.spillDir);
  }

  private spawn(index: number): Slot {
    const settings = index < (this.opts.generatorWorkers ?? Infinity) ? this.opts.settings : { ...this.opts.settings, generator: null };
    const child = fork(fileURLToPath(workerEntry(this.opts.handlersUrl)), [this.opts.handlersUrl, JSON.stringify(settings)], {
      // Typed arrays (images, landmarks) cross the pipe as such, not as JSON.
      serialization: "advanced",
      // The entry registers its own TypeScript loader; the parent's flags (test runners' loaders) stay out.
      execArgv: [],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    killOnExit(child);
    let loaded!: () => void, failed!: (e: unknown) => void;
    const slot: Slot = { child, ready: false, index, capabilities: new Set(), reserved: false, loaded: new Promise<void>((res, rej) => ((loaded = res), (failed = rej))) };
    // Nobody may be awaiting ready(): a failed load is reported through `restarting`, never unhandled.
    slot.loaded.catch(() => undefined);
    child.on("message", (msg: FromWorker) => this.onMessage(slot, msg));
    child.on("error", (err) => {
      logger.error({ err }, "queue worker process failed");
      this.replace(slot, new MimicError("INTERNAL", "Something went wrong while making your image. Please try again.", { cause: err }));
    });
    child.on("exit", (code, signal) => {
      if (!this.closed && this.slots.includes(slot)) {
        logger.error({ code, signal }, "queue worker process exited unexpectedly");
        this.replace(slot, new MimicError("INTERNAL", "Something went wrong while making your image. Please try again."));
      }
    });
    // After the handlers above: a failed load has been counted (and its restart planned) when this runs.
    child.on("message", (msg: FromWorker) => msg.type === "ready" && loaded());
    child.once("exit", () => failed(this.closed ? shuttingDown() : workersRestarting(this.restartInSeconds)));
    child.once("exit", () => removeOrtDebugLog(child.pid));
    // A starting or busy worker keeps this process alive (someone awaits it); an idle one must not.
    return slot;
  }

  private send(slot: Slot, msg: ToWorker): void {
    if (!slot.child.connected) return;
    // An EPIPE here means the worker just died; its "exit" handler fails the job and replaces it.
    slot.child.send(msg, (err) => err && logger.debug({ err: err.message }, "could not reach a queue worker"));
  }

  private hold(slot: Slot, busy: boolean): void {
    if (busy) {
      slot.child.ref();
      slot.child.channel?.ref();
    } else {
      slot.child.unref();
      slot.child.channel?.unref();
    }
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    if (msg.type === "load-failed") {
      this.lastLoadFailure = msg.reason;
      return;
    }
    if (msg.type === "ready") {
      // A worker takes work only once its handlers (and models) are loaded, so start-up never eats a job's time budget.
      slot.ready = true;
      this.loadFailures = 0;
      slot.capabilities = new Set(msg.capabilities ?? ["mesh"]);
      if (!slot.current) {
        this.hold(slot, false);
        this.wakeWaiter(slot);
      }
      return;
    }
    const cur = slot.current;
    if (!cur || cur.id !== msg.id || cur.settled || msg.type === "error") {
      // A late answer (the job was cancelled or timed out meanwhile) is discarded, its files too.
      if (msg.type === "result") void removeFiles(spilledPaths(msg.result));
      if (cur && cur.id === msg.id) {
        if (msg.type === "error") this.settle(slot, fromWireError(msg.error));
        this.free(slot);
      }
      return;
    }
    // The worker is free at once; a large result is read back from its files off the main thread.
    this.free(slot);
    unspill(msg.result).then(
      ({ value, files }) => {
        this.finish(cur, undefined, value);
        void removeFiles(files);
      },
      (err: unknown) => {
        this.finish(cur, new MimicError("INTERNAL", "Something went wrong while making your image. Please try again.", { cause: err }));
        void this.sweep(cur.id);
      },
    );
  }

  /** Deletes whatever files a job left (a killed worker may have been writing its result). */
  private async sweep(id: number): Promise<void> {
    const { readdir } = await import("node:fs/promises");
    const mine = (await readdir(this.spillDir).catch(() => [] as string[])).filter((f) => f.startsWith(`job-${id}-`));
    await removeFiles(mine.map((f) => `${this.spillDir}/${f}`));
  }

  /** Cancellation / timeout: settle now, ask the handler to stop, kill the process if it does not. */
  private abort(slot: Slot, id: number, reason: unknown): void {
    const cur = slot.current;
    if (!cur || cur.id !== id || cur.settled) return;
    this.settle(slot, reason instanceof MimicError ? reason : new MimicError("CANCELLED", "The request was cancelled."));
    this.send(slot, { type: "cancel", id });
    cur.graceTimer = setTimeout(() => {
      if (slot.current === cur) {
        logger.warn({ requestId: cur.requestId, process: slot.child.pid, reason: reason instanceof MimicError ? reason.code : undefined }, "handler ignored cancellation; killing its worker process");
        this.replace(slot);
      }
    }, this.opts.cancelGraceMs);
  }

  private settle(slot: Slot, err?: unknown, result?: JobResult): void {
    if (slot.current) this.finish(slot.current, err, result);
  }

  /** Settles the caller's promise once and deletes the job's input files. */
  private finish(cur: Current, err?: unknown, result?: JobResult): void {
    if (cur.settled) return;
    cur.settled = true;
    cur.cleanup();
    void removeFiles(cur.files);
    if (err !== undefined) cur.reject(err);
    else cur.resolve(result!);
  }

  private free(slot: Slot): void {
    const cur = slot.current;
    if (cur?.graceTimer) clearTimeout(cur.graceTimer);
    slot.current = undefined;
    this.hold(slot, false);
    this.wakeWaiter(slot);
  }

  private wakeWaiter(slot: Slot): void {
    if (this.closed || slot.reserved) return;
    const i = this.waiters.findIndex((w) => slot.capabilities.has(w.need));
    if (i >= 0) this.waiters.splice(i, 1)[0]!.take(slot);
    else this.opts.onIdle?.();
  }

  /**
   * Ends a worker: an idle one is told to leave, a busy one (maybe deep in native code) is killed, and so is one
   * still loading its handlers: it holds no job, and loading models it would not hear the request to leave.
   */
  private stop(slot: Slot): Promise<void> {
    const child = slot.child;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((res) => child.once("exit", () => res()));
    if (slot.current || !slot.ready) {
      if (slot.current) this.kills += 1;
      child.kill("SIGKILL");
    } else {
      child.disconnect();
      // A worker that does not leave in time (its event loop blocked) is killed.
      const t = setTimeout(() => child.kill("SIGKILL"), 2000);
      void exited.then(() => clearTimeout(t));
    }
    return exited;
  }

  /** Throws a worker away (crashed or stuck) and starts a fresh one in its place. */
  private replace(slot: Slot, err?: unknown): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    if (err !== undefined) this.settle(slot, err);
    this.slots.splice(i, 1);
    const cur = slot.current;
    // Once it is gone, whatever it was writing for its job goes too.
    void this.stop(slot).then(() => cur && this.sweep(cur.id));
    if (cur?.graceTimer) clearTimeout(cur.graceTimer);
    if (this.closed) return;
    const respawn = () => {
      if (this.closed) return;
      this.slots.push(this.spawn(slot.index));
    };
    if (slot.ready) return respawn();
    // A worker that died before loading its handlers (broken module) is not restarted in a hot loop.
    this.loadFailures += 1;
    const { initialMs, maxMs } = this.opts.restartBackoff;
    const wait = Math.min(maxMs, initialMs * 2 ** (this.loadFailures - 1));
    this.restartAt = performance.now() + wait;
    logger.error({ failures: this.loadFailures, restartInMs: wait }, "queue worker failed to load its handlers; restarting it after a pause");
    setTimeout(respawn, wait).unref();
    // Jobs handed to the pool meanwhile would wait for a module that may never load.
    if (this.restarting) for (const w of this.waiters.splice(0)) w.take(undefined);
    this.opts.onLoadFailure?.({ failures: this.loadFailures, restartInMs: wait });
  }
}

