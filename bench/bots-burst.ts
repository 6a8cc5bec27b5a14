/**
 * The bots' burst modes of `npm run bench:load` (`--mode discord|telegram|bursts`): a burst of /meme
 * through the real discord.js client against the fake Discord (test/bots/ack-load.ts) and through the
 * real grammY bot against the fake Bot API (test/bots/telegram-burst.ts), each on the real store and
 * queue with double handlers that hold the one worker 100 ms per job, queue capacity 4. The fakes run in
 * this process too, so the lag (measured over the burst only) is an upper bound for the bot's own.
 */
import os from "node:os";
import { measureAckUnderLoad, summarise } from "../test/bots/ack-load.ts";
import { measureTelegramBurst } from "../test/bots/telegram-burst.ts";
import type { BurstFigures } from "./http-load.ts";

const JOB_MS = 100;
const CAPACITY = 4;

const answers = (o: { image: number; busy: number; other: string[] }) =>
  `${o.image} pictures, ${o.busy} BUSY, ${o.other.length} other${o.other.length ? ` (${[...new Set(o.other)].slice(0, 3).join("; ")})` : ""}`;

export async function discordBurst(burst: number): Promise<BurstFigures> {
  const load = os.loadavg()[0];
  const r = await measureAckUnderLoad({ burst, capacity: CAPACITY, jobMs: JOB_MS });
  return {
    title: `Discord (${burst} /meme from one user, discord.js ↔ fake gateway/REST)`,
    load,
    lag: r.burstLag,
    ack: summarise(r.burstAckMs),
    answers: answers(r.outcomes),
  };
}

export async function telegramBurst(burst: number): Promise<BurstFigures> {
  const load = os.loadavg()[0];
  const users = Math.min(20, burst);
  const r = await measureTelegramBurst({ burst, users, capacity: CAPACITY, jobMs: JOB_MS });
  return {
    title: `Telegram (${burst} /meme photo captions from ${users} users, one group each; grammY ↔ fake Bot API)`,
    load,
    lag: r.lag,
    ack: summarise(r.ackMs),
    answers: answers(r.outcomes),
    wallMs: Math.max(...r.answerMs),
  };
}
