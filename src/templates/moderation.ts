/**
 * Per-server rules and the admission check the command core runs before queueing work.
 *
 * `admit()` is atomic: the quota and cooldown test and the recording of the use are ONE conditional
 * INSERT … SELECT … WHERE (count < quota AND no use within the cooldown). SQLite runs one writer at a
 * time, so that statement is serialised by the database itself (and in-process by the Prisma adapter);
 * on PostgreSQL (READ COMMITTED) two such statements could both see count = N-1, so the same transaction
 * first takes a transaction-scoped advisory lock on the server (or, in private chats, the user): each
 * statement then sees every use committed before it. Refusals say when to try again.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { MimicError } from "../errors.ts";
import { logger } from "../logger.ts";
import type { Db } from "./db/client.ts";
import { Prisma } from "../generated/sqlite/client.ts";
import { passThrough, type Gate } from "./db/gate.ts";
import { secondsUntilNextUtcDay, utcDay } from "./codec.ts";
import { DEFAULT_NSFW_THRESHOLD } from "../pipeline/safety/thresholds.ts";
import { checkIdentity } from "./names.ts";
import { capitalised, channelRef, eitherOf, placeWords } from "../places.ts";

/** Who asks, where. serverId/channelId are null in private chats. */
export interface Scope {
  platform: string;
  userId: string;
  serverId: string | null;
  channelId: string | null;
}

export interface ServerRef {
  platform: string;
  serverId: string;
}

/** The rules in force: the server's own settings over the configured defaults. 0 = unlimited / none. */
export interface Rules {
  enabled: boolean;
  disabledCommands: string[];
  /** Empty = every channel. */
  allowedChannels: string[];
  dailyQuotaPerUser: number;
  dailyQuotaPerServer: number;
  cooldownSeconds: number;
  maxTemplatesPerUser: number;
  /** Draw the visible "AI-edited" mark on outputs. */
  visibleMark: boolean;
  /** The NSFW gate is on, and refuses at this unsafe score. */
  nsfwFilter: boolean;
  nsfwThreshold: number;
  /** Swap mode allowed. */
  swapAllowed: boolean;
  /** Which of the numeric rules the server set itself (the others follow the configuration). */
  overridden: Array<"dailyQuotaPerUser" | "dailyQuotaPerServer" | "cooldownSeconds" | "maxTemplatesPerUser">;
}

export interface RuleDefaults {
  dailyQuotaPerUser: number;
  dailyQuotaPerServer: number;
  cooldownSeconds: number;
  maxTemplatesPerUser: number;
  /** The owner's bound on a user's daily quota wherever it is set (0: none): a server may not lift it, nor go unlimited. */
  maxDailyQuotaPerUser?: number;
  /** The owner's shortest cooldown: a server may not go below it. */
  minCooldownSeconds?: number;
  /** The owner keeps the NSFW check on everywhere: a server may not switch it off. */
  nsfwRequired?: boolean;
  /** The owner's highest NSFW threshold (the most lenient): a server may not set a higher one. */
  maxNsfwThreshold?: number;
}

/** A daily quota (0: unlimited) within the owner's bound (0: none). */
export function boundedQuota(quota: number, bound = 0): number {
  return bound > 0 && (quota === 0 || quota > bound) ? bound : quota;
}

/** A cooldown (s) no shorter than the owner's shortest. */
export const boundedCooldown = (seconds: number, floor = 0): number => Math.max(seconds, floor);

const commandName = z.string().regex(/^[a-z0-9_-]{1,32}$/, "command names are 1–32 of a-z 0-9 _ -");
const channelId = z.string().min(1).max(64);
const limit = (max: number) => z.number().int().min(0).max(max).nullable();

/** A change to a server's rules; omitted fields stay, null returns a number to the configured default. */
export const rulesPatchSchema = z
  .object({
    enabled: z.boolean(),
    disabledCommands: z.array(commandName).max(100),
    allowedChannels: z.array(channelId).max(200),
    dailyQuotaPerUser: limit(1_000_000),
    dailyQuotaPerServer: limit(100_000_000),
    cooldownSeconds: limit(86_400),
    maxTemplatesPerUser: z.number().int().min(1).max(1000).nullable(),
    visibleMark: z.boolean(),
    nsfwFilter: z.boolean(),
    nsfwThreshold: z.number().gt(0).max(1).nullable(),
    swapAllowed: z.boolean(),
  })
  .partial()
  .strict();
export type RulesPatch = z.infer<typeof rulesPatchSchema>;

/** One admitted use; refund() gives it back (the job failed through no fault of the user). Idempotent. */
export interface Admission {
  id: string;
  refund(): Promise<void>;
  /**
   * The answer exists (recorded, about to be sent): the use no longer depends on this process staying alive
   * (see Moderation.renewPending). Idempotent.
   */
  answered(): Promise<void>;
  /** Replaces the adapter's note (PendingNote.reply) while the use still waits on this process; a no-op after. */
  renote(reply: string): Promise<void>;
  /** This use becomes a refused picture (it still counts); false where forget-me marked it (give it back instead). */
  refused(reason: RefusalReason): Promise<boolean>;
}

/** Why a use became a refused picture: the NSFW gate, or a moving picture the job could not use (see Admission.refused). */
export type RefusalReason = "nsfw" | "input";

/** A use whose process died before answering: taken back from the store by takeAbandoned(). */
export interface AbandonedUse {
  userId: string;
  serverId: string | null;
  command: string;
  /** The adapter's own note of how to still tell the user (null where it left none). */
  reply: string | null;
  /** Its job in the shared queue (null where none was noted). */
  job: string | null;
}

/** What a use waiting on its process notes for whoever takes it for lost. */
export interface PendingNote {
  /** The adapter's own note of how to still tell the user (CommandContext.pendingReply). */
  reply?: string;
  /** The job's id in the shared queue, to take it out of the queue too. */
  job?: string;
}

/** How long an admitted use waits on its process by default before it counts as abandoned (UNANSWERED_TIMEOUT_SECONDS). */
export const DEFAULT_PENDING_TTL_MS = 60_000;

export interface UsageWindow {
  /** Every use, refused pictures and forgotten users' held uses included. */
  total: number;
  byCommand: Record<string, number>;
  /** Of total, the refused pictures (a forgotten user's too): the NSFW gate's, and moving pictures that could not be used. */
  refused: number;
  /** Of refused, those the NSFW gate refused. */
  explicit: number;
  /**
   * Each user's uses (count), of which `refused` were refused pictures. Users who asked to be
   * forgotten are not named: their held uses are only counted, in `forgotten`.
   */
  topUsers: Array<{ userId: string; count: number; refused: number }>;
  /**
   * The held uses of users who asked to be forgotten (see TemplateStore.forgetUser): how many, of which refused,
   * and how many users made memes (not only refused pictures) among them without making one under their own name
   * since (those are counted in topUsers).
   */
  forgotten: { count: number; refused: number; makers: number };
}

export interface UsageReport {
  today: UsageWindow;
  last30Days: UsageWindow;
}

export interface UserUsage {
  /** Every use counted today, refused pictures included (they count towards the quota). */
  usedToday: number;
  /** Of usedToday, the pictures the NSFW gate refused. */
  refusedToday: number;
  dailyQuota: number;
  cooldownRemainingSeconds: number;
  /** What a request would be told now, when a daily quota (the user's or the server's) is used up. */
  quotaReached?: string;
}

const NO_LIMIT = 2_147_483_647;
/** How a switched-off command is named to users (subject and verb), where its key is not a command they type. */
const COMMAND_NAMES: Record<string, string> = { animated: "Animated results (GIF reactions and morphs) are" };
/** Usage records are kept this many days (reports look back 30). */
export const USAGE_RETENTION_DAYS = 90;

/** A refused picture (the NSFW gate's, or a moving picture that could not be used) is recorded under this command prefix (see Admission.refused, recordRefusal). */
const REFUSED = "refused_";

/** Marks a forgotten user's recent use (see forgetUser); quotas and cooldowns count every row, whatever its command. */
export const FORGOTTEN = "forgotten:";
/** The SET clause that ends a use's wait on its process (it counts as answered): answered(), a refusal, an audit record. */
export const NOT_PENDING = Prisma.raw("pending_by = NULL, pending_until_ms = NULL, pending_reply = NULL, pending_job = NULL");
/** How long a forgotten user's uses are held: the longest window a quota (a UTC day) or cooldown (≤ 24 h) reads. */
export const FORGOTTEN_HOLD_MS = 86_400_000;

/** Refused pictures, a forgotten user's included (forgetUser prefixes their command with FORGOTTEN). */
const REFUSED_ROWS = { OR: [{ command: { startsWith: REFUSED } }, { command: { startsWith: `${FORGOTTEN}${REFUSED}` } }] };

/** Deletes forgotten users' held uses once they are a day old; returns how many. */
export async function pruneForgottenUsage(db: Pick<Db, "usageEvent">, now: number): Promise<number> {
  return (await db.usageEvent.deleteMany({ where: { command: { startsWith: FORGOTTEN }, atMs: { lt: BigInt(now - FORGOTTEN_HOLD_MS) } } })).count;
}

/** How often admissions prune forgotten users' held uses (see TemplateStore.forgetUser). */
const FORGOTTEN_PRUNE_EVERY_MS = 3_600_000;

export class Moderation {
  constructor(
    private readonly db: Db,
    private readonly dialect: "sqlite" | "postgres",
    readonly defaults: RuleDefaults,
    private readonly now: () => number = Date.now,
    /** Serialises units of work on SQLite (see db/gate.ts). */
    private readonly gate: Gate = passThrough,
    /** How long a use waits on this process unrenewed before another may take it for abandoned. */
    readonly pendingTtlMs: number = DEFAULT_PENDING_TTL_MS,
  ) {}

  /** This process's mark on the uses whose answers it is making (usage_events.pending_by). */
  readonly holder = randomUUID();

  /**
   * "Now" for the pending marks: the database's own clock, which every process shares whatever its machine's
   * clock says (a skewed one must not take live requests for lost); the test clock where a test moves time.
   */
  private pendingNow(): Prisma.Sql {
    if (this.now !== Date.now) return Prisma.sql`CAST(${this.now()} AS BIGINT)`;
    return this.dialect === "postgres"
      ? Prisma.sql`CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`
      : Prisma.sql`CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`;
  }

  /** The rules in force on a server (configured defaults in private chats: serverId null). */
  rules(platform: string, serverId: string | null): Promise<Rules> {
    return this.gate.run(() => this.readRules(platform, serverId));
  }

  private async readRules(platform: string, serverId: string | null, db: Pick<Db, "$queryRaw"> = this.db): Promise<Rules> {
    if (serverId === null) return this.toRules(null);
    const [row] = await db.$queryRaw<SettingsRow[]>`
      SELECT server_settings.id, enabled, disabled_commands, allowed_channels, daily_quota_per_user, daily_quota_per_server,
        cooldown_seconds, max_templates_per_user, visible_mark, nsfw_filter, nsfw_threshold, swap_allowed
      FROM server_settings WHERE platform = ${platform} AND server_id = ${serverId}`;
    return this.toRules(row ?? null);
  }

  /** The rules and whether the user is banned, in one statement (the admission path's first). */
  private async readRulesAndBan(scope: Scope): Promise<{ rules: Rules; banned: boolean }> {
    if (scope.serverId === null) return { rules: this.toRules(null), banned: false };
    const [row] = await this.db.$queryRaw<Array<Partial<SettingsRow> & { banned: number | bigint }>>`
      SELECT server_settings.id, enabled, disabled_commands, allowed_channels, daily_quota_per_user, daily_quota_per_server,
        cooldown_seconds, max_templates_per_user, visible_mark, nsfw_filter, nsfw_threshold, swap_allowed,
        (SELECT COUNT(*) FROM bans WHERE platform = ${scope.platform} AND server_id = ${scope.serverId} AND platform_user_id = ${scope.userId}) AS banned
      FROM (SELECT 1 AS one) AS anchor
      LEFT JOIN server_settings ON platform = ${scope.platform} AND server_id = ${scope.serverId}`;
    return { rules: this.toRules(row?.id == null ? null : (row as SettingsRow)), banned: Number(row?.banned ?? 0) > 0 };
  }

  private toRules(row: SettingsRow | null): Rules {
    const d = this.defaults;
    const n = (v: number | bigint | null | undefined) => (v === null || v === undefined ? null : Number(v));
    const own = row
      ? {
          dailyQuotaPerUser: n(row.daily_quota_per_user),
          dailyQuotaPerServer: n(row.daily_quota_per_server),
          cooldownSeconds: n(row.cooldown_seconds),
          maxTemplatesPerUser: n(row.max_templates_per_user),
        }
      : null;
    return {
      enabled: row ? bool(row.enabled) : true,
      disabledCommands: row ? parseList(row.disabled_commands) : [],
      allowedChannels: row ? parseList(row.allowed_channels) : [],
      // The owner's bounds hold over what a server set before they were made.
      dailyQuotaPerUser: boundedQuota(own?.dailyQuotaPerUser ?? d.dailyQuotaPerUser, d.maxDailyQuotaPerUser),
      dailyQuotaPerServer: own?.dailyQuotaPerServer ?? d.dailyQuotaPerServer,
      cooldownSeconds: boundedCooldown(own?.cooldownSeconds ?? d.cooldownSeconds, d.minCooldownSeconds),
      // A server may lower the configured maximum, never raise it.
      maxTemplatesPerUser: Math.min(own?.maxTemplatesPerUser ?? d.maxTemplatesPerUser, d.maxTemplatesPerUser),
      visibleMark: row ? bool(row.visible_mark) : false,
      nsfwFilter: d.nsfwRequired === true || (row ? bool(row.nsfw_filter) : true),
      nsfwThreshold: Math.min(n(row?.nsfw_threshold) ?? DEFAULT_NSFW_THRESHOLD, d.maxNsfwThreshold ?? 1),
      swapAllowed: row ? bool(row.swap_allowed) : true,
      overridden: own ? (["dailyQuotaPerUser", "dailyQuotaPerServer", "cooldownSeconds", "maxTemplatesPerUser"] as const).filter((k) => own[k] !== null) : [],
    };
  }

  /**
   * Changes a server's rules. `isAdmin` is decided by the adapter (Discord: Manage Server permission;
   * Telegram: chat administrator); anyone else gets FORBIDDEN. `patch` may be a function of the rules in force:
   * it is then called inside the write, with the server's row locked (PostgreSQL: a row lock; SQLite: the write
   * lock), so a change that depends on the current value (adding to a list) cannot lose another admin's change
   * made at the same moment. What it throws is thrown, and nothing is changed. Returns the rules after the change.
   */
  async updateRules(server: ServerRef & { isAdmin: boolean }, patch: RulesPatch | ((current: Rules) => RulesPatch)): Promise<Rules> {
    requireAdmin(server);
    checkServer(server);
    // A fixed patch is checked before anything is written.
    const fixed = typeof patch === "function" ? undefined : settingsData(patch);
    return this.exclusive(() =>
      this.db.$transaction(async (tx) => {
        await tx.$executeRaw`INSERT INTO server_settings (platform, server_id, updated_at) VALUES (${server.platform}, ${server.serverId}, CURRENT_TIMESTAMP)
          ON CONFLICT (platform, server_id) DO NOTHING`;
        // The row is locked before it is read: a change made at the same moment waits here until this one committed.
        await tx.$executeRaw`UPDATE server_settings SET platform = platform WHERE platform = ${server.platform} AND server_id = ${server.serverId}`;
        const data = fixed ?? settingsData((patch as (current: Rules) => RulesPatch)(await this.readRules(server.platform, server.serverId, tx)));
        await tx.serverSettings.update({ where: { platform_serverId: { platform: server.platform, serverId: server.serverId } }, data });
        return this.readRules(server.platform, server.serverId, tx);
      }),
    );
  }

  /** Returns true when the user was not banned before; false when they already were (nothing changed). */
  async ban(server: ServerRef & { isAdmin: boolean }, userId: string, reason?: string): Promise<boolean> {
    requireAdmin(server);
    checkServer(server);
    checkIdentity(server.platform, userId);
    const inserted = await this.exclusive(
      () => this.db.$executeRaw`INSERT INTO bans (platform, server_id, platform_user_id, reason) VALUES (${server.platform}, ${server.serverId}, ${userId}, ${reason?.slice(0, 200) ?? null})
        ON CONFLICT (platform, server_id, platform_user_id) DO NOTHING`,
    );
    return inserted > 0;
  }

  /** Returns whether the user was banned. */
  async unban(server: ServerRef & { isAdmin: boolean }, userId: string): Promise<boolean> {
    requireAdmin(server);
    checkServer(server);
    const r = await this.exclusive(() => this.db.ban.deleteMany({ where: { platform: server.platform, serverId: server.serverId, platformUserId: userId } }));
    return r.count > 0;
  }

  async bans(server: ServerRef & { isAdmin: boolean }): Promise<Array<{ userId: string; reason: string | null; since: Date }>> {
    requireAdmin(server);
    const rows = await this.gate.run(() => this.db.ban.findMany({ where: { platform: server.platform, serverId: server.serverId }, orderBy: { id: "asc" } }));
    return rows.map((b) => ({ userId: b.platformUserId, reason: b.reason, since: b.createdAt }));
  }

  /**
   * A chat whose id changed (Telegram upgrades a group to a supergroup under a new id): its rules, bans, uses
   * and audit rows follow it, so nothing an admin set is lost. Settings already made under the new id win;
   * moving twice (both service messages arrive) finds nothing left the second time. Returns whether anything moved.
   */
  async moveServer(platform: string, from: string, to: string): Promise<boolean> {
    checkServer({ platform, serverId: from });
    checkServer({ platform, serverId: to });
    if (from === to) return false;
    return this.exclusive(() =>
      this.db.$transaction(async (tx) => {
        const key = (serverId: string) => ({ platform_serverId: { platform, serverId } });
        const old = await tx.serverSettings.findUnique({ where: key(from), select: { id: true, allowedChannels: true } });
        if (old && (await tx.serverSettings.count({ where: { platform, serverId: to } })) === 0) {
          // On Telegram the chat is also its only channel: an allow-list naming the old id names the new one.
          const channels = parseList(old.allowedChannels).map((c) => (c === from ? to : c));
          await tx.serverSettings.update({ where: { id: old.id }, data: { serverId: to, allowedChannels: JSON.stringify(channels) } });
        } else if (old) {
          await tx.serverSettings.delete({ where: { id: old.id } });
        }
        await tx.$executeRaw`INSERT INTO bans (platform, server_id, platform_user_id, reason, created_at)
          SELECT platform, ${to}, platform_user_id, reason, created_at FROM bans WHERE platform = ${platform} AND server_id = ${from}
          ON CONFLICT (platform, server_id, platform_user_id) DO NOTHING`;
        const bans = await tx.ban.deleteMany({ where: { platform, serverId: from } });
        const uses = await tx.usageEvent.updateMany({ where: { platform, serverId: from }, data: { serverId: to } });
        await tx.auditEvent.updateMany({ where: { platform, serverId: from, channelId: from }, data: { channelId: to } });
        const audit = await tx.auditEvent.updateMany({ where: { platform, serverId: from }, data: { serverId: to } });
        return old !== null || bans.count + uses.count + audit.count > 0;
      }),
    );
  }

  /**
   * The non-counting part of admission: bot and command enabled, channel allowed, user not banned.
   * Throws DISABLED or FORBIDDEN with a message saying why. Returns the rules in force.
   */
  /**
   * The refusals admit() would give, counting nothing: switched off, banned, another channel; with `limits`, also
   * a used-up quota or a cooldown (read as they stand now; admit() decides atomically).
   */
  async check(scope: Scope, command: string, opts: { limits?: boolean; swap?: boolean } = {}): Promise<Rules> {
    checkIdentity(scope.platform, scope.userId);
    return this.gate.run(async () => {
      const rules = await this.checkNow(scope, command);
      if (opts.swap && !rules.swapAllowed) throw swapOff(scope.platform);
      const refused = opts.limits ? await this.refusal(scope, rules, this.now()) : null;
      if (refused) throw refused;
      return rules;
    });
  }

  private async checkNow(scope: Scope, command: string): Promise<Rules> {
    const { rules, banned } = await this.readRulesAndBan(scope);
    const { thisPlace, inPlace, channel } = placeWords(scope.platform);
    if (banned) throw new MimicError("FORBIDDEN", `An admin of ${thisPlace} has blocked you from using Mimic here.`);
    if (!rules.enabled) throw new MimicError("DISABLED", `Mimic is switched off ${inPlace}. An admin can turn it back on.`);
    if (rules.disabledCommands.includes(command)) {
      throw new MimicError("DISABLED", `${COMMAND_NAMES[command] ?? `The ${command} command is`} switched off ${inPlace}.`);
    }
    if (scope.channelId !== null && rules.allowedChannels.length > 0 && !rules.allowedChannels.includes(scope.channelId)) {
      throw new MimicError("FORBIDDEN", `Mimic doesn't answer in this ${channel} here. ${whereToAsk(scope, rules.allowedChannels)}`, {
        details: { allowedChannels: rules.allowedChannels },
      });
    }
    return rules;
  }

  /**
   * check() + the atomic quota/cooldown test, recording one use of `command` when admitted.
   * Throws QUOTA_EXCEEDED / COOLDOWN with retryAfterSeconds.
   */
  async admit(scope: Scope, command: string, pending: PendingNote = {}): Promise<Admission> {
    checkIdentity(scope.platform, scope.userId);
    // A writing unit as a whole (rules, ban, the conditional insert): on a transient conflict it is tried again
    // from the rules on; the insert is one statement, so a failed attempt recorded nothing.
    const admission = await this.exclusive(() => this.admitNow(scope, command, pending));
    // A forgotten user's held uses go once a day old, checked at most hourly while the bot is in use.
    const now = this.now();
    if (now - this.lastForgottenPrune >= FORGOTTEN_PRUNE_EVERY_MS) {
      this.lastForgottenPrune = now;
      await this.exclusive(() => pruneForgottenUsage(this.db, now));
    }
    return admission;
  }

  private lastForgottenPrune = Number.NEGATIVE_INFINITY;

  private async admitNow(scope: Scope, command: string, pending: PendingNote): Promise<Admission> {
    const rules = await this.checkNow(scope, command);
    const serverId = scope.serverId ?? "";
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.now();
      const day = utcDay(now);
      const userQuota = rules.dailyQuotaPerUser || NO_LIMIT;
      const serverQuota = scope.serverId === null ? NO_LIMIT : rules.dailyQuotaPerServer || NO_LIMIT;
      const since = rules.cooldownSeconds > 0 ? now - rules.cooldownSeconds * 1000 : Number.MAX_SAFE_INTEGER;
      const p = scope.platform;
      const u = scope.userId;
      const until = Prisma.sql`${this.pendingNow()} + ${this.pendingTtlMs}`;
      const insert = () => this.db.$queryRaw<Array<{ id: number | bigint }>>`
        INSERT INTO usage_events (platform, server_id, platform_user_id, command, at_ms, day, pending_by, pending_until_ms, pending_reply, pending_job)
        SELECT CAST(${p} AS TEXT), CAST(${serverId} AS TEXT), CAST(${u} AS TEXT), CAST(${command} AS TEXT), CAST(${now} AS BIGINT), CAST(${day} AS INTEGER),
          CAST(${this.holder} AS TEXT), ${until}, CAST(${pending.reply ?? null} AS TEXT), CAST(${pending.job ?? null} AS TEXT)
        WHERE (SELECT COUNT(*) FROM usage_events WHERE platform = ${p} AND server_id = ${serverId} AND platform_user_id = ${u} AND day = ${day}) < ${userQuota}
          AND (SELECT COUNT(*) FROM usage_events WHERE platform = ${p} AND server_id = ${serverId} AND day = ${day}) < ${serverQuota}
          AND NOT EXISTS (SELECT 1 FROM usage_events WHERE platform = ${p} AND server_id = ${serverId} AND platform_user_id = ${u} AND at_ms > ${since})
        RETURNING id`;
      let rows: Array<{ id: number | bigint }>;
      if (this.dialect === "postgres") {
        const lockKey = hash32(`${p}\u0000${scope.serverId ?? `dm\u0000${u}`}`);
        [, rows] = await this.db.$transaction([this.db.$executeRaw`SELECT pg_advisory_xact_lock(${lockKey})`, insert()]);
      } else {
        rows = await insert();
      }
      if (rows.length === 1) {
        const id = Number(rows[0].id);
        let refunded = false;
        return {
          id: String(id),
          // Marked done only once the delete succeeded: a refund that failed (the database unreachable) can be
          // tried again. Deleting the same row twice is harmless.
          refund: async () => {
            if (refunded) return;
            await this.exclusive(() => this.db.$executeRaw`DELETE FROM usage_events WHERE id = ${id} AND platform = ${p} AND platform_user_id = ${u}`);
            refunded = true;
          },
          answered: async () => {
            const marked = await this.clearPending(Prisma.sql`id = ${id}`);
            // Taken for lost meanwhile (this process cut off from the database too long): its user was told to send it again.
            if (marked === 0) logger.warn({ use: id }, "a use answered here had already been given back by another process");
          },
          // The NSFW gate refused the job (or its moving picture could not be used): this use becomes the refused
          // picture in one write, so no request of the user's slips in between over the quota. A use forget-me
          // marked is left alone (false): it is given back.
          refused: async (reason) => {
            const changed = await this.exclusive(
              () => this.db.$executeRaw`UPDATE usage_events SET command = CAST(${`${REFUSED}${reason}`} AS TEXT), ${NOT_PENDING}
                WHERE id = ${id} AND platform = ${p} AND platform_user_id = ${u} AND command NOT LIKE CAST(${`${FORGOTTEN}%`} AS TEXT)`,
            );
            return changed === 1;
          },
          renote: async (reply) => {
            await this.exclusive(
              () => this.db.$executeRaw`UPDATE usage_events SET pending_reply = CAST(${reply} AS TEXT) WHERE id = ${id} AND pending_by = ${this.holder}`,
            );
          },
        };
      }
      const refusal = await this.refusal(scope, rules, now);
      if (refusal) throw refusal;
      // Nothing is over its limit any more (a use was refunded, or the day just turned): try again.
    }
    throw new MimicError("BUSY", "Too many requests at once. Please try again in a few seconds.", { retryAfterSeconds: 5 });
  }

  /**
   * This process is alive: the uses whose answers it is still making wait on it another pendingTtlMs. Called
   * every third of that (src/core/abandoned.ts). Returns how many it renewed.
   */
  renewPending(): Promise<number> {
    return this.exclusive(
      () => this.db.$executeRaw`UPDATE usage_events SET pending_until_ms = ${this.pendingNow()} + ${this.pendingTtlMs}
        WHERE pending_until_ms IS NOT NULL AND pending_by = ${this.holder}`,
    );
  }

  /**
   * A graceful stop, once its replies went out: what this process still holds counts as answered (a refund or an
   * answered() that could not be written and is still being retried), so nobody apologises for it after a restart.
   */
  releasePending(): Promise<number> {
    return this.clearPending(Prisma.sql`pending_until_ms IS NOT NULL`);
  }

  /** Ends the wait of this process's uses `which` selects: they count as answered. Returns how many. */
  private clearPending(which: Prisma.Sql): Promise<number> {
    return this.exclusive(
      () => this.db.$executeRaw`UPDATE usage_events SET ${NOT_PENDING} WHERE pending_by = ${this.holder} AND ${which}`,
    );
  }

  /**
   * Gives back, on one platform, the uses whose process stopped renewing them (killed, crashed, cut off from the
   * database for longer than pendingTtlMs) and returns them, so their users can be told. Each is taken once,
   * whichever process asks: the delete is the claim. Never this process's own: alive, it answers them itself
   * (its renewals may have failed for a while, the database busy or away).
   */
  async takeAbandoned(platform: string): Promise<AbandonedUse[]> {
    const rows = await this.exclusive(
      () => this.db.$queryRaw<Array<{ platform_user_id: string; server_id: string; command: string; pending_reply: string | null; pending_job: string | null }>>`
        DELETE FROM usage_events WHERE pending_until_ms < ${this.pendingNow()} AND platform = ${platform} AND pending_by <> ${this.holder}
        RETURNING platform_user_id, server_id, command, pending_reply, pending_job`,
    );
    return rows.map((r) => ({ userId: r.platform_user_id, serverId: r.server_id || null, command: r.command, reply: r.pending_reply, job: r.pending_job }));
  }

  /**
   * Records a request the NSFW gate refused that held no use (a face save), as a usage event of its own
   * ("refused_nsfw"): it shows in the server's usage report, and it counts as a use (quota and cooldown), which
   * slows down anyone probing. A refused meme's own use becomes its refusal instead (Admission.refused).
   */
  async recordRefusal(scope: Scope, reason: RefusalReason): Promise<void> {
    checkIdentity(scope.platform, scope.userId);
    const now = this.now();
    await this.exclusive(() =>
      this.db.usageEvent.create({
        data: { platform: scope.platform, serverId: scope.serverId ?? "", platformUserId: scope.userId, command: `${REFUSED}${reason}`, atMs: BigInt(now), day: utcDay(now) },
      }),
    );
  }

  /** The caller's own standing: uses today, the quota that applies, cooldown left. */
  userUsage(scope: Scope): Promise<UserUsage> {
    return this.gate.run(() => this.userUsageNow(scope));
  }

  private async userUsageNow(scope: Scope): Promise<UserUsage> {
    const rules = await this.readRules(scope.platform, scope.serverId);
    const now = this.now();
    const serverId = scope.serverId ?? "";
    const where = { platform: scope.platform, serverId, platformUserId: scope.userId };
    const [usedToday, refusedToday, last] = await Promise.all([
      this.db.usageEvent.count({ where: { ...where, day: utcDay(now) } }),
      this.db.usageEvent.count({ where: { ...where, day: utcDay(now), ...REFUSED_ROWS } }),
      this.db.usageEvent.findFirst({ where, orderBy: { atMs: "desc" }, select: { atMs: true } }),
    ]);
    const readyAt = last ? Number(last.atMs) + rules.cooldownSeconds * 1000 : 0;
    // The quota message as a refusal would give it (its wait counts a cooldown outlasting the reset).
    const refused = await this.refusal(scope, rules, now);
    const quota = refused?.code === "QUOTA_EXCEEDED" ? refused : null;
    return {
      usedToday,
      refusedToday,
      dailyQuota: rules.dailyQuotaPerUser,
      cooldownRemainingSeconds: Math.max(0, Math.ceil((readyAt - now) / 1000)),
      ...(quota && { quotaReached: quota.userMessage }),
    };
  }

  /** Today's (UTC) and the last 30 days' uses on a server: by command and the top users. Admins only. */
  async usageReport(server: ServerRef & { isAdmin: boolean }, opts: { topUsers?: number } = {}): Promise<UsageReport> {
    requireAdmin(server);
    checkServer(server);
    const today = utcDay(this.now());
    const window = async (fromDay: number): Promise<UsageWindow> => {
      const where = { platform: server.platform, serverId: server.serverId, day: { gte: fromDay } };
      // A user who asked to be forgotten is not named: their held uses are counted apart.
      const named = { ...where, NOT: { command: { startsWith: FORGOTTEN } } };
      const forgottenRows = { ...where, command: { startsWith: FORGOTTEN } };
      const [byCommand, byUser, refusedByUser, forgottenUsers] = await Promise.all([
        this.db.usageEvent.groupBy({ by: ["command"], where, _count: { _all: true } }),
        this.db.usageEvent.groupBy({
          by: ["platformUserId"],
          where: named,
          _count: { platformUserId: true },
          orderBy: [{ _count: { platformUserId: "desc" } }, { platformUserId: "asc" }],
          take: opts.topUsers ?? 10,
        }),
        this.db.usageEvent.groupBy({ by: ["platformUserId"], where: { ...named, command: { startsWith: REFUSED } }, _count: { _all: true } }),
        this.db.usageEvent.groupBy({ by: ["platformUserId"], where: { ...forgottenRows, NOT: { command: { startsWith: `${FORGOTTEN}${REFUSED}` } } }, _count: { _all: true } }),
      ]);
      const commands: Record<string, number> = {};
      for (const c of byCommand) commands[c.command] = c._count._all;
      const refused = new Map(refusedByUser.map((r) => [r.platformUserId, r._count._all]));
      const sum = (pick: (command: string) => boolean) => Object.entries(commands).reduce((a, [c, n]) => a + (pick(c) ? n : 0), 0);
      const isRefused = (c: string) => c.startsWith(REFUSED) || c.startsWith(`${FORGOTTEN}${REFUSED}`);
      return {
        total: sum(() => true),
        byCommand: commands,
        refused: sum(isRefused),
        explicit: sum((c) => c === `${REFUSED}nsfw` || c === `${FORGOTTEN}${REFUSED}nsfw`),
        topUsers: byUser.map((r) => ({ userId: r.platformUserId, count: r._count.platformUserId, refused: refused.get(r.platformUserId) ?? 0 })),
        forgotten: {
          count: sum((c) => c.startsWith(FORGOTTEN)),
          refused: sum((c) => c.startsWith(`${FORGOTTEN}${REFUSED}`)),
          // One who made a meme again since is named in topUsers (when listed there), and not counted twice.
          makers: forgottenUsers.filter((f) => !byUser.some((r) => r.platformUserId === f.platformUserId && r._count.platformUserId > (refused.get(r.platformUserId) ?? 0))).length,
        },
      };
    };
    const [todayWindow, last30Days] = await this.gate.run(() => Promise.all([window(today), window(today - 29)]));
    return { today: todayWindow, last30Days };
  }

  /**
   * Deletes usage records older than `keepDays` UTC days (they are personal data, and only the last 30
   * days are ever reported). openStore runs it when a bot or the playground starts (its prune option). Returns how many were deleted.
   */
  async pruneUsage(keepDays = USAGE_RETENTION_DAYS): Promise<number> {
    const oldest = utcDay(this.now()) - Math.max(30, keepDays) + 1;
    const old = (await this.exclusive(() => this.db.usageEvent.deleteMany({ where: { day: { lt: oldest } } }))).count;
    this.lastForgottenPrune = this.now();
    return old + (await this.exclusive(() => pruneForgottenUsage(this.db, this.lastForgottenPrune)));
  }

  /** A write unit: queued on SQLite, retried whole on transient conflicts (see db/gate.ts). */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.write(work);
  }

  /** Why an admission was refused, read after the fact; null when nothing is over its limit now. */
  private async refusal(scope: Scope, rules: Rules, now: number): Promise<MimicError | null> {
    const serverId = scope.serverId ?? "";
    const day = utcDay(now);
    const p = scope.platform;
    const u = scope.userId;
    // One statement: the user's last use, their uses today and the server's uses today.
    const [counts] = await this.db.$queryRaw<Array<{ last_at: number | bigint | null; user_today: number | bigint; server_today: number | bigint }>>`
      SELECT
        (SELECT MAX(at_ms) FROM usage_events WHERE platform = ${p} AND server_id = ${serverId} AND platform_user_id = ${u}) AS last_at,
        (SELECT COUNT(*) FROM usage_events WHERE platform = ${p} AND server_id = ${serverId} AND platform_user_id = ${u} AND day = ${day}) AS user_today,
        (SELECT COUNT(*) FROM usage_events WHERE platform = ${p} AND server_id = ${serverId} AND day = ${day}) AS server_today`;
    const cooldownWait =
      rules.cooldownSeconds > 0 && counts.last_at !== null ? Math.ceil((Number(counts.last_at) + rules.cooldownSeconds * 1000 - now) / 1000) : 0;
    // A used-up quota is said first: a cooldown ending before the reset would promise a refused retry.
    // Its wait is the later of the reset and the cooldown's end (a long cooldown may outlast midnight).
    const untilTomorrow = secondsUntilNextUtcDay(now);
    const wait = Math.max(untilTomorrow, cooldownWait);
    // Discord shows a timestamp in each reader's own time zone; elsewhere the reset is said in UTC.
    const resetAt = scope.platform === "discord" ? `<t:${(utcDay(now) + 1) * 86_400}:t>` : "00:00 UTC";
    const when = wait === untilTomorrow ? `${formatWait(wait)} (at ${resetAt})` : formatWait(wait);
    if (rules.dailyQuotaPerUser > 0 && Number(counts.user_today) >= rules.dailyQuotaPerUser) {
      return new MimicError("QUOTA_EXCEEDED", `You've used ${todaysMemes(rules.dailyQuotaPerUser, "your")} here. More in ${when}.`, {
        retryAfterSeconds: wait,
        details: { scope: "user", quota: rules.dailyQuotaPerUser },
      });
    }
    if (scope.serverId !== null && rules.dailyQuotaPerServer > 0 && Number(counts.server_today) >= rules.dailyQuotaPerServer) {
      return new MimicError("QUOTA_EXCEEDED", `${capitalised(placeWords(scope.platform).thisPlace)} has used ${todaysMemes(rules.dailyQuotaPerServer, "its")}. More in ${when}.`, {
        retryAfterSeconds: wait,
        details: { scope: "server", quota: rules.dailyQuotaPerServer },
      });
    }
    if (cooldownWait > 0) {
      return new MimicError("COOLDOWN", `Slow down a little: you can make the next one in ${formatWait(cooldownWait)}.`, { retryAfterSeconds: cooldownWait });
    }
    return null;
  }
}

/** server_settings as raw SQL returns it (SQLite: booleans as 0/1; PostgreSQL: COUNT and BIGINT as bigint). */
interface SettingsRow {
  id: number;
  enabled: boolean | number;
  disabled_commands: string;
  allowed_channels: string;
  daily_quota_per_user: number | bigint | null;
  daily_quota_per_server: number | bigint | null;
  cooldown_seconds: number | bigint | null;
  max_templates_per_user: number | bigint | null;
  visible_mark: boolean | number;
  nsfw_filter: boolean | number;
  nsfw_threshold: number | null;
  swap_allowed: boolean | number;
}

/** A rules patch, checked, as the server_settings columns it changes. BAD_INPUT when it is not valid. */
function settingsData(patch: RulesPatch) {
  const parsed = rulesPatchSchema.safeParse(patch);
  if (!parsed.success) {
    throw new MimicError("BAD_INPUT", `That setting is not valid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const p = parsed.data;
  return {
    ...(p.enabled !== undefined && { enabled: p.enabled }),
    ...(p.disabledCommands !== undefined && { disabledCommands: JSON.stringify([...new Set(p.disabledCommands)].sort()) }),
    ...(p.allowedChannels !== undefined && { allowedChannels: JSON.stringify([...new Set(p.allowedChannels)]) }),
    ...(p.dailyQuotaPerUser !== undefined && { dailyQuotaPerUser: p.dailyQuotaPerUser }),
    ...(p.dailyQuotaPerServer !== undefined && { dailyQuotaPerServer: p.dailyQuotaPerServer }),
    ...(p.cooldownSeconds !== undefined && { cooldownSeconds: p.cooldownSeconds }),
    ...(p.maxTemplatesPerUser !== undefined && { maxTemplatesPerUser: p.maxTemplatesPerUser }),
    ...(p.visibleMark !== undefined && { visibleMark: p.visibleMark }),
    ...(p.nsfwFilter !== undefined && { nsfwFilter: p.nsfwFilter }),
    ...(p.nsfwThreshold !== undefined && { nsfwThreshold: p.nsfwThreshold }),
    ...(p.swapAllowed !== undefined && { swapAllowed: p.swapAllowed }),
  };
}

/** Allowed channels a refusal names before it only counts them. */
const CHANNELS_NAMED = 3;

/** Where to ask instead, naming the allowed channels (topics) as the platform shows them: a few, then how many there are. */
function whereToAsk(scope: Scope, allowed: readonly string[]): string {
  const { channel } = placeWords(scope.platform);
  const named = allowed.slice(0, CHANNELS_NAMED).map((id) => channelRef(scope.platform, scope.serverId, id));
  if (allowed.length <= CHANNELS_NAMED) return `Ask in ${eitherOf(named)}.`;
  return `Ask in one of the ${allowed.length} ${channel}s the admins allowed, such as ${eitherOf(named)}.`;
}

/** A swap asked for where the admins switched swaps off (details.reason "swap" tells it from a ban). */
export function swapOff(platform: string): MimicError {
  return new MimicError("FORBIDDEN", `Swap mode is switched off ${placeWords(platform).inPlace}. Try the default mode (your own photo wearing the expression).`, {
    details: { reason: "swap" },
  });
}

/** "all 5 of today's memes", or "your one meme for today" (whose: the user's "your", a place's "its"). */
const todaysMemes = (quota: number, whose: "your" | "its"): string => (quota === 1 ? `${whose} one meme for today` : `all ${quota} of today's memes`);

const bool = (v: boolean | number | bigint): boolean => v === true || Number(v) === 1;

function requireAdmin(server: ServerRef & { isAdmin: boolean }): void {
  if (!server.isAdmin) throw new MimicError("FORBIDDEN", `Only ${placeWords(server.platform).admins} can change Mimic's settings.`);
}

function checkServer(s: ServerRef): void {
  if (!s.serverId || s.serverId.length > 128) throw new MimicError("BAD_INPUT", "This only works in a server or group, not in a private chat.");
}

function parseList(json: string): string[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

/** A stored length of time as set (a cooldown), exactly: "1 min 30 s", "2 h", "45 s" (formatWait rounds up, for waits). */
export function formatDuration(seconds: number): string {
  const parts = [
    [Math.floor(seconds / 3600), "h"],
    [Math.floor((seconds % 3600) / 60), "min"],
    [seconds % 60, "s"],
  ] as const;
  return parts.filter(([n]) => n > 0).map(([n, unit]) => `${n} ${unit}`).join(" ") || "0 s";
}

export function formatWait(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** FNV-1a, as a signed 32-bit integer (the advisory lock key). */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}
