import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  BOT_COMMANDS,
  BUTTON_NOT_YOURS,
  CLIP_WITHOUT_COMMAND_REPLY,
  HELP,
  PHOTO_WITHOUT_COMMAND_REPLY,
  SAVE_NO_NAME_REPLY,
  buttonData,
  createTelegramBot,
  saveNoPhotoReply,
  unknownCommandReply,
  type TelegramBot,
} from "../../src/bots/telegram/bot.ts";
import { deleteFaceQuestion, LOTTIE_FACE_REFUSAL, LOTTIE_REACTION_REFUSAL, NOTHING_DELETED } from "../../src/core/index.ts";
import { logger } from "../../src/logger.ts";
import { FakeTelegram, type RecordedCall } from "../helpers/fake-telegram.ts";
import { DOUBLE_HANDLERS, startTestApp, type TestApp } from "./harness.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";

/**
 * A first-time user's guidance on Telegram: the command menu, answers to what Mimic does not understand in a
 * private chat (and silence in a group), /save saying what was missing, animated stickers refused in plain words,
 * and a face deleted only once confirmed. Real grammY against the fake Bot API, the real core, store and queue
 * (double handlers: the pipeline is not the subject).
 */

const GROUP = { id: -100555, type: "supergroup" as const, title: "Memes" };
const ALICE = { id: 11, is_bot: false as const, first_name: "Alice" };
const BOB = { id: 22, is_bot: false as const, first_name: "Bob" };
const DM = { id: ALICE.id, type: "private" as const };
const command = (text: string) => ({ caption: text, caption_entities: [{ type: "bot_command", offset: 0, length: text.split(" ")[0]!.length }] });
type Keyboard = { inline_keyboard: { text: string; callback_data: string }[][] };
const buttons = (c: RecordedCall) => (c.params.reply_markup as Keyboard | undefined)?.inline_keyboard.map((row) => row.map((b) => [b.text, b.callback_data]));

describe("Telegram: guidance for a first-time user", () => {
  let fake: FakeTelegram;
  let app: TestApp;
  let bot: TelegramBot;

  beforeEach(async () => {
    fake = await FakeTelegram.start();
    app = await startTestApp({}, { handlers: DOUBLE_HANDLERS });
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await bot?.stop();
    await app?.close();
    await fake?.close();
  });

  const start = async () => {
    bot = createTelegramBot({ core: app.core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
  };
  /** The bot's text answer to `message` (a reply to it). */
  const answerOf = async (message: Record<string, unknown>) => String((await fake.answerTo(message, "sendMessage", 60_000)).params.text);
  /** Messages sent to `chat` since call `from`. */
  const sentTo = (chat: { id: number }, from: number) =>
    fake.calls.slice(from).filter((c) => c.method.startsWith("send") && c.method !== "sendChatAction" && Number(c.params.chat_id) === chat.id);
  const faces = async () => (await app.app.store.templates.list({ platform: "telegram", userId: String(ALICE.id) })).map((t) => t.name).sort();

  it("sets a command menu at start, each of whose commands is answered; a refused menu only warns", async () => {
    await start();
    const set = await fake.waitFor((c) => c.method === "setMyCommands");
    const menu = set.params.commands as { command: string; description: string }[];
    expect(menu.map((c) => c.command)).toEqual(["save", "meme", "morph", "faces", "usage", "forget", "config", "audit", "help"]);
    expect(menu).toEqual(BOT_COMMANDS);
    for (const c of menu) {
      expect(c.command).toMatch(/^[a-z0-9_]{1,32}$/);
      expect(c.description.length).toBeGreaterThan(0);
      expect(c.description.length).toBeLessThanOrEqual(256);
    }
    // Every command of the menu is one Mimic knows (in a private chat: none answered "I don't know").
    for (const { command: name } of menu) {
      const from = fake.calls.length;
      fake.sendCommand(DM, ALICE, `/${name}`);
      const answer = await fake.waitFor((c) => fake.calls.indexOf(c) >= from && c.method === "sendMessage", 30_000);
      expect(String(answer.params.text), name).not.toMatch(/^I don't know/);
    }
    await bot.stop();

    // Telegram refuses the menu: start-up goes on, with a warning, and commands are answered.
    fake.failures.set("setMyCommands", { status: 400, description: "Bad Request: BOT_COMMAND_INVALID" });
    const warn = vi.spyOn(logger, "warn");
    await start();
    const help = fake.nextCall("sendMessage");
    fake.sendCommand(DM, ALICE, "/help");
    expect((await help).params.text).toBe(HELP);
    await vi.waitFor(() => expect(warn.mock.calls.map((c) => String(c[1]))).toContainEqual(expect.stringMatching(/could not set the command menu/)));
  });

  it("in a private chat answers a mistyped command, plain text and a picture without a command; in a group stays silent", async () => {
    await start();
    expect(await answerOf(fake.sendCommand(DM, ALICE, "/memes hello"))).toBe(`I don't know /memes. ${HELP}`);
    expect(unknownCommandReply("x".repeat(100))).toMatch(/^I don't know \/x{32}…\. /);
    expect(await answerOf(fake.sendMessage(DM, ALICE, { text: "hi" }))).toBe(HELP);
    expect(await answerOf(fake.sendPhoto(DM, ALICE, fake.addFile(REACTION_LAUGH_JPG)))).toBe(PHOTO_WITHOUT_COMMAND_REPLY);
    expect(PHOTO_WITHOUT_COMMAND_REPLY).toBe("Reply to it with /save me to save your face, or /meme to use it as a reaction.");
    // A caption that is no command is no command either.
    expect(await answerOf(fake.sendPhoto(DM, ALICE, fake.addFile(REACTION_LAUGH_JPG), { caption: "lol" }))).toBe(PHOTO_WITHOUT_COMMAND_REPLY);
    const webp = fake.addFile(new Uint8Array(16), "webp");
    expect(await answerOf(fake.sendMessage(DM, ALICE, { sticker: { ...webp, width: 512, height: 512, is_animated: false, is_video: false, type: "regular" } }))).toBe(
      CLIP_WITHOUT_COMMAND_REPLY,
    );
    // An animated sticker would be refused by /meme: said at once.
    const tgs = fake.addFile(new Uint8Array([0x1f, 0x8b, 8, 0]), "tgs");
    expect(await answerOf(fake.sendMessage(DM, ALICE, { sticker: { ...tgs, width: 512, height: 512, is_animated: true, is_video: false, type: "regular" } }))).toBe(
      LOTTIE_REACTION_REFUSAL,
    );

    // An album of three photos: one pointer, not three; an album whose caption is a command gets none.
    let from = fake.calls.length;
    for (let i = 0; i < 3; i++) fake.sendPhoto(DM, ALICE, fake.addFile(REACTION_LAUGH_JPG), { media_group_id: "album-1" });
    // grammY handles a chat's updates in order: once /help is answered, the album has been.
    fake.sendCommand(DM, ALICE, "/help");
    await fake.waitFor((c) => fake.calls.indexOf(c) >= from && c.params.text === HELP && c.params.reply_parameters === undefined);
    expect(sentTo(DM, from).map((c) => c.params.text)).toEqual([PHOTO_WITHOUT_COMMAND_REPLY, HELP]);

    // In a group: nothing for a mistyped command, text or a photo; an unknown command that names Mimic is answered.
    from = fake.calls.length;
    fake.sendCommand(GROUP, ALICE, "/memes");
    fake.sendMessage(GROUP, ALICE, { text: "hi all" });
    fake.sendPhoto(GROUP, ALICE, fake.addFile(REACTION_LAUGH_JPG));
    const named = fake.sendCommand(GROUP, ALICE, `/memes@${fake.botInfo.username}`);
    expect(await answerOf(named)).toBe(`I don't know /memes. ${HELP}`);
    expect(sentTo(GROUP, from)).toHaveLength(1);
  });

  it("/save says what was missing: the name, or the photo", async () => {
    await start();
    const face = fake.sendPhoto(GROUP, ALICE, fake.addFile(FACE_JPG));
    expect(await answerOf(fake.sendCommand(GROUP, ALICE, "/save", face))).toBe(SAVE_NO_NAME_REPLY);
    expect(SAVE_NO_NAME_REPLY).toBe("Give the face a name: /save me");
    expect(await answerOf(fake.sendPhoto(GROUP, ALICE, fake.addFile(FACE_JPG), command("/save")))).toBe(SAVE_NO_NAME_REPLY);
    const noPhoto = "Send /save me as a reply to a photo of your face, or as the photo's caption.";
    expect(await answerOf(fake.sendCommand(GROUP, ALICE, "/save me"))).toBe(noPhoto);
    expect(saveNoPhotoReply("me")).toBe(noPhoto);
    expect(await answerOf(fake.sendCommand(GROUP, ALICE, "/save"))).toBe(noPhoto);
    // A reply to a text message has no photo either; the name typed is the one shown.
    const text = fake.sendMessage(GROUP, BOB, { text: "look at this" });
    expect(await answerOf(fake.sendCommand(GROUP, ALICE, "/save work", text))).toBe("Send /save work as a reply to a photo of your face, or as the photo's caption.");
    expect(await answerOf(fake.sendCommand(GROUP, ALICE, "/save My Face!", text))).toBe(noPhoto);
    // Both given: saved.
    expect(await answerOf(fake.sendCommand(GROUP, ALICE, "/save me", face))).toContain("Saved your face “me”");
  });

  it("refuses an animated (Lottie) sticker in plain words, without downloading it", async () => {
    await start();
    const tgs = fake.addFile(new Uint8Array([0x1f, 0x8b, 8, 0]), "tgs");
    const sticker = fake.sendMessage(GROUP, BOB, { sticker: { ...tgs, width: 512, height: 512, is_animated: true, is_video: false, type: "regular" } });
    expect(await answerOf(fake.sendCommand(GROUP, ALICE, "/meme top | bottom", sticker))).toBe(LOTTIE_REACTION_REFUSAL);
    expect(LOTTIE_REACTION_REFUSAL).toBe("Animated stickers can't be read. Use a regular or video sticker, a photo or a GIF instead.");
    expect(await answerOf(fake.sendCommand(GROUP, ALICE, "/morph", sticker))).toBe(LOTTIE_REACTION_REFUSAL);
    expect(await answerOf(fake.sendCommand(GROUP, ALICE, "/save me", sticker))).toBe(LOTTIE_FACE_REFUSAL);
    expect(fake.calls.filter((c) => c.method === "getFile")).toEqual([]);
    expect(fake.downloads).toEqual([]);
  });

  it("/faces' 🗑 asks first (Delete / Cancel), only its owner may answer, and Cancel keeps the face", async () => {
    await start();
    const face = fake.sendPhoto(GROUP, ALICE, fake.addFile(FACE_JPG));
    for (const name of ["me", "work"]) expect(await answerOf(fake.sendCommand(GROUP, ALICE, `/save ${name}`, face))).toContain(`Saved your face “${name}”`);
    const list = await fake.answerTo(fake.sendCommand(GROUP, ALICE, "/faces"));
    const listMessage = { ...(list.result as Record<string, unknown>), chat: GROUP };
    expect(buttons(list)?.[0]).toEqual([
      ["★ me", "def:11:me"],
      ["🗑 me", "del:11:me"],
    ]);

    // One tap on 🗑 deletes nothing: the list becomes the question.
    let edit = fake.nextCall("editMessageText");
    fake.pressButton(GROUP, ALICE, listMessage, "del:11:me");
    let edited = await edit;
    expect(edited.params.text).toBe("Delete your face “me”? It cannot be undone.");
    expect(edited.params.text).toBe(deleteFaceQuestion("me"));
    expect(buttons(edited)).toEqual([
      [
        ["Delete", "delyes:11:me"],
        ["Cancel", "delno:11:me"],
      ],
    ]);
    expect(await faces()).toEqual(["me", "work"]);

    // Bob cannot answer Alice's question.
    for (const data of ["delyes:11:me", "delno:11:me"]) {
      const answer = fake.nextCall("answerCallbackQuery");
      fake.pressButton(GROUP, BOB, listMessage, data);
      expect((await answer).params.text, data).toBe(BUTTON_NOT_YOURS);
    }
    expect(await faces()).toEqual(["me", "work"]);

    // Cancel: nothing deleted, the list again.
    let toast = fake.nextCall("answerCallbackQuery");
    edit = fake.nextCall("editMessageText");
    fake.pressButton(GROUP, ALICE, listMessage, "delno:11:me");
    expect((await toast).params.text).toBe(NOTHING_DELETED);
    edited = await edit;
    expect(String(edited.params.text)).toMatch(/• me \(default\)\n• work/);
    expect(buttons(edited)?.map((row) => row[1]![1])).toEqual(["del:11:me", "del:11:work"]);
    expect(await faces()).toEqual(["me", "work"]);

    // Delete: gone, said in the pop-up, and the list shows what is left.
    fake.pressButton(GROUP, ALICE, listMessage, "del:11:me");
    await fake.nextCall("editMessageText");
    toast = fake.nextCall("answerCallbackQuery");
    edit = fake.nextCall("editMessageText");
    fake.pressButton(GROUP, ALICE, listMessage, "delyes:11:me");
    expect(String((await toast).params.text)).toMatch(/^Deleted your face “me”/);
    edited = await edit;
    expect(String(edited.params.text)).not.toMatch(/\bme\b/);
    expect(await faces()).toEqual(["work"]);
    // The longest button still fits Telegram's 64 bytes.
    expect(Buffer.byteLength(buttonData("delyes", 2 ** 52, "x".repeat(32)))).toBeLessThanOrEqual(64);
  });
});
