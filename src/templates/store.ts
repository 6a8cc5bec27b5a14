import { loadConfig, type Config } from "../config.ts";
import { dirname } from "node:path";
import { hostname } from "node:os";
import { makeDir } from "../make-dir.ts";
import { MimicError } from "../errors.ts";
import { logger } from "../logger.ts";
import { createPrismaClient, type Db } from "./db/client.ts";
import { FACE_READER_CONNECTIONS, openBlobReader } from "./db/blobs.ts";
import { isStorageFull, sqliteCode, sqliteStartupError, storageFull } from "./db/errors.ts";
import { gateFor, type Gate } from "./db/gate.ts";
import { markStoreInUse, type SoleMode } from "./db/in-use.ts";
import { migrate } from "./db/migrate.ts";
import { describeTarget, resolveDatabaseTarget, type DatabaseTarget } from "./db/url.ts";
import { AuditLog } from "./audit.ts";
import { Moderation, type RuleDefaults } from "./moderation.ts";
import { TemplateStore } from "./templates.ts";

/** The settings a store takes from the configuration. */
export type StoreConfig = Pick<
  Config,
  "DATABASE_URL" | "DATA_DIR" | "MAX_TEMPLATES_PER_USER" | "DAILY_QUOTA_PER_USER" | "DAILY_QUOTA_PER_SERVER" | "COOLDOWN_SECONDS" | "MAX_DAILY_QUOTA_PER_USER" | "MIN_COOLDOWN_SECONDS" | "NSFW_REQUIRED" | "MAX_NSFW_THRESHOLD" | "AUDIT_RETENTION_DAYS" | "DATABASE_POOL_SIZE" | "UNANSWERED_TIMEOUT_SECONDS"
>;

export interface StoreOptions {
  /**
   * The validated configuration (the composition root's, with its command-line overrides): unset options
   * come from it and the environment is not read again. Unset: loadConfig(), for CLI commands that pass nothing.
   */
  config?: StoreConfig;
  /** Default DATA_DIR: where the embedded SQLite file lives when no URL is given. */
  dataDir?: string;
  /** Default MAX_TEMPLATES_PER_USER (10). */
  maxTemplatesPerUser?: number;
  /** Defaults for servers that set none, and the owner's bounds; default DAILY_QUOTA_PER_USER, DAILY_QUOTA_PER_SERVER, COOLDOWN_SECONDS, MAX_DAILY_QUOTA_PER_USER, MIN_COOLDOWN_SECONDS, NSFW_REQUIRED, MAX_NSFW_THRESHOLD. */
  defaults?: Partial<Omit<RuleDefaults, "maxTemplatesPerUser">>;
  /** PostgreSQL connections in the pool; default DATABASE_POOL_SIZE (10). */
  poolSize?: number;
  /** Usage records older than this many days (at least 30) are deleted at start-up; default 90. */
  usageRetentionDays?: number;
  /** Audit trail rows older than this many days are deleted; default AUDIT_RETENTION_DAYS (30). */
  auditRetentionDays?: number;
  /** How long a use waits on its process, unrenewed, before it counts as abandoned; default UNANSWERED_TIMEOUT_SECONDS. */
  pendingTtlMs?: number;
  /** Clock in epoch ms (tests move time); default Date.now. */
  now?: () => number;
  /**
   * A running bot or playground: marks the store as in use while open, so a restore refuses to replace it.
   * { sole }: a bot, which also refuses to open (CONFIG) beside another bot it may not share the store with
   * (in-use.ts: "exclusive" for the in-process queue, "shared" for Redis mode's front ends).
   */
  markInUse?: boolean | { sole: SoleMode };
  /**
   * A running bot or playground (the composition root): deletes usage and audit rows past their retention now.
   * Off for the CLI's look-ups: one run without the bot's AUDIT_RETENTION_DAYS would delete what the bot keeps.
   */
  prune?: boolean;
  /**
   * Who reads the store's refusals: "chat" (a bot's or the playground's users, who can only tell the owner) or
   * "operator" (whoever runs a CLI command, who can act: e.g. free disk space). Default "operator"; the
   * composition root says "chat".
   */
  audience?: "chat" | "operator";
}

export interface Store {
  readonly dialect: DatabaseTarget["dialect"];
  /** "sqlite /path" or "postgres host/db schema s" (no password). */
  readonly description: string;
  /** Which store this is, across machines: the description, and for an SQLite file the machine it is on. */
  readonly identity: string;
  /** The SQLite database file (absent for PostgreSQL): where readiness looks for free disk space. */
  readonly file?: string;
  readonly templates: TemplateStore;
  readonly moderation: Moderation;
  readonly audit: AuditLog;
  close(): Promise<void>;
}

/** The store DATABASE_URL names: the given or configured one, else the embedded file in DATA_DIR. */
export function storeTarget(url?: string, dataDir?: string, cfg: Pick<Config, "DATABASE_URL" | "DATA_DIR"> = loadConfig()): DatabaseTarget {
  return resolveDatabaseTarget(url ?? cfg.DATABASE_URL, dataDir ?? cfg.DATA_DIR);
}

/** storeTarget, an SQLite file's folder created: migrations create the file, not its folder. */
export function configuredTarget(url?: string, dataDir?: string, cfg?: Pick<Config, "DATABASE_URL" | "DATA_DIR">): DatabaseTarget {
  const target = storeTarget(url, dataDir, cfg);
  if (target.dialect === "sqlite") {
    try {
      makeDir(dirname(target.path));
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? "";
      throw new MimicError("CONFIG", `Cannot create the data folder ${dirname(target.path)} (${code || String(cause)}): set DATA_DIR (or DATABASE_URL) to a folder Mimic may write to.`, { cause });
    }
  }
  return target;
}

/**
 * Opens the store and brings its schema up to date (committed migrations, applied in order).
 * `url`: DATABASE_URL (`file:…` SQLite, `postgresql://…[?schema=s]`); default: the configured one, else
 * `file:<DATA_DIR>/mimic.db`. Unset options come from the validated configuration.
 */
export async function openStore(url?: string, opts: StoreOptions = {}): Promise<Store> {
  const cfg = opts.config ?? loadConfig();
  const target = configuredTarget(url, opts.dataDir, cfg);
  // Before migrating: a second sole holder (a newer version, say) must not migrate the store under the first.
  const inUse = opts.markInUse ? await markStoreInUse(target, typeof opts.markInUse === "object" ? opts.markInUse : {}) : undefined;
  let applied: string[];
  try {
    applied = await migrate(target);
  } catch (e) {
    await inUse?.release({ discard: true });
    throw e;
  }
  if (applied.length) logger.info({ store: describeTarget(target), applied }, "store migrated");
  const poolSize = opts.poolSize ?? cfg.DATABASE_POOL_SIZE;
  const db: Db = createPrismaClient(target, { poolSize });
  const maxTemplatesPerUser = opts.maxTemplatesPerUser ?? cfg.MAX_TEMPLATES_PER_USER;
  const defaults: RuleDefaults = {
    dailyQuotaPerUser: opts.defaults?.dailyQuotaPerUser ?? cfg.DAILY_QUOTA_PER_USER,
    dailyQuotaPerServer: opts.defaults?.dailyQuotaPerServer ?? cfg.DAILY_QUOTA_PER_SERVER,
    cooldownSeconds: opts.defaults?.cooldownSeconds ?? cfg.COOLDOWN_SECONDS,
    maxTemplatesPerUser,
    maxDailyQuotaPerUser: opts.defaults?.maxDailyQuotaPerUser ?? cfg.MAX_DAILY_QUOTA_PER_USER,
    minCooldownSeconds: opts.defaults?.minCooldownSeconds ?? cfg.MIN_COOLDOWN_SECONDS,
    nsfwRequired: opts.defaults?.nsfwRequired ?? cfg.NSFW_REQUIRED,
    maxNsfwThreshold: opts.defaults?.maxNsfwThreshold ?? cfg.MAX_NSFW_THRESHOLD,
  };
  // SQLite's single connection must not interleave units of work (and other stores on the same file in
  // this process share the gate); pass-through on PostgreSQL.
  const audience = opts.audience ?? "operator";
  const gate = audience === "operator" ? toOperator(gateFor(target), target) : gateFor(target);
  const moderation = new Moderation(db, target.dialect, defaults, opts.now, gate, opts.pendingTtlMs ?? cfg.UNANSWERED_TIMEOUT_SECONDS * 1000);
  const blobs = openBlobReader(target, Math.min(FACE_READER_CONNECTIONS, poolSize));
  const audit = new AuditLog(db, opts.auditRetentionDays ?? cfg.AUDIT_RETENTION_DAYS, opts.now, gate);
  try {
    if (opts.prune) {
      const pruned = await moderation.pruneUsage(opts.usageRetentionDays);
      if (pruned) logger.info({ pruned }, "old usage records deleted");
      const prunedAudit = await audit.prune();
      if (prunedAudit) logger.info({ pruned: prunedAudit }, "old audit records deleted");
    }
  } catch (e) {
    // Start-up's first write: an up-to-date schema migrates without writing, so a read-only file shows here.
    await Promise.all([blobs.close(), db.$disconnect(), inUse?.release({ discard: true })]).catch(() => undefined);
    throw target.dialect === "sqlite" ? sqliteStartupError(e, target.path) : e;
  }
  let closed = false;
  return {
    dialect: target.dialect,
    description: describeTarget(target),
    // An SQLite file is its machine's own: the same path on two machines names two stores.
    identity: target.dialect === "sqlite" ? `${describeTarget(target)} on ${hostname()}` : describeTarget(target),
    ...(target.dialect === "sqlite" && { file: target.path }),
    templates: new TemplateStore(db, maxTemplatesPerUser, gate, blobs, opts.now),
    moderation,
    audit,
    async close() {
      if (closed) return;
      closed = true;
      await gate.last(async () => {
        // after the work already asked for (a unit waiting out another process's lock included)
        await blobs.close();
        await db.$disconnect();
      });
      await inUse?.release();
    },
  };
}

/** A gate whose full-disk and read-only refusals speak to the operator (who can act on them) instead of a chat user. */
function toOperator(gate: Gate, target: DatabaseTarget): Gate {
  const path = target.dialect === "sqlite" ? target.path : undefined;
  const reword = (e: unknown): never => {
    if (isStorageFull(e)) throw storageFull(e.cause, { path });
    // A CLI command does not write at opening (no prune): a read-only file shows at its first write, in the same words.
    // (Not a file moved under the store, which same-file.ts raises with SQLite's own code for it.)
    const code = sqliteCode(e) ?? "";
    if (path && code.startsWith("SQLITE_READONLY") && code !== "SQLITE_READONLY_DBMOVED") throw sqliteStartupError(e, path);
    throw e;
  };
  return {
    run: (work) => gate.run(work).catch(reword),
    write: (work) => gate.write(work).catch(reword),
    last: (work) => gate.last(work).catch(reword),
  };
}
