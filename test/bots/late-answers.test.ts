import { afterEach, describe, expect, it } from "vitest";
import { createDiscordBot } from "../../src/bots/discord/bot.ts";
import { createTelegramBot } from "../../src/bots/telegram/bot.ts";
import type { Core } from "../../src/core/index.ts";
import { FakeDiscord } from "../helpers/fake-discord.ts";
import { FakeTelegram } from "../helpers/fake-telegram.ts";

/**
 * The adapters' answers to requests another process took and lost (abandoned.ts), from the notes their renders
 * leave (CommandContext.pendingReply), against the fakes with the real grammY and discord.js clients.
 */
const core = {} as Core;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const signal = () => AbortSignal.timeout(60_000);

describe("late answers", () => {
  it("Telegram: a reply to the lost command, in its topic", async () => {
    const fake = await FakeTelegram.start();
    cleanups.push(() => fake.close());
    const bot = createTelegramBot({ core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.answerLate(JSON.stringify({ chatId: -1005, threadId: 7, messageId: 42 }), "lost", signal());
    const sent = fake.calls.find((c) => c.method === "sendMessage");
    expect(sent?.params).toMatchObject({ chat_id: -1005, text: "lost", message_thread_id: 7, reply_parameters: { message_id: 42, allow_sending_without_reply: true } });
  });

  it("Telegram: the lost request's queue message is taken down before the reply; one already gone does not hold the reply back", async () => {
    const fake = await FakeTelegram.start();
    cleanups.push(() => fake.close());
    const bot = createTelegramBot({ core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.answerLate(JSON.stringify({ chatId: -1005, messageId: 42, statusId: 43 }), "lost", signal());
    expect(fake.calls.map((c) => [c.method, c.params.message_id ?? c.params.text])).toEqual([
      ["deleteMessage", 43],
      ["sendMessage", "lost"],
    ]);
    fake.failures.set("deleteMessage", { status: 400, description: "Bad Request: message to delete not found", times: 1 });
    await bot.answerLate(JSON.stringify({ chatId: -1005, messageId: 50, statusId: 51 }), "lost again", signal());
    expect(fake.calls.slice(2).map((c) => c.method)).toEqual(["deleteMessage", "sendMessage"]);
  });

  it("Discord: edits the interaction's answer with its own token; past Discord's 15 minutes it does not try; a refusal is said without the token", async () => {
    const fake = await FakeDiscord.start();
    cleanups.push(() => fake.close());
    const bot = createDiscordBot({ core, token: fake.token, apiRoot: fake.base });
    cleanups.push(() => bot.client.destroy());
    const note = (token: string, agoMs: number) => JSON.stringify({ appId: fake.appId, token, at: Date.now() - agoMs });
    const edits = (token: string) => fake.calls.filter((c) => c.method === "PATCH" && c.path.endsWith(`/webhooks/${fake.appId}/${token}/messages/@original`));

    await bot.answerLate(note("fresh-token", 60_000), "lost", signal());
    expect(edits("fresh-token").map((c) => [(c.json as { content?: string }).content, c.authorization])).toEqual([["lost", undefined]]);

    await bot.answerLate(note("stale-token", 16 * 60_000), "lost", signal());
    expect(edits("stale-token")).toEqual([]);

    fake.failNext((c) => c.path.includes("refused-token"), 404, { code: 10015, message: "Unknown Webhook" });
    const refused = await bot.answerLate(note("refused-token", 0), "lost", signal()).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(refused?.message).toMatch(/^Discord refused to edit the lost interaction's answer \(HTTP 404\)/);
    expect(refused?.message).not.toContain("refused-token");
  });
});
