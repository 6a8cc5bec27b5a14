import type { Platform } from "../places.ts";

/**
 * How to do something on each platform, so messages the core writes are actionable wherever they
 * are shown ("Save one with /face save"), without the adapters rewriting them.
 */
export type Action = "saveFace" | "listFaces" | "deleteFace" | "meme" | "config" | "showConfig";

const HINTS: Record<Platform, Record<Action, string>> = {
  discord: {
    saveFace: "/face save (attach a clear photo of your face)",
    listFaces: "/face list",
    deleteFace: "/face delete",
    meme: "/meme with a reaction image attached",
    config: "/mimic config",
    showConfig: "/mimic config with no setting",
  },
  telegram: {
    saveFace: "/save <name> as a reply to a clear photo of your face",
    listFaces: "/faces",
    deleteFace: "the 🗑 buttons of /faces",
    meme: "/meme as the caption of a reaction photo (or as a reply to one)",
    config: "/config <setting> <value>",
    showConfig: "/config alone",
  },
  playground: {
    // Names what the page shows: the "Save face" button in the card "1. Your faces".
    saveFace: "the “Save face” button under “1. Your faces”",
    listFaces: "the “Your faces” list",
    deleteFace: "the “Delete” button beside it in “Your faces”",
    meme: "the “Make a meme” form",
    config: "POST /api/config with the fields key and value (and the header X-Mimic: 1)",
    showConfig: "POST /api/config with no fields (and the header X-Mimic: 1)",
  },
};

export function hint(platform: Platform, action: Action): string {
  return HINTS[platform][action];
}
