import { randomUUID } from "node:crypto";
import { Api, Bot, GrammyError, HttpError, InlineKeyboard, InputFile, type Context } from "grammy";
import type { ChatMember, Message, UserFromGetMe } from "grammy/types";
import { z } from "zod";
import type { CommandContext, Core, ImageInput, LateAnswer, MemeInput, Reply, ReplyFile, SettingKey } from "../../core/index.ts";
import {
  BUTTON_TOO_OLD,
  buttonTooOld,
  deleteFaceQuestion,
  FACES_LISTED,
  FORGET_BUTTONS,
  LOTTIE_MIME,
  LOTTIE_REACTION_REFUSAL,
  NOTHING_DELETED,
  progressReporter,
  SETTING_KEYS,
} from "../../core/index.ts";
import { MimicError, quoted } from "../../errors.ts";
import { capitalised } from "../../places.ts";
import { logger } from "../../logger.ts";
import { redactUrl } from "../../redact-url.ts";
import { createInFlight } from "../in-flight.ts";
import { untilReached } from "../reach.ts";
import { MemeArgsError, readMemeArgs } from "./args.ts";

/**
 * Thin Telegram adapter (grammY). Commands work as a photo/GIF/video caption ("/meme top | bottom") or as a
 * reply to a photo, GIF, video, round video, sticker or image file; in a forum topic, answers stay in the topic. Rendering runs outside grammY's sequential update loop,
 * so one slow meme never delays other chats; a chat action ("sending photo…", "sending video…", "typing…") shows meanwhile.
 */

export interface TelegramBotOptions {
  core: Core;
  token: string;
  /** TELEGRAM_API_ROOT: a local Bot API server or a test fake (no trailing slash). */
  apiRoot?: string;
  /** Skip getMe at start (tests). */
  botInfo?: UserFromGetMe;
  /**
   * Polling died after start-up (grammY gives up on 401 bad token / 409 another poller): the bot is deaf
   * from then on, so the composition root must stop the process rather than run on silently.
   */
  onFatal?: (err: unknown) => void;
  /** How long a group hears no repeat of a user's refusal (default REFUSAL_QUIET_MS; tests shorten it). */
  refusalQuietMs?: number;
}

export interface TelegramBot {
  bot: Bot;
  start(): Promise<void>;
  /**
   * Stops taking work: polling stops (Telegram keeps the updates not yet taken for the next start) and the
   * updates already taken finish their handling; work they started (renders, saves) goes on, and so does
   * confirming the updates taken to Telegram (bounded by STOP_CONFIRM_MS; settled() waits for it). Resolves once
   * polling has ended. Idempotent.
   */
  stopIntake(): Promise<void>;
  /** True once the work in flight has sent its replies; false when `graceMs` ran out first (default: no limit). */
  settled(graceMs?: number): Promise<boolean>;
  /** stopIntake(), then waits for every reply in flight however long it takes (tests, tools). */
  stop(): Promise<void>;
  /** Answers a render another process took and lost (CommandContext.pendingReply): a reply to its command. */
  answerLate: LateAnswer;
}

/** A message as Reply.delivered and AuditInput.message name it: its chat and its id there. */
const messageRef = (chatId: number, messageId: number) => `${chatId}:${messageId}`;

/** What a render's pendingReply holds: the command's chat, topic and message, and its queue-position message once sent. */
const lostCommand = z.object({
  chatId: z.number().int(),
  threadId: z.number().int().optional(),
  messageId: z.number().int().optional(),
  statusId: z.number().int().optional(),
});

const DEFAULT_API_ROOT = "https://api.telegram.org";
/** Bots may download at most 20 MB through getFile (the Bot API server's MAX_DOWNLOAD_FILE_SIZE, 20 << 20 bytes) and upload 50 MB. */
export const TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024;
export const TELEGRAM_UPLOAD_LIMIT = 50 * 1000 * 1000;
/** One answer for a file over that limit, whether its message declared the size or getFile refused it. */
export const TOO_BIG_TO_DOWNLOAD_REPLY = `That file is too large: Telegram lets bots download at most ${TELEGRAM_DOWNLOAD_LIMIT / (1024 * 1024)} MB. Please send a smaller picture.`;
/** Chat actions show for 5 s; renew a little earlier. */
const CHAT_ACTION_EVERY_MS = 4500;

/**
 * Messages posted on behalf of a chat (anonymous group admins, "send as channel") carry `sender_chat` and a
 * shared placeholder `from` (GroupAnonymousBot / Channel_Bot): there is no person to own faces, so refuse.
 */
export const ANONYMOUS_SENDER_REPLY =
  "Please post as yourself (not anonymously or as a channel) to use Mimic: your saved faces belong to your own account.";
/** /usage from an anonymous admin: a person's counts are their account's, which a post as the group does not name. */
export const ANONYMOUS_USAGE_REPLY =
  "Usage is counted per person, and a message posted anonymously does not say whose it is. Send /usage as yourself (not anonymously) to see yours and the group's, with each person's counts sent to you privately.";

/**
 * Refusals that stand however often one asks (switched off, banned, a topic the admins left out, a command switched
 * off): in a group, where everyone reads them, each user hears one at most once in this time. Discord says them privately.
 */
export const REFUSAL_QUIET_MS = 10 * 60_000;
/** The core's codes for those refusals (a swap where swaps are switched off is a FORBIDDEN too). */
const STANDING_REFUSALS = new Set(["DISABLED", "FORBIDDEN"]);
/** Users remembered as told: the oldest go first beyond this, so a busy group cannot grow the memory. */
const REFUSALS_REMEMBERED = 1000;

/**
 * The admin right a change of settings takes in a group, as Telegram's admin settings name it: Discord asks for
 * Manage Server, and a Telegram admin may hold a title and no right at all.
 */
const SETTINGS_RIGHT = { flag: "can_change_info", name: "Change Group Info", what: "Changing Mimic's settings" } as const;
const BAN_RIGHT = { flag: "can_restrict_members", name: "Ban Users", what: "Banning or unbanning people from Mimic" } as const;
export const missingRightReply = (right: { name: string; what: string }) =>
  `${right.what} here takes the ${quoted(right.name)} admin right, which you don't have in this group. The group's owner (or an admin who may add admins) can give it to you; /config alone still shows the settings.`;

/** sendPhoto refuses photos over 10 MB, with width + height over 10000 or a side over 20 times the other: those go as a file instead. */
export const TELEGRAM_PHOTO_MAX_BYTES = 10 * 1000 * 1000;
export const TELEGRAM_PHOTO_MAX_SIDES = 10_000;
export const TELEGRAM_PHOTO_MAX_RATIO = 20;
/** Telegram refused the finished picture for its size or dimensions. */
export const UPLOAD_TOO_LARGE_REPLY = "Your meme was made, but it is too large for Telegram to take. Try again with a smaller reaction image.";
/** Any other refusal (4xx): no advice on size, which may not be the reason. */
export const UPLOAD_REFUSED_REPLY = "Your meme was made, but Telegram refused to take it. Please try again in a moment.";
/** Telegram failed on its side (5xx) or could not be reached, twice: the picture certainly did not arrive. */
export const TELEGRAM_PROBLEM_REPLY = "Your meme was made, but Telegram had a problem taking it. Please send the command again.";
/** The connection broke (or no answer came) after the upload went out: Telegram may have posted it, and a bot cannot look. */
export const UPLOAD_UNCERTAIN_REPLY =
  "Your meme was made, but the connection to Telegram broke while I was sending it, so I cannot tell whether it arrived. If it did not show up, please send the command again.";
/** The forum topic the command came from was closed before the result was ready. */
export const topicClosedReply = (topic: string | undefined) =>
  `Your meme was made, but the topic${topic ? ` ${quoted(topic)}` : " it was asked in"} is closed, so I may not post in it. A group admin can reopen the topic; or send the command in an open one.`;
/** The permission a refused upload needed, as a group's permission list names it ("Photos", "Stickers & GIFs", "Files"…). */
export const noPictureRightsReply = (right: string) =>
  `Your meme was made, but this chat does not let me send it. A group admin can allow me ${quoted(right)} in the group's permissions.`;
/** The topic the command came from was deleted before the result was ready. */
export const TOPIC_GONE_REPLY = "Your meme was made, but the topic it was asked in no longer exists. Please send the command again in another topic.";
export const floodReply = (seconds: number | undefined) =>
  `Your meme was made, but Telegram is limiting how fast I may post here (flood control). Please try again${seconds ? ` in ${seconds} s` : " in a little while"}.`;

/**
 * How long shutdown waits for grammY's last getUpdates, the one confirming the updates taken (grammY gives it no
 * limit short of its own request timeout, far beyond Mimic's shutdown). Below REPLY_GRACE_MS (src/app.ts): the
 * confirmation runs beside the queue's drain and ends within the replies' grace.
 */
export const STOP_CONFIRM_MS = 3_000;

/** Each start-up getMe is bounded by this (grammY's own limit is 500 s); retries: src/bots/reach.ts. */
export const REACH_ATTEMPT_MS = 15_000;

/** /meme or /morph in a group where the sender may not post pictures. */
export const NO_MEDIA_RIGHTS_REPLY =
  "You may not post pictures in this group, so I won't post a meme for you here. Send me the picture in our private chat instead.";

/** In a group, the queue message's updates at most this often (they share the group's message budget with the memes). */
const GROUP_PROGRESS_EVERY_MS = 5_000;

/** Telegram's flood control (429): retry a call at most this often, and only when it asks to wait at most this long. */
export const FLOOD_RETRIES = 2;
export const FLOOD_MAX_WAIT_S = 30;

/** Seconds a 429 asks to wait: its parameters.retry_after, or the number in "Too Many Requests: retry after N". */
function retryAfterOf(e: { parameters?: { retry_after?: number }; description?: string }): number | undefined {
  const n = e.parameters?.retry_after ?? Number(e.description?.match(/retry after (\d+)/i)?.[1] ?? NaN);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** What the chat shows while a render runs (sendChatAction). */
type ChatAction = "typing" | "upload_photo" | "upload_video";

/** A meme's: an animation (sent with sendAnimation) where that is known up front: "gif", or a moving reaction not made "still". */
function memeAction(animated: MemeInput["animated"], image: ImageInput): ChatAction {
  const mime = (image.kind === "url" ? image.declaredMime : image.mime) ?? "";
  return animated === true || (animated === undefined && (mime === "image/gif" || mime.startsWith("video/"))) ? "upload_video" : "upload_photo";
}

/** A forum topic closed since the command: it takes no message either. */
const topicClosed = (err: unknown) => err instanceof GrammyError && /TOPIC_CLOSED/.test(err.description);
/** The forum topic was deleted: Telegram no longer knows its thread. */
const topicGone = (err: unknown) => err instanceof GrammyError && /message thread not found|TOPIC_DELETED/i.test(err.description);
/** Telegram's name for the right a refused upload needed, from its "not enough rights to send …" error. */
const RIGHT_NAMES: Record<string, string> = { photos: "Photos", videos: "Videos", animations: "Stickers & GIFs", gifs: "Stickers & GIFs", documents: "Files" };

/** Telegram's own trouble, worth one more try: an error on its side (5xx), or no usable answer (a network error, a timeout). */
function isTelegramTrouble(err: unknown): boolean {
  return err instanceof HttpError || (err instanceof GrammyError && err.error_code >= 500);
}

/** Connection errors raised before a request could go out (node-fetch's `code`): Telegram never saw the upload. */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/**
 * No answer after the upload went out (a dropped connection, grammY's timeout, an answer that was not Telegram's
 * JSON): Telegram may have posted the picture all the same, and a bot cannot read the chat to check.
 */
function mayHaveArrived(err: unknown): boolean {
  if (!(err instanceof HttpError)) return false;
  const code = (err.error as { code?: unknown } | undefined)?.code;
  return !(typeof code === "string" && NEVER_SENT.has(code));
}

/** Telegram's flood control (429) answered a call. */
const floodControlled = (err: unknown) => err instanceof GrammyError && err.error_code === 429;

/**
 * Telegram refused a message's inline keyboard ("reply markup is too long", REPLY_MARKUP_TOO_LONG, BUTTON_DATA_INVALID,
 * "can't parse inline keyboard button"); not an edit that changes nothing ("message is not modified: … reply markup
 * are exactly the same"), after which the buttons must stay.
 */
const keyboardRefused = (err: unknown) =>
  err instanceof GrammyError && err.error_code === 400 && /markup|button/i.test(err.description) && !/not modified/i.test(err.description);

/** Sends (or edits) a message with its inline keyboard; where Telegram refuses the keyboard, once more without, so the user still gets the text. */
async function withoutKeyboardIfRefused<T>(keyboard: InlineKeyboard | undefined, call: (keyboard: InlineKeyboard | undefined) => Promise<T>): Promise<T> {
  try {
    return await call(keyboard);
  } catch (err) {
    if (!keyboard || !keyboardRefused(err)) throw err;
    logger.warn({ err }, "telegram: a message's buttons were refused; sent without them");
    return call(undefined);
  }
}

/** Under a meme sent privately because the group's flood control or slow mode kept it out. */
export const SENT_PRIVATELY_NOTE = "(The group is in slow mode or flood control, so I sent your meme here instead.)";

/** A basic group upgraded to a supergroup: Telegram names the new chat, where the picture must go instead. */
function migratedTo(err: unknown): number | undefined {
  return err instanceof GrammyError ? err.parameters?.migrate_to_chat_id : undefined;
}

/** Only these of Telegram's refusals are about the file's size or dimensions. */
const TOO_LARGE = /Request Entity Too Large|PHOTO_INVALID_DIMENSIONS|file is too big/i;

/** The user's words for an upload Telegram did not take: flood control, missing rights, a closed topic, the size, its own trouble, or another refusal. */
function uploadFailedReply(err: unknown, topic?: string): string {
  if (err instanceof GrammyError) {
    if (err.error_code === 429) return floodReply(retryAfterOf(err));
    const right = /not enough rights to send (photos|videos|animations|documents|gifs)/i.exec(err.description)?.[1]?.toLowerCase();
    if (right) return noPictureRightsReply(RIGHT_NAMES[right]!);
    if (topicClosed(err)) return topicClosedReply(topic);
    if (topicGone(err)) return TOPIC_GONE_REPLY;
    if (err.error_code === 413 || (err.error_code === 400 && TOO_LARGE.test(err.description))) return UPLOAD_TOO_LARGE_REPLY;
  }
  return isTelegramTrouble(err) ? TELEGRAM_PROBLEM_REPLY : UPLOAD_REFUSED_REPLY;
}

/** Telegram's own account that posts channel posts automatically forwarded into a linked discussion group. */
const TELEGRAM_SERVICE_USER_ID = 777000;

function tooBigForPhoto(f: ReplyFile): boolean {
  const size = f.width !== undefined && f.height !== undefined ? { width: f.width, height: f.height } : pngSize(f.bytes);
  if (f.bytes.byteLength > TELEGRAM_PHOTO_MAX_BYTES) return true;
  if (size === undefined) return false;
  return size.width + size.height > TELEGRAM_PHOTO_MAX_SIDES || Math.max(size.width, size.height) > TELEGRAM_PHOTO_MAX_RATIO * Math.min(size.width, size.height);
}

/** Width and height from a PNG's IHDR chunk (bytes 16–23), for files whose reply did not say. */
function pngSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.byteLength < 24 || bytes[0] !== 0x89 || bytes[1] !== 0x50) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** sendAnimation's width/height let clients size the player before the file arrives. */
function animationSize(f: ReplyFile): { width?: number; height?: number } {
  return f.width !== undefined && f.height !== undefined ? { width: f.width, height: f.height } : {};
}

export const BUTTON_NOT_YOURS = "This button isn't yours.";

/** The most a button's pop-up (answerCallbackQuery) shows: Telegram refuses a longer text. */
export const TOAST_MAX_CHARS = 200;

/** A pop-up's text: whole where it fits, else cut after the last whole word that does, with "…". */
export function toastText(text: string): string {
  if (text.length <= TOAST_MAX_CHARS) return text;
  const fits = text.slice(0, TOAST_MAX_CHARS);
  const lastSpace = fits.search(/\s\S*$/);
  // One word longer than half the pop-up is cut inside it rather than leaving the pop-up half empty.
  let head = lastSpace > TOAST_MAX_CHARS / 2 ? fits.slice(0, lastSpace) : fits.slice(0, TOAST_MAX_CHARS - 1);
  head = head.replace(/[\uD800-\uDBFF]$/, "").replace(/[\s,;:.(–-]+$/, "");
  return `${head}…`;
}

/**
 * After an admin's /usage or /audit in a group, which shows the group no one's own counts or name (see
 * personalApart): `about` is what went privately (Reply.split.about), `command` the one to send again.
 */
export const personalSentNote = (about: string) => `${capitalised(about)}: sent to you in our private chat.`;
export const personalRefusedNote = (botUsername: string, command: string, about: string) =>
  `Start a private chat with me (t.me/${botUsername}) and send /${command} here again to get ${about} privately.`;
export const personalFailedNote = (command: string, about: string) => `I couldn't send you ${about} privately just now. Send /${command} here again to try once more.`;
/** An anonymous admin has no private chat a bot can reach: the message names the group, not them. */
export const personalAnonymousNote = (command: string, about: string) => `Send /${command} as yourself (not anonymously) to get ${about} in our private chat.`;

export const NO_TOPICS_REPLY =
  "This group has no topics, so Mimic answers everywhere in it. To limit it to some topics, turn on Topics in the group's settings and send /config channel add inside each one; to stop it here, use /config enabled off.";

/**
 * Inline button data "<action>:<owner id>:<arg>"; template names are ≤ 32 ASCII, so it stays within Telegram's 64 bytes.
 * /faces: "def" sets the default; "del" asks before deleting, "delyes" deletes, "delno" keeps (both show the list again).
 */
export function buttonData(action: "def" | "del" | "delyes" | "delno" | "forget", ownerId: number, arg: string): string {
  return `${action}:${ownerId}:${arg}`;
}

export function parseButtonData(data: string): { action: string; ownerId: string; arg: string } | undefined {
  const m = data.match(/^(\w+):(\d+):(.*)$/s);
  return m ? { action: m[1], ownerId: m[2], arg: m[3] } : undefined;
}

export const HELP = [
  "Mimic puts the expression of a reaction image on your own face.",
  "1. Save your face: reply to a clear photo of you with /save me",
  "2. Reply to a reaction photo, GIF, video or sticker with /meme top text | bottom text",
  "   options first: face=<name> intensity=<0-100> swap gif still keepcase (captions as typed, not in capitals);",
  "   -- ends them (/meme -- gif me the money); \\n or ~n starts a new line in a caption",
  "/morph (as a reply) makes an animated morph, /faces manages your faces,",
  "/usage shows your usage, /forget deletes your data, /config and /audit <sha256> (who made a picture) are for group admins",
  "(/config ban as a reply bans the message's author).",
].join("\n");

/** How many people one answer names by lookup (a settings list shows 20 bans), and how long it waits for their names. */
const NAMES_LOOKED_UP = 25;
const NAMES_WAIT_MS = 3000;

/** A Telegram user as people know them: their name, and @username where they have one (one line, cut where long). */
export function displayName(user: { first_name: string; last_name?: string; username?: string }): string {
  // Format characters (bidi overrides, zero-width joiners) could turn the line around; whitespace runs are one space.
  const name = [user.first_name, user.last_name].filter(Boolean).join(" ").replace(/\p{Cf}/gu, "").replace(/\s+/g, " ").trim();
  const chars = [...name];
  const shown = chars.length > 40 ? `${chars.slice(0, 40).join("")}…` : name;
  return user.username ? `${shown || "?"} @${user.username}` : shown || "?";
}

/**
 * The menu Telegram shows when "/" is typed (setMyCommands), in HELP's words; every one of them is handled by
 * onCommand. Descriptions: 1–256 characters.
 */
export const BOT_COMMANDS: readonly { command: string; description: string }[] = [
  { command: "save", description: "Save your face: reply to a clear photo of you with /save me" },
  { command: "meme", description: "Reply to a reaction photo, GIF, video or sticker: /meme top text | bottom text" },
  { command: "morph", description: "Reply to a reaction to make an animated morph" },
  { command: "faces", description: "Manage your faces" },
  { command: "usage", description: "Show your usage" },
  { command: "forget", description: "Delete your data" },
  { command: "config", description: "Group settings (for group admins)" },
  { command: "audit", description: "Who made a picture: /audit <sha256> or as a reply (for group admins)" },
  { command: "help", description: "How to use Mimic" },
];

/** The commands onCommand handles: the menu's and Telegram's /start. */
const KNOWN_COMMANDS = new Set(["start", ...BOT_COMMANDS.map((c) => c.command)]);

/** A command Mimic does not have, in a private chat (or addressed to Mimic by name in a group): the help follows. */
export const unknownCommandReply = (name: string) => `I don't know /${name.length > 32 ? `${name.slice(0, 32)}…` : name}. ${HELP}`;
/** A photo (or a picture sent as a file) without a command, in a private chat. */
export const PHOTO_WITHOUT_COMMAND_REPLY = "Reply to it with /save me to save your face, or /meme to use it as a reaction.";
/** A GIF, video, round video or sticker without a command, in a private chat: a clip is no face to save. */
export const CLIP_WITHOUT_COMMAND_REPLY = "Reply to it with /meme to use it as a reaction.";

/** /save as a reply to a picture (or as its caption) without a name. */
export const SAVE_NO_NAME_REPLY = "Give the face a name: /save me";
/** /save without a picture: `name` as typed where it is one (1–32 of a-z 0-9 _ -), else the example's. */
export const saveNoPhotoReply = (name = "") =>
  `Send /save ${/^[a-z0-9_-]{1,32}$/i.test(name) ? name : "me"} as a reply to a photo of your face, or as the photo's caption.`;

/**
 * getMe refused outright (Telegram answered, and the answer will not change by asking again): a configuration
 * mistake named for the owner (CONFIG: the CLI prints the line and exits 2, no stack trace). Undefined for
 * answers worth retrying (429, 5xx).
 */
function refusedAtStart(err: GrammyError, customRoot: string | undefined): MimicError | undefined {
  if (err.error_code === 429 || err.error_code >= 500) return undefined;
  const answer = errorAnswer(err);
  const root = customRoot ? ` and TELEGRAM_API_ROOT (${redactUrl(customRoot)})` : "";
  // 401 is Telegram's answer to a wrong token; 404 to one that is not a token at all (or a wrong API root).
  const message =
    err.error_code === 401
      ? `TELEGRAM_TOKEN was refused by Telegram (${answer}): check the token from @BotFather.`
      : err.error_code === 404
        ? `TELEGRAM_TOKEN was refused by Telegram (${answer}): check the token from @BotFather${root}.`
        : `Telegram refused to start the bot (getMe: ${answer}): check TELEGRAM_TOKEN${root}.`;
  return new MimicError("CONFIG", message, { cause: err });
}

/** An error's code and Telegram's words for it; a proxy or a fake API root may leave the words out. */
function errorAnswer(err: GrammyError): string {
  const said = typeof err.description === "string" ? err.description.replace(/^\d+:\s*/, "").trim() : "";
  return said ? `${err.error_code} ${said}` : String(err.error_code);
}

/** Why a start-up getMe got no answer, in a few words, with the token (part of every request's URL) masked. */
function unreachableReason(err: unknown, token: string): string {
  if (err instanceof GrammyError) return errorAnswer(err);
  const inner = (err instanceof HttpError ? err.error : err) as { name?: string; type?: string; message?: string } | undefined;
  if (inner?.name === "AbortError") return `no answer within ${REACH_ATTEMPT_MS / 1000} s`;
  if (inner?.type === "invalid-json") return "it answered, but not as a Telegram Bot API does";
  const message = String(inner?.message ?? inner);
  // node-fetch: "request to <url with the token> failed, reason: connect ECONNREFUSED 127.0.0.1:1".
  return (/reason: (.*)$/s.exec(message)?.[1] ?? message).replaceAll(token, "***");
}

export function createTelegramBot(opts: TelegramBotOptions): TelegramBot {
  const { core } = opts;
  const apiRoot = (opts.apiRoot ?? DEFAULT_API_ROOT).replace(/\/+$/, "");
  // Chat actions are best effort: sent without bot.api's flood-control retry (see render).
  const actionsApi = new Api(opts.token, { apiRoot });
  const bot = new Bot(opts.token, { client: { apiRoot }, botInfo: opts.botInfo });
  const inFlight = createInFlight((err) => logger.error({ err }, "telegram task failed"));
  let accepting = true;
  /** Set once intake stops: ends the getUpdates grammY sends then (see STOP_CONFIRM_MS) if Telegram does not answer. */
  let confirmDeadline: AbortSignal | undefined;

  // Only that confirmation comes without a signal (polling's own calls carry grammY's, which stop() aborts).
  // grammY's types name its polyfill's signal; it only listens for "abort", which a standard one sends.
  bot.api.config.use((prev, method, payload, signal) =>
    prev(method, payload, method === "getUpdates" && !signal && confirmDeadline ? (confirmDeadline as unknown as typeof signal) : signal),
  );

  // Flood control (429, common in busy groups): wait as Telegram asks and try again, a little and briefly;
  // beyond that the call fails and the user is told (uploadFailedReply). getUpdates has grammY's own back-off.
  bot.api.config.use(async (prev, method, payload, signal) => {
    for (let attempt = 0; ; attempt++) {
      const res = await prev(method, payload, signal);
      if (res.ok || res.error_code !== 429 || method === "getUpdates" || attempt >= FLOOD_RETRIES) return res;
      const wait = retryAfterOf(res);
      if (wait === undefined || wait > FLOOD_MAX_WAIT_S || signal?.aborted) return res;
      logger.warn({ method, retryAfter: wait, attempt: attempt + 1 }, "telegram flood control: retrying");
      await new Promise((r) => setTimeout(r, wait * 1000));
    }
  });

  /** Long work runs beside grammY's update loop; shutdown waits for its replies (settled). */
  const detach = (p: Promise<unknown>) => inFlight.track(p);

  /** Whether a user (the sender, by default) is an admin of the group the update came from. */
  async function isGroupAdmin(ctx: Context, userId = ctx.from?.id): Promise<boolean> {
    const member = await groupMember(ctx, userId);
    return member?.status === "creator" || member?.status === "administrator";
  }

  /** The sender of an update as its group has them: one look-up serves both whether they are an admin and which rights they hold. */
  const senders = new WeakMap<Context, Promise<ChatMember | undefined>>();

  /** A user (the sender, by default) as the group the update came from has them; undefined in a private chat or where the look-up failed. */
  function groupMember(ctx: Context, userId = ctx.from?.id): Promise<ChatMember | undefined> {
    if (userId !== ctx.from?.id) return lookUpMember(ctx, userId);
    let member = senders.get(ctx);
    if (!member) senders.set(ctx, (member = lookUpMember(ctx, userId)));
    return member;
  }

  async function lookUpMember(ctx: Context, userId: number | undefined): Promise<ChatMember | undefined> {
    const chat = ctx.chat;
    if (!chat || chat.type === "private" || userId === undefined) return undefined;
    try {
      return await ctx.api.getChatMember(chat.id, userId);
    } catch (err) {
      logger.warn({ err }, "getChatMember failed");
      return undefined;
    }
  }

  /**
   * The right an admin lacks for a change of `key` (Ban Users for ban and unban, Change Group Info for the rest);
   * undefined for the group's creator, an admin who holds it, or a key that is no setting (the core says so).
   */
  async function missingRight(ctx: Context, key: string): Promise<typeof SETTINGS_RIGHT | typeof BAN_RIGHT | undefined> {
    if (!(SETTING_KEYS as readonly string[]).includes(key)) return undefined;
    const member = await groupMember(ctx);
    if (member?.status !== "administrator") return undefined;
    const right = key === "ban" || key === "unban" ? BAN_RIGHT : SETTINGS_RIGHT;
    return member[right.flag] ? undefined : right;
  }

  /** Who was told a standing refusal lately, by "chat:user", with when they may hear it again (oldest first). */
  const refusalsSaid = new Map<string, number>();
  const refusalQuietMs = opts.refusalQuietMs ?? REFUSAL_QUIET_MS;

  /** Notes a standing refusal for the sender in this group; true where they were told it lately, so it is not said again. */
  function refusalRepeated(ctx: Context): boolean {
    const key = `${ctx.chat!.id}:${ctx.from?.id}`;
    const now = Date.now();
    if ((refusalsSaid.get(key) ?? 0) > now) return true;
    // Re-inserted at the end: the map stays in the order its entries expire, so the expired are at its front.
    refusalsSaid.delete(key);
    refusalsSaid.set(key, now + refusalQuietMs);
    for (const [k, until] of refusalsSaid) {
      if (until > now && refusalsSaid.size <= REFUSALS_REMEMBERED) break;
      refusalsSaid.delete(k);
    }
    return false;
  }

  /**
   * Whether the sender may post pictures in this group: Mimic must not post for a member what a "no media"
   * restriction keeps them from posting. Best effort: a failed look-up lets the request through.
   */
  async function mayPostPictures(ctx: Context): Promise<boolean> {
    const member = await groupMember(ctx);
    return member?.status !== "restricted" || member.can_send_photos;
  }

  /** A group admin posting anonymously: the message is posted as the group itself, which only its admins can do. */
  const isAnonymousAdmin = (ctx: Context) => ctx.chat !== undefined && ctx.chat.type !== "private" && ctx.msg?.sender_chat?.id === ctx.chat.id;

  /**
   * Where in a chat a command was sent, as the `channel` setting names it: in a forum group the topic's id; in
   * the General topic, a group without topics or a private chat, the chat's own id.
   */
  function topicOf(ctx: Context): string {
    const m = ctx.msg;
    return ctx.chat?.is_forum && m?.is_topic_message && m.message_thread_id !== undefined ? String(m.message_thread_id) : String(ctx.chat!.id);
  }

  async function contextOf(ctx: Context, needAdmin: boolean): Promise<CommandContext> {
    const chat = ctx.chat!;
    const isGroup = chat.type !== "private";
    return {
      platform: "telegram",
      userId: String(ctx.from?.id ?? chat.id),
      serverId: isGroup ? String(chat.id) : null,
      channelId: topicOf(ctx),
      isAdmin: needAdmin ? isAnonymousAdmin(ctx) || (await isGroupAdmin(ctx)) : false,
      requestId: `tg-${ctx.update.update_id}-${randomUUID().slice(0, 8)}`,
      attachmentLimitBytes: TELEGRAM_UPLOAD_LIMIT,
      downloadLimitBytes: TELEGRAM_DOWNLOAD_LIMIT,
      downloadLimitMessage: TOO_BIG_TO_DOWNLOAD_REPLY,
      // Telegram clients play animations as silent MP4 (a GIF is converted on their side anyway).
      animationFormat: "mp4",
      ...(isGroup && { displayNames: (ids: readonly string[]) => namesIn(chat.id, ids) }),
    };
  }

  /**
   * People named as this group shows them (getChatMember names someone who left too): Telegram shows no user
   * ids, so "user 22" alone tells an admin nothing. Best effort, at most NAMES_WAIT_MS: an answer is not held up.
   */
  async function namesIn(chatId: number, ids: readonly string[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    const lookups = ids.slice(0, NAMES_LOOKED_UP).map(async (id) => {
      const member = await bot.api.getChatMember(chatId, Number(id)).catch(() => undefined);
      if (member) names.set(id, displayName(member.user));
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(lookups), new Promise((r) => (timer = setTimeout(r, NAMES_WAIT_MS)))]);
    clearTimeout(timer);
    return new Map(names);
  }

  function fileInput(fileId: string, size: number | undefined, mime: string | undefined, name?: string): ImageInput {
    return {
      kind: "url",
      declaredSize: size,
      declaredMime: mime,
      name,
      url: async () => {
        // getFile is idempotent: one retry rides out a kept-alive socket the server closed as we reused it.
        const file = await bot.api.getFile(fileId).catch((e: unknown) => {
          if (e instanceof HttpError) return bot.api.getFile(fileId);
          // A file over 20 MB whose message declared no size: Telegram will not hand it to a bot.
          if (e instanceof GrammyError && /file is too big/i.test(e.description)) {
            throw new MimicError("IMAGE_TOO_LARGE", TOO_BIG_TO_DOWNLOAD_REPLY, { cause: e, details: { limit: TELEGRAM_DOWNLOAD_LIMIT } });
          }
          throw e;
        });
        if (!file.file_path) throw new Error("getFile returned no file_path");
        return `${apiRoot}/file/bot${opts.token}/${file.file_path}`;
      },
    };
  }

  /**
   * The picture a message carries: photo (largest size), GIF, video, round video, sticker or an image sent as a
   * file. Also the media of a message quoted from another chat (external_reply), which has the same fields.
   */
  function imageOf(m: Pick<Message, "photo" | "animation" | "video" | "video_note" | "sticker" | "document"> | undefined): ImageInput | undefined {
    if (!m) return undefined;
    if (m.photo?.length) {
      const p = m.photo[m.photo.length - 1];
      return fileInput(p.file_id, p.file_size, "image/jpeg");
    }
    if (m.animation) {
      // Telegram turns most GIFs into silent MP4: the worker reads it frame by frame (ffmpeg).
      const a = m.animation;
      return fileInput(a.file_id, a.file_size, a.mime_type, a.file_name);
    }
    if (m.video) {
      // A clip from the phone's camera (MP4): read frame by frame, as Telegram's MP4 GIFs are.
      const v = m.video;
      return fileInput(v.file_id, v.file_size, v.mime_type ?? "video/mp4", v.file_name);
    }
    if (m.video_note) {
      // A round video message: always MP4.
      const v = m.video_note;
      return fileInput(v.file_id, v.file_size, "video/mp4");
    }
    if (m.sticker) {
      const s = m.sticker;
      const mime = s.is_animated ? LOTTIE_MIME : s.is_video ? "video/webm" : "image/webp";
      return fileInput(s.file_id, s.file_size, mime);
    }
    if (m.document && (m.document.mime_type ?? "").startsWith("image/")) {
      const d = m.document;
      return fileInput(d.file_id, d.file_size, d.mime_type, d.file_name);
    }
    if (m.document) return fileInput(m.document.file_id, m.document.file_size, m.document.mime_type ?? "application/octet-stream", m.document.file_name);
    return undefined;
  }

  /**
   * The message a command really replies to. Inside a forum topic Telegram sets reply_to_message of every
   * message to the topic's "forum_topic_created" service message: that is no reply (it would name the topic's
   * creator).
   */
  function repliedTo(ctx: Context): Message["reply_to_message"] {
    const m = ctx.msg;
    const r = m?.reply_to_message;
    if (!r || (m.is_topic_message && r.forum_topic_created)) return undefined;
    return r;
  }

  /**
   * The command's own media (caption command), the media of the message it replies to, or of the message it
   * quotes from another chat or topic ("reply in another chat": external_reply, with no reply_to_message).
   */
  const targetImage = (ctx: Context) => imageOf(ctx.msg) ?? imageOf(repliedTo(ctx)) ?? imageOf(ctx.msg?.external_reply);

  /** Sends into the forum topic the command came from (else Telegram posts them in General). */
  const threadOf = (ctx: Context): { message_thread_id?: number } =>
    ctx.msg?.is_topic_message && ctx.msg.message_thread_id !== undefined ? { message_thread_id: ctx.msg.message_thread_id } : {};

  /**
   * Whom "/config ban" (or unban) as a reply names: the replied message's author, unless no person posted it
   * (a bot, an anonymous admin, a channel, Telegram's automatic forward of a channel post), whose ids are
   * placeholders shared by many.
   */
  function replyTarget(ctx: Context, verb: "ban" | "unban"): { userId: string } | { refusal: string } | undefined {
    const r = repliedTo(ctx);
    if (!r) return undefined;
    const nobody = `so there is no person to ${verb}`;
    if (r.sender_chat && r.sender_chat.id === ctx.chat?.id) return { refusal: `That message was posted anonymously by a group admin, ${nobody}.` };
    if (r.sender_chat || r.is_automatic_forward || r.from?.id === TELEGRAM_SERVICE_USER_ID) {
      return { refusal: `That message was posted as a channel, ${nobody}.` };
    }
    if (!r.from) return undefined;
    if (r.from.is_bot) return { refusal: `That message was posted by a bot, ${nobody}.` };
    return { userId: String(r.from.id) };
  }

  /**
   * Command text and arguments from a text message or a media caption; `addressed` where it names Mimic
   * ("/meme@mimicbot"), as commands picked from the menu in a group do.
   */
  function commandOf(ctx: Context): { name: string; args: string; addressed: boolean } | undefined {
    const text = ctx.msg?.text ?? ctx.msg?.caption;
    // "/meme|bottom" (or the full-width "/meme｜bottom"): Telegram ends the command at the "|" too.
    const m = text?.match(/^\/([a-z_]+)(?:@(\w+))?(?:(?:\s+|(?=[|\uFF5C]))([\s\S]*))?$/i);
    if (!m) return undefined;
    // "/meme@otherbot" in a group is for another bot.
    if (m[2] && m[2].toLowerCase() !== bot.botInfo.username.toLowerCase()) return undefined;
    return { name: m[1].toLowerCase(), args: (m[3] ?? "").trim(), addressed: m[2] !== undefined };
  }

  async function send(ctx: Context, reply: Reply, extra: { keyboard?: InlineKeyboard } = {}) {
    const chatId = ctx.chat!.id;
    const replyTo = { ...threadOf(ctx), ...(ctx.msg ? { reply_parameters: { message_id: ctx.msg.message_id, allow_sending_without_reply: true } } : {}) };
    if (reply.file) {
      const f = reply.file;
      const fileOpts = { caption: reply.text, ...replyTo };
      // Animations as Telegram clients play them; a photo Telegram would refuse (too large) as a file.
      const upload = (to: number, opts: Partial<typeof fileOpts> & { caption: string }) => {
        const file = new InputFile(f.bytes, f.name);
        if (f.mime === "image/gif" || f.mime === "video/mp4") return ctx.api.sendAnimation(to, file, { ...opts, ...animationSize(f) });
        return tooBigForPhoto(f) ? ctx.api.sendDocument(to, file, opts) : ctx.api.sendPhoto(to, file, opts);
      };
      let sent;
      try {
        sent = await upload(chatId, fileOpts);
      } catch (first) {
        // The result exists but Telegram did not take it: the user must still hear back, and gets the use back
        // only where the picture surely did not arrive.
        const movedTo = migratedTo(first);
        // A group upgraded to a supergroup: its old topic and message ids mean nothing in the new chat.
        const to = movedTo ?? chatId;
        const where = movedTo === undefined ? replyTo : {};
        let err = first;
        let uncertain = mayHaveArrived(first);
        // Once more, to the new chat or after Telegram's trouble. After no answer this may post the picture twice:
        // better than losing it, which would cost the user a use and another wait.
        if (movedTo !== undefined || isTelegramTrouble(first)) {
          // Errors are logged under `err` only: its serializer masks the token in the request's URL.
          logger.warn({ err: first, movedTo, mayShowTwice: uncertain }, "telegram upload failed; sending it once more");
          let sentAgain;
          try {
            sentAgain = await upload(to, { ...where, caption: reply.text });
          } catch (second) {
            err = second;
            uncertain ||= mayHaveArrived(second);
          }
          if (sentAgain) {
            // The meme was made for the old id (its use and audit record): moved with the group's other records.
            // (Sent is sent: a failed move is the store's trouble, not the user's.)
            if (movedTo !== undefined) {
              await core.serverMoved("telegram", String(chatId), String(movedTo)).catch((e: unknown) => logger.warn({ err: e }, "telegram: a meme's records could not follow its group's new id"));
            }
            await reply.delivered?.(messageRef(to, sentAgain.message_id));
            return;
          }
        }
        // Flood control (a busy group, or its slow mode) past what is worth waiting: the group takes nothing now,
        // the refusal included. The meme goes to the user's private chat with Mimic instead, where they have one.
        if (floodControlled(err) && !uncertain && ctx.chat?.type !== "private" && ctx.from) {
          try {
            const dm = await upload(ctx.from.id, { caption: `${reply.text}\n${SENT_PRIVATELY_NOTE}`.trim() });
            await reply.delivered?.(messageRef(ctx.from.id, dm.message_id));
            logger.warn({ err }, "telegram flood control kept a meme out of its group: sent privately");
            return;
          } catch (dmErr) {
            logger.warn({ err: dmErr }, "telegram: flood control kept a meme out of its group, and it could not be sent privately");
          }
        }
        logger.error({ err, movedTo, mime: f.mime, bytes: f.bytes.byteLength, width: f.width, height: f.height }, "telegram upload failed");
        if (!uncertain) await reply.undelivered?.();
        const topicName = ctx.msg?.is_topic_message ? ctx.msg.reply_to_message?.forum_topic_created?.name : undefined;
        const text = uncertain ? UPLOAD_UNCERTAIN_REPLY : uploadFailedReply(err, topicName);
        // A closed or deleted topic takes no message either: the words go to the group's General topic.
        await ctx.api.sendMessage(to, text, topicClosed(err) || topicGone(err) ? {} : where);
        return;
      }
      // Telegram shows a photo re-encoded (another hash): /audit asked of this message finds it by the message.
      await reply.delivered?.(messageRef(chatId, sent.message_id));
      return;
    }
    const post = (to: number, where: typeof replyTo | Record<string, never>) =>
      withoutKeyboardIfRefused(extra.keyboard, (keyboard) => ctx.api.sendMessage(to, reply.text, { ...where, reply_markup: keyboard }));
    await post(chatId, replyTo).catch((err: unknown) => {
      // As a picture is: to a group's new id after its upgrade, to General from a closed or deleted topic.
      const movedTo = migratedTo(err);
      if (movedTo === undefined && !topicClosed(err) && !topicGone(err)) throw err;
      return post(movedTo ?? chatId, {});
    });
  }

  /**
   * Telegram has no private answers in a group: the part of a reply that is only the caller's (reply.split: each
   * user's counts in an admin's /usage) goes to the caller's private chat with Mimic, and the group sees the
   * rest, with where that part went or, where Telegram refuses the private message (the caller never started
   * a chat with Mimic, or blocked it), how to get it.
   */
  async function personalApart(ctx: Context, command: string, reply: Reply): Promise<Reply> {
    if (!reply.split || !ctx.from || ctx.chat?.type === "private") return reply;
    const { shared, personal, about } = reply.split;
    if (personal === "") return { text: shared, ephemeral: reply.ephemeral, errorCode: reply.errorCode };
    // The sender is Telegram's placeholder for every anonymous admin: no private chat is theirs.
    if (isAnonymousAdmin(ctx)) return { text: `${shared}\n${personalAnonymousNote(command, about)}`, ephemeral: reply.ephemeral, errorCode: reply.errorCode };
    const place = ctx.chat?.title ? quoted(ctx.chat.title) : "the group";
    let note: string;
    try {
      await ctx.api.sendMessage(ctx.from.id, `In ${place}, ${about}:\n${personal}`);
      note = personalSentNote(about);
    } catch (err) {
      logger.warn({ err }, "telegram: could not send the personal part of a reply privately");
      note = err instanceof GrammyError && err.error_code === 403 ? personalRefusedNote(bot.botInfo.username, command, about) : personalFailedNote(command, about);
    }
    return { text: `${shared}\n${note}`, ephemeral: reply.ephemeral, errorCode: reply.errorCode };
  }

  /** Renders with a chat action while waiting and a queue-position message when there is a wait. */
  async function render(ctx: Context, kind: ChatAction, work: (c: CommandContext) => Promise<Reply>) {
    const chatId = ctx.chat!.id;
    const thread = threadOf(ctx);
    // Best effort, so never sent again (a late one would show "sending…" after the answer): it bypasses the flood
    // retry of bot.api, waits out a 429's time instead, and none starts once the answer goes out.
    let answering = false;
    let quietUntil = 0;
    // Mimic removed from the chat (or the chat deleted) while it works: nothing made could be posted there.
    const removed = new AbortController();
    const chatAction = () => {
      if (answering || Date.now() < quietUntil) return;
      actionsApi.sendChatAction(chatId, kind, thread).catch((err: unknown) => {
        if (err instanceof GrammyError && err.error_code === 429) quietUntil = Date.now() + (retryAfterOf(err) ?? CHAT_ACTION_EVERY_MS / 1000) * 1000;
        if (err instanceof GrammyError && err.error_code === 403 && !removed.signal.aborted) {
          logger.warn({ chatId, reason: err.description }, "telegram: Mimic may no longer post in this chat, so its request there is stopped");
          removed.abort(new MimicError("CANCELLED", "Mimic may no longer post in this chat."));
        }
      });
    };
    chatAction();
    const timer = setInterval(chatAction, CHAT_ACTION_EVERY_MS);
    const stopActions = () => {
      answering = true;
      clearInterval(timer);
    };
    let statusMessageId: number | undefined;
    const lost: z.infer<typeof lostCommand> = { chatId, threadId: thread.message_thread_id, messageId: ctx.msg?.message_id };
    let updatePendingReply: ((reply: string) => Promise<void>) | undefined;
    const inGroup = ctx.chat?.type !== "private";
    const progress = progressReporter(async (text) => {
      if (statusMessageId === undefined) {
        // A reply to the command, as its result will be: in a group, whose place in the queue it is.
        const to = ctx.msg ? { reply_parameters: { message_id: ctx.msg.message_id, allow_sending_without_reply: true } } : {};
        statusMessageId = (await ctx.api.sendMessage(chatId, text, { ...thread, ...to })).message_id;
        // Should this process die before answering, the apology takes this message down rather than leave it waiting.
        await updatePendingReply?.(JSON.stringify({ ...lost, statusId: statusMessageId })).catch((err: unknown) =>
          logger.warn({ err }, "telegram: could not note the queue message of a request in progress"),
        );
      } else await ctx.api.editMessageText(chatId, statusMessageId, text);
      // A group's messages and edits share Telegram's budget of about 20 a minute with the memes themselves.
    }, inGroup ? GROUP_PROGRESS_EVERY_MS : undefined);
    try {
      const c = await contextOf(ctx, false);
      const reply = await work({
        ...c,
        signal: removed.signal,
        pendingReply: JSON.stringify(lost),
        bindPendingReply: (update) => (updatePendingReply = update),
        progress: (e) => {
          // Only a real wait deserves a message; the chat action covers the rest.
          if (statusMessageId !== undefined || (e.type === "queued" && e.position > 1)) progress.onProgress(e);
        },
      });
      await progress.close();
      stopActions();
      // Its use was given back with the cancellation; there is nobody to tell.
      if (removed.signal.aborted) return;
      // A group reads every answer: the same refusal again is noise there, the user has heard it.
      if (inGroup && reply.errorCode !== undefined && STANDING_REFUSALS.has(reply.errorCode) && refusalRepeated(ctx)) {
        logger.debug({ chatId, userId: ctx.from?.id, code: reply.errorCode }, "telegram: a refusal this user heard here lately is not said again");
        return;
      }
      await send(ctx, reply);
    } finally {
      stopActions();
      await progress.close();
      if (statusMessageId !== undefined) await ctx.api.deleteMessage(chatId, statusMessageId).catch(() => undefined);
    }
  }

  /**
   * Buttons carry their owner's id: in a group anyone can press them, but they only act for the owner. One row for
   * each face the text lists (the core names the first FACES_LISTED): Telegram refuses a keyboard of more
   * than 100 buttons, and with it the whole message.
   */
  function facesKeyboard(reply: Reply, ownerId: number): InlineKeyboard | undefined {
    if (!reply.templates?.length) return undefined;
    return InlineKeyboard.from(
      reply.templates.slice(0, FACES_LISTED).map((t) => [
        InlineKeyboard.text(t.isDefault ? `★ ${t.name}` : `Use ${t.name} by default`, buttonData("def", ownerId, t.name)),
        InlineKeyboard.text(`🗑 ${t.name}`, buttonData("del", ownerId, t.name)),
      ]),
    );
  }

  /** Albums (media groups) already pointed the way in a private chat: one answer per album, not one per picture. */
  const albumsSeen = new Set<string>();
  /** Notes an album; true where it was seen before. */
  function albumSeen(ctx: Context): boolean {
    const album = ctx.msg?.media_group_id;
    if (album === undefined) return false;
    if (albumsSeen.has(album)) return true;
    albumsSeen.add(album);
    if (albumsSeen.size > 200) albumsSeen.delete(albumsSeen.values().next().value!);
    return false;
  }

  /**
   * A message that is no command of Mimic's. In a private chat it is meant for Mimic, so it is answered: a
   * mistyped command with the help, a picture without a command with what to do with it, anything else with
   * the help. In a group people talk: silence, but for an unknown command that names Mimic ("/memes@mimicbot").
   */
  async function onOther(ctx: Context, unknown?: { name: string; addressed: boolean }): Promise<void> {
    const m = ctx.msg;
    if (!m || (ctx.chat?.type !== "private" && !unknown?.addressed)) return;
    // The rest of an album whose first message was answered, or whose caption was a command.
    if (albumSeen(ctx)) return;
    if (unknown) return void (await send(ctx, { text: unknownCommandReply(unknown.name), ephemeral: true }));
    const picture = m.photo?.length || (m.document && (m.document.mime_type ?? "").startsWith("image/"));
    const clip = m.animation || m.video || m.video_note || m.sticker;
    // An animated sticker is said at once to be unreadable, rather than pointed to a /meme that would refuse it.
    const text = m.sticker?.is_animated ? LOTTIE_REACTION_REFUSAL : picture ? PHOTO_WITHOUT_COMMAND_REPLY : clip ? CLIP_WITHOUT_COMMAND_REPLY : HELP;
    await send(ctx, { text, ephemeral: true });
  }

  async function onCommand(ctx: Context): Promise<void> {
    const cmd = commandOf(ctx);
    if (!cmd || !KNOWN_COMMANDS.has(cmd.name)) return onOther(ctx, cmd);
    // A command's album is answered by the command: its other pictures need no pointer.
    albumSeen(ctx);
    // A channel's post Telegram forwards into its discussion group is nobody's command there.
    if (ctx.msg?.is_automatic_forward) return;
    // An anonymous admin may still configure the group and look up who made a picture: those are the group's, not a
    // person's. Their usage would be the placeholder's, shared by every anonymous admin.
    if (ctx.msg?.sender_chat && !((cmd.name === "config" || cmd.name === "audit") && isAnonymousAdmin(ctx))) {
      const usage = cmd.name === "usage" && isAnonymousAdmin(ctx);
      await send(ctx, { text: usage ? ANONYMOUS_USAGE_REPLY : ANONYMOUS_SENDER_REPLY, ephemeral: true });
      return;
    }
    switch (cmd.name) {
      case "start":
      case "help":
        await ctx.api.sendMessage(ctx.chat!.id, HELP, threadOf(ctx));
        return;
      case "meme":
      case "morph": {
        const image = targetImage(ctx);
        if (!image) {
          await send(ctx, {
            text: `Reply to a photo, GIF, video or sticker with /${cmd.name}, or send a photo with /${cmd.name} as its caption.`,
            ephemeral: true,
          });
          return;
        }
        let parsed, flagNote: string | undefined;
        try {
          ({ args: parsed, flagNote } = readMemeArgs(cmd.args, cmd.name));
        } catch (e) {
          if (!(e instanceof MemeArgsError)) throw e;
          await send(ctx, { text: e.message, ephemeral: true });
          return;
        }
        if (!(await mayPostPictures(ctx))) return void (await send(ctx, { text: NO_MEDIA_RIGHTS_REPLY, ephemeral: true }));
        detach(
          render(ctx, cmd.name === "morph" ? "upload_video" : memeAction(parsed.animated, image), async (c) => {
            const reply = await (cmd.name === "morph"
              ? core.morph(c, { image, top: parsed.top, bottom: parsed.bottom, template: parsed.template, intensity: parsed.intensity, keepCase: parsed.keepCase })
              : core.meme(c, { image, ...parsed }));
            // A lower-case first word of the caption may have been read as an option ("still waiting…"): said under the answer.
            return flagNote ? { ...reply, text: `${reply.text}\n${flagNote}` } : reply;
          }),
        );
        return;
      }
      case "save": {
        const image = targetImage(ctx);
        // Said apart: what was missing, the picture or the name.
        if (!image) return void (await send(ctx, { text: saveNoPhotoReply(cmd.args), ephemeral: true }));
        if (!cmd.args) return void (await send(ctx, { text: SAVE_NO_NAME_REPLY, ephemeral: true }));
        detach(render(ctx, "typing", (c) => core.faceSave(c, { name: cmd.args, image })));
        return;
      }
      case "faces": {
        const reply = await core.faceList(await contextOf(ctx, false));
        await send(ctx, reply, { keyboard: facesKeyboard(reply, ctx.from!.id) });
        return;
      }
      case "forget": {
        // The core's own question (what is deleted, and when), answered with buttons instead of a flag; a
        // refusal (the store unreachable) gets none: Yes would delete what the user was never shown.
        const question = await core.forgetMe(await contextOf(ctx, false), { confirm: false });
        const keyboard = new InlineKeyboard()
          .text(FORGET_BUTTONS.yes, buttonData("forget", ctx.from!.id, "yes"))
          .text(FORGET_BUTTONS.cancel, buttonData("forget", ctx.from!.id, "no"));
        await send(ctx, question, question.errorCode === undefined ? { keyboard } : {});
        return;
      }
      case "usage":
        await send(ctx, await personalApart(ctx, "usage", await core.usage(await contextOf(ctx, true))));
        return;
      case "audit": {
        // The hash as text; a reply to one of Mimic's own results (found by its message: Telegram re-encodes photos,
        // so their hash is another); or a reply to any other picture, hashed as received.
        const hash = cmd.args.trim() || undefined;
        const replied = hash ? undefined : repliedTo(ctx);
        const own = replied && replied.from?.id === bot.botInfo.id ? messageRef(ctx.chat!.id, replied.message_id) : undefined;
        // The file too: one of Mimic's results sent before it noted its messages is found by its hash (a file or an MP4 arrives as sent).
        const image = hash ? undefined : targetImage(ctx);
        await send(ctx, await personalApart(ctx, "audit", await core.audit(await contextOf(ctx, true), { hash, image, message: own })));
        return;
      }
      case "config": {
        const [typedKey, ...rest] = cmd.args.split(/\s+/).filter(Boolean);
        // Setting names in any letter case, as the core reads them.
        const key = typedKey?.toLowerCase();
        const c = await contextOf(ctx, true);
        // Viewing is any admin's; a change takes the right Telegram gives for it. An anonymous admin's rights cannot
        // be read (the message names the group): they may change everything, as before rights were asked for.
        if (key !== undefined && c.isAdmin && !isAnonymousAdmin(ctx)) {
          const lacking = await missingRight(ctx, key);
          if (lacking) return void (await send(ctx, { text: missingRightReply(lacking), ephemeral: true, errorCode: "FORBIDDEN" }));
        }
        let value: string | undefined = rest.join(" ") || undefined;
        // On Telegram the channel setting names forum topics: a group without topics has no other place to name.
        // The operation is read in any case ("Add"), as the core reads it.
        const op = rest[0]?.toLowerCase();
        if (key === "channel" && c.isAdmin && (op === "add" || op === "remove")) {
          if (!ctx.chat!.is_forum && op === "add") return void (await send(ctx, { text: NO_TOPICS_REPLY, ephemeral: true }));
          // "/config channel add" inside a topic names that topic.
          if (rest.length === 1) value = `${op} ${c.channelId}`;
        }
        // Telegram shows no user ids and bots cannot look up @usernames: "/config ban" as a reply names its author.
        if (value === undefined && (key === "ban" || key === "unban")) {
          const target = replyTarget(ctx, key);
          if (target && "refusal" in target) {
            // Non-admins hear the core's refusal instead.
            if (c.isAdmin) return void (await send(ctx, { text: target.refusal, ephemeral: true }));
          } else value = target?.userId;
        }
        // Mimic's own id: "/config ban <its id>" is refused (a reply to its message already is, as a bot's).
        const reply = await core.config(c, { key: key as SettingKey | undefined, value, facts: { botUserId: String(bot.botInfo.id), isAdmin: (id) => isGroupAdmin(ctx, Number(id)) } });
        await send(ctx, await personalApart(ctx, "config", reply));
        return;
      }
    }
  }

  // grammY handles a getUpdates batch (up to 100) back to back and a /meme handler returns once its work has
  // started: without a turn between updates, a whole batch's start-up holds the event loop in one piece.
  // Once intake stopped, the rest of a batch is left alone: grammY confirmed only the updates it had begun, so
  // Telegram hands the others to the next start (handling them here too would answer them twice).
  bot.use(async (_ctx, next) => {
    if (!accepting) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    await next();
  });
  bot.on(["message:text", "message:photo", "message:animation", "message:video", "message:video_note", "message:document", "message:sticker"], onCommand);
  // A group upgraded to a supergroup gets a new chat id: what its admins set (rules, bans) moves with it.
  // Both the old chat's and the new chat's service messages may arrive; the second move finds nothing left.
  bot.on("message:migrate_to_chat_id", (ctx) => detach(core.serverMoved("telegram", String(ctx.chat.id), String(ctx.msg.migrate_to_chat_id))));
  bot.on("message:migrate_from_chat_id", (ctx) => detach(core.serverMoved("telegram", String(ctx.msg.migrate_from_chat_id), String(ctx.chat.id))));

  bot.on("callback_query:data", async (ctx) => {
    const button = parseButtonData(ctx.callbackQuery.data);
    if (!button) return void (await ctx.answerCallbackQuery({ text: "This button has expired: send the command again." }));
    if (button.ownerId !== String(ctx.from.id)) return void (await ctx.answerCallbackQuery({ text: BUTTON_NOT_YOURS }));
    const { action, arg: name } = button;
    const owner = ctx.from.id;
    // A deleting button pressed long after its question would act on the faces the user has now (a new face of an
    // old name, everything saved since): refused. Telegram dates a message it no longer shows the bot (over 48 h) 0.
    const deletes = action === "del" || action === "delyes" || (action === "forget" && name === "yes");
    const message = ctx.callbackQuery.message;
    // The delete question is the list edited into it (🗑): asked when it was edited, not when the list was sent.
    const sent = message?.date && action === "delyes" && "edit_date" in message && message.edit_date ? message.edit_date : message?.date;
    if (deletes && (!sent || buttonTooOld(sent * 1000))) {
      return void (await ctx.answerCallbackQuery({ text: BUTTON_TOO_OLD, show_alert: true }));
    }
    if (action === "del") {
      // A deleted face cannot be brought back: the list becomes the question, as /forget asks first.
      await ctx.answerCallbackQuery();
      const question = deleteFaceQuestion(name);
      const keyboard = new InlineKeyboard().text("Delete", buttonData("delyes", owner, name)).text("Cancel", buttonData("delno", owner, name));
      await ctx.editMessageText(question, { reply_markup: keyboard }).catch(async (err: unknown) => {
        // The list could not become the question (deleted meanwhile, say): asked in a message of its own.
        logger.warn({ err }, "telegram: could not edit the list of faces into the question");
        await ctx.api.sendMessage(ctx.chat!.id, question, { ...threadOf(ctx), reply_markup: keyboard });
      });
      return;
    }
    const c = await contextOf(ctx, false);
    let reply: Reply;
    if (action === "def") reply = await core.faceDefault(c, { name });
    else if (action === "delyes") reply = await core.faceRemove(c, { name });
    else if (action === "delno") reply = { text: NOTHING_DELETED, ephemeral: true };
    else if (action === "forget") reply = name === "yes" ? await core.forgetMe(c, { confirm: true }) : { text: NOTHING_DELETED, ephemeral: true };
    else return void (await ctx.answerCallbackQuery());
    const toast = toastText(reply.text);
    await ctx.answerCallbackQuery({ text: toast, show_alert: reply.errorCode !== undefined });
    if (action === "def" || action === "delyes" || action === "delno") {
      const list = await core.faceList(c);
      await withoutKeyboardIfRefused(facesKeyboard(list, ctx.from.id), (keyboard) => ctx.editMessageText(list.text, { reply_markup: keyboard })).catch(
        () => undefined,
      );
    } else {
      await ctx.editMessageText(reply.text).catch(() => undefined);
    }
  });

  bot.catch((err) => logger.error({ err: err.error, update: err.ctx.update.update_id }, "telegram handler failed"));

  /** Aborted by stopIntake(): a start still waiting for Telegram gives up. */
  const startAbort = new AbortController();
  let running: Promise<void> | undefined;
  let intakeStopped: Promise<void> | undefined;
  const stopIntake = () =>
    (intakeStopped ??= (async () => {
      accepting = false;
      startAbort.abort();
      if (bot.isRunning()) {
        confirmDeadline = AbortSignal.timeout(STOP_CONFIRM_MS);
        // Polling ends at once; grammY's confirmation of the updates taken goes on as work in flight (settled()
        // waits for it), so it never adds to the drain. Giving up on it loses no update: Telegram forgets an
        // update only once a getUpdates names a later offset, so unconfirmed ones (those handled here included)
        // go to the next start again.
        inFlight.track(
          bot.stop().catch((err: unknown) =>
            logger.warn({ err }, "telegram: could not confirm the updates taken before shutdown; the next start gets them again (some may be answered twice)"),
          ),
        );
      }
      await running;
    })());

  /** getMe until Telegram answers (src/bots/reach.ts). */
  const reachTelegram = (): Promise<UserFromGetMe> =>
    untilReached({
      platform: "Telegram",
      where: opts.apiRoot ? ` at TELEGRAM_API_ROOT=${redactUrl(apiRoot)}` : ` at ${apiRoot} (check the network)`,
      signal: startAbort.signal,
      attemptTimeoutMs: REACH_ATTEMPT_MS,
      attempt: (signal) => bot.api.getMe(signal as unknown as Parameters<typeof bot.api.getMe>[0]),
      verdict: (err) => {
        if (err instanceof GrammyError) {
          const refused = refusedAtStart(err, opts.apiRoot);
          if (refused) return { fail: refused };
          return { retry: unreachableReason(err, opts.token), waitMs: err.error_code === 429 ? (retryAfterOf(err) ?? 0) * 1000 : undefined };
        }
        return err instanceof HttpError ? { retry: unreachableReason(err, opts.token) } : { fail: err };
      },
    });

  /**
   * The command menu ("/" in a chat), set at each start so it follows this version's commands. Best effort, beside
   * start-up: a failure only warns (commands typed in full still work), and shutdown ends a call still waiting.
   */
  const setCommandMenu = () =>
    detach(
      bot.api
        .setMyCommands(
          [...BOT_COMMANDS],
          undefined,
          AbortSignal.any([startAbort.signal, AbortSignal.timeout(REACH_ATTEMPT_MS)]) as unknown as Parameters<typeof bot.api.setMyCommands>[2],
        )
        .catch((err: unknown) => {
          if (!startAbort.signal.aborted) logger.warn({ err }, "telegram: could not set the command menu (typing / shows no list); commands still work");
        }),
    );

  return {
    bot,
    async start() {
      if (!bot.isInited()) bot.botInfo = await reachTelegram();
      setCommandMenu();
      let started = false;
      await new Promise<void>((resolve, reject) => {
        const onStart = () => {
          started = true;
          resolve();
        };
        running = bot.start({ onStart, allowed_updates: ["message", "callback_query"] }).catch((err: unknown) => {
          if (!started) return reject(err);
          logger.error({ err }, "telegram polling stopped after start-up: the bot no longer receives messages");
          opts.onFatal?.(err);
        });
      });
      logger.info({ username: bot.botInfo.username }, "telegram bot ready");
    },
    stopIntake,
    settled: (graceMs) => inFlight.settled(graceMs),
    async stop() {
      await stopIntake();
      await inFlight.settled();
    },
    async answerLate(note, text, signal) {
      const { chatId, threadId, messageId, statusId } = lostCommand.parse(JSON.parse(note));
      const abort = signal as unknown as Parameters<typeof bot.api.sendMessage>[3];
      // Already gone (deleted by someone, or too old for a bot to delete) is no reason to keep the apology back.
      if (statusId !== undefined) await bot.api.deleteMessage(chatId, statusId, abort).catch(() => undefined);
      await bot.api.sendMessage(
        chatId,
        text,
        {
          ...(threadId !== undefined && { message_thread_id: threadId }),
          ...(messageId !== undefined && { reply_parameters: { message_id: messageId, allow_sending_without_reply: true } }),
        },
        abort,
      );
    },
  };
}
