import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTelegramBot, type TelegramBot } from "../../src/bots/telegram/bot.ts";
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
    bot = createTelegramBot({ core: app.core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
    fake.memberStatus.set(`${GROUP.id}:${ALICE.id}`, "creator");
  });

  afterEach(async () => {
    await bot?.stop();
    await app?.close();
    await fake?.close();
  });

  /** The bot's text answer to a command (a refusal, a confirmation). */
  async function say(chat: Chat, from: typeof ALICE, text: string, replyTo?: Record<string, unknown>): Promise<string> {
    const reply = fake.nextCall("sendMessage", 60_000);
    fake.sendCommand(chat, from, text, replyTo);
    return String((await reply).params.text);
  }

  /** /meme as a reply to a reaction photo: "made" when a picture comes back, else the refusal's text. */
  async function meme(chat: Chat, from: typeof ALICE): Promise<string> {
    const reaction = fake.sendPhoto(chat, from, fake.addFile(REACTION_LAUGH_JPG));
    const answer = fake.nextCall(["sendPhoto", "sendMessage"], 60_000);
    fake.sendCommand(chat, from, "/meme", reaction);
    const call = await answer;
    return call.method === "sendPhoto" ? "made" : String(call.params.text);
  }

  const save = (chat: Chat, from: typeof ALICE, name: string) => say(chat, from, `/save ${name}`, fake.sendPhoto(chat, from, fake.addFile(FACE_JPG)));
  const faces = async (user: typeof ALICE) => (await app.app.store.templates.list({ platform: "telegram", userId: String(user.id) })).map((t) => t.name);
  const rules = () => app.app.store.moderation.rules("telegram", String(GROUP.id));

  it("ban and unban: only group admins; a banned user can neither meme nor save here, but still can in private", async () => {
    expect(await save(GROUP, BOB, "bob")).toContain("Saved your face “bob”");
    expect(await say(GROUP, BOB, `/config ban ${ALICE.id}`)).toMatch(/Only server admins/);
    expect(await say(GROUP, ALICE, `/config ban ${BOB.id}`)).toContain("Updated “ban”");

    expect(await meme(GROUP, BOB)).toMatch(/An admin of this server has blocked you from using Mimic here/);
    expect(await save(GROUP, BOB, "second")).toMatch(/blocked you/);
    expect(await faces(BOB)).toEqual(["bob"]);
    // The ban is this group's: in a private chat Bob is welcome.
    expect(await meme(BOB_DM, BOB)).toBe("made");
    // Alice is not banned.
    expect(await save(GROUP, ALICE, "alice")).toContain("Saved your face “alice”");
    expect(await meme(GROUP, ALICE)).toBe("made");

    expect(await say(GROUP, ALICE, `/config unban ${BOB.id}`)).toContain("Updated “unban”");
    expect(await say(GROUP, ALICE, `/config unban ${BOB.id}`)).toBe(`User ${BOB.id} was not banned here.`);
    expect(await meme(GROUP, BOB)).toBe("made");
  });

  it("bans by replying to the user's message, refuses an @username and a self-ban, and lists the bans in the settings", async () => {
    expect(await save(GROUP, BOB, "bob")).toContain("Saved");
    // A bot cannot look up @bob: refused with the way that works, and nobody is banned.
    expect(await say(GROUP, ALICE, "/config ban @bob")).toBe("Bots cannot look up @bob by name. Reply to one of their messages with /config ban, or give their numeric user id.");
    expect(await say(GROUP, ALICE, `/config ban ${ALICE.id}`)).toBe("You cannot ban yourself.");
    expect(await say(GROUP, ALICE, "/config")).not.toContain("banned");
    expect(await meme(GROUP, BOB)).toBe("made");

    const bobsMessage = fake.sendPhoto(GROUP, BOB, fake.addFile(FACE_JPG));
    const banned = await say(GROUP, ALICE, "/config ban", bobsMessage);
    expect(banned).toContain("Updated “ban”");
    expect(banned).toContain(`• banned: user ${BOB.id}`);
    expect(await meme(GROUP, BOB)).toMatch(/blocked you/);
    expect(await say(GROUP, ALICE, "/config unban", bobsMessage)).not.toContain("banned:");
    expect(await meme(GROUP, BOB)).toBe("made");
    // Replying to a message does not stand in for another setting's value.
    expect(await say(GROUP, ALICE, "/config quota", bobsMessage)).toMatch(/Give a value for “quota”/);
  });

  it("an administrator may change settings, a member may not; settings belong to a group, not a private chat", async () => {
    expect(await say(GROUP, BOB, "/config quota 5")).toMatch(/Only server admins/);
    expect((await rules()).dailyQuotaPerUser).not.toBe(5);
    fake.memberStatus.set(`${GROUP.id}:${BOB.id}`, "administrator");
    expect(await say(GROUP, BOB, "/config quota 5")).toContain("quota: 5 per user per day");
    expect((await rules()).dailyQuotaPerUser).toBe(5);
    expect(await say(ALICE_DM, ALICE, "/config quota 7")).toMatch(/Settings belong to a server or group/);
    expect((await rules()).dailyQuotaPerUser).toBe(5);
  });

  it("enabled off, a channel list without this group, a cooldown and max_faces refuse; switching back lets work through", async () => {
    expect(await save(GROUP, BOB, "bob")).toContain("Saved");

    expect(await say(GROUP, ALICE, "/config enabled off")).toContain("enabled: off");
    expect(await meme(GROUP, BOB)).toMatch(/Mimic is switched off on this server/);
    expect(await save(GROUP, BOB, "two")).toMatch(/switched off/);
    expect(await say(GROUP, ALICE, "/config enabled on")).toContain("enabled: on");

    expect(await say(GROUP, ALICE, "/config channel add -100999")).toContain("channels: chat -100999");
    expect(await meme(GROUP, BOB)).toMatch(/doesn't answer in this channel/);
    expect(await say(GROUP, ALICE, `/config channel add ${GROUP.id}`)).toContain(`channels: chat -100999, chat ${GROUP.id}`);
    expect(await meme(GROUP, BOB)).toBe("made");
    expect(await say(GROUP, ALICE, "/config channel all")).toContain("channels: all");

    expect(await say(GROUP, ALICE, "/config cooldown 3600")).toContain("cooldown: 3600 s");
    // Bob's last meme was just now.
    expect(await meme(GROUP, BOB)).toMatch(/Slow down a little: you can make the next one in 1 h\./);
    expect(await say(GROUP, ALICE, "/config cooldown 0")).toContain("cooldown: none");
    expect(await meme(GROUP, BOB)).toBe("made");

    expect(await say(GROUP, ALICE, "/config max_faces 1")).toContain("max_faces: 1 per user");
    expect(await save(GROUP, BOB, "two")).toMatch(/You already have 1 saved faces, the most allowed here is 1/);
    expect(await faces(BOB)).toEqual(["bob"]);
  });
});
