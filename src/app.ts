/**
 * The one composition root: configuration → store → queue → command core → adapters.
 * `createApp` builds the parts; `startApp` runs the Discord and/or Telegram bots when their tokens are
 * set, or the local playground when none is. Nothing else in Mimic wires parts together.
 */
import { createDiscordBot, type DiscordBot } from "./bots/discord/bot.ts";
import { startPlayground, type Playground } from "./bots/playground/server.ts";
import { createTelegramBot, type TelegramBot } from "./bots/telegram/bot.ts";
import type { Config } from "./config.ts";
import { storeAudit, storeModeration, storeTemplates } from "./core/bindings.ts";
import { createCore, watchAbandoned, type AbandonedWatch, type Core, type FetchLike, type ModerationPort } from "./core/index.ts";
import { logger } from "./logger.ts";
import { findFfmpeg } from "./pipeline/video/index.ts";
import { checkGeneratorAtStartup, checkRedisReachable, createQueue, type InferenceQueue } from "./queue/index.ts";
import type { LocalQueue } from "./queue/local.ts";
import { openStore, type Store } from "./templates/store.ts";
import type { Metrics, OpsServer } from "./ops/index.ts";

export interface AppOptions {
  /** Queue handler module (default: the real pipeline, src/queue/handlers.ts). */
  handlers?: string | URL;
  /** Downloads of user images (default: global fetch). */
  fetch?: FetchLike;
}

export interface App {
  readonly config: Config;
  readonly store: Store;
  readonly queue: InferenceQueue;
  readonly core: Core;
  /** The moderation layer the core runs in front of the queue (as observed, where OPS_PORT is set). */
  readonly moderation: ModerationPort;
  /** Prometheus metrics fed by observers around the queue and the store (only when OPS_PORT is set). */
  readonly metrics?: Metrics;
  /** Readiness checks for /readyz (only when OPS_PORT is set). */
  readonly readiness?: Record<string, () => Promise<void>>;
  /**
   * In-process queue: resolves once every worker process has loaded its handlers and models; rejects with CONFIG,
   * naming why, when one could not (startApp stops with it). Absent in Redis mode, where `mimic worker`s load them.
   */
  readonly modelsLoaded?: () => Promise<void>;
  /**
   * Closes the queue (letting running and queued jobs finish for `drainMs`, by default SHUTDOWN_DRAIN_MS; the
   * rest are refused as "restarting"), then awaits `beforeStore` (adapters still answering the requests whose
   * jobs just settled: those replies may read or write the store), then closes the store.
   */
  close(opts?: { drainMs?: number; beforeStore?: () => Promise<void> }): Promise<void>;
}

/**
 * After the drain, how long the playground and the bots may take to deliver the replies of the requests
 * whose jobs have settled (finished, or refused as "restarting"), before the store closes.
 */
export const REPLY_GRACE_MS = 5_000;

export async function createApp(config: Config, opts: AppOptions = {}): Promise<App> {
  // This config, not the environment again: a command-line override (start --port) must hold below too.
  // A bot with the in-process queue is the whole bot: a second one on the store would answer every command
  // again. Redis mode's front ends share a store by design (but not with such a bot); playgrounds answer only
  // their own page.
  const bot = !!(config.DISCORD_TOKEN || config.TELEGRAM_TOKEN);
  const markInUse = bot ? { sole: config.QUEUE_URL ? ("shared" as const) : ("exclusive" as const) } : true;
  const store = await openStore(config.DATABASE_URL, { config, markInUse, prune: true, audience: "chat" });
  if (config.FFMPEG_PATH !== undefined && config.FFMPEG_PATH !== "none" && !findFfmpeg(config.FFMPEG_PATH)) {
    logger.warn({ FFMPEG_PATH: config.FFMPEG_PATH }, "FFMPEG_PATH is not an executable file: animations are sent as GIF");
  }
  let queue: InferenceQueue;
  try {
    // With the in-process queue this process runs the models; with Redis only `mimic worker`s do.
    if (!config.QUEUE_URL) checkGeneratorAtStartup(config);
    else await checkRedisReachable(config.QUEUE_URL);
    queue = createQueue(config, { handlers: opts.handlers, storeIdentity: store.identity });
  } catch (e) {
    await store.close();
    throw e;
  }
  // Taken before the observers wrap the queue (they pass on the InferenceQueue interface only).
  const modelsLoaded = (queue as Partial<LocalQueue>).started;
  let ports = { templates: storeTemplates(store), moderation: storeModeration(store) };
  let metrics: Metrics | undefined;
  let readiness: App["readiness"];
  let onTurnedAway: ((refusal: unknown) => void) | undefined;
  if (config.OPS_PORT !== undefined) {
    // Observers only watch calls and results: the queue and the ports behave the same either way.
    const ops = await import("./ops/index.ts");
    metrics = ops.createMetrics();
    readiness = ops.readinessChecks({ store, queue });
    queue = ops.observeQueue(queue, metrics);
    ports = ops.observePorts(ports, metrics);
    onTurnedAway = ops.countTurnedAway(metrics);
  }
  const core = createCore({ ...ports, audit: storeAudit(store), queue }, { maxInputBytes: config.MAX_INPUT_BYTES, fetch: opts.fetch, onTurnedAway });
  let closed = false;
  return {
    config,
    store,
    queue,
    core,
    moderation: ports.moderation,
    metrics,
    readiness,
    modelsLoaded,
    async close({ drainMs = config.SHUTDOWN_DRAIN_MS, beforeStore } = {}) {
      if (closed) return;
      closed = true;
      try {
        await queue.close({ drainMs });
      } finally {
        try {
          await beforeStore?.();
        } finally {
          await store.close();
        }
      }
    },
  };
}

export interface RunningApp {
  app: App;
  discord?: DiscordBot;
  telegram?: TelegramBot;
  playground?: Playground;
  /** The ops endpoint (/healthz, /readyz, /metrics), when OPS_PORT is set. */
  ops?: OpsServer;
  /** Renews this process's unanswered requests and answers those lost with a stopped process (abandoned.ts). */
  abandoned?: AbandonedWatch;
  /**
   * Stops the adapters taking new work (the playground answers 503, Discord answers "Mimic is restarting",
   * Telegram stops polling), drains the queue (running and queued jobs finish for SHUTDOWN_DRAIN_MS, the
   * rest are told Mimic is restarting), lets the adapters deliver those replies (up to REPLY_GRACE_MS),
   * then closes the store and the adapters' connections. Bounded by about SHUTDOWN_DRAIN_MS + REPLY_GRACE_MS.
   */
  stop(): Promise<void>;
}

export interface StartOptions extends AppOptions {
  /**
   * Called after a bot died for good (e.g. Telegram polling got 401/409) and the app was stopped.
   * Default: exit non-zero, so a supervisor restarts Mimic instead of it running on deaf.
   */
  onFatal?: (err: unknown) => void;
}

/** What `mimic start` runs: the bots whose tokens are configured, else the playground. */
export async function startApp(config: Config, opts: StartOptions = {}): Promise<RunningApp> {
  const app = await createApp(config, opts);
  let stopping: Promise<void> | undefined;
  const running: RunningApp = {
    app,
    // A second call (a second signal, a fatal error during shutdown) joins the first.
    stop: () => (stopping ??= stopAll()),
  };
  async function stopAll(): Promise<void> {
    // The playground only stops taking requests here: closing its connections now would cancel every job
    // in flight (a hung-up page cancels its job) and leave the replies of the ones that still complete
    // (a face save) undelivered. Its requests in flight are answered once the queue has drained.
    // The bots likewise: only their intake stops here (Telegram's polling ends once the updates it took are
    // handed over); the work in flight goes on, its jobs drain with the rest, and its replies go out below.
    running.playground?.stopAccepting();
    running.discord?.stopIntake();
    await running.telegram?.stopIntake().catch((err: unknown) => logger.warn({ err }, "stopping Telegram's polling failed"));
    try {
      await app.close({ beforeStore: deliverReplies });
    } finally {
      // Also when the app was already closed: nothing is left listening. The ops endpoint last: through the
      // drain /healthz still answers, /readyz says "shutdown", and the drain's counters can still be scraped.
      await Promise.allSettled([running.playground?.close(), running.discord?.stop()]);
      await running.ops?.close();
    }
  }
  /** After the drain: the adapters answer the requests whose jobs settled (replies may still use the store). */
  async function deliverReplies(): Promise<void> {
    const bots = { discord: running.discord, telegram: running.telegram };
    await Promise.all([
      running.playground?.close({ graceMs: REPLY_GRACE_MS }),
      ...Object.entries(bots).map(async ([name, bot]) => {
        if (bot && !(await bot.settled(REPLY_GRACE_MS))) logger.warn({ bot: name }, "bot replies still unsent at shutdown: closing the store anyway");
      }),
    ]);
    // Only now: a drain longer than UNANSWERED_TIMEOUT_SECONDS must not let another process take our requests for lost.
    await running.abandoned?.stop();
  }
  const onFatal = (err: unknown) => {
    logger.error({ err }, "a bot stopped for good: shutting Mimic down so a supervisor can restart it");
    void running
      .stop()
      .catch((e: unknown) => logger.error({ err: e }, "shutdown after a fatal bot error failed"))
      .finally(() => (opts.onFatal ?? (() => process.exit(1)))(err));
  };
  // What a front end turns away while stopping never reaches the queue: counted here as the queue counts its own.
  const onTurnedAway = app.metrics && ((reason: "shutting_down") => app.metrics!.refusals.inc({ reason }));
  try {
    // First, so /healthz answers and /readyz reports progress while the bots connect.
    if (app.metrics && app.readiness) {
      const { startOpsServer } = await import("./ops/index.ts");
      // Not ready once stopping: a load balancer sends no more requests while the work in flight drains.
      const shutdown = async () => {
        if (stopping) throw new Error("Mimic is shutting down");
      };
      running.ops = await startOpsServer({ host: config.OPS_HOST, port: config.OPS_PORT!, metrics: app.metrics, checks: { ...app.readiness, shutdown } });
    }
    // Before the bots log in and the playground listens: a worker that cannot load its models (a provider this host
    // lacks, a broken model) stops start-up with its reason, instead of Mimic answering every request "restarting".
    await app.modelsLoaded?.();
    if (config.DISCORD_TOKEN) {
      running.discord = createDiscordBot({ core: app.core, token: config.DISCORD_TOKEN, apiRoot: config.DISCORD_API_ROOT, onTurnedAway });
    }
    if (config.TELEGRAM_TOKEN) {
      running.telegram = createTelegramBot({ core: app.core, token: config.TELEGRAM_TOKEN, apiRoot: config.TELEGRAM_API_ROOT, onFatal });
    }
    // Before the bots connect: one still waiting for its platform must not hold up the renewals of the requests
    // the other takes meanwhile. Each platform's lost requests are answered once its bot is up.
    const watch = watchAbandoned(app.moderation, app.queue.abandon?.bind(app.queue));
    running.abandoned = watch;
    // The playground's lost requests are only given back (their page is gone), whichever front end this is.
    watch?.serve("playground", null);
    const { discord, telegram } = running;
    // Together: one bot waiting for its platform must not hold back the other, nor its refused token's message.
    await Promise.all([
      discord?.start().then(() => watch?.serve("discord", discord.answerLate)),
      telegram?.start().then(() => watch?.serve("telegram", telegram.answerLate)),
    ]);
    if (!config.DISCORD_TOKEN && !config.TELEGRAM_TOKEN) {
      running.playground = await startPlayground({
        core: app.core,
        host: config.PLAYGROUND_HOST,
        port: config.PLAYGROUND_PORT,
        maxUploadBytes: config.MAX_INPUT_BYTES,
        cooldownSeconds: config.PLAYGROUND_COOLDOWN_SECONDS,
        onTurnedAway,
      });
    }
  } catch (e) {
    await running.stop().catch((err: unknown) => logger.error({ err }, "shutdown after a failed start failed"));
    throw e;
  }
  return running;
}
