import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MimicError } from "../../src/errors.ts";
import { openStore, type Scope, type Store } from "../../src/templates/index.ts";
import { Moderation, formatWait } from "../../src/templates/moderation.ts";
import { DEFAULT_NSFW_THRESHOLD } from "../../src/pipeline/safety/thresholds.ts";
import pg from "pg";
import { createTestDb, dialects, PG_URL, type TestDb } from "./helpers.ts";

const DAY = 86_400_000;
/** 2030-01-01 10:00:00 UTC: 14 h to the next quota reset. */
const T0 = Date.UTC(2030, 0, 1, 10, 0, 0);

async function refusal(p: Promise<unknown>): Promise<MimicError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(MimicError);
  return e as MimicError;
}

describe.each(dialects)("moderation on $dialect", ({ dialect, skip }) => {
  let db: TestDb;
  let store: Store;
  let clock = T0;
  const admin = (serverId: string) => ({ platform: "discord", serverId, isAdmin: true });
  const at = (userId: string, serverId: string | null, channelId: string | null = "c1"): Scope => ({ platform: "discord", userId, serverId, channelId });

  beforeAll(async () => {
    if (skip) return;
    db = await createTestDb(dialect, "mod");
    // Enough connections that 200 concurrent admissions really contend on PostgreSQL.
    store = await openStore(db.url, { now: () => clock, poolSize: 20, defaults: { dailyQuotaPerUser: 50, dailyQuotaPerServer: 0, cooldownSeconds: 0 } });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it.skipIf(skip)("gives up as BUSY after 3 lost admission races, and admits once the race is won", async () => {
    // The conditional INSERT loses every time (another request took the last slot, then was refunded before
    // the refusal was read): nothing is over its limit, so moderation retries, 3 times, then says BUSY.
    type RawDb = { $queryRaw: (...a: unknown[]) => Promise<unknown>; $transaction: (ops: unknown[]) => Promise<unknown[]> };
    const realDb = (store.moderation as unknown as { db: RawDb }).db;
    let inserts = 0;
    let loseRaces = 3;
    // SQLite runs the INSERT … RETURNING alone; PostgreSQL inside a transaction with its advisory lock.
    const racingDb = new Proxy(realDb, {
      get(target, key) {
        if (key === "$queryRaw") {
          return (...args: unknown[]) => {
            // Rules and refusal reads are raw SQL too: only the conditional INSERT races.
            if (!(args[0] as string[]).join("?").includes("INSERT INTO usage_events")) return target.$queryRaw(...args);
            inserts++;
            return dialect === "sqlite" && loseRaces-- > 0 ? Promise.resolve([]) : target.$queryRaw(...args);
          };
        }
        if (key === "$transaction" && dialect === "postgres") {
          return (ops: unknown[]) => (loseRaces-- > 0 ? Promise.resolve([0, []]) : target.$transaction(ops));
        }
        return Reflect.get(target, key);
      },
    });
    const racing = new Moderation(racingDb as never, dialect, store.moderation.defaults, () => clock);
    const busy = await refusal(racing.admit(at("racer", "lost-races"), "meme"));
    expect(busy.code).toBe("BUSY");
    expect(busy.retryAfterSeconds).toBe(5);
    expect(busy.userMessage).toMatch(/Too many requests at once/);
    expect(inserts).toBe(3);
    expect((await store.moderation.userUsage(at("racer", "lost-races"))).usedToday).toBe(0);
    // The next admission wins its first race.
    inserts = 0;
    const won = await racing.admit(at("racer", "lost-races"), "meme");
    expect(won.id).toMatch(/^\d+$/);
    expect(inserts).toBe(1);
    expect((await store.moderation.userUsage(at("racer", "lost-races"))).usedToday).toBe(1);
  });

  it.skipIf(skip)("uses the configured defaults until an admin changes them; non-admins are refused", async () => {
    expect(await store.moderation.rules("discord", "s1")).toMatchObject({
      enabled: true,
      dailyQuotaPerUser: 50,
      dailyQuotaPerServer: 0,
      cooldownSeconds: 0,
      maxTemplatesPerUser: 10,
      overridden: [],
    });
    const e = await refusal(store.moderation.updateRules({ platform: "discord", serverId: "s1", isAdmin: false }, { enabled: false }));
    expect(e.code).toBe("FORBIDDEN");
    expect(e.userMessage).toBe("Only server admins (the Manage Server permission) can change Mimic's settings.");
    const inGroup = await refusal(store.moderation.updateRules({ platform: "telegram", serverId: "-100", isAdmin: false }, { enabled: false }));
    expect(inGroup.userMessage).toBe("Only group admins can change Mimic's settings.");
    const r = await store.moderation.updateRules(admin("s1"), { dailyQuotaPerUser: 3, maxTemplatesPerUser: 500 });
    expect(r).toMatchObject({ dailyQuotaPerUser: 3, maxTemplatesPerUser: 10, overridden: ["dailyQuotaPerUser", "maxTemplatesPerUser"] });
    expect((await store.moderation.updateRules(admin("s1"), { dailyQuotaPerUser: null })).dailyQuotaPerUser).toBe(50);
    const bad = await refusal(store.moderation.updateRules(admin("s1"), { cooldownSeconds: -5 }));
    expect(bad.code).toBe("BAD_INPUT");
    expect(bad.userMessage).toMatch(/cooldownSeconds/);
    // another server is unaffected
    expect((await store.moderation.rules("discord", "s2")).overridden).toEqual([]);
  });

  it.skipIf(skip)("switches the bot or single commands off, limits channels and bans users", async () => {
    await store.moderation.updateRules(admin("s3"), { disabledCommands: ["animate"], allowedChannels: ["memes"] });
    expect((await refusal(store.moderation.admit(at("u1", "s3", "memes"), "animate"))).userMessage).toMatch(/animate command is switched off/);
    const ch = await refusal(store.moderation.admit(at("u1", "s3", "general"), "meme"));
    expect(ch.code).toBe("FORBIDDEN");
    expect(ch.details).toEqual({ allowedChannels: ["memes"] });
    await store.moderation.admit(at("u1", "s3", "memes"), "meme");
    await store.moderation.updateRules(admin("s3"), { enabled: false });
    expect((await refusal(store.moderation.admit(at("u1", "s3", "memes"), "meme"))).code).toBe("DISABLED");
    await store.moderation.updateRules(admin("s3"), { enabled: true });

    await store.moderation.ban(admin("s3"), "u2", "spam");
    await store.moderation.ban(admin("s3"), "u2"); // twice is fine
    expect((await refusal(store.moderation.admit(at("u2", "s3", "memes"), "meme"))).code).toBe("FORBIDDEN");
    await store.moderation.admit(at("u2", "other-server", null), "meme"); // a ban is per server
    expect(await store.moderation.bans(admin("s3"))).toMatchObject([{ userId: "u2", reason: "spam" }]);
    expect((await refusal(store.moderation.ban({ ...admin("s3"), isAdmin: false }, "u1"))).code).toBe("FORBIDDEN");
    expect(await store.moderation.unban(admin("s3"), "u2")).toBe(true);
    expect(await store.moderation.unban(admin("s3"), "u2")).toBe(false);
    await store.moderation.admit(at("u2", "s3", "memes"), "meme");
  });

  it.skipIf(skip)("an audit row is found by the message that carried its picture: the newest of that picture without one, in its server, within the retention", async () => {
    const row = (userId: string, serverId: string, out: string) =>
      store.audit.record({ platform: "telegram", userId, serverId, channelId: serverId, kind: "meme", templateId: null, inputSha256: "c".repeat(64), outputSha256: out.repeat(64) });
    await row("5", "-100700", "d");
    clock += 1000;
    await row("5", "-100700", "d");
    // The same picture made again: the newer row takes the first message; the older one, the next.
    await store.audit.noteMessage({ platform: "telegram", userId: "5", outputSha256: "d".repeat(64), messageRef: "-100700:11" });
    await store.audit.noteMessage({ platform: "telegram", userId: "5", outputSha256: "d".repeat(64), messageRef: "-100700:12" });
    await store.audit.noteMessage({ platform: "telegram", userId: "5", outputSha256: "d".repeat(64), messageRef: "-100700:13" });
    const where = { platform: "telegram", serverId: "-100700" };
    expect(await store.audit.hashOfMessage("-100700:11", where)).toBe("d".repeat(64));
    expect(await store.audit.hashOfMessage("-100700:12", where)).toBe("d".repeat(64));
    // No third row: the third message found nothing to note.
    expect(await store.audit.hashOfMessage("-100700:13", where)).toBeNull();
    // Another server's moderators, or another platform, find nothing by it.
    expect(await store.audit.hashOfMessage("-100700:11", { platform: "telegram", serverId: "-100800" })).toBeNull();
    expect(await store.audit.hashOfMessage("-100700:11", { platform: "discord", serverId: "-100700" })).toBeNull();
    clock += (store.audit.retentionDays + 1) * 86_400_000;
    expect(await store.audit.hashOfMessage("-100700:11", where)).toBeNull();
    clock = T0;
  });

  it.skipIf(skip)("a server that gets a new id (a Telegram group upgraded to a supergroup) keeps its rules, bans, uses and audit rows", async () => {
    const tg = (serverId: string) => ({ platform: "telegram", serverId, isAdmin: true });
    const in_ = (userId: string, serverId: string): Scope => ({ platform: "telegram", userId, serverId, channelId: serverId });
    const [from, to] = ["-4012345678", "-1004012345678"];
    await store.moderation.updateRules(tg(from), { dailyQuotaPerUser: 2, nsfwThreshold: 0.5, swapAllowed: false, allowedChannels: [from] });
    await store.moderation.ban(tg(from), "777", "spam");
    await store.moderation.admit(in_("5", from), "meme");
    await store.audit.record({ platform: "telegram", userId: "5", serverId: from, channelId: from, kind: "meme", templateId: null, inputSha256: "a".repeat(64), outputSha256: "b".repeat(64) });
    // The same id on another platform is another server: it stays where it is.
    await store.moderation.ban({ ...tg(from), platform: "discord" }, "777");

    expect(await store.moderation.moveServer("telegram", from, to)).toBe(true);
    const rules = await store.moderation.rules("telegram", to);
    expect(rules).toMatchObject({ dailyQuotaPerUser: 2, nsfwThreshold: 0.5, swapAllowed: false, allowedChannels: [to] });
    expect(await store.moderation.bans(tg(to))).toMatchObject([{ userId: "777", reason: "spam" }]);
    expect((await refusal(store.moderation.admit(in_("777", to), "meme"))).code).toBe("FORBIDDEN");
    expect((await store.moderation.userUsage(in_("5", to))).usedToday).toBe(1);
    expect(await store.audit.lookup("b".repeat(64), { platform: "telegram", serverId: to })).toMatchObject([{ userId: "5", channelId: to }]);
    expect(await store.moderation.bans(tg(from))).toEqual([]);
    expect(await store.moderation.bans({ ...tg(from), platform: "discord" })).toHaveLength(1);
    // Both service messages arrive: the second move finds nothing left and changes nothing.
    expect(await store.moderation.moveServer("telegram", from, to)).toBe(false);
    expect((await store.moderation.rules("telegram", to)).dailyQuotaPerUser).toBe(2);

    // Settings an admin already made under the new id win over the old chat's.
    await store.moderation.updateRules(tg("-1"), { dailyQuotaPerUser: 9 });
    await store.moderation.updateRules(tg("-2"), { dailyQuotaPerUser: 3 });
    await store.moderation.ban(tg("-1"), "1");
    await store.moderation.ban(tg("-2"), "1");
    expect(await store.moderation.moveServer("telegram", "-1", "-2")).toBe(true);
    expect((await store.moderation.rules("telegram", "-2")).dailyQuotaPerUser).toBe(3);
    expect(await store.moderation.bans(tg("-2"))).toHaveLength(1);
  });

  it.skipIf(skip)("cooldown: refuses until it has passed and says how long to wait", async () => {
    await store.moderation.updateRules(admin("s4"), { cooldownSeconds: 30 });
    clock = T0;
    await store.moderation.admit(at("u1", "s4"), "meme");
    clock = T0 + 12_000;
    const e = await refusal(store.moderation.admit(at("u1", "s4"), "meme"));
    expect(e.code).toBe("COOLDOWN");
    expect(e.retryAfterSeconds).toBe(18);
    expect(e.userMessage).toMatch(/in 18 s/);
    expect((await store.moderation.userUsage(at("u1", "s4"))).cooldownRemainingSeconds).toBe(18);
    await store.moderation.admit(at("u2", "s4"), "meme"); // per user
    clock = T0 + 30_001;
    await store.moderation.admit(at("u1", "s4"), "meme");
    clock = T0;
  });

  it.skipIf(skip)("daily quotas per user and per server reset at 00:00 UTC; refund gives a use back", async () => {
    await store.moderation.updateRules(admin("s5"), { dailyQuotaPerUser: 2, dailyQuotaPerServer: 3 });
    clock = T0;
    const first = await store.moderation.admit(at("a", "s5"), "meme");
    await store.moderation.admit(at("a", "s5"), "meme");
    const user = await refusal(store.moderation.admit(at("a", "s5"), "meme"));
    expect(user.code).toBe("QUOTA_EXCEEDED");
    expect(user.retryAfterSeconds).toBe(14 * 3600);
    expect(user.userMessage).toMatch(/all 2 of today's memes here. More in 14 h/);
    await store.moderation.admit(at("b", "s5"), "meme");
    const server = await refusal(store.moderation.admit(at("c", "s5"), "meme"));
    expect(server.details).toMatchObject({ scope: "server", quota: 3 });
    expect(server.userMessage).toMatch(/This server has used all 3/);
    await first.refund();
    await first.refund(); // idempotent
    await store.moderation.admit(at("c", "s5"), "meme");
    clock = T0 + DAY;
    await store.moderation.admit(at("a", "s5"), "meme");
    clock = T0;
  });

  it.skipIf(skip)("a used-up quota is said at once, not a pending cooldown that would promise a refused retry", async () => {
    const s = "quota-then-cooldown";
    await store.moderation.updateRules(admin(s), { dailyQuotaPerUser: 2, cooldownSeconds: 8 });
    const me = at("qc", s);
    clock = T0;
    await store.moderation.admit(me, "meme");
    clock = T0 + 8_500;
    await store.moderation.admit(me, "meme");
    // The QA repro: the third (cooldown running, quota used) was told "in 8 s"; 8.5 s later it was refused again.
    const third = await refusal(store.moderation.admit(me, "meme"));
    expect(third.code).toBe("QUOTA_EXCEEDED");
    // On Discord the reset is a timestamp each reader's client shows in their own time zone.
    expect(third.userMessage).toBe(`You've used all 2 of today's memes here. More in 14 h (at <t:${(T0 + 14 * 3600_000) / 1000}:t>).`);
    expect(third.retryAfterSeconds).toBe(14 * 3600 - 8);
    expect((await store.moderation.userUsage(me)).quotaReached).toBe(third.userMessage);
    clock = T0 + 17_000;
    expect((await refusal(store.moderation.admit(me, "meme"))).code).toBe("QUOTA_EXCEEDED");
    // The promised time holds: at 00:00 UTC the next one is admitted.
    clock = T0 + 8_500 + third.retryAfterSeconds! * 1000;
    await store.moderation.admit(me, "meme");

    // The server's quota too: another user, in their own cooldown, is told the server is done for the day.
    const t = "server-quota-then-cooldown";
    await store.moderation.updateRules(admin(t), { dailyQuotaPerUser: 0, dailyQuotaPerServer: 2, cooldownSeconds: 60 });
    clock = T0;
    await store.moderation.admit(at("a", t), "meme");
    await store.moderation.admit(at("b", t), "meme");
    const server = await refusal(store.moderation.admit(at("a", t), "meme"));
    expect(server.code).toBe("QUOTA_EXCEEDED");
    expect(server.details).toMatchObject({ scope: "server", quota: 2 });
    expect(server.userMessage).toBe(`This server has used all 2 of today's memes. More in 14 h (at <t:${(T0 + 14 * 3600_000) / 1000}:t>).`);
    // Telegram has no timestamps: the reset is said in UTC.
    const group = { platform: "telegram", serverId: "-100777", isAdmin: true } as const;
    await store.moderation.updateRules(group, { dailyQuotaPerUser: 1 });
    const tg: Scope = { platform: "telegram", userId: "5", serverId: "-100777", channelId: "-100777" };
    await store.moderation.admit(tg, "meme");
    expect((await refusal(store.moderation.admit(tg, "meme"))).userMessage).toBe("You've used your one meme for today here. More in 14 h (at 00:00 UTC).");
    clock = T0;
  });

  it.skipIf(skip)("a used-up quota whose cooldown outlasts midnight says when the cooldown ends, not 00:00 UTC", async () => {
    const s = "long-cooldown-quota";
    await store.moderation.updateRules(admin(s), { dailyQuotaPerUser: 1, cooldownSeconds: 86_400 });
    const me = at("night-owl", s);
    const lateEvening = Date.UTC(2030, 0, 1, 23, 0, 0);
    clock = lateEvening;
    await store.moderation.admit(me, "meme");
    clock = lateEvening + 30 * 60_000;
    const e = await refusal(store.moderation.admit(me, "meme"));
    expect(e.code).toBe("QUOTA_EXCEEDED");
    expect(e.retryAfterSeconds).toBe(86_400 - 1_800);
    expect(e.userMessage).toBe("You've used your one meme for today here. More in 23 h 30 min.");
    expect((await store.moderation.userUsage(me)).quotaReached).toBe(e.userMessage);
    // Still refused just after midnight (the cooldown), admitted once the promised wait has passed.
    clock = lateEvening + 60 * 60_000 + 1_000;
    expect((await refusal(store.moderation.admit(me, "meme"))).code).toBe("COOLDOWN");
    clock = lateEvening + 30 * 60_000 + e.retryAfterSeconds! * 1000;
    await store.moderation.admit(me, "meme");
    clock = T0;
  });

  it.skipIf(skip)("is atomic: 200 concurrent requests against a quota of 37 admit exactly 37", async () => {
    const quota = 37;
    await store.moderation.updateRules(admin("race"), { dailyQuotaPerServer: quota, dailyQuotaPerUser: 0 });
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => store.moderation.admit(at(`r${i % 23}`, "race"), "meme")));
    const ok = results.filter((r) => r.status === "fulfilled");
    expect(ok).toHaveLength(quota);
    for (const r of results) if (r.status === "rejected") expect((r.reason as MimicError).code).toBe("QUOTA_EXCEEDED");
    const rows = await db.query<{ n: number }>("SELECT COUNT(*) AS n FROM usage_events WHERE server_id = 'race'");
    expect(Number(rows[0].n)).toBe(quota);
  });

  it.skipIf(skip)("is atomic per user too: 200 concurrent requests of one user with a 5-use quota admit 5", async () => {
    await store.moderation.updateRules(admin("race2"), { dailyQuotaPerUser: 5 });
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => store.moderation.admit(at("solo", "race2"), "meme")));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(5);
  });

  it.skipIf(skip)("cooldown is atomic: of 50 simultaneous requests of one user only one gets through", async () => {
    await store.moderation.updateRules(admin("race3"), { cooldownSeconds: 60 });
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => store.moderation.admit(at("quick", "race3"), "meme")));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect((r.reason as MimicError).code).toBe("COOLDOWN");
  });

  it.skipIf(skip)("reports a server's usage today and over 30 days by command and top users (admins only)", async () => {
    const s = "report";
    clock = T0 - 10 * DAY;
    await store.moderation.admit(at("x", s), "animate");
    clock = T0 - 40 * DAY; // outside the window
    await store.moderation.admit(at("x", s), "meme");
    clock = T0;
    for (const u of ["x", "y", "y", "z", "y"]) await store.moderation.admit(at(u, s), "meme");
    await store.moderation.admit(at("x", s), "face-add");
    const report = await store.moderation.usageReport(admin(s));
    expect(report.today).toEqual({
      total: 6,
      byCommand: { meme: 5, "face-add": 1 },
      refused: 0,
      explicit: 0,
      topUsers: [
        { userId: "y", count: 3, refused: 0 },
        { userId: "x", count: 2, refused: 0 },
        { userId: "z", count: 1, refused: 0 },
      ],
      forgotten: { count: 0, refused: 0, makers: 0 },
    });
    expect(report.last30Days.total).toBe(7);
    expect(report.last30Days.byCommand).toEqual({ meme: 5, "face-add": 1, animate: 1 });
    expect(report.last30Days.topUsers[0]).toEqual({ userId: "x", count: 3, refused: 0 });
    expect((await refusal(store.moderation.usageReport({ ...admin(s), isAdmin: false }))).code).toBe("FORBIDDEN");
  });

  it.skipIf(skip)("deletes usage records past the retention period, keeping the 30 reported days", async () => {
    const u = at("old-timer", "prune");
    clock = T0 - 95 * DAY;
    await store.moderation.admit(u, "meme");
    clock = T0 - 29 * DAY;
    await store.moderation.admit(u, "meme");
    clock = T0;
    const day = (ms: number) => Math.floor(ms / DAY);
    const onDay = async (d: number) => Number((await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM usage_events WHERE day = ${d}`))[0].n);
    expect(await store.moderation.pruneUsage(90)).toBe(1); // the 95-day-old one
    expect(await onDay(day(T0 - 40 * DAY))).toBe(1); // the report test's 40-day-old one is kept…
    expect(await store.moderation.pruneUsage(5)).toBe(1); // …until retention is cut, never below 30 days
    const left = await db.query<{ day: number }>("SELECT day FROM usage_events WHERE platform_user_id = 'old-timer'");
    expect(left.map((r) => Number(r.day))).toEqual([Math.floor((T0 - 29 * DAY) / DAY)]);
  });

  it.skipIf(skip)("private chats use the configured defaults and count per user", async () => {
    const dm = at("dm-user", null, null);
    await store.moderation.admit(dm, "meme");
    expect(await store.moderation.userUsage(dm)).toEqual({ usedToday: 1, refusedToday: 0, dailyQuota: 50, cooldownRemainingSeconds: 0 });
  });

  it.skipIf(skip)("stores every setting a server changes; lists are cleaned, defaults apply where nothing is set", async () => {
    const s = "settings";
    expect(await store.moderation.rules("discord", s)).toEqual({
      enabled: true,
      disabledCommands: [],
      allowedChannels: [],
      dailyQuotaPerUser: 50,
      dailyQuotaPerServer: 0,
      cooldownSeconds: 0,
      maxTemplatesPerUser: 10,
      visibleMark: false,
      nsfwFilter: true,
      nsfwThreshold: DEFAULT_NSFW_THRESHOLD,
      swapAllowed: true,
      overridden: [],
    });
    const changed = await store.moderation.updateRules(admin(s), {
      disabledCommands: ["morph", "animate", "morph"],
      allowedChannels: ["c9", "c2", "c9"],
      dailyQuotaPerServer: 400,
      cooldownSeconds: 15,
      maxTemplatesPerUser: 3,
      visibleMark: true,
      nsfwFilter: false,
      nsfwThreshold: 0.4,
      swapAllowed: false,
    });
    expect(changed).toEqual({
      enabled: true,
      disabledCommands: ["animate", "morph"],
      allowedChannels: ["c9", "c2"],
      dailyQuotaPerUser: 50,
      dailyQuotaPerServer: 400,
      cooldownSeconds: 15,
      maxTemplatesPerUser: 3,
      visibleMark: true,
      nsfwFilter: false,
      nsfwThreshold: 0.4,
      swapAllowed: false,
      overridden: ["dailyQuotaPerServer", "cooldownSeconds", "maxTemplatesPerUser"],
    });
    // A later change leaves the other settings as they were.
    expect(await store.moderation.updateRules(admin(s), { enabled: false })).toEqual({ ...changed, enabled: false });
    // Private chats get the configured defaults, whatever any server set.
    expect(await store.moderation.rules("discord", null)).toMatchObject({ cooldownSeconds: 0, visibleMark: false, nsfwFilter: true, swapAllowed: true, overridden: [] });
    // Lists the database holds in a shape they were never written in read as empty, or keep only their names.
    await db.query(`UPDATE server_settings SET disabled_commands = 'not json', allowed_channels = '["c2", 7, null]' WHERE server_id = '${s}'`);
    expect(await store.moderation.rules("discord", s)).toMatchObject({ disabledCommands: [], allowedChannels: ["c2"] });
    await db.query(`UPDATE server_settings SET disabled_commands = '{"morph": true}' WHERE server_id = '${s}'`);
    expect((await store.moderation.rules("discord", s)).disabledCommands).toEqual([]);
  });

  it.skipIf(skip)("refuses bad settings and settings outside a server with a clear message, and changes nothing", async () => {
    const s = "bad-settings";
    const bad = await refusal(store.moderation.updateRules(admin(s), { cooldownSeconds: -1, dailyQuotaPerUser: 2.5 }));
    expect(bad.code).toBe("BAD_INPUT");
    expect(bad.userMessage).toMatch(/^That setting is not valid: (cooldownSeconds: .+; dailyQuotaPerUser: .+|dailyQuotaPerUser: .+; cooldownSeconds: .+)$/);
    const unknown = await refusal(store.moderation.updateRules(admin(s), { colour: "red" } as never));
    expect(unknown.code).toBe("BAD_INPUT");
    expect((await refusal(store.moderation.updateRules(admin(s), { disabledCommands: ["Meme!"] }))).userMessage).toMatch(/disabledCommands\.0: command names are 1–32 of a-z 0-9 _ -/);
    for (const serverId of ["", "x".repeat(129)]) {
      const e = await refusal(store.moderation.updateRules({ platform: "discord", serverId, isAdmin: true }, { enabled: false }));
      expect(e.code).toBe("BAD_INPUT");
      expect(e.userMessage).toBe("This only works in a server or group, not in a private chat.");
      expect((await refusal(store.moderation.ban({ platform: "discord", serverId, isAdmin: true }, "u1"))).code).toBe("BAD_INPUT");
      expect((await refusal(store.moderation.unban({ platform: "discord", serverId, isAdmin: true }, "u1"))).code).toBe("BAD_INPUT");
      expect((await refusal(store.moderation.usageReport({ platform: "discord", serverId, isAdmin: true }))).code).toBe("BAD_INPUT");
    }
    // 128 characters is a server id still.
    expect((await store.moderation.updateRules(admin("y".repeat(128)), { enabled: false })).enabled).toBe(false);
    expect(await store.moderation.rules("discord", s)).toMatchObject({ cooldownSeconds: 0, dailyQuotaPerUser: 50, overridden: [] });
  });

  it.skipIf(skip)("bans: admins only, reasons kept to 200 characters, listed in the order given, unknown ids refused", async () => {
    const s = "bans";
    await store.moderation.ban(admin(s), "b2", "r".repeat(300));
    await store.moderation.ban(admin(s), "b1");
    const list = await store.moderation.bans(admin(s));
    expect(list.map((b) => [b.userId, b.reason?.length ?? null])).toEqual([
      ["b2", 200],
      ["b1", null],
    ]);
    expect(list[0].since).toBeInstanceOf(Date);
    expect((await refusal(store.moderation.bans({ ...admin(s), isAdmin: false }))).code).toBe("FORBIDDEN");
    expect((await refusal(store.moderation.unban({ ...admin(s), isAdmin: false }, "b1"))).code).toBe("FORBIDDEN");
    expect((await refusal(store.moderation.ban(admin(s), ""))).userMessage).toBe("Missing or overlong user id");
    expect(await store.moderation.bans(admin(s))).toHaveLength(2);
    expect(await store.moderation.unban(admin(s), "b1")).toBe(true);
    expect((await store.moderation.bans(admin(s))).map((b) => b.userId)).toEqual(["b2"]);
    // check() (no use counted) refuses the banned user too, and only on this server.
    expect((await refusal(store.moderation.check(at("b2", s), "meme"))).userMessage).toMatch(/blocked you/);
    expect((await store.moderation.check(at("b1", s), "meme")).enabled).toBe(true);
    expect((await refusal(store.moderation.check({ ...at("b2", s), platform: "Bad Platform" }, "meme"))).code).toBe("BAD_INPUT");
  });

  it.skipIf(skip)("an NSFW refusal is recorded as a use: it shows in the report and counts toward quota and cooldown", async () => {
    const s = "refusals";
    await store.moderation.updateRules(admin(s), { dailyQuotaPerUser: 2, cooldownSeconds: 10 });
    clock = T0;
    await store.moderation.recordRefusal(at("prober", s), "nsfw");
    expect(await store.moderation.userUsage(at("prober", s))).toEqual({ usedToday: 1, refusedToday: 1, dailyQuota: 2, cooldownRemainingSeconds: 10 });
    const cool = await refusal(store.moderation.admit(at("prober", s), "meme"));
    expect(cool.code).toBe("COOLDOWN");
    expect(cool.userMessage).toBe("Slow down a little: you can make the next one in 10 s.");
    clock = T0 + 10_500;
    expect((await store.moderation.userUsage(at("prober", s))).cooldownRemainingSeconds).toBe(0);
    await store.moderation.admit(at("prober", s), "meme");
    clock = T0 + 30_000;
    expect((await refusal(store.moderation.admit(at("prober", s), "meme"))).code).toBe("QUOTA_EXCEEDED");
    const report = await store.moderation.usageReport(admin(s), { topUsers: 1 });
    expect(report.today).toEqual({
      total: 2,
      byCommand: { refused_nsfw: 1, meme: 1 },
      refused: 1,
      explicit: 1,
      topUsers: [{ userId: "prober", count: 2, refused: 1 }],
      forgotten: { count: 0, refused: 0, makers: 0 },
    });
    expect((await refusal(store.moderation.recordRefusal({ ...at("", s) }, "nsfw"))).code).toBe("BAD_INPUT");
    clock = T0;
  });

  it.skipIf(skip)("a refused picture's use becomes its refusal in one write; a use forget-me marked is not counted under the user", async () => {
    const s = "refused-use";
    await store.moderation.updateRules(admin(s), { dailyQuotaPerUser: 1, cooldownSeconds: 0 });
    const use = await store.moderation.admit(at("prober2", s), "meme");
    expect(await use.refused("nsfw")).toBe(true);
    // Still one row: the refusal is the use (a request between a delete and an insert would have slipped past the quota).
    expect(await store.moderation.userUsage(at("prober2", s))).toMatchObject({ usedToday: 1, refusedToday: 1 });
    expect((await refusal(store.moderation.admit(at("prober2", s), "meme"))).code).toBe("QUOTA_EXCEEDED");
    // Forget-me while the job ran: no refusal is written under their id; the caller gives the use back.
    const forgetting = await store.moderation.admit(at("forgetful2", s), "meme");
    await store.templates.forgetUser({ platform: "discord", userId: "forgetful2" });
    expect(await forgetting.refused("nsfw")).toBe(false);
    await forgetting.refund();
    const report = await store.moderation.usageReport(admin(s), { topUsers: 10 });
    expect(report.today.topUsers.map((u) => u.userId)).toEqual(["prober2"]);
    expect(report.today.forgotten).toEqual({ count: 0, refused: 0, makers: 0 });
    // A moving picture that could not be used is refused too, but not as explicit.
    const unreadable = await store.moderation.admit(at("clip", s), "meme");
    expect(await unreadable.refused("input")).toBe(true);
    expect((await store.moderation.usageReport(admin(s))).today).toMatchObject({ refused: 2, explicit: 1 });
  });

  it.skipIf(skip)("the report's top users: most uses first, ties by id, as many as asked", async () => {
    const s = "top";
    clock = T0;
    for (const u of ["b", "a", "c", "c"]) await store.moderation.admit(at(u, s), "meme");
    expect((await store.moderation.usageReport(admin(s), { topUsers: 2 })).today.topUsers).toEqual([
      { userId: "c", count: 2, refused: 0 },
      { userId: "a", count: 1, refused: 0 },
    ]);
  });

  it.skipIf(skip)("keeps exactly the 30 reported days when asked to keep fewer", async () => {
    const u = at("edge", "prune-edge");
    clock = T0 - 30 * DAY;
    await store.moderation.admit(u, "meme");
    clock = T0 - 29 * DAY;
    await store.moderation.admit(u, "meme");
    clock = T0;
    const days = async () => (await db.query<{ day: number }>("SELECT day FROM usage_events WHERE platform_user_id = 'edge'")).map((r) => Number(r.day));
    expect(await store.moderation.pruneUsage(31)).toBe(0);
    expect((await days()).length).toBe(2);
    expect(await store.moderation.pruneUsage(1)).toBeGreaterThanOrEqual(1);
    expect(await days()).toEqual([Math.floor((T0 - 29 * DAY) / DAY)]);
  });

  it.skipIf(skip)("the user's standing: uses today only, the quota in force, the cooldown left rounded up", async () => {
    const s = "standing";
    await store.moderation.updateRules(admin(s), { dailyQuotaPerUser: 4, cooldownSeconds: 30 });
    const me = at("standing-user", s);
    expect(await store.moderation.userUsage(me)).toEqual({ usedToday: 0, refusedToday: 0, dailyQuota: 4, cooldownRemainingSeconds: 0 });
    clock = T0 - DAY;
    await store.moderation.admit(me, "meme");
    clock = T0;
    expect(await store.moderation.userUsage(me)).toEqual({ usedToday: 0, refusedToday: 0, dailyQuota: 4, cooldownRemainingSeconds: 0 });
    await store.moderation.admit(me, "meme");
    clock = T0 + 28_500;
    expect(await store.moderation.userUsage(me)).toEqual({ usedToday: 1, refusedToday: 0, dailyQuota: 4, cooldownRemainingSeconds: 2 });
    clock = T0;
  });

  it.skipIf(skip)("refusals name their reason, read the asker's own last use, and apply only where they belong", async () => {
    const s = "reasons";
    await store.moderation.updateRules(admin(s), { disabledCommands: ["morph"], allowedChannels: ["memes"] });
    const off = await refusal(store.moderation.admit(at("r1", s, "memes"), "morph"));
    expect([off.code, off.userMessage]).toEqual(["DISABLED", "The morph command is switched off on this server."]);
    const channel = await refusal(store.moderation.admit(at("r1", s, "general"), "meme"));
    // The refusal names where to ask instead, as the platform shows a channel (an unknown platform: as Discord does).
    expect(channel.userMessage).toBe("Mimic doesn't answer in this channel here. Ask in <#memes>.");
    // No channel to judge (a platform without channels): the channel list does not apply.
    await store.moderation.admit(at("r1", s, null), "meme");
    await store.moderation.updateRules(admin(s), { enabled: false });
    const disabled = await refusal(store.moderation.admit(at("r1", s, "memes"), "meme"));
    expect([disabled.code, disabled.userMessage]).toEqual(["DISABLED", "Mimic is switched off on this server. An admin can turn it back on."]);
    await store.moderation.ban(admin(s), "r2");
    await store.moderation.ban(admin("elsewhere"), "r9");
    const banned = await refusal(store.moderation.admit(at("r2", s, "memes"), "meme"));
    expect([banned.code, banned.userMessage]).toEqual(["FORBIDDEN", "An admin of this server has blocked you from using Mimic here."]);
    expect((await store.moderation.bans(admin(s))).map((b) => b.userId)).toEqual(["r2"]);
    expect(await store.moderation.unban(admin(s), "r9")).toBe(false);
    expect((await store.moderation.bans(admin("elsewhere"))).map((b) => b.userId)).toEqual(["r9"]);
    for (const name of ["!meme", "meme!"]) {
      expect((await refusal(store.moderation.updateRules(admin(s), { disabledCommands: [name] }))).code).toBe("BAD_INPUT");
    }
  });

  it.skipIf(skip)("a quota refusal says whose quota ran out, even right after another user's use or at the cooldown's end", async () => {
    const s = "whose";
    await store.moderation.updateRules(admin(s), { dailyQuotaPerUser: 1, cooldownSeconds: 30 });
    clock = T0 - 60_000;
    await store.moderation.admit(at("early", s), "meme");
    clock = T0;
    await store.moderation.admit(at("other", s), "meme");
    // "early" is out of quota, not cooling down: another user's use just now is not theirs.
    clock = T0 + 1000;
    const mine = await refusal(store.moderation.admit(at("early", s), "meme"));
    expect(mine.code).toBe("QUOTA_EXCEEDED");
    expect(mine.details).toEqual({ scope: "user", quota: 1 });
    // Exactly when "other"'s cooldown ends, what stops them is the quota.
    clock = T0 + 30_000;
    expect((await refusal(store.moderation.admit(at("other", s), "meme"))).code).toBe("QUOTA_EXCEEDED");
    // With no per-user quota, a full server says it is the server's.
    // (A cooldown too: the refused user has no use of their own to read it from.)
    await store.moderation.updateRules(admin("whose-server"), { dailyQuotaPerUser: 0, dailyQuotaPerServer: 1, cooldownSeconds: 5 });
    await store.moderation.admit(at("a", "whose-server"), "meme");
    const server = await refusal(store.moderation.admit(at("b", "whose-server"), "meme"));
    expect(server.details).toEqual({ scope: "server", quota: 1 });
    clock = T0;
  });

  it.skipIf(skip)("a refund gives back only its own use", async () => {
    const s = "refund-own";
    clock = T0;
    const mine = await store.moderation.admit(at("me", s), "meme");
    await store.moderation.admit(at("you", s), "meme");
    await store.moderation.admit(at("me", "refund-other"), "meme");
    await mine.refund();
    expect((await store.moderation.userUsage(at("me", s))).usedToday).toBe(0);
    expect((await store.moderation.userUsage(at("you", s))).usedToday).toBe(1);
    expect((await store.moderation.userUsage(at("me", "refund-other"))).usedToday).toBe(1);
  });

  it.skipIf(skip)("a cooldown runs from the latest use, not the first of the day", async () => {
    const s = "latest";
    await store.moderation.updateRules(admin(s), { cooldownSeconds: 30 });
    clock = T0 - 100_000;
    await store.moderation.admit(at("twice", s), "meme");
    clock = T0;
    await store.moderation.admit(at("twice", s), "meme");
    clock = T0 + 5000;
    const e = await refusal(store.moderation.admit(at("twice", s), "meme"));
    expect([e.code, e.retryAfterSeconds]).toEqual(["COOLDOWN", 25]);
    clock = T0;
  });

  it.skipIf(skip)("in a private chat, an NSFW refusal and the user's own quota count as anywhere else", async () => {
    type RawDb = ConstructorParameters<typeof Moderation>[0];
    const db0 = (store.moderation as unknown as { db: RawDb }).db;
    const strict = new Moderation(db0, dialect, { ...store.moderation.defaults, dailyQuotaPerUser: 2 }, () => clock);
    const dm = at("dm-quota", null, null);
    await strict.recordRefusal(dm, "nsfw");
    expect((await strict.userUsage(dm)).usedToday).toBe(1);
    await strict.admit(dm, "meme");
    const e = await refusal(strict.admit(dm, "meme"));
    expect(e.code).toBe("QUOTA_EXCEEDED");
    expect(e.details).toEqual({ scope: "user", quota: 2 });
  });

  it.skipIf(skip)("private chats never count against a server quota, whatever the configured default", async () => {
    type RawDb = ConstructorParameters<typeof Moderation>[0];
    const db0 = (store.moderation as unknown as { db: RawDb }).db;
    const strict = new Moderation(db0, dialect, { ...store.moderation.defaults, dailyQuotaPerServer: 1 }, () => clock);
    await strict.admit(at("dm-a", null, null), "meme");
    await strict.admit(at("dm-b", null, null), "meme");
  });

  it.skipIf(skip || dialect !== "postgres")(
    "PostgreSQL: an admission takes its server's advisory lock (or, in a private chat, its user's), keyed as every process keys it",
    async () => {
      // The key every process (bot, CLI) must compute alike: FNV-1a, as a signed 32-bit integer, of
      // "<platform>\0<server>" or "<platform>\0dm\0<user>".
      const key = (s: string) => {
        let h = 0x811c9dc5;
        for (const ch of s) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
        return h | 0;
      };
      // Advisory locks are per database, not per schema: names no other test run uses.
      const tag = Math.random().toString(36).slice(2, 10);
      const server = `lock-${tag}`;
      const other = `lock2-${tag}`;
      const dmUser = `dm-${tag}`;
      const holder = new pg.Client({ connectionString: PG_URL });
      await holder.connect();
      const waitsOn = async (k: number) => {
        // Until an admission waits on exactly that lock (a hang here is bounded by the test's timeout).
        for (;;) {
          const { rows } = await holder.query<{ n: number }>(
            "SELECT COUNT(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1 AND objid::bigint = $1",
            [k >>> 0],
          );
          if (rows[0].n === 1) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      const holding = async (k: number, blocked: Scope, free: Scope[]) => {
        await holder.query("BEGIN");
        await holder.query("SELECT pg_advisory_xact_lock($1::bigint)", [k]);
        let admitted = false;
        const waiting = store.moderation.admit(blocked, "meme").then((a) => ((admitted = true), a));
        await waitsOn(k);
        // Other servers and other private chats go ahead meanwhile.
        for (const scope of free) await store.moderation.admit(scope, "meme");
        expect(admitted).toBe(false);
        await holder.query("COMMIT");
        expect((await waiting).id).toMatch(/^\d+$/);
      };
      try {
        await holding(key(`discord\u0000${server}`), at("u1", server), [at("u2", other), at("u1", null)]);
        await holding(key(`discord\u0000dm\u0000${dmUser}`), at(dmUser, null), [at(dmUser, server), at("u3", null)]);
      } finally {
        await holder.query("ROLLBACK").catch(() => undefined);
        await holder.end();
      }
    },
  );

  it.skipIf(skip)("the usage report lists the top 10 users unless asked for more", async () => {
    const s = "top10";
    clock = T0;
    for (let i = 0; i < 11; i++) await store.moderation.admit(at(`u${String(i).padStart(2, "0")}`, s), "meme");
    expect((await store.moderation.usageReport(admin(s))).today.topUsers).toHaveLength(10);
    expect((await store.moderation.usageReport(admin(s), { topUsers: 20 })).today.topUsers).toHaveLength(11);
  });
});

describe("formatWait", () => {
  it("says seconds under a minute, whole minutes (rounded up) under an hour, then hours and minutes", () => {
    expect(formatWait(1)).toBe("1 s");
    expect(formatWait(59)).toBe("59 s");
    expect(formatWait(60)).toBe("1 min");
    expect(formatWait(61)).toBe("2 min");
    expect(formatWait(3540)).toBe("59 min");
    expect(formatWait(3541)).toBe("1 h");
    expect(formatWait(3600)).toBe("1 h");
    expect(formatWait(3660)).toBe("1 h 1 min");
    expect(formatWait(14 * 3600 + 1800)).toBe("14 h 30 min");
  });
});
