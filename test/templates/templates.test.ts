import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MimicError } from "../../src/errors.ts";
import { enrolFace, openStore, TemplateStore, type Store } from "../../src/templates/index.ts";
import { createPrismaClient } from "../../src/templates/db/client.ts";
import { resolveDatabaseTarget } from "../../src/templates/db/url.ts";
import { createTestDb, dialects, fakeTemplate, STORE_TABLES, type TestDb } from "./helpers.ts";

const alice = { platform: "discord", userId: "100" };
const bob = { platform: "discord", userId: "200" };
/** Same platform id as alice on another platform: a different person. */
const aliceTelegram = { platform: "telegram", userId: "100" };

async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<MimicError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e, `expected a ${code} MimicError`).toBeInstanceOf(MimicError);
  expect((e as MimicError).code).toBe(code);
  if (message) expect((e as MimicError).userMessage).toMatch(message);
  return e as MimicError;
}

describe.each(dialects)("templates on $dialect", ({ dialect, skip }) => {
  let db: TestDb;
  let store: Store;

  beforeAll(async () => {
    if (skip) return;
    db = await createTestDb(dialect, "tpl");
    store = await openStore(db.url, { maxTemplatesPerUser: 4 });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it.skipIf(skip)("saves a face and keeps exactly its data; the first one becomes the default", async () => {
    const face = fakeTemplate("alice-smile");
    const saved = await store.templates.save(alice, "Smile", face);
    expect(saved).toMatchObject({ name: "smile", isDefault: true, cropSize: 512 });
    const got = await store.templates.get(alice); // the default
    expect(got.name).toBe("smile");
    expect(Buffer.from(got.cropPng).equals(Buffer.from(face.cropPng))).toBe(true);
    expect(Array.from(got.landmarks)).toEqual(Array.from(face.landmarks));
    expect(Array.from(got.embedding)).toEqual(Array.from(face.embedding));
    expect(got.analysis).toEqual(face.analysis);
    expect(got.createdAt).toBeInstanceOf(Date);
    // names are case-insensitive
    expect((await store.templates.get(alice, "SMILE")).id).toBe(saved.id);
  });

  it.skipIf(skip)("find: the summary list() and get() give, by name in any case or the default, only the owner's own", async () => {
    const carol = { platform: "discord", userId: "300" };
    await rejects(store.templates.find(carol), "NOT_FOUND", /no saved face/);
    await store.templates.save(carol, "first", fakeTemplate("carol-1"));
    await store.templates.save(carol, "second", fakeTemplate("carol-2"));
    const listed = await store.templates.list(carol);
    expect(await store.templates.find(carol)).toEqual(listed[0]); // the default: same id, name, date, size
    expect(await store.templates.find(carol, "SECOND")).toEqual(listed[1]);
    expect((await store.templates.find(carol, "second")).createdAt.getTime()).toBe((await store.templates.get(carol, "second")).createdAt.getTime());
    await store.templates.setDefault(carol, "second");
    expect(await store.templates.find(carol)).toEqual({ ...listed[1], isDefault: true });
    expect(await store.templates.find(carol, "first")).toEqual({ ...listed[0], isDefault: false });
    // Another user's face of the same name, or the same id on another platform, is never found.
    await rejects(store.templates.find(carol, "smile"), "NOT_FOUND", /no face named “smile”. Your faces: first, second/);
    await rejects(store.templates.find({ platform: "telegram", userId: "300" }), "NOT_FOUND", /no saved face/);
    await rejects(store.templates.find(bob, "first"), "NOT_FOUND", /no saved face/);
    await store.templates.forgetUser(carol);
  });

  it.skipIf(skip)("refuses invalid and duplicate names with a message that says what to do", async () => {
    await rejects(store.templates.save(alice, "", fakeTemplate("x")), "BAD_INPUT", /1–32 of a–z/);
    await rejects(store.templates.save(alice, "a".repeat(33), fakeTemplate("x")), "BAD_INPUT", /33 characters/);
    await rejects(store.templates.save(alice, "no spaces", fakeTemplate("x")), "BAD_INPUT", /it has a space/);
    await rejects(store.templates.save(alice, "sMiLe", fakeTemplate("x")), "BAD_INPUT", /already have a face named “smile”/);
    expect(await store.templates.count(alice)).toBe(1);
  });

  it.skipIf(skip)("lists, renames, switches the default and removes (the default moves to the newest)", async () => {
    await store.templates.save(alice, "neutral", fakeTemplate("alice-neutral"));
    await store.templates.save(alice, "work_photo-2", fakeTemplate("alice-work"));
    expect((await store.templates.list(alice)).map((t) => [t.name, t.isDefault])).toEqual([
      ["smile", true],
      ["neutral", false],
      ["work_photo-2", false],
    ]);
    await store.templates.setDefault(alice, "Neutral");
    expect((await store.templates.get(alice)).name).toBe("neutral");
    await store.templates.rename(alice, "neutral", "calm");
    expect((await store.templates.get(alice)).name).toBe("calm");
    await rejects(store.templates.rename(alice, "calm", "smile"), "BAD_INPUT", /already have a face named “smile”/);
    await rejects(store.templates.rename(alice, "nope", "x"), "NOT_FOUND", /no face named “nope”. Your faces: smile, calm, work_photo-2/);
    expect(await store.templates.remove(alice, "Calm")).toEqual({ name: "calm", newDefault: "work_photo-2" });
    expect((await store.templates.get(alice)).name).toBe("work_photo-2");
    expect(await store.templates.remove(alice, "smile")).toEqual({ name: "smile" });
    expect((await store.templates.list(alice)).map((t) => t.name)).toEqual(["work_photo-2"]);
  });

  it.skipIf(skip)("saves racing a forget-me from other connections never fail for want of the user row", async () => {
    // Two more stores (their own connections): one saves, one forgets, over and over, interleaving at random.
    const [saver, forgetter] = await Promise.all([openStore(db.url, { maxTemplatesPerUser: 4 }), openStore(db.url, { maxTemplatesPerUser: 4 })]);
    const racer = { platform: "discord", userId: "racer" };
    try {
      const unexpected: string[] = [];
      const saves = (async () => {
        for (let i = 0; i < 60; i++) {
          await saver.templates.save(racer, `f${i % 3}`, fakeTemplate(`r${i}`)).catch((e: unknown) => {
            // Taken names and a full list are the only refusals a save may meet here.
            const code = (e as MimicError).code;
            if (code !== "BAD_INPUT" && code !== "LIMIT_REACHED") unexpected.push(`${code ?? ""} ${(e as Error).message}`);
          });
        }
      })();
      const forgets = (async () => {
        for (let i = 0; i < 60; i++) await forgetter.templates.forgetUser(racer);
      })();
      await Promise.all([saves, forgets]);
      expect(unexpected).toEqual([]);
    } finally {
      await Promise.all([saver.close(), forgetter.close()]);
    }
  });

  it.skipIf(skip)("keeps templates private: nobody else can get, list, rename, default or remove them", async () => {
    await store.templates.save(bob, "bobface", fakeTemplate("bob"));
    expect(await store.templates.list(bob)).toHaveLength(1);
    for (const other of [alice, aliceTelegram, { platform: "discord", userId: "999" }]) {
      expect((await store.templates.list(other)).map((t) => t.name)).not.toContain("bobface");
      const e = await rejects(store.templates.get(other, "bobface"), "NOT_FOUND");
      // Indistinguishable from a name that exists nowhere: nothing reveals that bob has one.
      const never = await rejects(store.templates.get(other, "neverexisted"), "NOT_FOUND");
      expect(e.userMessage.replace("bobface", "neverexisted")).toBe(never.userMessage);
      await rejects(store.templates.rename(other, "bobface", "mine"), "NOT_FOUND");
      await rejects(store.templates.setDefault(other, "bobface"), "NOT_FOUND");
      await rejects(store.templates.remove(other, "bobface"), "NOT_FOUND");
    }
    await rejects(store.templates.get(aliceTelegram), "NOT_FOUND", /no saved face yet/);
    expect((await store.templates.get(bob)).name).toBe("bobface");
  });

  it.skipIf(skip)("enforces the per-user limit (the smaller of the configured and the server's) under concurrency", async () => {
    const carol = { platform: "telegram", userId: "carol" };
    await store.templates.save(carol, "one", fakeTemplate("c1"));
    const e = await rejects(store.templates.save(carol, "two", fakeTemplate("c2"), { maxTemplates: 1 }), "LIMIT_REACHED", /most allowed here is 1/);
    expect(e.details).toMatchObject({ limit: 1, count: 1 });
    // One face is one face, in the store's refusal and in enrolFace's check before its analysis.
    expect(e.userMessage).toBe("You already have 1 saved face, the most allowed here is 1. Remove one first.");
    const early = await rejects(enrolFace(store.templates, carol, "two", new Uint8Array(8), { maxTemplates: 1 }), "LIMIT_REACHED");
    expect(early.userMessage).toBe("You already have 1 saved face, the most allowed here is 1. Remove one first.");
    // 12 concurrent saves against the configured limit of 4 (one already saved): exactly 3 more succeed.
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => store.templates.save(carol, `c${i}`, fakeTemplate(`c${i}`))));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    for (const r of results) if (r.status === "rejected") expect((r.reason as MimicError).code).toBe("LIMIT_REACHED");
    const list = await store.templates.list(carol);
    expect(list).toHaveLength(4);
    expect(list.filter((t) => t.isDefault)).toHaveLength(1);
  });

  it.skipIf(skip)("forget-me removes every template, the user and all usage records, on every server, and nothing of others; the last day's uses count until a day old", async () => {
    // A store on the same database with its own clock: the last 24 hours' uses are held, older ones go at once.
    const T0 = Date.UTC(2026, 5, 10, 12);
    let clock = T0 - 2 * 86_400_000;
    const timed = await openStore(db.url, { maxTemplatesPerUser: 4, now: () => clock });
    try {
      const dave = { platform: "discord", userId: "dave" };
      await timed.templates.save(dave, "a", fakeTemplate("d1"));
      await timed.templates.save(dave, "b", fakeTemplate("d2"));
      for (const when of [T0 - 2 * 86_400_000, T0]) {
        clock = when;
        for (const serverId of ["g1", "g2", null]) {
          const use = await timed.moderation.admit({ ...dave, serverId, channelId: null }, "meme");
          // Today's in private chat is still being made (by whichever process: the store knows), the others were answered.
          if (serverId !== null || when !== T0) await use.answered();
          await timed.moderation.admit({ ...bob, serverId, channelId: null }, "meme");
        }
      }
      await timed.moderation.updateRules({ platform: "discord", serverId: "g1", isAdmin: true }, { cooldownSeconds: 0, dailyQuotaPerUser: 1 });
      const before = await db.query<{ n: number }>("SELECT COUNT(*) AS n FROM templates");

      clock = T0 + 3_600_000;
      const forgotten = await timed.templates.forgetUser(dave);
      // Of the 3 held, 1 is still being made: it is given back when its picture is thrown away.
      expect(forgotten).toEqual({ templates: 2, usageRecords: 3, auditRecords: 0, heldRecords: 3, heldInFlight: 1 });
      // Forgetting is no way around the limits: today's meme on g1 still uses up dave's quota of 1 there.
      await rejects(timed.moderation.admit({ ...dave, serverId: "g1", channelId: null }, "meme"), "QUOTA_EXCEEDED");

      // Look at EVERY table directly: only the held uses still mention dave, marked as forgotten, and the note of
      // the request (the account and the moment: a restore of an older backup deletes his data again).
      const mentionsDave = (r: unknown) => Object.values(r as Record<string, unknown>).some((v) => v === "dave");
      const daveRows = async () => {
        const rows: Record<string, unknown[]> = {};
        for (const table of STORE_TABLES) rows[table] = (await db.query(`SELECT * FROM ${table}`)).filter(mentionsDave);
        return rows;
      };
      const held = await daveRows();
      for (const table of STORE_TABLES) expect(held[table], table).toHaveLength(table === "usage_events" ? 3 : table === "forgotten_users" ? 1 : 0);
      expect(held.forgotten_users).toEqual([expect.objectContaining({ platform: "discord", platform_user_id: "dave" })]);
      expect(held.usage_events!.map((r) => (r as { command: string }).command)).toEqual(["forgotten:meme", "forgotten:meme", "forgotten:meme"]);
      const userIds = new Set((await db.query("SELECT * FROM users")).map((u) => Number((u as { id: unknown }).id)));
      for (const t of await db.query("SELECT * FROM templates")) expect(userIds.has(Number((t as { user_id: unknown }).user_id))).toBe(true);
      expect(Number((await db.query<{ n: number }>("SELECT COUNT(*) AS n FROM templates"))[0].n)).toBe(Number(before[0].n) - 2);

      // A day on, the next admission (hourly) deletes them: nothing mentions dave but the note.
      clock = T0 + 25 * 3_600_000;
      await timed.moderation.admit({ ...bob, serverId: "g2", channelId: null }, "meme");
      const gone = await daveRows();
      for (const table of STORE_TABLES) expect(gone[table], table).toHaveLength(table === "forgotten_users" ? 1 : 0);
      // bob is untouched
      expect(await timed.templates.list(bob)).toHaveLength(1);
      expect((await timed.moderation.userUsage({ ...bob, serverId: "g1", channelId: null })).usedToday).toBe(0);
      expect(Number((await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM usage_events WHERE platform_user_id = '${bob.userId}'`))[0].n)).toBe(7);
      // forgetting someone unknown is fine
      expect(await timed.templates.forgetUser({ platform: "discord", userId: "ghost" })).toEqual({ templates: 0, usageRecords: 0, auditRecords: 0, heldRecords: 0, heldInFlight: 0 });
    } finally {
      await timed.close();
    }
  });

  it.skipIf(skip)("forget-me keeps a server's ban (the only trace: platform id, server, reason)", async () => {
    const eve = { platform: "discord", userId: "eve" };
    await store.templates.save(eve, "e", fakeTemplate("e"));
    await store.moderation.ban({ platform: "discord", serverId: "g9", isAdmin: true }, "eve", "spam");
    await store.templates.forgetUser(eve);
    expect(await store.templates.list(eve)).toEqual([]);
    expect(await db.query("SELECT * FROM users WHERE platform_user_id = 'eve'")).toEqual([]);
    await rejects(store.moderation.admit({ ...eve, serverId: "g9", channelId: null }, "meme"), "FORBIDDEN", /blocked you/);
  });

  it.skipIf(skip)("refuses a malformed enrolment result as INTERNAL and saves nothing", async () => {
    const owner = { platform: "discord", userId: "malformed" };
    const good = fakeTemplate("malformed");
    // Each case with the problem the log names (the user only hears that it failed on our side).
    const bad: Array<[string, Partial<typeof good>, string]> = [
      ["no crop", { cropPng: new Uint8Array(7).fill(0x89) }, "crop PNG missing"],
      ["crop not a PNG", { cropPng: new Uint8Array(64).fill(7) }, "crop is not a PNG"],
      ["crop PNG's second byte wrong", { cropPng: Uint8Array.from([0x89, 0x51, ...new Uint8Array(30)]) }, "crop is not a PNG"],
      ["crop PNG's first byte wrong", { cropPng: Uint8Array.from([0x88, 0x50, ...new Uint8Array(30)]) }, "crop is not a PNG"],
      ["crop size too small", { cropSize: 15 }, "bad crop size"],
      ["crop size too large", { cropSize: 4097 }, "bad crop size"],
      ["crop size not whole", { cropSize: 100.5 }, "bad crop size"],
      ["landmarks short", { landmarks: new Float32Array(468 * 3 - 1) }, "landmarks must be 468×3"],
      ["landmarks not floats", { landmarks: Array.from(good.landmarks) as unknown as Float32Array }, "landmarks must be 468×3"],
      ["embedding empty", { embedding: new Float32Array(0) }, "embedding missing"],
      ["embedding not floats", { embedding: Array.from(good.embedding) as unknown as Float32Array }, "embedding missing"],
      ["everything wrong", { cropPng: new Uint8Array(0), cropSize: 0, landmarks: new Float32Array(0), embedding: new Float32Array(0) }, "crop PNG missing, bad crop size, landmarks must be 468×3, embedding missing"],
    ];
    for (const [what, change, problem] of bad) {
      const e = await store.templates.save(owner, "face", { ...good, ...change }).then(
        () => null,
        (err: unknown) => err as MimicError,
      );
      expect(e?.code, what).toBe("INTERNAL");
      expect(e?.userMessage, what).toBe("That face could not be saved because of an internal error. Please try again.");
      expect(e?.message, what).toBe(`invalid enrolment result: ${problem}`);
    }
    expect(await store.templates.list(owner)).toEqual([]);
    // The limits themselves are allowed.
    await store.templates.save(owner, "small", { ...good, cropSize: 16, cropPng: good.cropPng.slice(0, 8) });
    await store.templates.save(owner, "large", { ...good, cropSize: 4096 });
    expect((await store.templates.list(owner)).map((t) => t.name).sort()).toEqual(["large", "small"]);
  });

  it.skipIf(skip)("NOT_FOUND names the faces that exist, oldest first, and LIMIT_REACHED lists them; a lost default asks to choose one", async () => {
    const owner = { platform: "discord", userId: "named" };
    const none = await rejects(store.templates.find(owner, "x"), "NOT_FOUND", /^You have no saved face yet\.$/);
    expect(none.details).toEqual({ reason: "noFaces", names: [] });
    await store.templates.save(owner, "zed", fakeTemplate("named-zed"));
    await store.templates.save(owner, "amy", fakeTemplate("named-amy"));
    // Each call starts only when awaited: a rejection created ahead of its await is reported as unhandled.
    for (const call of [() => store.templates.find(owner, "bo"), () => store.templates.get(owner, "bo"), () => store.templates.rename(owner, "bo", "cy")]) {
      const e = await rejects(call(), "NOT_FOUND");
      expect(e.userMessage).toBe('You have no face named “bo”. Your faces: zed, amy.');
      expect(e.details).toEqual({ reason: "noSuchFace", names: ["zed", "amy"] });
    }
    const full = await rejects(store.templates.save(owner, "cy", fakeTemplate("named-cy"), { maxTemplates: 2 }), "LIMIT_REACHED");
    expect(full.details).toEqual({ reason: "limit", limit: 2, count: 2, names: expect.any(Array) });
    expect([...(full.details!.names as string[])].sort()).toEqual(["amy", "zed"]); // in no particular order
    // A user row whose default points nowhere (what the store never leaves, but a hand edit can).
    await db.query("UPDATE users SET default_template_id = NULL WHERE platform_user_id = 'named'");
    for (const call of [() => store.templates.find(owner), () => store.templates.get(owner)]) {
      const e = await rejects(call(), "NOT_FOUND");
      expect(e.userMessage).toBe("You have no default face. Choose one of: zed, amy.");
      expect(e.details).toEqual({ reason: "noDefault", names: ["zed", "amy"] });
    }
  });

  it.skipIf(skip)("without the blob reader, get() reads a face's data through Prisma, exactly and only the owner's", async () => {
    const owner = { platform: "discord", userId: "noblobs" };
    const face = fakeTemplate("noblobs");
    // Someone else's face first: a read that lost its where clause would return theirs (also when this test runs alone).
    await store.templates.save({ platform: "discord", userId: "noblobs-other" }, "other", fakeTemplate("noblobs-other"));
    await store.templates.save(owner, "mine", face);
    const client = createPrismaClient(resolveDatabaseTarget(db.url));
    try {
      const plain = new TemplateStore(client, 4);
      const got = await plain.get(owner);
      expect(got).toMatchObject({ name: "mine", isDefault: true, cropSize: 512, analysis: face.analysis });
      expect(Buffer.from(got.cropPng).equals(Buffer.from(face.cropPng))).toBe(true);
      expect(Array.from(got.landmarks)).toEqual(Array.from(face.landmarks));
      expect(Array.from(got.embedding)).toEqual(Array.from(face.embedding));
      await rejects(plain.get(owner, "other"), "NOT_FOUND", /no face named “other”/);
    } finally {
      await client.$disconnect();
    }
  });
});
