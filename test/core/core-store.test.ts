import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createCore, LOTTIE_FACE_REFUSAL, LOTTIE_MIME, LOTTIE_REACTION_REFUSAL, type CommandContext, type Core, type FetchLike } from "../../src/core/index.ts";
import { storeAudit, storeModeration, storeTemplates } from "../../src/core/bindings.ts";
import { openStore, type Store } from "../../src/templates/index.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { MimicError } from "../../src/errors.ts";
import { checkSafe, type NsfwClassifier } from "../../src/pipeline/safety/nsfw.ts";
import { createTestDb, dialects, type TestDb } from "../templates/helpers.ts";
import { queueDouble, testContext, type QueueDouble } from "./doubles.ts";
import { FACE_JPG, REACTION_LAUGH_JPG, REACTION_SMILE_JPG, flatPng, reactionGif } from "./images.ts";

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
      expect(usage.text).toMatch(/\nYou've used all 2 of today.s memes here\. More in .+ \(at <t:\d+:t>\)\.\n/);
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
      expect(await set("channel", "add 2002")).toContain("channel: <#2002>");
      // Discord's channel mention is its id; several at once; a repeat is kept once.
      expect(await set("channel", "add <#3003> 2002")).toContain("channel: <#2002>, <#3003>");
      // Adding what is listed already says so (as a second ban does), with the list it left as it was.
      const again = await set("channel", "add <#3003>");
      expect(again).toMatch(/^<#3003> was listed already, so nothing changed\./);
      expect(again).toContain("channel: <#2002>, <#3003>");
      expect(await set("channel", "add 2002 3003")).toMatch(/^<#2002>, <#3003> were listed already, so nothing changed\./);
      const elsewhere = await meme();
      expect(elsewhere).toMatchObject({ errorCode: "FORBIDDEN", ephemeral: true });
      expect(elsewhere.text).toMatch(/doesn.t answer in this channel/);
      expect((await save("work")).errorCode).toBe("FORBIDDEN");
      expect((await meme({ channelId: "2002" })).file).toBeDefined();
      expect((await save("work", { channelId: "3003" })).errorCode).toBeUndefined();
      expect(await set("channel", "remove <#2002>")).toContain("channel: <#3003>");
      expect((await meme({ channelId: "2002" })).errorCode).toBe("FORBIDDEN");
      expect(await set("channel", "all")).toContain("channel: all");
      expect((await meme()).file).toBeDefined();
      for (const bad of ["add", "remove", "everywhere 2002", "all 2002"]) {
        const r = await core.config(admin(), { key: "channel", value: bad });
        expect(r.errorCode, bad).toBe("BAD_INPUT");
        expect(r.text, bad).toMatch(/channel add #channel|Name the channel/);
      }
      // A channel's name, or anything else that is not an id, is refused rather than stored to match nothing.
      for (const bad of ["add general", "add 2002 memes", `add ${"9".repeat(70)}`, "add <#2002"]) {
        const r = await core.config(admin(), { key: "channel", value: bad });
        expect(r.errorCode, bad).toBe("BAD_INPUT");
        expect(r.text, bad).toMatch(/is not a channel: mention it \(#\) or give its numeric id\.$/);
      }
      expect(await set("channel", "all")).toContain("channel: all");
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
      // Named as Discord shows a user elsewhere: a mention.
      expect(notBanned.text).toBe("<@202> was not banned here.");
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
      // What was typed is repeated at most 40 characters long, and a cut says so.
      expect((await core.config(admin(), { key: "ban", value: "<@100000000000000033> <@100000000000000011>" })).text).toBe(
        "Mention one user (@ and pick them from the list) or give their numeric user id, and nothing else; “<@100000000000000033> <@1000000000000000…” names nobody.",
      );
      expect((await meme({ userId: "202" })).file).toBeDefined();
      expect((await core.config(admin(), {})).text).toMatch(/\n• banned: <@303>\n/);
    });

    it("a refused user's picture is never fetched: banned, cooling down, used up (memes and morphs alike)", async () => {
      const fetched: string[] = [];
      const fetching = createCore(
        { templates: storeTemplates(store), moderation: storeModeration(store), queue },
        {
          maxInputBytes: 25 * MIB,
          fetch: async (url) => (fetched.push(url), new Response(Buffer.from(REACTION_LAUGH_JPG), { headers: { "content-type": "image/jpeg" } })),
        },
      );
      const image = { kind: "url" as const, url: "https://cdn.example/reaction.jpg" };
      const tryBoth = async (over: Partial<CommandContext>) => [(await fetching.meme(ctx(over), { image })).errorCode, (await fetching.morph(ctx(over), { image })).errorCode];
      await save("me", { userId: "202" });
      await set("ban", "<@202>");
      expect(await tryBoth({ userId: "202" })).toEqual(["FORBIDDEN", "FORBIDDEN"]);
      await save("me");
      await set("cooldown", "60");
      expect((await fetching.meme(ctx(), { image })).file).toBeDefined();
      expect(fetched).toHaveLength(1);
      expect(await tryBoth({})).toEqual(["COOLDOWN", "COOLDOWN"]);
      await set("cooldown", "0");
      await set("quota", "2");
      expect((await fetching.meme(ctx(), { image })).file).toBeDefined();
      expect(await tryBoth({})).toEqual(["QUOTA_EXCEEDED", "QUOTA_EXCEEDED"]);
      expect(fetched, "only the two memes made fetched their picture").toHaveLength(2);
    });

    it("a meme uses the face it looked up before its download: renamed meanwhile, still that face; deleted meanwhile, nothing is made and the use is given back", async () => {
      let release!: () => void;
      let downloading!: () => void;
      const fetching = createCore(
        { templates: storeTemplates(store), moderation: storeModeration(store), queue },
        {
          maxInputBytes: 25 * MIB,
          fetch: async () => {
            downloading();
            await new Promise<void>((r) => (release = r));
            return new Response(Buffer.from(REACTION_LAUGH_JPG), { headers: { "content-type": "image/jpeg" } });
          },
        },
      );
      const image = { kind: "url" as const, url: "https://cdn.example/reaction.jpg" };
      /** A meme whose download waits while `meanwhile` runs. */
      const memeWhile = async (meanwhile: () => Promise<unknown>, input: { template?: string } = {}) => {
        const started = new Promise<void>((r) => (downloading = r));
        const answer = fetching.meme(ctx(), { image, ...input });
        await started;
        await meanwhile();
        release();
        return answer;
      };
      await save("me");
      await save("other", {}, REACTION_SMILE_JPG);
      const crops = new Map((await Promise.all(["me", "other"].map(async (n) => [n, (await store.templates.get({ platform: "discord", userId: "101" }, n)).cropPng] as const))));

      const swapped = await memeWhile(async () => {
        await core.faceRename(ctx(), { from: "me", to: "tmp" });
        await core.faceRename(ctx(), { from: "other", to: "me" });
      }, { template: "me" });
      expect(swapped.errorCode, swapped.text).toBeUndefined();
      const used = queue.submitted.at(-1) as { template: EnrolledTemplate };
      expect(Buffer.from(used.template.cropPng).equals(Buffer.from(crops.get("me")!)), "the face asked for, not the one given its name since").toBe(true);

      const usesBefore = await usesOf("101");
      const jobsBefore = queue.submitted.length;
      const gone = await memeWhile(() => core.faceRemove(ctx(), { name: "tmp" }), { template: "tmp" });
      expect(gone).toMatchObject({ errorCode: "NOT_FOUND", text: "Your face “tmp” was deleted while this request waited, so nothing was made. Please send it again." });
      expect(queue.submitted).toHaveLength(jobsBefore);
      expect(await usesOf("101")).toBe(usesBefore);
    });

    it("cooldown spaces one user's memes and tells how long to wait", async () => {
      await save("me");
      expect(await set("cooldown", "60")).toContain("cooldown: 1 min");
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
      expect(settings).toContain("• channel: <#5000>, <#5001>,");
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
      expect(zero.text).toBe("The number of faces must be a whole number from 1 to 5, or “default”; not “0”.");
      expect(await set("max_faces", "1")).toContain("max_faces: 1 per user");
      // Above this Mimic's own limit (MAX_TEMPLATES_PER_USER, 5 here) is refused, naming it, not silently capped.
      const above = await core.config(admin(), { key: "max_faces", value: "999" });
      expect(above).toMatchObject({ errorCode: "BAD_INPUT", text: "The number of faces must be a whole number from 1 to 5, or “default”; not “999”." });
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
        ["cooldown", "86401", "at most 24 h"],
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
          "To make one, save a face first with /save <name> as a reply to a clear photo of your face.",
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
      expect((await core.config(admin(tg), { key: "server_quota", value: "x" })).text).toBe("The group's daily quota must be a whole number from 0 to 100000000, or “default”; not “x”.");
      expect((await core.config(admin(), { key: "server_quota", value: "x" })).text).toMatch(/^The server's daily quota must be/);

      const audited = createCore({ templates: storeTemplates(store), moderation: storeModeration(store), queue, audit: storeAudit(store) }, { maxInputBytes: 25 * MIB });
      expect((await audited.audit(admin(tg), {})).text).toBe("Reply to the picture with /audit.");
      expect((await audited.audit(admin(), {})).text).toBe("Attach the picture to /mimic audit, as Mimic sent it.");
      expect((await audited.audit(admin(tg), { hash: "not-a-hash" })).text).toBe("That is not a SHA-256 hash (64 hex characters). Instead, reply to the picture with /audit.");
      for (const platform of ["telegram", "discord"] as const) expect((await audited.audit(admin({ platform }), { hash: "zz" })).text).not.toMatch(/mimic inspect|`/);
    });

    it("removing a channel or topic that is not listed says so and changes nothing; a ban without a value says how to name the person", async () => {
      const tg = { platform: "telegram" as const, serverId: "-100123", channelId: "5" };
      expect(await set("channel", "add 5", tg)).toContain("• channel: topic 5");
      const notListed = await core.config(admin({ ...tg, channelId: "7" }), { key: "channel", value: "remove 7" });
      expect(notListed).toMatchObject({ errorCode: "NOT_FOUND", text: "Topic 7 (https://t.me/c/123/7) was not listed, so nothing changed." });
      expect((await core.config(admin(tg), {})).text).toContain("• channel: topic 5");
      expect((await core.config(admin(), { key: "channel", value: "remove 42" })).text).toBe("No channels are listed (Mimic answers in every channel), so there is nothing to remove.");
      expect(await set("channel", "add 41")).toContain("• channel: <#41>");
      expect((await core.config(admin(), { key: "channel", value: "remove <#42>" })).text).toBe("<#42> was not listed, so nothing changed.");
      expect(await set("channel", "remove <#41>")).toContain("• channel: all");

      expect((await core.config(admin(tg), { key: "ban" })).text).toBe("Reply to one of the person's messages with /config ban.");
      expect((await core.config(admin(tg), { key: "unban", value: " " })).text).toBe("Reply to one of the person's messages with /config unban.");
      expect((await core.config(admin(), { key: "ban" })).text).toBe("Give a value for “ban”, e.g. a mention of the user (type @ and pick them) or their numeric user id.");
    });

    it("two admins changing the channel list (or the animated switch) at the same moment both keep their change", async () => {
      const ids = Array.from({ length: 12 }, (_, i) => String(4000 + i));
      // Each add from its own admin, all at once: none may be lost to another's read-modify-write.
      await Promise.all(ids.map((id, i) => set("channel", `add ${id}`, { userId: String(900 + i) })));
      expect([...(await store.moderation.rules("discord", "g1")).allowedChannels].sort()).toEqual(ids);
      await Promise.all(ids.slice(0, 6).map((id, i) => set("channel", `remove <#${id}>`, { userId: String(900 + i) })));
      expect([...(await store.moderation.rules("discord", "g1")).allowedChannels].sort()).toEqual(ids.slice(6));
      // The animated switch and another change of the switched-off commands, at once: both kept.
      const server = { platform: "discord", serverId: "g1", isAdmin: true };
      await Promise.all([
        set("animated", "off"),
        store.moderation.updateRules(server, (current) => ({ disabledCommands: [...current.disabledCommands, "face"] })),
      ]);
      expect((await store.moderation.rules("discord", "g1")).disabledCommands).toEqual(["animated", "face"]);
    });

    it("quota, server_quota, cooldown and max_faces go back to the operator's default with “default”, and the list marks what the server set", async () => {
      const before = await core.config(admin(), {});
      expect(before.text).toContain("\n• quota: 50 per user per day (default)\n");
      expect(await set("quota", "7")).toContain("\n• quota: 7 per user per day (set here; default 50)\n");
      expect(await set("server_quota", "500")).toContain("\n• server_quota: 500 per day (set here; default unlimited)\n");
      expect(await set("cooldown", "30")).toContain("\n• cooldown: 30 s (set here; default none)\n");
      expect(await set("max_faces", "2")).toContain("\n• max_faces: 2 per user (set here; default 5);");
      for (const key of ["quota", "server_quota", "cooldown", "max_faces"] as const) await set(key, key === "cooldown" ? "DEFAULT" : "default");
      const after = (await core.config(admin(), {})).text;
      for (const line of ["• quota: 50 per user per day (default)\n", "• server_quota: unlimited (default)\n", "• cooldown: none (default)\n", "• max_faces: 5 per user (default);"]) {
        expect(after).toContain(line);
      }
      // Back to following the configuration, not a copy of today's figure.
      expect((await store.moderation.rules("discord", "g1")).overridden).toEqual([]);
    });

    it("refusals of a face that is not there yet come after moderation's: banned, switched off, another channel, animations off", async () => {
      // User 202 has no face: the refusal they would hear once they saved one is said first, not "save a face".
      const noFace = { userId: "202" };
      expect((await meme(noFace)).text).toBe("You have no saved face yet. Save one first with /face save (attach a clear photo of your face).");
      // A file no command can read (an animated sticker, by its declared type) is said first: nothing else helps with it.
      const sticker = { kind: "url" as const, url: "http://127.0.0.1:9/never-fetched.tgs", declaredMime: LOTTIE_MIME };
      expect(await meme(noFace, { image: sticker })).toMatchObject({ errorCode: "NOT_AN_IMAGE", text: LOTTIE_REACTION_REFUSAL });
      expect(await core.morph(ctx(noFace), { image: sticker })).toMatchObject({ errorCode: "NOT_AN_IMAGE", text: LOTTIE_REACTION_REFUSAL });
      expect(await core.faceSave(ctx(noFace), { name: "me", image: sticker })).toMatchObject({ errorCode: "NOT_AN_IMAGE", text: LOTTIE_FACE_REFUSAL });
      // Bytes already uploaded are judged by what they are, not by the type they were declared as.
      expect((await core.faceSave(ctx({ userId: "505" }), { name: "me", image: { kind: "bytes", bytes: FACE_JPG, mime: "video/mp4" } })).errorCode).toBeUndefined();
      await set("ban", "202");
      expect(await meme(noFace)).toMatchObject({ errorCode: "FORBIDDEN", text: "An admin of this server has blocked you from using Mimic here." });
      await set("unban", "202");
      await set("channel", "add 2002");
      expect(await meme(noFace)).toMatchObject({ errorCode: "FORBIDDEN", text: "Mimic doesn't answer in this channel here. Ask in <#2002>." });
      await set("channel", "all");
      await set("animated", "off");
      expect((await core.morph(ctx(noFace), { image: bytes(REACTION_LAUGH_JPG) })).text).toBe("Animated results (GIF reactions and morphs) are switched off on this server.");
      await set("enabled", "off");
      expect(await meme({ ...noFace, platform: "telegram" })).toMatchObject({ errorCode: "NOT_FOUND" });
      expect(await meme(noFace)).toMatchObject({ errorCode: "DISABLED", text: "Mimic is switched off on this server. An admin can turn it back on." });
      // Nothing was counted.
      expect(await usesOf("202")).toBe(0);
    });

    it("a ban, swaps or animations switched off while a request waits in the queue hold for it: refused, its use given back", async () => {
      await save("me", { userId: "202" });
      type Key = Parameters<Core["config"]>[1]["key"];
      const changes: Array<[Key, string, Partial<Parameters<Core["meme"]>[1]>, [Key, string], string]> = [
        ["ban", "202", {}, ["unban", "202"], "An admin of this server has blocked you from using Mimic here."],
        ["swap", "off", { mode: "swap" }, ["swap", "on"], "Swap mode is switched off on this server. Try the default mode (your own photo wearing the expression)."],
        ["animated", "off", { animated: true }, ["animated", "on"], "Animated results (GIF reactions and morphs) are switched off on this server."],
        ["enabled", "off", {}, ["enabled", "on"], "Mimic is switched off on this server. An admin can turn it back on."],
      ];
      for (const [key, value, input, undo, said] of changes) {
        queue.hold();
        const waiting = meme({ userId: "202" }, input);
        await vi.waitFor(() => expect(queue.waiting).toBe(1));
        await set(key, value);
        queue.release();
        expect(await waiting, key).toMatchObject({ text: said });
        expect(await usesOf("202"), key).toBe(0);
        await set(...undo);
      }
      expect((await meme({ userId: "202" })).file).toBeDefined();
    });

    it("a burst of one user's requests downloads one file: the rest are checked against the first one's use", async () => {
      await save("me", { userId: "404" });
      await set("cooldown", "60");
      let downloads = 0;
      const fetch: FetchLike = async () => (downloads++, new Response(REACTION_LAUGH_JPG));
      const counting = createCore({ templates: storeTemplates(store), moderation: storeModeration(store), queue }, { maxInputBytes: 25 * MIB, fetch });
      const url = { kind: "url" as const, url: "http://127.0.0.1:9/reaction.jpg" };
      const answers = await Promise.all(Array.from({ length: 6 }, () => counting.meme(ctx({ userId: "404" }), { image: url })));
      expect(answers.filter((a) => a.file)).toHaveLength(1);
      expect(answers.filter((a) => a.errorCode === "COOLDOWN")).toHaveLength(5);
      expect(downloads).toBe(1);
    });

    it("the owner's bounds hold: admins may not lift a user's quota past MAX_DAILY_QUOTA_PER_USER, nor cool down less than MIN_COOLDOWN_SECONDS", async () => {
      // Set before the owner bounded them: unlimited, and no cooldown.
      await set("quota", "0");
      await set("cooldown", "0");
      const bounded = await openStore(db.url, { now: () => clock, defaults: { dailyQuotaPerUser: 50, maxDailyQuotaPerUser: 10, minCooldownSeconds: 30 } });
      try {
        const boundedCore = createCore({ templates: storeTemplates(bounded), moderation: storeModeration(bounded), queue }, { maxInputBytes: 25 * MIB });
        const change = (key: "quota" | "cooldown", value: string) => boundedCore.config(admin(), { key, value });
        expect(await bounded.moderation.rules("discord", "g1")).toMatchObject({ dailyQuotaPerUser: 10, cooldownSeconds: 30 });
        for (const v of ["0", "11", "2000000"]) {
          expect(await change("quota", v), v).toMatchObject({ errorCode: "BAD_INPUT", text: "This Mimic's owner allows at most 10 memes per user per day: choose a quota from 1 to 10, or “default”." });
        }
        expect((await change("quota", "10")).errorCode).toBeUndefined();
        expect(await change("cooldown", "10")).toMatchObject({ errorCode: "BAD_INPUT", text: "This Mimic's owner asks for a cooldown of at least 30 s: choose that or longer, or “default”." });
        expect((await change("cooldown", "1m")).errorCode).toBeUndefined();
        expect(await bounded.moderation.rules("discord", "g1")).toMatchObject({ dailyQuotaPerUser: 10, cooldownSeconds: 60 });
        // The list says what “default” would give within the bounds, and the bounds themselves.
        const list = (await boundedCore.config(admin(), {})).text;
        expect(list).toContain("\n• quota: 10 per user per day (set here; default 10); this Mimic's owner allows at most 10\n");
        expect(list).toContain("\n• cooldown: 1 min (set here; default 30 s); this Mimic's owner asks for at least 30 s\n");
      } finally {
        await bounded.close();
      }
    });

    it("the owner's NSFW bounds hold: NSFW_REQUIRED keeps the check on, MAX_NSFW_THRESHOLD caps the threshold, over what a server set before", async () => {
      await set("nsfw", "off");
      await set("nsfw_threshold", "0.95");
      const bounded = await openStore(db.url, { now: () => clock, defaults: { nsfwRequired: true, maxNsfwThreshold: 0.5 } });
      try {
        const boundedCore = createCore({ templates: storeTemplates(bounded), moderation: storeModeration(bounded), queue }, { maxInputBytes: 25 * MIB });
        expect(await bounded.moderation.rules("discord", "g1")).toMatchObject({ nsfwFilter: true, nsfwThreshold: 0.5 });
        expect(await boundedCore.config(admin(), { key: "nsfw", value: "off" })).toMatchObject({
          errorCode: "BAD_INPUT",
          text: "This Mimic's owner keeps the NSFW check on everywhere, so it cannot be switched off here. You can make it stricter with nsfw_threshold.",
        });
        expect(await boundedCore.config(admin(), { key: "nsfw_threshold", value: "0.6" })).toMatchObject({
          errorCode: "BAD_INPUT",
          text: "This Mimic's owner allows an NSFW threshold of at most 0.5 (lower is stricter): choose that or lower, or “default”.",
        });
        expect((await boundedCore.config(admin(), { key: "nsfw_threshold", value: "0.3" })).text).toContain(
          "\n• nsfw: on (threshold 0.3): explicit pictures, faces and results are refused; this Mimic's owner keeps it on and allows a threshold of at most 0.5\n",
        );
        // What reaches a job is the bounded threshold.
        await save("me");
        const jobs = queue.submitted.length;
        expect((await boundedCore.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) })).errorCode).toBeUndefined();
        expect(queue.submitted.slice(jobs).map((j) => (j as { nsfwThreshold?: number }).nsfwThreshold)).toEqual([0.3]);
      } finally {
        await bounded.close();
      }
    });

    it("a banned user's face save is refused before their photo is fetched or anything is written for them", async () => {
      await set("ban", "303");
      const asked: string[] = [];
      const photo = { kind: "url" as const, url: async () => (asked.push("fetch"), "http://127.0.0.1:9/face.jpg") };
      expect(await core.faceSave(ctx({ userId: "303" }), { name: "me", image: photo })).toMatchObject({ errorCode: "FORBIDDEN" });
      expect(asked).toEqual([]);
      expect(await db.query(`SELECT * FROM users WHERE platform_user_id = '303'`)).toEqual([]);
    });

    it("the channel refusal names the allowed channels (topics), a few of them, in the platform's own form", async () => {
      await save("me");
      await set("channel", "add 2002 3003");
      expect((await meme()).text).toBe("Mimic doesn't answer in this channel here. Ask in <#2002> or <#3003>.");
      await set("channel", "add 4004 5005");
      expect((await meme()).text).toBe("Mimic doesn't answer in this channel here. Ask in one of the 4 channels the admins allowed, such as <#2002>, <#3003> or <#4004>.");
      expect((await core.usage(ctx())).text).toContain("\nMimic doesn't answer in this channel here. Ask in one of the 4 channels");
      const tg = { platform: "telegram" as const, serverId: "-100123", channelId: "5" };
      expect((await save("me", tg)).errorCode).toBeUndefined();
      await set("channel", "add 7 -100123", tg);
      expect((await meme(tg)).text).toBe("Mimic doesn't answer in this topic here. Ask in topic 7 (https://t.me/c/123/7) or General.");
    });

    it("the words of the channel setting are read in any case, like on and off", async () => {
      expect(await set("channel", "ADD 2002")).toContain("• channel: <#2002>\n");
      expect(await set("channel", "Add <#3003>")).toContain("• channel: <#2002>, <#3003>\n");
      expect(await set("channel", "Remove 2002")).toContain("• channel: <#3003>\n");
      expect(await set("channel", "ALL")).toContain("• channel: all\n");
    });

    it("ban and unban say whom (as the platform names a user), and whether they were banned already", async () => {
      const first = await set("ban", "<@202>");
      expect(first.split("\n")[0]).toBe("Banned <@202>: they can no longer use Mimic on this server.");
      expect(first).toContain("\n• banned: <@202>\n");
      expect((await set("ban", "202")).split("\n")[0]).toBe("<@202> was already banned on this server, so nothing changed.");
      expect((await set("unban", "202")).split("\n")[0]).toBe("Lifted the ban on <@202>: they can use Mimic on this server again.");
      const tg = { platform: "telegram" as const, serverId: "-100123", channelId: "-100123" };
      expect((await set("ban", "303", tg)).split("\n")[0]).toBe("Banned user 303: they can no longer use Mimic in this group.");
      expect((await core.config(admin(tg), { key: "unban", value: "404" })).text).toBe("User 404 was not banned here.");
      // Mimic's own id, where the adapter says it: no ban (it changes nothing), and the way to stop Mimic instead.
      const bot = await core.config(admin(), { key: "ban", value: "<@999>", facts: { botUserId: "999" } });
      expect(bot).toMatchObject({ errorCode: "BAD_INPUT", text: "That is Mimic itself, which cannot be banned. To stop Mimic on this server, set “enabled” to off." });
      expect(await store.moderation.bans({ platform: "discord", serverId: "g1", isAdmin: true })).toEqual([]);
    });

    it("the channel setting takes only channels of this server where the adapter knows them, and a thread's channel for a thread", async () => {
      const facts = { channels: [{ id: "2002" }, { id: "3003" }, { id: "7007", threadOf: "2002" }] };
      const config = (value: string) => core.config(admin(), { key: "channel", value, facts });
      expect((await config("add <#2002>")).text).toContain("• channel: <#2002>\n");
      for (const [value, said] of [
        ["add -5", "“-5” is not a channel: mention it (#) or give its numeric id."],
        ["add 0", "“0” is not a channel: mention it (#) or give its numeric id."],
        ["add 101", "“101” is not a channel of this server: mention one (#) or give its numeric id."],
        ["add <#9009>", "“<#9009>” is not a channel of this server: mention one (#) or give its numeric id."],
        ["add 3003 <#7007>", "<#7007> is a thread: Mimic goes by the channel a thread or forum post is in, so name <#2002> instead (that allows its threads too)."],
      ]) {
        expect(await config(value), value).toMatchObject({ errorCode: "BAD_INPUT", text: said });
      }
      expect((await store.moderation.rules("discord", "g1")).allowedChannels).toEqual(["2002"]);
      // A listed channel the server no longer has (deleted since) may still go.
      await set("channel", "add 6006");
      expect((await config("remove <#6006>")).text).toContain("• channel: <#2002>\n");
    });

    it("the faces limit is said in the singular where it is one, and honestly: a server's limit counts the faces saved anywhere", async () => {
      expect(await set("max_faces", "1")).toContain("• max_faces: 1 per user (set here; default 5); saving a face here is refused to anyone who has that many, wherever they saved them\n");
      expect((await save("a", { serverId: null, channelId: null })).errorCode).toBeUndefined();
      const here = await save("b");
      expect(here).toMatchObject({
        errorCode: "LIMIT_REACHED",
        text: "You already have 1 saved face, and this server lets you save one here only while you have none. Your faces are yours wherever you use Mimic, so those saved elsewhere count too. To save another, delete one first (see /face list).",
      });
      await set("max_faces", "3");
      expect((await save("b")).errorCode).toBeUndefined();
      expect((await save("c", { platform: "discord", serverId: "g2" })).errorCode).toBeUndefined();
      expect((await save("d")).text).toMatch(/^You already have 3 saved faces, and this server lets you save one here only while you have fewer than 3\. /);
      // Elsewhere (a private chat) the operator's limit is the most Mimic keeps.
      expect((await save("d", { serverId: null, channelId: null })).errorCode).toBeUndefined();
      expect((await save("e", { serverId: null, channelId: null })).errorCode).toBeUndefined();
      expect((await save("f", { serverId: null, channelId: null })).text).toBe(
        "You already have 5 saved faces, the most Mimic keeps for one person (5). To save another, delete one first (see /face list).",
      );
      const tg = { platform: "telegram" as const, serverId: "-100123", channelId: "-100123" };
      await set("max_faces", "1", tg);
      expect((await save("a", tg)).errorCode).toBeUndefined();
      expect((await save("b", tg)).text).toBe(
        "You already have 1 saved face, and this group lets you save one here only while you have none. Your faces are yours wherever you use Mimic, so those saved elsewhere count too. To save another, delete one first (see /faces).",
      );
    });

    it("after a forget-me, the user's refused pictures stay refused pictures, and the admin's top list does not name them", async () => {
      const realSubmit = queue.submit.bind(queue);
      for (const userId of ["202", "303"]) expect((await save("me", { userId })).errorCode).toBeUndefined();
      expect((await meme({ userId: "202" })).file).toBeDefined();
      expect((await meme({ userId: "303" })).file).toBeDefined();
      queue.submit = vi.fn().mockImplementationOnce(refuseAt("input")).mockImplementation(realSubmit);
      expect((await meme({ userId: "202" })).errorCode).toBe("UNSAFE_CONTENT");
      const report = () => core.usage(admin({ userId: "404" }));
      expect((await report()).text).toContain("\nServer today: 2 memes by 2 users.\nRefused as explicit today: 1.\nTop: <@202> (1 + 1 refused), <@303> (1)");

      expect((await core.forgetMe(ctx({ userId: "202" }), { confirm: true })).text).toContain("The 2 uses you made in the last 24 hours still count");
      // The same figures, 202 no longer named.
      expect((await report()).text).toContain("\nServer today: 2 memes by 2 users.\nRefused as explicit today: 1.\nTop: <@303> (1), users who asked to be forgotten (1 + 1 refused)");
      expect((await core.usage(ctx({ userId: "202" }))).text).toMatch(/^Today you made 1 meme and 1 refused picture of 50 allowed\.\n/);
    });

    it("an admin's /usage says the server's own daily quota, where it has one", async () => {
      expect((await save("me")).errorCode).toBeUndefined();
      expect((await meme()).file).toBeDefined();
      expect((await core.usage(admin())).text).toContain("\nServer today: 1 meme by 1 user.\n");
      await set("server_quota", "10");
      expect((await core.usage(admin())).text).toContain("\nServer today: 1 meme by 1 user (1 use of the 10 a day allowed).\n");
      // Not for members.
      expect((await core.usage(ctx())).text).not.toContain("a day allowed");
    });

    it("/audit counts every row of a popular picture, and leaves out rows older than the retention before a prune deletes them", async () => {
      const audited = createCore({ templates: storeTemplates(store), moderation: storeModeration(store), queue, audit: storeAudit(store) }, { maxInputBytes: 25 * MIB });
      expect((await audited.faceSave(ctx(), { name: "me", image: bytes(FACE_JPG) })).errorCode).toBeUndefined();
      for (let i = 0; i < 25; i++) expect((await audited.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) })).file).toBeDefined();
      const hash = createHash("sha256").update(REACTION_LAUGH_JPG).digest("hex");
      const lines = (await audited.audit(admin(), { hash })).text.split("\n");
      expect(lines.filter((l) => l.startsWith("• "))).toHaveLength(15);
      expect(lines.at(-1)).toBe("…and 10 more.");
      // Past the retention, with no prune run since: nothing is shown.
      clock += (store.audit.retentionDays + 1) * DAY_MS;
      expect((await audited.audit(admin(), { hash })).text).toMatch(/^No picture with SHA-256 [0-9a-f]{12}… was made or used here in the last \d+ days\./);
    });

    it("a save whose name is taken, or past the limit of faces, is refused before its photo is downloaded or analysed; a taken name's answer says how to delete that face", async () => {
      const fetched: string[] = [];
      const fetching = createCore(
        { templates: storeTemplates(store), moderation: storeModeration(store), queue },
        { maxInputBytes: 25 * MIB, fetch: async (url) => (fetched.push(url), new Response(Buffer.from(FACE_JPG), { headers: { "content-type": "image/jpeg" } })) },
      );
      const photo = { kind: "url" as const, url: "https://cdn.example/face.jpg" };
      expect((await fetching.faceSave(ctx(), { name: "me", image: photo })).errorCode).toBeUndefined();
      const jobs = queue.submitted.length;
      expect(await fetching.faceSave(ctx(), { name: "Me", image: photo })).toMatchObject({
        errorCode: "BAD_INPUT",
        text: "You already have a face named “me”. Pick another name, or remove that one first (/face delete).",
      });
      expect((await fetching.faceSave(ctx({ platform: "telegram" }), { name: "me", image: photo })).errorCode).toBeUndefined();
      expect((await fetching.faceSave(ctx({ platform: "telegram" }), { name: "me", image: photo })).text).toMatch(/\(the 🗑 buttons of \/faces\)\.$/);
      for (const name of ["b", "c", "d", "e"]) expect((await save(name)).errorCode).toBeUndefined();
      const jobsAtLimit = queue.submitted.length;
      const fetchesAtLimit = fetched.length;
      expect(await fetching.faceSave(ctx(), { name: "f", image: photo })).toMatchObject({ errorCode: "LIMIT_REACHED" });
      expect(fetched, "nothing fetched for the refused saves").toHaveLength(fetchesAtLimit);
      expect(queue.submitted).toHaveLength(jobsAtLimit);
      expect(jobsAtLimit - jobs, "only the saves that went through ran a job").toBe(5);
    });

    it("a used-up quota of one meme is said in the singular, and a bad face name is called a face name", async () => {
      expect((await save("me")).errorCode).toBeUndefined();
      expect(await set("quota", "1")).toContain("quota: 1 per user per day");
      expect((await meme()).errorCode).toBeUndefined();
      expect((await meme()).text).toMatch(/^You've used your one meme for today here\. More in /);
      expect((await save("Mr Smith!")).text).toBe("“Mr Smith!” can't be a face name (it has a space): use 1–32 of a–z, 0–9, _ and - (no accents, spaces or emoji), e.g. “smile” or “work_photo”.");
    });
  });
}

