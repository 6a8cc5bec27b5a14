import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;
/** Bounds a hang: a CLI start loads every model, slow on a busy machine. */
const CLI_TIMEOUT_MS = 180_000;

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });

describe("npm start, stopped by a supervisor's SIGTERM to npm (README's own command)", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  it("reaches Mimic, which stops gracefully: nothing is left running", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mimic-npm-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // Its own process group, so whatever npm leaves behind can be killed after the test.
    const npm = spawn("npm", ["start", "--silent"], {
      cwd: root,
      detached: true,
      env: { ...process.env, DATA_DIR: dir, PLAYGROUND_PORT: "0", DISCORD_TOKEN: "", TELEGRAM_TOKEN: "", QUEUE_WORKERS: "1", LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanups.push(() => {
      try {
        process.kill(-npm.pid!, "SIGKILL");
      } catch {
        // the group is gone: nothing left behind
      }
    });
    const exited = new Promise<number | null>((r) => npm.on("exit", (code, signal) => r(code ?? (signal ? -1 : null))));
    let out = "", err = "";
    npm.stderr.on("data", (d: Buffer) => (err += d));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL within 120 s; stdout: ${out}; stderr: ${err}`)), 120_000);
      npm.stdout.on("data", (d: Buffer) => {
        out += d;
        const m = /open http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      void exited.then((code) => reject(new Error(`npm exited ${code}: ${err}`)));
    });
    expect(await listening(port)).toBe(true);

    npm.kill("SIGTERM");
    await exited;
    // Mimic itself got the signal: it logged its shutdown and closed the playground; nothing holds the port.
    await expect.poll(() => listening(port), { timeout: 30_000, interval: 200 }).toBe(false);
    expect(err).toMatch(/shutting down|stopp/i);
  }, CLI_TIMEOUT_MS);
});
