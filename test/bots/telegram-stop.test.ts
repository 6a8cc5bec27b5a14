import { mkdtempSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import { REPLY_GRACE_MS, startApp } from "../../src/app.ts";
import { createTelegramBot } from "../../src/bots/telegram/bot.ts";
import { loadConfig } from "../../src/config.ts";
import { logger } from "../../src/logger.ts";
import { FakeTelegram } from "../helpers/fake-telegram.ts";
import { readBody } from "../helpers/read-body.ts";
import { scriptedCore } from "../helpers/scripted-core.ts";
import { DOUBLE_HANDLERS } from "./harness.ts";

/**
 * Stopping Mimic (RunningApp.stop, the real app with the real grammY bot against the fake Bot API) while
 * Telegram does not answer getUpdates at all: grammY's last getUpdates, which confirms the updates taken,
 * must not hold shutdown past its bound, and no update may be lost.
 */

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Mimic's drain at shutdown (its default, set here so the bound below is the one the app runs with). */
const DRAIN_MS = 10_000;
const ALICE = { id: 11, is_bot: false as const, first_name: "Alice" };
const HERE = { id: 11, type: "private" as const };
const THERE = { id: 22, type: "private" as const };

/** From now on the fake Bot API reads getUpdates requests (their parameters are kept) and never answers them. */
function holdGetUpdates(fake: FakeTelegram): { held: Record<string, unknown>[]; release(): void } {
  const f = fake as unknown as { handle(req: IncomingMessage, res: ServerResponse): Promise<void> };
  const handle = f.handle.bind(fake);
  const held: Record<string, unknown>[] = [];
  let holding = true;
  f.handle = async (req, res) => {
    if (!holding || !/\/getUpdates$/.test(req.url ?? "")) return handle(req, res);
    const body = await readBody(req);
    held.push((body.json as Record<string, unknown> | undefined) ?? body.fields);
  };
  return { held, release: () => (holding = false) };
}

describe("Telegram: stopping Mimic while Telegram does not answer getUpdates", () => {
  it("stop() resolves within SHUTDOWN_DRAIN_MS + REPLY_GRACE_MS though the confirming getUpdates is never answered, warns, and the next start still gets the update that came meanwhile", async () => {
    const fake = await FakeTelegram.start();
    cleanups.push(() => fake.close());
    const dir = mkdtempSync(join(tmpdir(), "mimic-tg-stop-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = loadConfig({
      LOG_LEVEL: "silent",
      DATA_DIR: dir,
      DATABASE_URL: `file:${join(dir, "mimic.db")}`,
      QUEUE_WORKERS: "1",
      TELEGRAM_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      DISCORD_TOKEN: "",
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
    });
    const running = await startApp(config, { handlers: DOUBLE_HANDLERS, onFatal: () => {} });
    let stopped: Promise<void> | undefined;
    cleanups.push(async () => {
      // Closing the fake first ends whatever request still hangs: only then can a stop that waits for it end.
      await fake.close();
      await (stopped ?? running.stop());
    });

    // One update taken and answered: the confirmation has an offset to confirm.
    fake.sendCommand(HERE, ALICE, "/help");
    await fake.waitFor((c) => c.method === "sendMessage" && c.params.chat_id === HERE.id);
    const telegram = holdGetUpdates(fake);
    // The long poll the fake was answering has ended: grammY's next one hangs, so a new update stays with "Telegram".
    await vi.waitFor(() => expect(telegram.held.length).toBeGreaterThan(0), { timeout: 10_000, interval: 20 });
    fake.sendCommand(THERE, ALICE, "/help");

    const warn = vi.spyOn(logger, "warn");
    const bound = DRAIN_MS + REPLY_GRACE_MS;
    const began = performance.now();
    stopped = running.stop();
    const outcome = await Promise.race([stopped.then(() => "stopped"), sleep(bound).then(() => "still stopping")]);
    expect(outcome).toBe("stopped");
    expect(performance.now() - began).toBeLessThan(bound);
    // The confirmation (no long-poll timeout) was asked for, with the offset after the update handled.
    expect(telegram.held.filter((p) => p.timeout === undefined)).toEqual([expect.objectContaining({ offset: 2 })]);
    expect(warn.mock.calls.map((c) => String(c[1]))).toContainEqual(expect.stringMatching(/could not confirm the updates taken/));

    // Nothing was confirmed, so nothing is lost: the next start gets the update that arrived during the stop.
    telegram.release();
    const next = createTelegramBot({ core: scriptedCore({}), token: fake.token, apiRoot: fake.apiRoot });
    cleanups.push(() => next.stop());
    await next.start();
    await fake.waitFor((c) => c.method === "sendMessage" && c.params.chat_id === THERE.id, 10_000);
  }, 60_000);
});
