import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTelegramBot, NO_TOPICS_REPLY, type TelegramBot } from "../../src/bots/telegram/bot.ts";
import { FakeTelegram } from "../helpers/fake-telegram.ts";
import { DOUBLE_HANDLERS, startTestApp, type TestApp } from "./harness.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";

/**
 * A server's moderation rules driven through Telegram: real grammY against the fake Bot API, the real
 * core, store and queue (double handlers: the pipeline is not the subject). Who is a group admin comes
 * from getChatMember, as in a real group.
 */

const GROUP = { id: -100555, type: "supergroup" as const, title: "Memes" };
const ALICE = { id: 11, is_bot: false as const, first_name: "Alice" };
const BOB = { id: 22, is_bot: false as const, first_name: "Bob" };
const BOB_DM = { id: BOB.id, type: "private" as const };
const ALICE_DM = { id: ALICE.id, type: "private" as const };
type Chat = typeof GROUP | typeof BOB_DM;

describe("Telegram: a group's moderation rules (real grammY, store and queue)", () => {
  let fake: FakeTelegram;
  let app: TestApp;
  let bot: TelegramBot;

  beforeEach(async () => {
    fake = await FakeTelegram.start();
    app = await startTestApp({}, { handlers: DOUBLE_HANDLERS });
    // Every refusal is said here, so each can be read (in a group, one said lately is not said again: telegram-group-admins.test.ts).
    bot = createTelegramBot({ core: app.core, token: fake.token, apiRoot: fake.apiRoot, refusalQuietMs: 0 });
    await bot.start();
    fake.memberStatus.set(`${GROUP.id}:${ALICE.id}`, "creator");
  });

  afterEach(async () => {
    await bot?.stop();
    await app?.close();
    await fake?.close();
  });

  /** The bot's text answer to a command (a refusal, a confirmation), in the chat it was sent in. */
  async function say(chat: Chat, from: typeof ALICE, text: string, replyTo?: Record<string, unknown>): Promise<string> {
    return String((await fake.answerTo(fake.sendCommand(chat, from, text, replyTo), "sendMessage", 60_000)).params.text);
  }

  /** /config's list in the group, and what went meanwhile to the sender's private chat (who is banned). */
  async function configIn(chat: Chat, from: typeof ALICE): Promise<{ text: string; privately: string[] }> {
    const start = fake.calls.length;
    const text = await say(chat, from, "/config");
    const privately = fake.calls.slice(start).filter((c) => c.method === "sendMessage" && c.params.chat_id === from.id).map((c) => String(c.params.text));
    return { text, privately };
  }

  /** /meme as a reply to a reaction photo: "made" when a picture comes back, else the refusal's text. */
  async function meme(chat: Chat, from: typeof ALICE): Promise<string> {
    const reaction = fake.sendPhoto(chat, from, fake.addFile(REACTION_LAUGH_JPG));
    // The answer to the command (in a private chat the photo alone gets a pointer too).
    const call = await fake.answerTo(fake.sendCommand(chat, from, "/meme", reaction), ["sendPhoto", "sendMessage"], 60_000);
    return call.method === "sendPhoto" ? "made" : String(call.params.text);
  }

  const save = (chat: Chat, from: typeof ALICE, name: string) => say(chat, from, `/save ${name}`, fake.sendPhoto(chat, from, fake.addFile(FACE_JPG)));
  const faces = async (user: typeof ALICE) => (await app.app.store.templates.list({ platform: "telegram", userId: String(user.id) })).map((t) => t.name);
  const rules = () => app.app.store.moderation.rules("telegram", String(GROUP.id));

  it("ban and unban: only group admins; a banned user can neither meme nor save here, but still can in private", async () => {
    expect(await save(GROUP, BOB, "bob")).toContain("Saved your face “bob”");
    expect(await say(GROUP, BOB, `/config ban ${ALICE.id}`)).toMatch(/Only group admins/);
    // Said whom, as Telegram names a user here (no mention form without formatting), and whether already banned.
    expect(await say(GROUP, ALICE, `/config ban ${BOB.id}`)).toMatch(new RegExp(`^Banned user ${BOB.id} \\(Bob\\): they can no longer use Mimic in this group\\.\\n`));
    expect(await say(GROUP, ALICE, `/config ban ${BOB.id}`)).toMatch(new RegExp(`^User ${BOB.id} \\(Bob\\) was already banned in this group, so nothing changed\\.\\n`));
    // Named as the group shows them (Telegram shows no ids): first and last name, @username; one Telegram cannot
    // name (never in this group) by the id alone.
    // The id comes first and a name cannot turn the line around (U+202E is dropped), whatever its owner typed.
    const CAROL = { id: 31, is_bot: false as const, first_name: "Carol\u202e", last_name: "Smith\nJr", username: "carol" };
    fake.sendMessage(GROUP, CAROL, { text: "hi" });
    // The group reads the change, not every setting.
    expect(await say(GROUP, ALICE, `/config ban ${CAROL.id}`)).toBe("Banned user 31 (Carol Smith Jr @carol): they can no longer use Mimic in this group.\n/config alone lists every setting.");
    expect(await say(GROUP, ALICE, "/config ban 33")).toMatch(/^Banned user 33: they can/);
    // Who is banned goes to the admin alone; the group reads how many.
    const listed = await configIn(GROUP, ALICE);
    expect(listed.text).toContain("\n• banned: 3 people\n");
    expect(listed.text).not.toContain("Carol");
    expect(listed.privately).toEqual(["In “Memes”, who is banned:\n• banned: user 22 (Bob), user 31 (Carol Smith Jr @carol), user 33"]);
    for (const id of [CAROL.id, 33]) expect(await say(GROUP, ALICE, `/config unban ${id}`)).toMatch(/^Lifted the ban/);
    // Mimic itself is no person to ban.
    expect(await say(GROUP, ALICE, `/config ban ${fake.botInfo.id}`)).toBe("That is Mimic itself, which cannot be banned. To stop Mimic in this group, set “enabled” to off.");

    expect(await meme(GROUP, BOB)).toBe("An admin of this group has blocked you from using Mimic here.");
    // /usage says what the next /meme would hear, with the counts.
    expect(await say(GROUP, BOB, "/usage")).toBe("Today you made 0 memes of 50 allowed.\nAn admin of this group has blocked you from using Mimic here.\nSaved faces: 1.");
    expect(await save(GROUP, BOB, "second")).toMatch(/blocked you/);
    expect(await faces(BOB)).toEqual(["bob"]);
    // The ban is this group's: in a private chat Bob is welcome.
    expect(await meme(BOB_DM, BOB)).toBe("made");
    // Alice is not banned.
    expect(await save(GROUP, ALICE, "alice")).toContain("Saved your face “alice”");
    expect(await meme(GROUP, ALICE)).toBe("made");

    expect(await say(GROUP, ALICE, `/config unban ${BOB.id}`)).toMatch(new RegExp(`^Lifted the ban on user ${BOB.id} \\(Bob\\): they can use Mimic in this group again\\.\\n`));
    expect(await say(GROUP, ALICE, `/config unban ${BOB.id}`)).toBe(`User ${BOB.id} was not banned here.`);
    expect(await meme(GROUP, BOB)).toBe("made");
  });

  it("bans by replying to the user's message, refuses an @username and a self-ban, and lists the bans in the settings", async () => {
    expect(await save(GROUP, BOB, "bob")).toContain("Saved");
    // A bot cannot look up @bob: refused with the way that works, and nobody is banned.
    expect(await say(GROUP, ALICE, "/config ban @bob")).toBe("Bots cannot look up “@bob” by name. Reply to one of their messages with /config ban, or give their numeric user id.");
    expect(await say(GROUP, ALICE, `/config ban ${ALICE.id}`)).toBe("You cannot ban yourself.");
    // Another admin could lift their own ban at once: refused, by id or by reply, and nobody is banned.
    fake.memberStatus.set(`${GROUP.id}:${BOB.id}`, "administrator");
    const adminRefused = `User ${BOB.id} is an admin in this group and could lift a ban at once, so admins cannot be banned. Take away their admin rights first.`;
    expect(await say(GROUP, ALICE, `/config ban ${BOB.id}`)).toBe(adminRefused);
    expect(await say(GROUP, ALICE, "/config ban", fake.sendPhoto(GROUP, BOB, fake.addFile(FACE_JPG)))).toBe(adminRefused);
    fake.memberStatus.delete(`${GROUP.id}:${BOB.id}`);
    expect(await say(GROUP, ALICE, "/config")).not.toContain("banned");
    expect(await meme(GROUP, BOB)).toBe("made");

    const bobsMessage = fake.sendPhoto(GROUP, BOB, fake.addFile(FACE_JPG));
    const banned = await say(GROUP, ALICE, "/config ban", bobsMessage);
    expect(banned).toContain(`Banned user ${BOB.id} (Bob): they can no longer use Mimic in this group.`);
    expect((await configIn(GROUP, ALICE)).privately).toEqual([`In “Memes”, who is banned:\n• banned: user ${BOB.id} (Bob)`]);
    expect(await meme(GROUP, BOB)).toMatch(/blocked you/);
    expect(await say(GROUP, ALICE, "/config unban", bobsMessage)).not.toContain("banned:");
    expect(await meme(GROUP, BOB)).toBe("made");
    // Replying to a message does not stand in for another setting's value.
    expect(await say(GROUP, ALICE, "/config quota", bobsMessage)).toMatch(/Give a value for “quota”/);
  });

  it("in a forum topic, /config ban with no value and no real reply bans nobody (not the topic's creator)", async () => {
    const FORUM = { ...GROUP, is_forum: true };
    // Bob created the topic; Telegram sets every topic message's reply_to_message to that service message.
    const topicStart = { message_id: 500, date: 0, chat: FORUM, from: BOB, message_thread_id: 500, forum_topic_created: { name: "Memes", icon_color: 0 } };
    const inTopic = { message_thread_id: 500, is_topic_message: true };
    const bans = async () => (await app.app.store.moderation.bans({ platform: "telegram", serverId: String(GROUP.id), isAdmin: true })).map((b) => b.userId);
    const inTopicSay = async (text: string, replyTo: Record<string, unknown>) => {
      const reply = fake.nextCall("sendMessage", 60_000);
      fake.sendMessage(FORUM, ALICE, { text, entities: [{ type: "bot_command", offset: 0, length: text.split(" ")[0]!.length }], ...inTopic, reply_to_message: replyTo });
      return (await reply).params;
    };
    for (const verb of ["ban", "unban"]) {
      const answer = await inTopicSay(`/config ${verb}`, topicStart);
      expect(answer.text).toBe(`Reply to one of the person's messages with /config ${verb}.`);
      expect(answer.message_thread_id).toBe(500);
    }
    expect(await bans()).toEqual([]);
    // A real reply inside the topic still names its author.
    const bobsMessage = { message_id: 501, date: 0, chat: FORUM, from: BOB, text: "hi", ...inTopic, reply_to_message: topicStart };
    fake.usersSeen.set(BOB.id, BOB);
    expect(String((await inTopicSay("/config ban", bobsMessage)).text)).toContain(`Banned user ${BOB.id} (Bob)`);
    expect(await bans()).toEqual([String(BOB.id)]);
  });

  it("refuses a ban by reply to a message no person posted (a bot, an anonymous admin, a channel), and ids that are no person's", async () => {
    const bans = async () => (await app.app.store.moderation.bans({ platform: "telegram", serverId: String(GROUP.id), isAdmin: true })).map((b) => b.userId);
    const placeholders: [string, Record<string, unknown>][] = [
      ["That message was posted by a bot, so there is no person to ban.", { message_id: 900, date: 0, chat: GROUP, from: fake.botInfo, text: "Here you go" }],
      [
        "That message was posted anonymously by a group admin, so there is no person to ban.",
        { message_id: 901, date: 0, chat: GROUP, from: { id: 1087968824, is_bot: true, first_name: "Group", username: "GroupAnonymousBot" }, sender_chat: GROUP, text: "hi" },
      ],
      [
        "That message was posted as a channel, so there is no person to ban.",
        {
          message_id: 902,
          date: 0,
          chat: GROUP,
          from: { id: 777000, is_bot: false, first_name: "Telegram" },
          sender_chat: { id: -100777, type: "channel", title: "News" },
          is_automatic_forward: true,
          text: "post",
        },
      ],
      // A forward whose sender_chat was left out: Telegram's service account is no person either.
      ["That message was posted as a channel, so there is no person to ban.", { message_id: 903, date: 0, chat: GROUP, from: { id: 777000, is_bot: false, first_name: "Telegram" }, text: "post" }],
      [
        "That message was posted as a channel, so there is no person to ban.",
        { message_id: 904, date: 0, chat: GROUP, from: { id: 136817688, is_bot: true, first_name: "Channel", username: "Channel_Bot" }, sender_chat: { id: -100888, type: "channel", title: "Bob's" }, text: "x" },
      ],
    ];
    for (const [refusal, message] of placeholders) expect(await say(GROUP, ALICE, "/config ban", message)).toBe(refusal);
    expect(await say(GROUP, ALICE, "/config unban", placeholders[0]![1])).toBe("That message was posted by a bot, so there is no person to unban.");
    // A member is told what members are told, whatever the message.
    expect(await say(GROUP, BOB, "/config ban", placeholders[0]![1])).toMatch(/Only group admins/);

    expect(await say(GROUP, ALICE, `/config ban ${GROUP.id}`)).toBe(`“${GROUP.id}” is not a user id: a person's id is a positive whole number (a negative id is a group or channel).`);
    expect(await say(GROUP, ALICE, "/config ban 0")).toBe("“0” is not a user id: a person's id is a positive whole number.");
    expect(await bans()).toEqual([]);
  });

  it("a group upgraded to a supergroup (a new chat id) keeps its rules and bans", async () => {
    const OLD = { id: -4012345, type: "group" as const, title: "Memes" };
    const NEW = { ...GROUP, id: -1004012345 };
    fake.memberStatus.set(`${OLD.id}:${ALICE.id}`, "creator");
    fake.memberStatus.set(`${NEW.id}:${ALICE.id}`, "creator");
    expect(await save(OLD as unknown as Chat, BOB, "bob")).toContain("Saved");
    expect(await say(OLD as unknown as Chat, ALICE, `/config ban ${BOB.id}`)).toContain(`Banned user ${BOB.id} (Bob)`);
    expect(await say(OLD as unknown as Chat, ALICE, "/config quota 3")).toContain("Updated “quota”");

    // Telegram's two service messages: in the old chat, then in the new one.
    fake.sendMessage(OLD as unknown as Chat, ALICE, { migrate_to_chat_id: NEW.id });
    fake.sendMessage(NEW as unknown as Chat, ALICE, { migrate_from_chat_id: OLD.id });
    await expect.poll(() => app.app.store.moderation.bans({ platform: "telegram", serverId: String(NEW.id), isAdmin: true }), { timeout: 30_000 }).toHaveLength(1);
    expect(await meme(NEW as unknown as Chat, BOB)).toMatch(/blocked you/);
    const settings = await say(NEW as unknown as Chat, ALICE, "/config");
    expect(settings).toMatch(/quota: 3 per user per day/);
    expect(settings).toContain("\n• banned: 1 person\n");
  });

  /** /usage in `chat`: the answer posted there, and the messages sent meanwhile to the sender's private chat. */
  async function usageIn(chat: Chat, from: typeof ALICE): Promise<{ text: string; privately: string[] }> {
    const start = fake.calls.length;
    const answer = fake.waitFor((c) => fake.calls.indexOf(c) >= start && c.method === "sendMessage" && c.params.chat_id === chat.id, 60_000);
    fake.sendCommand(chat, from, "/usage");
    const text = String((await answer).params.text);
    const privately = fake.calls.slice(start).filter((c) => c.method === "sendMessage" && c.params.chat_id === from.id).map((c) => String(c.params.text));
    return { text, privately };
  }

  it("an admin's /usage in a group shows the group no one else's counts: each person's go to the admin's private chat", async () => {
    expect(await save(GROUP, BOB, "bob")).toContain("Saved");
    expect(await meme(GROUP, BOB)).toBe("made");
    expect(await meme(GROUP, BOB)).toBe("made");
    expect(await save(GROUP, ALICE, "alice")).toContain("Saved");
    expect(await meme(GROUP, ALICE)).toBe("made");

    const { text, privately } = await usageIn(GROUP, ALICE);
    // Her own line and the group's totals, but nobody's own counts.
    expect(text).toBe(
      "Today you made 1 meme of 50 allowed.\nYou can make another one now.\nSaved faces: 1.\nGroup today: 3 memes by 2 users.\nEach person's counts today: sent to you in our private chat.",
    );
    expect(privately).toEqual([`In “Memes”, each person's counts today:\nTop: user ${BOB.id} (Bob) (2), user ${ALICE.id} (Alice) (1)`]);

    // A member's /usage has no one else's counts: nothing is sent privately.
    const member = await usageIn(GROUP, BOB);
    expect(member.text).toBe("Today you made 2 memes of 50 allowed.\nYou can make another one now.\nSaved faces: 1.");
    expect(member.privately).toEqual([]);
  });

  it("an admin who never started a private chat with Mimic is told how to get each person's counts; the group still sees none", async () => {
    expect(await save(GROUP, BOB, "bob")).toContain("Saved");
    expect(await meme(GROUP, BOB)).toBe("made");
    fake.chatFailures.set(ALICE.id, { status: 403, description: "Forbidden: bot can't initiate conversation with a user" });

    const refused = await usageIn(GROUP, ALICE);
    expect(refused.text).toBe(
      "Today you made 0 memes of 50 allowed.\nTo make one, save a face first with /save <name> as a reply to a clear photo of your face.\nSaved faces: 0.\nGroup today: 1 meme by 1 user.\n" +
        `Start a private chat with me (t.me/${fake.botInfo.username}) and send /usage here again to get each person's counts today privately.`,
    );
    expect(refused.text).not.toContain(`user ${BOB.id}`);
    expect(refused.text).not.toContain("Bob");
    // Mimic did try: Telegram refused it.
    expect(fake.calls.some((c) => c.method === "sendMessage" && c.params.chat_id === ALICE.id)).toBe(true);

    // Once she has started the chat, /usage again delivers them.
    fake.chatFailures.delete(ALICE.id);
    const again = await usageIn(GROUP, ALICE);
    expect(again.text).toMatch(/\nEach person's counts today: sent to you in our private chat\.$/);
    expect(again.privately).toEqual([`In “Memes”, each person's counts today:\nTop: user ${BOB.id} (Bob) (1)`]);
  });

  it("echoes at most 40 characters of an unknown setting, so the answer fits a Telegram message", async () => {
    const answer = await say(GROUP, ALICE, `/config ${"k".repeat(4000)}`);
    expect(answer).toMatch(new RegExp(`^Unknown setting “${"k".repeat(40)}…”\\. Settings: enabled, `));
    expect(answer.length).toBeLessThan(300);
  });

  it("an administrator may change settings, a member may not; settings belong to a group, not a private chat", async () => {
    expect(await say(GROUP, BOB, "/config quota 5")).toMatch(/Only group admins/);
    expect((await rules()).dailyQuotaPerUser).not.toBe(5);
    fake.memberStatus.set(`${GROUP.id}:${BOB.id}`, "administrator");
    expect(await say(GROUP, BOB, "/config quota 5")).toContain("quota: 5 per user per day");
    expect((await rules()).dailyQuotaPerUser).toBe(5);
    expect(await say(ALICE_DM, ALICE, "/config quota 7")).toMatch(/Settings belong to a group: use this command there/);
    expect((await rules()).dailyQuotaPerUser).toBe(5);
  });

  it("enabled off (/usage says so too), a channel setting in a group without topics, a cooldown and max_faces refuse; switching back lets work through", async () => {
    expect(await save(GROUP, BOB, "bob")).toContain("Saved");

    expect(await say(GROUP, ALICE, "/config enabled off")).toContain("enabled: off");
    expect(await meme(GROUP, BOB)).toBe("Mimic is switched off in this group. An admin can turn it back on.");
    expect(await say(GROUP, BOB, "/usage")).toBe("Today you made 0 memes of 50 allowed.\nMimic is switched off in this group. An admin can turn it back on.\nSaved faces: 1.");
    expect(await save(GROUP, BOB, "two")).toMatch(/switched off/);
    expect(await say(GROUP, ALICE, "/config enabled on")).toContain("enabled: on");
    expect(await say(GROUP, BOB, "/usage")).toBe("Today you made 0 memes of 50 allowed.\nYou can make another one now.\nSaved faces: 1.");

    // A group without topics has no other place to name: refused, and nothing is stored.
    expect(await say(GROUP, ALICE, "/config channel add -100999")).toBe(NO_TOPICS_REPLY);
    expect(await say(GROUP, ALICE, "/config channel add")).toBe(NO_TOPICS_REPLY);
    expect((await rules()).allowedChannels).toEqual([]);
    expect(await meme(GROUP, BOB)).toBe("made");

    expect(await say(GROUP, ALICE, "/config cooldown 3600")).toContain("cooldown: 1 h");
    // Bob's last meme was just now.
    expect(await meme(GROUP, BOB)).toMatch(/Slow down a little: you can make the next one in 1 h\./);
    expect(await say(GROUP, ALICE, "/config cooldown 0")).toContain("cooldown: none");
    expect(await meme(GROUP, BOB)).toBe("made");

    expect(await say(GROUP, ALICE, "/config max_faces 1")).toContain("max_faces: 1 per user (set here; default 10); saving a face here is refused to anyone who has that many, wherever they saved them");
    // One face in the singular, and what the group's limit caps: saving here, counting the faces saved anywhere.
    expect(await save(GROUP, BOB, "two")).toBe(
      "You already have 1 saved face, and this group lets you save one here only while you have none. Your faces are yours wherever you use Mimic, so those saved elsewhere count too. To save another, delete one first (see /faces).",
    );
    expect(await faces(BOB)).toEqual(["bob"]);
  });
});

describe("Telegram: forum topics (real grammY, core and queue)", () => {
  let fake: FakeTelegram;
  let app: TestApp;
  let bot: TelegramBot;
  const FORUM = { ...GROUP, is_forum: true };
  const topicStart = { message_id: 500, date: 0, chat: FORUM, from: BOB, message_thread_id: 500, forum_topic_created: { name: "Memes", icon_color: 0 } };
  const inTopic = { message_thread_id: 500, is_topic_message: true, reply_to_message: topicStart };

  beforeEach(async () => {
    // Each job takes a while, so that memes sent together wait in line and hear their place in it.
    process.env.MIMIC_TEST_JOB_DELAY_MS = "1000";
    fake = await FakeTelegram.start();
    app = await startTestApp({}, { handlers: DOUBLE_HANDLERS });
    bot = createTelegramBot({ core: app.core, token: fake.token, apiRoot: fake.apiRoot, refusalQuietMs: 0 });
    await bot.start();
  });

  afterEach(async () => {
    delete process.env.MIMIC_TEST_JOB_DELAY_MS;
    await bot?.stop();
    await app?.close();
    await fake?.close();
  });

  it("the channel setting names this group's topics: added from inside a topic or by id; elsewhere /meme and /usage say so", async () => {
    delete process.env.MIMIC_TEST_JOB_DELAY_MS;
    fake.memberStatus.set(`${GROUP.id}:${ALICE.id}`, "creator");
    const General = {};
    const topic = (id: number) => ({ message_thread_id: id, is_topic_message: true, reply_to_message: { ...topicStart, message_id: id, message_thread_id: id } });
    const sayIn = async (where: Record<string, unknown>, from: typeof ALICE, text: string) => {
      const reply = fake.nextCall("sendMessage", 60_000);
      fake.sendMessage(FORUM, from, { text, entities: [{ type: "bot_command", offset: 0, length: text.split(" ")[0]!.length }], ...where });
      return String((await reply).params.text);
    };
    const memeIn = async (where: Record<string, unknown>) => {
      const reaction = fake.sendPhoto(FORUM, BOB, fake.addFile(REACTION_LAUGH_JPG), where);
      const answer = fake.nextCall(["sendPhoto", "sendMessage"], 60_000);
      fake.sendMessage(FORUM, BOB, { text: "/meme", entities: [{ type: "bot_command", offset: 0, length: 5 }], ...where, reply_to_message: reaction });
      const call = await answer;
      return call.method === "sendPhoto" ? "made" : String(call.params.text);
    };
    expect(await sayIn(topic(500), BOB, "/save bob")).toBe("Send /save bob as a reply to a photo of your face, or as the photo's caption.");
    const face = fake.sendPhoto(FORUM, BOB, fake.addFile(FACE_JPG), topic(500));
    const saved = fake.nextCall("sendMessage", 60_000);
    fake.sendMessage(FORUM, BOB, { text: "/save bob", entities: [{ type: "bot_command", offset: 0, length: 5 }], ...topic(500), reply_to_message: face });
    expect(String((await saved).params.text)).toContain("Saved your face “bob”");

    // Telegram apps show no topic ids: each topic is named with its link too.
    const T500 = "topic 500 (https://t.me/c/555/500)";
    const T700 = "topic 700 (https://t.me/c/555/700)";
    expect(await sayIn(topic(500), ALICE, "/config channel add")).toContain(`• channel: ${T500}\n`);
    expect(await memeIn(topic(500))).toBe("made");
    // Where to ask instead is named: the allowed topics.
    const elsewhere = `Mimic doesn't answer in this topic here. Ask in ${T500}.`;
    expect(await memeIn(topic(700))).toBe(elsewhere);
    expect(await memeIn(General)).toBe(elsewhere);
    expect(await sayIn(General, BOB, "/usage")).toBe(`Today you made 1 meme of 50 allowed.\n${elsewhere}\nSaved faces: 1.`);
    // Another chat's id is no topic of this group; a topic's id and the General topic (from inside it) are.
    expect(await sayIn(General, ALICE, "/config channel add -100999")).toBe(
      "“-100999” is not a topic of this group. Send /config channel add inside the topic, or give the topic's id (the number after the group's in a link to the topic).",
    );
    expect(await sayIn(General, ALICE, "/config channel add 700")).toContain(`• channel: ${T500}, ${T700}\n`);
    // The words in any case: "Add" inside a topic (here General) names it, as "add" does.
    expect(await sayIn(General, ALICE, "/config CHANNEL Add")).toContain(`• channel: ${T500}, ${T700}, General\n`);
    expect(await memeIn(topic(700))).toBe("made");
    expect(await memeIn(General)).toBe("made");
    expect(await sayIn(topic(500), ALICE, "/config channel REMOVE")).toContain(`• channel: ${T700}, General\n`);
    expect(await memeIn(topic(500))).toBe(`Mimic doesn't answer in this topic here. Ask in ${T700} or General.`);
    expect(await sayIn(topic(500), ALICE, "/config channel all")).toContain("• channel: all\n");
    expect(await memeIn(topic(500))).toBe("made");
  });

  it("answers in the topic a command came from: help, chat actions, the queue's position message and the results", async () => {
    const from = fake.calls.length;
    const help = fake.nextCall("sendMessage");
    fake.sendMessage(FORUM, ALICE, { text: "/help", entities: [{ type: "bot_command", offset: 0, length: 5 }], ...inTopic });
    expect((await help).params).toMatchObject({ chat_id: GROUP.id, message_thread_id: 500 });

    const saved = fake.answerTo(fake.sendCommand(ALICE_DM, ALICE, "/save me", fake.sendPhoto(ALICE_DM, ALICE, fake.addFile(FACE_JPG))), "sendMessage", 60_000);
    expect(String((await saved).params.text)).toContain("Saved");

    const memes = [1, 2, 3].map(() => {
      const m = fake.sendPhoto(FORUM, ALICE, fake.addFile(REACTION_LAUGH_JPG), {
        ...inTopic,
        caption: "/meme hi",
        caption_entities: [{ type: "bot_command", offset: 0, length: 5 }],
      });
      return Number(m.message_id);
    });
    const results = await Promise.all(memes.map((id) => fake.waitFor((c) => c.method === "sendPhoto" && (c.params.reply_parameters as { message_id: number }).message_id === id, 60_000)));
    expect(results).toHaveLength(3);
    const inGroup = fake.calls.slice(from).filter((c) => c.params.chat_id === GROUP.id && ["sendMessage", "sendPhoto", "sendChatAction"].includes(c.method));
    // The third meme waited behind two: its place in the line was posted, as a reply to its own command (whose place it is).
    const place = inGroup.find((c) => c.method === "sendMessage" && /In the queue: position/.test(String(c.params.text)));
    expect((place?.params.reply_parameters as { message_id?: number } | undefined)?.message_id).toBe(memes[2]);
    expect(inGroup.some((c) => c.method === "sendChatAction")).toBe(true);
    expect(inGroup.filter((c) => c.params.message_thread_id !== 500).map((c) => `${c.method} ${JSON.stringify(c.params.text ?? "")}`)).toEqual([]);
  });
});
