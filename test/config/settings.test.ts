/**
 * Start-up validation of the queue's no-worker grace and the shutdown drain, and URL passwords in the
 * messages of configuration errors (loadConfig and the store's DATABASE_URL reading).
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import type { MimicError } from "../../src/errors.ts";
import { resolveDatabaseTarget } from "../../src/templates/db/url.ts";

function configError(env: Record<string, string>): MimicError {
  try {
    loadConfig(env);
  } catch (e) {
    return e as MimicError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe("QUEUE_NO_WORKER_GRACE_MS", () => {
  it("defaults to 30 s; takes whole milliseconds, or off/never (any case) for no limit", () => {
    expect(loadConfig({}).QUEUE_NO_WORKER_GRACE_MS).toBe(30_000);
    expect(loadConfig({ QUEUE_NO_WORKER_GRACE_MS: "" }).QUEUE_NO_WORKER_GRACE_MS).toBe(30_000);
    expect(loadConfig({ QUEUE_NO_WORKER_GRACE_MS: "0" }).QUEUE_NO_WORKER_GRACE_MS).toBe(0);
    expect(loadConfig({ QUEUE_NO_WORKER_GRACE_MS: "120000" }).QUEUE_NO_WORKER_GRACE_MS).toBe(120_000);
    for (const off of ["off", "never", "OFF", " Never "]) expect(loadConfig({ QUEUE_NO_WORKER_GRACE_MS: off }).QUEUE_NO_WORKER_GRACE_MS, off).toBe(Infinity);
  });

  it("a bad value is refused at start-up, naming the variable, its value and what it takes", () => {
    for (const bad of ["30s", "-1", "1.5", "soon", "false", "Infinity", "86400001"]) {
      const e = configError({ QUEUE_NO_WORKER_GRACE_MS: bad });
      expect(e.code).toBe("CONFIG");
      expect(e.userMessage, bad).toContain(
        `QUEUE_NO_WORKER_GRACE_MS=${JSON.stringify(bad)}: must be a whole number of milliseconds from 0 to 86400000, or "off"`,
      );
    }
  });
});

describe("SHUTDOWN_DRAIN_MS", () => {
  it("defaults to 10 s; 0 and longer drains are taken", () => {
    expect(loadConfig({}).SHUTDOWN_DRAIN_MS).toBe(10_000);
    expect(loadConfig({ SHUTDOWN_DRAIN_MS: "0" }).SHUTDOWN_DRAIN_MS).toBe(0);
    expect(loadConfig({ SHUTDOWN_DRAIN_MS: "300000" }).SHUTDOWN_DRAIN_MS).toBe(300_000);
  });

  it("a bad value is refused at start-up, naming the variable", () => {
    for (const bad of ["-1", "ten", "2.5", "3600001"]) {
      const e = configError({ SHUTDOWN_DRAIN_MS: bad });
      expect(e.code).toBe("CONFIG");
      expect(e.userMessage, bad).toMatch(new RegExp(`^Invalid configuration: SHUTDOWN_DRAIN_MS=${JSON.stringify(bad).replace(/[.]/g, "\\.")}: `));
    }
  });
});

describe("passwords in configuration errors", () => {
  it("a bad URL's password is masked where the userinfo is not the simple user:password form", () => {
    for (const [value, shown] of [
      ["http://me@corp:s3cret@127.0.0.1:6379", "http://me@corp:***@127.0.0.1:6379"],
      ["http://mimic:s3/cret@127.0.0.1:6379", "http://mimic:***@127.0.0.1:6379"],
      ["mimic:s3cret@127.0.0.1:6379", "mimic:***@127.0.0.1:6379"],
    ]) {
      const e = configError({ QUEUE_URL: value });
      expect(e.userMessage).toContain(`QUEUE_URL=${JSON.stringify(shown)}: must be a redis:// or rediss:// URL`);
      expect(e.userMessage).not.toContain("s3");
    }
  });

  it("a DATABASE_URL that is neither a file nor a URL is named without its password", () => {
    expect(() => resolveDatabaseTarget("mimic:s3cret@db")).toThrow("DATABASE_URL must be file:… (SQLite) or postgresql://…, got “mimic:***@db”");
  });
});
