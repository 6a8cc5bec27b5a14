/**
 * A database Mimic cannot use says so: at start-up a CONFIG error naming DATABASE_URL (password masked) or the
 * SQLite file and its folder, and during a save a full disk is told as full storage. Real drivers throughout:
 * a missing PostgreSQL database and a closed port, a text file and a folder given as the SQLite file, and
 * SqliteErrors the driver raises itself (a read-only connection, PRAGMA max_page_count for a full disk).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { MimicError } from "../../src/errors.ts";
import { createPrismaClient } from "../../src/templates/db/client.ts";
import { sqliteStartupError } from "../../src/templates/db/errors.ts";
import { gateFor } from "../../src/templates/db/gate.ts";
import { migrate, openStore, resolveDatabaseTarget, TemplateStore } from "../../src/templates/index.ts";
import { fakeTemplate, PG_URL, rejection } from "./helpers.ts";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { closedPort } from "../helpers/net.ts";

const dir = mkdtempSync(join(tmpdir(), "mimic-startup-errors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The error a synchronous driver call throws. */
function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to throw");
}

describe("PostgreSQL at start-up", () => {
  it("a closed port: a CONFIG error naming DATABASE_URL, password masked, saying the connection was refused", async () => {
    const port = await closedPort();
    const e = await rejection(openStore(`postgresql://mimic:s3cret@127.0.0.1:${port}/mimic`));
    expect(e).toBeInstanceOf(MimicError);
    expect(e.code).toBe("CONFIG");
    expect(e.userMessage).toBe(
      `Could not connect to PostgreSQL at postgresql://mimic:***@127.0.0.1:${port}/mimic (DATABASE_URL): connect ECONNREFUSED 127.0.0.1:${port}. ` +
        "Start PostgreSQL, correct DATABASE_URL, or leave it unset to use the embedded SQLite file.",
    );
  });

  it("a host that takes the connection and never answers: refused after the connection timeout, not a hang", async () => {
    const held = new Set<Socket>();
    const silent = createServer((s) => held.add(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const port = (silent.address() as AddressInfo).port;
      const e = await rejection(openStore(`postgresql://mimic@127.0.0.1:${port}/mimic`));
      expect(e.code).toBe("CONFIG");
      expect(e.userMessage).toMatch(new RegExp(`^Could not connect to PostgreSQL at postgresql://mimic@127\\.0\\.0\\.1:${port}/mimic \\(DATABASE_URL\\): .*timeout`, "i"));
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  }, 60_000);

  it.skipIf(!PG_URL)("a database that does not exist: says which, and how to create it", async () => {
    const url = new URL(PG_URL!);
    const name = `mimic_missing_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    url.pathname = `/${name}`;
    url.password = "s3cret"; // trust authentication ignores it; the message must not show it
    const e = await rejection(openStore(url.toString()));
    expect(e.code).toBe("CONFIG");
    url.password = "***";
    expect(e.userMessage).toBe(`PostgreSQL at ${url.toString()} (DATABASE_URL) has no database “${name}”. Create it (e.g. createdb ${name}) or correct DATABASE_URL.`);
    expect(e.userMessage).not.toContain("s3cret");
  });
});

describe("SQLite at start-up", () => {
  it("a file that is not a database: names it", async () => {
    const file = join(dir, "notes.txt");
    writeFileSync(file, "these are notes, not a database\n".repeat(200));
    const e = await rejection(openStore(`file:${file}`));
    expect(e.code).toBe("CONFIG");
    expect(e.userMessage).toBe(`${file} is not a Mimic database (it is not an SQLite file). Point DATABASE_URL at Mimic's database, or move that file out of the way.`);
  });

  it("a folder given as the database file: says to name a file in it", async () => {
    const folder = join(dir, "a-folder");
    mkdirSync(folder);
    const e = await rejection(openStore(`file:${folder}`));
    expect(e.code).toBe("CONFIG");
    expect(e.userMessage).toBe(`DATABASE_URL points at the folder ${folder}, not at a database file. Name a file in it, e.g. file:${join(folder, "mimic.db")}.`);
  });

  it("a damaged file: says so, and that a backup restores it", async () => {
    const path = join(dir, "damaged.db");
    const store = await openStore(`file:${path}`);
    await store.close();
    const bytes = readFileSync(path);
    bytes.fill(0x5a, 100, 4096); // the schema page's body, after the 100-byte file header
    writeFileSync(path, bytes);
    const e = await rejection(openStore(`file:${path}`));
    expect(e.code).toBe("CONFIG");
    expect(e.userMessage).toBe(
      `The database ${path} is damaged (SQLite reads it as malformed). Stop Mimic and restore your latest backup with mimic store restore <file> --replace; moving the file out of the way starts an empty database, without the faces saved in it.`,
    );
  });

  // chattr +i stops root too (chmod does not); where the file system or the user cannot set it, the case is skipped.
  const immutable = (() => {
    try {
      const probe = join(dir, "probe");
      writeFileSync(probe, "");
      execFileSync("chattr", ["+i", probe], { stdio: "ignore" });
      execFileSync("chattr", ["-i", probe], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();
  it.skipIf(!immutable)("an up-to-date database file that cannot be written: the CONFIG message, not 'try again'", async () => {
    const path = join(dir, "immutable", "mimic.db");
    mkdirSync(join(dir, "immutable"));
    await (await openStore(`file:${path}`)).close();
    execFileSync("chattr", ["+i", path]);
    try {
      // Opened as the bot opens it: its start-up prune is the first write.
      const e = await rejection(openStore(`file:${path}`, { prune: true }));
      expect(e.code).toBe("CONFIG");
      const readOnly = `The database ${path} is read-only (the file or its data folder ${join(dir, "immutable")}). Make both writable for the user Mimic runs as, or set DATA_DIR (or DATABASE_URL) to a folder Mimic may write to.`;
      expect(e.userMessage).toBe(readOnly);
      // Opened as a CLI command opens it (no prune): its reads work, and its first write says the same.
      const cli = await openStore(`file:${path}`);
      try {
        expect(await cli.templates.list({ platform: "discord", userId: "1" })).toEqual([]);
        expect(await rejection(cli.templates.forgetUser({ platform: "discord", userId: "1" }))).toMatchObject({ code: "CONFIG", userMessage: readOnly });
      } finally {
        await cli.close();
      }
    } finally {
      execFileSync("chattr", ["-i", path]);
    }
  });

  // Tests may run as root, whom chmod does not stop: these SqliteErrors come from the real driver instead.
  it("read-only, not openable and full files: the driver's own errors become CONFIG errors naming the file and folder", async () => {
    const path = join(dir, "ro", "mimic.db");
    mkdirSync(join(dir, "ro"));
    await migrate(resolveDatabaseTarget(`file:${path}`));

    const readOnly = new Database(path, { readonly: true });
    const write = thrown(() => readOnly.exec("DELETE FROM users"));
    readOnly.close();
    expect((write as { code?: string }).code).toBe("SQLITE_READONLY");
    const ro = sqliteStartupError(write, path) as MimicError;
    expect(ro.code).toBe("CONFIG");
    expect(ro.userMessage).toBe(
      `The database ${path} is read-only (the file or its data folder ${join(dir, "ro")}). Make both writable for the user Mimic runs as, or set DATA_DIR (or DATABASE_URL) to a folder Mimic may write to.`,
    );

    const missing = join(dir, "ro", "never-made.db");
    const open = thrown(() => new Database(missing, { readonly: true }));
    expect((open as { code?: string }).code).toBe("SQLITE_CANTOPEN");
    expect((sqliteStartupError(open, missing) as MimicError).userMessage).toBe(
      `Cannot open or create the database ${missing}: the data folder ${join(dir, "ro")} is read-only or closed to the user Mimic runs as. Make it writable, or set DATA_DIR (or DATABASE_URL) to a folder Mimic may write to.`,
    );

    const db = new Database(path);
    db.pragma(`max_page_count = ${db.pragma("page_count", { simple: true }) as number}`);
    const grow = thrown(() => db.prepare("INSERT INTO users (platform, platform_user_id) VALUES ('t', ?)").run("x".repeat(64 << 10)));
    db.close();
    expect((grow as { code?: string }).code).toBe("SQLITE_FULL");
    const full = sqliteStartupError(grow, path) as MimicError;
    expect(full.code).toBe("CONFIG");
    expect(full.userMessage).toBe(
      `The data folder ${join(dir, "ro")} is full, so Mimic cannot write its database ${path}. Free some space on that disk, or set DATA_DIR (or DATABASE_URL) to a folder Mimic may write to.`,
    );
  });
});

describe("a full disk during a save", () => {
  it("tells the user the server's storage is full, and what was saved before is still there", async () => {
    const target = resolveDatabaseTarget(`file:${join(dir, "full.db")}`);
    await migrate(target);
    const db = createPrismaClient(target);
    try {
      const templates = new TemplateStore(db, 10, gateFor(target));
      const owner = { platform: "telegram", userId: "full-disk" };
      await templates.save(owner, "first", fakeTemplate("first"));
      // The database may not grow past its current size: SQLite then fails the write with SQLITE_FULL, as on a full disk.
      const [{ page_count }] = await db.$queryRawUnsafe<Array<{ page_count: bigint }>>("PRAGMA page_count");
      await db.$queryRawUnsafe(`PRAGMA max_page_count = ${page_count}`);
      const e = await rejection(templates.save(owner, "second", fakeTemplate("second", 256 << 10)));
      expect(e).toBeInstanceOf(MimicError);
      expect(e.userMessage).toBe(
        "Mimic's server storage is full, so this could not be done (nothing saved before is lost). Please tell the bot's owner, then try again later.",
      );
      expect(e.details).toEqual({ reason: "storage-full" });
      expect((await templates.list(owner)).map((t) => t.name)).toEqual(["first"]);
    } finally {
      await db.$disconnect();
    }
  });
});
