import type { Platform } from "./ports.ts";

/**
 * How to do something on each platform, so messages the core writes are actionable wherever they
 * are shown ("Save one with /face save"), without the adapters rewriting them.
 */
export type Action = "saveFace" | "listFaces" | "meme" | "config";

const HINTS: Record<Platform, Record<Action, string>> = {
  discord: {
    saveFace: "/face save (attach a clear photo of your face)",
    listFaces: "/face list",
    meme: "/meme with a reaction image attached",
    config: "/mimic config",
  },
  telegram: {
    saveFace: "/save <name> as a reply to a clear photo of your face",
    listFaces: "/faces",
    meme: "/meme as the caption of a reaction photo (or as a reply to one)",
    config: "/config <setting> <value>",
  },
  playground: {
    // Names what the page shows: the "Save face" button in the card "1. Your faces".
    saveFace: "the “Save face” button under “1. Your faces”",
    listFaces: "the “Your faces” list",
    meme: "the “Make a meme” form",
    config: "POST /api/config with the fields key and value (and the header X-Mimic: 1)",
  },
};

export function hint(platform: Platform, action: Action): string {
  return HINTS[platform][action];
}

/**
 * How the core names the place a request came from: a Telegram group, a Discord server. The playground and
 * private chats are neither, so their words say "here" instead of naming a kind of place.
 */
export interface PlaceWords {
  /** "group" / "server"; null where the place is neither. */
  server: string | null;
  /** Who may change the settings, as the platform grants it. */
  admins: string;
}

const PLACES: Record<Platform, PlaceWords> = {
  discord: { server: "server", admins: "server admins (the Manage Server permission)" },
  telegram: { server: "group", admins: "group admins" },
  playground: { server: null, admins: "admins" },
};

export function placeWords(platform: Platform): PlaceWords {
  return PLACES[platform];
}

/** "a server" / "a group" as the platform calls a shared chat; the playground's words name neither. */
export function sharedChat(platform: Platform): string {
  const { server } = placeWords(platform);
  return server ? `a ${server}` : "a shared chat";
}
