import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ANONYMOUS_USAGE_REPLY, createTelegramBot, type TelegramBot } from "../../src/bots/telegram/bot.ts";
import { logger } from "../../src/logger.ts";
import { FakeTelegram } from "../helpers/fake-telegram.ts";
import { DOUBLE_HANDLERS, startTestApp, type TestApp } from "./harness.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";

/**
 * What a group reads of Mimic's admin controls: refusals that stand are said once a while, not at every attempt;
 * an admin changes only what Telegram's admin rights let them; anonymous admins get answers that fit. Real grammY
 * against the fake Bot API, the real core, store and queue (double handlers).
 */

const GROUP = { id: -100555, type: "supergroup" as const, title: "Memes" };
const FORUM = { ...GROUP, is_forum: true };
const ALICE = { id: 11, is_bot: false as const, first_name: "Alice" };
const BOB = { id: 22, is_bot: false as const, first_name: "Bob" };
const CAROL = { id: 33, is_bot: false as const, first_name: "Carol" };
const DAVE = { id: 44, is_bot: false as const, first_name: "Dave" };
/** Telegram's placeholder sender of an anonymous admin's message, which is posted as the group. */
const GROUP_ANONYMOUS_BOT = { id: 1087968824, is_bot: false as const, first_name: "Group", username: "GroupAnonymousBot" };
const AS_GROUP = { sender_chat: { id: GROUP.id, type: "supergroup", title: GROUP.title } };
type Chat = typeof GROUP | typeof FORUM;
type User = typeof ALICE;

const CHANGE_REFUSED =
  "Changing Mimic's settings here takes the “Change Group Info” admin right, which you don't have in this group. The group's owner (or an admin who may add admins) can give it to you; /config alone still shows the settings.";
const BAN_REFUSED =
  "Banning or unbanning people from Mimic here takes the “Ban Users” admin right, which you don't have in this group. The group's owner (or an admin who may add admins) can give it to you; /config alone still shows the settings.";

describe("Telegram: a group's admin controls (real grammY, store and queue)", () => {
  let fake: FakeTelegram;
  let app: TestApp;
  let bot: TelegramBot;

  const startBot = async (refusalQuietMs?: number) => {
    bot = createTelegramBot({ core: app.core, token: fake.token, apiRoot: fake.apiRoot, refusalQuietMs });
    await bot.start();
  };

  beforeEach(async () => {
    fake = await FakeTelegram.start();
    app = await startTestApp({}, { handlers: DOUBLE_HANDLERS });
    await startBot();
    fake.memberStatus.set(`${GROUP.id}:${ALICE.id}`, "creator");
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await bot?.stop();
    await app?.close();
    await fake?.close();
  });

  const command = (text: string, extra: Record<string, unknown> = {}) => ({ text, entities: [{ type: "bot_command", offset: 0, length: text.split(" ")[0]!.length }], ...extra });

  /** The bot's text answer to a command. */
  async function say(chat: Chat, from: User, text: string, extra: Record<string, unknown> = {}): Promise<string> {
    return String((await fake.answerTo(fake.sendMessage(chat, from, command(text, extra)), "sendMessage", 60_000)).params.text);
  }

  const save = async (from: User) => {
    const face = fake.sendPhoto(GROUP, from, fake.addFile(FACE_JPG));
    expect(await say(GROUP, from, "/save me", { reply_to_message: face })).toContain("Saved your face");
  };

  /** /meme as a reply to a reaction photo, as `from` in `chat`: the command sent. */
  function sendMeme(chat: Chat, from: User, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const reaction = fake.sendPhoto(chat, from, fake.addFile(REACTION_LAUGH_JPG), extra);
    return fake.sendMessage(chat, from, command("/meme", { ...extra, reply_to_message: reaction }));
  }

  /** The answer to a /meme: "made" for a picture, else its text (with the topic it went to). */
  async function meme(chat: Chat, from: User, extra: Record<string, unknown> = {}): Promise<string> {
    const call = await fake.answerTo(sendMeme(chat, from, extra), ["sendPhoto", "sendMessage"], 60_000);
    return call.method === "sendPhoto" ? "made" : String(call.params.text);
  }

  /** Sends /meme and waits until the adapter has decided to keep its refusal back: true where nothing was said. */
  async function silentMeme(chat: Chat, from: User, debug: ReturnType<typeof vi.spyOn>, extra: Record<string, unknown> = {}): Promise<boolean> {
    const kept = debug.mock.calls.length;
    const sent = sendMeme(chat, from, extra);
    await expect.poll(() => debug.mock.calls.length, { timeout: 30_000 }).toBeGreaterThan(kept);
    return !fake.calls.some((c) => (c.params.reply_parameters as { message_id?: number } | undefined)?.message_id === sent.message_id);
  }

  it("in a group, a refusal that stands is said to each user once a while, not at every attempt (switched off, banned)", async () => {
    const debug = vi.spyOn(logger, "debug");
    for (const user of [BOB, CAROL, DAVE]) await save(user);

    // Switched off: Bob hears it once; his next /meme and /save say nothing; Carol still hears it once herself.
    expect(await say(GROUP, ALICE, "/config enabled off")).toContain("enabled: off");
    expect(await meme(GROUP, BOB)).toBe("Mimic is switched off in this group. An admin can turn it back on.");
    expect(await silentMeme(GROUP, BOB, debug)).toBe(true);
    const kept = debug.mock.calls.length;
    const saveAgain = fake.sendMessage(GROUP, BOB, command("/save two", { reply_to_message: fake.sendPhoto(GROUP, BOB, fake.addFile(FACE_JPG)) }));
    await expect.poll(() => debug.mock.calls.length, { timeout: 30_000 }).toBeGreaterThan(kept);
    expect(fake.calls.some((c) => (c.params.reply_parameters as { message_id?: number } | undefined)?.message_id === saveAgain.message_id)).toBe(false);
    expect(await meme(GROUP, CAROL)).toMatch(/switched off/);
    // /usage is asked for: it still says so.
    expect(await say(GROUP, BOB, "/usage")).toMatch(/\nMimic is switched off in this group/);
    expect(await say(GROUP, ALICE, "/config enabled on")).toContain("enabled: on");

    // Banned: told once, then nothing.
    expect(await say(GROUP, ALICE, `/config ban ${DAVE.id}`)).toContain(`Banned user ${DAVE.id}`);
    expect(await meme(GROUP, DAVE)).toBe("An admin of this group has blocked you from using Mimic here.");
    expect(await silentMeme(GROUP, DAVE, debug)).toBe(true);
    expect(await say(GROUP, ALICE, `/config unban ${DAVE.id}`)).toContain("Lifted the ban");
  });

  it("in a forum, a topic the admins left out is said once a while, naming the allowed topics by their links; a refusal is said again once the quiet is over", async () => {
    await bot.stop();
    await startBot(1500);
    const debug = vi.spyOn(logger, "debug");
    await save(BOB);
    const topic = (id: number) => ({ message_thread_id: id, is_topic_message: true });
    expect(await say(FORUM, ALICE, "/config channel add 500")).toContain("• channel: topic 500 (https://t.me/c/555/500)\n");
    const refusal = "Mimic doesn't answer in this topic here. Ask in topic 500 (https://t.me/c/555/500).";
    const told = await fake.answerTo(sendMeme(FORUM, BOB, topic(700)), "sendMessage", 60_000);
    expect(told.params).toMatchObject({ text: refusal, message_thread_id: 700 });
    expect(await silentMeme(FORUM, BOB, debug, topic(700))).toBe(true);
    await new Promise((r) => setTimeout(r, 1600));
    expect(await meme(FORUM, BOB, topic(700))).toBe(refusal);
    expect(await meme(FORUM, BOB, topic(500))).toBe("made");
  });

  it("an admin changes only what Telegram's admin rights allow: Change Group Info for settings, Ban Users for bans; any admin may look", async () => {
    const rules = () => app.app.store.moderation.rules("telegram", String(GROUP.id));
    const bans = async () => (await app.app.store.moderation.bans({ platform: "telegram", serverId: String(GROUP.id), isAdmin: true })).map((b) => b.userId);
    const rights = (r: Record<string, boolean>) => fake.memberRights.set(`${GROUP.id}:${BOB.id}`, r);
    fake.sendMessage(GROUP, CAROL, { text: "hi" });

    // An admin with a title and no right.
    fake.memberStatus.set(`${GROUP.id}:${BOB.id}`, "administrator");
    rights({ can_change_info: false, can_restrict_members: false, can_delete_messages: false, can_pin_messages: false, can_invite_users: false, can_manage_topics: false, can_manage_chat: false });
    expect(await say(GROUP, BOB, "/config quota 5")).toBe(CHANGE_REFUSED);
    expect(await say(GROUP, BOB, "/config channel add")).toBe(CHANGE_REFUSED);
    expect(await say(GROUP, BOB, `/config ban ${CAROL.id}`)).toBe(BAN_REFUSED);
    expect(await say(GROUP, BOB, "/config unban", { reply_to_message: { message_id: 1, date: 0, chat: GROUP, from: CAROL, text: "hi" } })).toBe(BAN_REFUSED);
    expect((await rules()).dailyQuotaPerUser).not.toBe(5);
    expect(await bans()).toEqual([]);
    // Looking needs no right: the settings, the group's usage, the audit trail; a mistyped setting hears the core.
    expect(await say(GROUP, BOB, "/config")).toMatch(/^Mimic settings for this group/);
    expect(await say(GROUP, BOB, "/usage")).toMatch(/\nGroup today: /);
    expect(await say(GROUP, BOB, `/audit ${"a".repeat(64)}`)).toMatch(/^No picture with SHA-256 aaaaaaaaaaaa… was made or used here/);
    expect(await say(GROUP, BOB, "/config colour red")).toMatch(/^Unknown setting “colour”/);

    // Change Group Info: settings, but still no bans.
    rights({ can_change_info: true, can_restrict_members: false });
    expect(await say(GROUP, BOB, "/config quota 5")).toContain("quota: 5 per user per day");
    expect(await say(GROUP, BOB, `/config ban ${CAROL.id}`)).toBe(BAN_REFUSED);
    expect(await bans()).toEqual([]);

    // Ban Users: bans, but no settings.
    rights({ can_change_info: false, can_restrict_members: true });
    expect(await say(GROUP, BOB, `/config ban ${CAROL.id}`)).toMatch(new RegExp(`^Banned user ${CAROL.id} \\(Carol\\)`));
    expect(await say(GROUP, BOB, "/config quota 7")).toBe(CHANGE_REFUSED);
    expect(await bans()).toEqual([String(CAROL.id)]);
    expect((await rules()).dailyQuotaPerUser).toBe(5);

    // The group's creator holds every right.
    expect(await say(GROUP, ALICE, "/config quota 7")).toContain("quota: 7 per user per day");
    expect(await say(GROUP, ALICE, `/config unban ${CAROL.id}`)).toMatch(/^Lifted the ban/);
  });

  it("an anonymous admin: /audit answers as /config does, with the names kept back; /usage says how to get one", async () => {
    const anonymous = (text: string) => say(GROUP, GROUP_ANONYMOUS_BOT, text, AS_GROUP);
    await save(BOB);
    const made = await fake.answerTo(sendMeme(GROUP, BOB), "sendPhoto", 60_000);
    const result = made.result as { message_id: number };

    expect(await anonymous("/usage")).toBe(ANONYMOUS_USAGE_REPLY);
    const start = fake.calls.length;
    expect(await anonymous("/audit")).toBe("Reply to the picture with /audit.");
    // As a reply to Mimic's result: found by its message (noted just after it was sent).
    const auditOf = () => say(GROUP, GROUP_ANONYMOUS_BOT, "/audit", { ...AS_GROUP, reply_to_message: { message_id: result.message_id, date: 0, chat: GROUP, from: fake.botInfo } });
    await expect.poll(auditOf, { timeout: 30_000 }).toMatch(/^SHA-256 /);
    const found = await auditOf();
    expect(found).toMatch(/^SHA-256 [0-9a-f]{12}…: in the audit trail \(1 entry\)\.\nSend \/audit as yourself \(not anonymously\) to get the people who made or used that picture in our private chat\.$/);
    expect(found).not.toContain("Bob");
    // Nothing was tried in the placeholder's name.
    expect(fake.calls.slice(start).filter((c) => c.params.chat_id === GROUP_ANONYMOUS_BOT.id || c.params.user_id === GROUP_ANONYMOUS_BOT.id)).toEqual([]);

    // /config's ban list alike: no private chat is the placeholder's.
    expect(await say(GROUP, ALICE, `/config ban ${CAROL.id}`)).toContain("Banned");
    expect(await anonymous("/config")).toMatch(/\n• banned: 1 person\n[\s\S]*\nSend \/config as yourself \(not anonymously\) to get who is banned in our private chat\.$/);
  });
});
