import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createCore, type CommandContext, type Core } from "../../src/core/index.ts";
import { storeAudit, storeModeration, storeTemplates } from "../../src/core/bindings.ts";
import { openStore, type Store } from "../../src/templates/index.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { MimicError } from "../../src/errors.ts";
import { checkSafe, type NsfwClassifier } from "../../src/pipeline/safety/nsfw.ts";
import { createTestDb, dialects, type TestDb } from "../templates/helpers.ts";
import { queueDouble, testContext, type QueueDouble } from "./doubles.ts";
import { FACE_JPG, REACTION_LAUGH_JPG, flatPng, reactionGif } from "./images.ts";

/**
 * The command core bound to the REAL store (src/core/bindings.ts over src/templates: settings, bans,
 * channels, atomic quota and cooldown) with the in-memory queue double: every admin setting and every
 * moderation rule is enforced by moderation.ts itself, not by a test double.
 */

const MIB = 1024 * 1024;
const bytes = (b: Uint8Array) => ({ kind: "bytes" as const, bytes: b });
const DAY_MS = 86_400_000;

const ctx = (over: Partial<CommandContext> = {}) => testContext({ userId: "101", ...over });
const admin = (over: Partial<CommandContext> = {}) => ctx({ isAdmin: true, ...over });

for (const { dialect, skip } of dialects) {
  describe.skipIf(skip)(`command core on the real store (${dialect})`, () => {
    let db: TestDb;
    let store: Store;
    let queue: QueueDouble;
    let core: Core;
    let clock: number;

    beforeEach(async () => {
      db = await createTestDb(dialect, "core");
      // Noon UTC: a cooldown test never crosses midnight.
      clock = Math.floor(Date.UTC(2026, 0, 15) / DAY_MS) * DAY_MS + DAY_MS / 2;
      store = await openStore(db.url, {
        maxTemplatesPerUser: 5,
        now: () => clock,
        defaults: { dailyQuotaPerUser: 50, dailyQuotaPerServer: 0, cooldownSeconds: 0 },
      });
      queue = queueDouble();
      core = createCore({ templates: storeTemplates(store), moderation: storeModeration(store), queue }, { maxInputBytes: 25 * MIB });
    });

    afterEach(async () => {
      await store?.close();
      await db?.drop();
    });

    const usesOf = async (userId: string) =>
      Number((await db.query<{ n: number | bigint }>(`SELECT COUNT(*) AS n FROM usage_events WHERE platform_user_id = '${userId}'`))[0].n);
    const set = async (key: Parameters<Core["config"]>[1]["key"], value: string, over: Partial<CommandContext> = {}) => {
      const r = await core.config(admin(over), { key, value });
      expect(r.errorCode, r.text).toBeUndefined();
      return r.text;
    };
    const meme = (over: Partial<CommandContext> = {}, input: Partial<Parameters<Core["meme"]>[1]> = {}) =>
      core.meme(ctx(over), { image: bytes(REACTION_LAUGH_JPG), ...input });
    const save = (name: string, over: Partial<CommandContext> = {}, image: Uint8Array = FACE_JPG) => core.faceSave(ctx(over), { name, image: bytes(image) });

    it("removing a face when none is saved says how to save one on the caller's platform", async () => {
      const discord = await core.faceRemove(ctx({ platform: "discord" }), { name: "me" });
      expect(discord).toMatchObject({ errorCode: "NOT_FOUND", text: "You have no saved face yet. Save one with /face save (attach a clear photo of your face)." });
      const telegram = await core.faceDefault(ctx({ platform: "telegram" }), { name: "me" });
      expect(telegram.text).toBe("You have no saved face yet. Save one with /save <name> as a reply to a clear photo of your face.");
      expect((await save("me")).errorCode).toBeUndefined();
      expect((await core.faceRemove(ctx(), { name: "nope" })).text).toMatch(/^You have no face named “nope”\. Your faces: me\.$/);
    });

    it("refuses over the daily quota from moderation.ts, refunds failed jobs, and the next UTC day starts afresh", async () => {
      expect((await save("me")).errorCode).toBeUndefined();
      expect(await set("quota", "2")).toContain("quota: 2 per user per day");
      expect((await core.config(ctx(), { key: "quota", value: "100" })).errorCode).toBe("FORBIDDEN");

      // A job that fails is given back: it does not use up the quota.
      const realSubmit = queue.submit.bind(queue);
      queue.submit = vi.fn().mockRejectedValueOnce(new Error("worker crashed")).mockImplementation(realSubmit);
      expect((await meme()).errorCode).toBe("INTERNAL");
      expect(await usesOf("101")).toBe(0);

      expect((await meme()).file).toBeDefined();
      expect((await meme()).file).toBeDefined();
      const queued = queue.submitted.length;
      const over = await meme();
      expect(over).toMatchObject({ errorCode: "QUOTA_EXCEEDED", ephemeral: true });
      expect(over.text).toMatch(/used all 2 of today.s memes here/);
      expect(await usesOf("101")).toBe(2);
      // The refusal came before the queue.
      expect(queue.submitted.length).toBe(queued);

      const usage = await core.usage(admin());
      expect(usage.text).toContain("Today you made 2 memes of 2 allowed");
      expect(usage.text).toContain("Server today: 2 memes by 1 user.");
      expect(usage.text).toContain("Top: <@101> (2)");
      // Not "you can make another one now": the quota says when.
      expect(usage.text).toMatch(/\nYou've used all 2 of today.s memes here\. More in .+ \(at 00:00 UTC\)\.\n/);
      expect(usage.text).not.toContain("You can make another one now.");

      clock += DAY_MS;
      expect((await core.usage(ctx())).text).toContain("You can make another one now.");
      expect((await meme()).file).toBeDefined();
    });

    it("reads a face's image data only for admitted requests, and the job carries exactly the saved face", async () => {
      expect(await meme()).toMatchObject({
        errorCode: "NOT_FOUND",
        text: "You have no saved face yet. Save one first with /face save (attach a clear photo of your face).",
      });
      expect((await save("me")).errorCode).toBeUndefined();
      await set("quota", "2");
      const saved = await store.templates.get({ platform: "discord", userId: "101" }, "me");
      // get is the store's only read of a face's crop, mesh and embedding; find reads the summary row.
      const get = vi.spyOn(store.templates, "get");
      const before = queue.submitted.length;
      const find = vi.spyOn(store.templates, "find");
      const list = vi.spyOn(store.templates, "list");

      const answers = await Promise.all(Array.from({ length: 6 }, () => meme()));
      expect(answers.filter((a) => a.file).length).toBe(2);
      expect(answers.filter((a) => a.errorCode === "QUOTA_EXCEEDED").length).toBe(4);
      expect(find).toHaveBeenCalledTimes(6);
      expect(get).toHaveBeenCalledTimes(2);
      // One look-up before admission: find alone tells "no faces at all" apart.
      expect(list).not.toHaveBeenCalled();

      const jobs = queue.submitted.slice(before);
      expect(jobs.map((j) => j.kind)).toEqual(["meme", "meme"]);
      for (const job of jobs) {
        const t = (job as { template: EnrolledTemplate }).template;
        expect(Buffer.from(t.cropPng).equals(Buffer.from(saved.cropPng))).toBe(true);
        expect(t.cropSize).toBe(saved.cropSize);
        expect(t.landmarks).toEqual(saved.landmarks);
        expect(t.embedding).toEqual(saved.embedding);
        expect(t.analysis).toEqual(saved.analysis);
      }
      // A face that vanished after the check but before the job is a NOT_FOUND whose use is given back.
      get.mockRejectedValueOnce(new MimicError("NOT_FOUND", "You have no face named “me”."));
      clock += DAY_MS;
      expect((await meme()).errorCode).toBe("NOT_FOUND");
      expect(await usesOf("101")).toBe(2);
    });

    it("a result larger than the chat allows is refused and its use given back", async () => {
      await save("me");
      await set("quota", "1");
      const tooBig = await meme({ attachmentLimitBytes: 1000 });
      expect(tooBig).toMatchObject({ errorCode: "IMAGE_TOO_LARGE", ephemeral: true });
      expect(tooBig.text).toMatch(/larger than this chat allows \(1 KiB\)/);
      expect(tooBig.file).toBeUndefined();
      expect(await usesOf("101")).toBe(0);
      // The quota of 1 is still there.
      expect((await meme()).file).toBeDefined();
    });

    it("enabled off blocks memes, morphs and face saves; on restores them", async () => {
      await save("me");
      expect(await set("enabled", "off")).toContain("enabled: off");
      expect(await meme()).toMatchObject({ errorCode: "DISABLED", ephemeral: true });
      expect((await core.morph(ctx(), { image: bytes(REACTION_LAUGH_JPG) })).errorCode).toBe("DISABLED");
      const blockedSave = await save("work");
      expect(blockedSave.errorCode).toBe("DISABLED");
      expect(blockedSave.text).toMatch(/switched off on this server/);
      // Another server is not affected.
      expect((await meme({ serverId: "g2" })).file).toBeDefined();
      expect(await set("enabled", "on")).toContain("enabled: on");
      expect((await meme()).file).toBeDefined();
      expect((await core.config(admin(), { key: "enabled", value: "maybe" })).errorCode).toBe("BAD_INPUT");
      expect((await store.templates.list({ platform: "discord", userId: "101" })).map((t) => t.name)).toEqual(["me"]);
    });

    it("animated off makes a GIF reaction a still (saying so), refuses morphs and animated:true, and still PNGs still work", async () => {
      await save("me");
      const gif = bytes(await reactionGif());
      expect((await core.meme(ctx(), { image: gif })).file?.mime).toBe("image/gif");
      expect(queue.submitted.at(-1)).toMatchObject({ kind: "animated", animation: "reaction" });
      expect(await set("animated", "off")).toContain("animated: off");
      const unasked = await core.meme(ctx(), { image: gif });
      expect(unasked.file?.mime).toBe("image/png");
      expect(unasked.text).toBe("Here you go, using your face “me”. Animations are switched off here, so this is a still.");
      expect(queue.submitted.at(-1)).toMatchObject({ kind: "meme" });
      const morph = await core.morph(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
      expect(morph).toMatchObject({ errorCode: "DISABLED", text: "Animated results (GIF reactions and morphs) are switched off on this server." });
      expect((await meme({}, { animated: true })).errorCode).toBe("DISABLED");
      // animated:false turns a GIF reaction into a still, which is allowed.
      const still = await core.meme(ctx(), { image: gif, animated: false });
      expect(still.file?.mime).toBe("image/png");
      expect(queue.submitted.at(-1)).toMatchObject({ kind: "meme" });
      expect((await meme()).file?.mime).toBe("image/png");
      expect(await set("animated", "on")).toContain("animated: on");
      expect((await meme({}, { animated: true })).file?.mime).toBe("image/gif");
      expect(queue.submitted.at(-1)).toMatchObject({ kind: "animated", animation: "morph" });
    });

    it("mode and intensity reach the job", async () => {
      await save("me");
      await meme({}, { mode: "swap", intensity: 30 });
      expect(queue.submitted.at(-1)).toMatchObject({ kind: "meme", mode: "swap", intensity: 0.3 });
      await meme();
      expect(queue.submitted.at(-1)).toMatchObject({ kind: "meme", mode: "mimic", intensity: 1 });
      await meme({}, { mode: "swap", animated: true });
      expect(queue.submitted.at(-1)).toMatchObject({ kind: "animated", mode: "swap", animation: "morph" });
    });

    it("channel add/remove/all limit where Mimic answers, face saves included", async () => {
      await save("me");
      expect(await set("channel", "add 2002")).toContain("channels: <#2002>");
      // Discord's channel mention is its id; several at once; a repeat is kept once.
      expect(await set("channel", "add <#3003> 2002")).toContain("channels: <#2002>, <#3003>");
      const elsewhere = await meme();
      expect(elsewhere).toMatchObject({ errorCode: "FORBIDDEN", ephemeral: true });
      expect(elsewhere.text).toMatch(/doesn.t answer in this channel/);
      expect((await save("work")).errorCode).toBe("FORBIDDEN");
      expect((await meme({ channelId: "2002" })).file).toBeDefined();
      expect((await save("work", { channelId: "3003" })).errorCode).toBeUndefined();
      expect(await set("channel", "remove <#2002>")).toContain("channels: <#3003>");
      expect((await meme({ channelId: "2002" })).errorCode).toBe("FORBIDDEN");
      expect(await set("channel", "all")).toContain("channels: all");
      expect((await meme()).file).toBeDefined();
      for (const bad of ["add", "remove", "everywhere 2002", "all 2002"]) {
        const r = await core.config(admin(), { key: "channel", value: bad });
        expect(r.errorCode, bad).toBe("BAD_INPUT");
        expect(r.text, bad).toMatch(/channel add <channel id>|Name the channel/);
      }
      // A channel's name, or anything else that is not an id, is refused rather than stored to match nothing.
      for (const bad of ["add general", "add 2002 memes", `add ${"9".repeat(70)}`, "add <#2002"]) {
        const r = await core.config(admin(), { key: "channel", value: bad });
        expect(r.errorCode, bad).toBe("BAD_INPUT");
        expect(r.text, bad).toMatch(/is not a channel: mention it \(#\) or give its numeric id\.$/);
      }
      expect(await set("channel", "all")).toContain("channels: all");
    });

    it("ban and unban (ids and <@id> mentions) block memes and face saves; unbanning a stranger is NOT_FOUND", async () => {
      await save("me", { userId: "202" });
      await set("ban", "<@202>");
      const banned = await meme({ userId: "202" });
      expect(banned).toMatchObject({ errorCode: "FORBIDDEN", ephemeral: true });
      expect(banned.text).toMatch(/blocked you from using Mimic here/);
      expect((await save("work", { userId: "202" })).errorCode).toBe("FORBIDDEN");
      // Only on this server, and only this user.
      expect((await meme({ userId: "202", serverId: "g2" })).file).toBeDefined();
      await save("me");
      expect((await meme()).file).toBeDefined();
      await set("unban", "<@!202>");
      expect((await meme({ userId: "202" })).file).toBeDefined();
      const notBanned = await core.config(admin(), { key: "unban", value: "202" });
      expect(notBanned).toMatchObject({ errorCode: "NOT_FOUND" });
      expect(notBanned.text).toBe("User 202 was not banned here.");
      await set("ban", "303");
      expect((await save("x", { userId: "303" })).errorCode).toBe("FORBIDDEN");
      expect((await core.config(admin(), { key: "ban", value: "9".repeat(129) })).errorCode).toBe("BAD_INPUT");
      // A name typed as text, and the admin themselves, ban nobody; the settings list who is banned.
      expect((await core.config(admin(), { key: "ban", value: "@alice" })).text).toMatch(/^Mention one user .* “@alice” names nobody\.$/);
      expect((await core.config(admin(), { key: "ban", value: "<@101>" })).text).toBe("You cannot ban yourself.");
      expect((await core.config(admin(), {})).text).toMatch(/\n• banned: <@303>\n/);
      // A reason after the mention, two users, a role, or a mention with text around it: refused, nobody banned.
      for (const odd of ["<@202> spamming memes", "<@202> <@303>", "<@&404>", "x<@202>", "<@202>x", "bob the builder"]) {
        const r = await core.config(admin(), { key: "ban", value: odd });
        expect(r.errorCode, odd).toBe("BAD_INPUT");
        expect((await core.config(admin(), { key: "unban", value: odd })).errorCode, odd).toBe("BAD_INPUT");
      }
      expect((await core.config(admin(), { key: "ban", value: "<@&404>" })).text).toBe("That is a role, not a user: ban one user at a time.");
      expect((await meme({ userId: "202" })).file).toBeDefined();
      expect((await core.config(admin(), {})).text).toMatch(/\n• banned: <@303>\n/);
    });

    it("cooldown spaces one user's memes and tells how long to wait", async () => {
      await save("me");
      expect(await set("cooldown", "60")).toContain("cooldown: 60 s");
      expect((await meme()).file).toBeDefined();
      clock += 20_000;
      const soon = await meme();
      expect(soon).toMatchObject({ errorCode: "COOLDOWN", ephemeral: true });
      expect(soon.text).toContain("40 s");
      expect((await core.usage(ctx())).text).toContain("Next one possible in 40 s.");
      // Saving a face is not a generation: no cooldown.
      expect((await save("work")).errorCode).toBeUndefined();
      // Another user is not held up.
      await save("me", { userId: "202" });
      expect((await meme({ userId: "202" })).file).toBeDefined();
      clock += 40_000;
      expect((await meme()).file).toBeDefined();
      expect(await set("cooldown", "0")).toContain("cooldown: none");
      expect((await meme()).file).toBeDefined();
      expect((await core.usage(ctx())).text).toContain("You can make another one now.");
    });

    it("a long cooldown: the usage reply words the wait as the refusal does (24 h, not 86398 s)", async () => {
      await save("me");
      expect(await set("cooldown", "86400")).toContain("cooldown:");
      expect((await meme()).file).toBeDefined();
      clock += 2_000;
      const refused = await meme();
      expect(refused).toMatchObject({ errorCode: "COOLDOWN" });
      expect(refused.text).toContain("in 24 h.");
      const usage = (await core.usage(ctx())).text;
      expect(usage).toContain("Next one possible in 24 h.");
      expect(usage).not.toMatch(/\d{3,} s\b/);
      clock += 86_398_000 - 90_000;
      expect((await core.usage(ctx())).text).toContain("Next one possible in 2 min.");
    });

    it("lists are capped to fit a chat message; a deleted default names its successor; replies name faces as saved", async () => {
      for (const name of ["me", "two", "three"]) await save(name);
      expect((await core.faceDefault(ctx(), { name: "TWO" })).text).toBe("“two” is now your default face.");
      expect((await core.faceRemove(ctx(), { name: "Three" })).text).toBe("Deleted your face “three”.");
      expect((await core.faceRemove(ctx(), { name: "two" })).text).toBe("Deleted your face “two”. “me” is now your default face.");
      expect((await core.faceRemove(ctx(), { name: "me" })).text).toBe("Deleted your face “me”.");
      // A value without a setting is not silently dropped.
      const orphan = await core.config(admin(), { value: "5" });
      expect(orphan).toMatchObject({ errorCode: "BAD_INPUT" });
      expect(orphan.text).toMatch(/^Which setting should be “5”\? Settings: enabled, /);
      // 30 channels and 30 bans: 20 of each named, the rest counted.
      await set("channel", `add ${Array.from({ length: 30 }, (_, i) => String(5000 + i)).join(" ")}`);
      for (let i = 0; i < 30; i++) await set("ban", String(7000 + i));
      const settings = (await core.config(admin(), {})).text;
      expect(settings).toContain("• channels: <#5000>, <#5001>,");
      expect(settings).toContain("<#5019> and 10 more\n");
      expect(settings).toContain("<@7019> and 10 more\n");
      expect(settings.length).toBeLessThan(2000);
    });

    it("max_faces lowers the faces a user may keep (from 1, never above the configured limit)", async () => {
      expect(await set("max_faces", "2")).toContain("max_faces: 2 per user");
      expect((await save("a")).errorCode).toBeUndefined();
      expect((await save("b")).errorCode).toBeUndefined();
      const third = await save("c");
      expect(third.errorCode).toBe("LIMIT_REACHED");
      expect(third.text).toContain("2");
      const zero = await core.config(admin(), { key: "max_faces", value: "0" });
      expect(zero).toMatchObject({ errorCode: "BAD_INPUT" });
      expect(zero.text).toBe("The number of faces must be a whole number from 1 to 5, not “0”.");
      expect(await set("max_faces", "1")).toContain("max_faces: 1 per user");
      // Above this Mimic's own limit (MAX_TEMPLATES_PER_USER, 5 here) is refused, naming it, not silently capped.
      const above = await core.config(admin(), { key: "max_faces", value: "999" });
      expect(above).toMatchObject({ errorCode: "BAD_INPUT", text: "The number of faces must be a whole number from 1 to 5, not “999”." });
      expect(await set("max_faces", "5")).toContain("max_faces: 5 per user");
      expect((await save("c")).errorCode).toBeUndefined();
      // Another server keeps the configured limit.
      expect((await core.config(admin({ serverId: "g2" }), {})).text).toContain("max_faces: 5 per user");
    });

    it("server_quota caps the whole server's memes per day", async () => {
      expect(await set("server_quota", "2")).toContain("server_quota: 2 per day");
      for (const u of ["101", "202", "303"]) await save("me", { userId: u });
      expect((await meme({ userId: "101" })).file).toBeDefined();
      expect((await meme({ userId: "202" })).file).toBeDefined();
      const third = await meme({ userId: "303" });
      expect(third).toMatchObject({ errorCode: "QUOTA_EXCEEDED" });
      expect(third.text).toMatch(/This server has used all 2 of today.s memes/);
      expect((await core.usage(ctx({ userId: "303" }))).text).toMatch(/\nThis server has used all 2 of today.s memes\. More in /);
      expect((await meme({ userId: "303", serverId: "g2" })).file).toBeDefined();
      expect(await set("server_quota", "0")).toContain("server_quota: unlimited");
      expect((await meme({ userId: "303" })).file).toBeDefined();
    });

    it("face saves are moderated but do not use up the meme quota", async () => {
      await set("quota", "1");
      for (const name of ["a", "b", "c"]) expect((await save(name)).errorCode).toBeUndefined();
      expect(await usesOf("101")).toBe(0);
      expect((await meme()).file).toBeDefined();
      expect((await meme()).errorCode).toBe("QUOTA_EXCEEDED");
      // A face-less picture is refused by the enrolment and saves nothing.
      const none = await save("d", {}, await flatPng());
      expect(none.errorCode).toBe("NO_FACE");
      expect((await store.templates.list({ platform: "discord", userId: "101" })).map((t) => t.name)).toEqual(["a", "b", "c"]);
    });

    it("rejects bad setting values with the allowed range, and settings outside a server", async () => {
      for (const [key, value, range] of [
        ["quota", "-1", "0 to 1000000"],
        ["quota", "1.5", "0 to 1000000"],
        ["quota", "1000001", "0 to 1000000"],
        ["server_quota", "lots", "0 to 100000000"],
        ["cooldown", "86401", "0 to 86400"],
        ["max_faces", "x", "1 to 5"],
      ] as const) {
        const r = await core.config(admin(), { key, value });
        expect(r.errorCode, `${key}=${value}`).toBe("BAD_INPUT");
        expect(r.text).toContain(range);
      }
      expect((await core.config(admin(), { key: "quota", value: "  " })).text).toMatch(/Give a value for “quota”/);
      expect((await core.config(admin(), { key: "nonsense" as never, value: "1" })).text).toMatch(/Unknown setting/);
      expect((await core.config(admin({ serverId: null, channelId: null }), { key: "quota", value: "1" })).errorCode).toBe("BAD_INPUT");
      // Nothing of it was stored.
      expect((await core.config(admin(), {})).text).toContain("quota: 50 per user per day");
    });

    it("in a private chat the configured defaults apply and no server rule leaks in", async () => {
      await set("quota", "1");
      // Another admin bans 101 here (nobody may ban themselves).
      expect((await core.config(admin({ userId: "909" }), { key: "ban", value: "101" })).errorCode).toBeUndefined();
      const dm = { serverId: null, channelId: null };
      await save("me", dm);
      expect((await meme(dm)).file).toBeDefined();
      expect((await meme(dm)).file).toBeDefined();
      expect((await core.usage(ctx(dm))).text).toContain("Today you made 2 memes of 50 allowed");
    });

    /** The real gate's refusal, from a classifier that finds every picture explicit (no explicit picture ships with the tests). */
    const explicitEverywhere = { classify: async (images: unknown[]) => images.map(() => ({ unsafe: 0.99, classes: {} })) } as unknown as NsfwClassifier;
    const refuseAt = (stage: "input" | "face" | "output") => () => checkSafe(explicitEverywhere, [{ width: 1, height: 1, data: new Uint8Array(3) } as never], 0.7, stage);

    it("an NSFW refusal says it counts towards the limits, in the place's words, and /usage does not call it a meme", async () => {
      const realSubmit = queue.submit.bind(queue);
      for (const platform of ["telegram", "discord", "playground"] as const) expect((await save("me", { platform })).errorCode).toBeUndefined();
      expect(await set("quota", "2", { platform: "telegram" })).toContain("quota: 2 per user per day");

      queue.submit = vi.fn().mockImplementationOnce(refuseAt("input")).mockImplementation(realSubmit);
      const refused = await meme({ platform: "telegram" });
      expect(refused).toMatchObject({
        errorCode: "UNSAFE_CONTENT",
        text: "I can't use that picture: it looks like explicit content, which this group doesn't allow. Nothing was kept. It still counts towards your daily limits, like a meme.",
      });
      expect((await core.usage(ctx({ platform: "telegram" }))).text).toBe(
        "Today you made 0 memes and 1 refused picture of 2 allowed.\nYou can make another one now.\nSaved faces: 1.",
      );
      expect((await meme({ platform: "telegram" })).errorCode).toBeUndefined();
      expect((await core.usage(ctx({ platform: "telegram" }))).text).toMatch(/^Today you made 1 meme and 1 refused picture of 2 allowed\.\n/);
      // The admin's figures agree: the top list counts memes as the total does, and shows the refusal beside them.
      expect((await core.usage(admin({ platform: "telegram", userId: "202" }))).text).toBe(
        [
          "Today you made 0 memes of 2 allowed.",
          "You can make another one now.",
          "Saved faces: 0.",
          "Group today: 1 meme by 1 user.",
          "Refused as explicit today: 1.",
          "Top: user 101 (1 + 1 refused)",
        ].join("\n"),
      );
      // A user whose only use was refused made no meme: not counted among the users who did.
      expect((await save("me", { platform: "telegram", userId: "303" })).errorCode).toBeUndefined();
      queue.submit = vi.fn().mockImplementationOnce(refuseAt("output")).mockImplementation(realSubmit);
      expect((await meme({ platform: "telegram", userId: "303" })).text).toBe(
        "The result looked like explicit content, so I didn't send it. Nothing was kept. Try another picture. It still counts towards your daily limits, like a meme.",
      );
      expect((await core.usage(admin({ platform: "telegram", userId: "202" }))).text).toContain(
        "Group today: 1 meme by 1 user.\nRefused as explicit today: 2.\nTop: user 101 (1 + 1 refused), user 303 (0 + 1 refused)",
      );

      queue.submit = vi.fn().mockImplementationOnce(refuseAt("face")).mockImplementation(realSubmit);
      expect((await save("other", { platform: "discord" })).text).toBe(
        "I can't save that photo: it looks like explicit content, which this server doesn't allow. Nothing was kept. It still counts towards your daily limits, like a meme.",
      );
      queue.submit = vi.fn().mockImplementationOnce(refuseAt("input")).mockImplementation(realSubmit);
      expect((await meme({ platform: "playground", serverId: "playground" })).text).toMatch(/^I can't use that picture: it looks like explicit content, which isn't allowed here\. /);
      queue.submit = vi.fn().mockImplementationOnce(refuseAt("input")).mockImplementation(realSubmit);
      expect((await meme({ platform: "discord", serverId: null, channelId: null })).text).toMatch(/explicit content, which isn't allowed here\. /);
    });

    it("admin and settings refusals use the platform's words; /audit points at the picture, not the CLI", async () => {
      const tg = { platform: "telegram" as const };
      expect((await core.config(ctx(tg), {})).text).toBe("Only group admins can see or change Mimic's settings.");
      expect((await core.config(ctx(), {})).text).toBe("Only server admins (the Manage Server permission) can see or change Mimic's settings.");
      expect((await core.config(admin({ ...tg, serverId: null }), {})).text).toBe("Settings belong to a group: use this command there.");
      expect((await core.config(admin({ serverId: null }), {})).text).toBe("Settings belong to a server: use this command there.");
      expect((await core.audit(ctx(tg), { hash: "ab" })).text).toBe("Only group admins can look up who made a picture.");
      expect((await core.audit(admin({ ...tg, serverId: null }), {})).text).toBe("The audit trail belongs to a group: use this command there.");
      expect((await core.config(admin(tg), { key: "server_quota", value: "x" })).text).toBe("The group's daily quota must be a whole number from 0 to 100000000, not “x”.");
      expect((await core.config(admin(), { key: "server_quota", value: "x" })).text).toMatch(/^The server's daily quota must be/);

      const audited = createCore({ templates: storeTemplates(store), moderation: storeModeration(store), queue, audit: storeAudit(store) }, { maxInputBytes: 25 * MIB });
      expect((await audited.audit(admin(tg), {})).text).toBe("Reply to the picture with /audit.");
      expect((await audited.audit(admin(), {})).text).toBe("Attach the picture to /mimic audit, as Mimic sent it.");
      expect((await audited.audit(admin(tg), { hash: "not-a-hash" })).text).toBe("That is not a SHA-256 hash (64 hex characters). Instead, reply to the picture with /audit.");
      for (const platform of ["telegram", "discord"] as const) expect((await audited.audit(admin({ platform }), { hash: "zz" })).text).not.toMatch(/mimic inspect|`/);
    });

    it("removing a channel or topic that is not listed says so and changes nothing; a ban without a value says how to name the person", async () => {
      const tg = { platform: "telegram" as const, serverId: "-100123", channelId: "5" };
      expect(await set("channel", "add 5", tg)).toContain("• channels: topic 5");
      const notListed = await core.config(admin({ ...tg, channelId: "7" }), { key: "channel", value: "remove 7" });
      expect(notListed).toMatchObject({ errorCode: "NOT_FOUND", text: "Topic 7 was not listed, so nothing changed." });
      expect((await core.config(admin(tg), {})).text).toContain("• channels: topic 5");
      expect((await core.config(admin(), { key: "channel", value: "remove 42" })).text).toBe("No channels are listed (Mimic answers in every channel), so there is nothing to remove.");
      expect(await set("channel", "add 41")).toContain("• channels: <#41>");
      expect((await core.config(admin(), { key: "channel", value: "remove <#42>" })).text).toBe("<#42> was not listed, so nothing changed.");
      expect(await set("channel", "remove <#41>")).toContain("• channels: all");

      expect((await core.config(admin(tg), { key: "ban" })).text).toBe("Reply to one of the person's messages with /config ban.");
      expect((await core.config(admin(tg), { key: "unban", value: " " })).text).toBe("Reply to one of the person's messages with /config unban.");
      expect((await core.config(admin(), { key: "ban" })).text).toBe("Give a value for “ban”, e.g. a mention of the user (type @ and pick them) or their numeric user id.");
    });

    it("a used-up quota of one meme is said in the singular, and a bad face name is called a face name", async () => {
      expect((await save("me")).errorCode).toBeUndefined();
      expect(await set("quota", "1")).toContain("quota: 1 per user per day");
      expect((await meme()).errorCode).toBeUndefined();
      expect((await meme()).text).toMatch(/^You've used today's 1 meme here\. More in /);
      expect((await save("Mr Smith!")).text).toBe("“Mr Smith!” can't be a face name (it has other characters): use 1–32 letters, digits, _ or -, e.g. “smile” or “work_photo”.");
    });
  });
}

