/**
 * `mimic store restore` refuses while a running Mimic (the real composition root) has the store open, on the
 * embedded SQLite file and on PostgreSQL, and goes ahead once it has stopped. SLOW: it spawns the CLI.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/templates/index.ts";
import { DOUBLE_HANDLERS, startTestApp } from "../bots/harness.ts";
import { createTestDb, dialects } from "./helpers.ts";

const root = join(import.meta.dirname, "..", "..");
const work = mkdtempSync(join(tmpdir(), "mimic-restore-in-use-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function mimic(databaseUrl: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, "bin", "mimic.mjs"), ...args], {
    cwd: work,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: databaseUrl, DATA_DIR: join(work, "unused"), LOG_LEVEL: "silent" },
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const SERVER = { platform: "discord", serverId: "g1", isAdmin: true };

async function bannedUsers(url: string): Promise<string[]> {
  const s = await openStore(url);
  try {
    return (await s.moderation.bans(SERVER)).map((b) => b.userId).sort();
  } finally {
    await s.close();
  }
}

async function ban(url: string, userId: string): Promise<void> {
  const s = await openStore(url);
  try {
    await s.moderation.ban(SERVER, userId, "test");
  } finally {
    await s.close();
  }
}

describe("mimic store restore beside a running Mimic", () => {
  for (const { dialect, skip } of dialects) {
    it.skipIf(skip)(`is refused on ${dialect} while the bot runs, changing nothing, and goes ahead once it stopped`, async () => {
      const db = await createTestDb(dialect, "inuse");
      const backupFile = join(work, `${dialect}-backup.db`);
      try {
        await ban(db.url, "in-backup");
        expect(mimic(db.url, "store", "backup", backupFile).code).toBe(0);
        await ban(db.url, "after-backup");

        const running = await startTestApp({ DATABASE_URL: db.url }, { handlers: DOUBLE_HANDLERS });
        try {
          const refused = mimic(db.url, "store", "restore", backupFile, "--replace");
          expect(refused.code).toBe(2);
          expect(refused.err).toMatch(/^mimic: The store \(.*\) is in use by a running Mimic .*, so nothing was restored\. Stop it first, then restore\.\n$/);
          expect(await bannedUsers(db.url)).toEqual(["after-backup", "in-backup"]);
        } finally {
          await running.close();
        }

        const restored = mimic(db.url, "store", "restore", backupFile, "--replace");
        expect(restored.code, restored.err).toBe(0);
        expect(await bannedUsers(db.url)).toEqual(["in-backup"]);
      } finally {
        await db.drop();
      }
    });
  }
});
