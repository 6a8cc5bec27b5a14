import type { Command } from "commander";
import { startApp } from "../../app.ts";
import { loadConfig } from "../../config.ts";
import { wholeNumber } from "../args.ts";
import { warnUnknownSettings } from "../env-file.ts";
import { stopOnSignals } from "../stop-signals.ts";

/**
 * `mimic start` (what `npm start` runs): the Discord and/or Telegram bot when DISCORD_TOKEN /
 * TELEGRAM_TOKEN are set, otherwise the local playground on 127.0.0.1. Stops cleanly on SIGINT/SIGTERM.
 */
export function register(program: Command): void {
  program
    .command("start")
    .description("run the bots (DISCORD_TOKEN / TELEGRAM_TOKEN), or the local playground when no token is set")
    .option("-p, --port <port>", "playground port (default PLAYGROUND_PORT, 8787)")
    .action(async (o: { port?: string }) => {
      // Checked as the flag it is: folded into PLAYGROUND_PORT, a mistake would be reported as that variable.
      const port = o.port === undefined ? undefined : wholeNumber("--port", o.port, 0, 65_535);
      const config = loadConfig({ ...process.env, ...(port !== undefined ? { PLAYGROUND_PORT: String(port) } : {}) });
      warnUnknownSettings();
      const running = await startApp(config);
      const lines: string[] = [`Mimic is running (store: ${running.app.store.description}).`];
      if (running.discord) lines.push(`Discord: logged in as ${running.discord.client.user?.tag ?? "?"}.`);
      if (running.telegram) lines.push(`Telegram: @${running.telegram.bot.botInfo.username} is polling.`);
      if (running.ops) {
        const { url, listensOn } = browserUrl(running.ops.url, "/healthz");
        lines.push(`Ops endpoint: ${url}, /readyz, /metrics${allInterfacesNote(listensOn)}.`);
      }
      if (running.playground) {
        const { url, listensOn } = browserUrl(running.playground.url);
        lines.push(`No bot token set, so here is the local playground: open ${url}${allInterfacesNote(listensOn)}`);
        lines.push("Set DISCORD_TOKEN and/or TELEGRAM_TOKEN to run the bots instead (see README).");
      }
      // Listening before the banner: a Ctrl+C the moment it shows stops cleanly too.
      stopOnSignals("mimic", () => running.stop());
      process.stdout.write(`${lines.join("\n")}\nPress Ctrl+C to stop.\n`);
    });
}

/**
 * The address to open in a browser or with curl (`path`, when given, replaces the listening URL's). A wildcard
 * bind (0.0.0.0, ::) is where the server listens, not an address to visit (some browsers refuse
 * http://0.0.0.0/): this machine's loopback of the same family instead, which the playground's host check
 * accepts. `listensOn`: the wildcard, when it was one.
 */
function browserUrl(listening: string, path?: string): { url: string; listensOn?: string } {
  const url = new URL(listening);
  if (path !== undefined) url.pathname = path;
  const loopback = url.hostname === "0.0.0.0" ? "127.0.0.1" : url.hostname === "[::]" ? "[::1]" : undefined;
  if (!loopback) return { url: path === undefined ? listening : url.toString() };
  const listensOn = url.hostname.replace(/^\[|\]$/g, "");
  url.hostname = loopback;
  return { url: url.toString(), listensOn };
}

/** Said beside an address given in place of a wildcard bind: others can reach the server too. */
function allInterfacesNote(listensOn: string | undefined): string {
  return listensOn ? ` (listening on all interfaces, ${listensOn}, so other machines can reach it too)` : "";
}
