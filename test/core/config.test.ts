import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
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
});
