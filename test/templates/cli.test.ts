/** `mimic face …` end to end: the real CLI binary against an embedded database in a temp dir. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "mimic-cli-"));
const faces = join(root, "test", "fixtures", "faces");

function mimic(...args: string[]) {
  return mimicEnv({}, ...args);
}

function mimicEnv(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, "bin", "mimic.mjs"), "face", ...args], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: "", DATA_DIR: join(dir, "data"), LOG_LEVEL: "silent", ...env },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("mimic face (CLI)", () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("adds, lists, switches the default and removes faces of the local user in DATA_DIR/mimic.db", async () => {
    const grace = mimic("add", join(faces, "grace_hopper_512x512.jpg"), "--name", "Grace");
    expect(grace, grace.err).toMatchObject({ code: 0, out: "saved “grace” (default) for playground:local\n" });
    const laugh = mimic("add", join(faces, "franck_04117.jpg"), "--name", "laugh", "--user", "42", "--platform", "telegram");
    expect(laugh.code, laugh.err).toBe(0);
    expect(laugh.out).toMatch(/note: Your mouth is open/);
    const small = mimic("add", join(faces, "astronaut.png"), "--name", "astro");
    expect(small.code, small.err).toBe(0);
    expect(small.out).toMatch(/note: Your face is small in this photo \(1[01]\d px\).*a bigger photo gives a sharper result/);
    const tinyPhoto = join(dir, "tiny.png");
    writeFileSync(tinyPhoto, await sharp(join(faces, "grace_hopper_512x512.jpg")).resize(128, 128).png().toBuffer());
    const tiny = mimic("add", tinyPhoto, "--name", "tiny");
    expect(tiny.code).toBe(1);
    expect(tiny.err).toMatch(/^mimic: Not saved: the face is too small \(\d\d px across, at least 64 px needed\)\. Send a closer or higher-resolution photo\.\n$/);
    expect(mimic("rm", "astro").code).toBe(0);
    expect(mimic("list").out).toMatch(/^\* grace +\d{4}-/);
    expect(mimic("list", "--user", "42", "--platform", "telegram").out).toMatch(/^\* laugh/);
    expect(mimic("default", "nope").err).toMatch(/no face named “nope”. Your faces: grace/);
    // A platform Mimic does not serve saves nobody's face.
    const myspace = mimic("list", "--platform", "myspace");
    expect(myspace.code).not.toBe(0);
    expect(myspace.err).toMatch(/'--platform <name>' argument 'myspace' is invalid\. Allowed choices are discord, telegram, playground\./);
    const rm = mimic("rm", "grace");
    expect(rm, rm.err).toMatchObject({ code: 0, out: "removed “grace”\n" });
    expect(mimic("list").out).toMatch(/^no saved faces for playground:local/);
  }, 120_000);

  it("every hint is a command that works as printed (placeholders filled in), for the same user", async () => {
    const env = { MAX_TEMPLATES_PER_USER: "2", DATA_DIR: join(dir, "data-hints") };
    const run = (line: string) => {
      // A printed command: "mimic face …"; <photo> and <name> are the only placeholders.
      const args = line.trim().split(/\s+/);
      expect(args.slice(0, 2)).toEqual(["mimic", "face"]);
      return mimicEnv(env, ...args.slice(2));
    };
    const hintOf = (text: string, lead: string) => {
      const i = text.indexOf(lead);
      expect(i, text).toBeGreaterThanOrEqual(0);
      return text.slice(i + lead.length).split("\n")[0];
    };
    const grace = join(faces, "grace_hopper_512x512.jpg");
    const who = ["--user", "7", "--platform", "telegram"];
    // The store exists (another user's face started it): list and rm refuse a store that does not.
    expect(mimicEnv(env, "add", grace, "--name", "seed", "--user", "seed", "--platform", "discord").code).toBe(0);

    // nothing saved: list and rm both say how to save one, for user 7 on telegram
    const empty = mimicEnv(env, "list", ...who);
    const addHint = hintOf(empty.out, "add one with: ");
    expect(addHint).toBe("mimic face add <photo> --name <name> --user 7 --platform telegram");
    const rmNothing = mimicEnv(env, "rm", "nope", ...who);
    expect(rmNothing.code).toBe(1);
    expect(rmNothing.err).toMatch(/You have no saved face yet\. Save one with: /);
    expect(hintOf(rmNothing.err, "Save one with: ")).toBe(addHint);
    const added = run(addHint.replace("<photo>", grace).replace("<name>", "grace"));
    expect(added, added.err).toMatchObject({ code: 0 });
    expect(mimicEnv(env, "list", ...who).out).toMatch(/^\* grace/);

    // an unknown name: the hint lists them
    const unknown = mimicEnv(env, "default", "nope", ...who);
    expect(unknown.err).toMatch(/no face named “nope”\. Your faces: grace\. See them with: /);
    const listed = run(hintOf(unknown.err, "See them with: "));
    expect(listed.out).toMatch(/^\* grace/);

    // a taken name: the hint removes exactly that face, then the add works; said once, not twice
    const taken = mimicEnv(env, "add", grace, "--name", "Grace", ...who);
    expect(taken.code).toBe(2);
    expect(taken.err).toBe("mimic: You already have a face named “grace”. Pick another name, or remove that one first: mimic face rm grace --user 7 --platform telegram\n");
    const rmTaken = hintOf(taken.err, "remove that one first: ");
    expect(rmTaken).toBe("mimic face rm grace --user 7 --platform telegram");
    expect(run(rmTaken)).toMatchObject({ code: 0, out: "removed “grace”\n" });
    expect(mimicEnv(env, "add", grace, "--name", "grace", ...who).code).toBe(0);

    // renaming onto a taken name: same hint
    expect(mimicEnv(env, "add", grace, "--name", "work", ...who).code).toBe(0);
    const renamed = mimicEnv(env, "rename", "work", "grace", ...who);
    expect(renamed.err).toBe("mimic: You already have a face named “grace”. Pick another name, or remove that one first: mimic face rm grace --user 7 --platform telegram\n");

    // the limit (2 here): the hint removes one by name
    const full = mimicEnv(env, "add", grace, "--name", "third", ...who);
    expect(full.err).toBe("mimic: You already have 2 saved faces, the most allowed here is 2. Remove one first: mimic face rm <name> --user 7 --platform telegram\n");
    expect(run(hintOf(full.err, "Remove one first: ").replace("<name>", "work")).code).toBe(0);
    expect(mimicEnv(env, "add", grace, "--name", "third", ...who).code).toBe(0);

    // forget asks for --yes with the whole command
    const ask = mimicEnv(env, "forget", ...who);
    expect(ask.code).toBe(2);
    const forget = hintOf(ask.err, "To confirm, run: ");
    expect(forget).toBe("mimic face forget --yes --user 7 --platform telegram");
    expect(run(forget).out).toMatch(/forgot telegram:7: 2 templates/);

    // the local user's hints carry no --user/--platform
    expect(hintOf(mimicEnv(env, "rm", "nope").err, "Save one with: ")).toBe("mimic face add <photo> --name <name>");
  }, 300_000);

  it("refuses a store that does not exist instead of creating it, except to save a face (how a store starts)", () => {
    const none = join(dir, "mistyped", "none");
    const env = { DATA_DIR: none };
    const store = join(none, "mimic.db");
    const cases: [string[], string][] = [
      [["list"], "no face was listed"],
      [["rm", "me"], "nothing was removed"],
      [["default", "me"], "nothing was changed"],
      [["rename", "me", "you"], "nothing was renamed"],
      [["forget", "--yes"], "nothing was deleted"],
    ];
    for (const [args, nothingDone] of cases) {
      const r = mimicEnv(env, ...args);
      expect(r, args.join(" ")).toMatchObject({ code: 2, out: "", err: `mimic: There is no store at ${store}, so ${nothingDone}: check DATA_DIR/DATABASE_URL.\n` });
    }
    expect(existsSync(join(dir, "mistyped"))).toBe(false);
    const add = mimicEnv(env, "add", join(faces, "grace_hopper_512x512.jpg"), "--name", "me");
    expect(add, add.err).toMatchObject({ code: 0 });
    expect(mimicEnv(env, "list").out).toMatch(/^\* me /);
  }, 120_000);

  it("an empty or overlong --user is refused by the flag's name, in a sentence", () => {
    expect(mimic("list", "--user", "")).toMatchObject({ code: 2, err: "mimic: --user must be a user id of 1 to 128 characters (got an empty one).\n" });
    expect(mimic("rm", "me", "--user", "x".repeat(129))).toMatchObject({ code: 2, err: "mimic: --user must be a user id of 1 to 128 characters (got 129 characters).\n" });
    // Only the playground has a default user: a Discord or Telegram one is named, not taken for "local".
    expect(mimic("list", "--platform", "discord")).toMatchObject({
      code: 2,
      err: "mimic: Name the discord user with --user <id> (their numeric Discord user id): only the playground has a default user.\n",
    });
  });

  it("forget counts in the singular where there is one of each (not \"1 templates\")", () => {
    const env = { DATA_DIR: join(dir, "data-forget-one") };
    const who = ["--user", "solo", "--platform", "telegram"];
    const add = mimicEnv(env, "add", join(faces, "grace_hopper_512x512.jpg"), "--name", "me", ...who);
    expect(add.code, add.err).toBe(0);
    // One use older than a day (deleted) and one recent (held): the CLI itself records none.
    const db = new Database(join(env.DATA_DIR, "mimic.db"));
    const use = db.prepare("INSERT INTO usage_events (platform, server_id, platform_user_id, command, at_ms, day) VALUES ('telegram', '-1', 'solo', 'meme', ?, ?)");
    for (const at of [Date.now() - 2 * 86_400_000, Date.now()]) use.run(at, Math.floor(at / 86_400_000));
    // And one audit-trail entry, counted apart from the uses.
    db.prepare("INSERT INTO audit_events (platform, server_id, channel_id, platform_user_id, kind, input_sha256, at_ms) VALUES ('telegram', '-1', '-1', 'solo', 'meme', ?, ?)").run("a".repeat(64), Date.now());
    db.close();
    const forget = mimicEnv(env, "forget", "--yes", ...who);
    expect(forget, forget.err).toMatchObject({
      code: 0,
      out: "forgot telegram:solo: 1 template, 1 usage record, 1 audit record deleted; 1 use of the last 24 hours held until a day old (it counts towards quotas and cooldowns)\n",
    });
    // Nothing left: both counts in the plural.
    expect(mimicEnv(env, "forget", "--yes", ...who).out).toBe("forgot telegram:solo: 0 templates, 0 usage records, 0 audit records deleted; 1 use of the last 24 hours held until a day old (it counts towards quotas and cooldowns)\n");
  }, 120_000);
});
