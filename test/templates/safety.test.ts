/**
 * Safety kept by the real store (SQLite and PostgreSQL) and honoured by the command core: the per-server
 * visible AI-edit mark reaches the job the queue runs; the moderators' audit trail records each generation
 * (hashes only), answers "who made this picture?", is pruned after its retention and forgotten on forget-me.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeAudit, storeModeration } from "../../src/core/bindings.ts";
import { createCore, type CommandContext } from "../../src/core/index.ts";
import { openStore, type Store } from "../../src/templates/index.ts";
import { DEFAULT_HANDLERS } from "../../src/queue/index.ts";
import { ONE_THREAD } from "../queue/helpers.ts";
import { createLocalQueue } from "../../src/queue/local.ts";
import { memoryTemplates, queueDouble } from "../core/doubles.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";
import { createTestDb, dialects, type TestDb } from "./helpers.ts";

const MIB = 1024 * 1024;
const DAY = 86_400_000;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const root = path.resolve(import.meta.dirname, "../..");
const run = promisify(execFile);
const ctx = (over: Partial<CommandContext> = {}): CommandContext => ({
  platform: "discord",
  userId: "u1",
  serverId: "g1",
  channelId: "c1",
  isAdmin: false,
  requestId: `r${Math.random()}`,
  attachmentLimitBytes: 10 * MIB,
  ...over,
});
const bytes = (b: Uint8Array) => ({ kind: "bytes" as const, bytes: b });

describe.each(dialects)("safety settings on $dialect", ({ dialect, skip }) => {
  let db: TestDb;
  let store: Store;
  let clock = Date.UTC(2030, 0, 1, 10);
  beforeAll(async () => {
    if (skip) return;
    db = await createTestDb(dialect, "safety");
    store = await openStore(db.url, { now: () => clock, auditRetentionDays: 30, defaults: { dailyQuotaPerUser: 0, dailyQuotaPerServer: 0, cooldownSeconds: 0 } });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it.skipIf(skip)("an admin turns the visible mark on; the server's jobs ask for it, other servers' do not", async () => {
    const queue = queueDouble();
    const core = createCore({ templates: memoryTemplates(), moderation: storeModeration(store), queue }, { maxInputBytes: 25 * MIB });
    expect((await core.faceSave(ctx(), { name: "me", image: bytes(FACE_JPG) })).errorCode).toBeUndefined();

    await core.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ kind: "meme", visibleMark: false });

    expect((await core.config(ctx(), { key: "mark", value: "on" })).errorCode).toBe("FORBIDDEN");
    const on = await core.config(ctx({ isAdmin: true }), { key: "mark", value: "on" });
    expect(on.text).toContain("mark: on");
    expect((await core.config(ctx({ isAdmin: true }), { key: "mark", value: "maybe" })).errorCode).toBe("BAD_INPUT");

    await core.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ kind: "meme", visibleMark: true });
    await core.morph(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ kind: "animated", visibleMark: true });
    await core.meme(ctx({ serverId: "g2" }), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ visibleMark: false });
    await core.meme(ctx({ serverId: null, channelId: null }), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ visibleMark: false });

    await core.config(ctx({ isAdmin: true }), { key: "mark", value: "off" });
    await core.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ visibleMark: false });
  });

  it.skipIf(skip)("each generation is recorded with hashes only; admins of that server look a picture up by hash or by the picture", async () => {
    const queue = queueDouble();
    const core = createCore({ templates: memoryTemplates(), moderation: storeModeration(store), queue, audit: storeAudit(store) }, { maxInputBytes: 25 * MIB });
    const me = ctx({ userId: "maker", serverId: "g-audit", channelId: "c-7" });
    expect((await core.faceSave(me, { name: "me", image: bytes(FACE_JPG) })).errorCode).toBeUndefined();
    const made = await core.meme(me, { image: bytes(REACTION_LAUGH_JPG) });
    expect(made.errorCode).toBeUndefined();
    const out = sha(made.file!.bytes);

    // Straight from the database: who, where, when, kind, template, hashes; no column holds pixels.
    const rows = await db.query<Record<string, unknown>>(`SELECT * FROM audit_events WHERE server_id = 'g-audit'`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ platform: "discord", platform_user_id: "maker", channel_id: "c-7", kind: "meme", input_sha256: sha(REACTION_LAUGH_JPG), output_sha256: out });
    expect(Number(rows[0].at_ms)).toBe(clock);
    expect(rows[0].template_id).toBeTruthy();
    expect(Object.keys(rows[0]).sort()).toEqual(["at_ms", "channel_id", "id", "input_sha256", "kind", "message_ref", "output_sha256", "platform", "platform_user_id", "server_id", "template_id"]);
    // The message that carried it is noted only by adapters whose platform re-encodes pictures (Telegram).
    expect(rows[0].message_ref).toBeNull();

    const admin = ctx({ userId: "mod", serverId: "g-audit", isAdmin: true });
    const byHash = await core.audit(admin, { hash: out.toUpperCase() });
    expect(byHash.text).toContain("<@maker> made it (meme");
    expect(byHash.text).toContain("<#c-7>");
    const byPicture = await core.audit(admin, { image: bytes(made.file!.bytes) });
    expect(byPicture.text).toContain("<@maker> made it");
    const byInput = await core.audit(admin, { hash: sha(REACTION_LAUGH_JPG) });
    expect(byInput.text).toContain("<@maker> used it as the reaction image");

    expect((await core.audit(ctx({ serverId: "g-audit" }), { hash: out })).errorCode).toBe("FORBIDDEN");
    expect((await core.audit(ctx({ serverId: null, isAdmin: true }), { hash: out })).errorCode).toBe("BAD_INPUT");
    expect((await core.audit(admin, { hash: "not-a-hash" })).errorCode).toBe("BAD_INPUT");
    // Another server's admins see nothing of this server.
    const elsewhere = await core.audit(ctx({ serverId: "g-other", isAdmin: true }), { hash: out });
    expect(elsewhere.errorCode).toBeUndefined();
    expect(elsewhere.text).toMatch(/No picture .* in the last 30 days/);
  });

  it.skipIf(skip)("the operator's CLI answers from the output file's hash", async () => {
    if (dialect !== "sqlite") return; // the CLI reads DATABASE_URL; one dialect is enough for the command itself
    const out = createHash("sha256").update("cli picture").digest("hex");
    await store.audit.record({ platform: "telegram", userId: "42", serverId: "-100", channelId: "-100", kind: "animated", templateId: "9", inputSha256: sha(FACE_JPG), outputSha256: out });
    const dir = await mkdtemp(path.join(tmpdir(), "mimic-audit-cli-"));
    try {
      const file = path.join(dir, "picture.gif");
      await writeFile(file, "cli picture");
      const env = { ...process.env, LOG_LEVEL: "silent", DATABASE_URL: db.url };
      const { stdout } = await run(process.execPath, ["bin/mimic.mjs", "audit", file, "--json"], { cwd: root, env });
      const report = JSON.parse(stdout) as { sha256: string; records: Array<{ platform: string; userId: string; serverId: string; kind: string }> };
      expect(report.sha256).toBe(out);
      expect(report.records).toEqual([expect.objectContaining({ platform: "telegram", userId: "42", serverId: "-100", kind: "animated" })]);
      const text = await run(process.execPath, ["bin/mimic.mjs", "audit", "0".repeat(64)], { cwd: root, env });
      expect(text.stdout).toContain("not in the audit trail (kept 30 days)");

      // A bot keeping a year: a look-up from a shell without its AUDIT_RETENTION_DAYS (30 by default) deletes nothing.
      const old = createHash("sha256").update("kept a year").digest("hex");
      const yearAgo = await openStore(db.url, { auditRetentionDays: 365, now: () => Date.now() - 45 * DAY });
      await yearAgo.audit.record({ platform: "discord", userId: "7", serverId: "g-year", channelId: null, kind: "meme", templateId: "1", inputSha256: sha(FACE_JPG), outputSha256: old });
      await yearAgo.close();
      const { AUDIT_RETENTION_DAYS: _bots, ...noSetting } = env as NodeJS.ProcessEnv;
      expect((await run(process.execPath, ["bin/mimic.mjs", "audit", old], { cwd: root, env: noSetting })).stdout).toContain("not in the audit trail (kept 30 days)");
      await run(process.execPath, ["bin/mimic.mjs", "face", "list", "--user", "7", "--platform", "discord"], { cwd: root, env: noSetting });
      const year = await openStore(db.url, { auditRetentionDays: 365 });
      try {
        expect(await year.audit.lookup(old)).toHaveLength(1);
      } finally {
        await year.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(skip)("rows older than the retention are pruned by the app; forget-me deletes the user's rows", async () => {
    const h = (s: string) => createHash("sha256").update(s).digest("hex");
    const entry = (userId: string, out: string) => ({ platform: "discord", userId, serverId: "g-prune", channelId: null, kind: "meme", templateId: "1", inputSha256: h("in"), outputSha256: h(out) });
    await store.audit.record(entry("old", "old-picture"));
    clock += 29 * DAY;
    await store.audit.record(entry("young", "young-picture"));
    expect(await store.audit.lookup(h("old-picture"))).toHaveLength(1);
    clock += 2 * DAY; // "old" is now 31 days old; the next write, over an hour after the last prune, prunes it
    await store.audit.record(entry("forgetful", "forgetful-picture"));
    expect(await store.audit.lookup(h("old-picture"))).toHaveLength(0);
    expect(await store.audit.lookup(h("young-picture"))).toHaveLength(1);

    const removed = await store.templates.forgetUser({ platform: "discord", userId: "forgetful" });
    // Counted as what they are: audit-trail entries, not uses.
    expect(removed.auditRecords).toBe(1);
    expect(await store.audit.lookup(h("forgetful-picture"))).toHaveLength(0);
    expect(await store.audit.lookup(h("young-picture"))).toHaveLength(1);
  });

  it.skipIf(skip)("NSFW gate and swap settings reach the jobs; admins change them, nonsense is refused", async () => {
    const queue = queueDouble();
    const core = createCore({ templates: memoryTemplates(), moderation: storeModeration(store), queue }, { maxInputBytes: 25 * MIB });
    const here = (over: Partial<CommandContext> = {}) => ctx({ serverId: "g-gate", ...over });
    const admin = here({ isAdmin: true });
    expect((await core.faceSave(here(), { name: "me", image: bytes(FACE_JPG) })).errorCode).toBeUndefined();
    expect(queue.submitted.at(-1)).toMatchObject({ kind: "enrol", nsfwThreshold: 0.7 });
    await core.meme(here(), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ kind: "meme", nsfwThreshold: 0.7 });

    expect((await core.config(admin, { key: "nsfw_threshold", value: "0.35" })).text).toContain("nsfw: on (threshold 0.35)");
    await core.meme(here(), { image: bytes(REACTION_LAUGH_JPG), animated: true });
    expect(queue.submitted.at(-1)).toMatchObject({ kind: "animated", nsfwThreshold: 0.35 });
    for (const bad of ["0", "1.5", "-0.2", "lots", "NaN"]) {
      expect((await core.config(admin, { key: "nsfw_threshold", value: bad })).errorCode, bad).toBe("BAD_INPUT");
    }
    expect((await core.config(here(), { key: "nsfw", value: "off" })).errorCode).toBe("FORBIDDEN");
    expect((await core.config(admin, { key: "nsfw", value: "off" })).text).toContain("nsfw: off");
    await core.meme(here(), { image: bytes(REACTION_LAUGH_JPG) });
    expect((queue.submitted.at(-1) as { nsfwThreshold?: number }).nsfwThreshold).toBeUndefined();
    await core.config(admin, { key: "nsfw", value: "on" });
    expect((await core.config(admin, { key: "nsfw_threshold", value: "default" })).text).toContain("nsfw: on (threshold 0.7)");

    expect((await core.config(admin, { key: "swap", value: "off" })).text).toContain("swap: off");
    const before = queue.submitted.length;
    const refused = await core.meme(here(), { image: bytes(REACTION_LAUGH_JPG), mode: "swap" });
    expect(refused.errorCode).toBe("FORBIDDEN");
    expect(refused.text).toMatch(/Swap mode is switched off/);
    expect(queue.submitted.length).toBe(before);
    expect((await core.meme(here(), { image: bytes(REACTION_LAUGH_JPG) })).errorCode).toBeUndefined();
    await core.config(admin, { key: "swap", value: "on" });
    expect((await core.meme(here(), { image: bytes(REACTION_LAUGH_JPG), mode: "swap" })).errorCode).toBeUndefined();
  });

  it.skipIf(skip)("a refusal by the real classifier tells the user plainly, keeps nothing and is counted in the usage report", { timeout: 120_000 }, async () => {
    const queue = createLocalQueue({ workers: 1, capacity: 10, perUserLimit: 1, jobTimeoutMs: 60_000, cheapFirst: false, handlersUrl: DEFAULT_HANDLERS, settings: ONE_THREAD });
    try {
      await queue.ready();
      const templates = memoryTemplates();
      const core = createCore({ templates, moderation: storeModeration(store), queue, audit: storeAudit(store) }, { maxInputBytes: 25 * MIB });
      const here = (over: Partial<CommandContext> = {}) => ctx({ serverId: "g-real", userId: "prober", ...over });
      const admin = here({ userId: "mod", isAdmin: true });
      expect((await core.faceSave(here(), { name: "me", image: bytes(FACE_JPG) })).errorCode).toBeUndefined();
      // No explicit image can ship with the tests: a threshold below these safe photos' scores stands in for one.
      await core.config(admin, { key: "nsfw_threshold", value: "0.00001" });
      const meme = await core.meme(here(), { image: bytes(REACTION_LAUGH_JPG) });
      expect(meme.errorCode).toBe("UNSAFE_CONTENT");
      expect(meme.ephemeral).toBe(true);
      expect(meme.file).toBeUndefined();
      expect(meme.text).toMatch(/explicit content.*Nothing was kept/);
      const save = await core.faceSave(here(), { name: "other", image: bytes(REACTION_LAUGH_JPG) });
      expect(save.errorCode).toBe("UNSAFE_CONTENT");
      expect((await templates.list({ platform: "discord", userId: "prober" })).map((t) => t.name)).toEqual(["me"]);
      // Nothing of the refused picture is kept: no audit row (there is no output), only the counted refusal.
      expect(await db.query(`SELECT * FROM audit_events WHERE server_id = 'g-real'`)).toEqual([]);
      const usage = await core.usage(admin);
      expect(usage.text).toContain("Refused as explicit today: 2.");
      expect(usage.text).toContain("Server today: no memes yet.");
      // The default threshold lets the same pictures through.
      await core.config(admin, { key: "nsfw_threshold", value: "default" });
      expect((await core.meme(here(), { image: bytes(REACTION_LAUGH_JPG) })).errorCode).toBeUndefined();
    } finally {
      await queue.close({ drainMs: 0 });
    }
  });
});
