/**
 * One store, one bot: a second Mimic with the in-process queue on a store another one runs on is refused
 * (both would answer every command), through the real composition root and the real CLI; a killed one leaves
 * nothing behind; Redis mode's front ends still share a store. SLOW: it spawns the CLI.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { isMimicError } from "../../src/errors.ts";
import { logger } from "../../src/logger.ts";
import { DOUBLE_HANDLERS, startTestApp } from "./harness.ts";
import { createTestDb, dialects, PG_URL, rejection } from "../templates/helpers.ts";

const root = join(import.meta.dirname, "..", "..");
const REDIS = process.env.TEST_REDIS_URL;
const work = mkdtempSync(join(tmpdir(), "mimic-sole-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ALREADY_RUNNING = /^Another Mimic is already running on the store (sqlite|postgres) .+: two would both answer every command\. Stop the other one first/;

describe("a second Mimic on the same store", () => {
  for (const { dialect, skip } of dialects) {
    it.skipIf(skip)(`is refused on ${dialect} while the first runs, and starts once it stopped`, async () => {
      const db = await createTestDb(dialect, "sole");
      try {
        const first = await startTestApp({ DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS });
        try {
          const refused = await rejection(startTestApp({ DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS }));
          expect(isMimicError(refused) && refused.code).toBe("CONFIG");
          expect(refused.userMessage).toMatch(ALREADY_RUNNING);
          // The refused one neither migrated nor closed anything under the first.
          await first.app.store.moderation.ban({ platform: "discord", serverId: "g1", isAdmin: true }, "u1", "still writable");
        } finally {
          await first.close();
        }
        const next = await startTestApp({ DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS });
        await next.close();
      } finally {
        await db.drop();
      }
    });
  }

  it.skipIf(!PG_URL)("started while the first's lock connection to PostgreSQL was lost: the first says so (error log) instead of running on unaware", async () => {
    const db = await createTestDb("postgres", "sole-lost");
    const schema = new URL(db.url).searchParams.get("schema") ?? "public";
    const error = vi.spyOn(logger, "error");
    const first = await startTestApp({ DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS });
    let second: Awaited<ReturnType<typeof startTestApp>> | undefined;
    try {
      // The first re-takes its lock a second after losing it: a second start wins that race, or tries again.
      for (let tries = 0; !second && tries < 5; tries++) {
        await db.query(
          `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' AND objid::bigint = (hashtext('mimic-sole:${schema}')::bigint & 4294967295)`,
        );
        second = await startTestApp({ DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS }).catch(() => undefined);
      }
      expect(second).toBeDefined();
      await vi.waitFor(() => expect(error.mock.calls.some(([, msg]) => typeof msg === "string" && msg.startsWith("another Mimic started on this store while this one's connection to it was lost"))).toBe(true), { timeout: 30_000, interval: 100 });
    } finally {
      error.mockRestore();
      await second?.close();
      await first.close();
      await db.drop();
    }
  });

  it.skipIf(!REDIS)("is not refused in Redis mode, whose front ends share a store", async () => {
    const db = await createTestDb("sqlite", "sole-redis");
    const env = { DATABASE_URL: db.url, QUEUE_URL: REDIS!, QUEUE_PREFIX: `mimic-sole-${process.pid}` };
    const a = await startTestApp(env, { handlers: DOUBLE_HANDLERS });
    try {
      const b = await startTestApp(env, { handlers: DOUBLE_HANDLERS });
      await b.close();
    } finally {
      await a.close();
      await db.drop();
    }
  });

  it("mimic start exits 2 naming the store while another runs on it; one killed with -9 does not block the next (the real CLI)", async () => {
    const dataDir = join(work, "data");
    const env = { ...process.env, DATA_DIR: dataDir, DATABASE_URL: "", PLAYGROUND_PORT: "0", LOG_LEVEL: "warn", DISCORD_TOKEN: "", TELEGRAM_TOKEN: "", QUEUE_WORKERS: "1", QUEUE_URL: "" };
    const startPlayground = async () => {
      const child = spawn(process.execPath, [join(root, "bin", "mimic.mjs"), "start"], { cwd: work, env, stdio: ["ignore", "pipe", "pipe"] });
      const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
      let out = "", err = "";
      child.stderr.on("data", (d: Buffer) => (err += d));
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d;
          const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
          if (m) resolve(m[1]);
        });
        void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      return { child, exited, url };
    };

    const first = await startPlayground();
    try {
      const second = spawnSync(process.execPath, [join(root, "bin", "mimic.mjs"), "start"], { cwd: work, env, encoding: "utf8", timeout: 120_000 });
      expect(second.status, second.stderr).toBe(2);
      expect(second.stderr.replace(/^mimic: /, "")).toMatch(ALREADY_RUNNING);
      expect(second.stderr).toContain(join(dataDir, "mimic.db"));
      expect((await fetch(first.url)).status).toBe(200);
    } finally {
      first.child.kill("SIGKILL");
      await first.exited;
    }

    const third = await startPlayground();
    expect((await fetch(third.url)).status).toBe(200);
    third.child.kill("SIGTERM");
    expect(await third.exited).toBe(0);
  }, 300_000);
});
