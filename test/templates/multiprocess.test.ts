/**
 * Several processes on one database (bots + CLI on the embedded SQLite file, or several bots on
 * PostgreSQL): admissions stay atomic across processes, and contention ends in a verdict, not BUSY.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/templates/index.ts";
import { transientRetries } from "../../src/templates/db/retry.ts";
import { createTestDb, dialects, type TestDb } from "./helpers.ts";

const here = dirname(fileURLToPath(import.meta.url));
const tsxLoader = createRequire(import.meta.url).resolve("tsx/esm");

function startChild(url: string, server: string, count: number) {
  const child = spawn(process.execPath, ["--import", tsxLoader, join(here, "admit-child.ts"), url, server, String(count)], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "silent" },
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const ready = new Promise<void>((resolve) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready\n")) resolve();
    });
  });
  const done = new Promise<Record<string, number>>((resolve, reject) => {
    // A hang bound, not a speed bound: at load 25 on 2 cores three tsx-started children took over 60 s.
    const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (code === 0 && line) resolve(JSON.parse(line) as Record<string, number>);
      else reject(new Error(`child failed (${code}): ${err}`));
    });
  });
  return { child, ready, done };
}

describe.each(dialects)("admissions from several processes on $dialect", ({ dialect, skip }) => {
  let db: TestDb;
  afterAll(async () => {
    await db?.drop();
  });

  it.skipIf(skip)("3 processes × 100 concurrent requests against a server quota of 41 admit exactly 41", async () => {
    db = await createTestDb(dialect, "multi");
    const store = await openStore(db.url);
    await store.moderation.updateRules({ platform: "discord", serverId: "shared", isAdmin: true }, { dailyQuotaPerServer: 41 });
    await store.close();
    const children = [0, 1, 2].map(() => startChild(db.url, "shared", 100));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.end("go\n");
    const tallies = await Promise.all(children.map((c) => c.done));
    const total = (k: string) => tallies.reduce((n, t) => n + (t[k] ?? 0), 0);
    expect(total("ok")).toBe(41);
    expect(total("QUOTA_EXCEEDED")).toBe(300 - 41);
    const rows = await db.query<{ n: number }>("SELECT COUNT(*) AS n FROM usage_events WHERE server_id = 'shared'");
    expect(Number(rows[0].n)).toBe(41);
  });
});

describe.each(dialects)("two stores in one process on the same $dialect database", ({ dialect, skip }) => {
  let db: TestDb;
  afterAll(async () => {
    await db?.drop();
  });

  it.skipIf(skip)("interleave saves and admissions without stalls or lost work", async () => {
    db = await createTestDb(dialect, "twostores");
    const [a, b] = await Promise.all([openStore(db.url), openStore(db.url)]);
    try {
      const owner = { platform: "telegram", userId: "shared-user" };
      const { fakeTemplate } = await import("./helpers.ts");
      const retriesBefore = transientRetries();
      const work = await Promise.allSettled([
        ...Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).templates.save(owner, `f${i}`, fakeTemplate(`f${i}`), { maxTemplates: 4 })),
        ...Array.from({ length: 20 }, (_, i) => (i % 2 ? b : a).moderation.admit({ ...owner, userId: `u${i}`, serverId: "g", channelId: null }, "meme")),
      ]);
      // Without the shared per-file gate a connection waits out its busy timeout while blocking the thread
      // that holds the lock, then retries: with it, no statement ever meets a lock (the test timeout bounds a hang).
      if (dialect === "sqlite") expect(transientRetries() - retriesBefore).toBe(0);
      expect(work.slice(0, 6).filter((r) => r.status === "fulfilled")).toHaveLength(4);
      expect(work.slice(6).every((r) => r.status === "fulfilled")).toBe(true);
      expect((await a.templates.list(owner)).filter((t) => t.isDefault)).toHaveLength(1);
      expect(await b.templates.count(owner)).toBe(4);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
