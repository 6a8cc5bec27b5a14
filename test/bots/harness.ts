import { createCore, type Core } from "../../src/core/index.ts";
import { loadConfig } from "../../src/config.ts";
import { memoryPorts } from "../core/doubles.ts";

export interface TestApp {
  core: Core;
  close(): Promise<void>;
}

/** The command core the bot tests drive. */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const config = loadConfig({ ...env });
  const core = createCore(memoryPorts(), { maxInputBytes: config.MAX_INPUT_BYTES });
  return { core, close: async () => undefined };
}
