/**
 * Discord's markup in a caption, as people saw it when they typed it: a member mention (`<@id>`, `<@!id>`) becomes
 * "@" and their display name, a channel (`<#id>`) "#" and its name, a role (`<@&id>`) "@" and its name, a custom
 * emoji (`<:name:id>`, `<a:name:id>`) ":name:", a command (`</name:id>`) "/name", a timestamp (`<t:…>`) its date and
 * time (in UTC: Discord shows each reader their own time zone, a picture has one). Pure: the names are looked up
 * first (mentionsIn says which), and a name not found reads "@user", "#channel", "@role".
 */

const MARKUP = /<(@!?|@&|#)(\d{1,21})>|<a?:(\w{1,32}):\d{1,21}>|<\/([^<>:\n]{1,100}):\d{1,21}>|<t:(-?\d{1,16})(?::([tTdDfFR]))?>/g;

export interface MentionIds {
  users: string[];
  channels: string[];
  roles: string[];
}

/** Names found for the ids mentionsIn gave (by id); those missing read "@user", "#channel", "@role". */
export interface MentionNames {
  users: ReadonlyMap<string, string>;
  channels: ReadonlyMap<string, string>;
  roles: ReadonlyMap<string, string>;
}

/** The members, channels and roles the texts mention, each id once, in order. */
export function mentionsIn(...texts: (string | undefined)[]): MentionIds {
  const ids = { users: new Set<string>(), channels: new Set<string>(), roles: new Set<string>() };
  for (const text of texts) {
    for (const m of (text ?? "").matchAll(MARKUP)) {
      if (m[1] === undefined) continue;
      (m[1] === "#" ? ids.channels : m[1] === "@&" ? ids.roles : ids.users).add(m[2]!);
    }
  }
  return { users: [...ids.users], channels: [...ids.channels], roles: [...ids.roles] };
}

/** `text` with Discord's markup written out as Discord shows it. */
export function plainCaption(text: string, names: MentionNames, nowMs = Date.now()): string {
  return text.replace(MARKUP, (all, kind: string | undefined, id: string | undefined, emoji: string | undefined, command: string | undefined, seconds: string | undefined, style: string | undefined) => {
    if (kind === "#") return `#${names.channels.get(id!) ?? "channel"}`;
    // The @everyone role's name has its "@" already.
    if (kind === "@&") return withAt(names.roles.get(id!) ?? "role");
    if (kind !== undefined) return `@${names.users.get(id!) ?? "user"}`;
    if (emoji !== undefined) return `:${emoji}:`;
    if (command !== undefined) return `/${command}`;
    // ICU may put a narrow no-break space before "PM": a plain one draws in every caption font.
    return timestamp(Number(seconds) * 1000, style ?? "f", nowMs)?.replace(/[\u202F\u00A0]/g, " ") ?? all;
  });
}

const withAt = (name: string) => (name.startsWith("@") ? name : `@${name}`);

const UTC = { timeZone: "UTC" } as const;
const SHORT_TIME = new Intl.DateTimeFormat("en-US", { ...UTC, hour: "numeric", minute: "2-digit" });
const LONG_TIME = new Intl.DateTimeFormat("en-US", { ...UTC, hour: "numeric", minute: "2-digit", second: "2-digit" });
const SHORT_DATE = new Intl.DateTimeFormat("en-US", { ...UTC, year: "numeric", month: "2-digit", day: "2-digit" });
const LONG_DATE = new Intl.DateTimeFormat("en-US", { ...UTC, year: "numeric", month: "long", day: "numeric" });
const DAY_DATE = new Intl.DateTimeFormat("en-US", { ...UTC, weekday: "long", year: "numeric", month: "long", day: "numeric" });
const RELATIVE = new Intl.RelativeTimeFormat("en-US", { numeric: "auto" });
const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 86_400],
  ["month", 30 * 86_400],
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
  ["second", 1],
];

/** Discord's timestamp styles (t, T, d, D, f, F, R) in US English, times in UTC; undefined for a time no date has. */
function timestamp(ms: number, style: string, nowMs: number): string | undefined {
  const at = new Date(ms);
  if (Number.isNaN(at.getTime())) return undefined;
  switch (style) {
    case "t":
      return `${SHORT_TIME.format(at)} UTC`;
    case "T":
      return `${LONG_TIME.format(at)} UTC`;
    case "d":
      return SHORT_DATE.format(at);
    case "D":
      return LONG_DATE.format(at);
    case "F":
      return `${DAY_DATE.format(at)} ${SHORT_TIME.format(at)} UTC`;
    case "R": {
      const seconds = (ms - nowMs) / 1000;
      const [unit, size] = UNITS.find(([, s]) => Math.abs(seconds) >= s) ?? UNITS[UNITS.length - 1]!;
      return RELATIVE.format(Math.round(seconds / size), unit);
    }
    default:
      return `${LONG_DATE.format(at)} ${SHORT_TIME.format(at)} UTC`;
  }
}
