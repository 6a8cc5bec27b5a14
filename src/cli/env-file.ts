import { unknownSettings } from "../config.ts";
import { logger } from "../logger.ts";

/**
 * Warns of each setting in ./.env that is not Mimic's (a misspelling is otherwise ignored in silence, and its
 * default used), naming the setting it most likely meant. For the long-running commands (start, worker).
 */
export function warnUnknownSettings(): void {
  for (const { key, meant } of unknownSettings()) {
    const said = `${key} in ${process.env.MIMIC_ENV_FILE ?? ".env"} is not a Mimic setting and is ignored${meant ? `: did you mean ${meant}?` : " (see .env.example)"}`;
    logger.warn({ setting: key, ...(meant && { meant }) }, said);
  }
}
