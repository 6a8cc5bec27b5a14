/**
 * The embedded SQLite file deleted or replaced while the store is open: SQLite in WAL mode would keep
 * writing to the old, unlinked file (saves reported, then lost), so the store refuses the work and says why,
 * and the ops readiness check fails. Real store, real driver, real files.
 */
import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MimicError } from "../../src/errors.ts";
import { readinessChecks } from "../../src/ops/index.ts";
import { openStore, type Store } from "../../src/templates/index.ts";
import { fakeTemplate, rejection } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "mimic-file-moved-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const owner = { platform: "telegram", userId: "moved" };
const files = (path: string) => [path, `${path}-wal`, `${path}-shm`];

async function expectRefused(store: Store, path: string, what: string): Promise<void> {
  const save = await rejection(store.templates.save(owner, "three", fakeTemplate("three")));
  expect(save).toBeInstanceOf(MimicError);
  expect(save.details).toEqual({ reason: "database-file-moved" });
  expect(save.userMessage).toBe("Mimic's storage is unavailable right now, so this could not be done (nothing was saved). Please tell the bot's owner.");
  expect(save.message).toContain(`the database file ${path} was ${what} while Mimic was running`);
  expect((await rejection(store.templates.rename(owner, "one", "uno"))).details).toEqual({ reason: "database-file-moved" });
  expect((await rejection(store.templates.list(owner))).details).toEqual({ reason: "database-file-moved" });
  const ready = readinessChecks({ store, queue: { stats: async () => ({}) } as never });
  await expect(ready.database!()).rejects.toThrow(/was (deleted|replaced by another file) while Mimic was running/);
}

describe("SQLite store whose file is changed under it", () => {
  it("deleted: saves, renames and listings are refused (not lost), and readiness fails", async () => {
    const path = join(dir, "deleted.db");
    const store = await openStore(`file:${path}`);
    try {
      await store.templates.save(owner, "one", fakeTemplate("one"));
      await store.templates.save(owner, "two", fakeTemplate("two"));
      for (const f of files(path)) rmSync(f, { force: true });
      await expectRefused(store, path, "deleted");
    } finally {
      await store.close();
    }
  });

  it("replaced by another store: refused", async () => {
    const path = join(dir, "replaced.db");
    const otherPath = join(dir, "other.db");
    const store = await openStore(`file:${path}`);
    try {
      await store.templates.save(owner, "one", fakeTemplate("one"));
      const other = await openStore(`file:${otherPath}`);
      await other.templates.save(owner, "grace", fakeTemplate("grace"));
      await other.close();
      renameSync(otherPath, path);
      await expectRefused(store, path, "replaced by another file");
    } finally {
      await store.close();
    }
  });

  it("left in place: work goes on as before", async () => {
    const path = join(dir, "kept.db");
    const store = await openStore(`file:${path}`);
    try {
      await store.templates.save(owner, "one", fakeTemplate("one"));
      await store.templates.rename(owner, "one", "uno");
      expect((await store.templates.list(owner)).map((t) => t.name)).toEqual(["uno"]);
    } finally {
      await store.close();
    }
  });
});
