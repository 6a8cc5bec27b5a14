import type { Command } from "commander";
import { deployCommands } from "../../bots/discord/rest.ts";
import { loadConfig } from "../../config.ts";
import { MimicError } from "../../errors.ts";

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
      const names = await deployCommands({ token: config.DISCORD_TOKEN, appId: config.DISCORD_APP_ID, guildId: o.guild, apiRoot: config.DISCORD_API_ROOT });
      process.stdout.write(`Registered ${names.length} commands ${o.guild ? `in guild ${o.guild}` : "globally"}: ${names.join(", ")}\n`);
    });
}
