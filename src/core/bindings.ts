import { echoed, isMimicError, MimicError } from "../errors.ts";
import { capitalised, channelRef, placeWords, serverWord, userRef } from "../places.ts";
import { boundedCooldown, boundedQuota, FORGOTTEN, formatDuration, type Rules } from "../templates/moderation.ts";
import type { Store } from "../templates/store.ts";
import type { EnrolledTemplate } from "../templates/templates.ts";
import type { AuditPort, JobKind, ModerationPort, NumericSetting, PlaceFacts, Scope, ServerSettings, SettingKey, SettingOutcome, TemplatePort } from "./ports.ts";

/**
 * Binds the Prisma store (src/templates) to the core's ports. The store owns every rule (names,
 * limits, atomic quota/cooldown); this only translates shapes and maps the core's setting keys onto
 * the store's rule patch.
 */

/** Commands as the store counts and switches them off per server (disabledCommands). */
const ANIMATED_COMMAND = "animated";
/** The command a job kind counts as; saving a face ("face") is moderated but never uses up the meme quota. */
const commandOf = (kind: JobKind) => (kind === "animated" ? ANIMATED_COMMAND : kind === "enrol" ? "face" : "meme");
/** The kind of job a counted use was (its command, a forgotten user's behind the FORGOTTEN mark). */
const kindOfUse = (command: string): JobKind => (command.endsWith(ANIMATED_COMMAND) ? "animated" : "meme");

function isEnrolledTemplate(v: unknown): v is EnrolledTemplate {
  const t = v as EnrolledTemplate;
  return !!t && t.cropPng instanceof Uint8Array && t.landmarks instanceof Float32Array && t.embedding instanceof Float32Array;
}

export function storeTemplates(store: Store): TemplatePort {
  const t = store.templates;
  /** `work` under the place's limit of faces; a LIMIT_REACHED says whose limit it was (details.byServer). */
  async function underServerLimit<T>(scope: Scope, work: (maxTemplates: number) => Promise<T>): Promise<T> {
    const rules = await store.moderation.rules(scope.platform, scope.serverId);
    try {
      return await work(rules.maxTemplatesPerUser);
    } catch (e) {
      // The server's own (it caps saving there, counting the user's faces from everywhere), or the operator's.
      if (isMimicError(e) && e.code === "LIMIT_REACHED" && e.details?.reason === "limit") {
        const byServer = scope.serverId !== null && rules.maxTemplatesPerUser < store.moderation.defaults.maxTemplatesPerUser;
        throw new MimicError(e.code, e.userMessage, { cause: e, details: { ...e.details, byServer } });
      }
      throw e;
    }
  }
  return {
    list: (owner) => t.list(owner),
    find: (owner, name) => t.find(owner, name),
    async resolve(owner, which) {
      const { cropPng, cropSize, landmarks, embedding, analysis, ...summary } = await t.get(owner, which);
      const data: EnrolledTemplate = { cropPng, cropSize, landmarks, embedding, analysis };
      return { summary, data };
    },
    openSave: (owner) => t.openSave(owner),
    checkSave: (owner, name, scope) => underServerLimit(scope, (maxTemplates) => t.checkSave(owner, name, { maxTemplates })),
    async save(owner, name, face, scope, opened) {
      if (!isEnrolledTemplate(face.data)) {
        throw new MimicError("INTERNAL", "That face could not be saved because of an internal error. Please try again.", {
          logMessage: "enrol job returned no EnrolledTemplate",
        });
      }
      return underServerLimit(scope, (maxTemplates) => t.save(owner, name, face.data as EnrolledTemplate, { maxTemplates, opened }));
    },
    remove: (owner, name) => t.remove(owner, name),
    setDefault: async (owner, name) => ({ name: (await t.setDefault(owner, name)).name }),
    rename: async (owner, from, to) => void (await t.rename(owner, from, to)),
    forgetUser: (owner) => t.forgetUser(owner),
  };
}

export function storeAudit(store: Store): AuditPort {
  const a = store.audit;
  return {
    record: (e) => a.record(e),
    withdraw: (e) => a.withdraw(e),
    noteMessage: (e) => a.noteMessage(e),
    hashOfMessage: (ref, where) => a.hashOfMessage(ref, where),
    lookup: (sha256, where) => a.lookup(sha256, where),
    count: (sha256, where) => a.count(sha256, where),
    retentionDays: a.retentionDays,
  };
}

/** An on/off setting as admins write it; “default” is the setting's default (`dflt`), as for the numbers. */
function parseSwitch(value: string, dflt: boolean): boolean {
  if (/^(on|true|yes|1|enable|enabled)$/i.test(value)) return true;
  if (/^(off|false|no|0|disable|disabled)$/i.test(value)) return false;
  if (/^default$/i.test(value)) return dflt;
  throw new MimicError("BAD_INPUT", `“${value.slice(0, 20)}” is not on or off (or “default”: ${dflt ? "on" : "off"}).`);
}

/** A number an admin sets, or null for “default” (back to the operator's default). */
function parseCount(value: string, what: string, max: number, min = 0): number | null {
  if (/^default$/i.test(value)) return null;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n > max || n < min) {
    throw new MimicError("BAD_INPUT", `${what} must be a whole number from ${min} to ${max}, or “default”; not “${value.slice(0, 20)}”.`);
  }
  return n;
}

const SECONDS_PER_UNIT: Record<string, number> = { s: 1, m: 60, min: 60, h: 3600 };
const COOLDOWN_MAX_S = 86_400;

/**
 * A cooldown as admins write one: seconds ("90"), or with units ("90s", "2m", "2 min", "1h30m"), or "default"
 * (null). Stored in seconds.
 */
function parseCooldown(value: string): number | null {
  if (/^default$/i.test(value)) return null;
  const text = value.trim().toLowerCase();
  const parts = [...text.matchAll(/(\d+)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)?\s*/gy)];
  const whole = parts.map((p) => p[0]).join("") === text && parts.length > 0 && (parts.length === 1 || parts.every((p) => p[2]));
  const seconds = whole ? parts.reduce((sum, p) => sum + Number(p[1]) * SECONDS_PER_UNIT[unitOf(p[2])], 0) : NaN;
  if (!Number.isSafeInteger(seconds) || seconds > COOLDOWN_MAX_S) {
    throw new MimicError("BAD_INPUT", `The cooldown is a wait in seconds or with a unit (e.g. 90, 2m, 1h30m), at most 24 h, or “default”; not ${echoed(value)}.`);
  }
  return seconds;
}

const unitOf = (word = "s"): string => (word.startsWith("h") ? "h" : word.startsWith("m") ? "m" : "s");

/** A platform's numeric id (Discord snowflakes, Telegram's user and chat ids). */
const NUMERIC_ID = /^-?\d{1,20}$/;

/**
 * Whom a ban names: exactly one numeric user id, or a Discord mention of one. Anything else (an @username, a
 * role, two users, a reason after the mention) is refused: stored as it was typed, it banned nobody.
 */
function bannedUser(value: string, scope: Scope, verb: "ban" | "unban", facts?: PlaceFacts): string {
  const text = value.trim();
  const userId = text.replace(/^<@!?(\d+)>$/, "$1");
  if (NUMERIC_ID.test(userId)) {
    if (verb === "ban" && userId === scope.userId) throw new MimicError("BAD_INPUT", "You cannot ban yourself.");
    // Mimic does not use itself: banning it changes nothing (to stop Mimic here, switch it off).
    if (verb === "ban" && userId === facts?.botUserId) {
      throw new MimicError("BAD_INPUT", `That is Mimic itself, which cannot be banned. To stop Mimic ${placeWords(scope.platform).inPlace}, set “enabled” to off.`);
    }
    // A person's id is positive on every platform (Telegram's negative ids are chats); unban still takes any
    // id, to lift a ban stored before this check.
    if (verb === "ban" && !/^[1-9]\d*$/.test(userId)) {
      throw new MimicError("BAD_INPUT", `“${userId}” is not a user id: a person's id is a positive whole number${userId.startsWith("-") ? " (a negative id is a group or channel)" : ""}.`);
    }
    return userId;
  }
  if (text.startsWith("@") && scope.platform === "telegram") {
    throw new MimicError("BAD_INPUT", `Bots cannot look up ${echoed(text)} by name. Reply to one of their messages with /config ${verb}, or give their numeric user id.`);
  }
  if (/^<@&\d+>$/.test(text)) throw new MimicError("BAD_INPUT", `That is a role, not a user: ${verb} one user at a time.`);
  throw new MimicError(
    "BAD_INPUT",
    scope.platform === "telegram"
      ? `Give one numeric user id, or reply to one of their messages with /config ${verb}; ${echoed(text)} names nobody.`
      : `Mention one user (@ and pick them from the list) or give their numeric user id, and nothing else; ${echoed(text)} names nobody.`,
  );
}

/**
 * Telegram's allow-list names forum topics of this group (a topic's id is a positive number; the General topic is
 * the group's own id): another chat's id would only shut Mimic out of every topic here.
 */
function topicIds(words: string[], scope: Scope): string[] {
  if (words.length === 0) throw new MimicError("BAD_INPUT", "Name the topic: send this inside it, or give the topic's id.");
  return words.map((w) => {
    if (/^[1-9]\d{0,19}$/.test(w) || w === scope.serverId) return w;
    throw new MimicError(
      "BAD_INPUT",
      `${echoed(w)} is not a topic of this group. Send /config channel add inside the topic, or give the topic's id (the number after the group's in a link to the topic).`,
    );
  });
}

/** A channel mention (<#id>) as its id; other words as they are. */
const bareChannel = (w: string) => w.replace(/^<#(\d+)>$/, "$1");

/**
 * Channel ids for the allow-list: numeric ids or Discord channel mentions, one or more, each checked. A channel's
 * id is a positive number; where the adapter knows the server's channels (facts), it must be one of them, and a
 * thread is refused with its channel named (a thread goes by the channel it is in).
 */
function channelIds(words: string[], scope: Scope, facts?: PlaceFacts): string[] {
  if (scope.platform === "telegram") return topicIds(words, scope);
  if (words.length === 0) throw new MimicError("BAD_INPUT", "Name the channel: mention it (#) or give its numeric id.");
  return words.map((w) => {
    const id = bareChannel(w);
    if (!/^[1-9]\d{0,19}$/.test(id)) throw new MimicError("BAD_INPUT", `${echoed(w)} is not a channel: mention it (#) or give its numeric id.`);
    if (facts?.channels) {
      const known = facts.channels.find((c) => c.id === id);
      if (known?.threadOf) {
        throw new MimicError(
          "BAD_INPUT",
          `<#${id}> is a thread: Mimic goes by the channel a thread or forum post is in, so name <#${known.threadOf}> instead (that allows its threads too).`,
        );
      }
      if (!known) throw new MimicError("BAD_INPUT", `${echoed(w)} is not a channel of this server: mention one (#) or give its numeric id.`);
    }
    return id;
  });
}

/** Channels (Telegram: topics) an admin asked to remove that the allow-list does not hold: nothing is changed. */
function notListed(ids: string[], scope: Scope, allowed: string[]): string {
  const place = placeWords(scope.platform).channel;
  if (allowed.length === 0) return `No ${place}s are listed (Mimic answers in every ${place}), so there is nothing to remove.`;
  const named = ids.map((id) => channelRef(scope.platform, scope.serverId, id)).join(", ");
  return `${capitalised(named)} ${ids.length === 1 ? "was" : "were"} not listed, so nothing changed.`;
}

/** The store's names of the numeric rules, as the core's settings call them. */
const NUMERIC_RULES: Record<Rules["overridden"][number], NumericSetting> = {
  dailyQuotaPerUser: "dailyQuota",
  dailyQuotaPerServer: "serverDailyQuota",
  cooldownSeconds: "cooldownSeconds",
  maxTemplatesPerUser: "maxFacesPerUser",
};

/** The most channels a server's allow-list holds (the store's own limit). */
const MAX_ALLOWED_CHANNELS = 200;

export function storeModeration(store: Store): ModerationPort {
  const m = store.moderation;
  const server = (scope: Scope) => ({ platform: scope.platform, serverId: scope.serverId ?? "", isAdmin: true });

  async function settings(scope: Scope): Promise<ServerSettings> {
    const r = await m.rules(scope.platform, scope.serverId);
    return {
      enabled: r.enabled,
      dailyQuota: r.dailyQuotaPerUser,
      serverDailyQuota: r.dailyQuotaPerServer,
      cooldownSeconds: r.cooldownSeconds,
      maxFacesPerUser: r.maxTemplatesPerUser,
      animated: !r.disabledCommands.includes(ANIMATED_COMMAND),
      channels: r.allowedChannels,
      visibleMark: r.visibleMark,
      nsfwFilter: r.nsfwFilter,
      nsfwThreshold: r.nsfwThreshold,
      swap: r.swapAllowed,
      overridden: r.overridden.map((k) => NUMERIC_RULES[k]),
      // What “default” gives: the operator's default within the operator's bounds.
      defaults: {
        dailyQuota: boundedQuota(m.defaults.dailyQuotaPerUser, m.defaults.maxDailyQuotaPerUser),
        serverDailyQuota: m.defaults.dailyQuotaPerServer,
        cooldownSeconds: boundedCooldown(m.defaults.cooldownSeconds, m.defaults.minCooldownSeconds),
        maxFacesPerUser: m.defaults.maxTemplatesPerUser,
      },
      bounds: {
        ...(m.defaults.maxDailyQuotaPerUser && { maxDailyQuota: m.defaults.maxDailyQuotaPerUser }),
        ...(m.defaults.minCooldownSeconds && { minCooldownSeconds: m.defaults.minCooldownSeconds }),
        ...(m.defaults.nsfwRequired && { nsfwRequired: true }),
        ...(m.defaults.maxNsfwThreshold !== undefined && m.defaults.maxNsfwThreshold < 1 && { maxNsfwThreshold: m.defaults.maxNsfwThreshold }),
      },
    };
  }

  return {
    async admit(scope, kind, pending) {
      if (kind === "enrol") {
        // Saving a face is moderated (bans, switched off, channels) but does not use up the meme quota.
        await m.check(scope, commandOf(kind));
        return { refund: async () => undefined, refused: async (reason) => (await m.recordRefusal(scope, reason), true) };
      }
      return m.admit(scope, commandOf(kind), pending);
    },
    renewPending: async () => void (await m.renewPending()),
    releasePending: async () => void (await m.releasePending()),
    async takeAbandoned(platform) {
      return (await m.takeAbandoned(platform)).map((u) => {
        // A forgotten user is not named again.
        const forgotten = u.command.startsWith(FORGOTTEN);
        return { userId: forgotten ? null : u.userId, serverId: u.serverId, kind: kindOfUse(u.command), reply: u.reply, job: u.job };
      });
    },
    pendingTtlMs: m.pendingTtlMs,
    settings,
    bannedUsers: async (scope) => (scope.serverId === null ? [] : (await m.bans(server(scope))).map((b) => b.userId)),
    moveServer: (platform, from, to) => m.moveServer(platform, from, to),
    // The core only calls this for admins (it checked ctx.isAdmin); the store re-checks the flag it is given.
    async updateSetting(scope, key: SettingKey, value, facts) {
      const s = server(scope);
      const { channel: place } = placeWords(scope.platform);
      let outcome: SettingOutcome | undefined;
      switch (key) {
        case "enabled":
          await m.updateRules(s, { enabled: parseSwitch(value, true) });
          break;
        case "quota": {
          const bound = m.defaults.maxDailyQuotaPerUser ?? 0;
          // Under the owner's bound, a number past it is told the bound, not the store's own ceiling.
          const quota = parseCount(value, "The daily quota", bound > 0 ? Number.MAX_SAFE_INTEGER : 1_000_000);
          if (quota !== null && boundedQuota(quota, bound) !== quota) {
            const choose = bound === 1 ? "the quota can only be 1" : `choose a quota from 1 to ${bound}`;
            throw new MimicError("BAD_INPUT", `This Mimic's owner allows at most ${bound === 1 ? "1 meme" : `${bound} memes`} per user per day: ${choose}, or “default”.`);
          }
          await m.updateRules(s, { dailyQuotaPerUser: quota });
          break;
        }
        case "server_quota":
          await m.updateRules(s, { dailyQuotaPerServer: parseCount(value, `The ${serverWord(scope.platform)}'s daily quota`, 100_000_000) });
          break;
        case "cooldown": {
          const cooldown = parseCooldown(value);
          const floor = m.defaults.minCooldownSeconds ?? 0;
          if (cooldown !== null && boundedCooldown(cooldown, floor) !== cooldown) {
            throw new MimicError("BAD_INPUT", `This Mimic's owner asks for a cooldown of at least ${formatDuration(floor)}: choose that or longer, or “default”.`);
          }
          await m.updateRules(s, { cooldownSeconds: cooldown });
          break;
        }
        case "max_faces":
          // Up to what this Mimic's operator allows (MAX_TEMPLATES_PER_USER): more was stored and silently capped.
          await m.updateRules(s, { maxTemplatesPerUser: parseCount(value, "The number of faces", m.defaults.maxTemplatesPerUser, 1) });
          break;
        case "animated": {
          const on = parseSwitch(value, true);
          // Read and written in one unit: another command switched off at the same moment stays off.
          await m.updateRules(s, (current) => {
            const others = current.disabledCommands.filter((c) => c !== ANIMATED_COMMAND);
            return { disabledCommands: on ? others : [...others, ANIMATED_COMMAND] };
          });
          break;
        }
        case "mark":
          await m.updateRules(s, { visibleMark: parseSwitch(value, false) });
          break;
        case "nsfw": {
          const on = parseSwitch(value, true);
          if (!on && m.defaults.nsfwRequired) {
            throw new MimicError("BAD_INPUT", "This Mimic's owner keeps the NSFW check on everywhere, so it cannot be switched off here. You can make it stricter with nsfw_threshold.");
          }
          await m.updateRules(s, { nsfwFilter: on });
          break;
        }
        case "nsfw_threshold": {
          const t = /^default$/i.test(value) ? null : Number(value);
          if (t !== null && !(/^(0?\.\d+|1(\.0*)?)$/.test(value) && t > 0 && t <= 1)) {
            throw new MimicError("BAD_INPUT", `The NSFW threshold is a number above 0 and at most 1 (e.g. 0.7), or “default”; not “${value.slice(0, 20)}”.`);
          }
          const most = m.defaults.maxNsfwThreshold ?? 1;
          if (t !== null && t > most) {
            throw new MimicError("BAD_INPUT", `This Mimic's owner allows an NSFW threshold of at most ${most} (lower is stricter): choose that or lower, or “default”.`);
          }
          await m.updateRules(s, { nsfwThreshold: t });
          break;
        }
        case "swap":
          await m.updateRules(s, { swapAllowed: parseSwitch(value, true) });
          break;
        case "channel": {
          const [first = "", ...words] = value.trim().split(/\s+/);
          // Like on/off, the words are read in any case (“All”, “ADD”).
          const op = first.toLowerCase();
          if (op === "all" && words.length === 0) await m.updateRules(s, { allowedChannels: [] });
          else if (op === "add") {
            const added = channelIds(words, scope, facts);
            // The list is read and written in one unit: another admin's change at the same moment is kept.
            await m.updateRules(s, (current) => {
              // Said, as a ban of someone banned already is: an "Updated" answer that changed nothing misleads.
              // (Set on every try: the unit may run again after a conflict.)
              outcome = added.every((c) => current.allowedChannels.includes(c)) ? { kind: "alreadyListed", channels: added } : undefined;
              const channels = [...new Set([...current.allowedChannels, ...added])];
              if (channels.length > MAX_ALLOWED_CHANNELS) throw new MimicError("BAD_INPUT", `At most ${MAX_ALLOWED_CHANNELS} ${place}s can be listed.`);
              return { allowedChannels: channels };
            });
          } else if (op === "remove") {
            const bare = words.map(bareChannel);
            await m.updateRules(s, (current) => {
              // An id already listed may always go (a Telegram list saved before it named topics may hold a chat's id;
              // a Discord channel deleted since is no channel of the server any more).
              const listed = bare.length > 0 && bare.every((w) => current.allowedChannels.includes(w));
              const gone = listed ? bare : channelIds(words, scope, facts);
              // Said, like an unban of someone not banned: an "Updated" answer that changed nothing misleads.
              const unlisted = gone.filter((c) => !current.allowedChannels.includes(c));
              if (unlisted.length > 0) throw new MimicError("NOT_FOUND", notListed(unlisted, scope, current.allowedChannels));
              return { allowedChannels: current.allowedChannels.filter((c) => !gone.includes(c)) };
            });
          } else
            throw new MimicError(
              "BAD_INPUT",
              scope.platform === "telegram"
                ? "Use “channel add” or “channel remove” inside a topic (or with the topic's id), or “channel all”."
                : "Use “channel add #channel”, “channel remove #channel” (or the channel's id) or “channel all”.",
            );
          break;
        }
        case "ban": {
          const userId = bannedUser(value, scope, "ban", facts);
          if (await facts?.isAdmin?.(userId)) {
            throw new MimicError("BAD_INPUT", `${capitalised(userRef(scope.platform, userId))} is an admin ${placeWords(scope.platform).inPlace} and could lift a ban at once, so admins cannot be banned. Take away their admin rights first.`);
          }
          outcome = { kind: (await m.ban(s, userId)) ? "banned" : "alreadyBanned", userId };
          break;
        }
        case "unban": {
          const userId = bannedUser(value, scope, "unban", facts);
          if (!(await m.unban(s, userId))) throw new MimicError("NOT_FOUND", `${capitalised(userRef(scope.platform, userId))} was not banned here.`);
          outcome = { kind: "unbanned", userId };
          break;
        }
      }
      return { ...(await settings(scope)), ...(outcome && { outcome }) };
    },
    check: async (scope, kind, opts) => void (await m.check(scope, commandOf(kind), opts)),
    async usage(scope, { includeServer }) {
      const [blocked, mine, templates, report, rules] = await Promise.all([
        // Moderation's own check, as a request's admission runs it: its refusal is what the next /meme would hear.
        m.check(scope, commandOf("meme")).then(
          () => undefined,
          (e: unknown) => {
            if (isMimicError(e) && (e.code === "FORBIDDEN" || e.code === "DISABLED")) return e.userMessage;
            throw e;
          },
        ),
        m.userUsage(scope),
        store.templates.count({ platform: scope.platform, userId: scope.userId }),
        includeServer && scope.serverId !== null ? m.usageReport(server(scope), { topUsers: 10_000 }) : Promise.resolve(undefined),
        includeServer && scope.serverId !== null ? m.rules(scope.platform, scope.serverId) : Promise.resolve(undefined),
      ]);
      // Refused pictures count towards quotas but are not memes: each user's count leaves them out, as the total does.
      const makers = (report?.today.topUsers ?? [])
        .map((u) => ({ userId: u.userId, count: u.count - u.refused, ...(u.refused > 0 && { refused: u.refused }) }))
        .sort((a, b) => b.count - a.count || (b.refused ?? 0) - (a.refused ?? 0));
      return {
        ...mine,
        ...(blocked !== undefined && { blocked }),
        templates,
        server: report && {
          // Refused pictures are counted apart, a forgotten user's too (their command carries a prefix).
          generationsToday: report.today.total - report.today.refused,
          refusedToday: report.today.refused,
          explicitToday: report.today.explicit,
          // Users who asked to be forgotten count, but are not named.
          activeUsersToday: makers.filter((u) => u.count > 0).length + report.today.forgotten.makers,
          topUsers: makers.slice(0, 5),
          ...(rules && { dailyQuota: rules.dailyQuotaPerServer }),
          ...(report.today.forgotten.count > 0 && { forgotten: { count: report.today.forgotten.count - report.today.forgotten.refused, refused: report.today.forgotten.refused } }),
        },
      };
    },
  };
}
