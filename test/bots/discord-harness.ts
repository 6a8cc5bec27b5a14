import { afterEach, beforeEach } from "vitest";
import { createDiscordBot, type DiscordBot, type DiscordBotOptions } from "../../src/bots/discord/bot.ts";
import { FakeDiscord } from "../helpers/fake-discord.ts";
import { startTestApp, type TestApp } from "./harness.ts";

/**
 * Per test: a fake Discord, the test app and the real Discord bot connected to it; closed after the test.
 * `opts.bot`: more of the bot's options (e.g. shorter REST timeouts).
 */
export function useDiscordBot(
  env: Record<string, string> = {},
  opts: { handlers?: URL; bot?: Partial<DiscordBotOptions> } = {},
): { fake: FakeDiscord; app: TestApp; bot: DiscordBot } {
  const live = {} as { fake: FakeDiscord; app: TestApp; bot: DiscordBot };
  beforeEach(async () => {
    live.fake = await FakeDiscord.start();
    live.app = await startTestApp(env, opts);
    live.bot = createDiscordBot({ ...opts.bot, core: live.app.core, token: live.fake.token, apiRoot: live.fake.base });
    await live.bot.start();
  });
  afterEach(async () => {
    await live.bot?.stop();
    await live.app?.close();
    await live.fake?.close();
  });
  return live;
}
