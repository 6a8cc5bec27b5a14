import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ALICE, BOB, EPHEMERAL, FakeDiscord, OPT, PERMISSIONS, content, flagsOf, str, sub } from "../helpers/fake-discord.ts";
import { useDiscordBot } from "./discord-harness.ts";
import { DOUBLE_HANDLERS, type TestApp } from "./harness.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";

/**
 * The real discord.js client against the fake Discord, the real store and the real queue (double
 * handlers: the pipeline is not the subject): direct messages, face management, who counts as an admin,
 * and what the user sees when Discord itself fails.
 */

/** Discord permission bits beyond the helper's. */
const ADMINISTRATOR = String(1n << 3n);
const BAN_MEMBERS = String(1n << 2n);


describe("Discord adapter (real discord.js, store and queue)", () => {
  const live = useDiscordBot({}, { handlers: DOUBLE_HANDLERS });
  let fake: FakeDiscord;
  let app: TestApp;
  beforeEach(() => ({ fake, app } = live));

  const answer = async (i: { token: string }) => fake.finalAnswer(i.token);
  /** Private commands are deferred as ephemeral: their later edit carries no flags of its own. */
  const ackedPrivately = async (i: { token: string }) =>
    Number(((await fake.waitFor((c) => c.path.includes(`/${i.token}/callback`))).json as { data?: { flags?: number } }).data?.flags) === EPHEMERAL;
  const faces = async (userId: string) => (await app.app.store.templates.list({ platform: "discord", userId })).map((t) => `${t.name}${t.isDefault ? "*" : ""}`);

  async function saveFace(user: typeof ALICE, name: string, extra: { dm?: boolean } = {}) {
    const photo = fake.addAttachment(FACE_JPG, "face.jpg", "image/jpeg");
    const i = fake.slash(user, "face", [sub("save", [{ name: "photo", type: OPT.attachment, value: photo.id }, str("name", name)])], {
      attachments: [photo],
      ...extra,
    });
    return answer(i);
  }

  it("works in direct messages: saves, memes, no server settings, server bans do not follow", async () => {
    const saved = await saveFace(ALICE, "me", { dm: true });
    expect(content(saved)).toContain("Saved your face “me”");
    expect(await faces(ALICE.id)).toEqual(["me*"]);

    // Banned on the server (by another admin): still welcome in a DM.
    const ban = fake.slash(BOB, "mimic", [sub("config", [str("setting", "ban"), str("value", `<@${ALICE.id}>`)])], {
      permissions: PERMISSIONS.manageGuild,
    });
    expect(content(await answer(ban))).toContain("Updated “ban”");

    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    const inServer = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] });
    expect(content(await answer(inServer))).toMatch(/blocked you from using Mimic here/);

    const inDm = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction], dm: true });
    const meme = await answer(inDm);
    expect(meme.files, content(meme)).toHaveLength(1);
    expect(meme.files[0].filename).toBe("mimic-me.png");
    expect(flagsOf(meme)).toBe(0);

    // No member in a DM, so no admin: and settings belong to a server anyway.
    const config = fake.slash(ALICE, "mimic", [sub("config")], { dm: true });
    expect(content(await answer(config))).toMatch(/Settings belong to a server or group/);
    expect(await ackedPrivately(config)).toBe(true);

    const usage = fake.slash(ALICE, "mimic", [sub("usage")], { dm: true });
    const usageText = content(await answer(usage));
    expect(usageText).toContain("Today you made 1 meme");
    expect(usageText).not.toContain("Server today");
  });

  it("face default, rename and delete change the store; unknown names are refused", async () => {
    await saveFace(ALICE, "me");
    await saveFace(ALICE, "work");
    expect(await faces(ALICE.id)).toEqual(["me*", "work"]);

    let i = fake.slash(ALICE, "face", [sub("default", [str("name", "work")])]);
    expect(content(await answer(i))).toBe("“work” is now your default face.");
    expect(await ackedPrivately(i)).toBe(true);
    expect(await faces(ALICE.id)).toEqual(["me", "work*"]);

    i = fake.slash(ALICE, "face", [sub("rename", [str("name", "me"), str("new_name", "Home")])]);
    expect(content(await answer(i))).toBe("Renamed “me” to “home”.");
    expect(await faces(ALICE.id)).toEqual(["home", "work*"]);

    i = fake.slash(ALICE, "face", [sub("rename", [str("name", "home"), str("new_name", "work")])]);
    expect(content(await answer(i))).toMatch(/already/);

    i = fake.slash(ALICE, "face", [sub("delete", [str("name", "work")])]);
    expect(content(await answer(i))).toBe("Deleted your face “work”. “home” is now your default face.");
    expect(await faces(ALICE.id)).toEqual(["home*"]);

    i = fake.slash(ALICE, "face", [sub("delete", [str("name", "nope")])]);
    expect(content(await answer(i))).toBe('You have no face named “nope”. Your faces: home.');
    // Bob's commands never touch Alice's faces.
    i = fake.slash(BOB, "face", [sub("delete", [str("name", "home")])]);
    await answer(i);
    expect(await faces(ALICE.id)).toEqual(["home*"]);
  });

  it("only Manage Server (or Administrator) may change settings", async () => {
    const change = (user: typeof ALICE, permissions: string, value: string) =>
      answer(fake.slash(user, "mimic", [sub("config", [str("setting", "quota"), str("value", value)])], { permissions }));
    expect(content(await change(BOB, PERMISSIONS.none, "7"))).toMatch(/Only server admins/);
    expect(content(await change(BOB, BAN_MEMBERS, "7"))).toMatch(/Only server admins/);
    expect(content(await change(ALICE, PERMISSIONS.manageGuild, "7"))).toContain("quota: 7 per user per day");
    expect(content(await change(BOB, ADMINISTRATOR, "8"))).toContain("quota: 8 per user per day");
    expect((await app.app.store.moderation.rules("discord", fake.guildId)).dailyQuotaPerUser).toBe(8);
  });

  it("when Discord refuses the answer, the user is still told something went wrong", async () => {
    // The final edit of a deferred reply fails: an ephemeral follow-up says so.
    fake.failNext((c) => c.method === "PATCH" && c.path.endsWith("/messages/@original"));
    const list = fake.slash(ALICE, "face", [sub("list")]);
    const fallback = await fake.waitFor((c) => c.method === "POST" && c.path.includes(`/webhooks/${fake.appId}/${list.token}`));
    expect(content(fallback)).toBe("Something went wrong on our side. Please try again in a moment.");
    expect(flagsOf(fallback)).toBe(EPHEMERAL);

    // The acknowledgement itself fails: the bot answers with a fresh ephemeral reply instead.
    fake.failNext((c) => c.path.includes("/callback"));
    const usage = fake.slash(ALICE, "mimic", [sub("usage")]);
    const second = await fake.waitFor(
      (c) => c.path.includes(`/${usage.token}/callback`) && c.status === undefined && (c.json as { type?: number } | undefined)?.type === 4,
    );
    expect(second.json).toMatchObject({ type: 4, data: { content: "Something went wrong on our side. Please try again in a moment.", flags: EPHEMERAL } });

    // And the bot keeps serving.
    expect(content(await answer(fake.slash(ALICE, "face", [sub("list")])))).toMatch(/no saved faces/);
  });

  it("when Discord refuses the finished picture, “Working on it…” goes away and the user is told the meme was refused", async () => {
    await saveFace(ALICE, "me");
    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    // The edit carrying the picture is refused (413 Request Entity Too Large).
    fake.failNext((c) => c.method === "PATCH" && c.files.length > 0, 413);
    const i = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] });
    const told = await fake.waitFor((c) => c.method === "POST" && c.path.includes(`/webhooks/${fake.appId}/${i.token}`));
    expect(content(told)).toBe(
      "Your meme was made, but Discord refused to take it (it is probably too large). Try again with a smaller or shorter reaction image.",
    );
    expect(flagsOf(told)).toBe(EPHEMERAL);

    const calls = fake.callsFor(i.token);
    const refused = calls.findIndex((c) => c.method === "PATCH" && c.files.length > 0);
    expect(calls[refused]?.status).toBe(413);
    // The public message is deleted after the refusal instead of staying on its last progress text.
    const deleted = calls.findIndex((c, n) => n > refused && c.method === "DELETE" && c.path.endsWith("/messages/@original"));
    expect(deleted, calls.map((c) => `${c.method} ${content(c)}`).join("\n")).toBeGreaterThan(refused);
    // Nothing was delivered, so the use is given back.
    expect(content(await answer(fake.slash(ALICE, "mimic", [sub("usage")])))).toMatch(/^Today you made 0 memes/);
  });

  it("“Mimic this” and /meme take the first attachment Mimic can read; only unreadable ones are refused", async () => {
    await saveFace(ALICE, "me");
    const svg = fake.addAttachment(new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>"), "a.svg", "image/svg+xml");
    // An iPhone photo: an ISO-BMFF "ftypheic" header.
    const heic = fake.addAttachment(new Uint8Array([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x68, 0x65, 0x69, 0x63, 0, 0, 0, 0]), "IMG_0001.HEIC", "image/heic");
    const jpg = fake.addAttachment(REACTION_LAUGH_JPG, "b.jpg", "image/jpeg");

    for (const first of [svg, heic]) {
      const made = await answer(fake.contextMenu(ALICE, fake.message(BOB, [first, jpg])));
      expect(made.files, `${first.filename}: ${content(made)}`).toHaveLength(1);
    }
    // /meme without an attachment reads the channel's latest message the same way.
    fake.channelMessages = [fake.message(BOB, [heic, jpg])];
    const latest = await answer(fake.slash(ALICE, "meme", []));
    expect(latest.files, content(latest)).toHaveLength(1);

    // Nothing readable: the clear refusal, naming the formats that work.
    const refused = await answer(fake.contextMenu(ALICE, fake.message(BOB, [svg, heic])));
    expect(refused.files).toHaveLength(0);
    expect(content(refused)).toMatch(/not a picture I can use.*JPEG, PNG, WebP or GIF/);
  });
});
