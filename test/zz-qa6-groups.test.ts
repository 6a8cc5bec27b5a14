import { existsSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTelegramBot, type TelegramBot } from "../src/bots/telegram/bot.ts";
import { logger } from "../src/logger.ts";
import { FakeTelegram } from "./helpers/fake-telegram.ts";
import { startTestApp, type TestApp } from "./bots/harness.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "./core/images.ts";

const GATED = new URL("./bots/gated-handlers.ts", import.meta.url);
const GROUP = { id: -100555, type: "supergroup" as const, title: "Memes" };
const ALICE = { id: 11, is_bot: false as const, first_name: "Alice" };
const BOB = { id: 22, is_bot: false as const, first_name: "Bob" };
const DM = (u: typeof ALICE) => ({ id: u.id, type: "private" as const });
const cap = (text: string) => ({ caption: text, caption_entities: [{ type: "bot_command", offset: 0, length: 5 }] });

describe("QA6", () => {
  let fake: FakeTelegram;
  let app: TestApp;
  let bot: TelegramBot;
  let gates: string;
  let logs: { level: string; msg: string; fields: unknown }[];

  beforeEach(async () => {
    gates = mkdtempSync(join(tmpdir(), "qa6-gates-"));
    process.env.MIMIC_TEST_GATE_DIR = gates;
    writeFileSync(join(gates, "enrol.open"), "");
    fake = await FakeTelegram.start();
    app = await startTestApp({ QUEUE_WORKERS: "1" }, { handlers: GATED });
    bot = createTelegramBot({ core: app.core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
    logs = [];
    for (const level of ["error", "warn", "info"] as const) {
      vi.spyOn(logger, level).mockImplementation(((fields: unknown, msg?: string) => void logs.push({ level, msg: String(msg ?? fields), fields })) as never);
    }
    for (const u of [ALICE, BOB]) {
      const r = fake.answerTo(fake.sendCommand(DM(u), u, "/save me", fake.sendPhoto(DM(u), u, fake.addFile(FACE_JPG))), "sendMessage", 60_000);
      expect(String((await r).params.text)).toContain("Saved");
    }
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await bot?.stop();
    await app?.close();
    await fake?.close();
    rmSync(gates, { recursive: true, force: true });
    delete process.env.MIMIC_TEST_GATE_DIR;
  });
  const open = (g: string) => writeFileSync(join(gates, `${g}.open`), "");
  const started = async (g: string) => vi.waitFor(() => expect(existsSync(join(gates, `${g}.started`))).toBe(true), { timeout: 15_000 }).catch((e) => { console.log("NOT STARTED", g, callsSince(0).join("\n"), logs.map((l) => l.msg + JSON.stringify(l.fields).slice(0,300))); throw e; });
  const usage = async (u: typeof ALICE) => {
    const r = fake.answerTo(fake.sendCommand(DM(u), u, "/usage"), "sendMessage", 30_000);
    return String((await r).params.text).split("\n")[0];
  };
  const callsSince = (from: number) => fake.calls.slice(from).map((c) => `${c.method}${c.params.chat_id !== undefined ? `@${c.params.chat_id}` : ""}${c.params.text ? ` ${JSON.stringify(String(c.params.text).slice(0, 70))}` : ""}`);

  it("slow mode: the queue message takes the slot; the result and the flood notice both fail", async () => {
    const from = fake.calls.length;
    fake.sendPhoto(GROUP, BOB, fake.addFile(REACTION_LAUGH_JPG), cap("/meme gate:b |"));
    await started("b");
    const status = fake.waitFor((c) => fake.calls.indexOf(c) >= from && c.method === "sendMessage" && /queue|Next in line/.test(String(c.params.text)), 30_000);
    fake.sendPhoto(GROUP, ALICE, fake.addFile(REACTION_LAUGH_JPG), cap("/meme gate:a |"));
    await status.catch(() => undefined);
    // slow mode 60 s: after the bot's message, every send to the group is refused for a minute
    fake.chatFailures.set(GROUP.id, { status: 429, description: "Too Many Requests: retry after 60", parameters: { retry_after: 60 } });
    open("b");
    open("a");
    await vi.waitFor(() => expect(logs.filter((l) => l.msg === "telegram task failed").length).toBe(2), { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 500));
    fake.chatFailures.delete(GROUP.id);
    console.log("SLOWMODE calls:\n" + callsSince(from).filter((c) => !c.startsWith("sendChatAction")).join("\n"));
    console.log("SLOWMODE logs:", logs.map((l) => `${l.level}: ${l.msg}`).join(" | "));
    console.log("usage alice:", await usage(ALICE), "bob:", await usage(BOB));
  });

  it("bot kicked mid-job", async () => {
    const from = fake.calls.length;
    fake.sendPhoto(GROUP, ALICE, fake.addFile(REACTION_LAUGH_JPG), cap("/meme gate:k |"));
    await started("k");
    fake.chatFailures.set(GROUP.id, { status: 403, description: "Forbidden: bot was kicked from the supergroup chat" });
    const kickedAt = fake.calls.length;
    await new Promise((r) => setTimeout(r, 10_000));
    open("k");
    await vi.waitFor(() => expect(logs.some((l) => l.msg === "telegram task failed")).toBe(true), { timeout: 30_000 });
    console.log("KICK actions after kick:", fake.calls.slice(kickedAt).filter((c) => c.method === "sendChatAction").length);
    console.log("KICK calls:\n" + callsSince(from).filter((c) => !c.startsWith("sendChatAction")).join("\n"));
    console.log("KICK logs:", logs.map((l) => `${l.level}: ${l.msg}`).join(" | "));
    fake.chatFailures.delete(GROUP.id);
    console.log("usage alice:", await usage(ALICE));
  }, 60_000);

  it("a member restricted from sending media gets a meme posted for them", async () => {
    fake.memberStatus.set(`${GROUP.id}:${ALICE.id}`, "restricted" as never);
    const from = fake.calls.length;
    open("r");
    const photo = fake.sendPhoto(GROUP, BOB, fake.addFile(REACTION_LAUGH_JPG));
    const ans = fake.answerTo(fake.sendCommand(GROUP, ALICE, "/meme gate:r |", photo), ["sendPhoto", "sendMessage"], 30_000);
    console.log("RESTRICTED answer:", (await ans).method, "getChatMember calls:", fake.calls.slice(from).filter((c) => c.method === "getChatMember").length);
  });

  it("migrate during a job: where the audit row lands", async () => {
    const NEW = -100999;
    fake.memberStatus.set(`${NEW}:${BOB.id}`, "administrator");
    const OLD = { id: -4321, type: "group" as const, title: "Old" };
    fake.sendPhoto(OLD, ALICE, fake.addFile(REACTION_LAUGH_JPG), cap("/meme gate:m |"));
    await started("m");
    fake.sendMessage(OLD, ALICE, { migrate_to_chat_id: NEW });
    fake.sendMessage({ id: NEW, type: "supergroup", title: "Old" }, ALICE, { migrate_from_chat_id: OLD.id });
    fake.chatFailures.set(OLD.id, { status: 400, description: "Bad Request: group chat was upgraded to a supergroup chat", parameters: { migrate_to_chat_id: NEW } });
    await new Promise((r) => setTimeout(r, 1000));
    open("m");
    const moved = await fake.waitFor((c) => c.method === "sendPhoto" && c.params.chat_id === NEW, 30_000);
    const shown = { message_id: (moved.result as { message_id: number }).message_id, date: 0, chat: { id: NEW, type: "supergroup", title: "Old" }, from: fake.botInfo, photo: [{ file_id: fake.addFile(REACTION_LAUGH_JPG).file_id, file_unique_id: "x", width: 512, height: 512 }] };
    await new Promise((r) => setTimeout(r, 500));
    const priv = fake.waitFor((c) => c.method === "sendMessage" && (c.params.chat_id === NEW || c.params.chat_id === BOB.id) && String(c.params.text).includes("SHA-256") || String(c.params.text).includes("No picture"), 30_000);
    fake.sendCommand({ id: NEW, type: "supergroup", title: "Old" }, BOB, "/audit", shown);
    console.log("MIGRATE audit answer:", String((await priv).params.text).slice(0, 200));
    const rows = await (app.app.store as any).audit?.db?.auditEvent?.findMany?.().catch?.(() => undefined);
    console.log("MIGRATE rows:", JSON.stringify(rows?.map((r: any) => [r.serverId, r.channelId, r.messageRef])));
  });
});
