import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backupStore } from "../../src/templates/backup.ts";
import { abandonedText, watchAbandoned } from "../../src/core/abandoned.ts";
import { storeModeration } from "../../src/core/bindings.ts";
import { openStore, type Scope, type Store } from "../../src/templates/index.ts";
import { createTestDb, dialects, type TestDb } from "./helpers.ts";

/** 2030-01-01 10:00:00 UTC. */
const T0 = Date.UTC(2030, 0, 1, 10, 0, 0);
const TTL = 60_000;

/**
 * An admitted use waits on the process answering it (usage_events.pending_*): two stores on one database are
 * two processes, each with its own mark, on one clock the test moves.
 */
describe.each(dialects)("unanswered uses on $dialect", ({ dialect, skip }) => {
  let db: TestDb;
  let a: Store;
  let b: Store;
  let clock = T0;
  let n = 0;
  /** A new user each time: the cases do not share quotas. */
  const someone = (platform = "telegram"): Scope => ({ platform, userId: `u${++n}`, serverId: "g1", channelId: "c1" });
  const usedToday = (s: Store, scope: Scope) => s.moderation.userUsage(scope).then((u) => u.usedToday);

  beforeAll(async () => {
    if (skip) return;
    db = await createTestDb(dialect, "unanswered");
    const opts = { now: () => clock, pendingTtlMs: TTL, defaults: { dailyQuotaPerUser: 5, cooldownSeconds: 0 } };
    a = await openStore(db.url, opts);
    b = await openStore(db.url, opts);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it.skipIf(skip)("an answered use stays counted; one left unanswered past the wait is given back once, on its platform only, with its note", async () => {
    const [kept, lost] = [someone(), someone()];
    const answered = await a.moderation.admit(kept, "meme", { reply: '{"chat":1}' });
    await answered.answered();
    await a.moderation.admit(lost, "animated", { reply: '{"chat":2}' });
    clock += TTL - 1;
    expect(await b.moderation.takeAbandoned("telegram")).toEqual([]);
    clock += 2;
    expect(await b.moderation.takeAbandoned("discord")).toEqual([]);
    // Never the taker's own: alive, a answers it itself (its renewals may only have failed for a while).
    expect(await a.moderation.takeAbandoned("telegram")).toEqual([]);
    expect(await b.moderation.takeAbandoned("telegram")).toEqual([{ userId: lost.userId, serverId: "g1", command: "animated", reply: '{"chat":2}', job: null }]);
    expect(await b.moderation.takeAbandoned("telegram")).toEqual([]);
    expect(await usedToday(a, lost)).toBe(0);
    expect(await usedToday(a, kept)).toBe(1);
    clock = T0;
  });

  it.skipIf(skip)("a use's note can be replaced while it waits (a queue message sent since), by its own process only, and not once answered", async () => {
    const [waiting, done] = [someone(), someone()];
    const w = await a.moderation.admit(waiting, "meme", { reply: '{"chat":1}' });
    const d = await a.moderation.admit(done, "meme", { reply: '{"chat":2}' });
    await w.renote('{"chat":1,"statusId":9}');
    await d.answered();
    await d.renote('{"chat":2,"statusId":10}');
    clock += TTL + 1;
    expect(await b.moderation.takeAbandoned("telegram")).toEqual([{ userId: waiting.userId, serverId: "g1", command: "meme", reply: '{"chat":1,"statusId":9}', job: null }]);
    expect(await usedToday(a, done)).toBe(1);
    // Taken by another process meanwhile: its row is gone, the late note changes nothing and throws nothing.
    await w.renote('{"chat":1,"statusId":11}');
    expect(await b.moderation.takeAbandoned("telegram")).toEqual([]);
    clock = T0;
  });

  it.skipIf(skip)("a live process's renewal keeps its own uses, not another's; a refund or an answer ends the wait", async () => {
    const [mine, theirs, refunded, done] = [someone(), someone(), someone(), someone()];
    await a.moderation.admit(mine, "meme");
    await b.moderation.admit(theirs, "meme");
    const r = await a.moderation.admit(refunded, "meme");
    const d = await a.moderation.admit(done, "meme");
    await r.refund();
    await d.answered();
    clock += TTL / 2;
    expect(await a.moderation.renewPending()).toBe(1);
    clock += TTL / 2 + 1;
    // b's use was not renewed by a.
    expect((await a.moderation.takeAbandoned("telegram")).map((u) => u.userId)).toEqual([theirs.userId]);
    expect(await usedToday(a, mine)).toBe(1);
    expect(await usedToday(a, done)).toBe(1);
    expect(await usedToday(a, refunded)).toBe(0);
    // Once answered, renewals leave it alone and nobody takes it.
    await (await a.moderation.admit(someone(), "meme")).answered();
    clock += 10 * TTL;
    expect((await b.moderation.takeAbandoned("telegram")).map((u) => u.userId)).toEqual([mine.userId]);
    clock = T0;
  });

  it.skipIf(skip)("the watch answers each lost request through its platform's LateAnswer (an animation's too); a forgotten user's and the playground's are only given back", async () => {
    const [meme, animation, forgotten, local] = [someone(), someone(), someone(), someone("playground")];
    await a.moderation.admit(meme, "meme", { reply: "m", job: "job-m" });
    await a.moderation.admit(animation, "animated", { reply: "a", job: "job-a" });
    await a.moderation.admit(forgotten, "meme", { reply: "f", job: "job-f" });
    await a.moderation.admit(local, "meme");
    // Forget-me while the request runs: "send it again" would only find no face.
    await a.templates.forgetUser({ platform: "telegram", userId: forgotten.userId });
    clock += TTL + 1;
    const told: [string, string][] = [];
    const abandoned: string[] = [];
    const watch = watchAbandoned(storeModeration(b), async (job) => void abandoned.push(job))!;
    try {
      // Not served yet (its bot still connecting): nothing is taken, nobody could be told.
      await watch.check();
      expect(abandoned).toEqual([]);
      expect(await usedToday(a, meme)).toBe(1);
      let answering = 0;
      let most = 0;
      watch.serve("telegram", async (reply, text) => {
        most = Math.max(most, ++answering);
        await new Promise((r) => setTimeout(r, 10));
        told.push([reply, text]);
        answering--;
      });
      watch.serve("playground", null);
      await watch.check();
      // One at a time (a group's flood limit).
      expect(most).toBe(1);
      // Every lost job leaves the shared queue, the forgotten user's too.
      expect(abandoned.sort()).toEqual(["job-a", "job-f", "job-m"]);
      expect(told.sort()).toEqual([
        ["a", abandonedText({ kind: "animated" })],
        ["m", abandonedText({ kind: "meme" })],
      ]);
      expect(await usedToday(a, forgotten)).toBe(0);
      expect(abandonedText({ kind: "animated" })).toContain("your animation");
      expect(await usedToday(a, local)).toBe(0);
      expect(await usedToday(a, meme)).toBe(0);
    } finally {
      await watch.stop();
    }
    clock = T0;
  });

  it.skipIf(skip)("the watch renews its own process's uses, so a slow job is never taken for lost; at a graceful stop what it still holds counts as answered", async () => {
    const slow = someone();
    await a.moderation.admit(slow, "meme", { reply: "s" });
    const watch = watchAbandoned(storeModeration(a))!;
    watch.serve("telegram", async () => undefined);
    try {
      clock += TTL - 1;
      await watch.check();
      clock += TTL - 1;
      expect(await b.moderation.takeAbandoned("telegram")).toEqual([]);
      expect(await usedToday(a, slow)).toBe(1);
    } finally {
      await watch.stop();
    }
    // A refund or answered() still being retried at the stop: nobody apologises for it after a restart.
    clock += 10 * TTL;
    expect(await b.moderation.takeAbandoned("telegram")).toEqual([]);
    expect(await usedToday(a, slow)).toBe(1);
    clock = T0;
  });

  it.skipIf(skip)("renewals run on their own timer, not held up by a platform that does not answer; stop() aborts that answer and does not wait for it", async () => {
    const lost = someone();
    await b.moderation.admit(lost, "meme", { reply: "hangs" });
    clock += TTL + 1;
    // Real timers: a short wait, so the watch ticks every 100 ms; the test clock stays where it is.
    const quick = Object.assign(Object.create(storeModeration(a)) as ReturnType<typeof storeModeration>, { pendingTtlMs: 300 });
    let renewals = 0;
    quick.renewPending = async () => void renewals++;
    let answering!: () => void;
    const started = new Promise<void>((r) => (answering = r));
    let given: AbortSignal | undefined;
    const watch = watchAbandoned(quick)!;
    // A platform that never answers, and does not listen to the abort either (a retry's sleep).
    watch.serve("telegram", (_reply, _text, signal) => {
      given = signal;
      answering();
      return new Promise<void>(() => undefined);
    });
    await started;
    const before = renewals;
    await vi.waitFor(() => expect(renewals).toBeGreaterThan(before + 1), { timeout: 30_000, interval: 20 });
    // Bounded all the same.
    await watch.stop();
    expect(given?.aborted).toBe(true);
    expect(await usedToday(a, lost)).toBe(0);
    clock = T0;
  });

  it.skipIf(skip)("without a test clock the marks are on the database's clock: due a wait from now, and not taken before", async () => {
    const live = await openStore(db.url, { pendingTtlMs: TTL, defaults: { cooldownSeconds: 0 } });
    try {
      const scope = someone("discord");
      const t0 = Date.now();
      const use = await live.moderation.admit(scope, "meme", { reply: "n" });
      const t1 = Date.now();
      const [row] = await db.query<{ pending_until_ms: number | string }>(`SELECT pending_until_ms FROM usage_events WHERE platform_user_id = '${scope.userId}'`);
      // The database runs on this machine here: its clock and ours agree within the statement's time (and a rounding).
      expect(Number(row.pending_until_ms)).toBeGreaterThanOrEqual(t0 + TTL - 1);
      expect(Number(row.pending_until_ms)).toBeLessThanOrEqual(t1 + TTL + 1);
      const other = await openStore(db.url, { pendingTtlMs: TTL });
      try {
        expect(await other.moderation.takeAbandoned("discord")).toEqual([]);
        expect(await live.moderation.renewPending()).toBe(1);
      } finally {
        await other.close();
        // On the real clock it would fall due before the test clock's uses (year 2030) in the cases after.
        await use.answered();
      }
    } finally {
      await live.close();
    }
  });

  it.skipIf(skip)("a backup counts a use still being answered as answered: no pending mark, and no note (a Discord token) in the file", async () => {
    const token = `interaction-token-${dialect}-${"x".repeat(40)}`;
    const scope = someone("discord");
    await a.moderation.admit(scope, "meme", { reply: JSON.stringify({ appId: "1", token }) });
    const dir = mkdtempSync(join(tmpdir(), "mimic-unanswered-"));
    try {
      const file = join(dir, "backup.db");
      await backupStore(file, { url: db.url });
      const copy = new Database(file, { readonly: true });
      try {
        expect(copy.prepare("SELECT platform_user_id, pending_by, pending_until_ms, pending_reply FROM usage_events WHERE platform_user_id = ?").all(scope.userId)).toEqual([
          { platform_user_id: scope.userId, pending_by: null, pending_until_ms: null, pending_reply: null },
        ]);
      } finally {
        copy.close();
      }
      // Not in a freed page either.
      expect(readFileSync(file).includes(token)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The live store still waits on a's answer.
    clock += TTL + 1;
    expect((await b.moderation.takeAbandoned("discord")).map((u) => u.userId)).toEqual([scope.userId]);
    clock = T0;
  });

  it.skipIf(skip)("a forget-me through another process counts a use still being made here as in flight (given back), not as held", async () => {
    const user = someone();
    await a.moderation.admit(user, "meme", { reply: "x" });
    await (await a.moderation.admit(user, "meme")).answered();
    const removed = await b.templates.forgetUser({ platform: user.platform, userId: user.userId });
    expect(removed).toMatchObject({ heldRecords: 2, heldInFlight: 1 });
  });
});
