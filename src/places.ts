/**
 * How messages name the place a request came from, on each platform: a Discord server and its channels, a
 * Telegram group and its forum topics, the local playground. The store's refusals and the core's replies
 * both say it, so they use one table.
 */
export type Platform = "discord" | "telegram" | "playground";

export interface PlaceWords {
  /** "server" / "group": the kind of shared chat; null for the playground, which is not one. */
  kind: string | null;
  /** The place as the subject or object of a sentence: "this server", "the playground". */
  thisPlace: string;
  /** "on this server", "in this group", "in the playground". */
  inPlace: string;
  /** What the place's rooms are called: "channel", "topic". */
  channel: string;
  /** Who may change the settings, as the platform grants it. */
  admins: string;
}

const PLACES: Record<Platform, PlaceWords> = {
  discord: { kind: "server", thisPlace: "this server", inPlace: "on this server", channel: "channel", admins: "server admins (the Manage Server permission)" },
  telegram: { kind: "group", thisPlace: "this group", inPlace: "in this group", channel: "topic", admins: "group admins" },
  // The playground's one user is its admin; it has no channels (it refuses channel limits).
  playground: { kind: null, thisPlace: "the playground", inPlace: "in the playground", channel: "channel", admins: "admins" },
};

const isPlatform = (p: string): p is Platform => Object.hasOwn(PLACES, p);

/** The store keeps any bounded platform name; one it does not know is named like a Discord server. */
export function placeWords(platform: string): PlaceWords {
  return isPlatform(platform) ? PLACES[platform] : PLACES.discord;
}

/** "server" / "group"; the playground's settings and quotas are still called a server's. */
export const serverWord = (platform: string): string => placeWords(platform).kind ?? "server";

/** "a server" / "a group" as the platform calls a shared chat; the playground's words name neither. */
export function sharedChat(platform: string): string {
  const { kind } = placeWords(platform);
  return kind ? `a ${kind}` : "a shared chat";
}

/** "This server" at the start of a sentence. */
export const capitalised = (s: string): string => `${s[0].toUpperCase()}${s.slice(1)}`;

/** A user as the platform shows one: a Discord mention (no ping in an ephemeral reply), else "user <id>". */
export function userRef(platform: string, id: string, name?: string): string {
  if (platform === "discord") return `<@${id}>`;
  // The id first: a name is whatever its owner typed ("Alice (user 11)" would pass for another id).
  return name ? `user ${id} (${name})` : `user ${id}`;
}

/**
 * A channel as the platform shows one: a Discord channel mention; on Telegram a forum topic's id with its link, or
 * General where it is the group's own id (a group without topics, or its General topic); else the chat's id.
 */
export function channelRef(platform: string, serverId: string | null, id: string): string {
  if (platform === "discord") return `<#${id}>`;
  if (platform === "telegram") return id === serverId ? "General" : /^\d+$/.test(id) ? telegramTopic(serverId, id) : `chat ${id}`;
  return `chat ${id}`;
}

/**
 * Telegram apps show no topic ids: in a supergroup a link opens the topic (the group's id without its supergroup
 * prefix, then the topic's), and the id stays beside it for "/config channel remove <id>".
 */
function telegramTopic(serverId: string | null, id: string): string {
  const chat = /^-100(\d+)$/.exec(serverId ?? "")?.[1];
  return chat ? `topic ${id} (https://t.me/c/${chat}/${id})` : `topic ${id}`;
}

/** "a", "a or b", "a, b or c": a short list of alternatives. */
export function eitherOf(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}
