/**
 * A process killed (SIGKILL: no clean-up at all) in the middle of saving loses nothing that was already
 * saved, and leaves the database consistent: reopen, every template reported saved is intact byte for
 * byte, no template is half-written, exactly one default, integrity checks pass, and saving works again.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/templates/index.ts";
import { createTestDb, dialects, fakeTemplate, type TestDb } from "./helpers.ts";

const here = dirname(fileURLToPath(import.meta.url));
const tsxLoader = createRequire(import.meta.url).resolve("tsx/esm");
const owner = { platform: "discord", userId: "crash" };

/**
 * Runs the child until it has begun save number `killAfterBegins`, then kills it `delayMs` later; or, with
 * `hold`, kills it the moment the save of that name is inside its transaction (the child waits there).
 */
function runAndKill(
  url: string,
  prefix: string,
  when: { killAfterBegins: number; delayMs: number } | { hold: string },
): Promise<{ saved: string[]; begun: string[]; inside: string[] }> {
  return new Promise((resolve, reject) => {
    const args = [join(here, "crash-child.ts"), url, prefix, ...("hold" in when ? [`hold=${when.hold}`] : [])];
    const child = spawn(process.execPath, ["--import", tsxLoader, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LOG_LEVEL: "silent" },
    });
    const saved: string[] = [];
    const begun: string[] = [];
    const inside: string[] = [];
    let stderr = "";
    let buffer = "";
    let killing = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child made no progress in time; stderr:\n${stderr}`));
    }, 50_000);
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        const [what, name] = line.split(" ");
        if (what === "saved") saved.push(name);
        if (what === "begin") begun.push(name);
        if (what === "inside") inside.push(name);
      }
      if (killing) return;
      if ("hold" in when ? inside.includes(when.hold) : begun.length >= when.killAfterBegins) {
        killing = true;
        if ("hold" in when) child.kill("SIGKILL");
        else setTimeout(() => child.kill("SIGKILL"), when.delayMs);
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") reject(new Error(`child exited by itself (code ${code}); stderr:\n${stderr}`));
      else resolve({ saved: [...saved], begun: [...begun], inside: [...inside] });
    });
  });
}

describe.each(dialects)("a crash in the middle of a save on $dialect", ({ dialect, skip }) => {
  let db: TestDb;
  afterAll(async () => {
    await db?.drop();
  });

  it.skipIf(skip)("loses nothing already saved and leaves the database consistent", async () => {
    db = await createTestDb(dialect, "crash");
    const allSaved: string[] = [];
    // Two crashes at different moments of the save loop.
    for (const [round, delay] of [
      [0, 3],
      [1, 11],
    ] as const) {
      const { saved } = await runAndKill(db.url, `r${round}n`, { killAfterBegins: 6, delayMs: delay });
      expect(saved.length).toBeGreaterThanOrEqual(5);
      allSaved.push(...saved);
    }
    // A kill that certainly lands mid-save: h4's row is written inside its transaction, not committed.
    const held = await runAndKill(db.url, "h", { hold: "h4" });
    expect(held.inside).toEqual(["h4"]);
    expect(held.saved).toEqual(["h0", "h1", "h2", "h3"]);
    expect(held.begun.at(-1)).toBe("h4");
    allSaved.push(...held.saved);

    const store = await openStore(db.url, { maxTemplatesPerUser: 1000 });
    try {
      const list = await store.templates.list(owner);
      const names = list.map((t) => t.name);
      // Everything the child was told is saved is there, byte for byte.
      for (const name of allSaved) {
        expect(names).toContain(name);
        const t = await store.templates.get(owner, name);
        const want = fakeTemplate(name, 300_000);
        expect(Buffer.from(t.cropPng).equals(Buffer.from(want.cropPng)), name).toBe(true);
        expect(Buffer.from(t.embedding.buffer).equals(Buffer.from(want.embedding.buffer)), name).toBe(true);
      }
      // At most the one in flight at each random kill may also be there, and then complete, never half-written.
      expect(names.length - allSaved.length).toBeLessThanOrEqual(2);
      for (const name of names) {
        const t = await store.templates.get(owner, name);
        expect(Buffer.from(t.cropPng).equals(Buffer.from(fakeTemplate(name, 300_000).cropPng)), name).toBe(true);
      }
      expect(list.filter((t) => t.isDefault)).toHaveLength(1);
      // The interrupted save left nothing behind, and the default is still the last committed one.
      expect(names).not.toContain("h4");
      expect(list.find((t) => t.isDefault)!.name).toBe("h3");

      if (dialect === "sqlite") {
        expect(await db.query("PRAGMA integrity_check")).toEqual([{ integrity_check: "ok" }]);
        expect(await db.query("PRAGMA foreign_key_check")).toEqual([]);
      } else {
        const orphans = await db.query("SELECT t.id FROM templates t LEFT JOIN users u ON u.id = t.user_id WHERE u.id IS NULL");
        expect(orphans).toEqual([]);
      }
      // The store keeps working after the crashes.
      await store.templates.save(owner, "after_crash", fakeTemplate("after_crash"));
      expect((await store.templates.get(owner, "after_crash")).name).toBe("after_crash");
    } finally {
      await store.close();
    }
  }, 120_000);
});
