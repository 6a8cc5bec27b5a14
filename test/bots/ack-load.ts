import { monitorEventLoopDelay } from "node:perf_hooks";
import { createDiscordBot } from "../../src/bots/discord/bot.ts";
import { FakeDiscord, OPT, type RestCall } from "../helpers/fake-discord.ts";
import { DOUBLE_HANDLERS, startTestApp } from "./harness.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";

/**
 * Discord acknowledgement latency while the queue is full: the real discord.js Client, the real
 * composition root (store, in-process queue with one worker thread) and handlers that keep the worker
 * busy for `jobMs` each, so most of a burst of /meme commands waits or is refused as BUSY.
 * Latency = INTERACTION_CREATE sent by the fake gateway → interaction callback received by the fake REST.
 */
export interface AckLoadResult {
  idleAckMs: number[];
  burstAckMs: number[];
  /** The bot's own view of the burst: handler entry → deferReply answered. */
  burstHandlerAckMs: number[];
  burst: number;
  capacity: number;
  outcomes: { image: number; busy: number; other: string[] };
  /** Queue positions shown to users (progress edits), in arrival order. */
  positionsShown: number[];
  /** Main-thread event-loop lag during the burst only (1 ms sampling), bot and fake together. */
  burstLag: { p50: number; p99: number; max: number };
}

const content = (c: RestCall) => String((c.json as Record<string, unknown> | undefined)?.content ?? "");

export async function measureAckUnderLoad(opts: { burst: number; capacity: number; jobMs: number }): Promise<AckLoadResult> {
  // Worker threads copy the environment when they start, so the delay is set before the app exists.
  process.env.MIMIC_TEST_JOB_DELAY_MS = String(opts.jobMs);
  const app = await startTestApp(
    { QUEUE_WORKERS: "1", QUEUE_CAPACITY: String(opts.capacity), QUEUE_PER_USER: "100", DAILY_QUOTA_PER_USER: "0" },
    { handlers: DOUBLE_HANDLERS },
  );
  const fake = await FakeDiscord.start();
  const handlerAck: { command: string; latencyMs: number }[] = [];
  const bot = createDiscordBot({ core: app.core, token: fake.token, apiRoot: fake.base, onAcknowledged: (a) => handlerAck.push(a) });
  try {
    await bot.start();
    const alice = { id: "100000000000000011", username: "alice" };
    const photo = fake.addAttachment(FACE_JPG, "face.jpg", "image/jpeg");
    const save = fake.slash(
      alice,
      "face",
      [{ name: "save", type: OPT.subcommand, options: [{ name: "photo", type: OPT.attachment, value: photo.id }, { name: "name", type: OPT.string, value: "me" }] }],
      { attachments: [photo] },
    );
    await fake.finalAnswer(save.token, 60_000);

    const idleAckMs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const list = fake.slash(alice, "face", [{ name: "list", type: OPT.subcommand, options: [] }]);
      await fake.finalAnswer(list.token);
      idleAckMs.push(fake.ackLatencyMs.get(list.id)!);
    }

    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "r.jpg", "image/jpeg");
    handlerAck.length = 0;
    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    const burst = Array.from({ length: opts.burst }, () =>
      fake.slash(alice, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] }),
    );
    const answers = await Promise.all(burst.map((b) => fake.finalAnswer(b.token, 30_000 + opts.burst * opts.jobMs * 2)));
    lag.disable();
    const outcomes = { image: 0, busy: 0, other: [] as string[] };
    for (const a of answers) {
      if (a.files.length === 1) outcomes.image++;
      else if (/Mimic is busy right now/.test(content(a))) outcomes.busy++;
      else outcomes.other.push(content(a));
    }
    const positionsShown = burst.flatMap((b) =>
      fake
        .callsFor(b.token)
        .map((c) => /position (\d+)/.exec(content(c))?.[1])
        .filter((p): p is string => p !== undefined)
        .map(Number),
    );
    return {
      idleAckMs,
      burstAckMs: burst.map((b) => fake.ackLatencyMs.get(b.id)!),
      burstHandlerAckMs: handlerAck.filter((a) => a.command === "meme").map((a) => a.latencyMs),
      burst: opts.burst,
      capacity: opts.capacity,
      outcomes,
      positionsShown,
      burstLag: { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
    };
  } finally {
    await bot.stop();
    await app.close();
    await fake.close();
    delete process.env.MIMIC_TEST_JOB_DELAY_MS;
  }
}

export function summarise(ms: number[]): { p50: number; p95: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: at(0.5), p95: at(0.95), max: s[s.length - 1] };
}
