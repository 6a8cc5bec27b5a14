import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import sharp from "sharp";
import { CHARGED_INPUT_NOTE, createCore, type CommandContext, type Core } from "../../src/core/index.ts";
import { memeFromFirstFace } from "../../src/bots/first-face.ts";
import { storeAudit, storeModeration, storeTemplates } from "../../src/core/bindings.ts";
import { writeRetry, SETTING_KEYS } from "../../src/core/core.ts";
import type { Job, JobResult, ModerationPort } from "../../src/core/ports.ts";
import type { ImageResult } from "../../src/queue/jobs.ts";
import { sha256Hex } from "../../src/templates/hashes.ts";
import { openStore, type Store } from "../../src/templates/index.ts";
import { formatSize, MimicError } from "../../src/errors.ts";
import { logger } from "../../src/logger.ts";
import { retryPolicy } from "../../src/templates/db/retry.ts";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import Database from "better-sqlite3";
import { createTestDb, dialects, type TestDb } from "../templates/helpers.ts";
import { queueDouble, testContext, type QueueDouble } from "./doubles.ts";
import { FACE_JPG, REACTION_LAUGH_JPG, reactionGif } from "./images.ts";

/**
 * What the command core itself decides and says (replies, file names, the audit look-up, usage and
 * settings wording, what reaches the job), bound to the REAL store on SQLite (src/core/bindings.ts over
 * src/templates) with the in-memory queue double; the store's own rules are core-store.test.ts's.
 */

const MIB = 1024 * 1024;
const DAY_MS = 86_400_000;
const bytes = (b: Uint8Array) => ({ kind: "bytes" as const, bytes: b });
const ctx = (over: Partial<CommandContext> = {}) => testContext({ userId: "101", ...over });
const admin = (over: Partial<CommandContext> = {}) => ctx({ isAdmin: true, ...over });

for (const { dialect, skip } of dialects) {
  describe.skipIf(skip)(`command core's own rules (${dialect})`, () => {
    let db: TestDb;
    let store: Store;
    let queue: QueueDouble;
    let core: Core;
    let clock: number;
    /** Replaces what the queue answers for the next render job (after running it for real). */
    let nextResult: ((r: JobResult, job: Job) => JobResult | Promise<JobResult>) | undefined;

    beforeEach(async () => {
      db = await createTestDb(dialect, "corerules");
      clock = Math.floor(Date.UTC(2026, 0, 15) / DAY_MS) * DAY_MS + DAY_MS / 2;
      store = await openStore(db.url, {
        maxTemplatesPerUser: 5,
        now: () => clock,
        defaults: { dailyQuotaPerUser: 50, dailyQuotaPerServer: 0, cooldownSeconds: 0 },
      });
      queue = queueDouble();
      const real = queue.submit.bind(queue);
      queue.submit = async (job, opts) => {
        const r = await real(job, opts);
        const f = nextResult;
        nextResult = undefined;
        return f ? f(r, job) : r;
      };
      core = createCore({ templates: storeTemplates(store), moderation: storeModeration(store), queue, audit: storeAudit(store) }, { maxInputBytes: 25 * MIB });
    });

    afterEach(async () => {
      await store?.close();
      await db?.drop();
    });

    const save = (name: string, over: Partial<CommandContext> = {}) => core.faceSave(ctx(over), { name, image: bytes(FACE_JPG) });
    const meme = (over: Partial<CommandContext> = {}, input: Partial<Parameters<Core["meme"]>[1]> = {}) =>
      core.meme(ctx(over), { image: bytes(REACTION_LAUGH_JPG), ...input });
    const set = async (key: Parameters<Core["config"]>[1]["key"], value: string, over: Partial<CommandContext> = {}) => {
      const r = await core.config(admin(over), { key, value });
      expect(r.errorCode, r.text).toBeUndefined();
      return r.text;
    };

    it("face replies: saved (default or not), listed, renamed, made default, removed, forgotten", async () => {
      expect((await core.faceList(ctx())).text).toBe("You have no saved faces. Save one with /face save (attach a clear photo of your face).");
      expect((await core.faceList(ctx({ platform: "telegram" }))).templates).toEqual([]);
      const first = await save("me");
      expect(first).toEqual({ text: "Saved your face “me” (test double). It is your default face. Now try /meme with a reaction image attached.", ephemeral: true });
      expect((await save("work", { platform: "telegram" })).text).toBe(
        "Saved your face “work” (test double). It is your default face. Now try /meme as the caption of a reaction photo (or as a reply to one).",
      );
      expect((await save("work")).text).toBe("Saved your face “work” (test double). Now try /meme with a reaction image attached.");
      expect((await core.faceList(ctx())).text).toBe("Your faces:\n• me (default)\n• work");
      expect(await core.faceRename(ctx(), { from: " work ", to: "Home" })).toEqual({ text: "Renamed “work” to “home”.", ephemeral: true });
      expect(await core.faceRename(ctx(), { from: "home", to: "HOME" })).toEqual({ text: "Your face is already named “home” (names ignore upper and lower case).", ephemeral: true });
      expect(await core.faceDefault(ctx(), { name: " home " })).toEqual({ text: "“home” is now your default face.", ephemeral: true });
      expect((await core.faceList(ctx())).templates).toEqual([
        { name: "me", isDefault: false },
        { name: "home", isDefault: true },
      ]);
      expect(await core.faceRemove(ctx(), { name: " me " })).toEqual({ text: "Deleted your face “me”.", ephemeral: true });
      expect(await core.templateNames({ platform: "discord", userId: "101" }, "  HO ")).toEqual(["home"]);
      expect(await core.templateNames({ platform: "discord", userId: "101" }, "x")).toEqual([]);
      // Without an audit trail a meme leaves one usage record (with it, its audit row is one more).
      const bare = createCore({ templates: storeTemplates(store), moderation: storeModeration(store), queue }, { maxInputBytes: 25 * MIB });
      expect((await bare.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) })).file).toBeDefined();
      // The meme just made still counts towards the limits: its record is held for a day, and the reply says so.
      expect((await core.forgetMe(ctx(), { confirm: true })).text).toBe(
        "Done: deleted your 1 saved face and your usage history. The 1 use you made in the last 24 hours still counts towards daily limits and cooldowns: its record is deleted a day after it was made. Mimic keeps nothing else about your Discord account, except a note that you asked (so that restoring an older backup here cannot bring any of it back) and any ban a server gave you.",
      );
      await save("a");
      await save("b");
      await meme();
      // The meme's audit row is counted as what it is, not as a use: the uses of the last day are the held ones.
      expect((await core.forgetMe(ctx(), { confirm: true })).text).toMatch(
        /^Done: deleted your 2 saved faces, your usage history and the record of the 1 picture you made\. The 2 uses you made in the last 24 hours still count /,
      );
      await save("c");
      await meme();
      await meme();
      // Two days on, the uses are old enough to go at once: these two and the two held since the last forget.
      clock += 2 * DAY_MS;
      expect((await core.forgetMe(ctx(), { confirm: true })).text).toBe(
        "Done: deleted your 1 saved face, your usage history (4 uses older than a day) and the record of the 2 pictures you made. Mimic keeps nothing else about your Discord account, except a note that you asked (so that restoring an older backup here cannot bring any of it back) and any ban a server gave you.",
      );
      // The question: what goes (faces counted, saved anywhere), what stays a while (today's uses) and what stays (bans).
      expect(await core.forgetMe(ctx(), { confirm: false })).toEqual({
        text: "This permanently deletes your usage history and the record of which pictures you made (you have no saved faces). Uses from the last 24 hours still count towards daily limits and cooldowns: they are deleted a day after they were made. Any ban a server gave you stays. Delete everything?",
        ephemeral: true,
      });
      await save("d");
      await save("e");
      expect((await core.forgetMe(ctx(), { confirm: false })).text).toBe(
        "This permanently deletes your 2 saved faces (from every server and DM), your usage history and the record of which pictures you made. Uses from the last 24 hours still count towards daily limits and cooldowns: they are deleted a day after they were made. Any ban a server gave you stays. Delete everything?",
      );
      expect((await core.faceList(ctx())).templates).toHaveLength(2);
      // Telegram's words for its places; the playground has no others, and no bans.
      expect((await core.forgetMe(ctx({ platform: "telegram" }), { confirm: false })).text).toMatch(
        /^This permanently deletes your 1 saved face \(from every group and private chat\), .* Any ban a group gave you stays\. Delete everything\?$/,
      );
      expect((await core.forgetMe(ctx({ platform: "telegram" }), { confirm: true })).text).toMatch(/^Done: deleted your 1 saved face and your usage history\. Mimic keeps nothing else about your Telegram account, except a note that you asked \(so that restoring an older backup here cannot bring any of it back\) and any ban a group gave you\.$/);
      expect((await core.forgetMe(ctx({ platform: "playground" }), { confirm: false })).text).toBe(
        "This permanently deletes your usage history and the record of which pictures you made (you have no saved faces). Uses from the last 24 hours still count towards daily limits and cooldowns: they are deleted a day after they were made. Delete everything?",
      );
    });

    it("forget-me while a picture is being made: it is thrown away and leaves no audit row, and its use is given back", async () => {
      await save("me");
      let forgot: Awaited<ReturnType<Core["forgetMe"]>> | undefined;
      nextResult = async (r) => {
        forgot = await core.forgetMe(ctx(), { confirm: true });
        return r;
      };
      const made = await core.morph(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
      // The use of the picture in progress is given back (below), so the answer does not count it among those that still count.
      expect(forgot?.text).toBe(
        "Done: deleted your 1 saved face and your usage history. The picture being made for you now is thrown away and its use given back. Mimic keeps nothing else about your Discord account, except a note that you asked (so that restoring an older backup here cannot bring any of it back) and any ban a server gave you.",
      );
      expect(made).toMatchObject({ errorCode: "CANCELLED", text: "You asked Mimic to forget you while this was being made, so it was thrown away." });
      expect(made.file).toBeUndefined();
      expect(await db.query(`SELECT * FROM audit_events`)).toEqual([]);
      expect(await db.query(`SELECT * FROM users`)).toEqual([]);
      // The use was not delivered: given back like any failure, so nothing of this user is left at all.
      expect(await db.query(`SELECT * FROM usage_events WHERE platform_user_id = '101'`)).toEqual([]);
      // A picture finished before the forget is recorded as ever, and the forget then deletes its row.
      await save("again");
      expect((await meme()).file).toBeDefined();
      expect(await db.query(`SELECT platform_user_id FROM audit_events`)).toEqual([{ platform_user_id: "101" }]);
      await core.forgetMe(ctx(), { confirm: true });
      expect(await db.query(`SELECT * FROM audit_events`)).toEqual([]);
    });

    it("a forget-me's answer counts the uses that stay counted: a picture still being made gives its use back, one made before does not", async () => {
      await save("me");
      expect((await meme()).file).toBeDefined();
      let forgot: Awaited<ReturnType<Core["forgetMe"]>> | undefined;
      nextResult = async (r) => {
        forgot = await core.forgetMe(ctx(), { confirm: true });
        return r;
      };
      expect((await meme()).errorCode).toBe("CANCELLED");
      expect(forgot?.text).toContain(
        " The 1 use you made in the last 24 hours still counts towards daily limits and cooldowns: its record is deleted a day after it was made. The picture being made for you now is thrown away and its use given back. ",
      );
      // What the answer said: one use held, the other given back.
      expect((await db.query<{ command: string }>(`SELECT command FROM usage_events WHERE platform_user_id = '101'`)).map((r) => r.command)).toEqual(["forgotten:meme"]);
    });

    it("an audited meme's use is answered by its audit record: no second write, and no warning that another process gave it back", async () => {
      await save("me");
      const warn = vi.spyOn(logger, "warn");
      try {
        expect((await meme()).file).toBeDefined();
        expect(warn.mock.calls.map(([, msg]) => msg)).not.toContain("a use answered here had already been given back by another process");
        expect(await db.query(`SELECT pending_by FROM usage_events WHERE platform_user_id = '101'`)).toEqual([{ pending_by: null }]);
      } finally {
        warn.mockRestore();
      }
    });

    it("a forget-me just after the picture was recorded (as good as sent) does not say it was thrown away", async () => {
      await save("me");
      const audit = storeAudit(store);
      let forgot: Awaited<ReturnType<Core["forgetMe"]>> | undefined;
      const racing = createCore(
        {
          templates: storeTemplates(store),
          moderation: storeModeration(store),
          queue,
          audit: { ...audit, record: async (e) => {
            const outcome = await audit.record(e);
            forgot = await racing.forgetMe(ctx(), { confirm: true });
            return outcome;
          } },
        },
        { maxInputBytes: 25 * MIB },
      );
      expect((await racing.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) })).file).toBeDefined();
      expect(forgot?.text).not.toContain("thrown away");
      expect(forgot?.text).toContain("The 1 use you made in the last 24 hours still counts");
    });

    it("the store replaced while a picture is made (its use's record gone): not sent, and the user is not told they asked to be forgotten", async () => {
      await save("me");
      nextResult = async (r) => {
        await db.query(`DELETE FROM usage_events`);
        return r;
      };
      const made = await meme();
      expect(made).toMatchObject({ errorCode: "CANCELLED", text: "This request was given up while it was being made (Mimic restarted, or its store was restored), so it was not sent. Please send it again." });
      expect(made.file).toBeUndefined();
      expect(await db.query(`SELECT * FROM audit_events`)).toEqual([]);
      // The user and their face stand: the next one is made and recorded as ever.
      expect((await meme()).file).toBeDefined();
      expect(await db.query(`SELECT platform_user_id FROM audit_events`)).toEqual([{ platform_user_id: "101" }]);
    });

    it("the database gone while a picture is made: nothing is sent, the user hears why, and the use is given back once it returns", async () => {
      await save("me");
      const outage = await databaseOutage(db);
      const firstDelay = writeRetry.firstDelayMs;
      const patience = retryPolicy.patienceMs;
      writeRetry.firstDelayMs = 50;
      // SQLite's outage is a lock held elsewhere: the store gives up on it quickly instead of after 10 s.
      retryPolicy.patienceMs = 200;
      try {
        const cut = createCore({ templates: storeTemplates(outage.store), moderation: storeModeration(outage.store), queue, audit: storeAudit(outage.store) }, { maxInputBytes: 25 * MIB });
        // Admitted (one use counted), then the database goes away before the audit record is written.
        nextResult = async (r) => {
          await outage.cut();
          return r;
        };
        const reply = await cut.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
        expect(reply.file).toBeUndefined();
        expect(reply).toMatchObject(
          dialect === "postgres"
            ? { errorCode: "BUSY", text: "Mimic cannot reach its database right now. Please try again in a minute." }
            : { errorCode: "BUSY", text: "The database is busy right now. Please try again in a few seconds." },
        );
        // Another command meanwhile hears the same.
        if (dialect === "postgres") expect(await cut.usage(ctx())).toMatchObject({ errorCode: "BUSY", text: "Mimic cannot reach its database right now. Please try again in a minute." });
        // The refund could not be made while the database was away: the use still stands.
        expect(await db.query(`SELECT id FROM usage_events WHERE platform_user_id = '101'`)).toHaveLength(1);
        await outage.restore();
        // Retried in the background until the database is back: the use is given back, and no audit row stands.
        await expect.poll(async () => (await db.query(`SELECT id FROM usage_events WHERE platform_user_id = '101'`)).length, { timeout: 30_000 }).toBe(0);
        expect(await db.query(`SELECT * FROM audit_events`)).toEqual([]);
      } finally {
        writeRetry.firstDelayMs = firstDelay;
        retryPolicy.patienceMs = patience;
        await outage.close();
      }
    });

    it("a thumbnail of a saved face fits 96 px; a missing face is NOT_FOUND", async () => {
      await save("me");
      const t = await core.faceThumbnail(ctx(), { name: "me" });
      expect(t.text).toBe("me");
      expect(t.file).toMatchObject({ mime: "image/png", name: "me.png" });
      const m = await sharp(t.file!.bytes).metadata();
      expect(m.format).toBe("png");
      expect(Math.max(m.width!, m.height!)).toBe(96);
      expect([t.file!.width, t.file!.height]).toEqual([m.width, m.height]);
      expect((await core.faceThumbnail(ctx(), { name: "nope" })).errorCode).toBe("NOT_FOUND");
    });

    it("the reply to a render: the face's name, the worker's notes, the file named after the face and typed", async () => {
      await save("me");
      const r = await meme();
      expect(r.text).toBe("Here you go, using your face “me”.");
      expect(r.ephemeral).toBe(false);
      expect(r.file).toMatchObject({ mime: "image/png", name: "mimic-me.png" });
      const m = await sharp(r.file!.bytes).metadata();
      expect([r.file!.width, r.file!.height]).toEqual([m.width, m.height]);
      nextResult = (res) => ({ ...(res as ImageResult), notes: ["Caption shortened.", "Mark added."] });
      expect((await meme()).text).toBe("Here you go, using your face “me”. Caption shortened. Mark added.");
      nextResult = (res) => ({ ...(res as ImageResult), mime: "video/mp4" });
      expect((await meme()).file?.name).toBe("mimic-me.mp4");
      nextResult = (res) => ({ ...(res as ImageResult), mime: "image/gif" });
      expect((await meme()).file?.name).toBe("mimic-me.gif");
      nextResult = () => ({ kind: "enrol", face: { data: {} } });
      expect(await meme()).toMatchObject({ errorCode: "INTERNAL", text: "Something went wrong on our side.", ephemeral: true });
    });

    it("an input may be as large as the smaller of MAX_INPUT_BYTES and the platform's download limit", async () => {
      await save("me");
      const tooLarge = (r: Awaited<ReturnType<Core["meme"]>>, limit: string) => {
        expect(r.errorCode).toBe("IMAGE_TOO_LARGE");
        expect(r.text).toBe(`That file is larger than the limit of ${limit}. Please send a smaller picture.`);
      };
      // The platform's limit when it is the smaller (Telegram's getFile: 20 MB), the configured one otherwise.
      tooLarge(await meme({ downloadLimitBytes: 1 * MIB }, { image: bytes(new Uint8Array(MIB + 1)) }), "1.0 MiB");
      tooLarge(await core.faceSave(ctx({ downloadLimitBytes: 1 * MIB }), { name: "two", image: bytes(new Uint8Array(MIB + 1)) }), "1.0 MiB");
      tooLarge(await meme({ downloadLimitBytes: 30 * MIB }, { image: bytes(new Uint8Array(25 * MIB + 1)) }), "25.0 MiB");
      tooLarge(await meme({}, { image: bytes(new Uint8Array(25 * MIB + 1)) }), "25.0 MiB");
      // Exactly the limit is read (and then judged as a picture).
      expect((await meme({ downloadLimitBytes: REACTION_LAUGH_JPG.byteLength }, {})).file).toBeDefined();
    });

    it("a face name that does not exist is named as missing (not as 'no face yet'), with the faces there are", async () => {
      await save("me");
      const r = await meme({}, { template: "nope" });
      expect(r).toMatchObject({ errorCode: "NOT_FOUND", ephemeral: true });
      expect(r.text).toBe('You have no face named “nope”. Your faces: me.');
    });

    it("the operators' log: failures as errors, refusals as info, and a refund or refusal record that fails as a warning", async () => {
      await save("me");
      const error = vi.spyOn(logger, "error");
      const info = vi.spyOn(logger, "info");
      const warn = vi.spyOn(logger, "warn");
      try {
        // A refusal (a MimicError other than INTERNAL) is info, with its code and the request id.
        nextResult = () => {
          throw new MimicError("BAD_INPUT", "odd");
        };
        await meme({ requestId: "req-refused" });
        // pino lets the log line's own text overwrite a `msg` field, so the error text travels as `message`.
        expect(info).toHaveBeenCalledWith({ code: "BAD_INPUT", requestId: "req-refused", message: "odd" }, "command refused");
        expect(error).not.toHaveBeenCalled();
        // INTERNAL and anything that is not a MimicError are errors, with what the log needs.
        nextResult = () => ({ kind: "enrol", face: { data: {} } });
        await meme({ requestId: "req-enrol" });
        const boom = new Error("boom");
        nextResult = () => {
          throw boom;
        };
        await meme({ requestId: "req-boom", platform: "discord" });
        expect(error).toHaveBeenCalledTimes(2);
        const [[first, firstMsg], [second, secondMsg]] = error.mock.calls as unknown as Array<[{ err: Error; requestId: string; platform: string }, string]>;
        expect(first).toMatchObject({ requestId: "req-enrol", platform: "discord" });
        expect(first.err.message).toBe("enrol result for a render job");
        expect(second).toEqual({ err: boom, requestId: "req-boom", platform: "discord" });
        expect([firstMsg, secondMsg]).toEqual(["command failed", "command failed"]);
        expect(info).toHaveBeenCalledTimes(1);

        // A store that fails to give a use back, or to record a refusal: warned, and the user still hears the job's own answer.
        const storeGone = new Error("store gone");
        const real = storeModeration(store);
        const flaky = createCore(
          {
            templates: storeTemplates(store),
            moderation: { ...real, admit: async (scope, kind) => ({ ...(await real.admit(scope, kind)), refund: () => Promise.reject(storeGone), refused: () => Promise.reject(storeGone) }) },
            queue,
          },
          { maxInputBytes: 25 * MIB },
        );
        nextResult = () => {
          throw new MimicError("UNSAFE_CONTENT", "That picture looks explicit.", { details: { stage: "output" } });
        };
        const refused = await flaky.meme(ctx({ requestId: "req-nsfw", serverId: "g7" }), { image: bytes(REACTION_LAUGH_JPG) });
        // The refusal could not be recorded, so it is not said to count.
        expect(refused).toMatchObject({ errorCode: "UNSAFE_CONTENT", text: "The result looked like explicit content, so I didn't send it. Nothing was kept. Try another picture." });
        // Not counted, its use is given back (here that fails too).
        expect(warn.mock.calls).toEqual([
          [{ requestId: "req-nsfw", platform: "discord", serverId: "g7", stage: "output" }, "nsfw gate refused a request"],
          [{ err: storeGone, requestId: "req-nsfw" }, "recording a refusal failed"],
          [{ err: storeGone, requestId: "req-nsfw" }, "refund failed"],
        ]);
      } finally {
        vi.restoreAllMocks();
      }
    });

    it("a moving picture the worker read and could not use keeps its use, as a refused picture; a still's is given back", async () => {
      await save("me");
      await set("quota", "3");
      const noFace = () => {
        throw new MimicError("NO_FACE", "No face found in that picture.");
      };
      nextResult = noFace;
      expect(await meme({}, { image: bytes(await reactionGif()) })).toMatchObject({
        errorCode: "NO_FACE",
        text: "No face found in that picture. It still counts towards your daily limits, like a meme: reading a moving picture takes Mimic a while.",
      });
      nextResult = noFace;
      expect(await core.morph(ctx(), { image: bytes(await reactionGif()) })).toMatchObject({ errorCode: "NO_FACE", text: expect.stringContaining("It still counts") });
      nextResult = noFace;
      expect(await meme()).toMatchObject({ errorCode: "NO_FACE", text: "No face found in that picture." });
      let usage = (await core.usage(admin())).text;
      expect(usage).toContain("Today you made 0 memes and 2 refused pictures of 3 allowed.");
      expect(usage).toContain("\nServer today: no memes yet.\nRefused today: 2 (2 moving pictures Mimic could not use).\n");
      nextResult = () => {
        throw new MimicError("UNSAFE_CONTENT", "That picture looks explicit.", { details: { stage: "output" } });
      };
      await meme();
      usage = (await core.usage(admin())).text;
      expect(usage).toContain("\nRefused today: 3 (1 as explicit, 2 moving pictures Mimic could not use).\n");
      // The quota of three is used up by the three refusals.
      expect((await meme()).errorCode).toBe("QUOTA_EXCEEDED");
    });

    it("a moving picture's use is kept only when the job read it: not for a TIMEOUT before it started, nor one of a lost worker; a read that ran out of time counts", async () => {
      await save("me");
      const gif = bytes(await reactionGif());
      const failWith = (e: MimicError) => () => {
        throw e;
      };
      nextResult = failWith(new MimicError("TIMEOUT", "Making your image took too long (the worker making it may have stopped). Please try again."));
      expect((await meme({}, { image: gif })).text).not.toContain("It still counts");
      nextResult = failWith(new MimicError("TIMEOUT", "Reading that GIF took too long. Please send a shorter or smaller one.", { details: { stage: "read" } }));
      expect((await meme({}, { image: gif })).text).toBe("Reading that GIF took too long. Please send a shorter or smaller one. It still counts towards your daily limits, like a meme: reading a moving picture takes Mimic a while.");
      // Refused before it started (the queue's own answer): given back, whatever it says.
      const submit = queue.submit.bind(queue);
      queue.submit = async () => {
        throw new MimicError("NO_FACE", "No face found in that picture.");
      };
      expect((await meme({}, { image: gif })).text).toBe("No face found in that picture.");
      queue.submit = submit;
      expect((await core.usage(ctx())).text).toContain("Today you made 0 memes and 1 refused picture of 50 allowed.");
    });

    it("Mimic this over a message's pictures: a faceless GIF followed by a face is free, and only the last picture tried can count", async () => {
      await save("me");
      await set("cooldown", "5");
      const gif = { image: bytes(await reactionGif()), number: 1 };
      const face = { image: bytes(REACTION_LAUGH_JPG), number: 2 };
      const noFace = () => {
        throw new MimicError("NO_FACE", "No face found in that picture.");
      };
      nextResult = noFace;
      const made = await memeFromFirstFace([gif, face], (image, othersToTry) => core.meme(ctx(), { image, othersToTry }));
      expect(made.file).toBeDefined();
      expect(made.text).toContain("so this is made from picture 2.");
      clock += 10_000;
      let tries = 0;
      const none = await memeFromFirstFace([gif, { ...gif, number: 2 }], (image, othersToTry) => {
        nextResult = noFace;
        tries++;
        return core.meme(ctx(), { image, othersToTry });
      });
      expect(tries).toBe(2);
      expect(none.text).toBe(`None of the 2 pictures in that message has a face I can use. Pick a picture where a face looks roughly at the camera. ${CHARGED_INPUT_NOTE}`);
      expect((await core.usage(ctx())).text).toContain("Today you made 1 meme and 1 refused picture of 50 allowed.");
      // A faceless GIF, then a faceless still: the GIF read in vain counts once, though the still, tried last, is given back.
      clock += 10_000;
      const still = await memeFromFirstFace([gif, face], (image, othersToTry) => {
        nextResult = noFace;
        return core.meme(ctx(), { image, othersToTry });
      });
      expect(still.text).toBe(`None of the 2 pictures in that message has a face I can use. Pick a picture where a face looks roughly at the camera. ${CHARGED_INPUT_NOTE}`);
      expect((await core.usage(ctx())).text).toContain("Today you made 1 meme and 2 refused pictures of 50 allowed.");
      // A GIF whose reading ran out of time stops the tries (it is not a picture without a face): it counts once.
      clock += 10_000;
      const slow = await memeFromFirstFace([gif, face], (image, othersToTry) => {
        nextResult = () => {
          throw new MimicError("TIMEOUT", "Reading that GIF took too long. Please send a shorter or smaller one.", { details: { stage: "read" } });
        };
        return core.meme(ctx(), { image, othersToTry });
      });
      expect(slow.text).toBe(`Reading that GIF took too long. Please send a shorter or smaller one. ${CHARGED_INPUT_NOTE}`);
      expect((await core.usage(ctx())).text).toContain("Today you made 1 meme and 3 refused pictures of 50 allowed.");
    });

    it("an NSFW refusal without details, and a moderation port that records no refusals, still answer the refusal", async () => {
      await save("me");
      const real = storeModeration(store);
      const withoutRecord: ModerationPort = {
        ...real,
        admit: async (scope, kind, pending) => {
          const { refused: _unused, ...admission } = await real.admit(scope, kind, pending);
          return admission;
        },
      };
      const plain = createCore({ templates: storeTemplates(store), moderation: withoutRecord, queue }, { maxInputBytes: 25 * MIB });
      for (const c of [core, plain]) {
        nextResult = () => {
          throw new MimicError("UNSAFE_CONTENT", "That picture looks explicit.");
        };
        // No stage to word it by: the refusal's own words, said to count only where it was recorded.
        const counts = c === core ? " It still counts towards your daily limits, like a meme." : "";
        expect(await c.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) })).toMatchObject({ errorCode: "UNSAFE_CONTENT", text: `That picture looks explicit.${counts}` });
      }
      // Both uses were given back; only the core with the store's recorder counted one refusal.
      expect((await store.moderation.usageReport({ platform: "discord", serverId: "g1", isAdmin: true })).today.byCommand).toEqual({ refused_nsfw: 1 });
    });

    it("the result must fit the chat: exactly the limit is sent", async () => {
      await save("me");
      const size = (await meme()).file!.bytes.byteLength;
      expect((await meme({ attachmentLimitBytes: size })).file?.bytes.byteLength).toBe(size);
      const over = await meme({ attachmentLimitBytes: size - 1 });
      expect(over.errorCode).toBe("IMAGE_TOO_LARGE");
      expect(over.text).toBe(
        `The result (${formatSize(size)}) is larger than this chat allows (${formatSize(size - 1)}). Try a shorter or smaller reaction.`,
      );
      expect(queue.submitted.at(-1)).toMatchObject({ byteBudget: size - 1 });
    });

    it("what reaches the job: regions (all is the default), the chat's animation format, mark and NSFW threshold", async () => {
      await save("me");
      // The defaults: no mark, the NSFW gate on at 0.7.
      await meme({}, { regions: "upper" });
      expect(queue.submitted.at(-1)).toMatchObject({ regions: "upper", visibleMark: false, nsfwThreshold: 0.7 });
      await meme({}, { regions: "all" });
      expect(queue.submitted.at(-1)).not.toHaveProperty("regions");
      await meme({ animationFormat: "mp4" }, { animated: true, regions: "lower" });
      expect(queue.submitted.at(-1)).toMatchObject({ kind: "animated", format: "mp4", regions: "lower" });
      await meme({}, { animated: true });
      expect(queue.submitted.at(-1)).not.toHaveProperty("format");
      expect(queue.submitted.at(-1)).not.toHaveProperty("regions");
      await core.morph(ctx(), { image: bytes(REACTION_LAUGH_JPG), top: "hi", intensity: 40 });
      expect(queue.submitted.at(-1)).toMatchObject({ kind: "animated", animation: "morph", mode: "mimic", intensity: 0.4, captions: { top: "hi" } });

      await set("mark", "on");
      await set("nsfw_threshold", "0.4");
      await meme();
      expect(queue.submitted.at(-1)).toMatchObject({ visibleMark: true, nsfwThreshold: 0.4 });
      await meme({}, { animated: true });
      expect(queue.submitted.at(-1)).toMatchObject({ kind: "animated", visibleMark: true, nsfwThreshold: 0.4 });
      await save("two");
      expect(queue.submitted.at(-1)).toMatchObject({ kind: "enrol", nsfwThreshold: 0.4 });
      await set("nsfw", "off");
      await save("three");
      expect(queue.submitted.at(-1)).not.toHaveProperty("nsfwThreshold");
      await meme();
      expect(queue.submitted.at(-1)).toMatchObject({ nsfwThreshold: undefined });

      await set("swap", "off");
      const swap = await meme({}, { mode: "swap" });
      expect(swap).toMatchObject({ errorCode: "FORBIDDEN", ephemeral: true });
      expect(swap.text).toBe("Swap mode is switched off on this server. Try the default mode (your own photo wearing the expression).");
      // Said before the picture is fetched, like the other refusals.
      const fetched: string[] = [];
      const never = { kind: "url" as const, url: async () => (fetched.push("asked"), "http://127.0.0.1:9/reaction.jpg") };
      expect(await meme({}, { mode: "swap", image: never })).toMatchObject({ errorCode: "FORBIDDEN", text: swap.text });
      expect(fetched).toEqual([]);
      expect((await meme({}, { mode: "mimic" })).file).toBeDefined();
    });

    it("a result refused by the NSFW gate is given back and counted as refused for the server's report", async () => {
      await save("me");
      await save("me", { userId: "202" });
      expect((await meme()).file).toBeDefined();
      expect((await core.usage(admin())).text).toBe(
        ["Today you made 1 meme of 50 allowed.", "You can make another one now.", "Saved faces: 1.", "Server today: 1 meme by 1 user.", "Top: <@101> (1)"].join("\n"),
      );
      nextResult = () => {
        throw new MimicError("UNSAFE_CONTENT", "That picture looks explicit.", { details: { stage: "output" } });
      };
      const refused = await meme({ userId: "202" });
      expect(refused).toMatchObject({ errorCode: "UNSAFE_CONTENT", text: "The result looked like explicit content, so I didn't send it. Nothing was kept. Try another picture. It still counts towards your daily limits, like a meme.", ephemeral: true });
      nextResult = () => {
        throw new MimicError("BAD_INPUT", "odd");
      };
      expect((await meme({ userId: "202" })).errorCode).toBe("BAD_INPUT");
      // A failure that is not a MimicError is the generic internal one.
      nextResult = () => {
        throw new Error("boom");
      };
      expect(await meme({ userId: "202" })).toEqual({ text: "Something went wrong on our side. Please try again in a moment.", ephemeral: true, errorCode: "INTERNAL" });
      const usage = (await core.usage(admin())).text;
      expect(usage).toBe(
        [
          "Today you made 1 meme of 50 allowed.",
          "You can make another one now.",
          "Saved faces: 1.",
          "Server today: 1 meme by 1 user.",
          "Refused as explicit today: 1.",
          "Top: <@101> (1), <@202> (0 + 1 refused)",
        ].join("\n"),
      );
      // The store counts the refused request among the user's uses of the day, and says it is no meme.
      expect((await core.usage(ctx({ userId: "202" }))).text).toBe(
        "Today you made 0 memes and 1 refused picture of 50 allowed.\nYou can make another one now.\nSaved faces: 1.",
      );
      expect((await meme({ userId: "202" })).file).toBeDefined();
      expect((await core.usage(admin())).text).toContain("Server today: 2 memes by 2 users.");
      await set("quota", "0");
      expect((await core.usage(ctx())).text).toMatch(/^Today you made 1 meme \(no daily limit\)\./);
      // In a private chat an admin flag shows no server lines.
      expect((await core.usage(admin({ serverId: null, channelId: null }))).text).not.toContain("Server today");
    });

    it("settings: shown per platform, each key's example when the value is missing", async () => {
      const shown = await core.config(admin({ platform: "telegram" }), {});
      expect(shown.text).toBe(
        [
          "Mimic settings for this group (a day runs from 00:00 UTC):",
          "• enabled: on",
          "• quota: 50 per user per day (default)",
          "• server_quota: unlimited (default)",
          "• cooldown: none (default)",
          "• max_faces: 5 per user (default); saving a face here is refused to anyone who has that many, wherever they saved them",
          "• animated: on",
          "• channel: all",
          "• mark: off (a small visible “AI-edited” label on every picture)",
          "• nsfw: on (threshold 0.7): explicit pictures, faces and results are refused",
          "• swap: allowed (putting your face into someone else's picture)",
          "Change one with /config <setting> <value>. A number set to “default” follows the default again.",
        ].join("\n"),
      );
      await set("enabled", "off");
      await set("animated", "off");
      await set("swap", "off");
      await set("nsfw_threshold", "0.55");
      await set("quota", "0");
      await set("server_quota", "500");
      await set("cooldown", "30");
      await set("channel", "add 1001");
      await set("channel", "add 1002");
      const updated = await set("mark", "on");
      expect(updated.split("\n")[0]).toBe("Updated “mark”.");
      expect(updated).toContain("Mimic settings for this server (a day runs from 00:00 UTC):");
      // The numbers the server set itself are marked, with the default each would go back to.
      for (const line of ["• enabled: off", "• animated: off", "• mark: on (", "• nsfw: on (threshold 0.55)", "• swap: off (", "• quota: unlimited (set here; default 50)\n", "• server_quota: 500 per day (set here; default unlimited)\n", "• cooldown: 30 s (set here; default none)\n", "• max_faces: 5 per user (default);", "• channel: <#1001>, <#1002>", "Change one with /mimic config."]) {
        expect(updated).toContain(line);
      }
      // Where others read it (a Telegram group): the change and its setting's line, not the whole list.
      const change = await core.config(admin(), { key: "nsfw_threshold", value: "0.6" });
      expect(change.split).toEqual({ shared: "Updated “nsfw_threshold”.\n• nsfw: on (threshold 0.6): explicit pictures, faces and results are refused\n/mimic config with no setting lists every setting.", personal: "", about: "" });
      // Off is said as what it means: nothing is checked (not “refuses”).
      expect(await set("nsfw", "off")).toContain("\n• nsfw: off: pictures are not checked for explicit content\n");
      const examples: Record<string, string> = {
        nsfw_threshold: "“0.7” (refuse at this unsafe score, 0–1; lower refuses more) or “default”",
        enabled: "“on” or “off”",
        animated: "“on” or “off”",
        mark: "“on” or “off”",
        nsfw: "“on” or “off”",
        swap: "“on” or “off”",
        quota: "“20” (per user per day, 0 = unlimited) or “default”",
        server_quota: "“500” (the whole server per day, 0 = unlimited) or “default”",
        max_faces: "“3” (saved faces per user, counting those saved anywhere) or “default”",
        cooldown: "“30” (seconds between two memes, 0 = none) or “default”",
        channel: "“add #channel”, “remove #channel” (or the channel's id) or “all”",
        ban: "a mention of the user (type @ and pick them) or their numeric user id",
        unban: "a mention of the user (type @ and pick them) or their numeric user id",
      };
      expect([...SETTING_KEYS].sort()).toEqual(Object.keys(examples).sort());
      for (const key of SETTING_KEYS) {
        const r = await core.config(admin(), { key });
        expect(r).toMatchObject({ errorCode: "BAD_INPUT", ephemeral: true });
        expect(r.text.startsWith(`Give a value for “${key}”, e.g. ${examples[key]}.`), r.text).toBe(true);
      }
      // With the setting as it is now (ban and unban have no line of their own).
      expect((await core.config(admin(), { key: "cooldown" })).text).toMatch(/ Now: cooldown: \S.*$/);
      expect((await core.config(admin(), { key: "nsfw_threshold" })).text).toMatch(/ Now: nsfw: (on|off)\b/);
      expect((await core.config(admin(), { key: "ban" })).text).not.toContain("Now:");
      expect((await core.config(admin(), { key: "bogus" as never, value: "1" })).text).toBe(`Unknown setting “bogus”. Settings: ${SETTING_KEYS.join(", ")}. /mimic config with no setting shows each with its value.`);
      expect((await core.config(ctx(), {})).text).toBe("Only server admins (the Manage Server permission) can see or change Mimic's settings.");
      expect((await core.config(admin({ serverId: null }), {})).text).toBe("Settings belong to a server: use this command there.");
    });

    it("setting values: switches, counts, the NSFW threshold, channels; refusals quote the value", async () => {
      const refusal = async (key: Parameters<Core["config"]>[1]["key"], value: string) => {
        const r = await core.config(admin(), { key, value });
        expect(r.errorCode, `${key}=${value}`).toBe("BAD_INPUT");
        return r.text;
      };
      for (const v of ["ON", "Yes", "1", "true", "enable", "enabled"]) expect(await set("mark", v)).toContain("• mark: on");
      for (const v of ["OFF", "No", "0", "false", "disable", "disabled"]) expect(await set("mark", v)).toContain("• mark: off");
      for (const v of ["xon", "onx", "xoff", "offx"]) expect(await refusal("mark", v)).toBe(`“${v}” is not on or off (or “default”: off).`);
      expect(await refusal("swap", "y".repeat(30))).toBe(`“${"y".repeat(20)}” is not on or off (or “default”: on).`);
      // “default” puts a switch back as a fresh server has it, as it does a number.
      expect(await set("mark", "on")).toContain("• mark: on");
      expect(await set("mark", "Default")).toContain("• mark: off");
      expect(await set("nsfw", "off")).toContain("• nsfw: off");
      expect(await set("nsfw", "default")).toContain("• nsfw: on");

      expect(await set("quota", "1000000")).toContain("• quota: 1000000 per user per day");
      expect(await refusal("quota", "12x")).toBe("The daily quota must be a whole number from 0 to 1000000, or “default”; not “12x”.");
      expect(await refusal("server_quota", "9".repeat(25))).toBe(`The server's daily quota must be a whole number from 0 to 100000000, or “default”; not “${"9".repeat(20)}”.`);
      // A cooldown in seconds, or with units as people write them; shown back as a wait.
      for (const [v, shown] of [["90", "1 min 30 s"], ["45", "45 s"], ["2m", "2 min"], ["2 min", "2 min"], ["1h30m", "1 h 30 min"], ["1 H 30 MIN", "1 h 30 min"], ["24h", "24 h"], ["0", "none"], ["90s", "1 min 30 s"], ["3601", "1 h 1 s"]]) {
        expect(await set("cooldown", v), v).toContain(`• cooldown: ${shown} (set here; default none)\n`);
      }
      for (const v of ["-5", "1.5m", "2d", "25h", "86401", "m", "1h 30", "1h30x", "30 30"]) {
        expect(await refusal("cooldown", v), v).toBe(`The cooldown is a wait in seconds or with a unit (e.g. 90, 2m, 1h30m), at most 24 h, or “default”; not “${v}”.`);
      }
      expect(await refusal("max_faces", "1001")).toMatch(/^The number of faces must be a whole number from 1 to \d+, or “default”; not “1001”\.$/);

      for (const v of ["0.5", ".5", "1", "1.0", "1.00"]) expect(await set("nsfw_threshold", v)).toContain(`threshold ${Number(v)})`);
      expect(await set("nsfw_threshold", "DEFAULT")).toContain("threshold 0.7)");
      // "+0.5" and "0.5e0" are numbers JavaScript reads as 0.5: only the pattern, whole, refuses them.
      for (const v of ["0", "0.0", "1.5", "1.01", "x0.5", "0.5x", "xdefault", "defaultx", "+0.5", "0.5e0", "1e-1"]) {
        expect(await refusal("nsfw_threshold", v)).toBe(`The NSFW threshold is a number above 0 and at most 1 (e.g. 0.7), or “default”; not “${v}”.`);
      }
      expect(await refusal("nsfw_threshold", `0.5${"x".repeat(30)}`)).toBe(
        `The NSFW threshold is a number above 0 and at most 1 (e.g. 0.7), or “default”; not “0.5${"x".repeat(17)}”.`,
      );

      expect(await set("channel", "add   909")).toContain("• channel: <#909>");

      // Switching animations leaves the server's other switched-off commands alone; "face" is the face saves'.
      await store.moderation.updateRules({ platform: "discord", serverId: "g1", isAdmin: true }, { disabledCommands: ["face"] });
      await set("animated", "off");
      expect((await store.moderation.rules("discord", "g1")).disabledCommands).toEqual(["animated", "face"]);
      await set("animated", "on");
      expect((await store.moderation.rules("discord", "g1")).disabledCommands).toEqual(["face"]);
      expect((await core.faceSave(ctx({ channelId: "909" }), { name: "me", image: bytes(FACE_JPG) })).errorCode).toBe("DISABLED");
    });

    it("an enrolment that returns no usable face data saves nothing", async () => {
      for (const broken of [null, { landmarks: new Float32Array(2), embedding: new Float32Array(2) }, { cropPng: new Uint8Array(2), embedding: new Float32Array(2) }, { cropPng: new Uint8Array(2), landmarks: new Float32Array(2) }]) {
        nextResult = () => ({ kind: "enrol", face: { data: broken } });
        expect(await save("me")).toMatchObject({ errorCode: "INTERNAL", text: "That face could not be saved because of an internal error. Please try again." });
      }
      expect(await store.templates.list({ platform: "discord", userId: "101" })).toEqual([]);
      // The operators' log says what went wrong.
      const error = vi.spyOn(logger, "error");
      try {
        nextResult = () => ({ kind: "enrol", face: { data: null } });
        await save("me");
        expect(error).toHaveBeenCalledTimes(1);
        expect((error.mock.calls[0][0] as { err: Error }).err.message).toBe("enrol job returned no EnrolledTemplate");
      } finally {
        vi.restoreAllMocks();
      }
    });

    it("every reply but a picture is private; a fresh server's usage has no top list; odd results are refused", async () => {
      // Nothing made yet and no face: how to start, not "another one".
      expect((await core.usage(admin())).text).toBe(
        "Today you made 0 memes of 50 allowed.\nTo make one, save a face first with /face save (attach a clear photo of your face).\nSaved faces: 0.\nServer today: no memes yet.",
      );
      const empty = await core.faceList(ctx());
      nextResult = (r) => ({ ...r, face: { ...(r as { face: object }).face, qualityNote: undefined } }) as JobResult;
      expect((await save("me")).text).toBe("Saved your face “me”. It is your default face. Now try /meme with a reaction image attached.");
      // A note that is a sentence of its own loses its full stop inside the brackets.
      nextResult = (r) => ({ ...r, face: { ...(r as { face: object }).face, qualityNote: "1 smaller face was ignored; I saved the largest one." } }) as JobResult;
      expect((await save("crowd")).text).toBe("Saved your face “crowd” (1 smaller face was ignored; I saved the largest one). Now try /meme with a reaction image attached.");
      nextResult = () => ({ kind: "meme", bytes: new Uint8Array(8), mime: "image/png", width: 1, height: 1 });
      expect(await save("two")).toMatchObject({ errorCode: "INTERNAL", text: "Something went wrong on our side." });
      const replies = [
        empty,
        await core.faceList(ctx()),
        await core.faceThumbnail(ctx(), { name: "me" }),
        await core.forgetMe(ctx({ userId: "999" }), { confirm: true }),
        await core.usage(ctx()),
        await core.config(admin(), {}),
        await core.config(admin(), { key: "quota", value: "3" }),
        await core.audit(admin(), { hash: "cd".repeat(32) }),
      ];
      for (const r of replies) expect(r.ephemeral, r.text).toBe(true);
      for (const r of replies) expect(r.errorCode, r.text).toBeUndefined();
      expect((await core.config(admin(), { key: "bogus" as never, value: "1" })).errorCode).toBe("BAD_INPUT");
      expect((await core.audit(admin({ serverId: null }), {})).errorCode).toBe("BAD_INPUT");
      expect((await core.audit(admin(), {})).errorCode).toBe("BAD_INPUT");
      // A picture made where the platform gave no channel: no "in" part.
      const made = await meme({ channelId: null });
      const found = await core.audit(admin(), { hash: sha256Hex(made.file!.bytes) });
      expect(found.ephemeral).toBe(true);
      expect(found.text).toMatch(/made it \(meme, face #\d+\)$/);
    });

    it("audit: who made or used a picture here, for admins only, by hash or by the picture itself", async () => {
      const hashOf = (b: Uint8Array) => sha256Hex(b);
      expect((await core.audit(admin({ serverId: null }), { hash: "0".repeat(64) })).text).toBe(
        "The audit trail belongs to a server: use this command there.",
      );
      expect(await core.audit(ctx(), { hash: "0".repeat(64) })).toMatchObject({
        errorCode: "FORBIDDEN",
        text: "Only server admins (the Manage Server permission) can look up who made a picture.",
      });
      expect((await core.audit(admin(), {})).text).toBe("Attach the picture to /mimic audit, as Mimic sent it.");
      expect((await core.audit(admin(), { hash: "nope" })).errorCode).toBe("BAD_INPUT");
      const none = await core.audit(admin(), { hash: "ab".repeat(32) });
      expect(none.text).toBe(
        `No picture with SHA-256 ${"ab".repeat(6)}… was made or used here in the last ${store.audit.retentionDays} days. (Chat apps may re-encode pictures: a re-encoded copy has another hash.)`,
      );

      await save("me");
      const made = await meme({ channelId: "c7" });
      const faceId = (await store.templates.find({ platform: "discord", userId: "101" }, "me")).id;
      const out = hashOf(made.file!.bytes);
      const stamp = new Date(clock).toISOString().slice(0, 16).replace("T", " ");
      const byHash = await core.audit(admin(), { hash: `SHA256:${out.toUpperCase()}` });
      const row = `• ${stamp} UTC: <@101> made it (meme, face #${faceId}) in <#c7>`;
      expect(byHash).toEqual({
        text: `SHA-256 ${out.slice(0, 12)}…:\n${row}`,
        ephemeral: true,
        // Who made it is the admin's alone: apart, for an adapter that cannot answer privately.
        split: { shared: `SHA-256 ${out.slice(0, 12)}…: in the audit trail (1 entry).`, personal: row, about: "the people who made or used that picture" },
      });
      const byPicture = await core.audit(admin(), { image: bytes(REACTION_LAUGH_JPG), hash: "ignored when a picture is attached" });
      expect(byPicture.text).toBe(`SHA-256 ${hashOf(REACTION_LAUGH_JPG).slice(0, 12)}…:\n• ${stamp} UTC: <@101> used it as the reaction image (meme, face #${faceId}) in <#c7>`);
      // Another server's moderators see nothing of who made it: only that Mimic saw it elsewhere on the platform.
      expect((await core.audit(admin({ serverId: "g2" }), { hash: out })).text).toBe(
        `No picture with SHA-256 ${out.slice(0, 12)}… was made or used here in the last ${store.audit.retentionDays} days. Mimic made it elsewhere on Discord (a DM or another server); who made it there is not shown here. (Chat apps may re-encode pictures: a re-encoded copy has another hash.)`,
      );
      // A picture used elsewhere as a reaction is not said to be seen: what someone reacted with in a DM is theirs.
      expect((await core.audit(admin({ serverId: "g2" }), { image: bytes(REACTION_LAUGH_JPG) })).text).not.toContain("elsewhere");
      // Nor does the same hash say anything on another platform.
      expect((await core.audit(admin({ platform: "telegram", serverId: "-100" }), { hash: out })).text).not.toContain("elsewhere");
      // Asked of one of Mimic's results sent before it noted its messages: the file it carries is hashed, as any picture.
      expect((await core.audit(admin(), { message: "c7:2", image: bytes(made.file!.bytes) })).text).toBe(byHash.text);
      // Asked of one of Mimic's own messages that carried no picture it recorded (a help text, an older result).
      expect(await core.audit(admin(), { message: "c7:1" })).toMatchObject({
        errorCode: "NOT_FOUND",
        text: `That message of mine is not in the audit trail: it is older than ${store.audit.retentionDays} days, was sent before Mimic noted its messages, or carries no picture Mimic made.`,
      });
      // The same meme again, which the platform refuses to take: its use and its record are taken back; the first stays.
      const used = (await core.usage(ctx())).text;
      const refused = await meme({ channelId: "c7" });
      expect(hashOf(refused.file!.bytes)).toBe(out);
      await refused.undelivered!();
      expect((await core.usage(ctx())).text).toBe(used);
      expect((await core.audit(admin(), { hash: out })).text).toBe(byHash.text);

      await save("me", { platform: "telegram" });
      const tg = await meme({ platform: "telegram", channelId: "-100" }, { animated: true });
      const tgFace = (await store.templates.find({ platform: "telegram", userId: "101" }, "me")).id;
      expect((await core.audit(admin({ platform: "telegram" }), { hash: hashOf(tg.file!.bytes) })).text).toBe(
        `SHA-256 ${hashOf(tg.file!.bytes).slice(0, 12)}…:\n• ${stamp} UTC: user 101 made it (animated, face #${tgFace}) in chat -100`,
      );
      // Without an audit trail nothing is recorded and look-ups are refused.
      const bare = createCore({ templates: storeTemplates(store), moderation: storeModeration(store), queue }, { maxInputBytes: 25 * MIB });
      expect((await bare.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) })).file).toBeDefined();
      expect(await bare.audit(admin(), { hash: out })).toMatchObject({ errorCode: "DISABLED", text: "This Mimic keeps no audit trail." });
    });

    it("the server's usage counts every active user (beyond the store's top ten) and lists the top five", async () => {
      // Twelve users of this server, admitted by the real store: 101 three times, 102 twice, the rest once.
      const use = (userId: string) => store.moderation.admit({ platform: "discord", userId, serverId: "g1", channelId: "c1" }, "meme");
      for (let i = 1; i <= 12; i++) await use(String(100 + i));
      await use("101");
      await use("101");
      await use("102");
      expect((await core.usage(admin())).text).toBe(
        [
          "Today you made 3 memes of 50 allowed.",
          "To make one, save a face first with /face save (attach a clear photo of your face).",
          "Saved faces: 0.",
          "Server today: 15 memes by 12 users.",
          "Top: <@101> (3), <@102> (2), <@103> (1), <@104> (1), <@105> (1)",
        ].join("\n"),
      );
    });
  });
}

/**
 * A real store whose database can be made unavailable for a while. PostgreSQL: the store connects through a
 * TCP proxy that is shut (connections cut, new ones refused) and opened again on the same port. SQLite: another
 * connection holds the write lock (as another process would), so the store's writes fail until it lets go.
 */
async function databaseOutage(db: TestDb): Promise<{ store: Store; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const opts = { maxTemplatesPerUser: 5, defaults: { dailyQuotaPerUser: 50, dailyQuotaPerServer: 0, cooldownSeconds: 0 } };
  if (db.dialect === "sqlite") {
    const path = db.url.replace(/^file:/, "");
    let holder: InstanceType<typeof Database> | undefined;
    const store = await openStore(db.url, opts);
    const restore = async () => {
      holder?.exec("ROLLBACK");
      holder?.close();
      holder = undefined;
    };
    return {
      store,
      async cut() {
        holder = new Database(path, { timeout: 5_000 });
        holder.exec("BEGIN EXCLUSIVE");
      },
      restore,
      async close() {
        await restore();
        await store.close();
      },
    };
  }
  const target = new URL(db.url);
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) => new Promise<void>((r) => proxy.listen(port, "127.0.0.1", () => r()));
  await listen(0);
  const port = (proxy.address() as AddressInfo).port;
  const via = new URL(db.url);
  via.hostname = "127.0.0.1";
  via.port = String(port);
  const store = await openStore(via.toString(), opts);
  const shut = async () => {
    if (!proxy.listening) return;
    await new Promise<void>((r) => {
      proxy.close(() => r());
      for (const s of sockets) s.destroy();
    });
  };
  return {
    store,
    cut: shut,
    restore: () => listen(port),
    async close() {
      await store.close().catch(() => undefined);
      await shut();
    },
  };
}
