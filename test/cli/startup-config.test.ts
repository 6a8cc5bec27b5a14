/**
 * Start-up configuration through the real CLI (bin/mimic.mjs, compiled dist/):
 * - a command-line flag overrides its variable all the way down (start --port, worker --threads): a bad value
 *   of that variable in the shell or .env no longer stops the start;
 * - an API root that is not an http(s) URL is refused at once (exit 2, one line), not retried for ever;
 * - a `mimic register` that cannot reach Discord is a failed run (exit 1) naming DISCORD_API_ROOT when set;
 * - a playground or an ops endpoint bound to every interface is announced at an address a browser (or curl) opens;
 * - DISCORD_APP_ID must be a snowflake: anything else stops start-up with one line (exit 2).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { exitCode, HANG_MS, runCli, type CliRun } from "../helpers/cli-run.ts";
import { closedPort } from "../helpers/net.ts";

const REDIS_URL = process.env.TEST_REDIS_URL;
const noStack = /\n\s+at /;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function mimic(env: Record<string, string>, ...args: string[]): CliRun {
  const dir = mkdtempSync(join(tmpdir(), "mimic-startup-config-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return runCli(args, {
    ...process.env,
    LOG_LEVEL: "warn",
    DATA_DIR: dir,
    DATABASE_URL: "",
    OPS_PORT: "",
    QUEUE_URL: "",
    QUEUE_WORKERS: "1",
    DISCORD_TOKEN: "",
    TELEGRAM_TOKEN: "",
    DISCORD_API_ROOT: "",
    TELEGRAM_API_ROOT: "",
    PLAYGROUND_HOST: "",
    PLAYGROUND_PORT: "0",
    ...env,
  }, (fn) => cleanups.push(fn));
}


/** A port free right now (bound once on every interface, then closed). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const BANNER = /open (http:\/\/\S+\/)/;

describe("a flag overrides its variable all the way down", () => {
  it("`start --port 0` starts although PLAYGROUND_PORT in the environment is not a port", async () => {
    const cli = mimic({ PLAYGROUND_PORT: "abc" }, "start", "--port", "0");
    const [, url] = await cli.waitFor("out", BANNER);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect((await fetch(url)).status).toBe(200);
    cli.child.kill("SIGTERM");
    expect(await exitCode(cli)).toBe(0);
  }, HANG_MS * 2);

  it("`start --port N` starts although OPS_PORT and PLAYGROUND_PORT in the environment are the same port", async () => {
    const [opsPort, playgroundPort] = [await freePort(), await freePort()];
    const cli = mimic({ OPS_PORT: String(opsPort), PLAYGROUND_PORT: String(opsPort) }, "start", "--port", String(playgroundPort));
    const [, url] = await cli.waitFor("out", BANNER);
    expect(url).toBe(`http://127.0.0.1:${playgroundPort}/`);
    expect(cli.out()).toContain(`Ops endpoint: http://127.0.0.1:${opsPort}/healthz`);
    cli.child.kill("SIGTERM");
    expect(await exitCode(cli)).toBe(0);
  }, HANG_MS * 2);

  it.skipIf(!REDIS_URL)("`worker --threads 1` starts although QUEUE_WORKERS in the environment is not a number", async () => {
    const cli = mimic({ QUEUE_URL: REDIS_URL!, QUEUE_WORKERS: "abc", QUEUE_PREFIX: `mimictest-threads-${process.pid}` }, "worker", "--threads", "1");
    await cli.waitFor("out", /ready \(1 threads\)/);
    cli.child.kill("SIGTERM");
    expect(await exitCode(cli)).toBe(0);
  }, HANG_MS * 2);
});

describe("an API root that is not an http(s) URL: exit 2 at once, one line, instead of retrying for ever", () => {
  it.each([
    ["TELEGRAM_TOKEN", "123:abc", "TELEGRAM_API_ROOT", "ftp://127.0.0.1:19999", "https://api.telegram.org"],
    ["TELEGRAM_TOKEN", "123:abc", "TELEGRAM_API_ROOT", "javascript:alert", "https://api.telegram.org"],
    ["DISCORD_TOKEN", "x", "DISCORD_API_ROOT", "ftp://127.0.0.1:1", "https://discord.com"],
  ])("%s=%s with %s=%s", async (tokenName, token, rootName, apiRoot, example) => {
    const cli = mimic({ [tokenName]: token, [rootName]: apiRoot }, "start");
    expect(await exitCode(cli)).toBe(2);
    expect(cli.err()).toBe(`mimic: Invalid configuration: ${rootName}="${apiRoot}": must be an http:// or https:// URL, e.g. ${example}\n`);
  }, HANG_MS * 2);
});

describe("DISCORD_APP_ID that is not a Discord application id: exit 2 at once, one line", () => {
  const message = "must be the application id from the Discord Developer Portal (General Information): 17 to 20 digits";
  it.each([
    ["register", "my-bot"],
    ["register", "123"],
    ["start", "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gx.abc"],
  ])("mimic %s with DISCORD_APP_ID=%s", async (command, appId) => {
    // Nothing answers at the API root: a value that got past the check would fail differently (exit 1).
    const apiRoot = `http://127.0.0.1:${await closedPort()}`;
    const cli = mimic({ DISCORD_TOKEN: "x", DISCORD_APP_ID: appId, DISCORD_API_ROOT: apiRoot }, command);
    expect(await exitCode(cli)).toBe(2);
    expect(cli.err()).toBe(`mimic: Invalid configuration: DISCORD_APP_ID="${appId}": ${message}\n`);
  }, HANG_MS * 2);
});

describe("mimic register", () => {
  it("with nothing answering at DISCORD_API_ROOT: a failed run (exit 1) that names DISCORD_API_ROOT", async () => {
    const apiRoot = `http://127.0.0.1:${await closedPort()}`;
    const cli = mimic({ DISCORD_TOKEN: "x", DISCORD_APP_ID: "900000000000000001", DISCORD_API_ROOT: apiRoot }, "register");
    expect(await exitCode(cli)).toBe(1);
    expect(cli.err()).toMatch(new RegExp(`^mimic: Registering the commands failed \\(.*ECONNREFUSED.*\\)\\. Check that DISCORD_API_ROOT is right and that ${apiRoot} is up, then try again\\.\\n$`));
    expect(cli.err()).not.toMatch(noStack);
  }, HANG_MS * 2);

  it("a token the API refuses (401) stays a configuration mistake: exit 2, naming DISCORD_TOKEN", async () => {
    const server = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: "401: Unauthorized", code: 0 }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const apiRoot = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cli = mimic({ DISCORD_TOKEN: "wrong", DISCORD_APP_ID: "900000000000000001", DISCORD_API_ROOT: apiRoot }, "register");
    expect(await exitCode(cli)).toBe(2);
    expect(cli.err()).toContain("DISCORD_TOKEN was rejected");
  }, HANG_MS * 2);
});

/** Whether this machine can listen on IPv6 (a container may have no ::1). */
async function hasIpv6(): Promise<boolean> {
  const s = createServer();
  return new Promise((resolve) => {
    s.once("error", () => resolve(false));
    s.listen(0, "::1", () => s.close(() => resolve(true)));
  });
}
const IPV6 = await hasIpv6();

describe("an ops endpoint on every interface", () => {
  for (const [host, loopback] of [
    ["0.0.0.0", "127.0.0.1"],
    ["::", "[::1]"],
  ]) {
    it.skipIf(host === "::" && !IPV6)(`OPS_HOST=${host}: the banner gives ${loopback}, which /healthz answers, and says it listens on all interfaces`, async () => {
      const port = await freePort();
      const cli = mimic({ OPS_HOST: host, OPS_PORT: String(port) }, "start");
      await cli.waitFor("out", BANNER);
      const healthz = `http://${loopback}:${port}/healthz`;
      expect(cli.out()).toContain(`Ops endpoint: ${healthz}, /readyz, /metrics (listening on all interfaces, ${host}, so other machines can reach it too).\n`);
      expect((await fetch(healthz)).status).toBe(200);
      cli.child.kill("SIGTERM");
      expect(await exitCode(cli)).toBe(0);
    }, HANG_MS * 2);
  }
});

describe("a playground on every interface", () => {
  for (const [host, loopback] of [
    ["0.0.0.0", "127.0.0.1"],
    ["::", "[::1]"],
  ]) {
    it.skipIf(host === "::" && !IPV6)(`PLAYGROUND_HOST=${host}: the banner gives ${loopback}, which the page answers, and says it listens on all interfaces`, async () => {
      const cli = mimic({ PLAYGROUND_HOST: host }, "start");
      const [, url] = await cli.waitFor("out", BANNER);
      expect(url).toMatch(new RegExp(`^http://${loopback.replace(/[[\].]/g, "\\$&")}:\\d+/$`));
      expect(cli.out()).toContain(`open ${url} (listening on all interfaces, ${host}, so other machines can reach it too)\n`);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("Mimic playground");
      cli.child.kill("SIGTERM");
      expect(await exitCode(cli)).toBe(0);
    }, HANG_MS * 2);
  }
});
