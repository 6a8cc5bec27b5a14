/**
 * One store, one bot: a second Mimic running a bot with the in-process queue on a store another one runs on is
 * refused (both would answer every command), through the real composition root and the real CLI; a killed one
 * leaves nothing behind; Redis mode's front ends and playgrounds still share a store. SLOW: it spawns the CLI.
 */
import { spawn, spawnSync } from "node:child_process";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { isMimicError } from "../../src/errors.ts";
import { logger } from "../../src/logger.ts";
import { FakeDiscord } from "../helpers/fake-discord.ts";
import { DOUBLE_HANDLERS, startTestApp } from "./harness.ts";
import { createTestDb, dialects, PG_URL, rejection } from "../templates/helpers.ts";

const root = join(import.meta.dirname, "..", "..");
const REDIS = process.env.TEST_REDIS_URL;
const work = mkdtempSync(join(tmpdir(), "mimic-sole-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ALREADY_RUNNING = /^Another Mimic bot is already running on the store (sqlite|postgres) .+: two would both answer every command\. Stop the other one first/;
/** A bot's token in the configuration: createApp takes the store sole for it (the bot itself starts in startApp). */
const BOT = { DISCORD_TOKEN: "test-token" };

describe("a second Mimic on the same store", () => {
  for (const { dialect, skip } of dialects) {
    it.skipIf(skip)(`is refused on ${dialect} while the first runs, and starts once it stopped`, async () => {
      const db = await createTestDb(dialect, "sole");
      try {
        const first = await startTestApp({ ...BOT, DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS });
        try {
          const refused = await rejection(startTestApp({ ...BOT, DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS }));
          expect(isMimicError(refused) && refused.code).toBe("CONFIG");
          expect(refused.userMessage).toMatch(ALREADY_RUNNING);
          // The refused one neither migrated nor closed anything under the first.
          await first.app.store.moderation.ban({ platform: "discord", serverId: "g1", isAdmin: true }, "u1", "still writable");
        } finally {
          await first.close();
        }
        const next = await startTestApp({ ...BOT, DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS });
        await next.close();
        // Playgrounds (no bot token) answer only their own page: two on one store are not refused.
        const playgrounds = [await startTestApp({ DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS }), await startTestApp({ DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS })];
        for (const p of playgrounds) await p.close();
      } finally {
        await db.drop();
      }
    });
  }

  it.skipIf(!PG_URL)("started while the first's lock connection to PostgreSQL was lost: the first says so (error log) instead of running on unaware", async () => {
    const db = await createTestDb("postgres", "sole-lost");
    const schema = new URL(db.url).searchParams.get("schema") ?? "public";
    const error = vi.spyOn(logger, "error");
    const first = await startTestApp({ ...BOT, DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS });
    let second: Awaited<ReturnType<typeof startTestApp>> | undefined;
    try {
      // The first re-takes its lock a second after losing it: a second start wins that race, or tries again.
      for (let tries = 0; !second && tries < 5; tries++) {
        await db.query(
          `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' AND objid::bigint = (hashtext('mimic-sole:${schema}')::bigint & 4294967295)`,
        );
        second = await startTestApp({ ...BOT, DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS }).catch(() => undefined);
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

  for (const { dialect, skip } of dialects) {
    it.skipIf(!REDIS || skip)(`Redis mode's front ends share a store on ${dialect}, but not with a bot running the in-process queue, in either order`, async () => {
      const db = await createTestDb(dialect, "sole-redis");
      const redis = { ...BOT, DATABASE_URL: db.url, QUEUE_URL: REDIS!, QUEUE_PREFIX: `mimic-sole-${dialect}-${process.pid}` };
      const alone = { ...BOT, DATABASE_URL: db.url };
      try {
        const a = await startTestApp(redis, { handlers: DOUBLE_HANDLERS });
        const b = await startTestApp(redis, { handlers: DOUBLE_HANDLERS });
        expect((await rejection(startTestApp(alone, { handlers: DOUBLE_HANDLERS }))).userMessage).toMatch(ALREADY_RUNNING);
        await b.close();
        await a.close();
        const c = await startTestApp(alone, { handlers: DOUBLE_HANDLERS });
        try {
          expect((await rejection(startTestApp(redis, { handlers: DOUBLE_HANDLERS }))).userMessage).toMatch(ALREADY_RUNNING);
        } finally {
          await c.close();
        }
      } finally {
        await db.drop();
      }
    });
  }

  it("a lock file Mimic may not write (made by another user) stops the start, naming it, instead of locking nothing", async (ctx) => {
    const db = await createTestDb("sqlite", "sole-readonly");
    const lock = `${db.url.slice("file:".length)}-running`;
    writeFileSync(lock, "");
    // Tests run as root, who may write any file but an immutable one.
    if (spawnSync("chattr", ["+i", lock]).status !== 0) return ctx.skip();
    try {
      const refused = await rejection(startTestApp({ ...BOT, DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS }));
      expect(refused.code).toBe("CONFIG");
      expect(refused.userMessage).toBe(
        `Mimic may not write its lock file ${lock} (made by another user?), so it could not make sure it is the only bot on the store. Make the file writable for the user Mimic runs as, or delete it while no Mimic runs.`,
      );
    } finally {
      spawnSync("chattr", ["-i", lock]);
      await db.drop();
    }
  });

  it("a store that is a folder, or no SQLite file, is refused in the store's own words, with no lock file left beside it", async () => {
    const folder = join(work, "a-folder");
    mkdirSync(folder);
    const notSqlite = join(work, "notes.db");
    writeFileSync(notSqlite, "not a database at all, just some text that is long enough to be read as a header");
    for (const [path, words] of [[folder, /points at the folder/], [notSqlite, /is not a Mimic database/]] as const) {
      const refused = await rejection(startTestApp({ ...BOT, DATABASE_URL: `file:${path}` }, { handlers: DOUBLE_HANDLERS }));
      expect(refused.userMessage, path).toMatch(words);
      expect(existsSync(`${path}-running`), path).toBe(false);
    }
  });

  it("mimic start exits 2 naming the store while another bot runs on it; one killed with -9 does not block the next (the real CLI)", async () => {
    const discord = await FakeDiscord.start();
    try {
      const dataDir = join(work, "data");
      const env = { ...process.env, DATA_DIR: dataDir, DATABASE_URL: "", LOG_LEVEL: "warn", DISCORD_TOKEN: discord.token, DISCORD_API_ROOT: discord.base, TELEGRAM_TOKEN: "", QUEUE_WORKERS: "1", QUEUE_URL: "" };
      const start = () => {
        const child = spawn(process.execPath, [join(root, "bin", "mimic.mjs"), "start"], { cwd: work, env, stdio: ["ignore", "pipe", "pipe"] });
        const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
        let out = "", err = "";
        child.stderr.on("data", (d: Buffer) => (err += d));
        child.stdout.on("data", (d: Buffer) => (out += d));
        const running = new Promise<void>((resolve, reject) => {
          child.stdout.on("data", () => /Mimic is running/.test(out) && resolve());
          void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
        });
        // A refused start never runs: awaited where a start must succeed, its rejection is not a stray one.
        running.catch(() => undefined);
        return { child, exited, running, stderr: () => err };
      };

      const first = start();
      await first.running;
      try {
        const second = start();
        expect(await second.exited, second.stderr()).toBe(2);
        expect(second.stderr().replace(/^mimic: /, "")).toMatch(ALREADY_RUNNING);
        expect(second.stderr()).toContain(join(dataDir, "mimic.db"));
        expect(first.child.exitCode).toBeNull();
      } finally {
        first.child.kill("SIGKILL");
        await first.exited;
      }

      const third = start();
      await third.running;
      third.child.kill("SIGTERM");
      expect(await third.exited).toBe(0);
    } finally {
      await discord.close();
    }
  }, 300_000);

  it.skipIf(!PG_URL)("a PostgreSQL host that takes the connection but never answers stops the start with a clear error, not a hang", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as AddressInfo).port;
    try {
      const refused = await rejection(startTestApp({ ...BOT, DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/test?schema=sole_silent` }, { handlers: DOUBLE_HANDLERS }));
      expect(refused.code).toBe("CONFIG");
      expect(refused.userMessage).toMatch(/^Could not connect to PostgreSQL at .* \(DATABASE_URL\)/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  }, 120_000);
});
