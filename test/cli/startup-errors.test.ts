/**
 * The real CLI (bin/mimic.mjs, compiled dist/) refuses what it cannot start with as a configuration mistake:
 * exit 2, one line naming the setting, no stack trace. And `mimic audit` takes a hash however its prefix is cased.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const PG_URL = process.env.TEST_DATABASE_URL;
const dir = mkdtempSync(join(tmpdir(), "mimic-cli-startup-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI; the time limit bounds a hang (a worker restarting forever), it measures nothing. */
function mimic(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["bin/mimic.mjs", ...args],
      { cwd: root, env: { ...process.env, DATA_DIR: join(dir, "data"), DATABASE_URL: "", LOG_LEVEL: "silent", ...env }, timeout: 60_000 },
      (_err, out, err) => resolve({ code: child.exitCode, out, err }),
    );
  });
}

const noStack = /\n\s+at /;

describe("start-up refusals (the real CLI)", () => {
  it.skipIf(!PG_URL)("a PostgreSQL database that does not exist: exit 2, DATABASE_URL named with its password masked", async () => {
    const url = new URL(PG_URL!);
    url.pathname = "/mimic_cli_does_not_exist";
    url.password = "s3cret";
    const r = await mimic({ DATABASE_URL: url.toString() }, "face", "list");
    url.password = "***";
    expect(r.err).toBe(
      `mimic: PostgreSQL at ${url.toString()} (DATABASE_URL) has no database “mimic_cli_does_not_exist”. Create it (e.g. createdb mimic_cli_does_not_exist) or correct DATABASE_URL.\n`,
    );
    expect(r.code).toBe(2);
  });

  it("a file that is not a database: exit 2, naming it", async () => {
    const file = join(dir, "README.md");
    writeFileSync(file, "# not a database\n".repeat(100));
    const r = await mimic({ DATABASE_URL: `file:${file}` }, "face", "list");
    expect(r.err).toBe(`mimic: ${file} is not a Mimic database (it is not an SQLite file). Point DATABASE_URL at Mimic's database, or move that file out of the way.\n`);
    expect(r.err).not.toMatch(noStack);
    expect(r.code).toBe(2);
  });

  it("`mimic worker` with a handler module that does not exist: exit 2 at once, naming it", async () => {
    const missing = join(dir, "nope.mjs");
    const r = await mimic({ QUEUE_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:1", QUEUE_WORKERS: "1", QUEUE_PREFIX: `mimictest-handlers-${process.pid}` }, "worker", "--handlers", missing);
    expect(r.err).toBe(
      `mimic: Cannot load the job handlers: there is no file “${missing}” (--handlers). Give the path of a module that exports \`handlers\`, or leave --handlers out for the built-in pipeline.\n`,
    );
    expect(r.code).toBe(2);
  });

  it.skipIf(!process.env.TEST_REDIS_URL).each(["worker", "start"])(
    "`mimic %s` with QUEUE_URL naming a Redis database the server does not have: exit 2, naming it and how many there are",
    async (command) => {
      const url = new URL(process.env.TEST_REDIS_URL!);
      url.pathname = "/9999";
      const r = await mimic({ QUEUE_URL: url.toString(), QUEUE_WORKERS: "1", QUEUE_PREFIX: `mimictest-dbindex-${process.pid}`, PLAYGROUND_PORT: "0" }, command);
      // The server's count, as it reports it (16 unless configured otherwise).
      const { Redis } = await import("ioredis");
      const admin = new Redis(process.env.TEST_REDIS_URL!);
      const count = Number(((await admin.config("GET", "databases")) as string[])[1]);
      await admin.quit();
      expect(r.err).toBe(
        `mimic: Redis at ${url.toString()} (QUEUE_URL) has no database 9999: it has ${count} (numbered 0 to ${count - 1}). Correct the database number at the end of QUEUE_URL, or raise "databases" in the Redis server's configuration.\n`,
      );
      expect(r.out).not.toContain("ready");
      expect(r.code).toBe(2);
    },
  );

  // The real pipeline, on a host whose onnxruntime has no CUDA provider (as installed here without a GPU).
  const hasCudaProvider = (() => {
    try {
      return readdirSync(join(root, "node_modules/onnxruntime-node/bin"), { recursive: true }).some((f) => String(f).includes("providers_cuda"));
    } catch {
      return false;
    }
  })();
  it.skipIf(!process.env.TEST_REDIS_URL || hasCudaProvider)(
    "`mimic worker` with ORT_EXECUTION_PROVIDER=cuda where onnxruntime has no CUDA provider: exit 2, its last line says what to do",
    async () => {
      const prefix = `mimictest-cuda-${process.pid}`;
      const r = await mimic({ QUEUE_URL: process.env.TEST_REDIS_URL!, QUEUE_WORKERS: "1", QUEUE_PREFIX: prefix, ORT_EXECUTION_PROVIDER: "cuda" }, "worker");
      const last = r.err.trimEnd().split("\n").at(-1)!;
      expect(last).toMatch(/^mimic: The worker processes could not load their job handlers \(the built-in pipeline\): ORT_EXECUTION_PROVIDER=cuda, but onnxruntime's CUDA provider is not available here/);
      expect(last).toContain("or set ORT_EXECUTION_PROVIDER=cpu. No job was taken from the queue.");
      // The worker process's error went to the log (silent here), not to stderr as a stack trace.
      expect(r.err).not.toMatch(noStack);
      expect(r.out).not.toContain("ready");
      expect(r.code).toBe(2);
      // It never registered: no bot counts it as a worker.
      const { Redis } = await import("ioredis");
      const redis = new Redis(process.env.TEST_REDIS_URL!);
      try {
        expect(await redis.exists(`${prefix}:workers`)).toBe(0);
      } finally {
        await redis.quit();
      }
    },
  );

  it.skipIf(hasCudaProvider)(
    "`mimic start` with ORT_EXECUTION_PROVIDER=cuda where onnxruntime has no CUDA provider: exit 2 before it runs, one line saying what to do",
    async () => {
      const r = await mimic({ ORT_EXECUTION_PROVIDER: "cuda", QUEUE_WORKERS: "2", PLAYGROUND_PORT: "0", OPS_PORT: "0" }, "start");
      expect(r.out).not.toContain("Mimic is running");
      const mine = r.err.split("\n").filter((l) => l.startsWith("mimic: "));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatch(/^mimic: The worker processes could not load their job handlers \(the built-in pipeline\): ORT_EXECUTION_PROVIDER=cuda, but onnxruntime's CUDA provider is not available here/);
      expect(mine[0]).toMatch(/or set ORT_EXECUTION_PROVIDER=cpu\.$/);
      expect(r.err.trimEnd().split("\n").at(-1)).toBe(mine[0]);
      expect(r.err).not.toMatch(noStack);
      expect(r.code).toBe(2);
    },
  );

  it.each([
    ["throws on import", 'throw new Error("boom in the module");', "boom in the module"],
    ["exports no handlers", "export const other = 1;", "the module exports no `handlers`"],
  ])("`mimic worker` with a handler module that %s: exit 2 with the reason, instead of restarting its workers forever", async (_what, source, reason) => {
    const broken = join(dir, `broken-${reason.length}.mjs`);
    writeFileSync(broken, source);
    const r = await mimic({ QUEUE_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379", QUEUE_WORKERS: "2", QUEUE_PREFIX: `mimictest-broken-${process.pid}` }, "worker", "--handlers", broken);
    // Only that line: the worker processes' errors went to the log (silent here), not to stderr as stack traces.
    expect(r.err).toBe(`mimic: The worker processes could not load their job handlers (${broken}): ${reason}. No job was taken from the queue.\n`);
    expect(r.code).toBe(2);
  });
});

describe("flags folded into settings", () => {
  it.each([
    ["worker", "--threads", "abc", "--threads must be a whole number from 1 to 256 (got “abc”)."],
    ["start", "--port", "http", "--port must be a whole number from 0 to 65535 (got “http”)."],
  ])("`mimic %s %s %s` names the flag, not the variable it sets", async (command, flag, value, message) => {
    const r = await mimic({ QUEUE_URL: "redis://127.0.0.1:1" }, command, flag, value);
    expect(r.err).toBe(`mimic: ${message}\n`);
    expect(r.code).toBe(2);
  });
});

describe("logs", () => {
  it("go to stderr: a first run's migration log does not break `--json` on stdout", async () => {
    // A store file not migrated yet (only face add makes a store; the others refuse one that does not exist).
    const fresh = join(dir, "fresh-data");
    mkdirSync(fresh);
    writeFileSync(join(fresh, "mimic.db"), "");
    const r = await mimic({ DATA_DIR: fresh, LOG_LEVEL: "info" }, "face", "list", "--json");
    expect(JSON.parse(r.out)).toEqual([]);
    expect(r.err).toMatch(/"msg":"store migrated"/);
    expect(r.code).toBe(0);
  });
});

describe("mimic audit", () => {
  it("reads an upper-case SHA256: prefix as a hash, not as a file name", async () => {
    const hex = "AB".repeat(32);
    const store = join(dir, "audit-data");
    mkdirSync(store);
    writeFileSync(join(store, "mimic.db"), "");
    const r = await mimic({ DATA_DIR: store }, "audit", `SHA256:${hex}`);
    expect(r.err).toBe("");
    expect(r.out).toBe(`${hex.toLowerCase()}: not in the audit trail (kept 30 days).\n`);
    expect(r.code).toBe(0);
  });
});
