import { REST, Routes, type RESTOptions } from "discord.js";
import { MimicError } from "../../errors.ts";
import { commandDefinitions } from "./commands.ts";

/**
 * REST options shared by the bot and `mimic register`: DISCORD_API_ROOT points both at another
 * Discord-compatible endpoint (a test fake, a proxy). Unset: discord.com.
 */
export function restOptions(apiRoot: string | undefined): Partial<RESTOptions> {
  if (!apiRoot) return {};
  const base = apiRoot.replace(/\/+$/, "");
  return { api: `${base}/api`, cdn: base, retries: 0, timeout: 15_000 };
}

export interface DeployOptions {
  token: string;
  appId: string;
  /** Register for one guild (instant) instead of globally (can take up to an hour to appear). */
  guildId?: string;
  apiRoot?: string;
}

/** PUT /applications/{app}[/guilds/{guild}]/commands with the command list; returns the names deployed. */
export async function deployCommands(opts: DeployOptions): Promise<string[]> {
  const rest = new REST({ version: "10", ...restOptions(opts.apiRoot) }).setToken(opts.token);
  const route = opts.guildId
    ? Routes.applicationGuildCommands(opts.appId, opts.guildId)
    : Routes.applicationCommands(opts.appId);
  try {
    const result = (await rest.put(route, { body: commandDefinitions() })) as { name: string }[];
    return result.map((c) => c.name);
  } catch (cause) {
    const status = (cause as { status?: number }).status;
    const hint =
      status === 401
        ? "DISCORD_TOKEN was rejected: copy the bot token again from the Developer Portal."
        : status === 403 || status === 404
          ? "Check DISCORD_APP_ID and, with --guild, that the bot was invited to that server with the applications.commands scope."
          : "Check your network connection and try again.";
    throw new MimicError("CONFIG", `Registering the commands failed (${(cause as Error).message}). ${hint}`, { cause });
  }
}
