import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { createTelegramBot } from "../../src/bots/telegram/bot.ts";
import { FakeTelegram, type RecordedCall } from "../helpers/fake-telegram.ts";
import { DOUBLE_HANDLERS, startTestApp } from "./harness.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";

/**
 * A burst of /meme photo captions through the real grammY bot against the fake Bot API, on the real
 * composition root (store, in-process queue with one worker thread) and double handlers that hold the
 * worker `jobMs` per job: the Telegram counterpart of ack-load.ts. Each request comes from one of
 * `users` users (each with a saved face) in a group of its own, so the first call the bot makes to that
 * group (its "upload_photo" chat action) is that request's acknowledgement, and the reply to the
 * request's message is its answer (the picture, or a refusal).
 * Latencies are update pushed by the fake → call received by the fake; the fake runs in this process.
 */
export interface TelegramBurstResult {
  burst: number;
  /** Update pushed → first call of the bot to that chat. */
  ackMs: number[];
  /** Update pushed → the reply to the request's message (picture or refusal). */
  answerMs: number[];
  outcomes: { image: number; busy: number; other: string[] };
  /** Main-thread event-loop lag during the burst only (1 ms sampling), bot and fake together. */
  lag: { p50: number; p99: number; max: number };
}

const chatOf = (c: RecordedCall) => Number(c.params.chat_id);
const replyTo = (c: RecordedCall) => (c.params.reply_parameters as { message_id?: number } | undefined)?.message_id;

export async function measureTelegramBurst(opts: { burst: number; users: number; capacity: number; jobMs: number }): Promise<TelegramBurstResult> {
  // Worker threads copy the environment when they start, so the delay is set before the app exists.
  process.env.MIMIC_TEST_JOB_DELAY_MS = String(opts.jobMs);
  const app = await startTestApp(
    { QUEUE_WORKERS: "1", QUEUE_CAPACITY: String(opts.capacity), QUEUE_PER_USER: "100", DAILY_QUOTA_PER_USER: "0" },
    { handlers: DOUBLE_HANDLERS },
  );
  const fake = await FakeTelegram.start();
  const bot = createTelegramBot({ core: app.core, token: fake.token, apiRoot: fake.apiRoot });
  try {
    await bot.start();
    const users = Array.from({ length: opts.users }, (_, i) => ({ id: 1000 + i, is_bot: false as const, first_name: `User${i}` }));
    const faceFile = fake.addFile(FACE_JPG);
    for (const user of users) {
      const chat = { id: user.id, type: "private" as const };
      const face = fake.sendPhoto(chat, user, faceFile);
      const saved = fake.waitFor((c) => chatOf(c) === user.id && c.method === "sendMessage" && /Saved your face/.test(String(c.params.text)), 60_000);
      fake.sendCommand(chat, user, "/save me", face);
      await saved;
    }

    const reaction = fake.addFile(REACTION_LAUGH_JPG);
    const t0 = performance.now();
    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    const requests = Array.from({ length: opts.burst }, (_, i) => {
      const chat = { id: -1_000_000 - i, type: "supergroup" as const, title: `g${i}` };
      const at = performance.now();
      const message = fake.sendPhoto(chat, users[i % users.length], reaction, {
        caption: "/meme when the build | finally passes",
        caption_entities: [{ type: "bot_command", offset: 0, length: 5 }],
      });
      return { chat: chat.id, messageId: Number(message.message_id), at };
    });
    const limit = 30_000 + opts.burst * opts.jobMs * 2;
    const answers = await Promise.all(
      requests.map((r) =>
        // The answer, not the queue-position message that also replies to the command while it waits.
        fake.waitFor((c) => c.at >= t0 && chatOf(c) === r.chat && replyTo(c) === r.messageId && !/^In the queue:/.test(String(c.params.text ?? "")), limit),
      ),
    );
    lag.disable();
    const ackMs = requests.map((r) => fake.calls.find((c) => c.at >= t0 && chatOf(c) === r.chat)!.at - r.at);
    const outcomes = { image: 0, busy: 0, other: [] as string[] };
    for (const a of answers) {
      if (a.method === "sendPhoto") outcomes.image++;
      else if (/Mimic is busy right now/.test(String(a.params.text))) outcomes.busy++;
      else outcomes.other.push(`${a.method}: ${String(a.params.text ?? a.params.caption)}`);
    }
    return {
      burst: opts.burst,
      ackMs,
      answerMs: answers.map((a, i) => a.at - requests[i].at),
      outcomes,
      lag: { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
    };
  } finally {
    await bot.stop();
    await app.close();
    await fake.close();
    delete process.env.MIMIC_TEST_JOB_DELAY_MS;
  }
}
