/**
 * A batch of updates must not hold the event loop in one piece (issue #15 item 2, Telegram's path). The Bot
 * API answers getUpdates with up to 100 updates; grammY handles them one after another, and each /meme
 * handler only starts its work (chat action, file look-up, the core's checks) before returning, so without
 * a turn between updates the whole batch's start-up ran as one chain of microtasks. Counted in event-loop
 * turns, not milliseconds (the same idea as event-loop-turns.test.ts), so it does not depend on the
 * machine's speed. Real grammY against the fake Bot API; the core only records when it is called.
 */
import { afterEach, expect, test } from "vitest";
import { createTelegramBot, type TelegramBot } from "../../src/bots/telegram/bot.ts";
import type { Core, Reply } from "../../src/core/index.ts";
import { FakeTelegram } from "../helpers/fake-telegram.ts";
import { REACTION_LAUGH_JPG } from "../core/images.ts";

let fake: FakeTelegram | undefined;
let bot: TelegramBot | undefined;
afterEach(async () => {
  await bot?.stop();
  await fake?.close();
  bot = fake = undefined;
});

test("a batch of 50 /meme updates is handled over at least 50 event-loop turns, not in one", async () => {
  const BATCH = 50;
  let turns = 0;
  let counting = true;
  const tick = () => {
    turns += 1;
    if (counting) setImmediate(tick);
  };
  /** The loop turn in which the core was asked for each meme. */
  const memeTurns: number[] = [];
  const answered = (): Promise<Reply> => Promise.resolve({ text: "ok", ephemeral: false });
  const core = new Proxy({} as Core, {
    get: (_t, method) =>
      method === "meme"
        ? () => {
            memeTurns.push(turns);
            return answered();
          }
        : method === "templateNames"
          ? async () => []
          : answered,
  });
  fake = await FakeTelegram.start();
  bot = createTelegramBot({ core, token: fake.token, apiRoot: fake.apiRoot });
  await bot.start();

  const reaction = fake.addFile(REACTION_LAUGH_JPG);
  const user = { id: 7, is_bot: false as const, first_name: "Dee" };
  const replies = Array.from({ length: BATCH }, (_, i) => {
    const chat = { id: -2_000_000 - i, type: "supergroup" as const, title: `g${i}` };
    return fake!.waitFor((c) => c.method === "sendMessage" && Number(c.params.chat_id) === chat.id, 60_000).then(() => chat);
  });
  setImmediate(tick);
  // Pushed in one go: the bot's pending getUpdates answers with all of them in one batch.
  for (let i = 0; i < BATCH; i++) {
    const chat = { id: -2_000_000 - i, type: "supergroup" as const, title: `g${i}` };
    fake.sendPhoto(chat, user, reaction, { caption: "/meme hi", caption_entities: [{ type: "bot_command", offset: 0, length: 5 }] });
  }
  await Promise.all(replies);
  counting = false;
  expect(memeTurns).toHaveLength(BATCH);
  // Each update's handler starts in a turn of its own (all shared one or two before).
  expect(new Set(memeTurns).size).toBeGreaterThanOrEqual(BATCH);
});
