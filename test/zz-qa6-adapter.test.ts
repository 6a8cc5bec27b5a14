import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTelegramBot, NO_PICTURE_RIGHTS_REPLY, type TelegramBot } from "../src/bots/telegram/bot.ts";
import type { CommandContext, Core, Reply, ReplyFile } from "../src/core/index.ts";
import { FakeTelegram } from "./helpers/fake-telegram.ts";

const GROUP = { id: -100777, type: "supergroup" as const, title: "Memes" };
const ALICE = { id: 11, is_bot: false as const, first_name: "Alice" };
const DM = { id: 11, type: "private" as const };
const cap = (t: string) => ({ caption: t, caption_entities: [{ type: "bot_command", offset: 0, length: 5 }] });

describe("QA6 adapter", () => {
  let fake: FakeTelegram;
  let bot: TelegramBot;
  let file: ReplyFile;
  const undelivered = vi.fn(async () => undefined);
  const memeCalls: CommandContext[] = [];
  beforeEach(async () => {
    fake = await FakeTelegram.start();
    file = { bytes: new Uint8Array(2000), name: "m.mp4", mime: "video/mp4", width: 512, height: 512 };
    const any = async (): Promise<Reply> => ({ text: "x", ephemeral: false });
    const core = new Proxy({} as Core, {
      get: (_t, m) => (m === "meme" || m === "morph" ? async (c: CommandContext) => (memeCalls.push(c), { text: "Here", ephemeral: false, file, undelivered }) : m === "templateNames" ? async () => [] : any),
    });
    bot = createTelegramBot({ core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
  });
  afterEach(async () => {
    await bot?.stop();
    await fake?.close();
  });

  it("no right to send GIFs (animations): advice names photos and videos", async () => {
    fake.failures.set("sendAnimation", { status: 400, description: "Bad Request: not enough rights to send animations to the chat" });
    const t = fake.nextCall("sendMessage");
    fake.sendPhoto(GROUP, ALICE, fake.addFile(new Uint8Array(16)), cap("/meme gif hi"));
    console.log("ANIM RIGHTS:", (await t).params.text, (await t).params.text === NO_PICTURE_RIGHTS_REPLY);
    file = { bytes: new Uint8Array(11_000_000), name: "m.png", mime: "image/png", width: 3000, height: 3000 };
    fake.failures.set("sendDocument", { status: 400, description: "Bad Request: not enough rights to send documents to the chat" });
    const t2 = fake.nextCall("sendMessage");
    fake.sendPhoto(GROUP, ALICE, fake.addFile(new Uint8Array(16)), cap("/meme hi"));
    console.log("DOC RIGHTS:", (await t2).params.text);
  });

  it("ratio > 20 still goes as sendPhoto", async () => {
    file = { bytes: new Uint8Array(2000), name: "m.png", mime: "image/png", width: 4200, height: 200 };
    const c = fake.nextCall(["sendPhoto", "sendDocument"]);
    fake.sendPhoto(GROUP, ALICE, fake.addFile(new Uint8Array(16)), cap("/meme hi"));
    console.log("RATIO method:", (await c).method);
  });

  it("topic deleted mid-job: the notice goes to the deleted thread with 'try again'", async () => {
    const forum = { id: -100888, type: "supergroup" as const, title: "Forum", is_forum: true };
    file = { bytes: new Uint8Array(2000), name: "m.png", mime: "image/png", width: 512, height: 512 };
    fake.failures.set("sendPhoto", { status: 400, description: "Bad Request: message thread not found", times: 1 });
    fake.failures.set("sendMessage", { status: 400, description: "Bad Request: message thread not found", times: 1 });
    const t = fake.nextCall("sendMessage");
    fake.sendPhoto(forum, ALICE, fake.addFile(new Uint8Array(16)), { ...cap("/meme hi"), is_topic_message: true, message_thread_id: 77, reply_to_message: { message_id: 77, date: 0, chat: forum, from: ALICE, forum_topic_created: { name: "Cats", icon_color: 0 } } });
    const p = (await t).params;
    console.log("TOPIC DELETED notice:", p.text, "thread:", p.message_thread_id);
    await new Promise((r) => setTimeout(r, 300));
    console.log("TOPIC DELETED later sendMessages:", fake.calls.filter((c) => c.method === "sendMessage").length);
  });

  it("album with the caption on the second item in a private chat", async () => {
    const from = fake.calls.length;
    fake.sendPhoto(DM, ALICE, fake.addFile(new Uint8Array(16)), { media_group_id: "album1" });
    fake.sendPhoto(DM, ALICE, fake.addFile(new Uint8Array(16)), { media_group_id: "album1", ...cap("/meme hi") });
    await fake.waitFor((c) => fake.calls.indexOf(c) >= from && c.method === "sendAnimation");
    await new Promise((r) => setTimeout(r, 300));
    console.log("ALBUM:", fake.calls.slice(from).filter((c) => c.method !== "sendChatAction" && c.method !== "getFile").map((c) => `${c.method} ${c.params.text ?? c.params.caption}`));
  });

  it("text answers: closed topic and migrated group", async () => {
    const errs: string[] = [];
    const { logger } = await import("../src/logger.ts");
    vi.spyOn(logger, "error").mockImplementation(((f: unknown, m?: string) => void errs.push(String(m))) as never);
    file = undefined as never;
    const forum = { id: -100888, type: "supergroup" as const, title: "Forum", is_forum: true };
    fake.failures.set("sendMessage", { status: 400, description: "Bad Request: TOPIC_CLOSED" });
    let from = fake.calls.length;
    fake.sendPhoto(forum, ALICE, fake.addFile(new Uint8Array(16)), { ...cap("/meme hi"), is_topic_message: true, message_thread_id: 77 });
    await new Promise((r) => setTimeout(r, 800));
    console.log("TEXT closed topic:", fake.calls.slice(from).filter((c) => c.method === "sendMessage").map((c) => [c.params.chat_id, c.params.message_thread_id]), errs);
    fake.failures.delete("sendMessage");
    errs.length = 0;
    fake.chatFailures.set(-4321, { status: 400, description: "Bad Request: group chat was upgraded to a supergroup chat", parameters: { migrate_to_chat_id: -100999 } });
    from = fake.calls.length;
    fake.sendPhoto({ id: -4321, type: "supergroup", title: "Old" }, ALICE, fake.addFile(new Uint8Array(16)), cap("/meme hi"));
    await new Promise((r) => setTimeout(r, 800));
    console.log("TEXT migrated:", fake.calls.slice(from).filter((c) => c.method === "sendMessage").map((c) => c.params.chat_id), errs);
    vi.restoreAllMocks();
  });

  it("discussion group", async () => {
    const disc = { id: -100444, type: "supergroup" as const, title: "Comments" };
    const channel = { id: -100333, type: "channel", title: "News" };
    const f = fake.addFile(new Uint8Array(16));
    let from = fake.calls.length;
    const fwd = fake.sendMessage(disc, { id: 777000, is_bot: false, first_name: "Telegram" }, { sender_chat: channel, is_automatic_forward: true, forward_origin: { type: "channel", chat: channel, message_id: 5, date: 0 }, photo: [{ file_id: f.file_id, file_unique_id: f.file_unique_id, width: 512, height: 512 }], caption: "/meme of the day", caption_entities: [{ type: "bot_command", offset: 0, length: 5 }] });
    await new Promise((r) => setTimeout(r, 600));
    console.log("AUTO-FWD:", fake.calls.slice(from).filter((c) => c.method.startsWith("send") && c.method !== "sendChatAction").map((c) => `${c.method} ${c.params.text ?? ""}`));
    from = fake.calls.length;
    fake.sendMessage(disc, ALICE, { text: "/meme hi", entities: [{ type: "bot_command", offset: 0, length: 5 }], reply_to_message: fwd, message_thread_id: fwd.message_id });
    await new Promise((r) => setTimeout(r, 600));
    console.log("COMMENT:", fake.calls.slice(from).filter((c) => c.method.startsWith("send") && c.method !== "sendChatAction").map((c) => `${c.method} thread=${c.params.message_thread_id} reply=${JSON.stringify(c.params.reply_parameters)}`));
  });

  it("edited message with /meme", async () => {
    const msg = fake.sendMessage(GROUP, ALICE, { text: "/mem hi" });
    const from = fake.calls.length;
    const photo = fake.sendPhoto(GROUP, ALICE, fake.addFile(new Uint8Array(16)));
    (fake as any).push({ edited_message: { ...msg, text: "/meme hi", entities: [{ type: "bot_command", offset: 0, length: 5 }], reply_to_message: photo, edit_date: 1 } });
    await new Promise((r) => setTimeout(r, 1500));
    console.log("EDITED: memes", memeCalls.length, "calls", fake.calls.slice(from).map((c) => c.method));
  });
});
