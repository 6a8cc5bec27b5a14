/**
 * `mimic start` (the real CLI) against chat APIs that refuse its token or cannot be reached:
 * - a token the API refuses (401) is a configuration mistake: exit 2, one line naming the variable, no stack
 *   trace; with both bots configured, one refused token fails the whole start and leaves nothing running;
 * - an API that does not answer (nothing listening at its root) is waited for, with a warning naming the
 *   variable, and the bot comes up once it answers (a bot started before the network).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { connect, createServer, type AddressInfo, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { DOUBLE_HANDLERS } from "../bots/harness.ts";
import { FakeDiscord } from "../helpers/fake-discord.ts";
import { FakeTelegram } from "../helpers/fake-telegram.ts";
import { exitCode, HANG_MS, runCli, type CliRun } from "../helpers/cli-run.ts";
import { closedPort } from "../helpers/net.ts";

const noStack = /\n\s+at /;
/** The CLI's own message: the last line it writes before exiting. */
const lastLine = (text: string) => text.trimEnd().split("\n").at(-1);

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "mimic-start-tokens-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An API answering every request 401 with a body both grammY and discord.js read, as Telegram and Discord do for a wrong token. */
const UNAUTHORIZED = { ok: false, error_code: 401, description: "Unauthorized", message: "401: Unauthorized", code: 0 };
/** Resolves once the fake Discord has a gateway connection; `seen()`: the most it has had at once. */
function gatewayConnected(discord: FakeDiscord): { connected: Promise<void>; seen: () => number; open: () => number } {
  const gateways = (discord as unknown as { sockets: Set<unknown> }).sockets;
  let seen = 0;
  const connected = new Promise<void>((resolve) => {
    const counting = setInterval(() => {
      seen = Math.max(seen, gateways.size);
      if (seen > 0) (clearInterval(counting), resolve());
    }, 5);
    cleanups.push(() => clearInterval(counting));
  });
  return { connected, seen: () => seen, open: () => gateways.size };
}

/**
 * `answerAfter`: the refusal waits for it (an ordering the test needs, not a delay). `answer`: another refusal (a
 * proxy's or a fake's, which need not carry Telegram's description).
 */
async function refusingApi(answerAfter?: Promise<unknown>, answer: { status: number; body: Record<string, unknown> } = { status: 401, body: UNAUTHORIZED }): Promise<string> {
  const server: Server = createHttpServer(async (req, res) => {
    req.resume();
    await answerAfter;
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(JSON.stringify(answer.body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A TCP relay on `port` to `target` (an API that "comes up": nothing listened on `port` before). */
async function relay(port: number, target: number): Promise<void> {
  const sockets = new Set<import("node:net").Socket>();
  const server: NetServer = createServer((inbound) => {
    const outbound = connect(target, "127.0.0.1");
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    for (const s of [inbound, outbound]) s.on("error", () => (inbound.destroy(), outbound.destroy()));
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
}

function start(env: Record<string, string>): CliRun {
  const dir = tempDir();
  // LOG_LEVEL: the default (info), what an owner sees; said outright, as under vitest the logger is otherwise silent.
  return runCli(
    ["start"],
    { ...process.env, LOG_LEVEL: "info", DATA_DIR: dir, DATABASE_URL: "", OPS_PORT: "", QUEUE_URL: "", QUEUE_WORKERS: "1", DISCORD_TOKEN: "", TELEGRAM_TOKEN: "", ...env },
    (fn) => cleanups.push(fn),
  );
}

describe("mimic start: a token the API refuses is a configuration mistake", () => {
  it("a TELEGRAM_TOKEN Telegram refuses (401): exit 2, one line naming TELEGRAM_TOKEN, no stack trace", async () => {
    const cli = start({ TELEGRAM_TOKEN: "123:wrong", TELEGRAM_API_ROOT: await refusingApi() });
    expect(await exitCode(cli)).toBe(2);
    expect(lastLine(cli.err())).toBe("mimic: TELEGRAM_TOKEN was refused by Telegram (401 Unauthorized): check the token from @BotFather.");
    expect(cli.err()).not.toMatch(noStack);
    expect(cli.err()).not.toContain("Something went wrong");
    expect(cli.err()).not.toContain("123:wrong");
  }, HANG_MS * 2);

  it("a Telegram API root refusing without a description (404): still exit 2 and one line, no crash", async () => {
    const root = await refusingApi(undefined, { status: 404, body: { ok: false, error_code: 404 } });
    const cli = start({ TELEGRAM_TOKEN: "123:wrong", TELEGRAM_API_ROOT: root });
    expect(await exitCode(cli)).toBe(2);
    expect(lastLine(cli.err())).toBe(`mimic: TELEGRAM_TOKEN was refused by Telegram (404): check the token from @BotFather and TELEGRAM_API_ROOT (${root}).`);
    expect(cli.err()).not.toMatch(noStack);
    expect(cli.err()).not.toContain("Something went wrong");
  }, HANG_MS * 2);

  it("a DISCORD_TOKEN Discord refuses (401): exit 2, one line naming DISCORD_TOKEN, no stack trace", async () => {
    const cli = start({ DISCORD_TOKEN: "wrong-token", DISCORD_API_ROOT: await refusingApi() });
    expect(await exitCode(cli)).toBe(2);
    expect(lastLine(cli.err())).toMatch(/^mimic: DISCORD_TOKEN was refused by Discord \(invalid token\): copy the bot token again from the Discord Developer Portal/);
    expect(cli.err()).not.toMatch(noStack);
    expect(cli.err()).not.toContain("Something went wrong");
  }, HANG_MS * 2);

  it("both tokens, Discord's fine and Telegram's refused: the start fails with TELEGRAM_TOKEN named (exit 2), after stopping what had started", async () => {
    const discord = await FakeDiscord.start();
    cleanups.push(() => discord.close());
    const gateway = gatewayConnected(discord);
    const cli = start({
      DISCORD_TOKEN: discord.token,
      DISCORD_API_ROOT: discord.base,
      TELEGRAM_TOKEN: "123:wrong",
      // The bots start together: Telegram's refusal waits until Discord's gateway is connected.
      TELEGRAM_API_ROOT: await refusingApi(gateway.connected),
      OPS_PORT: String(await closedPort()),
    });
    expect(await exitCode(cli)).toBe(2);
    expect(lastLine(cli.err())).toBe("mimic: TELEGRAM_TOKEN was refused by Telegram (401 Unauthorized): check the token from @BotFather.");
    expect(cli.err()).not.toMatch(noStack);
    // Discord had connected: the failure is Telegram's alone, and the shutdown that followed closed Discord and did not fail.
    expect(gateway.seen()).toBe(1);
    await expect.poll(() => gateway.open(), { timeout: 10_000 }).toBe(0);
    expect(cli.err()).not.toContain("shutdown after a failed start failed");
    expect(cli.out()).toBe("");
  }, HANG_MS * 2);

  it("both tokens, Telegram's refused (in process): startApp rejects with CONFIG and nothing is left running (ops port, Discord's gateway)", async () => {
    const dir = tempDir();
    const discord = await FakeDiscord.start();
    cleanups.push(() => discord.close());
    const gateway = gatewayConnected(discord);
    const opsPort = await closedPort();
    const config = loadConfig({
      LOG_LEVEL: "silent",
      DATA_DIR: dir,
      DATABASE_URL: `file:${join(dir, "mimic.db")}`,
      QUEUE_WORKERS: "1",
      OPS_PORT: String(opsPort),
      DISCORD_TOKEN: discord.token,
      DISCORD_API_ROOT: discord.base,
      TELEGRAM_TOKEN: "123:wrong",
      // The bots start together: Telegram's refusal waits until Discord's gateway is connected.
      TELEGRAM_API_ROOT: await refusingApi(gateway.connected),
    });
    await expect(startApp(config, { handlers: DOUBLE_HANDLERS })).rejects.toMatchObject({
      code: "CONFIG",
      userMessage: "TELEGRAM_TOKEN was refused by Telegram (401 Unauthorized): check the token from @BotFather.",
    });
    expect(gateway.seen()).toBe(1); // Discord had connected…
    await expect.poll(() => gateway.open(), { timeout: 10_000 }).toBe(0); // …and was disconnected.
    await expect(fetch(`http://127.0.0.1:${opsPort}/healthz`)).rejects.toThrow(); // the ops port is closed
    // The same data starts again at once (here with Discord alone): nothing of the failed start holds it.
    const again = await startApp({ ...config, TELEGRAM_TOKEN: undefined }, { handlers: DOUBLE_HANDLERS });
    cleanups.push(() => again.stop());
    expect(again.discord?.client.isReady()).toBe(true);
  }, HANG_MS * 2);

  it("both tokens, Discord unreachable and Telegram's refused (in process): the refusal is said at once, not after Discord answers", async () => {
    const dir = tempDir();
    const config = loadConfig({
      LOG_LEVEL: "silent",
      DATA_DIR: dir,
      DATABASE_URL: `file:${join(dir, "mimic.db")}`,
      QUEUE_WORKERS: "1",
      DISCORD_TOKEN: "discord-token",
      DISCORD_API_ROOT: `http://127.0.0.1:${await closedPort()}`,
      TELEGRAM_TOKEN: "123:wrong",
      TELEGRAM_API_ROOT: await refusingApi(),
    });
    // Discord never answers: before, start-up waited for it and only then asked Telegram.
    await expect(startApp(config, { handlers: DOUBLE_HANDLERS })).rejects.toMatchObject({
      code: "CONFIG",
      userMessage: "TELEGRAM_TOKEN was refused by Telegram (401 Unauthorized): check the token from @BotFather.",
    });
  }, HANG_MS);
});

describe("mimic start: an API that cannot be reached is waited for, with a warning, not in silence", () => {
  it("TELEGRAM_API_ROOT with nothing listening: warns naming it and keeps trying; the bot comes up once it answers", async () => {
    const port = await closedPort();
    const telegram = await FakeTelegram.start();
    cleanups.push(() => telegram.close());
    const cli = start({ TELEGRAM_TOKEN: telegram.token, TELEGRAM_API_ROOT: `http://127.0.0.1:${port}` });
    const [warning] = await cli.waitFor("err", /^.*Telegram cannot be reached.*$/m);
    expect(JSON.parse(warning)).toMatchObject({
      level: 40,
      msg: `Telegram cannot be reached at TELEGRAM_API_ROOT=http://127.0.0.1:${port}: still trying; the bot starts once it answers`,
      reason: expect.stringContaining("ECONNREFUSED"),
    });
    expect(cli.err()).not.toContain(telegram.token); // the token is part of every request's URL
    expect(cli.child.exitCode).toBeNull();
    // Telegram "comes up" on that address: the bot starts without a restart.
    await relay(port, Number(new URL(telegram.apiRoot).port));
    await cli.waitFor("out", /Telegram: @mimic_test_bot is polling\./);
    expect(cli.err()).toContain('"msg":"Telegram answered: starting the bot"');
    cli.child.kill("SIGTERM");
    expect(await exitCode(cli)).toBe(0);
  }, HANG_MS * 3);

  it("DISCORD_API_ROOT with nothing listening: warns naming it and keeps trying (no crash); the bot comes up once it answers", async () => {
    const port = await closedPort();
    const discord = await FakeDiscord.start();
    cleanups.push(() => discord.close());
    const cli = start({ DISCORD_TOKEN: discord.token, DISCORD_API_ROOT: `http://127.0.0.1:${port}` });
    const [warning] = await cli.waitFor("err", /^.*Discord cannot be reached.*$/m);
    expect(JSON.parse(warning)).toMatchObject({
      level: 40,
      msg: `Discord cannot be reached at DISCORD_API_ROOT=http://127.0.0.1:${port}: still trying; the bot starts once it answers`,
      reason: expect.stringContaining("ECONNREFUSED"),
    });
    expect(cli.child.exitCode).toBeNull();
    await relay(port, Number(new URL(discord.base).port));
    await cli.waitFor("out", /Discord: logged in as /);
    cli.child.kill("SIGTERM");
    expect(await exitCode(cli)).toBe(0);
  }, HANG_MS * 3);

  it("while it waits, SIGTERM still stops Mimic at once", async () => {
    const cli = start({ TELEGRAM_TOKEN: "123:TEST", TELEGRAM_API_ROOT: `http://127.0.0.1:${await closedPort()}` });
    await cli.waitFor("err", /Telegram cannot be reached/);
    cli.child.kill("SIGTERM");
    // Ends (here by the signal's default action: nothing has started that needs stopping) instead of waiting on.
    await exitCode(cli);
    expect(cli.child.exitCode !== null || cli.child.signalCode === "SIGTERM").toBe(true);
  }, HANG_MS * 2);
});
