import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { FakeTelegram } from "../helpers/fake-telegram.ts";
import { DOUBLE_HANDLERS } from "./harness.ts";

describe("mimic start with Telegram: polling dies after start-up", () => {
  it("stops the whole app and reports the fatal error (the CLI then exits non-zero)", async () => {
    const fake = await FakeTelegram.start();
    const dir = mkdtempSync(join(tmpdir(), "mimic-tg-fatal-"));
    try {
      const config = loadConfig({
        LOG_LEVEL: "silent",
        DATA_DIR: dir,
        DATABASE_URL: `file:${join(dir, "mimic.db")}`,
        QUEUE_WORKERS: "1",
        TELEGRAM_TOKEN: fake.token,
        TELEGRAM_API_ROOT: fake.apiRoot,
        DISCORD_TOKEN: "",
      });
      let onFatal!: (err: unknown) => void;
      const fatal = new Promise<unknown>((r) => (onFatal = r));
      const running = await startApp(config, { handlers: DOUBLE_HANDLERS, onFatal });
      expect(running.telegram?.bot.isRunning()).toBe(true);

      fake.failures.set("getUpdates", { status: 401, description: "Unauthorized" }); // token revoked
      fake.sendCommand({ id: 11, type: "private" }, { id: 11, is_bot: false, first_name: "Alice" }, "/help");
      expect(String(await fatal)).toContain("401");
      expect(running.telegram?.bot.isRunning()).toBe(false);
      // The app was stopped before onFatal ran: stopping again is harmless and the store is closed.
      await running.stop();
    } finally {
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
