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
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
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
  }, 90_000);
});
