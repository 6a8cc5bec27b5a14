import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeEach, describe, expect, it } from "vitest";
import { ALICE, BOB, EPHEMERAL, FakeDiscord, OPT, PERMISSIONS, buttonsOf, content, flagsOf, str, sub } from "../helpers/fake-discord.ts";
import { ONLY_YOU_NOTE } from "../../src/bots/discord/bot.ts";
import { commandDefinitions } from "../../src/bots/discord/commands.ts";
import { useDiscordBot } from "./discord-harness.ts";
import { DOUBLE_HANDLERS, type TestApp } from "./harness.ts";
import sharp from "sharp";
import { FACE_JPG, REACTION_LAUGH_JPG, REACTION_SMILE_JPG, reactionGif } from "../core/images.ts";

/**
 * The real discord.js client against the fake Discord, the real store and the real queue (double
 * handlers: the pipeline is not the subject): direct messages, face management, who counts as an admin,
 * and what the user sees when Discord itself fails.
 */

/** A gateway event the fake sends on its socket (a channel or thread appearing in the server, an interaction from one). */
const gateway = (fake: FakeDiscord, t: string, d: Record<string, unknown>) => (fake as unknown as { dispatch(t: string, d: unknown): void }).dispatch(t, d);

/** CHANNEL_CREATE of a text (0) or forum (15) channel in the fake's server. */
function createChannel(fake: FakeDiscord, id: string, type: 0 | 15, name: string) {
  gateway(fake, "CHANNEL_CREATE", { id, type, guild_id: fake.guildId, name, position: 1, permission_overwrites: [], ...(type === 15 && { available_tags: [] }) });
}

/** A thread (11) as Discord sends it: in THREAD_CREATE, and as the `channel` of an interaction made in it. */
const threadPayload = (fake: FakeDiscord, id: string, parentId: string) => ({
  id,
  type: 11,
  guild_id: fake.guildId,
  parent_id: parentId,
  name: `thread ${id}`,
  thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false },
});

/**
 * /meme with a reaction attached, made in another channel or thread of the fake's server than its own (the
 * fake's interactions come from #memes): the interaction as Discord sends it, its `channel` that place.
 */
function memeIn(fake: FakeDiscord, user: typeof ALICE, channel: Record<string, unknown>) {
  const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
  const { token } = fake.slash(user, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction], permissions: PERMISSIONS.none, channel });
  return fake.finalAnswer(token);
}

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

  it("an admin's /mimic usage is one private answer, each person's counts included (Telegram sends those apart)", async () => {
    await saveFace(ALICE, "me");
    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    expect((await answer(fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] }))).files).toHaveLength(1);
    const usage = fake.slash(BOB, "mimic", [sub("usage")], { permissions: PERMISSIONS.manageGuild });
    expect(content(await answer(usage))).toBe(
      ["Today you made 0 memes of 50 allowed.", "To make one, save a face first with /face save (attach a clear photo of your face).", "Saved faces: 0.", "Server today: 1 meme by 1 user.", `Top: <@${ALICE.id}> (1)`].join("\n"),
    );
    expect(await ackedPrivately(usage)).toBe(true);
  });

  it("/mimic usage gives the reason the next /meme would be refused: switched off, or a channel the admins did not allow", async () => {
    expect(content(await saveFace(ALICE, "me"))).toContain("Saved your face “me”");
    const set = async (setting: string, value: string) =>
      content(await answer(fake.slash(BOB, "mimic", [sub("config", [str("setting", setting), str("value", value)])], { permissions: PERMISSIONS.manageGuild })));
    const usage = async () => content(await answer(fake.slash(ALICE, "mimic", [sub("usage")])));
    expect(await set("enabled", "off")).toContain("enabled: off");
    expect(await usage()).toBe("Today you made 0 memes of 50 allowed.\nMimic is switched off on this server. An admin can turn it back on.\nSaved faces: 1.");
    expect(await set("enabled", "on")).toContain("enabled: on");
    createChannel(fake, "800000000000000077", 0, "general");
    expect(await set("channel", "add <#800000000000000077>")).toContain("channel: <#800000000000000077>");
    expect(await usage()).toBe("Today you made 0 memes of 50 allowed.\nMimic doesn't answer in this channel here. Ask in <#800000000000000077>.\nSaved faces: 1.");
    expect(await set("channel", `add <#${fake.channelId}>`)).toContain(`<#${fake.channelId}>`);
    expect(await usage()).toBe("Today you made 0 memes of 50 allowed.\nYou can make another one now.\nSaved faces: 1.");
    // A forget-me asks first (its buttons: discord-guidance.test.ts), wherever the channel rules let Mimic answer.
    expect(content(await answer(fake.slash(ALICE, "mimic", [sub("forget")])))).toBe(
      "This permanently deletes your 1 saved face (from every server and DM), your usage history and the record of which pictures you made. Uses from the last 24 hours still count towards daily limits and cooldowns: they are deleted a day after they were made. Any ban a server gave you stays. Delete everything?",
    );
  });

  it("a thread or forum post goes by the channel it is in; channel add takes only this server's channels; a refusal names where to ask", async () => {
    const GENERAL = "800000000000000010";
    const FORUM = "800000000000000011";
    createChannel(fake, GENERAL, 0, "general");
    createChannel(fake, FORUM, 15, "clips");
    // A thread of #general the gateway announced, and two it never did (a thread of #memes, a post of the forum).
    const announced = threadPayload(fake, "800000000000000012", GENERAL);
    gateway(fake, "THREAD_CREATE", { ...announced, owner_id: BOB.id, member_count: 1, message_count: 0, newly_created: true });
    const memesThread = threadPayload(fake, "800000000000000013", fake.channelId);
    const forumPost = threadPayload(fake, "800000000000000014", FORUM);
    expect(content(await saveFace(ALICE, "me"))).toContain("Saved");

    const set = async (value: string) =>
      content(await answer(fake.slash(BOB, "mimic", [sub("config", [str("setting", "channel"), str("value", value)])], { permissions: PERMISSIONS.manageGuild })));
    // No channel of this server: a negative or zero id, a user's id, another server's channel; a thread names its channel.
    expect(await set("add -5")).toBe("“-5” is not a channel: mention it (#) or give its numeric id.");
    expect(await set("add 0")).toBe("“0” is not a channel: mention it (#) or give its numeric id.");
    expect(await set(`add <#${ALICE.id}>`)).toBe(`“<#${ALICE.id}>” is not a channel of this server: mention one (#) or give its numeric id.`);
    expect(await set(`add <#${announced.id}>`)).toBe(
      `<#${announced.id}> is a thread: Mimic goes by the channel a thread or forum post is in, so name <#${GENERAL}> instead (that allows its threads too).`,
    );
    expect((await app.app.store.moderation.rules("discord", fake.guildId)).allowedChannels).toEqual([]);
    // The words in any case.
    expect(await set(`Add <#${fake.channelId}> <#${FORUM}>`)).toContain(`• channel: <#${fake.channelId}>, <#${FORUM}>\n`);

    // A thread of an allowed channel and a post of an allowed forum are allowed, announced or not.
    for (const place of [memesThread, forumPost]) {
      const made = await memeIn(fake, ALICE, place);
      expect(made.files, `${place.id}: ${content(made)}`).toHaveLength(1);
    }
    // Elsewhere the refusal says where to ask instead.
    for (const place of [announced, { id: GENERAL, type: 0, guild_id: fake.guildId, name: "general" }]) {
      expect(content(await memeIn(fake, ALICE, place))).toBe(`Mimic doesn't answer in this channel here. Ask in <#${fake.channelId}> or <#${FORUM}>.`);
    }
    expect(await set("ALL")).toContain("• channel: all\n");
    expect((await memeIn(fake, ALICE, announced)).files).toHaveLength(1);
  });

  it("ban and unban say whom, as a mention, and whether they were banned already; Mimic itself and admins cannot be banned; no face, banned: the ban is said", async () => {
    const [CAROL, DAVE] = ["100000000000000044", "100000000000000055"];
    const config = async (setting: string, value: string) =>
      content(await answer(fake.slash(BOB, "mimic", [sub("config", [str("setting", setting), str("value", value)])], { permissions: PERMISSIONS.manageGuild })));
    const banned = await config("ban", `<@${ALICE.id}>`);
    expect(banned.split("\n")[0]).toBe(`Banned <@${ALICE.id}>: they can no longer use Mimic on this server.`);
    expect(banned).toContain(`\n• banned: <@${ALICE.id}>\n`);
    expect((await config("ban", ALICE.id)).split("\n")[0]).toBe(`<@${ALICE.id}> was already banned on this server, so nothing changed.`);
    expect(await config("ban", `<@${fake.botUser.id}>`)).toBe("That is Mimic itself, which cannot be banned. To stop Mimic on this server, set “enabled” to off.");
    expect(await config("unban", "100000000000000033")).toBe("<@100000000000000033> was not banned here.");
    // An admin (Manage Server by a role) could lift their own ban: refused, and nobody is banned. One who left the
    // server (Unknown Member) is no admin: banned.
    fake.admins.add(CAROL);
    expect(await config("ban", `<@${CAROL}>`)).toBe(`<@${CAROL}> is an admin on this server and could lift a ban at once, so admins cannot be banned. Take away their admin rights first.`);
    // Asked of Discord each time (discord.js's member cache hears of no role change without the members intent):
    // once her admin role is gone, as the refusal advised, the ban holds.
    fake.admins.delete(CAROL);
    expect((await config("ban", `<@${CAROL}>`)).split("\n")[0]).toBe(`Banned <@${CAROL}>: they can no longer use Mimic on this server.`);
    expect((await config("unban", CAROL)).split("\n")[0]).toMatch(/^Lifted the ban/);
    fake.absentMembers.add(DAVE);
    expect((await config("ban", DAVE)).split("\n")[0]).toBe(`Banned <@${DAVE}>: they can no longer use Mimic on this server.`);
    expect((await app.app.store.moderation.bans({ platform: "discord", serverId: fake.guildId, isAdmin: true })).map((b) => b.userId).sort()).toEqual([ALICE.id, DAVE].sort());
    expect(await config("unban", DAVE)).toMatch(/^Lifted the ban/);
    // Alice has no face: what she hears is the ban, not advice to save one (which would be refused too).
    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    const meme = await answer(fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] }));
    expect(content(meme)).toBe("An admin of this server has blocked you from using Mimic here.");
    expect((await config("unban", `<@!${ALICE.id}>`)).split("\n")[0]).toBe(`Lifted the ban on <@${ALICE.id}>: they can use Mimic on this server again.`);
    expect((await app.app.store.moderation.bans({ platform: "discord", serverId: fake.guildId, isAdmin: true })).map((b) => b.userId)).toEqual([]);
  });

  it("/mimic audit's hash option takes the longest form the core reads: “sha-256:” and the 64 hex characters", async () => {
    const mimic = commandDefinitions().find((c) => c.name === "mimic") as { options: { name: string; options?: { name: string; max_length?: number }[] }[] };
    const hashOption = mimic.options.find((o) => o.name === "audit")!.options!.find((o) => o.name === "hash")!;
    const hash = createHash("sha256").update(REACTION_LAUGH_JPG).digest("hex");
    const typed = `sha-256:${hash.toUpperCase()}`;
    expect(typed.length).toBeLessThanOrEqual(hashOption.max_length!);
    await saveFace(ALICE, "me");
    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    await answer(fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] }));
    const found = content(await answer(fake.slash(BOB, "mimic", [sub("audit", [str("hash", typed)])], { permissions: PERMISSIONS.manageGuild })));
    expect(found).toMatch(new RegExp(`^SHA-256 ${hash.slice(0, 12)}…:\n• .* UTC: <@${ALICE.id}> used it as the reaction image \\(meme, face #\\d+\\) in <#${fake.channelId}>$`));
  });

  it("works in direct messages: saves, memes, no server settings, server bans do not follow", async () => {
    const saved = await saveFace(ALICE, "me", { dm: true });
    expect(content(saved)).toContain("Saved your face “me”");
    expect(await faces(ALICE.id)).toEqual(["me*"]);

    // Banned on the server (by another admin): still welcome in a DM.
    const ban = fake.slash(BOB, "mimic", [sub("config", [str("setting", "ban"), str("value", `<@${ALICE.id}>`)])], {
      permissions: PERMISSIONS.manageGuild,
    });
    expect(content(await answer(ban))).toContain(`Banned <@${ALICE.id}>: they can no longer use Mimic on this server.`);

    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    const inServer = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] });
    expect(content(await answer(inServer))).toMatch(/blocked you from using Mimic here/);
    // /mimic usage says what the next /meme hears, with the counts (not "You can make another one now").
    expect(content(await answer(fake.slash(ALICE, "mimic", [sub("usage")])))).toBe(
      "Today you made 0 memes of 50 allowed.\nAn admin of this server has blocked you from using Mimic here.\nSaved faces: 1.",
    );

    const inDm = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction], dm: true });
    const meme = await answer(inDm);
    expect(meme.files, content(meme)).toHaveLength(1);
    expect(meme.files[0].filename).toBe("mimic-me.png");
    expect(flagsOf(meme)).toBe(0);

    // No member in a DM, so no admin: and settings belong to a server anyway.
    const config = fake.slash(ALICE, "mimic", [sub("config")], { dm: true });
    expect(content(await answer(config))).toMatch(/Settings belong to a server: use this command there/);
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

    // Delete asks first (discord-face-delete.test.ts): its Delete button deletes.
    i = fake.slash(ALICE, "face", [sub("delete", [str("name", "work")])]);
    expect(content(await answer(i))).toBe("Delete your face “work”? It cannot be undone.");
    expect(await faces(ALICE.id)).toEqual(["home", "work*"]);
    const del = fake.press(ALICE, fake.original(i.token)!, buttonsOf(fake.original(i.token))[0]!.id!);
    expect(content(await answer(del))).toBe("Deleted your face “work”. “home” is now your default face.");
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

  it("when Discord refuses the finished picture, “Working on it…” goes away and the user is told why: size, permissions, an expired command, Discord's trouble", async () => {
    await saveFace(ALICE, "me");
    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    const cases: [status: number, error: { code?: number; message?: string }, said: RegExp][] = [
      [413, { code: 40005, message: "Request entity too large" }, /^Your meme was made, but it is too large for Discord to take here\. Try again with a smaller or shorter reaction image\.$/],
      // Discord's own code says so even where a proxy changed the status.
      [400, { code: 40005, message: "Request entity too large" }, /too large for Discord/],
      [403, { code: 50013, message: "Missing Permissions" }, /may not post it in this channel: Mimic needs the Attach Files and Send Messages permissions here\. A server admin can grant them\./],
      [500, { code: 0, message: "Internal Server Error" }, /Discord had a problem taking it .*Please try again in a moment\./],
    ];
    for (const [status, error, said] of cases) {
      // The edit carrying the picture is refused.
      fake.failNext((c) => c.method === "PATCH" && c.files.length > 0, status, error);
      const i = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] });
      const told = await fake.waitFor((c) => c.method === "POST" && c.path.includes(`/webhooks/${fake.appId}/${i.token}`));
      const label = `${status} ${error.code}: ${content(told)}`;
      expect(content(told), label).toMatch(said);
      if (error.code !== 40005) expect(content(told), label).not.toMatch(/large/);
      expect(flagsOf(told)).toBe(EPHEMERAL);

      const calls = fake.callsFor(i.token);
      const refused = calls.findIndex((c) => c.method === "PATCH" && c.files.length > 0);
      expect(calls[refused]?.status).toBe(status);
      // The public message is deleted after the refusal instead of staying on its last progress text.
      const deleted = calls.findIndex((c, n) => n > refused && c.method === "DELETE" && c.path.endsWith("/messages/@original"));
      expect(deleted, calls.map((c) => `${c.method} ${content(c)}`).join("\n")).toBeGreaterThan(refused);
    }
    // The command expired (Discord's 15 minutes, or its webhook gone): every call on its token is refused, so the
    // user is told in a direct message, sent with the bot's token.
    for (const [status, error] of [[401, { code: 50027, message: "Invalid Webhook Token" }], [404, { code: 10015, message: "Unknown Webhook" }]] as const) {
      const before = fake.calls.length;
      const i = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] });
      fake.failNext((c) => c.method === "PATCH" && c.files.length > 0 && c.path.includes(i.token), status, error);
      if (status === 401) fake.expiredTokens.add(i.token);
      const dm = await fake.waitFor((c) => fake.calls.indexOf(c) >= before && c.method === "POST" && c.path.endsWith(`/channels/${fake.dmChannelId}/messages`));
      expect(content(dm)).toMatch(/^Your meme was made, but the command expired on Discord before I could post it .*Please try the command again\.$/);
      expect(dm.authorization).toBe(`Bot ${fake.token}`);
      const opened = fake.calls.slice(before).find((c) => c.method === "POST" && c.path.endsWith("/users/@me/channels"));
      expect(opened?.json).toMatchObject({ recipient_id: ALICE.id });
    }
    // Nothing was delivered, so every use is given back.
    expect(content(await answer(fake.slash(ALICE, "mimic", [sub("usage")])))).toMatch(/^Today you made 0 memes/);
  });

  it("a member who may not post pictures in the channel gets the meme privately, saying why; one who may, publicly", async () => {
    await saveFace(ALICE, "me");
    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    const meme = (permissions: string) => fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction], permissions });
    const VIEW_AND_HISTORY = String((1n << 10n) | (1n << 16n));
    for (const permissions of [VIEW_AND_HISTORY, String(BigInt(PERMISSIONS.member) & ~(1n << 15n))]) {
      const i = meme(permissions);
      expect(await ackedPrivately(i)).toBe(true);
      const made = await answer(i);
      expect(made.files).toHaveLength(1);
      expect(content(made).endsWith(`\n${ONLY_YOU_NOTE}`), content(made)).toBe(true);
    }
    const i = meme(PERMISSIONS.member);
    expect(await ackedPrivately(i)).toBe(false);
    const made = await answer(i);
    expect(made.files).toHaveLength(1);
    expect(content(made)).not.toContain(ONLY_YOU_NOTE);
  });

  it("an answer without a picture that comes after the command expired is sent by direct message, not lost", async () => {
    // No picture: the answer is a refusal, sent privately as a follow-up on the command's token.
    const before = fake.calls.length;
    const i = fake.slash(ALICE, "meme", [str("top", "hi")]);
    fake.expiredTokens.add(i.token);
    const dm = await fake.waitFor((c) => fake.calls.indexOf(c) >= before && c.method === "POST" && c.path.endsWith(`/channels/${fake.dmChannelId}/messages`));
    expect(content(dm)).toMatch(/^I need a reaction image/);
    expect(dm.authorization).toBe(`Bot ${fake.token}`);
    // No "Something went wrong" after it: that would go to the same expired token.
    expect(fake.callsFor(i.token).filter((c) => c.method === "POST" && /Something went wrong/.test(content(c)))).toHaveLength(0);
  });

  it("a public “thinking…” whose first removal fails is removed on a second try, not left empty in the channel", async () => {
    // A picture gone from the CDN: a refusal only its download shows, after the public "thinking…", answered privately.
    await saveFace(ALICE, "me");
    const gone = { ...fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg"), url: `${fake.base}/attachments/gone/laugh.jpg` };
    const i = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: gone.id }], { attachments: [gone] });
    fake.failNext((c) => c.method === "DELETE" && c.path.includes(i.token), 500, { code: 0, message: "Internal Server Error" });
    const told = await fake.waitFor((c) => c.method === "POST" && c.path.includes(`/webhooks/${fake.appId}/${i.token}`));
    expect(content(told)).toMatch(/^I could not download that picture/);
    expect(flagsOf(told)).toBe(EPHEMERAL);
    expect(fake.callsFor(i.token).filter((c) => c.method === "DELETE").map((c) => c.status ?? 204)).toEqual([500, 204]);
    expect(fake.original(i.token)).toBeNull();
  });

  it("uses a forwarded picture (message_snapshots): “Mimic this” on the forward, and /meme right after it", async () => {
    await saveFace(ALICE, "me");
    const forwarded = fake.addAttachment(REACTION_LAUGH_JPG, "forwarded-laugh.jpg", "image/jpeg");
    const forward = fake.forward(BOB, { attachments: [forwarded] });
    const served = () => fake.cdnServed.slice();

    const before = served().length;
    const made = await answer(fake.contextMenu(ALICE, forward));
    expect(made.files, content(made)).toHaveLength(1);
    expect(served().slice(before)).toEqual([new URL(forwarded.url).pathname]);

    // Newest first: the forward, then an older picture. /meme means the forward's.
    const older = fake.addAttachment(REACTION_SMILE_JPG, "older-smile.jpg", "image/jpeg");
    fake.channelMessages = [forward, fake.message(BOB, [older], "an hour ago")];
    const next = served().length;
    const latest = await answer(fake.slash(ALICE, "meme", []));
    expect(latest.files, content(latest)).toHaveLength(1);
    expect(served().slice(next)).toEqual([new URL(forwarded.url).pathname]);

    // A forwarded GIF-picker GIF is its proxied video, as it is unforwarded.
    const clip = fake.addAttachment(await reactionGif(), "tenor.gif", "image/gif");
    const gifv = fake.forward(BOB, { embeds: [{ type: "gifv", url: "https://tenor.com/view/x", video: { url: "https://media.tenor.com/x.mp4", proxy_url: clip.url } }] });
    const third = served().length;
    const animated = await answer(fake.contextMenu(ALICE, gifv));
    expect(animated.files, content(animated)).toHaveLength(1);
    expect(served().slice(third)).toEqual([new URL(clip.url).pathname]);
  });

  it("uses stickers as reactions (PNG, APNG, GIF from the CDN's stickers/{id}.png|gif) and says clearly that a Lottie sticker cannot be read", async () => {
    await saveFace(ALICE, "me");
    const png = new Uint8Array(await sharp(REACTION_LAUGH_JPG).png().toBuffer());
    const cases = [
      [fake.addSticker(png, "Laugh", FakeDiscord.STICKER.png), "png"],
      [fake.addSticker(png, "Laugh (APNG)", FakeDiscord.STICKER.apng), "png"],
      [fake.addSticker(await reactionGif(), "Laugh (GIF)", FakeDiscord.STICKER.gif), "gif"],
    ] as const;
    for (const [sticker, ext] of cases) {
      const before = fake.cdnServed.length;
      const made = await answer(fake.contextMenu(ALICE, { ...fake.message(BOB), sticker_items: [sticker] }));
      expect(made.files, `${sticker.name}: ${content(made)}`).toHaveLength(1);
      expect(fake.cdnServed.slice(before)).toEqual([`/stickers/${sticker.id}.${ext}`]);
    }
    // /meme right after a sticker takes the sticker, not an older picture.
    const older = fake.addAttachment(REACTION_SMILE_JPG, "older.jpg", "image/jpeg");
    fake.channelMessages = [{ ...fake.message(BOB), sticker_items: [cases[0][0]] }, fake.message(BOB, [older])];
    const before = fake.cdnServed.length;
    const latest = await answer(fake.slash(ALICE, "meme", []));
    expect(latest.files, content(latest)).toHaveLength(1);
    expect(fake.cdnServed.slice(before)).toEqual([`/stickers/${cases[0][0].id}.png`]);

    // A Lottie sticker is JSON: said so plainly, nothing fetched, no use counted.
    const lottie = fake.addSticker(new TextEncoder().encode('{"v":"5.5.2"}'), "Dance", FakeDiscord.STICKER.lottie);
    const served = fake.cdnServed.length;
    const refused = await answer(fake.contextMenu(ALICE, { ...fake.message(BOB), sticker_items: [lottie] }));
    expect(refused.files).toHaveLength(0);
    expect(content(refused)).toBe("That sticker is a Lottie animation, a format I cannot read. Use a PNG or GIF sticker, a picture or a GIF instead.");
    fake.channelMessages = [{ ...fake.message(BOB), sticker_items: [lottie] }, fake.message(BOB, [older])];
    expect(content(await answer(fake.slash(ALICE, "meme", [])))).toMatch(/Lottie animation/);
    expect(fake.cdnServed.slice(served)).toEqual([]);
    expect(content(await answer(fake.slash(ALICE, "mimic", [sub("usage")])))).toMatch(/^Today you made 4 memes/);
  });

  it("“Mimic this” reads an attachment declared application/octet-stream by its name, as /meme does", async () => {
    await saveFace(ALICE, "me");
    const untyped = fake.addAttachment(REACTION_LAUGH_JPG, "x.jpg", "application/octet-stream");
    const viaSlash = await answer(fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: untyped.id }], { attachments: [untyped] }));
    expect(viaSlash.files, content(viaSlash)).toHaveLength(1);
    const viaMenu = await answer(fake.contextMenu(ALICE, fake.message(BOB, [untyped])));
    expect(viaMenu.files, content(viaMenu)).toHaveLength(1);
    // A readable picture still comes before an untyped file; an untyped file before nothing at all.
    const jpg = fake.addAttachment(REACTION_SMILE_JPG, "b.jpg", "image/jpeg");
    const blob = fake.addAttachment(REACTION_LAUGH_JPG, "blob", "application/octet-stream");
    const before = fake.cdnServed.length;
    await answer(fake.contextMenu(ALICE, fake.message(BOB, [blob, jpg])));
    expect(fake.cdnServed.slice(before)).toEqual([new URL(jpg.url).pathname]);
    const alone = await answer(fake.contextMenu(ALICE, fake.message(BOB, [blob])));
    expect(alone.files, content(alone)).toHaveLength(1);
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

describe("Discord adapter: a slow upload of the finished picture (real discord.js, store and queue)", () => {
  // Short timeouts to keep the test short: 2 s for a request, an upload 2 s plus its size at 1 kB/s, at most 4 s.
  const live = useDiscordBot({}, { handlers: DOUBLE_HANDLERS, bot: { restTimeouts: { timeoutMs: 2_000, uploadBytesPerSecond: 1_000, uploadTimeoutMaxMs: 4_000 } } });
  let fake: FakeDiscord;
  beforeEach(() => ({ fake } = live));

  const answer = async (i: { token: string }) => fake.finalAnswer(i.token);
  const isUpload = (c: { method: string; files: unknown[] }) => c.method === "PATCH" && c.files.length > 0;
  /** A deletion of the reply, or a follow-up message: what a refused upload brings. */
  const answeredAgain = (c: { method: string; path: string }) => c.method === "DELETE" || (c.method === "POST" && !c.path.endsWith("/callback"));
  const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
  /** What /mimic audit says of a picture: who made it, or that no such picture was made here. */
  const audit = async (bytes: Uint8Array) =>
    content(await answer(fake.slash(BOB, "mimic", [sub("audit", [str("hash", sha(bytes))])], { permissions: PERMISSIONS.manageGuild })));
  const usage = async () => content(await answer(fake.slash(ALICE, "mimic", [sub("usage")])));

  async function meme(picture = REACTION_LAUGH_JPG) {
    const reaction = fake.addAttachment(picture, "reaction.jpg", "image/jpeg");
    const i = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] });
    const upload = await fake.waitFor((c) => c.path.includes(i.token) && isUpload(c), 30_000);
    return { i, upload };
  }

  it("gives an upload time for its size; after a timeout looks at the reply and never deletes a meme Discord kept, nor calls it too large", { timeout: 60_000 }, async () => {
    const photo = fake.addAttachment(FACE_JPG, "face.jpg", "image/jpeg");
    await answer(fake.slash(ALICE, "face", [sub("save", [{ name: "photo", type: OPT.attachment, value: photo.id }, str("name", "me")])], { attachments: [photo] }));

    // 1. Discord takes the picture and answers after 3 s: longer than a plain request may take, within the upload's time.
    fake.holdNext(isUpload, { accept: true, ms: 3_000 });
    const slow = await meme();
    expect(slow.upload.files[0]!.bytes.length).toBeGreaterThan(2_000);
    await sleep(3_500);
    expect(fake.callsFor(slow.i.token).filter(answeredAgain)).toEqual([]);

    // 2. Discord takes the picture but never answers: the reply shows it, so it stays, counted and audited.
    fake.holdNext(isUpload, { accept: true });
    const kept = await meme();
    await fake.waitFor((c) => c.path.includes(kept.i.token) && c.method === "GET" && c.path.endsWith("/messages/@original"), 10_000);
    await sleep(500);
    expect(fake.callsFor(kept.i.token).filter(answeredAgain)).toEqual([]);
    expect((fake.original(kept.i.token)?.attachments as { filename: string }[]).map((a) => a.filename)).toEqual(["mimic-me.png"]);
    expect(await usage()).toMatch(/^Today you made 2 memes/);
    expect(await audit(kept.upload.files[0]!.bytes)).not.toMatch(/^No picture/);

    // 3. Discord loses the picture and never answers: the reply shows none, so it goes, the use is given back, and the
    //    user hears that Discord had a problem (not that the meme was too large).
    fake.holdNext(isUpload, { accept: false });
    const lost = await meme(REACTION_SMILE_JPG);
    expect(sha(lost.upload.files[0]!.bytes)).not.toBe(sha(kept.upload.files[0]!.bytes));
    const told = await fake.waitFor((c) => c.path.includes(lost.i.token) && c.method === "POST" && !c.path.endsWith("/callback"), 10_000);
    expect(content(told)).toMatch(/Discord had a problem taking it/);
    expect(content(told)).not.toMatch(/large/);
    expect(flagsOf(told)).toBe(EPHEMERAL);
    const calls = fake.callsFor(lost.i.token).map((c) => `${c.method} ${c.path.endsWith("@original") ? "@original" : "followup"}`);
    expect(calls.slice(calls.indexOf("GET @original"))).toEqual(["GET @original", "DELETE @original", "POST followup"]);
    expect(fake.original(lost.i.token)).toBeNull();
    expect(await usage()).toMatch(/^Today you made 2 memes/);
    expect(await audit(lost.upload.files[0]!.bytes)).toMatch(/^No picture/);
  });
});
