/**
 * `mimic store backup|restore` end to end: the real CLI binary against real stores (the embedded SQLite file
 * and, with TEST_DATABASE_URL, PostgreSQL), faces saved through `mimic face add`. SLOW: it spawns the CLI.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BATCH_BYTES, ROW_BATCH } from "../../src/templates/backup.ts";
import { openStore } from "../../src/templates/index.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { createTestDb, dialects, PG_URL, STORE_TABLES, type TestDb } from "./helpers.ts";

const root = join(import.meta.dirname, "..", "..");
const work = mkdtempSync(join(tmpdir(), "mimic-backup-"));
const grace = join(root, "test", "fixtures", "faces", "grace_hopper_512x512.jpg");
const laughPhoto = join(root, "test", "fixtures", "faces", "franck_04117.jpg");

/** A store as the CLI sees it: DATA_DIR (the embedded default) or DATABASE_URL. */
type StoreEnv = { DATA_DIR?: string; DATABASE_URL?: string };

function mimic(store: StoreEnv, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, "bin", "mimic.mjs"), ...args], {
    cwd: work,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: "", DATA_DIR: join(work, "unused"), LOG_LEVEL: "silent", ...store },
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function ok(r: { code: number | null; out: string; err: string }) {
  expect(r.code, r.err).toBe(0);
  return r;
}

const urlOf = (s: StoreEnv) => s.DATABASE_URL || `file:${join(s.DATA_DIR!, "mimic.db")}`;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

const OWNERS = [
  { platform: "playground", userId: "local" },
  { platform: "telegram", userId: "42" },
  { platform: "discord", userId: "99" },
];
const SERVER = { platform: "discord", serverId: "g1", isAdmin: true };
const OUTPUT_SHA = "b".repeat(64);

/** Moderation and audit rows, through the store's own API (every table gets rows). */
async function seed(url: string): Promise<void> {
  const s = await openStore(url);
  try {
    await s.moderation.updateRules(SERVER, { cooldownSeconds: 7, visibleMark: true, nsfwThreshold: 0.25, disabledCommands: ["morph"] });
    await s.moderation.ban(SERVER, "666", "spam");
    const use = await s.moderation.admit({ platform: "discord", userId: "42", serverId: "g1", channelId: "c1" }, "meme");
    await s.audit.record({ platform: "discord", userId: "42", serverId: "g1", channelId: "c1", kind: "meme", templateId: "1", inputSha256: "a".repeat(64), outputSha256: OUTPUT_SHA, useId: use.id });
  } finally {
    await s.close();
  }
}

/** What a store serves, read through the store (the same shape from either dialect): faces with their bytes, rules, bans, usage, audit. */
async function contents(url: string) {
  const s = await openStore(url);
  try {
    const faces = [];
    for (const o of OWNERS) {
      for (const t of await s.templates.list(o)) {
        const f = await s.templates.get(o, t.name);
        faces.push({ owner: `${o.platform}:${o.userId}`, id: t.id, name: t.name, isDefault: t.isDefault, createdAt: t.createdAt.toISOString(), cropSize: f.cropSize, crop: sha(f.cropPng), landmarks: sha(bytesOf(f.landmarks)), embedding: sha(bytesOf(f.embedding)), analysis: f.analysis });
      }
    }
    return {
      faces,
      rules: await s.moderation.rules("discord", "g1"),
      bans: (await s.moderation.bans(SERVER)).map((b) => ({ ...b, since: b.since.toISOString() })),
      // (not the cooldown left: that is a matter of the clock)
      usage: await s.moderation.userUsage({ platform: "discord", userId: "42", serverId: "g1", channelId: "c1" }).then((u) => ({ usedToday: u.usedToday, dailyQuota: u.dailyQuota })),
      audit: (await s.audit.lookup(OUTPUT_SHA)).map((r) => ({ ...r, at: r.at.toISOString() })),
    };
  } finally {
    await s.close();
  }
}

/** The raw crop bytes of every template, by id (no store code in between). */
async function rawCrops(db: { query: TestDb["query"] }): Promise<Record<string, string>> {
  const rows = await db.query<{ id: number; crop_png: Uint8Array }>("SELECT id, crop_png FROM templates ORDER BY id");
  return Object.fromEntries(rows.map((r) => [String(r.id), sha(r.crop_png)]));
}

function sqliteQuery(path: string): TestDb["query"] {
  return async <T,>(sql: string) => {
    const c = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return c.prepare(sql).all() as T[];
    } finally {
      c.close();
    }
  };
}

/** A fresh, empty target of each dialect. */
async function freshTarget(dialect: "sqlite" | "postgres", tag: string): Promise<{ env: StoreEnv; db: { query: TestDb["query"] }; drop(): Promise<void> }> {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(work, `${tag}-`));
    return { env: { DATA_DIR: dir }, db: { query: (sql) => sqliteQuery(join(dir, "mimic.db"))(sql) }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const t = await createTestDb("postgres", tag);
  return { env: { DATABASE_URL: t.url }, db: t, drop: () => t.drop() };
}

/**
 * What `mimic face add <laughPhoto> --name mine` leaves in a store: the local user's one face. Enrolled once per
 * file (the source's "laugh", saved by the CLI from the same photo) and saved here through the store's own save.
 */
async function addMine(env: StoreEnv): Promise<void> {
  const s = await openStore(urlOf(env));
  try {
    await s.templates.save(OWNERS[0]!, "mine", mine);
  } finally {
    await s.close();
  }
}

const partials = () => readdirSync(work).filter((f) => f.includes(".partial-"));

// The source: the embedded default store in DATA_DIR, faces saved by the CLI, one user forgotten (so the
// largest user id ever handed out is above every id left), and a row in every other table.
const source: StoreEnv = { DATA_DIR: join(work, "source") };
const backupFile = join(work, "backup.db");
let before: Awaited<ReturnType<typeof contents>>;
let forgottenUserId: number;
let maxTemplateId: number;
let mine: EnrolledTemplate;

describe("mimic store backup / restore (CLI)", () => {
  beforeAll(async () => {
    ok(mimic(source, "face", "add", grace, "--name", "me"));
    ok(mimic(source, "face", "add", laughPhoto, "--name", "laugh", "--user", "42", "--platform", "telegram"));
    ok(mimic(source, "face", "add", grace, "--name", "gone", "--user", "7", "--platform", "discord"));
    const db = sqliteQuery(join(source.DATA_DIR!, "mimic.db"));
    forgottenUserId = (await db<{ id: number }>("SELECT id FROM users WHERE platform_user_id = '7'"))[0]!.id;
    ok(mimic(source, "face", "forget", "--yes", "--user", "7", "--platform", "discord"));
    ok(mimic(source, "face", "add", grace, "--name", "second", "--default"));
    await seed(urlOf(source));
    maxTemplateId = (await db<{ id: number }>("SELECT MAX(id) AS id FROM templates"))[0]!.id;
    expect(maxTemplateId).toBe(4); // the forgotten user's template (3) is gone: the last id is above the largest left
    before = await contents(urlOf(source));
    expect(before.faces.map((f) => f.name)).toEqual(["me", "second", "laugh"]);
    expect(before.bans.length).toBe(1);
    expect(before.audit.length).toBe(1);
    const s = await openStore(urlOf(source));
    try {
      const { cropPng, cropSize, landmarks, embedding, analysis } = await s.templates.get({ platform: "telegram", userId: "42" }, "laugh");
      mine = { cropPng, cropSize, landmarks, embedding, analysis };
    } finally {
      await s.close();
    }

    const r = ok(mimic(source, "store", "backup", backupFile));
    expect(r.out).toMatch(/^backed up sqlite .*mimic\.db to .*backup\.db/);
    expect(r.out).toMatch(/users +2\n/);
    expect(r.out).toMatch(/templates +3\n/);
    for (const t of ["server_settings", "usage_events", "bans", "audit_events"]) expect(r.out).toMatch(new RegExp(`${t} +1\\n`));
  }, 300_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("the backup is a standalone SQLite store with every table, the image bytes and the migrations record", async () => {
    const b = new Database(backupFile, { readonly: true, fileMustExist: true });
    try {
      expect(b.pragma("journal_mode", { simple: true })).toBe("delete");
      for (const t of STORE_TABLES) expect((b.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n, t).toBeGreaterThan(0);
      const migrations = (b.prepare("SELECT name FROM _mimic_migrations ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
      expect(migrations).toEqual(readdirSync(join(root, "prisma", "migrations", "sqlite")).filter((d) => /^\d{4}_/.test(d)).sort());
    } finally {
      b.close();
    }
    expect(await rawCrops({ query: sqliteQuery(backupFile) })).toEqual(await rawCrops({ query: sqliteQuery(join(source.DATA_DIR!, "mimic.db")) }));
    // It opens as a normal Mimic store (on a copy: opening a store writes to it).
    const copy = join(work, "opened-copy.db");
    copyFileSync(backupFile, copy);
    expect(ok(mimic({ DATABASE_URL: `file:${copy}` }, "face", "list")).out).toMatch(/^ {2}me +\S+\n\* second +\S+\n$/);
    expect(partials()).toEqual([]);
  });

  for (const { dialect, skip } of dialects) {
    it.skipIf(skip)(`restores into a fresh ${dialect} store: the same faces, bytes and rows, and new ids above the old ones`, async () => {
      const target = await freshTarget(dialect, "restore");
      try {
        const r = ok(mimic(target.env, "store", "restore", backupFile));
        expect(r.out).toMatch(new RegExp(`^restored .*backup\\.db into ${dialect === "sqlite" ? "sqlite" : "postgres"} `));
        expect(r.out).toMatch(/templates +3\n/);
        expect(await contents(urlOf(target.env))).toEqual(before);
        expect(await rawCrops(target.db)).toEqual(await rawCrops({ query: sqliteQuery(backupFile) }));
        expect(ok(mimic(target.env, "face", "list")).out).toMatch(/^ {2}me +\S+\n\* second +\S+\n$/);

        // New rows after the restore get ids past everything the source ever handed out.
        ok(mimic(target.env, "face", "add", grace, "--name", "after", "--user", "99", "--platform", "discord"));
        const [newFace] = JSON.parse(ok(mimic(target.env, "face", "list", "--json", "--user", "99", "--platform", "discord")).out) as Array<{ id: string }>;
        expect(Number(newFace!.id)).toBeGreaterThan(maxTemplateId);
        const [newUser] = await target.db.query<{ id: number }>("SELECT id FROM users WHERE platform_user_id = '99'");
        expect(Number(newUser!.id)).toBeGreaterThan(forgottenUserId);
        // and the old faces are still served as before
        const after = await contents(urlOf(target.env));
        expect(after.faces.filter((f) => f.owner !== "discord:99")).toEqual(before.faces);
      } finally {
        await target.drop();
      }
    });

    it.skipIf(skip)(`refuses a non-empty ${dialect} store without --replace (changing nothing); --replace swaps everything`, async () => {
      const target = await freshTarget(dialect, "nonempty");
      try {
        await addMine(target.env);
        const held = await contents(urlOf(target.env));
        const refused = mimic(target.env, "store", "restore", backupFile);
        expect(refused.code).toBe(2);
        expect(refused.err).toMatch(/^mimic: The store .* is not empty \(users: 1, templates: 1\), so nothing was restored\. .*--replace/);
        expect(refused.err.trim().split("\n")).toHaveLength(1);
        expect(await contents(urlOf(target.env))).toEqual(held);

        const replaced = ok(mimic(target.env, "store", "restore", backupFile, "--replace", "--json"));
        expect(JSON.parse(replaced.out)).toMatchObject({ replaced: true, tables: { users: 2, templates: 3, server_settings: 1, usage_events: 1, bans: 1, audit_events: 1 } });
        expect(await contents(urlOf(target.env))).toEqual(before);
        // The replaced store's own ids are not handed out again either.
        ok(mimic(target.env, "face", "add", grace, "--name", "after", "--user", "99", "--platform", "discord"));
        const [newUser] = await target.db.query<{ id: number }>("SELECT id FROM users WHERE platform_user_id = '99'");
        expect(Number(newUser!.id)).toBeGreaterThan(forgottenUserId);
      } finally {
        await target.drop();
      }
    });

    it.skipIf(skip)(`a restore deletes again what a user who asked to be forgotten had up to then, whichever side noted it; what they saved after coming back stays (${dialect})`, async () => {
      const target = await freshTarget(dialect, "forgotten");
      const telegram42 = ["--user", "42", "--platform", "telegram"];
      const owner = { platform: "telegram", userId: "42" };
      const place = { ...owner, serverId: "-100", channelId: "-100" };
      const facesOf42 = () => ok(mimic(target.env, "face", "list", ...telegram42)).out;
      const AGAIN = "deleted again what 1 user who asked to be forgotten had up to their request (faces, uses, audit records)";
      try {
        ok(mimic(target.env, "store", "restore", backupFile));
        // A face saved last (the highest id) and deleted before the request is in the backup too; so is a use of today.
        ok(mimic(target.env, "face", "add", laughPhoto, "--name", "secret", ...telegram42));
        const s = await openStore(urlOf(target.env));
        try {
          await s.moderation.admit(place, "meme");
        } finally {
          await s.close();
        }
        const beforeForget = join(work, `before-forget-${dialect}.db`);
        ok(mimic(target.env, "store", "backup", beforeForget));
        ok(mimic(target.env, "face", "rm", "secret", ...telegram42));
        ok(mimic(target.env, "face", "forget", "--yes", ...telegram42));
        ok(mimic(target.env, "face", "add", grace, "--name", "back", ...telegram42));
        const afterReturn = join(work, `after-return-${dialect}.db`);
        ok(mimic(target.env, "store", "backup", afterReturn));

        // The backup from before the forget-me: the note is the target's own.
        const old = ok(mimic(target.env, "store", "restore", beforeForget, "--replace"));
        expect(old.out).toContain(AGAIN);
        expect(facesOf42()).not.toMatch(/\b(laugh|secret)\b/);
        const rest = await contents(urlOf(target.env));
        expect(rest.faces).toEqual(before.faces.filter((f) => f.owner !== "telegram:42"));
        // Another platform's account with the same number is someone else.
        expect(rest.audit).toEqual(before.audit);
        // Today's use still counts towards the limits, as forget-me itself keeps it: no way around them.
        const restored = await openStore(urlOf(target.env));
        try {
          expect((await restored.moderation.userUsage(place)).usedToday).toBe(1);
        } finally {
          await restored.close();
        }

        // The backup taken after they came back: its note spares the face saved since.
        const back = ok(mimic(target.env, "store", "restore", afterReturn, "--replace"));
        expect(back.out).not.toContain("deleted again");
        expect(facesOf42()).toMatch(/\bback\b/);
        expect(facesOf42()).not.toMatch(/\b(laugh|secret)\b/);

        // Into an empty store, the backup's own note is enough.
        const empty = await freshTarget(dialect, "forgotten-empty");
        try {
          ok(mimic(empty.env, "store", "restore", afterReturn));
          const rows = await empty.db.query<{ platform_user_id: string }>("SELECT platform_user_id FROM forgotten_users ORDER BY platform_user_id");
          expect(rows.map((r) => r.platform_user_id)).toEqual(["42", "7"]);
        } finally {
          await empty.drop();
        }
      } finally {
        await target.drop();
      }
    });

    it.skipIf(skip)(`refuses a garbage file, a truncated backup, a foreign database and a newer schema with one line each, changing nothing (${dialect})`, async () => {
      const target = await freshTarget(dialect, "bad");
      try {
        await addMine(target.env);
        const held = await contents(urlOf(target.env));
        const dir = mkdtempSync(join(work, "bad-files-"));
        const garbage = join(dir, "garbage.db");
        writeFileSync(garbage, Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256)));
        const truncated = join(dir, "truncated.db");
        const whole = readFileSync(backupFile);
        writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
        const foreign = join(dir, "foreign.db");
        const f = new Database(foreign);
        f.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('hello')");
        f.close();
        const newer = join(dir, "newer.db");
        copyFileSync(backupFile, newer);
        const n = new Database(newer);
        n.prepare("INSERT INTO _mimic_migrations (name, checksum, applied_at) VALUES ('9999_from_the_future', 'x', 'now')").run();
        n.close();
        // Scrambled inside (the header intact): SQLite's own check finds it; its finding is quoted, not its heading line.
        const scrambled = join(dir, "scrambled.db");
        const copy = Buffer.from(whole);
        const at = Math.floor(copy.length / 2 / 4096) * 4096;
        for (let i = 0; i < 20_000 && at + i < copy.length; i++) copy[at + i] = (i * 7919 + 13) % 251;
        writeFileSync(scrambled, copy);
        const cases: Array<[string, RegExp]> = [
          [scrambled, /is damaged \((SQLite's check says: (?!\*\*\*)\S|SQLite reads it as malformed)/],
          [garbage, /is not a Mimic backup \(it is not an SQLite file\), so nothing was restored\./],
          [truncated, /is damaged \(it is cut short: \d+ of \d+ bytes\), so nothing was restored\./],
          [foreign, /is not a Mimic backup \(it has no record of Mimic's migrations\)/],
          [newer, /was made by a newer Mimic \(its schema has migration 9999_from_the_future.*Upgrade Mimic/],
          [join(dir, "missing.db"), /Cannot read the backup .*no such file/],
        ];
        // Digests, not the bytes: vitest's deep equality walks a buffer element by element, far slower than hashing it.
        const digest = (file: string) => (existsSync(file) ? sha(readFileSync(file)) : null);
        for (const [file, message] of cases) {
          const before = digest(file);
          // --replace: only the file's check stands between it and the target
          const r = mimic(target.env, "store", "restore", file, "--replace");
          expect(r.code, file).toBe(2);
          expect(r.err, file).toMatch(message);
          expect(r.err.trim().split("\n"), r.err).toHaveLength(1);
          expect(r.err).toMatch(/^mimic: /);
          expect(digest(file), file).toBe(before);
        }
        expect(await contents(urlOf(target.env))).toEqual(held);
        // A refused backup makes nothing for a store that does not exist yet, not even its folder.
        const unmade = join(dir, "never-made");
        expect(mimic({ DATA_DIR: unmade }, "store", "restore", scrambled).code).toBe(2);
        expect(existsSync(unmade)).toBe(false);
      } finally {
        await target.drop();
      }
    });
  }

  it("refuses, even with --force, to put the backup where a pipe (or a device, or a socket) is", () => {
    const fifo = join(work, "a-pipe");
    spawnSync("mkfifo", [fifo]);
    expect(statSync(fifo).isFIFO()).toBe(true);
    const r = mimic(source, "store", "backup", fifo, "--force");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^mimic: “.*a-pipe” is not a regular file \(a device, a pipe or a socket\), so nothing was backed up\. Name a new file to write, e\.g\. .*mimic-backup\.db\.\n$/);
    expect(statSync(fifo).isFIFO()).toBe(true);
    expect(partials()).toEqual([]);
  });

  it("refuses to overwrite an existing file unless --force, leaving no partial file", () => {
    const file = join(work, "existing.db");
    writeFileSync(file, "keep me");
    const r = mimic(source, "store", "backup", file);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^mimic: “.*existing\.db” already exists\. Choose another name, or add --force to overwrite it\.\n$/);
    expect(readFileSync(file, "utf8")).toBe("keep me");
    const forced = ok(mimic(source, "store", "backup", file, "--force", "--json"));
    expect(JSON.parse(forced.out)).toMatchObject({ file, tables: { users: 2, templates: 3 } });
    expect(readFileSync(file).subarray(0, 15).toString()).toBe("SQLite format 3");
    expect(partials()).toEqual([]);
  });

  it.skipIf(!PG_URL)("backs up PostgreSQL into the same format, restored into SQLite with the same faces and ids", async () => {
    const pg = await freshTarget("postgres", "pgsource");
    const back = await freshTarget("sqlite", "pgback");
    try {
      ok(mimic(pg.env, "store", "restore", backupFile));
      // ids handed out on PostgreSQL after the move: the next backup carries its sequence too
      ok(mimic(pg.env, "face", "add", grace, "--name", "gone", "--user", "5", "--platform", "discord"));
      const [gone] = await pg.db.query<{ id: number }>("SELECT id FROM users WHERE platform_user_id = '5'");
      ok(mimic(pg.env, "face", "forget", "--yes", "--user", "5", "--platform", "discord"));
      const fromPg = join(work, "from-postgres.db");
      const r = ok(mimic(pg.env, "store", "backup", fromPg, "--json"));
      expect(JSON.parse(r.out)).toMatchObject({ source: expect.stringMatching(/^postgres /), tables: { users: 2, templates: 3, server_settings: 1, usage_events: 1, bans: 1, audit_events: 1 } });
      ok(mimic(back.env, "store", "restore", fromPg));
      expect(await contents(urlOf(back.env))).toEqual(before);
      ok(mimic(back.env, "face", "add", grace, "--name", "after", "--user", "99", "--platform", "discord"));
      const [newUser] = await back.db.query<{ id: number }>("SELECT id FROM users WHERE platform_user_id = '99'");
      expect(Number(newUser!.id)).toBeGreaterThan(Number(gone!.id));
    } finally {
      await Promise.all([pg.drop(), back.drop()]);
    }
  });

  it("refuses, even with --force, to back up over the store's own file or a file beside it (by any path), changing nothing", () => {
    const live = join(source.DATA_DIR!, "mimic.db");
    const { ino, size } = statSync(live);
    const link = join(work, "source-link");
    symlinkSync(source.DATA_DIR!, link);
    // (The -running lock file too: replaced, it would no longer keep a second bot out.)
    for (const target of [live, `${live}-wal`, `${live}-shm`, `${live}-running`, join(link, "mimic.db")]) {
      const r = mimic(source, "store", "backup", target, "--force");
      expect(r.code, target).toBe(2);
      expect(r.err, target).toMatch(/^mimic: “.*” is one of the store's own files \(.*mimic\.db\), so nothing was backed up\. Name a backup file outside the store/);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
    expect(statSync(live)).toMatchObject({ ino, size });
    expect(ok(mimic(source, "face", "list")).out).toMatch(/^ {2}me +\S+\n\* second +\S+\n$/);
    expect(readdirSync(source.DATA_DIR!).filter((f) => f.includes(".partial-"))).toEqual([]);
  });

  it("refuses to back up a store that does not exist (a mistyped DATA_DIR or DATABASE_URL), creating nothing", async () => {
    const missingDir = join(work, "no-such-data-dir");
    const missingFile = join(work, "no-such-store.db");
    const cases: Array<[StoreEnv, string]> = [
      [{ DATA_DIR: missingDir }, join(missingDir, "mimic.db")],
      [{ DATABASE_URL: `file:${missingFile}` }, missingFile],
    ];
    for (const [env, where] of cases) {
      const file = join(work, "typo-backup.db");
      const r = mimic(env, "store", "backup", file);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toBe(`mimic: There is no store at ${where}, so nothing was backed up: check DATA_DIR/DATABASE_URL.\n`);
      expect(existsSync(file)).toBe(false);
    }
    expect(existsSync(missingDir)).toBe(false);
    expect(existsSync(missingFile)).toBe(false);
    expect(partials()).toEqual([]);
    if (!PG_URL) return;
    // A PostgreSQL schema that was never migrated: nothing is created in it either.
    const pgEmpty = await freshTarget("postgres", "pgempty");
    try {
      const file = join(work, "empty-pg-backup.db");
      const r = mimic(pgEmpty.env, "store", "backup", file);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(/^mimic: There is no store at postgres .*, so nothing was backed up: check DATA_DIR\/DATABASE_URL\.\n$/);
      expect(existsSync(file)).toBe(false);
      const schema = new URL(pgEmpty.env.DATABASE_URL!).searchParams.get("schema");
      expect(await pgEmpty.db.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = '${schema}'`)).toEqual([]);
    } finally {
      await pgEmpty.drop();
    }
  });

  it("a missing TMPDIR stops a restore with one line naming TMPDIR", async () => {
    const target = await freshTarget("sqlite", "tmpdir");
    try {
      const r = mimic({ ...target.env, TMPDIR: join(work, "no-such-tmp") } as StoreEnv, "store", "restore", backupFile);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(/^mimic: Cannot make a temporary folder in .*no-such-tmp \(ENOENT\), so nothing was restored\. Set TMPDIR to a folder/);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(existsSync(join(target.env.DATA_DIR!, "mimic.db"))).toBe(false);
    } finally {
      await target.drop();
    }
  });

  it("--replace into an empty store does not say it replaced anything", async () => {
    const target = await freshTarget("sqlite", "replace-empty");
    try {
      const r = ok(mimic(target.env, "store", "restore", backupFile, "--replace", "--json"));
      expect(JSON.parse(r.out)).toMatchObject({ replaced: false, tables: { users: 2, templates: 3 } });
      const again = ok(mimic(target.env, "store", "restore", backupFile, "--replace"));
      expect(again.out).toMatch(/^restored .* \(replacing what it held\):\n/);
    } finally {
      await target.drop();
    }
  });

  /** Spawns the CLI, waits until `ready()` holds (a temporary file exists), then sends `signal`; resolves with the exit code. */
  async function interrupt(env: Record<string, string>, args: string[], ready: () => boolean | Promise<boolean>, signal: NodeJS.Signals) {
    const child = spawn(process.execPath, [join(root, "bin", "mimic.mjs"), ...args], {
      cwd: work,
      env: { ...process.env, DATABASE_URL: "", DATA_DIR: join(work, "unused"), LOG_LEVEL: "silent", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    let gone = false;
    void exited.then(() => (gone = true));
    while (!(await ready()) && !gone) await new Promise((r) => setTimeout(r, 20));
    expect(gone, `exited before it was interrupted: ${err}`).toBe(false);
    child.kill(signal);
    return { code: await exited, err: () => err };
  }

  /** Holds an ACCESS EXCLUSIVE lock on a table of a PostgreSQL store: a command reading it waits until release(). */
  async function lockTable(url: string, table: string) {
    const pg = (await import("pg")).default;
    const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path="${new URL(url).searchParams.get("schema")}"` });
    await c.connect();
    await c.query("BEGIN");
    await c.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    return async () => {
      await c.query("ROLLBACK");
      await c.end();
    };
  }

  it.skipIf(!PG_URL)("Ctrl-C during a restore removes its private copy and restores nothing; a stop signal during a backup removes the partial file", async () => {
    const target = await freshTarget("postgres", "interrupt");
    const tmp = mkdtempSync(join(work, "tmpdir-"));
    try {
      await addMine(target.env);
      const held = await contents(urlOf(target.env));
      // The restore waits on the lock inside its transaction, its private copy of the backup made.
      let release = await lockTable(target.env.DATABASE_URL!, "users");
      try {
        const r = await interrupt({ ...target.env, TMPDIR: tmp } as Record<string, string>, ["store", "restore", backupFile, "--replace"], () => readdirSync(tmp).some((f) => existsSync(join(tmp, f, "backup.db"))), "SIGINT");
        expect(r.code, r.err()).toBe(130);
        expect(r.err()).toMatch(/^mimic: Stopped \(SIGINT\), so nothing was restored/);
        expect(readdirSync(tmp)).toEqual([]);
      } finally {
        await release();
      }
      expect(await contents(urlOf(target.env))).toEqual(held);

      // A backup of the store waits on the lock while reading, its partial file written.
      release = await lockTable(target.env.DATABASE_URL!, "templates");
      try {
        const file = join(work, "interrupted-backup.db");
        const r = await interrupt(target.env as Record<string, string>, ["store", "backup", file], () => partials().length > 0, "SIGTERM");
        expect(r.code, r.err()).toBe(143);
        expect(r.err()).toMatch(/^mimic: Stopped \(SIGTERM\), so no backup was written/);
        expect(partials()).toEqual([]);
        expect(existsSync(file)).toBe(false);
      } finally {
        await release();
      }
    } finally {
      await target.drop();
    }
  });

  // PostgreSQL finishes a COMMIT it has been sent even when the client is gone. A deferred trigger that waits on an
  // advisory lock the test holds keeps the restore's COMMIT pending, so the signal arrives exactly then.
  it.skipIf(!PG_URL)("Ctrl-C while a restore into PostgreSQL is committing does not claim that nothing was restored", async () => {
    const target = await freshTarget("postgres", "interrupt-commit");
    const pg = (await import("pg")).default;
    const holder = new pg.Client({ connectionString: PG_URL, options: `-c search_path="${new URL(target.env.DATABASE_URL!).searchParams.get("schema")}"` });
    await holder.connect();
    try {
      await addMine(target.env);
      await holder.query(`CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$`);
      await holder.query("CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT ON users DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit()");
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock(4242)");
      let restorer = 0;
      const waiting = async () => {
        const rows = (await holder.query<{ pid: number }>("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted")).rows;
        restorer = rows[0]?.pid ?? restorer;
        return rows.length > 0;
      };
      const r = await interrupt(target.env as Record<string, string>, ["store", "restore", backupFile, "--replace"], waiting, "SIGINT");
      expect(r.code, r.err()).toBe(130);
      expect(r.err()).toBe(
        "mimic: Stopped (SIGINT), so the restore may have finished (it was being committed); its temporary files were removed. Run the same command again to be sure the store holds the backup.\n",
      );
      // Released, the orphaned COMMIT goes through: the store holds the backup, as the message warned.
      await holder.query("COMMIT");
      while ((await holder.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [restorer])).rowCount! > 0) await new Promise((res) => setTimeout(res, 20));
      await holder.query("DROP TRIGGER hold_commit ON users");
      expect(await contents(urlOf(target.env))).toEqual(before);
    } finally {
      await holder.end();
      await target.drop();
    }
  });

  // SQLite cannot be held part-way by a lock from outside (BEGIN IMMEDIATE takes the target and the attached copy
  // at once, and a connection open beforehand makes the restore refuse the store as in use), so the restore is
  // made long instead: many batches, each followed by a turn of the event loop where a signal is handled. The sign
  // that it is inside its transaction: frames in the target's WAL, which nothing else writes. Faces larger than
  // better-sqlite3's page cache come first, so uncommitted pages spill there while most batches are still to come.
  it("Ctrl-C during a restore into SQLite, inside its transaction (--replace): the store is as it was, its private copy removed, exit 130", async () => {
    const FACES = 24;
    const CROP = 1024 * 1024;
    const ROWS = 200 * ROW_BATCH;
    const bigSource = await freshTarget("sqlite", "interrupt-sqlite-source");
    const target = await freshTarget("sqlite", "interrupt-sqlite");
    const tmp = mkdtempSync(join(work, "tmpdir-"));
    try {
      const sourcePath = join(bigSource.env.DATA_DIR!, "mimic.db");
      await (await openStore(`file:${sourcePath}`)).close();
      const db = new Database(sourcePath);
      try {
        db.transaction(() => {
          const userId = db.prepare("INSERT INTO users (platform, platform_user_id) VALUES ('discord', 'bulk')").run().lastInsertRowid;
          const face = db.prepare("INSERT INTO templates (user_id, name, crop_png, crop_size, landmarks, analysis, embedding) VALUES (?, ?, ?, 512, ?, '{}', ?)");
          for (let i = 0; i < FACES; i++) face.run(userId, `face ${i}`, randomBytes(CROP), randomBytes(468 * 3 * 4), randomBytes(1024 * 4));
          const usage = db.prepare("INSERT INTO usage_events (platform, server_id, platform_user_id, command, at_ms, day) VALUES ('discord', 'g', ?, 'meme', ?, ?)");
          for (let i = 0; i < ROWS; i++) usage.run(`u${i % 7}`, 1_700_000_000_000 + i, 19_000 + (i % 30));
        })();
      } finally {
        db.close();
      }
      const file = join(work, "interrupt-sqlite-backup.db");
      ok(mimic(bigSource.env, "store", "backup", file));

      await addMine(target.env);
      const held = await contents(urlOf(target.env));
      const targetPath = join(target.env.DATA_DIR!, "mimic.db");
      const walSize = () => statSync(`${targetPath}-wal`, { throwIfNoEntry: false })?.size ?? 0;
      const walBefore = walSize();
      const copied = () => readdirSync(tmp).some((f) => existsSync(join(tmp, f, "backup.db")));
      // A few MiB of frames: pages spilled by the transaction, well before its commit.
      const inTransaction = () => copied() && walSize() > walBefore + 4 * 1024 * 1024;
      const r = await interrupt({ ...target.env, TMPDIR: tmp } as Record<string, string>, ["store", "restore", file, "--replace"], inTransaction, "SIGINT");
      expect(r.code, r.err()).toBe(130);
      expect(r.err()).toBe("mimic: Stopped (SIGINT), so nothing was restored; its temporary files were removed.\n");
      expect(readdirSync(tmp)).toEqual([]);
      // The uncommitted frames are ignored: the face wiped inside the transaction is there, none of the backup's rows.
      const check = new Database(targetPath, { readonly: true, fileMustExist: true });
      try {
        expect(check.pragma("quick_check", { simple: true })).toBe("ok");
        const count = (t: string) => (check.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
        expect([count("templates"), count("usage_events")]).toEqual([1, 0]);
      } finally {
        check.close();
      }
      expect(await contents(urlOf(target.env))).toEqual(held);
      // and it takes the same restore afterwards
      const again = ok(mimic(target.env, "store", "restore", file, "--replace", "--json"));
      expect(JSON.parse(again.out)).toMatchObject({ replaced: true, tables: { templates: FACES, usage_events: ROWS } });
    } finally {
      await Promise.all([bigSource.drop(), target.drop()]);
    }
  });

  // Another process writes a usage row and an audit row in one transaction, over and over: a snapshot of one
  // moment has as many of the one as of the other (a copy read table by table, or a torn file, would not).
  const WRITER = `
    const [dialect, where] = process.argv.slice(1);
    const row = (i) => ["discord", "g1", "42", "meme", Date.now(), Math.floor(Date.now() / 86400000), i];
    let i = 0;
    const ready = () => { if (++i === 50) process.stdout.write("ready\\n"); };
    if (dialect === "sqlite") {
      const db = new (require("better-sqlite3"))(where, { timeout: 10000 });
      const pair = db.transaction((n) => {
        db.prepare("INSERT INTO usage_events (platform, server_id, platform_user_id, command, at_ms, day) VALUES (?, ?, ?, ?, ?, ?)").run(...row(n).slice(0, 6));
        db.prepare("INSERT INTO audit_events (platform, server_id, channel_id, platform_user_id, kind, input_sha256, at_ms) VALUES ('discord', 'g1', 'c1', '42', 'meme', ?, ?)").run("a".repeat(64), Date.now());
      });
      const loop = () => { pair(i); ready(); setImmediate(loop); };
      loop();
    } else {
      const { Client } = require("pg");
      const [url, schema] = where.split("|");
      const c = new Client({ connectionString: url, options: "-c search_path=" + schema });
      c.connect().then(async () => {
        for (;;) {
          await c.query("BEGIN");
          await c.query("INSERT INTO usage_events (platform, server_id, platform_user_id, command, at_ms, day) VALUES ($1, $2, $3, $4, $5, $6)", row(i).slice(0, 6));
          await c.query("INSERT INTO audit_events (platform, server_id, channel_id, platform_user_id, kind, input_sha256, at_ms) VALUES ('discord', 'g1', 'c1', '42', 'meme', $1, $2)", ["a".repeat(64), Date.now()]);
          await c.query("COMMIT");
          ready();
        }
      });
    }`;

  for (const { dialect, skip } of dialects) {
    it.skipIf(skip)(`a backup taken while another process writes is one moment's snapshot (${dialect})`, async () => {
      const target = await freshTarget(dialect, "live");
      const url = urlOf(target.env);
      await (await openStore(url)).close(); // creates the tables
      const where = dialect === "sqlite" ? join(target.env.DATA_DIR!, "mimic.db") : `${PG_URL}|${new URL(url).searchParams.get("schema")}`;
      const writer = spawn(process.execPath, ["-e", WRITER, dialect, where], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
      try {
        await new Promise<void>((resolve, reject) => {
          writer.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
          writer.on("exit", (code) => reject(new Error(`writer exited (${code})`)));
        });
        const file = join(work, `live-${dialect}.db`);
        const r = ok(mimic(target.env, "store", "backup", file, "--json"));
        const { tables } = JSON.parse(r.out) as { tables: Record<string, number> };
        expect(tables.usage_events).toBeGreaterThanOrEqual(50);
        expect(tables.audit_events).toBe(tables.usage_events);
        const b = new Database(file, { readonly: true });
        try {
          expect(b.pragma("quick_check", { simple: true })).toBe("ok");
          const count = (t: string) => (b.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
          expect(count("usage_events")).toBe(tables.usage_events);
          expect(count("audit_events")).toBe(count("usage_events"));
        } finally {
          b.close();
        }
      } finally {
        writer.kill();
        await new Promise((resolve) => (writer.exitCode === null ? writer.once("exit", resolve) : resolve(null)));
        await target.drop();
      }
    });
  }

  // Large faces and more rows than one batch: every move goes through several batches, each CLI process under a
  // heap limit that image bytes carried as arrays of numbers (Prisma's Bytes) overflow, and every table arrives
  // byte for byte (ids, nulls, floats, big integers, timestamps, sequences).
  describe("large faces in a small heap, in several batches", () => {
    const FACES = 40;
    const CROP = 1_500_000;
    const ROWS = Math.ceil(2.5 * ROW_BATCH);
    const HEAP: StoreEnv = { NODE_OPTIONS: "--max-old-space-size=96" } as StoreEnv;
    const TIME = new Set(["created_at", "updated_at"]);
    const BOOL = new Set(["enabled", "visible_mark", "nsfw_filter", "swap_allowed"]);
    const big: StoreEnv = { DATA_DIR: join(work, "big-source") };
    const bigFile = join(work, "big-backup.db");

    /** Every row of every table, in id order, blobs as digests, timestamps as instants, booleans as booleans. */
    function normalise(table: string, row: Record<string, unknown>) {
      return Object.fromEntries(
        Object.entries(row).map(([k, v]) => {
          if (v === null) return [k, null];
          if (v instanceof Uint8Array) return [k, sha(v)];
          if (TIME.has(k)) return [k, new Date(/Z|[+-]\d\d:\d\d$/.test(String(v)) ? String(v) : `${String(v).replace(" ", "T")}Z`).toISOString()];
          if (BOOL.has(k)) return [k, v === true || v === 1 || v === "1"];
          if (k === "at_ms") return [k, String(v)];
          return [k, v];
        }),
      );
    }
    const sqliteDump = (path: string) => {
      const db = new Database(path, { readonly: true, fileMustExist: true });
      try {
        const rows = Object.fromEntries(STORE_TABLES.map((t) => [t, (db.prepare(`SELECT * FROM ${t} ORDER BY id`).all() as Array<Record<string, unknown>>).map((r) => normalise(t, r))]));
        const seq = Object.fromEntries((db.prepare("SELECT name, seq FROM sqlite_sequence").all() as Array<{ name: string; seq: number }>).map((r) => [r.name, r.seq]));
        return { rows, seq };
      } finally {
        db.close();
      }
    };
    const postgresDump = async (db: { query: TestDb["query"] }) => {
      const rows: Record<string, unknown[]> = {};
      for (const t of STORE_TABLES) {
        // (timestamps as UTC text: pg would read a timestamp without zone in this machine's zone)
        const cols = await db.query<{ column_name: string; data_type: string }>(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '${t}' ORDER BY ordinal_position`);
        const list = cols.map((c) => (c.data_type.startsWith("timestamp") ? `to_char(${c.column_name}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${c.column_name}` : c.column_name)).join(", ");
        rows[t] = (await db.query<Record<string, unknown>>(`SELECT ${list} FROM ${t} ORDER BY id`)).map((r) => normalise(t, r));
      }
      const seq: Record<string, number> = {};
      for (const t of STORE_TABLES) seq[t] = Number((await db.query<{ v: string }>(`SELECT last_value AS v FROM ${t}_id_seq`))[0]!.v);
      return { rows, seq };
    };

    beforeAll(async () => {
      const path = join(big.DATA_DIR!, "mimic.db");
      await (await openStore(`file:${path}`)).close();
      const db = new Database(path);
      try {
        const seed = db.transaction(() => {
          const user = db.prepare("INSERT INTO users (platform, platform_user_id, created_at) VALUES (?, ?, ?)");
          const face = db.prepare("INSERT INTO templates (user_id, name, crop_png, crop_size, landmarks, analysis, embedding, created_at) VALUES (?, ?, ?, 512, ?, ?, ?, ?)");
          for (let i = 0; i < FACES; i++) {
            // both ways SQLite holds a time: Prisma's ISO text and CURRENT_TIMESTAMP's
            const at = i % 2 ? `2025-03-0${1 + (i % 9)}T10:11:12.${String(i).padStart(3, "0")}+00:00` : `2024-12-31 23:59:${String(i % 60).padStart(2, "0")}`;
            const userId = Number(user.run(i % 3 ? "telegram" : "discord", `user-${i}-ü🙂`, at).lastInsertRowid);
            face.run(userId, `face ${i}`, randomBytes(CROP), randomBytes(468 * 3 * 4), JSON.stringify({ i, note: "ç" }), randomBytes(1024 * 4), at);
          }
          db.prepare("UPDATE users SET default_template_id = (SELECT MIN(id) FROM templates WHERE user_id = users.id) WHERE id % 4 != 0").run();
          // a gap: the last user and face are gone, so the high-water marks are above every id left
          db.prepare("DELETE FROM templates WHERE id = (SELECT MAX(id) FROM templates)").run();
          db.prepare("DELETE FROM users WHERE id = (SELECT MAX(id) FROM users)").run();
          db.prepare("INSERT INTO server_settings (platform, server_id, enabled, disabled_commands, daily_quota_per_user, cooldown_seconds, visible_mark, nsfw_filter, nsfw_threshold, swap_allowed, updated_at) VALUES ('discord', 'g', 0, '[\"morph\"]', 5, NULL, 1, 0, 0.1, 0, '2025-01-02T03:04:05.678+00:00')").run();
          db.prepare("INSERT INTO server_settings (platform, server_id) VALUES ('telegram', '-100')").run();
          db.prepare("INSERT INTO bans (platform, server_id, platform_user_id, reason) VALUES ('discord', 'g', '1', NULL), ('discord', 'g', '2', 'spam')").run();
          // notes of users forgotten long ago, none of whose rows are left (a restore then deletes nothing)
          db.prepare("INSERT INTO forgotten_users (platform, platform_user_id, at_ms) VALUES ('discord', 'gone-1', 1700000000000), ('telegram', 'gone-2', 9007199254000000)").run();
          const usage = db.prepare("INSERT INTO usage_events (platform, server_id, platform_user_id, command, at_ms, day) VALUES ('discord', 'g', ?, 'meme', ?, ?)");
          const audit = db.prepare("INSERT INTO audit_events (platform, server_id, channel_id, platform_user_id, kind, template_id, input_sha256, output_sha256, at_ms) VALUES ('discord', 'g', 'c', ?, 'meme', ?, ?, ?, ?)");
          for (let i = 0; i < ROWS; i++) {
            usage.run(`u${i % 7}`, 1_700_000_000_000 + i * 1_000_003, 19_000 + (i % 30));
            audit.run(`u${i % 7}`, i % 5 ? String(i) : null, sha(Buffer.from(String(i))), i % 3 ? null : "b".repeat(64), 9_007_199_254_000_000 + i);
          }
        });
        seed();
      } finally {
        db.close();
      }
      ok(mimic(big, "store", "backup", bigFile));
    }, 300_000);

    it("restores into SQLite: every row and byte as in the source, ids and counters kept", async () => {
      const source = sqliteDump(join(big.DATA_DIR!, "mimic.db"));
      const target = await freshTarget("sqlite", "bigsqlite");
      try {
        const r = ok(mimic({ ...target.env, ...HEAP }, "store", "restore", bigFile, "--json"));
        expect(JSON.parse(r.out)).toMatchObject({ tables: { templates: FACES - 1, usage_events: ROWS, audit_events: ROWS } });
        const restored = sqliteDump(join(target.env.DATA_DIR!, "mimic.db"));
        expect(restored.rows).toEqual(source.rows);
        expect(restored.seq).toEqual(source.seq);
      } finally {
        await target.drop();
      }
    }, 300_000);

    it.skipIf(!PG_URL)("restores into PostgreSQL, backs that up and restores it into SQLite: every row and byte as in the source, ids and counters kept", async () => {
      const source = sqliteDump(join(big.DATA_DIR!, "mimic.db"));
      expect(source.rows.templates).toHaveLength(FACES - 1);
      expect(source.rows.usage_events).toHaveLength(ROWS);
      expect((FACES - 1) * CROP).toBeGreaterThan(5 * BATCH_BYTES);
      const pg = await freshTarget("postgres", "bigpg");
      const back = await freshTarget("sqlite", "bigback");
      try {
        const restored = ok(mimic({ ...pg.env, ...HEAP }, "store", "restore", bigFile, "--json"));
        expect(JSON.parse(restored.out)).toMatchObject({ tables: { users: FACES - 1, templates: FACES - 1, usage_events: ROWS, audit_events: ROWS, server_settings: 2, bans: 2 } });
        const inPostgres = await postgresDump(pg.db);
        expect(inPostgres.rows).toEqual(source.rows);
        for (const t of STORE_TABLES) expect(inPostgres.seq[t], t).toBe(source.seq[t]);

        const fromPg = join(work, "big-from-postgres.db");
        ok(mimic({ ...pg.env, ...HEAP }, "store", "backup", fromPg));
        const backedUp = sqliteDump(fromPg);
        expect(backedUp.rows).toEqual(source.rows);
        expect(backedUp.seq).toEqual(source.seq);

        ok(mimic({ ...back.env, ...HEAP }, "store", "restore", fromPg));
        const inSqlite = sqliteDump(join(back.env.DATA_DIR!, "mimic.db"));
        expect(inSqlite.rows).toEqual(source.rows);
        expect(inSqlite.seq).toEqual(source.seq);
        expect(partials()).toEqual([]);
      } finally {
        await Promise.all([pg.drop(), back.drop()]);
      }
    }, 300_000);

    it.skipIf(!PG_URL)("--replace into a PostgreSQL store that holds rows swaps them for the backup in one transaction", async () => {
      const pg = await freshTarget("postgres", "bigreplace");
      try {
        await addMine(pg.env);
        const r = ok(mimic({ ...pg.env, ...HEAP }, "store", "restore", bigFile, "--replace", "--json"));
        expect(JSON.parse(r.out)).toMatchObject({ replaced: true, tables: { templates: FACES - 1 } });
        expect((await postgresDump(pg.db)).rows).toEqual(sqliteDump(join(big.DATA_DIR!, "mimic.db")).rows);
      } finally {
        await pg.drop();
      }
    }, 300_000);
  });
});
