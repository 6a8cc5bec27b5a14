import type { AnimationFormat } from "../pipeline/video/index.ts";
import type { Platform, ProgressEvent } from "./ports.ts";

/** Everything the core needs to know about one request, whatever platform it came from. */
export interface CommandContext {
  platform: Platform;
  userId: string;
  /** Discord guild / Telegram group chat id; null in private chats and DMs. */
  serverId: string | null;
  channelId: string | null;
  /** Discord "Manage Server" / Telegram group creator or administrator / playground owner. */
  isAdmin: boolean;
  requestId: string;
  /** Largest file the platform lets us send back here; the renderer's byte budget. */
  attachmentLimitBytes: number;
  /** Largest file we may fetch from this platform (Telegram getFile: 20 MB). Defaults to MAX_INPUT_BYTES. */
  downloadLimitBytes?: number;
  /** What a file over downloadLimitBytes is told, in the platform's own words and unit (default: the size and the limit in MiB). */
  downloadLimitMessage?: string;
  /** The file animations become here (Telegram: "mp4", Discord: "gif-or-mp4"); default "gif". */
  animationFormat?: AnimationFormat;
  /**
   * How another process can still tell the user, should this one stop before answering (the adapter's own
   * JSON, handed back to its LateAnswer; see abandoned.ts). Kept in the store only until the answer exists.
   */
  pendingReply?: string;
  /**
   * Called once the request is admitted, with a way to replace its pendingReply: a message the adapter sent
   * since (a queue position) is then one another process can take down with its apology.
   */
  bindPendingReply?: (update: (reply: string) => Promise<void>) => void;
  /**
   * People's names as the platform shows them, for answers that name people by id (bans, /usage's top list,
   * the audit trail): where an id alone says nothing (Telegram shows none). Best effort: ids it cannot name are
   * left out of the map.
   */
  displayNames?: (userIds: readonly string[]) => Promise<ReadonlyMap<string, string>>;
  /** Queue position / start / end, so adapters can show progress. */
  progress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

/**
 * An image the user pointed at. Adapters never download: they describe where the bytes are, with the
 * size/type the platform declared, and the core fetches them within the limits (see input.ts).
 */
export type ImageInput =
  | { kind: "bytes"; bytes: Uint8Array; mime?: string; name?: string }
  | {
      kind: "url";
      /** The URL, or how to get it once the declared size passed (Telegram's getFile). */
      url: string | (() => Promise<string>);
      /** Size the platform declared (Discord attachment.size, Telegram file_size); checked before fetching. */
      declaredSize?: number;
      declaredMime?: string;
      name?: string;
      /** Extra request headers (none needed for Discord CDN / Telegram file URLs). */
      headers?: Record<string, string>;
    };

export interface ReplyFile {
  bytes: Uint8Array;
  name: string;
  mime: string;
  width?: number;
  height?: number;
}

/** What the core answers; adapters only translate it to their platform. */
export interface Reply {
  text: string;
  /** Only the caller should see it (Discord ephemeral; elsewhere a hint to reply privately). */
  ephemeral: boolean;
  file?: ReplyFile;
  /** Set when the reply reports a failure; the MimicError code, for adapters' logs and tests. */
  errorCode?: string;
  /**
   * Where part of `text` is about other people (an admin's /usage: each user's counts): `text` split into what
   * anyone beside the caller may see (`shared`) and what only the caller should (`personal`). `text` stays the
   * whole answer, for platforms that answer privately (Discord's ephemeral replies, the playground); an adapter
   * that cannot (a Telegram group) posts `shared` and delivers `personal` to the caller alone. `about` names the
   * personal part, for the adapter's own words on where it went ("each person's counts today"). `personal` empty:
   * nothing is the caller's alone, `shared` is only the short form for a crowd (a settings change: the change and
   * its line, not every setting).
   */
  split?: { shared: string; personal: string; about: string };
  /** Structured data for adapters that render lists as UI (Telegram inline keyboards, playground). */
  templates?: { name: string; isDefault: boolean }[];
  /**
   * With a picture: an adapter calls this when the platform refused to take it (an upload error), so the use
   * it counted is given back, as for any request that delivered nothing.
   */
  undelivered?: () => Promise<void>;
  /**
   * With the refusal of a moving picture read in vain while other pictures were left to try (MemeInput.othersToTry):
   * counts it after all, as a refused picture, when none of them made a meme. True where it was counted.
   */
  countUnused?: () => Promise<boolean>;
  /**
   * With a picture: an adapter whose platform shows a re-encoding of it (Telegram photos, whose hash differs) calls
   * this with its own reference to the message that carried it, so /audit asked of that message finds who made it.
   */
  delivered?: (messageRef: string) => Promise<void>;
}
