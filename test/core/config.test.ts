import { describe, expect, it } from "vitest";
import { configSchema, loadConfig } from "../../src/config.ts";
import { MimicError } from "../../src/errors.ts";

describe("configuration", () => {
  it("applies defaults when nothing is set", () => {
    const c = loadConfig({});
    expect(c.ORT_EXECUTION_PROVIDER).toBe("cpu");
    expect(c.ORT_THREADS).toBeGreaterThanOrEqual(1);
    expect(c.DISCORD_TOKEN).toBeUndefined();
  });

  it("refuses the ops endpoint and the playground on one port, naming both", () => {
    expect(() => loadConfig({ OPS_PORT: "8787" })).toThrow(/OPS_PORT="8787": OPS_PORT and PLAYGROUND_PORT are the same port/);
    expect(loadConfig({ OPS_PORT: "8787", PLAYGROUND_PORT: "8788" }).OPS_PORT).toBe(8787);
    // With a bot token there is no playground to clash with.
    expect(loadConfig({ OPS_PORT: "8787", TELEGRAM_TOKEN: "t" }).OPS_PORT).toBe(8787);
  });

  it("treats empty strings as unset", () => {
    expect(loadConfig({ ORT_THREADS: "", DISCORD_TOKEN: "  " }).DISCORD_TOKEN).toBeUndefined();
  });

  it("names every bad variable in one typed error", () => {
    let err: unknown;
    try {
      loadConfig({ ORT_EXECUTION_PROVIDER: "tpu", ORT_THREADS: "zero" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MimicError);
    expect((err as MimicError).code).toBe("CONFIG");
    expect((err as MimicError).userMessage).toMatch(/ORT_EXECUTION_PROVIDER/);
    expect((err as MimicError).userMessage).toMatch(/ORT_THREADS/);
  });

  it("the playground's cooldown defaults to none and is validated", () => {
    expect(loadConfig({}).PLAYGROUND_COOLDOWN_SECONDS).toBe(0);
    expect(loadConfig({ PLAYGROUND_COOLDOWN_SECONDS: "5" }).PLAYGROUND_COOLDOWN_SECONDS).toBe(5);
    expect(() => loadConfig({ PLAYGROUND_COOLDOWN_SECONDS: "-1" })).toThrow(/PLAYGROUND_COOLDOWN_SECONDS/);
    expect(() => loadConfig({ PLAYGROUND_COOLDOWN_SECONDS: "soon" })).toThrow(/PLAYGROUND_COOLDOWN_SECONDS/);
  });

  /** The message loadConfig gives for one variable's value (undefined: accepted). */
  function refusal(key: string, value: string): string | undefined {
    try {
      loadConfig({ [key]: value });
      return undefined;
    } catch (e) {
      return (e as MimicError).userMessage;
    }
  }

  it("refuses in plain words, naming the allowed form", () => {
    expect(refusal("ORT_THREADS", "abc")).toBe('Invalid configuration: ORT_THREADS="abc": must be a whole number from 1 to 64');
    expect(refusal("ORT_THREADS", "2.5")).toBe('Invalid configuration: ORT_THREADS="2.5": must be a whole number from 1 to 64');
    expect(refusal("MAX_TEMPLATES_PER_USER", "0")).toBe('Invalid configuration: MAX_TEMPLATES_PER_USER="0": must be a whole number from 1 to 1000');
    expect(refusal("QUEUE_PREFIX", "a b")).toBe('Invalid configuration: QUEUE_PREFIX="a b": may use only letters, digits, :, _ and -');
    expect(refusal("LOG_LEVEL", "verbose")).toBe('Invalid configuration: LOG_LEVEL="verbose": must be one of fatal, error, warn, info, debug, trace, silent');
    expect(refusal("QUEUE_CHEAP_FIRST", "yes")).toBe('Invalid configuration: QUEUE_CHEAP_FIRST="yes": must be true or false (or 1 or 0)');
    expect(refusal("OPS_PORT", "-1")).toBe('Invalid configuration: OPS_PORT="-1": must be a whole number from 0 to 65535');
  });

  it("takes whole numbers only as plain digits: hex, exponents, signs and spaces are refused, not read as something else", () => {
    for (const value of ["0x2", "1e3", "+2", " 2", "2 ", "2_000", "0b10", "Infinity"]) {
      expect(refusal("ORT_THREADS", value), value).toMatch(/: must be a whole number from 1 to 64$/);
      expect(refusal("QUEUE_WORKERS", value), value).toMatch(/: must be a whole number from 1 to 256$/);
      expect(refusal("OPS_PORT", value), value).toMatch(/: must be a whole number from 0 to 65535$/);
      expect(refusal("MIMIC_GENERATOR_WORKERS", value), value).toMatch(/: must be a whole number from 0 to 256$/);
      expect(refusal("QUEUE_NO_WORKER_GRACE_MS", value), value).toMatch(/: must be a whole number of milliseconds from 0 to 86400000, or "off"$/);
    }
    expect(loadConfig({ ORT_THREADS: "2", QUEUE_WORKERS: "007", OPS_PORT: "0", MIMIC_GENERATOR_WORKERS: "0" })).toMatchObject({
      ORT_THREADS: 2,
      QUEUE_WORKERS: 7,
      OPS_PORT: 0,
      MIMIC_GENERATOR_WORKERS: 0,
    });
    expect(loadConfig({}).OPS_PORT).toBeUndefined();
    expect(loadConfig({}).MIMIC_GENERATOR_WORKERS).toBeUndefined();
    expect(loadConfig({ QUEUE_NO_WORKER_GRACE_MS: "OFF" }).QUEUE_NO_WORKER_GRACE_MS).toBe(Infinity);
  });

  it("no variable's refusal is in the validation library's words", () => {
    const values = ["abc", "-1", "2.5", "0x2", " 2", "1e3", "a b", "ftp://127.0.0.1:1", "javascript:alert(1)", "99999999999", "http:host"];
    const jargon = /invalid input|invalid string|invalid option|expected|received|too small|too big|pattern|NaN|\/\^/i;
    let refused = 0;
    for (const key of Object.keys(configSchema.shape)) {
      for (const value of values) {
        const message = refusal(key, value);
        if (message === undefined) continue;
        refused++;
        // The words after the value: a variable's own name may hold "nan" (UNANSWERED_…).
        expect(message.slice(message.indexOf(`": `)), `${key}=${value}`).not.toMatch(jargon);
        expect(message, `${key}=${value}`).toMatch(new RegExp(`^Invalid configuration: ${key}=".*": (must|may) `));
      }
    }
    expect(refused).toBeGreaterThan(200);
  });

  it("DISCORD_APP_ID must be a snowflake (17 to 20 digits): a token, a name or a guild link is refused at start-up", () => {
    const message = ": must be the application id from the Discord Developer Portal (General Information): 17 to 20 digits";
    for (const bad of ["1", "1234567890123456", "123456789012345678901", "my-bot", "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gx.abc", " 900000000000000001", "900000000000000001 ", "9000000000000000.1", "-900000000000000001", "0x900000000000000"]) {
      expect(refusal("DISCORD_APP_ID", bad), bad).toBe(`Invalid configuration: DISCORD_APP_ID=${JSON.stringify(bad)}${message}`);
    }
    for (const good of ["90000000000000000", "900000000000000001", "12345678901234567890"]) {
      expect(loadConfig({ DISCORD_APP_ID: good }).DISCORD_APP_ID, good).toBe(good);
    }
    expect(loadConfig({ DISCORD_APP_ID: "" }).DISCORD_APP_ID).toBeUndefined();
  });

  it("API roots must be http(s) URLs (zod's url() takes any scheme); the queue's must be redis(s)://", () => {
    for (const key of ["TELEGRAM_API_ROOT", "DISCORD_API_ROOT"]) {
      for (const bad of ["ftp://127.0.0.1:19999", "javascript:alert", "http:127.0.0.1", "http://", "file:///tmp/x", "127.0.0.1:8081", "http://exa mple.com"]) {
        expect(refusal(key, bad), `${key}=${bad}`).toMatch(/: must be an http:\/\/ or https:\/\/ URL, e\.g\. https:\/\//);
      }
      for (const good of ["http://127.0.0.1:8081", "https://api.telegram.org", "HTTPS://proxy.example/discord", "http://[::1]:9000"]) {
        expect(refusal(key, good), `${key}=${good}`).toBeUndefined();
      }
    }
    for (const bad of ["http://127.0.0.1:6379", "redis://", "redis:127.0.0.1", "127.0.0.1:6379"]) {
      expect(refusal("QUEUE_URL", bad), bad).toMatch(/: must be a redis:\/\/ or rediss:\/\/ URL, e\.g\. redis:\/\/127\.0\.0\.1:6379$/);
    }
    for (const good of ["redis://127.0.0.1:6379", "rediss://:p%40ss@cache.example:6380/2", "redis://localhost"]) {
      expect(refusal("QUEUE_URL", good), good).toBeUndefined();
    }
  });
});
