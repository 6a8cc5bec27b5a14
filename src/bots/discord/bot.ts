import { randomUUID } from "node:crypto";
import { z } from "zod";
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  ChannelType,
  Client,
  DiscordAPIError,
  DiscordjsError,
  DiscordjsErrorCodes,
  Events,
  GatewayIntentBits,
  HTTPError,
  MessageFlags,
  MessageReferenceType,
  Partials,
  PermissionFlagsBits,
  RateLimitError,
  RESTJSONErrorCodes,
  Routes,
  StickerFormatType,
  type APIEmbed,
  type APIMessage,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type Message,
  type MessageContextMenuCommandInteraction,
  type MessageSnapshot,
  type RepliableInteraction,
} from "discord.js";
import type { CommandContext, Core, ImageInput, LateAnswer, ProgressEvent, Reply, SettingKey, TransferMode } from "../../core/index.ts";
import type { PlaceFacts } from "../../core/ports.ts";
import {
  BUTTON_TOO_OLD,
  buttonTooOld,
  checkTemplateName,
  deleteFaceQuestion,
  FORGET_BUTTONS,
  NOTHING_DELETED,
  progressReporter,
  readableFile,
  untypedMime,
} from "../../core/index.ts";
import { MimicError } from "../../errors.ts";
import { logger } from "../../logger.ts";
import { redactUrl } from "../../redact-url.ts";
import { escapeLineBreaks } from "../../pipeline/render/text.ts";
import { shuttingDown } from "../../queue/refusals.ts";
import { memeFromFirstFace, type NumberedPicture } from "../first-face.ts";
import { createInFlight } from "../in-flight.ts";
import { REACH_WARN_EVERY_MS, untilReached } from "../reach.ts";
import { mentionsIn, plainCaption, type MentionIds, type MentionNames } from "./captions.ts";
import { CAPTION_CASE, COMMAND, HELP } from "./commands.ts";
import { restOptions, type RestTimeouts } from "./rest.ts";

/**
 * Thin Discord adapter: translates interactions into core calls and core replies into interaction
 * responses. It acknowledges every command well inside Discord's 3 s (deferReply: at once, or for a render once
 * the core is past its immediate refusals), shows queue progress by editing that reply, and turns failures into
 * ephemeral messages.
 */

export interface DiscordBotOptions {
  core: Core;
  token: string;
  /** DISCORD_API_ROOT: another Discord-compatible endpoint (tests, proxies). */
  apiRoot?: string;
  /** Called once a command was acknowledged (deferReply answered), with the time that took. */
  onAcknowledged?: (info: { command: string; latencyMs: number }) => void;
  /** How long Discord requests may take (default: 15 s, and an upload 15 s plus its size at 1 Mbit/s, at most 5 min). */
  restTimeouts?: Partial<RestTimeouts>;
  /** Called for each request turned away because Mimic is stopping (the ops metrics count them). */
  onTurnedAway?: (reason: "shutting_down") => void;
  /**
   * How long a render command may wait unacknowledged for the core's immediate refusals (default ACK_WAIT_MS, and no
   * later than ACK_BY_MS after Discord made it). Tests of those refusals lengthen it: a loaded machine must not
   * turn a private refusal into a public one (the fake Discord has no 3 s limit).
   */
  ackWaitMs?: number;
}

export interface DiscordBot {
  client: Client;
  start(): Promise<void>;
  /**
   * Stops taking work: interactions from now on are answered at once, privately, that Mimic is restarting
   * (autocomplete: no suggestions); those in flight go on. The gateway stays connected until stop().
   */
  stopIntake(): void;
  /** True once every interaction in flight was answered; false when `graceMs` ran out first (default: no limit). */
  settled(graceMs?: number): Promise<boolean>;
  /**
   * Answers a render another process took and lost (CommandContext.pendingReply: its interaction): edits its
   * "thinking…" response, which Discord allows for 15 minutes after the command, without the gateway.
   */
  answerLate: LateAnswer;
  /**
   * Stops intake, waits up to `graceMs` (default 0) for the interactions in flight, then disconnects. Replies
   * still in flight after that can still be sent (interaction responses need no gateway and no bot token).
   */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

/** What a render's pendingReply holds: the interaction another process can still answer. */
const lostInteraction = z.object({ appId: z.string().regex(/^\d+$/), token: z.string().min(1), at: z.number() });
/** How long Discord takes edits of an interaction's answer (its token's life), less a margin for the request. */
const INTERACTION_ANSWERABLE_MS = 15 * 60_000 - 30_000;

/**
 * A render not made this long after its command is stopped, its use given back: Discord takes the command's
 * answer for 15 minutes, and the last one is left for the upload and the answer.
 */
const RENDER_DEADLINE_MS = 14 * 60_000;
export const RENDER_DEADLINE_REPLY =
  "Mimic was too busy to make your meme within the 15 minutes Discord gives a command, so it was stopped (it does not count). Please try again later.";

/**
 * How long a render command may go unacknowledged while the core checks whether it will be refused at once (a
 * refusal is then answered privately, never as a public "thinking…" taken down again): at most this long after it
 * arrived, and no later than ACK_BY_MS after Discord made it, well inside the 3 s Discord waits for an answer.
 */
const ACK_WAIT_MS = 750;
const ACK_BY_MS = 1_250;

/** Under a meme answered privately because its member may not post pictures in the channel. */
export const ONLY_YOU_NOTE = "(Only you can see this: you may not post pictures in this channel.)";

/** A reply to another message (a forward is the other kind of reference: its picture is in its snapshots). */
const isReply = (m: Message) => !!m.reference?.messageId && m.reference.type === MessageReferenceType.Default;

/** Discord's limit for bots without boosts; interactions carry the real one. */
const DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024;

interface ImageCandidate {
  url: string;
  size?: number;
  contentType?: string | null;
  name?: string;
}

/** Pictures, and videos (GIF-picker GIFs are MP4 or WebM, phone clips QuickTime): the bytes are sniffed later. */
const isReactionType = (t: string) => /^(image|video)\//i.test(t.trim());

/**
 * What a message offers as a reaction: its candidates in order, and whether it carries a Lottie sticker
 * (an animation described as JSON, which Mimic cannot read).
 */
interface MessagePictures {
  candidates: ImageCandidate[];
  lottie: boolean;
}

/** The picture a message offers, or, where its only one is a Lottie sticker, that. */
type Found = { image: ImageInput } | { lottie: true } | undefined;
/** Why no picture was found in the channel: none there, Mimic may not read the channel's messages, or the asker may not. */
const UNREADABLE = { unreadable: true } as const;
const NOT_YOURS_TO_READ = { unreadable: true, byMember: true } as const;

/**
 * The first candidate the core reads (by its declared type, or by its name where the type says nothing: the
 * core's rule): a message with an SVG or HEIC before a JPEG uses the JPEG. Else the first other picture or video,
 * then the first untyped file, passed on as /meme passes its attachment: the core sniffs the bytes and tells
 * the user which formats work.
 */
function firstImage({ candidates, lottie }: MessagePictures): Found {
  const c =
    candidates.find((a) => readableFile({ mime: a.contentType, name: a.name ?? a.url })) ??
    candidates.find((a) => !!a.contentType && isReactionType(a.contentType)) ??
    candidates.find((a) => untypedMime(a.contentType));
  if (c) return { image: imageOf(c) };
  return lottie ? { lottie: true } : undefined;
}

/**
 * The pictures worth trying in turn, numbered by their place in the message: those the core reads (firstImage's
 * first choice), in order. Where there is none, firstImage's fallback alone, so the core says what is wrong with it.
 */
function imagesToTry(pictures: MessagePictures): NumberedPicture[] | Found {
  const readable = pictures.candidates.flatMap((c, i) => (readableFile({ mime: c.contentType, name: c.name ?? c.url }) ? [{ image: imageOf(c), number: i + 1 }] : []));
  return readable.length > 0 ? readable : firstImage(pictures);
}

const imageOf = (c: ImageCandidate): ImageInput => ({ kind: "url", url: c.url, declaredSize: c.size, declaredMime: c.contentType ?? undefined, name: c.name });

/**
 * Embed pictures only through Discord's media proxy (proxy_url): the embed's own url is any third-party
 * address a user or a site put there, and fetching it would let anyone aim Mimic at internal hosts (SSRF).
 * Embeds without a proxied copy are skipped. Attachments keep their Discord CDN url.
 */
function embedImages(...proxyUrls: (string | undefined | null)[]): ImageCandidate[] {
  return proxyUrls.filter((u): u is string => !!u).map((url) => ({ url }));
}

/** A sticker's picture on Discord's CDN (stickers/{id}.png or .gif): PNG and APNG as PNG, GIF as GIF; Lottie has none. */
function stickerImage(id: string, name: string, format: StickerFormatType, cdnUrl: (id: string, ext: "png" | "gif") => string): ImageCandidate | "lottie" {
  if (format === StickerFormatType.Lottie) return "lottie";
  const gif = format === StickerFormatType.GIF;
  return { url: cdnUrl(id, gif ? "gif" : "png"), contentType: gif ? "image/gif" : "image/png", name: `${name}.${gif ? "gif" : "png"}` };
}

function withStickers(candidates: ImageCandidate[], stickers: (ImageCandidate | "lottie")[]): MessagePictures {
  return { candidates: [...candidates, ...stickers.filter((s): s is ImageCandidate => s !== "lottie")], lottie: stickers.includes("lottie") };
}

/**
 * A message's own attachments, embeds and stickers, then those of the message it forwards (Discord's "Forward":
 * the forwarded picture is in message_snapshots, the forward itself carries none).
 */
function picturesOfMessage(m: Message): MessagePictures {
  const one = (x: Message | MessageSnapshot): MessagePictures =>
    withStickers(
      [
        ...x.attachments.map((a) => ({ url: a.url, size: a.size, contentType: a.contentType, name: a.name })),
        // A GIF-picker GIF (gifv) is its video; its thumbnail is a still of it.
        ...x.embeds.flatMap((e) => embedImages(e.image?.proxyURL, e.video?.proxyURL, e.thumbnail?.proxyURL)),
      ],
      // Sticker.url is Discord's CDN address for its format.
      [...x.stickers.values()].map((st) => stickerImage(st.id, st.name, st.format, () => st.url)),
    );
  return merge([one(m), ...[...(m.messageSnapshots?.values() ?? [])].map(one)]);
}

function picturesOfApiMessage(m: APIMessage, cdnUrl: (id: string, ext: "png" | "gif") => string): MessagePictures {
  type Fields = Pick<APIMessage, "attachments" | "embeds" | "sticker_items">;
  const one = (x: Fields): MessagePictures =>
    withStickers(
      [
        ...(x.attachments ?? []).map((a) => ({ url: a.url, size: a.size, contentType: a.content_type, name: a.filename })),
        ...(x.embeds ?? []).flatMap((e: APIEmbed) => embedImages(e.image?.proxy_url, e.video?.proxy_url, e.thumbnail?.proxy_url)),
      ],
      (x.sticker_items ?? []).map((st) => stickerImage(st.id, st.name, st.format_type, cdnUrl)),
    );
  return merge([one(m), ...(m.message_snapshots ?? []).map((snap) => one(snap.message))]);
}

function merge(parts: MessagePictures[]): MessagePictures {
  return { candidates: parts.flatMap((p) => p.candidates), lottie: parts.some((p) => p.lottie) };
}

/** Discord refuses message content over 2,000 characters. */
export const DISCORD_CONTENT_MAX = 2000;

/**
 * A safety net under the core's own caps: an over-long text is cut to fit (with "…") rather than refused
 * by Discord. Cut by UTF-16 units, never inside a surrogate pair, so it fits however Discord counts.
 */
export function fitContent(text: string): string {
  if (text.length <= DISCORD_CONTENT_MAX) return text;
  let cut = text.slice(0, DISCORD_CONTENT_MAX - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Discord refused the finished picture for its size (413, 40005). */
export const UPLOAD_FAILED_REPLY =
  "Your meme was made, but it is too large for Discord to take here. Try again with a smaller or shorter reaction image.";
export const NO_PICTURE_RIGHTS_REPLY =
  "Your meme was made, but I may not post it in this channel: Mimic needs the Attach Files and Send Messages permissions here. A server admin can grant them.";
export const INTERACTION_EXPIRED_REPLY =
  "Your meme was made, but the command expired on Discord before I could post it (Discord allows 15 minutes). Please try the command again.";
export const DISCORD_PROBLEM_REPLY =
  "Your meme was made, but Discord had a problem taking it (an error or no answer in time on its side). Please try again in a moment.";
export const UPLOAD_REFUSED_REPLY = "Your meme was made, but Discord refused to take it. Please try again in a moment.";
/** Discord answered an upload too late and then could not say whether it kept it. */
export const UPLOAD_UNCERTAIN_REPLY =
  "Your meme was made, but Discord was very slow to take it and I could not check that it arrived. If it does not show up, please try again.";

/** Discord's JSON error codes for a refused upload. */
const DISCORD_CODE = { missingAccess: 50001, missingPermissions: 50013, tooLarge: 40005, unknownWebhook: 10015, invalidWebhookToken: 50027 } as const;

/** Discord did not answer (a timeout, a dropped connection) or failed on its side (5xx): it may have kept the upload. */
function isDiscordTrouble(err: unknown): boolean {
  // Anything but Discord's own 4xx answer: an UploadTimeoutError, an HTTPError (5xx without JSON), a network error.
  return !(err instanceof DiscordAPIError) || err.status >= 500;
}

/** An interaction's token lasts 15 minutes: after that, its webhook is unknown or its token invalid. */
function isExpiredCommand(err: unknown): boolean {
  if (!(err instanceof DiscordAPIError)) return false;
  return err.status === 401 || err.code === DISCORD_CODE.invalidWebhookToken || err.code === DISCORD_CODE.unknownWebhook;
}

/** The user's words for an upload Discord did not take: its size, the bot's permissions, an expired command, or Discord's trouble. */
function uploadFailedReply(err: unknown): string {
  if (err instanceof DiscordAPIError) {
    const { status, code } = err;
    if (status === 413 || code === DISCORD_CODE.tooLarge) return UPLOAD_FAILED_REPLY;
    if (isExpiredCommand(err)) return INTERACTION_EXPIRED_REPLY;
    if (status === 403 || code === DISCORD_CODE.missingPermissions || code === DISCORD_CODE.missingAccess) return NO_PICTURE_RIGHTS_REPLY;
    if (status >= 500) return DISCORD_PROBLEM_REPLY;
    return UPLOAD_REFUSED_REPLY;
  }
  return DISCORD_PROBLEM_REPLY;
}

/** A Lottie sticker is an animation described as JSON: no picture to read. */
export const LOTTIE_STICKER_REPLY =
  "That sticker is a Lottie animation, a format I cannot read. Use a PNG or GIF sticker, a picture or a GIF instead.";

/** "Mimic this" on a message without a picture that replies to one: the reply's picture is meant. */
export const FROM_REPLIED_NOTE = "(That message has no picture of its own, so I used the one in the message it replies to.)";
const NO_PICTURE_IN_MESSAGE = "That message has no picture I can use. Pick a message with an image, GIF or sticker.";
const NO_PICTURE_IN_REPLY = "That message has no picture I can use, and neither has the message it replies to. Pick a message with an image, GIF or sticker.";
export const REPLIED_TO_DELETED = "That message has no picture I can use, and the message it replies to was deleted. Pick a message with an image, GIF or sticker.";
export const REPLIED_TO_UNREADABLE =
  "That message has no picture I can use, and I may not read the message it replies to (Mimic needs the View Channel and Read Message History permissions there). Pick the picture's own message instead.";

const NO_IMAGE: Reply = {
  text: "I need a reaction image: attach one to the command, or right-click (long-press) a message with a picture → Apps → “Mimic this”.",
  ephemeral: true,
  errorCode: "BAD_INPUT",
};
/** /meme without a picture where Mimic may not read the channel's messages: "no picture" would be a wrong answer. */
export const HISTORY_UNREADABLE_REPLY =
  "I can't read this channel's recent messages (Mimic needs the View Channel and Read Message History permissions here), so I can't find the picture you mean. Attach it to the command, or right-click (long-press) its message → Apps → “Mimic this”.";

/** /meme without a picture from a member who may not read the channel's history (Read Message History). */
export const HISTORY_NOT_YOURS_REPLY =
  "You can't read this channel's earlier messages, so I won't take a picture from them for you. Attach the picture to the command, or right-click (long-press) its message → Apps → “Mimic this”.";

/**
 * /mimic forget's buttons: "forget:<user id>:yes|no". The user id is the asker's: anyone else's press is refused.
 * They carry all a press needs, so one pressed after Mimic restarted works as well (within BUTTON_MAX_AGE_MS of the
 * question, as every deleting question's buttons).
 */
const forgetButtonId = (userId: string, answer: "yes" | "no") => `forget:${userId}:${answer}`;
const parseForgetButton = (id: string) => {
  const m = id.match(/^forget:(\d+):(yes|no)$/);
  return m ? { userId: m[1]!, yes: m[2] === "yes" } : undefined;
};
const forgetButtons = (userId: string) =>
  new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(forgetButtonId(userId, "yes")).setLabel(FORGET_BUTTONS.yes).setStyle(ButtonStyle.Danger),
    new ButtonBuilder().setCustomId(forgetButtonId(userId, "no")).setLabel(FORGET_BUTTONS.cancel).setStyle(ButtonStyle.Secondary),
  );
export const FORGET_NOT_YOURS = "These buttons are for the person who ran /mimic forget. To delete your own data, run /mimic forget yourself.";

export const BUTTON_EXPIRED = "This button has expired: run the command again.";

/**
 * /face delete's buttons: "delface:<user id>:yes|no:<face name>". The name is a stored one (1–32 of [a-z0-9_-]), so
 * with a user id (at most 20 digits) the id stays within Discord's 100 characters. Like forget's, they carry all a
 * press needs.
 */
const deleteFaceButtonId = (userId: string, answer: "yes" | "no", name: string) => `delface:${userId}:${answer}:${name}`;
const parseDeleteFaceButton = (id: string) => {
  const m = id.match(/^delface:(\d+):(yes|no):([a-z0-9_-]{1,32})$/);
  return m ? { userId: m[1]!, yes: m[2] === "yes", name: m[3]! } : undefined;
};
const deleteFaceButtons = (userId: string, name: string) =>
  new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(deleteFaceButtonId(userId, "yes", name)).setLabel("Delete").setStyle(ButtonStyle.Danger),
    new ButtonBuilder().setCustomId(deleteFaceButtonId(userId, "no", name)).setLabel(FORGET_BUTTONS.cancel).setStyle(ButtonStyle.Secondary),
  );
export const DELETE_FACE_NOT_YOURS = "These buttons are for the person who ran /face delete. To delete one of your own faces, run /face delete yourself.";

/** A press of a deleting question's button: whose question, Yes or Cancel, and what it deletes. */
type Press = { userId: string; yes: boolean } & ({ kind: "forget" } | { kind: "face"; name: string });
const parsePress = (id: string): Press | undefined => {
  const forget = parseForgetButton(id);
  if (forget) return { ...forget, kind: "forget" };
  const face = parseDeleteFaceButton(id);
  return face && { ...face, kind: "face" };
};

/** The stored form of a face name as typed (as the core reads it), or undefined where the core refuses it. */
const faceNameOf = (typed: string): string | undefined => {
  try {
    return checkTemplateName(typed, { fresh: false });
  } catch {
    return undefined;
  }
};

/** `promise`'s value, or undefined once `ms` passed first (the promise goes on, its answer unused). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Mentions looked up per caption: more are read "@user" (each lookup may ask Discord, and the meme waits). */
const MAX_MEMBER_LOOKUPS = 10;
/** How long a mentioned member's lookup may take before the caption reads "@user". */
const MEMBER_LOOKUP_MS = 3_000;

export const DISCORD_TOKEN_REFUSED =
  "DISCORD_TOKEN was refused by Discord (invalid token): copy the bot token again from the Discord Developer Portal (your application → Bot → Reset Token).";

/**
 * Discord answered the start-up request with a refusal that asking again will not change: a configuration
 * mistake named for the owner (CONFIG: the CLI prints the line and exits 2, no stack trace). Undefined otherwise.
 */
function refusedAtStart(err: unknown, customRoot: string | undefined): MimicError | undefined {
  if (err instanceof DiscordjsError && err.code === DiscordjsErrorCodes.TokenInvalid) return new MimicError("CONFIG", DISCORD_TOKEN_REFUSED, { cause: err });
  if (!(err instanceof DiscordAPIError) || err.status === 429 || err.status >= 500) return undefined;
  if (err.status === 401) return new MimicError("CONFIG", DISCORD_TOKEN_REFUSED, { cause: err });
  const root = customRoot ? ` and DISCORD_API_ROOT (${redactUrl(customRoot)})` : "";
  return new MimicError("CONFIG", `Discord refused to start the bot (GET /gateway/bot: ${err.status} ${err.message}): check DISCORD_TOKEN${root}.`, { cause: err });
}

/** Whether a start-up request failed for want of an answer (network, timeout, Discord's 5xx or rate limit): worth retrying. */
function unreachable(err: unknown): boolean {
  if (err instanceof DiscordAPIError) return err.status === 429 || err.status >= 500;
  if (err instanceof HTTPError || err instanceof RateLimitError) return true;
  for (let e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (e.name === "AbortError" || e.name === "TimeoutError") return true;
    // ECONNREFUSED, ENOTFOUND, EAI_AGAIN, ECONNRESET, ETIMEDOUT…; undici's UND_ERR_* (socket, headers timeout).
    if (typeof e.code === "string" && /^(E[A-Z]+|UND_ERR_\w+)$/.test(e.code)) return true;
    if (e.name === "TypeError" && e.message === "fetch failed") return true;
  }
  return false;
}

function unreachableReason(err: unknown): string {
  if (err instanceof DiscordAPIError || err instanceof HTTPError) return `${err.status} ${err.message}`;
  const e = err as { name?: string; message?: string; cause?: { message?: string } };
  if (e.name === "AbortError" || e.name === "TimeoutError") return "no answer in time";
  return String(e.cause?.message ?? e.message ?? err);
}

export function createDiscordBot(opts: DiscordBotOptions): DiscordBot {
  const { core } = opts;
  // Partial channels: an interaction's own channel (a thread the gateway never announced included) is known from
  // the interaction, so a thread's channel can be told (contextOf).
  const client = new Client({ intents: [GatewayIntentBits.Guilds], partials: [Partials.Channel], rest: restOptions(opts.apiRoot, opts.restTimeouts) });
  const stickerUrl = (id: string, ext: "png" | "gif") => client.rest.cdn.sticker(id, ext);

  /**
   * The channel a command counts as coming from: a thread's (or forum post's) own channel, so allowing a channel
   * allows its threads, as Discord shows them (under it). Elsewhere the interaction's channel.
   */
  const channelOf = (i: RepliableInteraction | AutocompleteInteraction): string | null => {
    const channel = i.channel;
    return channel?.isThread() && channel.parentId ? channel.parentId : i.channelId;
  };

  /** What an admin's setting may name here: the server's channels (threads with the channel they are in), and Mimic itself. */
  const placeFacts = (i: RepliableInteraction): PlaceFacts => {
    const guild = i.guildId ? client.guilds.cache.get(i.guildId) : undefined;
    return {
      ...(client.user && { botUserId: client.user.id }),
      // Unknown (a server the bot is not in): nothing is checked against it.
      ...(guild && {
        channels: guild.channels.cache
          .filter((c) => c.type !== ChannelType.GuildCategory)
          .map((c) => (c.isThread() && c.parentId ? { id: c.id, threadOf: c.parentId } : { id: c.id })),
        // One member looked up by REST (no privileged intent needed); one who left, or a failed lookup, is no admin.
        isAdmin: async (userId: string) => {
          const member = await guild.members.fetch({ user: userId, force: true }).catch((err: unknown) => {
            if (!(err instanceof DiscordAPIError && err.code === RESTJSONErrorCodes.UnknownMember)) logger.warn({ err }, "looking up a server member failed");
            return undefined;
          });
          return member?.permissions.has(PermissionFlagsBits.ManageGuild) ?? false;
        },
      }),
    };
  };

  const contextOf = (i: RepliableInteraction | AutocompleteInteraction): CommandContext => ({
    platform: "discord",
    userId: i.user.id,
    serverId: i.guildId,
    channelId: channelOf(i),
    isAdmin: i.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false,
    requestId: `dc-${i.id}-${randomUUID().slice(0, 8)}`,
    attachmentLimitBytes: i.attachmentSizeLimit || DEFAULT_ATTACHMENT_LIMIT,
    // GIFs autoplay inline; an MP4 (also shown inline) only where the GIF had to lose quality to fit.
    animationFormat: "gif-or-mp4",
  });

  /**
   * The newest picture among the channel's last messages: "/meme" right after someone posted a reaction; UNREADABLE
   * where the app may not read them (Discord answers an empty list without Read Message History, 403 without View Channel).
   */
  async function latestChannelImage(i: RepliableInteraction): Promise<Found | typeof UNREADABLE | typeof NOT_YOURS_TO_READ> {
    const channelId = i.channelId;
    if (!channelId) return undefined;
    // In a DM Discord lists neither permission, yet the DM's messages can be read: only a server's channel is checked.
    const history = [PermissionFlagsBits.ViewChannel, PermissionFlagsBits.ReadMessageHistory];
    if (i.inGuild() && !i.appPermissions.has(history)) return UNREADABLE;
    // Nor is a picture posted where the asker may not look back: Mimic would post, for all to see, what they could not read.
    if (i.inGuild() && !i.memberPermissions.has(history)) return NOT_YOURS_TO_READ;
    try {
      const messages = (await client.rest.get(Routes.channelMessages(channelId), {
        query: new URLSearchParams({ limit: "20" }),
      })) as APIMessage[];
      const appId = client.application?.id ?? client.user?.id;
      for (const m of messages) {
        // Mimic's own results are not the picture the user means: skip its messages and interaction responses.
        const isResponse = !!(m.interaction_metadata ?? m.interaction) && (m.application_id ?? m.webhook_id) === appId;
        if (m.author.id === client.user?.id || isResponse) continue;
        // A forward's picture, a sticker; a Lottie sticker stops the search too: it is what the user means.
        const found = firstImage(picturesOfApiMessage(m, stickerUrl));
        if (found) return found;
      }
    } catch (err) {
      logger.debug({ err, channelId }, "could not read recent channel messages");
      if (err instanceof DiscordAPIError && err.status === 403) return UNREADABLE;
    }
    return undefined;
  }

  /**
   * Removes a public deferral ("Mimic is thinking…") whose answer goes out privately. Tried twice: one left
   * behind stays in the channel for good, empty.
   */
  async function takeDownPublicReply(i: RepliableInteraction): Promise<void> {
    const err = await i.deleteReply().then(
      () => undefined,
      () => i.deleteReply().then(() => undefined, (e: unknown) => e),
    );
    if (err) logger.warn({ err, interaction: i.id, guildId: i.guildId, channelId: i.channelId }, "could not remove the public \"thinking…\" message of an answer sent privately");
  }

  /** A command's answer after its token's 15 minutes: told in a direct message, where the user accepts them. */
  async function tellByDirectMessage(i: RepliableInteraction, content: string): Promise<void> {
    await i.user.send({ content }).catch((e: unknown) => logger.warn({ err: e, interaction: i.id }, "could not tell the user in a direct message that their command expired"));
  }

  /** Sends a core Reply as the response to a deferred interaction; failures become ephemeral follow-ups. */
  async function deliver(i: RepliableInteraction, reply: Reply, deferredEphemeral: boolean): Promise<void> {
    const files = reply.file ? [{ attachment: Buffer.from(reply.file.bytes), name: reply.file.name }] : [];
    const content = fitContent(reply.text);
    try {
      if (reply.ephemeral && !deferredEphemeral) {
        // The deferral was public ("Mimic is thinking…"): remove it and answer privately.
        await takeDownPublicReply(i);
        await i.followUp({ content, files, flags: MessageFlags.Ephemeral });
        return;
      }
      await i.editReply({ content, files });
    } catch (err) {
      if (!reply.file) {
        if (!isExpiredCommand(err)) throw err;
        logger.warn({ interaction: i.id }, "the command expired before its answer: telling the user in a direct message");
        return tellByDirectMessage(i, content);
      }
      const f = reply.file;
      const logged = {
        err,
        code: err instanceof DiscordAPIError ? err.code : undefined,
        guildId: i.guildId,
        channelId: i.channelId,
        mime: f.mime,
        bytes: f.bytes.byteLength,
        width: f.width,
        height: f.height,
        interaction: i.id,
      };
      const edited = !(reply.ephemeral && !deferredEphemeral);
      if (edited && isDiscordTrouble(err)) {
        // A late answer (or Discord's own error) need not mean the picture was lost: look at the reply first,
        // and never delete a meme Discord kept.
        const kept = await i.fetchReply().then(
          (m) => m.attachments.some((a) => a.name === f.name),
          () => undefined,
        );
        if (kept) return void logger.warn(logged, "discord answered the upload late, but kept it");
        if (kept === undefined) {
          // Unknown: leave the reply, the use and the audit as they are (the picture may be public).
          logger.error(logged, "discord upload: no answer, and its reply could not be read");
          await i.followUp({ content: UPLOAD_UNCERTAIN_REPLY, flags: MessageFlags.Ephemeral });
          return;
        }
      }
      // The picture exists but Discord did not take it: drop the public "Working on it…" and say why, privately.
      logger.error(logged, "discord upload failed");
      await reply.undelivered?.();
      if (!deferredEphemeral) await takeDownPublicReply(i);
      const why = uploadFailedReply(err);
      // The command's own token is what expired: a follow-up on it cannot arrive. A direct message can.
      if (why === INTERACTION_EXPIRED_REPLY) return tellByDirectMessage(i, why);
      await i.followUp({ content: why, flags: MessageFlags.Ephemeral });
    }
  }

  /**
   * A member who may not post pictures in this channel (a read-only channel, where Discord still lets them use
   * commands): Mimic must not post for them what they could not post themselves.
   */
  const mayNotPostHere = (i: RepliableInteraction): boolean => {
    if (!i.inGuild()) return false;
    const send = i.channel?.isThread() ? PermissionFlagsBits.SendMessagesInThreads : PermissionFlagsBits.SendMessages;
    return !i.memberPermissions.has([send, PermissionFlagsBits.AttachFiles]);
  };

  /**
   * Commands that render: acknowledged publicly once the core fetches the picture (it is then past moderation's
   * immediate refusals), privately where it refused first (see ACK_WAIT_MS) or for a member who may not post here;
   * progress edits, then the picture. `fetched` wraps a picture so that the core's fetch of it acknowledges.
   */
  async function runRender(
    i: RepliableInteraction,
    name: string,
    work: (ctx: CommandContext, fetched: (image: ImageInput) => ImageInput) => Promise<Reply>,
  ) {
    const started = performance.now();
    // A queue that long would otherwise make the meme for a command that can no longer be answered.
    const deadline = new AbortController();
    let ack: Promise<void> | undefined;
    let ackedPrivately = false;
    const acknowledge = (privately: boolean): Promise<void> => {
      if (ack) return ack;
      ackedPrivately = privately;
      ack = i.deferReply(privately ? { flags: MessageFlags.Ephemeral } : {}).then(
        () => opts.onAcknowledged?.({ command: name, latencyMs: performance.now() - started }),
        (err: unknown) => {
          // Nothing could be answered: the work stops, its use given back.
          deadline.abort(err);
          throw err;
        },
      );
      // Awaited below; meanwhile its failure is no unhandled rejection.
      ack.catch(() => undefined);
      return ack;
    };
    if (mayNotPostHere(i)) await acknowledge(true);
    // A public "thinking…" waits for the core to fetch the picture (for ACK_WAIT_MS at most): a request refused
    // before that (banned, switched off, another channel, a cooldown, the quota, no face) is answered privately.
    const ackWaitMs = opts.ackWaitMs ?? ACK_WAIT_MS;
    const ackBy = i.createdTimestamp + ackWaitMs + (ACK_BY_MS - ACK_WAIT_MS);
    const ackTimer = setTimeout(() => void acknowledge(false), Math.max(0, Math.min(ackWaitMs, ackBy - Date.now())));
    ackTimer.unref();
    const fetched = (image: ImageInput): ImageInput => {
      if (image.kind !== "url") return image;
      const { url } = image;
      return {
        ...image,
        url: () => {
          void acknowledge(false);
          return typeof url === "string" ? Promise.resolve(url) : url();
        },
      };
    };
    const progress = progressReporter(async (text) => {
      await acknowledge(false);
      return i.editReply({ content: text });
    });
    const timer = setTimeout(
      () => deadline.abort(new MimicError("TIMEOUT", RENDER_DEADLINE_REPLY, { details: { reason: "command-deadline" } })),
      Math.max(0, i.createdTimestamp + RENDER_DEADLINE_MS - Date.now()),
    );
    timer.unref();
    const ctx = {
      ...contextOf(i),
      signal: deadline.signal,
      progress: progress.onProgress,
      pendingReply: JSON.stringify({ appId: i.applicationId, token: i.token, at: i.createdTimestamp }),
    };
    let reply: Reply;
    try {
      reply = await work(ctx, fetched);
    } catch (err) {
      // The caller answers the failure: not while an acknowledgement is still on its way.
      await ack?.catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
      clearTimeout(ackTimer);
    }
    await progress.close();
    // Not acknowledged yet: nothing was fetched, so no picture either; a refusal stays private from the start.
    await acknowledge(reply.ephemeral && !reply.file);
    if (ackedPrivately && reply.file) reply = { ...reply, text: `${reply.text}\n${ONLY_YOU_NOTE}`.trim() };
    await deliver(i, reply, ackedPrivately);
  }

  /** Private commands (faces, usage, settings): ephemeral from the start. */
  async function runPrivate(i: RepliableInteraction, name: string, work: (ctx: CommandContext) => Promise<Reply>) {
    const started = performance.now();
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    opts.onAcknowledged?.({ command: name, latencyMs: performance.now() - started });
    await deliver(i, await work(contextOf(i)), true);
  }

  async function onChatInput(i: ChatInputCommandInteraction) {
    const o = i.options;
    switch (i.commandName) {
      case COMMAND.meme:
      case COMMAND.morph:
        return runRender(i, i.commandName, async (ctx, fetched) => {
          const att = o.getAttachment("image");
          const found: Found | typeof UNREADABLE | typeof NOT_YOURS_TO_READ = att
            ? { image: { kind: "url", url: att.url, declaredSize: att.size, declaredMime: att.contentType ?? undefined, name: att.name } }
            : await latestChannelImage(i);
          if (!found) return NO_IMAGE;
          if ("unreadable" in found) return { ...NO_IMAGE, text: "byMember" in found ? HISTORY_NOT_YOURS_REPLY : HISTORY_UNREADABLE_REPLY };
          if (!("image" in found)) return { ...NO_IMAGE, text: LOTTIE_STICKER_REPLY };
          const image = fetched(found.image);
          const { top, bottom } = await readableCaptions(i, o.getString("top") ?? undefined, o.getString("bottom") ?? undefined);
          const letters = o.getString("case");
          const common = {
            image,
            top,
            bottom,
            template: o.getString("template") ?? undefined,
            intensity: o.getInteger("intensity") ?? undefined,
            keepCase: letters === null ? undefined : letters === CAPTION_CASE.asTyped,
          };
          return i.commandName === COMMAND.morph
            ? core.morph(ctx, common)
            : core.meme(ctx, {
                ...common,
                mode: (o.getString("mode") as TransferMode | null) ?? undefined,
                animated: o.getBoolean("animated") ?? undefined,
              });
        });
      case COMMAND.face: {
        const sub = o.getSubcommand();
        // A deleted face cannot be brought back (one wrong autocomplete pick): asked first, with buttons.
        if (sub === "delete") return askDeleteFace(i);
        return runPrivate(i, `face ${sub}`, (ctx) => {
          switch (sub) {
            case "save": {
              const att = o.getAttachment("photo", true);
              return core.faceSave(ctx, {
                name: o.getString("name", true),
                image: { kind: "url", url: att.url, declaredSize: att.size, declaredMime: att.contentType ?? undefined, name: att.name },
              });
            }
            case "list":
              return core.faceList(ctx);
            case "default":
              return core.faceDefault(ctx, { name: o.getString("name", true) });
            default:
              return core.faceRename(ctx, { from: o.getString("name", true), to: o.getString("new_name", true) });
          }
        });
      }
      case COMMAND.mimic: {
        const sub = o.getSubcommand();
        if (sub === "help") {
          const started = performance.now();
          await i.reply({ content: HELP, flags: MessageFlags.Ephemeral });
          opts.onAcknowledged?.({ command: "mimic help", latencyMs: performance.now() - started });
          return;
        }
        // The core's question (what goes, what stays), answered by the asker's press of a button. A "confirm" option an
        // old registration still sends is not read: nothing is deleted before the user saw the question.
        if (sub === "forget") return askForget(i);
        return runPrivate(i, `mimic ${sub}`, (ctx) => {
          switch (sub) {
            case "usage":
              return core.usage(ctx);
            case "config": {
              const key = (o.getString("setting") as SettingKey | null) ?? undefined;
              let value = o.getString("value") ?? undefined;
              // "channel add" (or remove) alone names the channel it is used in, as Telegram's names its topic; a
              // thread or forum post goes by its channel (channelOf). The operation in any case, as the core reads it.
              const op = value?.trim();
              if (key === "channel" && i.inGuild() && ctx.channelId && op && /^(add|remove)$/i.test(op)) value = `${op} ${ctx.channelId}`;
              return core.config(ctx, { key, value, facts: placeFacts(i) });
            }
            case "audit": {
              const att = o.getAttachment("picture");
              return core.audit(ctx, {
                hash: o.getString("hash") ?? undefined,
                image: att ? { kind: "url", url: att.url, declaredSize: att.size, declaredMime: att.contentType ?? undefined, name: att.name } : undefined,
              });
            }
            default:
              throw new Error(`unknown /mimic subcommand ${sub}`);
          }
        });
      }
    }
  }

  /** /mimic forget: the question, privately, with "Yes, delete everything" and "Cancel" for this user. */
  async function askForget(i: ChatInputCommandInteraction) {
    const started = performance.now();
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    opts.onAcknowledged?.({ command: "mimic forget", latencyMs: performance.now() - started });
    const question = await core.forgetMe(contextOf(i), { confirm: false });
    await i.editReply({ content: fitContent(question.text), components: question.errorCode ? [] : [forgetButtons(i.user.id)] });
  }

  /**
   * /face delete: privately, the core's question with Delete / Cancel for this user, about a face they have. Any other
   * name gets the core's own answer at once (not a face name, or which faces they have); nothing of theirs is
   * deleted by it.
   */
  async function askDeleteFace(i: ChatInputCommandInteraction) {
    const started = performance.now();
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    opts.onAcknowledged?.({ command: "face delete", latencyMs: performance.now() - started });
    const ctx = contextOf(i);
    const typed = i.options.getString("name", true);
    const name = faceNameOf(typed);
    const list = name === undefined ? undefined : await core.faceList(ctx);
    if (list?.errorCode) return deliver(i, list, true);
    if (name === undefined || !list?.templates?.some((t) => t.name === name)) return deliver(i, await core.faceRemove(ctx, { name: typed }), true);
    await i.editReply({ content: fitContent(deleteFaceQuestion(name)), components: [deleteFaceButtons(i.user.id, name)] });
  }

  /**
   * A press of a deleting question's buttons (/mimic forget's, /face delete's): the asker's alone, and only within
   * BUTTON_MAX_AGE_MS of the question (an older press would act on the faces the user has now). The question
   * becomes the answer, its buttons gone.
   */
  async function onButton(i: ButtonInteraction) {
    const press = parsePress(i.customId);
    if (!press) return void (await i.reply({ content: BUTTON_EXPIRED, flags: MessageFlags.Ephemeral }));
    if (press.userId !== i.user.id) {
      return void (await i.reply({ content: press.kind === "forget" ? FORGET_NOT_YOURS : DELETE_FACE_NOT_YOURS, flags: MessageFlags.Ephemeral }));
    }
    // Cancel deletes nothing: it works however old, as Telegram's does.
    if (press.yes && buttonTooOld(i.message.createdTimestamp)) return void (await i.reply({ content: BUTTON_TOO_OLD, flags: MessageFlags.Ephemeral }));
    const started = performance.now();
    await i.deferUpdate();
    opts.onAcknowledged?.({ command: `${press.kind === "forget" ? "forget" : "face delete"} ${press.yes ? "yes" : "no"}`, latencyMs: performance.now() - started });
    if (!press.yes) return void (await i.editReply({ content: NOTHING_DELETED, components: [] }));
    const ctx = contextOf(i);
    const reply = press.kind === "forget" ? await core.forgetMe(ctx, { confirm: true }) : await core.faceRemove(ctx, { name: press.name });
    // A failure (the database unreachable) leaves the question and its buttons, to press again; a face deleted
    // meanwhile (by another question's press) leaves nothing to press for.
    if (reply.errorCode && reply.errorCode !== "NOT_FOUND") return void (await i.followUp({ content: fitContent(reply.text), flags: MessageFlags.Ephemeral }));
    await i.editReply({ content: fitContent(reply.text), components: [] });
  }

  /**
   * /meme's and /morph's captions with Discord's markup written out as the user saw it (captions.ts). A name written
   * in is drawn as it is: a "~n" in it is no line break the user typed (readLineBreaks).
   */
  async function readableCaptions(i: ChatInputCommandInteraction, top: string | undefined, bottom: string | undefined) {
    const found = await mentionNames(i, mentionsIn(top, bottom));
    const asTyped = (m: ReadonlyMap<string, string>) => new Map([...m].map(([id, name]) => [id, escapeLineBreaks(name)]));
    const names = { users: asTyped(found.users), channels: asTyped(found.channels), roles: asTyped(found.roles) };
    return { top: top && plainCaption(top, names), bottom: bottom && plainCaption(bottom, names) };
  }

  /**
   * The names the mentioned ids have here: a member's display name in this server (from the cache, which holds the
   * asker, else asked of Discord), elsewhere (a DM, a server Mimic is not in) the user's; a channel's and a role's
   * from the server's cache (the Guilds intent keeps them). Missing where unknown.
   */
  async function mentionNames(i: ChatInputCommandInteraction, ids: MentionIds): Promise<MentionNames> {
    const guild = i.guildId ? client.guilds.cache.get(i.guildId) : undefined;
    const users = new Map<string, string>();
    await Promise.all(
      ids.users.slice(0, MAX_MEMBER_LOOKUPS).map(async (id) => {
        const lookup = guild
          ? guild.members.fetch({ user: id }).then((m) => m.displayName)
          : client.users.fetch(id).then((u) => u.displayName);
        const name = await within(lookup, MEMBER_LOOKUP_MS).catch((err: unknown) => {
          if (!(err instanceof DiscordAPIError && (err.code === RESTJSONErrorCodes.UnknownMember || err.code === RESTJSONErrorCodes.UnknownUser))) {
            logger.debug({ err }, "looking up a member mentioned in a caption failed");
          }
          return undefined;
        });
        if (name) users.set(id, name);
      }),
    );
    const channels = new Map<string, string>();
    for (const id of ids.channels) {
      // This server's channels only: another server's (the client caches every server's) may be private to it.
      const channel = guild?.channels.cache.get(id) ?? (i.channel?.id === id ? i.channel : undefined);
      if (channel && "name" in channel && channel.name) channels.set(id, channel.name);
    }
    const roles = new Map<string, string>();
    for (const id of ids.roles) {
      const role = guild?.roles.cache.get(id);
      if (role) roles.set(id, role.name);
    }
    return { users, channels, roles };
  }

  /**
   * The pictures of the message `m` replies to. Discord sends that message along with a reply (discord.js caches
   * it); where it did not, it is fetched. Undefined when `m` is no reply; why not, where that message cannot be read.
   */
  async function repliedToPictures(m: Message): Promise<MessagePictures | "deleted" | "unreadable" | undefined> {
    const ref = m.reference;
    if (!isReply(m) || !ref?.messageId) return undefined;
    const sent = m.channel?.messages.cache.get(ref.messageId);
    if (sent) return picturesOfMessage(sent);
    try {
      return picturesOfApiMessage((await client.rest.get(Routes.channelMessage(ref.channelId ?? m.channelId, ref.messageId))) as APIMessage, stickerUrl);
    } catch (err) {
      logger.debug({ err, messageId: ref.messageId }, "could not read the message a reply answers");
      if (err instanceof DiscordAPIError && err.code === RESTJSONErrorCodes.UnknownMessage) return "deleted";
      if (err instanceof DiscordAPIError && err.status === 403) return "unreadable";
      return undefined;
    }
  }

  async function onMessageContext(i: MessageContextMenuCommandInteraction) {
    return runRender(i, "mimic-this", async (ctx, fetched) => {
      let toTry = imagesToTry(picturesOfMessage(i.targetMessage));
      let viaReply = false;
      if (!toTry) {
        // A text reply to a picture ("this one 😂"): the picture is what the user means.
        const replied = await repliedToPictures(i.targetMessage);
        if (replied === "deleted") return { ...NO_IMAGE, text: REPLIED_TO_DELETED };
        if (replied === "unreadable") return { ...NO_IMAGE, text: REPLIED_TO_UNREADABLE };
        if (replied) {
          toTry = imagesToTry(replied);
          viaReply = true;
        }
        if (!toTry) return { ...NO_IMAGE, text: isReply(i.targetMessage) ? NO_PICTURE_IN_REPLY : NO_PICTURE_IN_MESSAGE };
      }
      if (!Array.isArray(toTry) && !("image" in toTry)) return { ...NO_IMAGE, text: LOTTIE_STICKER_REPLY };
      const pictures = (Array.isArray(toTry) ? toTry : [{ image: toTry.image, number: 1 }]).map((p) => ({ ...p, image: fetched(p.image) }));
      // A faceless try is followed by the next one or by the final answer: its "did not work" is not shown.
      const tries = pictures.length > 1 ? { ...ctx, progress: (e: ProgressEvent) => void (e.type !== "failed" && ctx.progress?.(e)) } : ctx;
      const reply = await memeFromFirstFace(pictures, (image, othersToTry) => core.meme(tries, { image, othersToTry }));
      return viaReply ? { ...reply, text: `${reply.text} ${FROM_REPLIED_NOTE}` } : reply;
    });
  }

  async function onAutocomplete(i: AutocompleteInteraction) {
    const focused = i.options.getFocused(true);
    const names = await core.templateNames({ platform: "discord", userId: i.user.id }, String(focused.value));
    await i.respond(names.map((n) => ({ name: n, value: n })));
  }

  async function onInteraction(i: Interaction) {
    try {
      if (i.isAutocomplete()) return await onAutocomplete(i);
      if (i.isChatInputCommand()) return await onChatInput(i);
      if (i.isMessageContextMenuCommand() && i.commandName === COMMAND.mimicThis) return await onMessageContext(i);
      if (i.isButton()) return await onButton(i);
    } catch (err) {
      // Only transport failures land here (the core never throws): log, and tell the user if we still can.
      logger.error({ err, interaction: i.id }, "discord interaction failed");
      if (i.isRepliable()) {
        const content = "Something went wrong on our side. Please try again in a moment.";
        await (i.deferred || i.replied
          ? i.followUp({ content, flags: MessageFlags.Ephemeral })
          : i.reply({ content, flags: MessageFlags.Ephemeral })
        ).catch(() => undefined);
      }
    }
  }

  /** After stopIntake(): a clear answer instead of Discord's "The application did not respond". */
  async function refuse(i: Interaction) {
    if (i.isAutocomplete()) return void (await i.respond([]));
    if (!i.isRepliable()) return;
    opts.onTurnedAway?.("shutting_down");
    await i.reply({ content: shuttingDown().userMessage, flags: MessageFlags.Ephemeral });
  }

  const inFlight = createInFlight((err) => logger.error({ err }, "discord interaction failed"));
  let accepting = true;
  client.on(Events.InteractionCreate, (i) => inFlight.track(accepting ? onInteraction(i) : refuse(i)));
  client.on(Events.Error, (err) => logger.error({ err }, "discord client error"));

  /** Aborted by stopIntake()/stop(): a start still waiting for Discord gives up. */
  const startAbort = new AbortController();
  const where = opts.apiRoot ? ` at DISCORD_API_ROOT=${redactUrl(opts.apiRoot)}` : " (check the network)";

  /** The gateway's address (what login asks first), asked until Discord answers (src/bots/reach.ts). */
  const reachDiscord = (token: string) => {
    client.rest.setToken(token);
    return untilReached({
      platform: "Discord",
      where,
      signal: startAbort.signal,
      attempt: (signal) => client.rest.get(Routes.gatewayBot(), { signal }),
      verdict: (err) => {
        const refused = refusedAtStart(err, opts.apiRoot);
        return refused ? { fail: refused } : unreachable(err) ? { retry: unreachableReason(err) } : { fail: err };
      },
    });
  };

  return {
    client,
    async start() {
      // As discord.js's login reads it.
      const token = opts.token.replace(/^(Bot|Bearer)\s*/i, "");
      await reachDiscord(token);
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      const since = Date.now();
      // The gateway (a WebSocket elsewhere) may still not answer; discord.js then keeps trying in silence.
      const slow = setInterval(
        () => logger.warn({ afterSeconds: Math.round((Date.now() - since) / 1000) }, `Discord's gateway has not finished connecting${where}: still waiting`),
        REACH_WARN_EVERY_MS,
      );
      try {
        await client.login(token).catch((err: unknown) => {
          throw refusedAtStart(err, opts.apiRoot) ?? err;
        });
        const stopped = new Promise<never>((_, reject) =>
          startAbort.signal.addEventListener("abort", () => reject(new Error("Mimic stopped before Discord's gateway was ready")), { once: true }),
        );
        // Aborting later (a normal stop) must not leave an unhandled rejection behind.
        stopped.catch(() => undefined);
        await Promise.race([ready, stopped]);
      } finally {
        clearInterval(slow);
      }
      logger.info({ user: client.user?.tag }, "discord bot ready");
    },
    stopIntake() {
      accepting = false;
      startAbort.abort();
    },
    settled: (graceMs) => inFlight.settled(graceMs),
    async answerLate(note, text, signal) {
      const { appId, token, at } = lostInteraction.parse(JSON.parse(note));
      if (Date.now() - at > INTERACTION_ANSWERABLE_MS) {
        logger.info({ commandAt: new Date(at).toISOString() }, "a lost request's user was not told: Discord allows answering an interaction only for 15 minutes");
        return;
      }
      try {
        // The interaction's own token authorises the edit; the bot token must not travel with it.
        await client.rest.patch(Routes.webhookMessage(appId, token), { body: { content: text }, auth: false, signal });
      } catch (e) {
        // Discord's errors carry the request's URL, and so the token: said without them.
        const status = (e as { status?: unknown }).status;
        throw new Error(`Discord refused to edit the lost interaction's answer${typeof status === "number" ? ` (HTTP ${status})` : ""}: ${(e as Error).name}`);
      }
    },
    async stop({ graceMs = 0 } = {}) {
      accepting = false;
      startAbort.abort();
      if (graceMs > 0) await inFlight.settled(graceMs);
      await client.destroy();
    },
  };
}
