import { afterEach, expect, it } from "vitest";
import { createTelegramBot, type TelegramBot } from "../src/bots/telegram/bot.ts";
import { FakeTelegram } from "./helpers/fake-telegram.ts";
import { DOUBLE_HANDLERS, startTestApp, type TestApp } from "./bots/harness.ts";
import { enrolDouble } from "./core/doubles.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "./core/images.ts";

const GROUP = { id: -100555, type: "supergroup" as const, title: "Big" };
let fake: FakeTelegram, app: TestApp, bot: TelegramBot;
afterEach(async () => {
  await bot?.stop();
  await app?.close();
  await fake?.close();
});

it("N concurrent /meme in one group: messages the bot sends to the group", async () => {
  process.env.MIMIC_TEST_JOB_DELAY_MS = "1000";
  fake = await FakeTelegram.start();
  app = await startTestApp({ QUEUE_WORKERS: "1" }, { handlers: DOUBLE_HANDLERS });
  bot = createTelegramBot({ core: app.core, token: fake.token, apiRoot: fake.apiRoot });
  await bot.start();
  const N = 12;
  const users = Array.from({ length: N }, (_, i) => ({ id: 100 + i, is_bot: false as const, first_name: `U${i}` }));
  const enrolled = (await enrolDouble({ bytes: FACE_JPG })) as any;
  for (const u of users) await app.app.store.templates.save({ platform: "telegram", userId: String(u.id) }, "me", enrolled.face.data);
  const from = fake.calls.length;
  const t0 = performance.now();
  const reaction = fake.addFile(REACTION_LAUGH_JPG);
  const msgs = users.map((u) => fake.sendPhoto(GROUP, u, reaction, { caption: "/meme hi", caption_entities: [{ type: "bot_command", offset: 0, length: 5 }] }));
  await Promise.all(msgs.map((m) => fake.answerTo(m, ["sendPhoto", "sendMessage"], 120_000).then((c) => c.method === "sendPhoto" ? c : fake.waitFor((d) => d.method === "sendPhoto" && (d.params.reply_parameters as any)?.message_id === m.message_id, 120_000))));
  await new Promise((r) => setTimeout(r, 500));
  const inGroup = fake.calls.slice(from).filter((c) => Number(c.params.chat_id) === GROUP.id);
  const by: Record<string, number> = {};
  for (const c of inGroup) by[c.method] = (by[c.method] ?? 0) + 1;
  console.log(`BIG: ${N} memes in ${Math.round((performance.now() - t0) / 1000)} s; calls to the group:`, JSON.stringify(by));
  console.log("status texts:", inGroup.filter((c) => c.method === "sendMessage").map((c) => c.params.text).slice(0, 3));
  delete process.env.MIMIC_TEST_JOB_DELAY_MS;
}, 200_000);
