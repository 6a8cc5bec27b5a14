/**
 * The Redis queue's deployment-consistency checks: every bot and `mimic worker` sharing one QUEUE_PREFIX should
 * run the same Mimic version and job settings, the bots' generator jobs need a worker with the generator, and the
 * front ends should share one store. Each finding is logged (once) for the operator; nothing here refuses a job.
 */
import { performance } from "node:perf_hooks";
import type { Redis } from "ioredis";
import { logger } from "../logger.ts";
import { packageVersion } from "../version.ts";
import type { QueueOptions } from "./local.ts";

/** This process's Mimic version: advertised with every job and heartbeat, compared with the other processes'. */
export const MIMIC_VERSION: string = packageVersion();

/** A front end republishes its store's identity this often; one not republished for STORE_GONE_MS has stopped. */
const STORE_EVERY_MS = 10_000;
const STORE_GONE_MS = 60_000;

/**
 * The settings a job's meaning depends on, on both sides of the queue: the input limits the worker checks (the
 * bot checks the same before it enqueues), the job timeout (the bot gives a running job three of them) and
 * cheap-first (the bot sets the priorities, the worker reads them). Written "key=value,…" into the heartbeat.
 */
export function jobSettings(o: QueueOptions): string {
  const limits = o.settings?.limits;
  return [
    `maxPixels=${limits?.maxPixels ?? "default"}`,
    `maxBytes=${limits?.maxBytes ?? "default"}`,
    `jobTimeoutMs=${o.jobTimeoutMs}`,
    `cheapFirst=${o.cheapFirst ? 1 : 0}`,
  ].join(",");
}

/** The settings of two jobSettings() strings that differ, as "name: bot's value here, worker's there". */
function settingsDiffer(mine: string, theirs: string): string[] {
  const parse = (x: string) => new Map(x.split(",").map((kv) => kv.split("=") as [string, string]));
  const [a, b] = [parse(mine), parse(theirs)];
  return [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).map((k) => `${k} ${a.get(k) ?? "unset"} here, ${b.get(k) ?? "unset"} on the worker`);
}

/** What a live worker advertises in its heartbeat that these checks compare. */
export interface WorkerAdvert {
  id: string;
  /** Mimic's package version it runs ("" for a worker from before versions were advertised). */
  version: string;
  /** Its jobSettings() ("" for a worker from before settings were advertised). */
  settings: string;
  capabilities: string[];
}

/** The live workers, as the checks see them. */
export interface AdvertisedWorkers {
  live: number;
  each: WorkerAdvert[];
  capabilities: Set<string>;
}

export interface DeploymentChecks {
  /** Warns, once per worker, about one running another Mimic version or other job settings than this process. */
  compareWorkers(w: AdvertisedWorkers): void;
  /** Warns when this bot sends generator jobs but no live worker has the generator, and says when one has again. */
  checkGenerator(w: AdvertisedWorkers): void;
  /** Publishes this front end's store and compares it with the others' (in the background), when it is due. */
  checkStores(opts?: { force?: boolean }): void;
}

/**
 * The checks of one producer (a bot's queue) on prefix `P`. `bestEffort` runs a Redis call whose failure is
 * only logged; `closing` says the queue is closing (the store is no longer published).
 */
export function deploymentChecks(
  P: string,
  opts: QueueOptions & { storeIdentity?: string },
  cmd: Redis,
  closing: () => boolean,
  bestEffort: (p: Promise<unknown>, what: string) => void,
): DeploymentChecks {
  /** This process's job settings (jobSettings), and the workers already compared with them (each is warned about once). */
  const mySettings = jobSettings(opts);
  const compared = new Set<string>();
  /** MIMIC_GENERATOR=liveportrait here: its jobs need a worker with the generator's models. */
  const wantsGenerator = Boolean(opts.settings?.generator);
  let generatorSaid: "ok" | "missing" | undefined;
  /** Other stores seen under this prefix, each warned about once. */
  const otherStores = new Set<string>();
  let storeSaidAt = -Infinity;

  /** Publishes this front end's store under the prefix and warns about front ends of the same prefix using another. */
  async function compareStores(): Promise<void> {
    const mine = opts.storeIdentity;
    if (!mine || closing()) return;
    storeSaidAt = performance.now();
    const now = Date.now();
    const [[, seen]] = ((await cmd.multi().hgetall(`${P}:stores`).hset(`${P}:stores`, mine, now).exec()) ?? [[null, {}]]) as [[unknown, Record<string, string>]];
    for (const [other, at] of Object.entries(seen ?? {})) {
      if (other === mine) continue;
      if (now - Number(at) > STORE_GONE_MS) {
        bestEffort(cmd.hdel(`${P}:stores`, other), "could not drop a stopped front end's store");
        continue;
      }
      if (otherStores.has(other)) continue;
      otherStores.add(other);
      logger.warn(
        { prefix: P, store: mine, otherStore: other },
        `another Mimic front end on queue prefix "${P}" (QUEUE_PREFIX) uses a different store (${other}; this one uses ${mine}): which faces, settings and quotas a user gets depends on which front end answers. Point every front end of one deployment at the same DATABASE_URL, or give separate deployments their own QUEUE_PREFIX.`,
      );
    }
  }

  return {
    compareWorkers(w) {
      for (const x of w.each) {
        if (compared.has(x.id)) continue;
        compared.add(x.id);
        const differ = x.settings ? settingsDiffer(mySettings, x.settings) : [];
        if (x.version === MIMIC_VERSION && differ.length === 0) continue;
        logger.warn(
          { prefix: P, worker: x.id, workerVersion: x.version || "unknown", version: MIMIC_VERSION, workerSettings: x.settings || "unknown", settings: mySettings },
          `mimic worker ${x.id} runs ${x.version ? `Mimic ${x.version}` : "an older Mimic that does not say its version"}${differ.length ? ` with other job settings (${differ.join("; ")})` : ""}, this bot Mimic ${MIMIC_VERSION}: jobs may fail or be judged by other limits there. Run the same version and settings on every bot and worker of queue prefix "${P}".`,
        );
      }
      if (compared.size > 256) for (const id of compared) if (!w.each.some((x) => x.id === id)) compared.delete(id);
    },

    checkGenerator(w) {
      if (!wantsGenerator || w.live === 0) return;
      if (w.capabilities.has("liveportrait")) {
        if (generatorSaid === "missing") logger.info({ prefix: P }, `a mimic worker with the LivePortrait generator is running again for queue prefix "${P}"`);
        generatorSaid = "ok";
      } else if (generatorSaid !== "missing") {
        generatorSaid = "missing";
        logger.warn(
          { prefix: P, MIMIC_GENERATOR: "liveportrait", workers: w.each.map((x) => ({ id: x.id, capabilities: x.capabilities })) },
          `MIMIC_GENERATOR=liveportrait on this bot, but none of the ${w.live} mimic worker(s) for queue prefix "${P}" has the LivePortrait generator (they run: ${[...w.capabilities].join(", ")}): mimic-mode memes and animations are refused ("The picture generator is not running"). Start a worker with MIMIC_GENERATOR=liveportrait and its models, or set MIMIC_GENERATOR=mesh on the bots.`,
        );
      }
    },

    checkStores({ force = false } = {}) {
      if (!force && performance.now() - storeSaidAt < STORE_EVERY_MS) return;
      void compareStores().catch((err: unknown) => logger.debug({ err: err instanceof Error ? err.message : String(err) }, "could not compare stores"));
    },
  };
}
