import type { Command } from "commander";
import { loadConfig } from "../../config.ts";
import { MimicError } from "../../errors.ts";
import { redactUrl } from "../../redact-url.ts";

/** Discord's answers that mean a setting is wrong (the token, the application id or the guild): exit 2. */
const REFUSED_SETTING = new Set([401, 403, 404]);

/** `mimic register [--guild ID]`: deploys the Discord slash and context-menu commands. */
export function register(program: Command): void {
  program
    .command("register")
    .description("deploy the Discord commands (needs DISCORD_TOKEN and DISCORD_APP_ID); --guild for one server, instantly")
    .option("-g, --guild <id>", "register for this guild only (appears at once; global commands can take up to an hour)")
    .action(async (o: { guild?: string }) => {
      const config = loadConfig();
      if (!config.DISCORD_TOKEN || !config.DISCORD_APP_ID) {
        throw new MimicError("CONFIG", "mimic register needs DISCORD_TOKEN and DISCORD_APP_ID (Developer Portal → your app → General Information / Bot).");
      }
      if (o.guild !== undefined && !/^\d{5,25}$/.test(o.guild)) throw new MimicError("BAD_INPUT", "--guild takes a server id (a number; enable Developer Mode → right-click the server → Copy Server ID).");
      let names: string[];
      try {
        // Loaded once the settings passed (discord.js is large): a refused run exits without it.
        const { deployCommands } = await import("../../bots/discord/rest.ts");
        names = await deployCommands({ token: config.DISCORD_TOKEN, appId: config.DISCORD_APP_ID, guildId: o.guild, apiRoot: config.DISCORD_API_ROOT });
      } catch (e) {
        throw failedRun(e, config.DISCORD_API_ROOT);
      }
      process.stdout.write(`Registered ${names.length} commands ${o.guild ? `in guild ${o.guild}` : "globally"}: ${names.join(", ")}\n`);
    });
}

/**
 * A refused setting stays a configuration mistake (exit 2). Anything else (no answer, a network error,
 * Discord's own trouble) is a failed run (exit 1) that naming the API it tried helps to fix.
 */
function failedRun(e: unknown, apiRoot: string | undefined): unknown {
  const cause = e instanceof MimicError ? e.cause : e;
  const status = (cause as { status?: unknown } | undefined)?.status;
  if (typeof status === "number" && REFUSED_SETTING.has(status)) return e;
  const why = cause instanceof Error ? cause.message : String(cause);
  const where = apiRoot ? `the Discord API at DISCORD_API_ROOT (${redactUrl(apiRoot)})` : "Discord";
  const hint =
    typeof status === "number"
      ? `${where} answered ${status}: try again in a few minutes.`
      : apiRoot
        ? `Check that DISCORD_API_ROOT is right and that ${redactUrl(apiRoot)} is up, then try again.`
        : "Check your network connection and try again.";
  return new MimicError("INTERNAL", `Registering the commands failed (${why}). ${hint}`, { cause });
}
