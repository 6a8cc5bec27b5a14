/**
 * Face names: checked as given, before lower-casing (Unicode folds the Kelvin sign U+212A onto "k", so
 * "\u212Aate" would have been saved as "kate"), and a refusal of a name with an invisible character says
 * which one, since the quoted name looks fine. The real store on both dialects, and the real CLI.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/templates/index.ts";
import { exitCode, runCli } from "../helpers/cli-run.ts";
import { createTestDb, dialects, fakeTemplate, rejection } from "./helpers.ts";

const RULE = "use 1–32 of a–z, 0–9, _ and - (no accents, spaces or emoji), e.g. “smile” or “work_photo”.";
const owner = { platform: "telegram", userId: "names" };

describe.each(dialects)("face names ($dialect)", ({ dialect, skip }) => {
  it.skipIf(skip)("the Kelvin sign is not taken for k; ASCII capitals still fold; invisible characters are named", async () => {
    const db = await createTestDb(dialect, "names");
    const store = await openStore(db.url);
    try {
      const kelvin = await rejection(store.templates.save(owner, "\u212Aate", fakeTemplate("kelvin")));
      expect(kelvin.code).toBe("BAD_INPUT");
      expect(kelvin.userMessage).toBe(`“\u212Aate” can't be a face name (it has “\u212A”): ${RULE}`);
      expect(await store.templates.list(owner)).toEqual([]);

      const zwj = await rejection(store.templates.save(owner, "smi\u200dle", fakeTemplate("zwj")));
      expect(zwj.userMessage).toBe(`“smi\u200dle” can't be a face name (it has an invisible character (U+200D)): ${RULE}`);

      // An accent is named, not called "other characters"; a space is said as one.
      expect((await rejection(store.templates.save(owner, "Zoë", fakeTemplate("zoe")))).userMessage).toBe(`“Zoë” can't be a face name (it has “ë”): ${RULE}`);
      expect((await rejection(store.templates.save(owner, "my face", fakeTemplate("space")))).userMessage).toBe(`“my face” can't be a face name (it has a space): ${RULE}`);
      // A new name may not start with "-" (a command line reads it as an option); one saved so before is still found.
      expect((await rejection(store.templates.save(owner, "-x", fakeTemplate("dash")))).userMessage).toBe(`“-x” can't be a face name (it starts with -, which a command line reads as an option): ${RULE}`);
      expect((await rejection(store.templates.checkSave(owner, "--help"))).code).toBe("BAD_INPUT");
      expect((await rejection(store.templates.find(owner, "-x"))).code).toBe("NOT_FOUND");

      expect((await store.templates.save(owner, "KATE", fakeTemplate("kate"))).name).toBe("kate");
      expect((await store.templates.find(owner, "Kate")).name).toBe("kate");
      // A lookup under the Kelvin spelling does not find "kate" either.
      expect((await rejection(store.templates.find(owner, "\u212Aate"))).code).toBe("BAD_INPUT");
      expect((await store.templates.list(owner)).map((t) => t.name)).toEqual(["kate"]);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

describe("face names through the CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "mimic-names-cli-"));
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
    rmSync(dir, { recursive: true, force: true });
  });
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: "", DATA_DIR: dir, LOG_LEVEL: "silent" };

  it("refuses the Kelvin spelling and names the invisible character", async () => {
    // rename refuses to create a store: make the one DATA_DIR names.
    await (await openStore(`file:${join(dir, "mimic.db")}`)).close();
    const kelvin = runCli(["face", "rename", "base", "\u212Aate"], env, (c) => cleanups.push(c));
    expect(await exitCode(kelvin)).not.toBe(0);
    expect(kelvin.err()).toContain(`“\u212Aate” can't be a face name (it has “\u212A”)`);

    const zwj = runCli(["face", "rename", "base", "smi\u200dle"], env, (c) => cleanups.push(c));
    expect(await exitCode(zwj)).not.toBe(0);
    expect(zwj.err()).toContain(`“smi\u200dle” can't be a face name (it has an invisible character (U+200D)): ${RULE}`);
  });
});
