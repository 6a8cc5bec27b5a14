import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ANONYMOUS_SENDER_REPLY,
  ANONYMOUS_USAGE_REPLY,
  BUTTON_NOT_YOURS,
  FLOOD_RETRIES,
  NO_MEDIA_RIGHTS_REPLY,
  noPictureRightsReply,
  TOPIC_GONE_REPLY,
  SENT_PRIVATELY_NOTE,
  TELEGRAM_PROBLEM_REPLY,
  TOAST_MAX_CHARS,
  UPLOAD_REFUSED_REPLY,
  UPLOAD_TOO_LARGE_REPLY,
  UPLOAD_UNCERTAIN_REPLY,
  buttonData,
  createTelegramBot,
  floodReply,
  topicClosedReply,
  type TelegramBot,
} from "../../src/bots/telegram/bot.ts";
import type { CommandContext, Core, Reply, ReplyFile } from "../../src/core/index.ts";
import { FakeTelegram, uploadedFile } from "../helpers/fake-telegram.ts";

/**
 * Adapter-only scenarios (real grammY against the fake Bot API) with a recording core: what matters here
 * is WHO the adapter acts for and what it sends, not the pipeline.
 */

const GROUP = { id: -100777, type: "supergroup" as const, title: "Memes" };
const ALICE = { id: 11, is_bot: false as const, first_name: "Alice" };
const BOB = { id: 22, is_bot: false as const, first_name: "Bob" };
/** Telegram's placeholder senders for messages posted on behalf of a chat. */
const GROUP_ANONYMOUS_BOT = { id: 1087968824, is_bot: false as const, first_name: "Group" };
const CHANNEL_BOT = { id: 136817688, is_bot: false as const, first_name: "Channel" };

interface CoreCall {
  method: keyof Core;
  ctx: CommandContext;
  input?: unknown;
}

/** A Core that records who each call is for and answers from `replies` (or a plain text). */
function recordingCore(calls: CoreCall[], replies: Partial<Record<keyof Core, (ctx: CommandContext) => Reply>> = {}): Core {
  const answer = (method: keyof Core) => async (ctx: CommandContext, input?: unknown): Promise<Reply> => {
    calls.push({ method, ctx, input });
    return replies[method]?.(ctx) ?? { text: `${method} for ${ctx.userId}`, ephemeral: false };
  };
  return {
    meme: answer("meme"),
    morph: answer("morph"),
    faceSave: answer("faceSave"),
    faceList: answer("faceList"),
    faceThumbnail: answer("faceThumbnail"),
    faceRemove: answer("faceRemove"),
    faceDefault: answer("faceDefault"),
    faceRename: answer("faceRename"),
    forgetMe: answer("forgetMe"),
    usage: answer("usage"),
    config: answer("config"),
    audit: answer("audit"),
    templateNames: async () => [],
    serverMoved: async () => undefined,
  };
}

describe("Telegram adapter: who a command acts for", () => {
  let fake: FakeTelegram;
  let bot: TelegramBot;
  let calls: CoreCall[];
  /** The file the recording core's meme() answers with. */
  let memeFile: ReplyFile | undefined;
  let undelivered: () => Promise<void>;
  /** What the recording core's forgetMe() answers, where a test sets it. */
  let forgetReply: Reply | undefined;

  beforeEach(async () => {
    fake = await FakeTelegram.start();
    calls = [];
    memeFile = undefined;
    forgetReply = undefined;
    undelivered = vi.fn(async () => undefined);
    const core = recordingCore(calls, {
      meme: () => ({ text: "", ephemeral: false, file: memeFile, undelivered }),
      faceList: (ctx) => ({ text: `faces of ${ctx.userId}`, ephemeral: false, templates: [{ name: "me", isDefault: true }] }),
      forgetMe: (ctx) => forgetReply ?? { text: `forgetMe for ${ctx.userId}`, ephemeral: false },
    });
    bot = createTelegramBot({ core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
  });

  it("/forget's question has its buttons, a refusal none: Yes would delete what the user was never shown", async () => {
    forgetReply = { text: "Mimic's database is not answering. Please try again in a moment.", ephemeral: true, errorCode: "BUSY" };
    const refused = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, ALICE, "/forget");
    expect((await refused).params.text).toBe(forgetReply.text);
    expect((await refused).params.reply_markup).toBeUndefined();
    forgetReply = undefined;
    const asked = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, ALICE, "/forget");
    expect((await asked).params.reply_markup).toBeDefined();
  });

  afterEach(async () => {
    await bot?.stop();
    await fake?.close();
  });

  it("a member a group's \"no media\" restriction keeps from posting pictures gets no meme posted for them there; one allowed photos does", async () => {
    const reaction = fake.sendPhoto(GROUP, BOB, fake.addFile(new Uint8Array(16)));
    fake.memberStatus.set(`${GROUP.id}:${ALICE.id}`, "restricted");
    const refused = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, ALICE, "/meme hi |", reaction);
    expect((await refused).params.text).toBe(NO_MEDIA_RIGHTS_REPLY);
    expect(calls.filter((c) => c.method === "meme")).toEqual([]);
    // Restricted in other ways, but allowed photos: the meme is made.
    fake.memberRights.set(`${GROUP.id}:${ALICE.id}`, { can_send_photos: true });
    const made = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, ALICE, "/meme hi |", reaction);
    expect((await made).params.text).not.toBe(NO_MEDIA_RIGHTS_REPLY);
    expect(calls.filter((c) => c.method === "meme")).toHaveLength(1);
    // A member not restricted at all: no change.
    fake.memberStatus.delete(`${GROUP.id}:${ALICE.id}`);
    const again = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, ALICE, "/morph", reaction);
    expect((await again).params.text).toBe(`morph for ${ALICE.id}`);
  });

  it("a channel's post Telegram forwards into its discussion group is nobody's command there: nothing is said", async () => {
    const SERVICE = { id: 777000, is_bot: false as const, first_name: "Telegram" };
    const channel = { id: -100999, type: "channel", title: "News" };
    fake.sendMessage(GROUP, SERVICE, { text: "/meme today's news", entities: [{ type: "bot_command", offset: 0, length: 5 }], is_automatic_forward: true, sender_chat: channel });
    // The next thing said in the group answers the next command.
    const next = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, ALICE, "/usage");
    expect((await next).params.text).toBe(`usage for ${ALICE.id}`);
    expect(calls.map((c) => c.method)).toEqual(["usage"]);
    expect(fake.calls.filter((c) => c.method === "sendMessage").map((c) => c.params.text)).toEqual([`usage for ${ALICE.id}`]);
  });

  it("refuses every command posted by an anonymous admin or as a channel (but /config and /audit from an anonymous admin)", async () => {
    const asGroup = { sender_chat: { id: GROUP.id, type: "supergroup", title: GROUP.title } };
    const asChannel = { sender_chat: { id: -100999, type: "channel", title: "News" } };
    for (const [from, senderChat, commands] of [
      [GROUP_ANONYMOUS_BOT, asGroup, ["/faces", "/forget", "/save me", "/meme hi"]],
      [CHANNEL_BOT, asChannel, ["/faces", "/usage", "/forget", "/config quota 1", "/save me", "/meme hi"]],
    ] as const) {
      for (const text of commands) {
        const reply = fake.nextCall("sendMessage");
        fake.sendMessage(GROUP, from, { text, entities: [{ type: "bot_command", offset: 0, length: text.split(" ")[0].length }], ...senderChat });
        const call = await reply;
        expect(call.params.text, text).toBe(ANONYMOUS_SENDER_REPLY);
        expect(call.params.reply_markup, text).toBeUndefined();
      }
    }
    // An anonymous admin's usage would be the placeholder's, which every anonymous admin shares: how to see one's own.
    const usage = fake.nextCall("sendMessage");
    fake.sendMessage(GROUP, GROUP_ANONYMOUS_BOT, { text: "/usage", entities: [{ type: "bot_command", offset: 0, length: 6 }], ...asGroup });
    expect((await usage).params.text).toBe(ANONYMOUS_USAGE_REPLY);
    expect(calls).toEqual([]);

    // The same person posting as themself is served.
    let reply = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, ALICE, "/usage");
    expect((await reply).params.text).toBe("usage for 11");

    // Only a group's admins can post as the group itself: /config is theirs, without a getChatMember (which
    // knows no anonymous admin).
    calls.length = 0;
    const from = fake.calls.length;
    reply = fake.nextCall("sendMessage");
    fake.sendMessage(GROUP, GROUP_ANONYMOUS_BOT, { text: "/config quota 1", entities: [{ type: "bot_command", offset: 0, length: 7 }], ...asGroup });
    expect((await reply).params.text).toBe(`config for ${GROUP_ANONYMOUS_BOT.id}`);
    // With Mimic's own id, which the core refuses to ban.
    expect(calls.map((c) => [c.method, c.ctx.isAdmin, c.input])).toEqual([["config", true, { key: "quota", value: "1", facts: { botUserId: String(fake.botInfo.id), isAdmin: expect.any(Function) } }]]);
    expect(fake.calls.slice(from).filter((c) => c.method === "getChatMember")).toEqual([]);

    // /audit alike: who made a picture is the group's business.
    calls.length = 0;
    reply = fake.nextCall("sendMessage");
    fake.sendMessage(GROUP, GROUP_ANONYMOUS_BOT, { text: `/audit ${"a".repeat(64)}`, entities: [{ type: "bot_command", offset: 0, length: 6 }], ...asGroup });
    expect((await reply).params.text).toBe(`audit for ${GROUP_ANONYMOUS_BOT.id}`);
    expect(calls.map((c) => [c.method, c.ctx.isAdmin])).toEqual([["audit", true]]);
    expect(fake.calls.slice(from).filter((c) => c.method === "getChatMember")).toEqual([]);
  });

  it("inline buttons of /faces and /forget in a group act only for the user who asked", async () => {
    type Keyboard = { inline_keyboard: { text: string; callback_data: string }[][] };
    let reply = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, ALICE, "/faces");
    const list = await reply;
    const faceButtons = (list.params.reply_markup as Keyboard).inline_keyboard.flat().map((b) => b.callback_data);
    expect(faceButtons).toEqual(["def:11:me", "del:11:me"]);

    reply = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, ALICE, "/forget");
    const ask = await reply;
    const forgetButtons = (ask.params.reply_markup as Keyboard).inline_keyboard.flat().map((b) => b.callback_data);
    expect(forgetButtons).toEqual(["forget:11:yes", "forget:11:no"]);
    calls.length = 0;

    // Bob presses Alice's buttons: refused, nothing deleted for anyone, Alice's messages untouched.
    const listMessage = { message_id: 1, date: Math.floor(Date.now() / 1000), chat: GROUP, text: String(list.params.text) };
    const askMessage = { message_id: 2, date: Math.floor(Date.now() / 1000), chat: GROUP, text: String(ask.params.text) };
    for (const [message, data] of [
      [askMessage, "forget:11:yes"],
      [listMessage, "del:11:me"],
      [listMessage, "def:11:me"],
    ] as const) {
      const answer = fake.nextCall("answerCallbackQuery");
      fake.pressButton(GROUP, BOB, message, data);
      expect((await answer).params.text, data).toBe(BUTTON_NOT_YOURS);
    }
    expect(calls).toEqual([]);
    expect(fake.calls.filter((c) => c.method === "editMessageText")).toEqual([]);

    // Alice's own press works, for Alice.
    const edit = fake.nextCall("editMessageText");
    fake.pressButton(GROUP, ALICE, askMessage, "forget:11:yes");
    await edit;
    expect(calls.map((c) => [c.method, c.ctx.userId])).toEqual([["forgetMe", "11"]]);
    // Every button fits Telegram's 64-byte callback_data limit, even with a 32-character name and a large id.
    expect(Buffer.byteLength(buttonData("del", 2 ** 52, "x".repeat(32)))).toBeLessThanOrEqual(64);
  });

  it("resolves a picture's download address even when Telegram resets the first getFile connection", async () => {
    const reaction = fake.sendPhoto(GROUP, ALICE, fake.addFile(new Uint8Array(16)));
    const sent = fake.nextCall(["sendPhoto", "sendDocument", "sendMessage"]);
    fake.sendCommand(GROUP, ALICE, "/meme", reaction);
    await sent;
    const image = (calls[0].input as { image: { kind: string; url: () => Promise<string> } }).image;
    expect(image.kind).toBe("url");
    fake.drops.set("getFile", 1);
    expect(await image.url()).toMatch(new RegExp(`^${fake.apiRoot}/file/bot${fake.token}/`));
    expect(fake.drops.get("getFile")).toBe(0);
    expect(fake.calls.filter((c) => c.method === "getFile")).toHaveLength(2);
  });

  it("sends results Telegram won't take as a photo as a file, and says so when an upload fails", async () => {
    const reaction = fake.sendPhoto(GROUP, ALICE, fake.addFile(new Uint8Array(16)));
    const meme = async () => {
      const sent = fake.nextCall(["sendPhoto", "sendDocument", "sendMessage"]);
      fake.sendCommand(GROUP, ALICE, "/meme", reaction);
      return sent;
    };
    // width + height over 10000 (a swap on a huge reaction): sendPhoto would refuse it.
    memeFile = { bytes: new Uint8Array(2000).fill(7), name: "mimic-me.png", mime: "image/png", width: 6000, height: 4500 };
    let call = await meme();
    expect(call.method).toBe("sendDocument");
    expect(uploadedFile(call).bytes.length).toBe(2000);

    // A side over 20 times the other (a swap into a long banner): sendPhoto would refuse it too.
    memeFile = { bytes: new Uint8Array(2000), name: "mimic-me.png", mime: "image/png", width: 4200, height: 200 };
    expect((await meme()).method).toBe("sendDocument");

    // Over sendPhoto's 10 MB.
    memeFile = { bytes: new Uint8Array(10_500_000), name: "mimic-me.png", mime: "image/png", width: 3000, height: 3000 };
    call = await meme();
    expect(call.method).toBe("sendDocument");
    expect(uploadedFile(call).bytes.length).toBe(10_500_000);

    // A normal PNG goes as a photo; when Telegram refuses it anyway, the user gets a friendly text.
    memeFile = { bytes: new Uint8Array(2000), name: "mimic-me.png", mime: "image/png", width: 512, height: 512 };
    call = await meme();
    expect(call.method).toBe("sendPhoto");
    fake.failures.set("sendPhoto", { status: 400, description: "Bad Request: PHOTO_INVALID_DIMENSIONS" });
    const text = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, ALICE, "/meme", reaction);
    expect((await text).params.text).toBe(UPLOAD_TOO_LARGE_REPLY);
    expect(fake.calls.filter((c) => c.method === "sendPhoto")).toHaveLength(2);
    // The core is told, so it gives the use back (only for the refused upload).
    expect(undelivered).toHaveBeenCalledOnce();
  });
});

describe("Telegram adapter: flood control and refused uploads", () => {
  let fake: FakeTelegram;
  let bot: TelegramBot;
  let undelivered: () => Promise<void>;
  let delivered: (messageRef: string) => Promise<void>;
  let serverMoved: Core["serverMoved"];
  const memeFile: ReplyFile = { bytes: new Uint8Array(2000), name: "mimic-me.png", mime: "image/png", width: 512, height: 512 };

  beforeEach(async () => {
    fake = await FakeTelegram.start();
    undelivered = vi.fn(async () => undefined);
    delivered = vi.fn(async () => undefined);
    serverMoved = vi.fn(async () => undefined);
    const core = { ...recordingCore([], { meme: () => ({ text: "", ephemeral: false, file: memeFile, undelivered, delivered }) }), serverMoved };
    bot = createTelegramBot({ core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
  });

  afterEach(async () => {
    await bot?.stop();
    await fake?.close();
  });

  const sent = (method: string) => fake.calls.filter((c) => c.method === method);

  it("waits as a 429 asks and sends again, for pictures and texts alike", async () => {
    const reaction = fake.sendPhoto(GROUP, ALICE, fake.addFile(new Uint8Array(16)));
    fake.failures.set("sendPhoto", { status: 429, description: "Too Many Requests: retry after 1", parameters: { retry_after: 1 }, times: 1 });
    const delivered = fake.waitFor((c) => c.method === "sendPhoto" && !fake.failures.has("sendPhoto"));
    fake.sendCommand(GROUP, ALICE, "/meme", reaction);
    const second = await delivered;
    expect(sent("sendPhoto")).toHaveLength(2);
    // It waited as asked (1 s), not at once.
    expect(second.at - sent("sendPhoto")[0]!.at).toBeGreaterThanOrEqual(900);

    // A text answer, e.g. in a busy group: the description's "retry after N" is read when no parameters came.
    fake.failures.set("sendMessage", { status: 429, description: "Too Many Requests: retry after 1", times: 1 });
    const text = fake.waitFor((c) => c.method === "sendMessage" && !fake.failures.has("sendMessage"));
    fake.sendCommand(GROUP, ALICE, "/usage");
    expect((await text).params.text).toBe(`usage for ${ALICE.id}`);
    expect(sent("sendMessage")).toHaveLength(2);
    // No "refused" text for the picture that went through on its second try.
    expect(sent("sendMessage").map((c) => c.params.text)).toEqual([`usage for ${ALICE.id}`, `usage for ${ALICE.id}`]);
    expect(undelivered).not.toHaveBeenCalled();
  });

  it("a group's flood control or slow mode past what is worth waiting: the meme goes to the user's private chat, said there, and counts", async () => {
    const reaction = fake.sendPhoto(GROUP, ALICE, fake.addFile(new Uint8Array(16)));
    fake.chatFailures.set(GROUP.id, { status: 429, description: "Too Many Requests: retry after 60", parameters: { retry_after: 60 } });
    const from = fake.calls.length;
    fake.sendCommand(GROUP, ALICE, "/meme", reaction);
    const dm = await fake.waitFor((c) => fake.calls.indexOf(c) >= from && c.method === "sendPhoto" && c.params.chat_id === ALICE.id);
    expect(String(dm.params.caption)).toContain(SENT_PRIVATELY_NOTE);
    await vi.waitFor(() => expect(delivered).toHaveBeenCalledWith(`${ALICE.id}:${(dm.result as { message_id: number }).message_id}`));
    expect(undelivered).not.toHaveBeenCalled();
    // Nothing more is asked of the group, which takes nothing now.
    expect(fake.calls.slice(fake.calls.indexOf(dm)).filter((c) => c.method === "sendMessage" && c.params.chat_id === GROUP.id)).toEqual([]);
  });

  it("says why an upload failed: flood control (and when to try again), no right to send pictures, or its size", async () => {
    const reaction = fake.sendPhoto(GROUP, ALICE, fake.addFile(new Uint8Array(16)));
    const refusal = async () => {
      const text = fake.nextCall("sendMessage");
      fake.sendCommand(GROUP, ALICE, "/meme", reaction);
      return String((await text).params.text);
    };
    // Longer than it is worth waiting: not retried; tried in the user's private chat (refused here too), and the
    // user hears when to try again.
    fake.failures.set("sendPhoto", { status: 429, description: "Too Many Requests: retry after 35", parameters: { retry_after: 35 } });
    expect(await refusal()).toBe(floodReply(35));
    expect(sent("sendPhoto").map((c) => c.params.chat_id)).toEqual([GROUP.id, ALICE.id]);
    // Retried twice at most, then given up (in the group, then privately).
    fake.failures.set("sendPhoto", { status: 429, description: "Too Many Requests: retry after 1", parameters: { retry_after: 1 } });
    expect(await refusal()).toBe(floodReply(1));
    expect(sent("sendPhoto")).toHaveLength(2 + 2 * (1 + FLOOD_RETRIES));

    // The right named as the group's permissions name it: an animation needs "Stickers & GIFs", not "Photos".
    fake.failures.set("sendPhoto", { status: 400, description: "Bad Request: not enough rights to send photos to the chat" });
    expect(await refusal()).toBe(noPictureRightsReply("Photos"));
    expect(noPictureRightsReply("Photos")).toContain("“Photos”");
    fake.failures.set("sendPhoto", { status: 400, description: "Bad Request: not enough rights to send animations to the chat" });
    expect(await refusal()).toBe(noPictureRightsReply("Stickers & GIFs"));
    fake.failures.set("sendPhoto", { status: 400, description: "Bad Request: PHOTO_INVALID_DIMENSIONS" });
    expect(await refusal()).toBe(UPLOAD_TOO_LARGE_REPLY);
    expect(undelivered).toHaveBeenCalledTimes(5);
  });

  /** Sends /meme as a photo's caption; returns the count of calls before it. */
  const memeIn = (chat: { id: number; type: "supergroup"; title: string }, extra: Record<string, unknown> = {}) => {
    const from = fake.calls.length;
    fake.sendPhoto(chat, ALICE, fake.addFile(new Uint8Array(16)), { caption: "/meme", caption_entities: [{ type: "bot_command", offset: 0, length: 5 }], ...extra });
    return from;
  };
  const textAfter = async (from: number) => fake.waitFor((c) => fake.calls.indexOf(c) >= from && c.method === "sendMessage");
  const uploadsAfter = (from: number) => fake.calls.slice(from).filter((c) => c.method === "sendPhoto");

  it("Telegram's own trouble (5xx, a dropped connection): sent once more; then its problem, or that it may have arrived", async () => {
    // A 500 once: the second try goes through, quietly, in reply to the command.
    fake.failures.set("sendPhoto", { status: 500, description: "Internal Server Error", times: 1 });
    let from = memeIn(GROUP);
    const second = await fake.waitFor((c) => fake.calls.indexOf(c) >= from && c.method === "sendPhoto" && !fake.failures.has("sendPhoto"));
    await vi.waitFor(() => expect(delivered).toHaveBeenCalledOnce());
    expect(second.params.reply_parameters).toMatchObject({ message_id: expect.any(Number) });
    expect(delivered).toHaveBeenCalledWith(`${GROUP.id}:${(second.result as { message_id: number }).message_id}`);

    // 500 or 502 both times: Telegram's problem, not the picture's size; the use is given back once.
    for (const status of [500, 502]) {
      fake.failures.set("sendPhoto", { status, description: status === 500 ? "Internal Server Error" : "Bad Gateway", times: 2 });
      from = memeIn(GROUP);
      expect((await textAfter(from)).params.text).toBe(TELEGRAM_PROBLEM_REPLY);
      expect(uploadsAfter(from)).toHaveLength(2);
    }
    expect(undelivered).toHaveBeenCalledTimes(2);

    // The connection dropped once the upload was sent: sent again, which went through.
    fake.drops.set("sendPhoto", 1);
    from = memeIn(GROUP);
    await vi.waitFor(() => expect(delivered).toHaveBeenCalledTimes(2));
    expect(uploadsAfter(from)).toHaveLength(2);

    // Dropped both times: Telegram may have posted it (a bot cannot look), so no "refused", and the use still counts.
    fake.drops.set("sendPhoto", 2);
    from = memeIn(GROUP);
    const said = String((await textAfter(from)).params.text);
    expect(said).toBe(UPLOAD_UNCERTAIN_REPLY);
    expect(said).not.toMatch(/refused|too large/);
    expect(uploadsAfter(from)).toHaveLength(2);
    expect(undelivered).toHaveBeenCalledTimes(2);
  });

  it("Telegram's refusals: a closed topic, a group become a supergroup, the size (only when it says so), anything else", async () => {
    // A forum topic closed while the meme was made: the topic takes no message, so the words go to General.
    const forum = { id: -100888, type: "supergroup" as const, title: "Forum", is_forum: true };
    const topic = { message_id: 77, date: 0, chat: forum, from: ALICE, forum_topic_created: { name: "Cats", icon_color: 0 } };
    fake.failures.set("sendPhoto", { status: 400, description: "Bad Request: TOPIC_CLOSED", times: 1 });
    let from = memeIn(forum, { is_topic_message: true, message_thread_id: 77, reply_to_message: topic });
    let text = await textAfter(from);
    expect(text.params.text).toBe(topicClosedReply("Cats"));
    expect(text.params.chat_id).toBe(forum.id);
    expect(text.params.message_thread_id).toBeUndefined();
    expect(uploadsAfter(from)).toHaveLength(1);
    expect(undelivered).toHaveBeenCalledTimes(1);

    // A text answer (a refusal, /usage) in a closed topic: to General too, not lost.
    fake.failures.set("sendMessage", { status: 400, description: "Bad Request: TOPIC_CLOSED", times: 1 });
    from = fake.calls.length;
    fake.sendMessage(forum, ALICE, { text: "/usage", entities: [{ type: "bot_command", offset: 0, length: 6 }], is_topic_message: true, message_thread_id: 77 });
    // (Telegram refused the first, in the topic.)
    const usage = await fake.waitFor((c) => fake.calls.indexOf(c) >= from && c.method === "sendMessage" && c.params.message_thread_id === undefined);
    expect(usage.params).toMatchObject({ chat_id: forum.id, text: `usage for ${ALICE.id}` });

    // A topic deleted while the meme was made: said so, in General (the topic is gone).
    fake.failures.set("sendPhoto", { status: 400, description: "Bad Request: message thread not found", times: 1 });
    from = memeIn(forum, { is_topic_message: true, message_thread_id: 77, reply_to_message: topic });
    text = await textAfter(from);
    expect(text.params.text).toBe(TOPIC_GONE_REPLY);
    expect(text.params.message_thread_id).toBeUndefined();
    expect(undelivered).toHaveBeenCalledTimes(2);

    // A group upgraded to a supergroup: the picture goes to the new chat, once, and is noted there.
    const old = { id: -4321, type: "supergroup" as const, title: "Old" };
    fake.chatFailures.set(old.id, { status: 400, description: "Bad Request: group chat was upgraded to a supergroup chat", parameters: { migrate_to_chat_id: -100999 } });
    from = memeIn(old);
    await vi.waitFor(() => expect(delivered).toHaveBeenCalledOnce());
    const [first, moved] = uploadsAfter(from);
    expect(first.params.chat_id).toBe(old.id);
    expect(moved.params.chat_id).toBe(-100999);
    // The old chat's message ids mean nothing in the new one.
    expect(moved.params.reply_parameters).toBeUndefined();
    expect(delivered).toHaveBeenCalledWith(`-100999:${(moved.result as { message_id: number }).message_id}`);
    // The meme's records (its use, its audit row, made under the old id) follow the group, as its settings did.
    expect(serverMoved).toHaveBeenCalledWith("telegram", String(old.id), "-100999");
    expect(uploadsAfter(from)).toHaveLength(2);
    expect(fake.calls.slice(from).filter((c) => c.method === "sendMessage")).toEqual([]);
    expect(undelivered).toHaveBeenCalledTimes(2);
    // Sent is sent: a store that fails to move the records does not turn the posted meme into a refusal.
    vi.mocked(serverMoved).mockRejectedValueOnce(new Error("the store is down"));
    const older = { id: -4322, type: "supergroup" as const, title: "Older" };
    fake.chatFailures.set(older.id, { status: 400, description: "Bad Request: group chat was upgraded to a supergroup chat", parameters: { migrate_to_chat_id: -100998 } });
    from = memeIn(older);
    await vi.waitFor(() => expect(delivered).toHaveBeenCalledTimes(2));
    expect(fake.calls.slice(from).filter((c) => c.method === "sendMessage")).toEqual([]);
    expect(undelivered).toHaveBeenCalledTimes(2);

    // The size only where Telegram says it; any other refusal gets no advice on size.
    for (const [status, description, expected] of [
      [413, "Request Entity Too Large", UPLOAD_TOO_LARGE_REPLY],
      [400, "Bad Request: file is too big", UPLOAD_TOO_LARGE_REPLY],
      [400, "Bad Request: IMAGE_PROCESS_FAILED", UPLOAD_REFUSED_REPLY],
    ] as const) {
      fake.failures.set("sendPhoto", { status, description, times: 1 });
      from = memeIn(GROUP);
      expect((await textAfter(from)).params.text, description).toBe(expected);
      // Not Telegram's trouble: not sent again.
      expect(uploadsAfter(from), description).toHaveLength(1);
    }
    expect(undelivered).toHaveBeenCalledTimes(5);
  });
});

describe("Telegram adapter: the chat action while a command is worked on", () => {
  let fake: FakeTelegram;
  let bot: TelegramBot;
  const memeFile: ReplyFile = { bytes: new Uint8Array(2000), name: "mimic-me.png", mime: "image/png", width: 512, height: 512 };

  beforeEach(async () => {
    fake = await FakeTelegram.start();
    const core = recordingCore([], { meme: () => ({ text: "", ephemeral: false, file: memeFile }) });
    bot = createTelegramBot({ core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
  });

  afterEach(async () => {
    await bot?.stop();
    await fake?.close();
  });

  const command = { caption_entities: [{ type: "bot_command", offset: 0, length: 5 }] };

  it("Mimic removed from the group while it works (the chat action answered 403): the request is stopped, and nothing is sent there", async () => {
    // A core whose meme waits until the adapter stops it, as a job in the queue would.
    let stopped: AbortSignal | undefined;
    const core = {
      ...recordingCore([]),
      meme: (ctx: CommandContext) =>
        new Promise<Reply>((resolve) => {
          stopped = ctx.signal;
          ctx.signal?.addEventListener("abort", () => resolve({ text: "The request was cancelled.", ephemeral: true, errorCode: "CANCELLED" }), { once: true });
        }),
    };
    await bot.stop();
    bot = createTelegramBot({ core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
    fake.chatFailures.set(GROUP.id, { status: 403, description: "Forbidden: bot was kicked from the supergroup chat" });
    fake.sendPhoto(GROUP, ALICE, fake.addFile(new Uint8Array(16)), { caption: "/meme hi", ...command });
    await vi.waitFor(() => expect(stopped?.aborted).toBe(true), { timeout: 30_000, interval: 20 });
    await bot.stop();
    const toGroup = fake.calls.filter((c) => c.params.chat_id === GROUP.id && ["sendMessage", "sendPhoto", "sendAnimation", "sendDocument"].includes(c.method));
    expect(toGroup.map((c) => c.method)).toEqual([]);
  });

  it("is never sent again under flood control, so none shows after the answer", async () => {
    fake.failures.set("sendChatAction", { status: 429, description: "Too Many Requests: retry after 1", parameters: { retry_after: 1 } });
    const answer = fake.nextCall(["sendPhoto", "sendMessage"]);
    fake.sendPhoto(GROUP, ALICE, fake.addFile(new Uint8Array(16)), { caption: "/meme hi", ...command });
    const sent = await answer;
    expect(sent.method).toBe("sendPhoto");
    // Longer than the flood-control retries of other calls would wait (1 s, twice).
    await new Promise((r) => setTimeout(r, 2_500));
    const actions = fake.calls.filter((c) => c.method === "sendChatAction");
    expect(actions).toHaveLength(1);
    expect(actions[0]!.at).toBeLessThan(sent.at);
  });

  it("fits the command: a video for animations known up front, a photo for still memes, typing for /save", async () => {
    const photo = fake.sendPhoto(GROUP, ALICE, fake.addFile(new Uint8Array(16)));
    const file = fake.addFile(new Uint8Array(16), "mp4");
    const gif = fake.sendMessage(GROUP, ALICE, {
      animation: { file_id: file.file_id, file_unique_id: file.file_unique_id, width: 320, height: 240, duration: 2, mime_type: "video/mp4", file_size: 16 },
    });
    const actionOf = async (text: string, replyTo: Record<string, unknown>) => {
      const from = fake.calls.length;
      const after = (methods: string[]) => fake.waitFor((c) => fake.calls.indexOf(c) >= from && methods.includes(c.method));
      const [action] = await Promise.all([after(["sendChatAction"]), after(["sendPhoto", "sendMessage"]), fake.sendCommand(GROUP, ALICE, text, replyTo)]);
      return action.params.action;
    };
    expect(await actionOf("/save me", photo)).toBe("typing");
    expect(await actionOf("/morph", photo)).toBe("upload_video");
    expect(await actionOf("/meme gif hi", photo)).toBe("upload_video");
    expect(await actionOf("/meme hi", gif)).toBe("upload_video");
    expect(await actionOf("/meme still hi", gif)).toBe("upload_photo");
    expect(await actionOf("/meme hi", photo)).toBe("upload_photo");
  });
});

describe("Telegram adapter: polling that dies after start-up", () => {
  it("calls onFatal when getUpdates answers 409 after the bot started", async () => {
    const fake = await FakeTelegram.start();
    const fatal: unknown[] = [];
    let reportFatal!: () => void;
    const reported = new Promise<void>((r) => (reportFatal = r));
    const bot = createTelegramBot({
      core: recordingCore([]),
      token: fake.token,
      apiRoot: fake.apiRoot,
      onFatal: (err) => {
        fatal.push(err);
        reportFatal();
      },
    });
    try {
      await bot.start();
      expect(fatal).toEqual([]);
      // Another process starts polling with the same token: Telegram answers 409 from now on.
      fake.failures.set("getUpdates", { status: 409, description: "Conflict: terminated by other getUpdates request" });
      fake.sendCommand(GROUP, ALICE, "/help"); // ends the pending long poll now
      await reported;
      expect(fatal).toHaveLength(1);
      expect(String(fatal[0])).toContain("409");
      expect(bot.bot.isRunning()).toBe(false);
    } finally {
      await bot.stop();
      await fake.close();
    }
  });
});

describe("Telegram adapter: a button's pop-up", () => {
  /** The forget-me answer after a press (as the core words it): longer than a pop-up holds. */
  const FORGOTTEN =
    "Done: deleted 2 saved faces, 0 records of uses older than a day and 1 audit-trail entry (which pictures you made). The 1 use you made in the last 24 hours still counts towards daily limits and cooldowns: its record is deleted a day after it was made.";

  it("is cut after a whole word with “…” where the answer is too long for it; the message shows it whole", async () => {
    const fake = await FakeTelegram.start();
    const bot = createTelegramBot({
      core: recordingCore([], { forgetMe: () => ({ text: FORGOTTEN, ephemeral: true }), faceDefault: () => ({ text: "“me” is now your default face.", ephemeral: true }) }),
      token: fake.token,
      apiRoot: fake.apiRoot,
    });
    try {
      await bot.start();
      const ask = { message_id: 2, date: Math.floor(Date.now() / 1000), chat: GROUP, text: "Delete everything?" };
      const answer = fake.nextCall("answerCallbackQuery");
      const edit = fake.nextCall("editMessageText");
      fake.pressButton(GROUP, ALICE, ask, "forget:11:yes");
      const toast = String((await answer).params.text);
      expect(FORGOTTEN.length).toBeGreaterThan(TOAST_MAX_CHARS);
      expect(toast.length).toBeLessThanOrEqual(TOAST_MAX_CHARS);
      expect(toast).toBe("Done: deleted 2 saved faces, 0 records of uses older than a day and 1 audit-trail entry (which pictures you made). The 1 use you made in the last 24 hours still counts towards daily limits and…");
      // The question's message is replaced by the whole answer.
      expect((await edit).params.text).toBe(FORGOTTEN);

      // A short answer is shown as it is.
      const list = { message_id: 1, date: 0, chat: GROUP, text: "Your faces" };
      const short = fake.nextCall("answerCallbackQuery");
      fake.pressButton(GROUP, ALICE, list, "def:11:me");
      expect((await short).params.text).toBe("“me” is now your default face.");
    } finally {
      await bot.stop();
      await fake.close();
    }
  });
});
