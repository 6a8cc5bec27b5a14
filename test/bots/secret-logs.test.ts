import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createDiscordBot, type DiscordBot } from "../../src/bots/discord/bot.ts";
import { createTelegramBot, type TelegramBot } from "../../src/bots/telegram/bot.ts";
import { logger } from "../../src/logger.ts";
import { ALICE, FakeDiscord } from "../helpers/fake-discord.ts";
import { FakeTelegram } from "../helpers/fake-telegram.ts";
import { scriptedCore } from "../helpers/scripted-core.ts";

/**
 * The secrets request URLs carry (Telegram's bot token, a Discord interaction's token) never reach the logs: the
 * real adapters against the fakes fail a request, and what they log is written through the root logger's own
 * error serializer, as pino writes it.
 */
const file = { bytes: new Uint8Array([0x89, 0x50, 1, 2]), name: "mimic-me.png", mime: "image/png", width: 10, height: 10 };

/** Every line logged at warn or error from now on, as its JSON would read. */
function loggedLines(): string[] {
  const serialize = (logger as unknown as Record<symbol, { err: (e: unknown) => unknown }>)[pino.symbols.serializersSym]!.err;
  const lines: string[] = [];
  for (const level of ["error", "warn"] as const) {
    vi.spyOn(logger, level).mockImplementation(((fields: unknown, msg?: string) => {
      const o: Record<string, unknown> = fields && typeof fields === "object" ? { ...(fields as Record<string, unknown>) } : { msg: fields };
      if (o.err) o.err = serialize(o.err);
      lines.push(JSON.stringify({ level, msg, ...o }));
    }) as never);
  }
  return lines;
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("secrets stay out of the logs", () => {
  it("Discord: a refused upload's error names the interaction's webhook, without its token", async () => {
    const fake = await FakeDiscord.start();
    cleanups.push(() => fake.close());
    const bot: DiscordBot = createDiscordBot({ core: scriptedCore({ meme: async () => ({ text: "Here you go", ephemeral: false, file }) }), token: fake.token, apiRoot: fake.base });
    cleanups.push(() => bot.stop());
    await bot.start();
    const lines = loggedLines();
    fake.failNext((c) => c.method === "PATCH" && c.files.length > 0, 413, { code: 40005, message: "Request entity too large" });
    fake.channelMessages = [fake.message(ALICE, [fake.addAttachment(new Uint8Array([1]), "r.png", "image/png")])];
    const i = fake.slash(ALICE, "meme", []);
    await fake.finalAnswer(i.token);
    await vi.waitFor(() => expect(lines.some((l) => l.includes("discord upload failed"))).toBe(true));
    expect(lines.join("\n")).toContain(`/webhooks/${fake.appId}/***`);
    expect(lines.join("\n")).not.toContain(i.token);
  });

  it("Telegram: failed calls (an upload, a member lookup) are logged without the bot token", async () => {
    const fake = await FakeTelegram.start();
    cleanups.push(() => fake.close());
    const core = scriptedCore({ meme: async () => ({ text: "Here you go", ephemeral: false, file }), usage: async () => ({ text: "u", ephemeral: true }) });
    const bot: TelegramBot = createTelegramBot({ core, token: fake.token, apiRoot: fake.apiRoot });
    cleanups.push(() => bot.stop());
    await bot.start();
    const lines = loggedLines();
    const group = { id: -100777, type: "supergroup" as const, title: "Memes" };
    const alice = { id: 11, is_bot: false as const, first_name: "Alice" };
    // Connections dropped mid-request: node-fetch's error message repeats the whole URL, token included.
    fake.drops.set("sendPhoto", 5);
    fake.drops.set("getChatMember", 1);
    fake.sendPhoto(group, alice, fake.addFile(new Uint8Array([0xff, 0xd8, 0xff, 1]), "jpg"), { caption: "/meme hi" });
    await fake.waitFor((c) => c.method === "sendMessage" && String(c.params.text).startsWith("Your meme was made"), 20_000);
    fake.sendCommand(group, alice, "/usage");
    await fake.waitFor((c) => c.method === "sendMessage" && c.params.text === "u", 20_000);
    const all = lines.join("\n");
    expect(all).toContain("telegram upload failed");
    expect(all).toContain("/bot***/sendPhoto");
    expect(all).not.toContain(fake.token);
  });
});
