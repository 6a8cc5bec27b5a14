import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, type App } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { Core } from "../../src/core/index.ts";
import { DEFAULT_HANDLERS } from "../../src/queue/index.ts";

export interface TestApp {
  app: App;
  core: Core;
  close(): Promise<void>;
}

/** Double handlers (no face models): for measurements where the pipeline is not the subject. */
export const DOUBLE_HANDLERS = new URL("./double-handlers.ts", import.meta.url);

/**
 * The real composition root with a fresh SQLite file: real store, real in-process queue, and by default
 * the real pipeline handlers. `env` overrides the configuration (as the environment would).
 */
export async function startTestApp(env: Record<string, string> = {}, opts: { handlers?: URL } = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), "mimic-bots-"));
  const config = loadConfig({
    LOG_LEVEL: "silent",
    DATA_DIR: dir,
    DATABASE_URL: `file:${join(dir, "mimic.db")}`,
    QUEUE_WORKERS: "1",
    QUEUE_PER_USER: "4",
    COOLDOWN_SECONDS: "0",
    ...env,
  });
  const app = await createApp(config, { handlers: opts.handlers ?? DEFAULT_HANDLERS });
  return {
    app,
    core: app.core,
    async close() {
      await app.close({ drainMs: 0 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
