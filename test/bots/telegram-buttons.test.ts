import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTelegramBot, type TelegramBot } from "../../src/bots/telegram/bot.ts";
import { BUTTON_MAX_AGE_MS, BUTTON_TOO_OLD, NOTHING_DELETED, type CommandContext, type Core, type Reply } from "../../src/core/index.ts";
import { logger } from "../../src/logger.ts";
import { FakeTelegram, type RecordedCall } from "../helpers/fake-telegram.ts";

/**
 * The buttons of /faces and /forget (real grammY against the fake Bot API, a recording core): a deleting button
 * pressed on an old message acts on nothing, and a long list of faces still gets its answer.
 */

const GROUP = { id: -100888, type: "supergroup" as const, title: "Memes" };
const ALICE = { id: 11, is_bot: false as const, first_name: "Alice" };

interface CoreCall {
  method: keyof Core;
  input?: unknown;
}

type Keyboard = { inline_keyboard: { text: string; callback_data: string }[][] };
const rows = (c: RecordedCall) => (c.params.reply_markup as Keyboard | undefined)?.inline_keyboard;

/** A Core that records its calls; /faces lists `faceCount` faces as the core words them (at most 40 named). */
function recordingCore(calls: CoreCall[], faceCount: () => number): Core {
  const answer =
    (method: keyof Core, reply: () => Reply = () => ({ text: `${method} done`, ephemeral: true })) =>
    async (_ctx: CommandContext, input?: unknown): Promise<Reply> => {
      calls.push({ method, input });
      return reply();
    };
  const list = (): Reply => {
    const names = Array.from({ length: faceCount() }, (_, i) => `face${i}`);
    const lines = names.slice(0, 40).map((n, i) => `• ${n}${i === 0 ? " (default)" : ""}`);
    if (names.length > 40) lines.push(`…and ${names.length - 40} more (${names.length} in all).`);
    return { text: `Your faces:\n${lines.join("\n")}`, ephemeral: true, templates: names.map((name, i) => ({ name, isDefault: i === 0 })) };
  };
  return {
    meme: answer("meme"),
    morph: answer("morph"),
    faceSave: answer("faceSave"),
    faceList: answer("faceList", list),
    faceThumbnail: answer("faceThumbnail"),
    faceRemove: answer("faceRemove"),
    faceDefault: answer("faceDefault"),
    faceRename: answer("faceRename"),
    forgetMe: answer("forgetMe", () => ({ text: "Delete everything?", ephemeral: true })),
    usage: answer("usage"),
    config: answer("config"),
    audit: answer("audit"),
    templateNames: async () => [],
    serverMoved: async () => undefined,
  };
}

describe("Telegram: /faces' and /forget's buttons", () => {
  let fake: FakeTelegram;
  let bot: TelegramBot;
  let calls: CoreCall[];
  let faceCount: number;

  beforeEach(async () => {
    fake = await FakeTelegram.start();
    calls = [];
    faceCount = 2;
    bot = createTelegramBot({ core: recordingCore(calls, () => faceCount), token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await bot?.stop();
    await fake?.close();
  });

  /** The bot's message as a callback query carries it, sent `ageMs` ago (Telegram's date is in whole seconds). */
  const sentAgo = (call: RecordedCall, ageMs: number) => ({
    ...(call.result as Record<string, unknown>),
    chat: GROUP,
    date: Math.floor((Date.now() - ageMs) / 1000),
  });
  /** Presses `data` under `message`: the pop-up's answer. */
  const press = async (message: Record<string, unknown>, data: string) => {
    const answer = fake.nextCall("answerCallbackQuery");
    fake.pressButton(GROUP, ALICE, message, data);
    return (await answer).params;
  };
  const acted = () => calls.filter((c) => c.method !== "faceList" && !(c.method === "forgetMe" && (c.input as { confirm?: boolean }).confirm === false));

  it("refuses a deleting button pressed more than 15 minutes after its message was sent, or on a message Telegram no longer shows the bot", async () => {
    const list = await fake.answerTo(fake.sendCommand(GROUP, ALICE, "/faces"));
    const ask = await fake.answerTo(fake.sendCommand(GROUP, ALICE, "/forget"));
    expect(rows(ask)?.flat().map((b) => b.callback_data)).toEqual(["forget:11:yes", "forget:11:no"]);
    const old = BUTTON_MAX_AGE_MS + 60_000;
    // Telegram gives date 0 for a message older than 48 hours (an InaccessibleMessage).
    const inaccessible = (call: RecordedCall) => ({ chat: GROUP, message_id: (call.result as { message_id: number }).message_id, date: 0 });

    for (const [message, data] of [
      [sentAgo(ask, old), "forget:11:yes"],
      [inaccessible(ask), "forget:11:yes"],
      [sentAgo(list, old), "del:11:face1"],
      [sentAgo(list, old), "delyes:11:face1"],
      [inaccessible(list), "delyes:11:face1"],
    ] as const) {
      const answer = await press(message, data);
      expect(answer.text, data).toBe(BUTTON_TOO_OLD);
      expect(answer.show_alert, data).toBe(true);
    }
    // Nothing deleted, nothing asked, the messages as they were.
    expect(acted()).toEqual([]);
    expect(fake.calls.filter((c) => c.method === "editMessageText" || (c.method === "sendMessage" && fake.calls.indexOf(c) > fake.calls.indexOf(ask)))).toEqual([]);

    // Within 15 minutes they work.
    const recent = BUTTON_MAX_AGE_MS - 60_000;
    let edit = fake.nextCall("editMessageText");
    expect((await press(sentAgo(list, recent), "del:11:face1")).text).toBeUndefined();
    expect((await edit).params.text).toBe("Delete your face “face1”? It cannot be undone.");
    edit = fake.nextCall("editMessageText");
    await press(sentAgo(list, recent), "delyes:11:face1");
    await edit;
    // The delete question is the old list edited into it by 🗑: dated by that edit.
    edit = fake.nextCall("editMessageText");
    await press({ ...sentAgo(list, old), edit_date: Math.floor(Date.now() / 1000) }, "delyes:11:face1");
    await edit;
    edit = fake.nextCall("editMessageText");
    await press(sentAgo(ask, 0), "forget:11:yes");
    await edit;
    expect(acted()).toEqual([
      { method: "faceRemove", input: { name: "face1" } },
      { method: "faceRemove", input: { name: "face1" } },
      { method: "forgetMe", input: { confirm: true } },
    ]);
    calls.length = 0;

    // Old buttons that delete nothing still work: Cancel, and the default face (the list then redrawn as it is now).
    expect((await press(inaccessible(ask), "forget:11:no")).text).toBe(NOTHING_DELETED);
    expect((await press(sentAgo(list, old), "delno:11:face1")).text).toBe(NOTHING_DELETED);
    faceCount = 3;
    edit = fake.nextCall("editMessageText");
    expect((await press(inaccessible(list), "def:11:face1")).text).toBe("faceDefault done");
    expect(rows(await edit)?.map((row) => row[1]!.callback_data)).toEqual(["del:11:face0", "del:11:face1", "del:11:face2"]);
    expect(acted()).toEqual([{ method: "faceDefault", input: { name: "face1" } }]);
  });

  it("answers /faces with many faces: buttons for the 40 faces the text lists, and the text alone where Telegram refuses the buttons", async () => {
    faceCount = 60;
    const list = await fake.answerTo(fake.sendCommand(GROUP, ALICE, "/faces"));
    // Telegram took it (it refuses more than 100 buttons).
    expect(list.result).toBeDefined();
    expect(String(list.params.text)).toContain("…and 20 more (60 in all).");
    const keyboard = rows(list)!;
    expect(keyboard).toHaveLength(40);
    expect(keyboard.map((row) => row[1]!.callback_data)).toEqual(Array.from({ length: 40 }, (_, i) => `del:11:face${i}`));

    // A press redraws the list the same way.
    const edit = fake.nextCall("editMessageText");
    await press(sentAgo(list, 0), "def:11:face3");
    const edited = await edit;
    expect(edited.result).toBeDefined();
    expect(rows(edited)).toHaveLength(40);

    // Telegram refuses the keyboard anyway (its size in bytes, say): the list comes without buttons.
    const warn = vi.spyOn(logger, "warn");
    fake.failures.set("sendMessage", { status: 400, description: "Bad Request: reply markup is too long", times: 1 });
    const command = fake.sendCommand(GROUP, ALICE, "/faces");
    const answers = () => fake.calls.filter((c) => c.method === "sendMessage" && (c.params.reply_parameters as { message_id?: number } | undefined)?.message_id === command.message_id);
    await vi.waitFor(() => expect(answers().map((c) => c.result !== undefined)).toEqual([false, true]), { timeout: 10_000 });
    const plain = answers()[1]!;
    expect(plain.params.text).toBe(list.params.text);
    expect(plain.params.reply_markup).toBeUndefined();
    expect(warn.mock.calls.map((c) => String(c[1]))).toContainEqual(expect.stringMatching(/buttons/));

    // An edit that changes nothing is refused too ("… reply markup are exactly the same"): the buttons stay.
    fake.failures.set("editMessageText", {
      status: 400,
      description: "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
      times: 1,
    });
    const from = fake.calls.length;
    await press(sentAgo(list, 0), "delno:11:face3");
    // grammY handles updates one after another: once /help is answered, the press has been.
    fake.sendCommand(GROUP, ALICE, "/help");
    await fake.waitFor((c) => fake.calls.indexOf(c) >= from && c.method === "sendMessage" && String(c.params.text).startsWith("Mimic puts"));
    const edits = fake.calls.slice(from).filter((c) => c.method === "editMessageText");
    expect(edits).toHaveLength(1);
    expect(rows(edits[0]!)).toHaveLength(40);
  });
});
