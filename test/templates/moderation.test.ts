import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MimicError } from "../../src/errors.ts";
import { openStore, type Scope, type Store } from "../../src/templates/index.ts";
import { Moderation } from "../../src/templates/moderation.ts";
import { createTestDb, dialects, type TestDb } from "./helpers.ts";

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
    expect(e.userMessage).toMatch(/Manage Server/);
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
      topUsers: [
        { userId: "y", count: 3 },
        { userId: "x", count: 2 },
        { userId: "z", count: 1 },
      ],
    });
    expect(report.last30Days.total).toBe(7);
    expect(report.last30Days.byCommand).toEqual({ meme: 5, "face-add": 1, animate: 1 });
    expect(report.last30Days.topUsers[0]).toEqual({ userId: "x", count: 3 });
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
    expect(await store.moderation.userUsage(dm)).toEqual({ usedToday: 1, dailyQuota: 50, cooldownRemainingSeconds: 0 });
  });
});
