import { unknownSettings } from "../config.ts";
import { logger } from "../logger.ts";

/**
 * Warns of each name in ./.env that is not one of Mimic's settings (a misspelling would otherwise leave its default
 * in use, in silence), naming the setting it most likely meant. The variable is still set for the process and its
 * workers (bin/mimic.mjs), which other software may read. For the long-running commands (start, worker).
 */
export function warnUnknownSettings(): void {
  for (const { key, meant } of unknownSettings()) {
    const said = `${key} in ${process.env.MIMIC_ENV_FILE ?? ".env"} is not one of Mimic's settings${meant ? `: did you mean ${meant}?` : " (they are listed in .env.example)"}`;
    logger.warn({ setting: key, ...(meant && { meant }) }, said);
  }
}
