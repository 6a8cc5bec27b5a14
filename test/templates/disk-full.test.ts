/**
 * A full disk (a real one: a small tmpfs, so SQLite meets SQLITE_FULL when COMMIT writes the WAL, or an I/O
 * error creating its -shm file at start-up). A store open when it fills up answers every request after the
 * failure (storage full for writes) and works again once there is space, without a restart; the CLI tells its
 * operator to free space, and a look-up on a disk with no room at all still answers; the ops endpoint of a
 * running app shows it (/readyz, the refusals and database errors in /metrics). Needs root and mount; skipped
 * with the reason where mounting is refused.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, openSync, rmSync, writeSync, closeSync, ftruncateSync, fstatSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import Database from "better-sqlite3";
import { startApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { openStore, type Store } from "../../src/templates/index.ts";
import { FACE_JPG } from "../core/images.ts";
import { postForm } from "../helpers/playground-form.ts";
import { DOUBLE_HANDLERS } from "../bots/harness.ts";
import { fakeTemplate, rejection } from "./helpers.ts";
import { within } from "../helpers/within.ts";
import { exitCode, runCli } from "../helpers/cli-run.ts";

const mnt = mkdtempSync(join(tmpdir(), "mimic-disk-full-"));
let mounted = false;
let refused = "";
try {
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], { stdio: "pipe" });
  mounted = true;
} catch (e) {
  refused = String((e as { stderr?: Buffer }).stderr ?? e).trim();
}
if (!mounted) console.warn(`disk-full.test.ts skipped: could not mount a small tmpfs (needs root): ${refused}`);

afterAll(() => {
  if (mounted) execFileSync("umount", ["-l", mnt]);
  rmSync(mnt, { recursive: true, force: true });
});

/** Writes a file until the disk refuses (ENOSPC), then gives `leave` bytes back. */
function fillDisk(path: string, leave = 0): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(4 << 10);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
  }
  try {
    if (leave > 0) ftruncateSync(fd, Math.max(0, fstatSync(fd).size - leave));
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(!mounted)("SQLite store on a disk that fills up while open", () => {
  let store: Store;
  const owner = { platform: "telegram", userId: "disk-full" };
  const filler = join(mnt, "filler");

  beforeAll(async () => {
    // As the running bot or playground opens it: refusals are worded for chat users.
    store = await openStore(`file:${join(mnt, "mimic.db")}`, { audience: "chat" });
    await store.templates.save(owner, "one", fakeTemplate("one", 64 << 10));
  });
  afterAll(async () => {
    rmSync(filler, { force: true });
    // bounded: without the fix the store's last unit waits for ever behind the held lock
    await within(30_000, store?.close() ?? Promise.resolve()).catch(() => undefined);
  });

  it("answers every request after a failed COMMIT (storage full), and works again once there is space", async () => {
    fillDisk(filler);
    const first = await within(30_000, rejection(store.templates.save(owner, "two", fakeTemplate("two", 256 << 10))));
    expect(first.details).toEqual({ reason: "storage-full" });
    expect(first.userMessage).toBe("Mimic's server storage is full, so this could not be done (nothing saved before is lost). Please tell the bot's owner, then try again later.");

    // Before the fix the failed COMMIT kept the driver's transaction lock: everything below waited for ever.
    expect((await within(30_000, store.templates.list(owner))).map((t) => t.name)).toEqual(["one"]);
    const again = await within(30_000, rejection(store.templates.save(owner, "three", fakeTemplate("three", 256 << 10))));
    expect(again.details).toEqual({ reason: "storage-full" });

    rmSync(filler);
    await within(30_000, store.templates.save(owner, "two", fakeTemplate("two", 256 << 10)));
    expect((await within(30_000, store.templates.list(owner))).map((t) => t.name).sort()).toEqual(["one", "two"]);
  });
});

describe.skipIf(!mounted)("the CLI on a full disk", () => {
  const filler = join(mnt, "cli-filler");
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
    rmSync(filler, { force: true });
  });
  const face = join(import.meta.dirname, "..", "fixtures", "faces", "franck_01829.jpg");
  const env = (db: string): NodeJS.ProcessEnv => ({ ...process.env, DATABASE_URL: `file:${db}`, DATA_DIR: mnt, LOG_LEVEL: "silent", QUEUE_WORKERS: "1" });

  it("a save that does not fit tells the operator to free disk space (not to tell the bot's owner)", async () => {
    const db = join(mnt, "cli.db");
    const seeded = await openStore(`file:${db}`);
    await seeded.close();
    // Room for SQLite to open the file (its -shm and a little WAL), not for a face.
    fillDisk(filler, 96 << 10);
    try {
      const cli = runCli(["face", "add", face, "--name", "franck"], env(db), (c) => cleanups.push(c));
      expect(await exitCode(cli)).not.toBe(0);
      expect(cli.err()).toContain(`The disk holding Mimic's database ${db} is full, so this could not be done (nothing saved before is lost). Free some space on that disk (or move DATA_DIR to a bigger one), then try again.`);
      expect(cli.err()).not.toContain("tell the bot's owner");
    } finally {
      rmSync(filler, { force: true });
    }
  });

  it("a CLI look-up on a disk with no room at all still answers: it writes nothing (only a running bot prunes old rows)", async () => {
    const db = join(mnt, "start.db");
    const seeded = await openStore(`file:${db}`);
    await seeded.close();
    fillDisk(filler);
    try {
      const cli = runCli(["face", "list"], env(db), (c) => cleanups.push(c));
      expect(await exitCode(cli), cli.err()).toBe(0);
      expect(cli.err()).not.toContain("Something went wrong");
    } finally {
      rmSync(filler, { force: true });
    }
  });
});

describe.skipIf(!mounted)("the ops endpoint of a running app whose disk fills up", () => {
  const filler = join(mnt, "ops-filler");
  afterAll(() => rmSync(filler, { force: true }));

  /** The value of one sample line of the Prometheus text. */
  const sample = (text: string, series: string) => Number(text.split("\n").find((l) => l.startsWith(`${series} `))?.slice(series.length + 1));

  it("/readyz fails naming the full disk, /metrics counts the refused save and the database error; both recover once there is room", async () => {
    const dataDir = join(mnt, "ops");
    const config = loadConfig({ DATA_DIR: dataDir, PLAYGROUND_PORT: "0", OPS_PORT: "0", QUEUE_WORKERS: "1", LOG_LEVEL: "silent" });
    const running = await startApp(config, { handlers: DOUBLE_HANDLERS, onFatal: () => {} });
    try {
      const ops = running.ops!.url;
      const readyz = async () => {
        const res = await fetch(`${ops}/readyz`);
        return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
      };
      await vi.waitFor(async () => expect((await readyz()).status).toBe(200), { timeout: 60_000, interval: 100 });
      expect((await readyz()).body.checks.storage).toBe("ok");

      // An empty WAL, so the save's commit needs new room on the disk (SQLite reuses a WAL's space once written).
      const db = new Database(join(dataDir, "mimic.db"));
      db.pragma("wal_checkpoint(TRUNCATE)");
      db.close();
      fillDisk(filler);
      const full = await readyz();
      expect(full.status).toBe(503);
      expect(full.body.checks.storage).toMatch(new RegExp(`^the disk holding ${dataDir} is full \\(\\d+ KiB free\\): free some space, or move DATA_DIR to a bigger disk$`));

      const save = () => postForm(running.playground!.url, "/api/faces", { name: "me" }, { field: "photo", bytes: FACE_JPG, filename: "me.jpg" });
      const refused = await save();
      expect(refused).toMatchObject({ ok: false, text: expect.stringContaining("Mimic's server storage is full") });
      const metrics = await (await fetch(`${ops}/metrics`)).text();
      expect(sample(metrics, 'mimic_refusals_total{reason="storage_full"}')).toBe(1);
      expect(metrics).toMatch(/^mimic_db_duration_seconds_count\{op="templates\.\w+",outcome="error"\} 1$/m);

      rmSync(filler);
      expect((await readyz()).status).toBe(200);
      const saved = await save();
      expect(saved, saved.text).toMatchObject({ ok: true });
    } finally {
      rmSync(filler, { force: true });
      await running.stop();
    }
  }, 120_000);
});
