import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startApp, type RunningApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { FakeDiscord } from "../helpers/fake-discord.ts";
import { FakeTelegram } from "../helpers/fake-telegram.ts";

const root = new URL("../../", import.meta.url).pathname;
/** Each CLI start loads every subcommand (models included): slow on a busy machine. */
const CLI_TIMEOUT_MS = 180_000;

describe("mimic start", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "mimic-start-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  it("without tokens runs the playground on 127.0.0.1 and prints its URL (the real CLI)", async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ["bin/mimic.mjs", "start"], {
      cwd: root,
      env: { ...process.env, DATA_DIR: dir, PLAYGROUND_PORT: "0", LOG_LEVEL: "warn", DISCORD_TOKEN: "", TELEGRAM_TOKEN: "", QUEUE_WORKERS: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    });
    let out = "";
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed within 60 s; stdout: ${out}; stderr: ${err}`)), 60_000);
      child.stdout.on("data", (d: Buffer) => {
        out += d;
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Mimic playground");
    const faces = (await (await fetch(`${url}api/faces`, { headers: { "X-Mimic": "1" } })).json()) as { ok: boolean; templates: unknown[] };
    expect(faces).toMatchObject({ ok: true, templates: [] });
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, CLI_TIMEOUT_MS);

  it("reads ./.env where the shell has not set a variable; a bad LOG_LEVEL, DATA_DIR or PLAYGROUND_HOST is named, not a crash (the real CLI)", async () => {
    const dir = tempDir();
    // As a Windows editor saves it: a byte-order mark and CRLF line ends (the mark once hid the first setting).
    // A misspelled setting and one of Node's own beside them.
    writeFileSync(join(dir, ".env"), "\uFEFFLOG_LEVEL=verbose\r\nPLAYGROUND_PORT=0\r\nCOOLDOWN_SECOND=30\r\nNODE_NO_WARNINGS=1\r\n");
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, [join(root, "bin/mimic.mjs"), "start"], {
          cwd: dir,
          env: { ...process.env, DATA_DIR: join(dir, "data"), DISCORD_TOKEN: "", TELEGRAM_TOKEN: "", QUEUE_WORKERS: "1", ...env },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "", err = "";
        let stopping = false;
        child.stdout.on("data", (d: Buffer) => {
          out += d;
          // Started (the file's PLAYGROUND_PORT=0 gave it a free port): a SIGTERM the moment the banner shows stops it cleanly.
          if (/open http:\/\/127\.0\.0\.1:\d+\//.test(out) && !stopping) {
            stopping = true;
            child.kill("SIGTERM");
          }
        });
        child.stderr.on("data", (d: Buffer) => (err += d));
        child.on("exit", (code) => resolve({ code, out, err }));
      });
    const { LOG_LEVEL: _, PLAYGROUND_PORT: __, ...shell } = process.env;
    const fromFile = await run(shell as Record<string, string>);
    expect(fromFile.code).toBe(2);
    // The value and the file it came from are named.
    expect(fromFile.err).toContain(`mimic: Invalid configuration: LOG_LEVEL="verbose" in ${join(dir, ".env")}: `);
    expect(fromFile.err).not.toMatch(/\n\s+at /);
    // The shell's value wins over the file's.
    const fromShell = await run({ ...(shell as Record<string, string>), LOG_LEVEL: "warn" });
    expect(fromShell.out).toMatch(/open http:\/\/127\.0\.0\.1:\d+\//);
    expect(fromShell.code).toBe(0);
    // A misspelling is said, with what it likely meant, instead of its default being used in silence.
    expect(fromShell.out + fromShell.err).toContain(`COOLDOWN_SECOND in ${join(dir, ".env")} is not one of Mimic's settings: did you mean COOLDOWN_SECONDS?`);
    expect(fromShell.out + fromShell.err).not.toContain("NODE_NO_WARNINGS");
    // Start-up mistakes name the setting to change, without a stack trace.
    writeFileSync(join(dir, "a-file"), "");
    const mistakes: [Record<string, string>, RegExp][] = [
      [{ DATA_DIR: join(dir, "a-file", "data") }, /Cannot create the data folder .*a-file.* \((ENOTDIR|EEXIST)\): set DATA_DIR \(or DATABASE_URL\)/],
      [{ PLAYGROUND_HOST: "not.a.host.invalid" }, /The playground cannot listen on not\.a\.host\.invalid \((ENOTFOUND|EAI_AGAIN)\): set PLAYGROUND_HOST/],
      // Node's own recursive mkdir never returns under /proc: this once hung start-up.
      ...(existsSync("/proc/self") ? [[{ DATA_DIR: "/proc/mimic-nope" }, /Cannot create the data folder \/proc\/mimic-nope \(ENOENT\): set DATA_DIR/] as [Record<string, string>, RegExp]] : []),
    ];
    for (const [env, message] of mistakes) {
      const refused = await run({ ...(shell as Record<string, string>), LOG_LEVEL: "warn", ...env });
      expect(refused.code, refused.err).not.toBe(0);
      expect(refused.err).toMatch(message);
      expect(refused.err).not.toMatch(/\n\s+at /);
    }
  }, CLI_TIMEOUT_MS);

  it("mimic register --guild deploys the commands through the real CLI; refuses without DISCORD_APP_ID", async () => {
    const discord = await FakeDiscord.start();
    cleanups.push(() => discord.close());
    const run = (env: Record<string, string>, args: string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ["bin/mimic.mjs", "register", ...args], {
          cwd: root,
          env: { ...process.env, LOG_LEVEL: "warn", DISCORD_API_ROOT: discord.base, DISCORD_TOKEN: discord.token, ...env },
        });
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => (out += d));
        child.stderr.on("data", (d: Buffer) => (err += d));
        child.on("exit", (code) => resolve({ code, out, err }));
      });
    const ok = await run({ DISCORD_APP_ID: discord.appId }, ["--guild", discord.guildId]);
    expect(ok, ok.err).toMatchObject({ code: 0 });
    expect(ok.out).toContain(`Registered 5 commands in guild ${discord.guildId}: meme, morph, face, mimic, Mimic this`);
    expect(discord.calls.filter((c) => c.method === "PUT")).toHaveLength(1);
    const refused = await run({ DISCORD_APP_ID: "" }, []);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain("needs DISCORD_TOKEN and DISCORD_APP_ID");
  }, CLI_TIMEOUT_MS);

  it("with both tokens runs the Discord and the Telegram bot (and no playground)", async () => {
    const dir = tempDir();
    const discord = await FakeDiscord.start();
    cleanups.push(() => discord.close());
    const telegram = await FakeTelegram.start();
    cleanups.push(() => telegram.close());
    const config = loadConfig({
      DATA_DIR: dir,
      QUEUE_WORKERS: "1",
      DISCORD_TOKEN: discord.token,
      DISCORD_API_ROOT: discord.base,
      TELEGRAM_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.apiRoot,
    });
    const running: RunningApp = await startApp(config);
    cleanups.splice(cleanups.length - 2, 0, () => running.stop());
    expect(running.playground).toBeUndefined();
    expect(running.discord?.client.isReady()).toBe(true);
    expect(running.telegram?.bot.isRunning()).toBe(true);

    // Both answer through the same core and store.
    const dm = { id: 5, type: "private" as const };
    const reply = telegram.nextCall("sendMessage");
    telegram.sendCommand(dm, { id: 5, is_bot: false, first_name: "T" }, "/faces");
    expect(String((await reply).params.text)).toContain("no saved faces");
    const i = discord.slash({ id: "100000000000000099", username: "d" }, "face", [{ name: "list", type: 1, options: [] }]);
    const answer = await discord.finalAnswer(i.token);
    expect(String((answer.json as { content: string }).content)).toContain("no saved faces");
  }, CLI_TIMEOUT_MS);
});
