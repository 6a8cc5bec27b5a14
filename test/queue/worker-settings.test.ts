/**
 * The worker processes run with the settings of the process that starts them (its validated configuration,
 * src/queue/settings.ts), never with the environment: the real handlers in a real pool, with an environment
 * that says otherwise. And the pipeline reads no environment at all.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { DEFAULT_HANDLERS, workerSettings } from "../../src/queue/index.ts";
import type { InferenceQueue } from "../../src/queue/jobs.ts";
import { createLocalQueue } from "../../src/queue/local.ts";
import { WorkerPool } from "../../src/queue/pool.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
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
    // A PNG: a JPEG over the limit is read scaled down to it.
    const png = new Uint8Array(await sharp(face("franck_01829.jpg")).png().toBuffer());
    const e = await expectRejects(q.submit({ kind: "enrol", image: { bytes: png, mime: "image/png" } }, opts("b")));
    expect(e.code).toBe("IMAGE_TOO_LARGE");
    expect(e.details).toMatchObject({ width: 720, height: 576, maxPixels: 300_000 });
    expect(e.userMessage).toMatch(/limit is 0\.3 megapixels/);
    // The same photo as the JPEG it is: read scaled down to the limit, and saved.
    expect((await q.submit({ kind: "enrol", image: { bytes: face("franck_01829.jpg"), mime: "image/jpeg" } }, opts("b"))).kind).toBe("enrol");
  });

  test("the upload byte limit applies to what users send, not to the saved face's own PNG", async () => {
    // A cap well above both uploads (87 KB face, 26 KB reaction) and below the saved face's crop PNG.
    const settings = workerSettings(loadConfig({ MAX_INPUT_BYTES: "300000", ORT_THREADS: "1", QUEUE_WORKERS: "1" }));
    const small = createLocalQueue({ workers: 1, capacity: 4, perUserLimit: 1, jobTimeoutMs: 60_000, cheapFirst: false, handlersUrl: DEFAULT_HANDLERS, settings });
    try {
      const saved = await small.submit({ kind: "enrol", image: { bytes: face("grace_hopper_512x512.jpg"), mime: "image/jpeg" } }, opts("c"));
      if (saved.kind !== "enrol") throw new Error("expected an enrol result");
      const template = saved.face.data as EnrolledTemplate;
      expect(template.cropPng.byteLength).toBeGreaterThan(300_000);
      const reaction = { bytes: face("franck_04117.jpg"), mime: "image/jpeg" };
      const meme = await small.submit({ kind: "meme", template, reaction, captions: {}, intensity: 1, mode: "mimic", byteBudget: 8 << 20 }, opts("c"));
      expect(meme.kind).toBe("meme");
      // The user's own upload is still held to the limit.
      const big = new Uint8Array(400_000);
      big.set(face("franck_04117.jpg"));
      const refused = await expectRejects(small.submit({ kind: "meme", template, reaction: { bytes: big, mime: "image/jpeg" }, captions: {}, intensity: 1, mode: "mimic", byteBudget: 8 << 20 }, opts("c")));
      expect(refused.code).toBe("IMAGE_TOO_LARGE");
    } finally {
      await small.close({ drainMs: 0 });
    }
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
