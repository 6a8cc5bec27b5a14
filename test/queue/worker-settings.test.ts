/**
 * The worker processes run with the settings of the process that starts them (its validated configuration,
 * src/queue/settings.ts), never with the environment: the real handlers in a real pool, with an environment
 * that says otherwise. And the pipeline reads no environment at all.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { DEFAULT_HANDLERS, workerSettings } from "../../src/queue/index.ts";
import type { InferenceQueue } from "../../src/queue/jobs.ts";
import { createLocalQueue } from "../../src/queue/local.ts";
import { WorkerPool } from "../../src/queue/pool.ts";
import { expectRejects } from "./helpers.ts";

const face = (f: string) => new Uint8Array(readFileSync(new URL(`../fixtures/faces/${f}`, import.meta.url)));
const opts = (id: string) => ({ requestId: id, userId: id, serverId: "s" });

describe("worker settings come from the configuration, not the environment", () => {
  let q: InferenceQueue & { ready(): Promise<void> };
  const saved = { ...process.env };
  beforeAll(async () => {
    // The workers inherit this environment; it must not matter.
    process.env.MAX_INPUT_PIXELS = "1000";
    process.env.ORT_THREADS = "not a number";
    // 512×512 faces (262,144 px) fit, 720×576 reactions (414,720 px) do not.
    const settings = workerSettings(loadConfig({ MAX_INPUT_PIXELS: "300000", ORT_THREADS: "1", QUEUE_WORKERS: "1" }));
    q = createLocalQueue({ workers: 1, capacity: 4, perUserLimit: 1, jobTimeoutMs: 60_000, cheapFirst: false, handlersUrl: DEFAULT_HANDLERS, settings });
    await q.ready();
  });
  afterAll(async () => {
    process.env = saved;
    await q?.close({ drainMs: 0 });
  });

  test("the configured pixel limit applies in the worker, the environment's does not", async () => {
    const ok = await q.submit({ kind: "enrol", image: { bytes: face("grace_hopper_512x512.jpg"), mime: "image/jpeg" } }, opts("a"));
    expect(ok.kind).toBe("enrol");
    const e = await expectRejects(q.submit({ kind: "enrol", image: { bytes: face("franck_01829.jpg"), mime: "image/jpeg" } }, opts("b")));
    expect(e.code).toBe("IMAGE_TOO_LARGE");
    expect(e.details).toMatchObject({ width: 720, height: 576, maxPixels: 300_000 });
    expect(e.userMessage).toMatch(/limit is 0\.3 megapixels/);
  });

  test("a pool refuses settings a worker could not run with, naming the setting", () => {
    const bad = { ...workerSettings(loadConfig({})), analyzer: { provider: "cpu" as const, threads: 0 } };
    expect(() => new WorkerPool({ size: 1, handlersUrl: DEFAULT_HANDLERS, settings: bad })).toThrow(/analyzer\.threads/);
  });
});

test("no pipeline module reads the environment or the configuration", () => {
  const dir = fileURLToPath(new URL("../../src/pipeline/", import.meta.url));
  const offenders: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(".ts")) {
        const src = readFileSync(p, "utf8");
        // fonts.ts points fontconfig (inside libvips) at the bundled fonts: it writes FONTCONFIG_FILE, reads nothing else.
        const reads = src.replace(/process\.env\.FONTCONFIG_FILE/g, "");
        if (/process\.env|config\.ts"/.test(reads)) offenders.push(p.slice(dir.length));
      }
    }
  };
  walk(dir);
  expect(offenders).toEqual([]);
});
