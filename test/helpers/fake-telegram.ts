import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readBody } from "./read-body.ts";

/**
 * A fake Telegram Bot API on 127.0.0.1 for driving the real grammY Bot: long-polled getUpdates, the
 * send/edit/delete methods Mimic uses (multipart uploads parsed by busboy, which, unlike undici's
 * formData(), accepts grammY's unquoted filenames), getFile + /file downloads, getChatMember.
 */

export interface RecordedCall {
  method: string;
  params: Record<string, unknown>;
  /** What the fake answered (a sent message, for example), once it has. */
  result?: unknown;
  files: Record<string, { bytes: Buffer; filename: string; mime: string }>;
  at: number;
}

interface Chat {
  id: number;
  type: "private" | "group" | "supergroup";
  title?: string;
}

interface User {
  id: number;
  is_bot: false;
  first_name: string;
  username?: string;
}

export interface StoredFile {
  file_id: string;
  file_unique_id: string;
  file_path: string;
  file_size: number;
}

export class FakeTelegram {
  /** The most buttons Telegram takes in one inline keyboard. */
  static readonly MAX_INLINE_BUTTONS = 100;
  readonly calls: RecordedCall[] = [];
  readonly botInfo = {
    id: 4242,
    is_bot: true as const,
    first_name: "Mimic",
    username: "mimic_test_bot",
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
    has_topics_enabled: false,
    allows_users_to_create_topics: false,
  };
  /** `${chatId}:${userId}` → status; default "member". */
  /** Users who sent an update, by id: getChatMember answers with them. */
  readonly usersSeen = new Map<number, User>();
  readonly memberStatus = new Map<string, "creator" | "administrator" | "member" | "restricted">();
  /**
   * A restricted member's rights, by "chat:user" (default: text only, no media, as a group's "no media" restriction);
   * an administrator's admin rights (default: those Telegram ticks when promoting someone; all false plays an admin
   * with a title only).
   */
  readonly memberRights = new Map<string, Record<string, boolean>>();

  /** The command menu the bot set (setMyCommands), as getMyCommands answers it. */
  commands: { command: string; description: string }[] = [];

  private updates: unknown[] = [];
  private nextUpdateId = 1;
  private nextMessageId = 1000;
  private nextFile = 1;
  private files = new Map<string, { meta: StoredFile; bytes: Buffer }>();
  private pollers: (() => void)[] = [];
  private waiters: { pred: (c: RecordedCall) => boolean; resolve: (c: RecordedCall) => void }[] = [];
  /**
   * Method → error answer, to play Telegram refusing a call (e.g. sendPhoto's PHOTO_INVALID_DIMENSIONS, a 409
   * getUpdates, a 429 with `parameters: { retry_after }`). With `times`, only that many calls fail, then it is dropped.
   */
  readonly failures = new Map<string, { status: number; description: string; parameters?: Record<string, unknown>; times?: number }>();
  /**
   * Chat id → error answer for every message sent to that chat (sendMessage, sendPhoto, …), to play Telegram
   * refusing one chat only: e.g. 403 "Forbidden: bot can't initiate conversation with a user" for the private
   * chat of a user who never started the bot, or 400 "group chat was upgraded to a supergroup chat" with
   * `parameters: { migrate_to_chat_id }` for a group that became a supergroup.
   */
  readonly chatFailures = new Map<number, { status: number; description: string; parameters?: Record<string, unknown> }>();
  /** Method → how many of its next requests get their connection dropped unanswered (a reset socket). */
  readonly drops = new Map<string, number>();
  /** Bytes served for each downloaded file path, to prove the limits held. */
  readonly downloads: string[] = [];

  private constructor(
    private readonly server: Server,
    readonly token: string,
    readonly apiRoot: string,
  ) {}

  static async start(token = "123:TEST"): Promise<FakeTelegram> {
    let fake!: FakeTelegram;
    const server = createServer((req, res) => void fake.handle(req, res));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    fake = new FakeTelegram(server, token, `http://127.0.0.1:${port}`);
    return fake;
  }

  /** Registers a downloadable file (what a user's upload becomes on Telegram's side). */
  addFile(bytes: Uint8Array, ext = "jpg", declaredSize?: number): StoredFile {
    const n = this.nextFile++;
    const meta: StoredFile = {
      file_id: `file-${n}`,
      file_unique_id: `u${n}`,
      file_path: `photos/file_${n}.${ext}`,
      file_size: declaredSize ?? bytes.byteLength,
    };
    this.files.set(meta.file_id, { meta, bytes: Buffer.from(bytes) });
    return meta;
  }

  /** Delivers an update from a user: a message in `chat` (returns the message as sent). */
  sendMessage(chat: Chat, from: User, fields: Record<string, unknown>): Record<string, unknown> {
    this.usersSeen.set(from.id, from);
    const message = { message_id: this.nextMessageId++, date: Math.floor(Date.now() / 1000), chat, from, ...fields };
    this.push({ message });
    return message;
  }

  /** A photo message (optionally with caption / reply) whose largest size is `file`. */
  sendPhoto(chat: Chat, from: User, file: StoredFile, extra: Record<string, unknown> = {}) {
    return this.sendMessage(chat, from, {
      photo: [{ file_id: file.file_id, file_unique_id: file.file_unique_id, width: 512, height: 512, file_size: file.file_size }],
      ...extra,
    });
  }

  /** A command text, optionally replying to an earlier message. */
  sendCommand(chat: Chat, from: User, text: string, replyTo?: Record<string, unknown>) {
    const command = text.match(/^\/\w+/)![0];
    return this.sendMessage(chat, from, {
      text,
      entities: [{ type: "bot_command", offset: 0, length: command.length }],
      ...(replyTo ? { reply_to_message: replyTo } : {}),
    });
  }

  /**
   * A press of an inline button under `message` (its `date`, in seconds, is when the message was sent: Telegram
   * gives 0 for one the bot can no longer access, older than 48 hours).
   */
  pressButton(chat: Chat, from: User, message: Record<string, unknown>, data: string) {
    this.usersSeen.set(from.id, from);
    this.push({ callback_query: { id: `cb-${this.nextUpdateId}`, from, chat_instance: "ci", message, data } });
  }

  private push(update: Record<string, unknown>) {
    this.updates.push({ update_id: this.nextUpdateId++, ...update });
    for (const p of this.pollers.splice(0)) p();
  }

  /** Resolves with the first call (already made or future) matching `pred`. */
  waitFor(pred: (c: RecordedCall) => boolean, timeoutMs = 30_000): Promise<RecordedCall> {
    const seen = this.calls.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`FakeTelegram: no matching call within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      });
    });
  }

  /** The next call of `method` after the current call count. */
  nextCall(method: string | string[], timeoutMs?: number): Promise<RecordedCall> {
    const from = this.calls.length;
    const methods = Array.isArray(method) ? method : [method];
    return this.waitFor((c) => this.calls.indexOf(c) >= from && methods.includes(c.method), timeoutMs);
  }

  /**
   * The first message the bot sends (of `methods`, already or from now on) as a reply to `message`: a command's
   * answer, which another message's (a pointer after a photo in a private chat) cannot be taken for.
   */
  answerTo(message: Record<string, unknown>, methods: string | string[] = "sendMessage", timeoutMs?: number): Promise<RecordedCall> {
    const list = Array.isArray(methods) ? methods : [methods];
    const chatId = (message.chat as Chat).id;
    return this.waitFor(
      (c) =>
        list.includes(c.method) &&
        Number(c.params.chat_id) === chatId &&
        (c.params.reply_parameters as { message_id?: number } | undefined)?.message_id === message.message_id,
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    for (const p of this.pollers.splice(0)) p();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", this.apiRoot);
    const fileMatch = url.pathname.match(/^\/file\/bot([^/]+)\/(.+)$/);
    if (fileMatch) {
      const entry = [...this.files.values()].find((f) => f.meta.file_path === fileMatch[2]);
      if (fileMatch[1] !== this.token || !entry) return this.json(res, 404, { ok: false, description: "Not Found" });
      this.downloads.push(entry.meta.file_path);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": entry.bytes.length });
      res.end(entry.bytes);
      return;
    }
    const m = url.pathname.match(/^\/bot([^/]+)\/(\w+)$/);
    if (!m || m[1] !== this.token) return this.json(res, 401, { ok: false, error_code: 401, description: "Unauthorized" });
    const method = m[2];
    const { params, files } = await this.readParams(req);
    const call: RecordedCall = { method, params, files, at: performance.now() };
    if (method !== "getUpdates") {
      this.calls.push(call);
      for (const w of this.waiters.slice()) {
        if (w.pred(call)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(call);
        }
      }
    }
    const drops = this.drops.get(method) ?? 0;
    if (drops > 0) {
      this.drops.set(method, drops - 1);
      req.socket.destroy();
      return;
    }
    const failure = this.failures.get(method);
    if (failure) {
      if (failure.times !== undefined && --failure.times <= 0) this.failures.delete(method);
      return this.json(res, failure.status, { ok: false, error_code: failure.status, description: failure.description, parameters: failure.parameters });
    }
    const chatFailure = method.startsWith("send") ? this.chatFailures.get(Number(params.chat_id)) : undefined;
    if (chatFailure) {
      return this.json(res, chatFailure.status, { ok: false, error_code: chatFailure.status, description: chatFailure.description, parameters: chatFailure.parameters });
    }
    const ok = (result: unknown) => ((call.result = result), this.json(res, 200, { ok: true, result }));
    // As Telegram: an inline keyboard of more than 100 buttons is refused, and the message with it.
    const keyboard = (params.reply_markup as { inline_keyboard?: unknown[][] } | undefined)?.inline_keyboard;
    if (keyboard && keyboard.flat().length > FakeTelegram.MAX_INLINE_BUTTONS) {
      return this.json(res, 400, { ok: false, error_code: 400, description: "Bad Request: reply markup is too long" });
    }
    const chatOf = (id: unknown): Chat => ({ id: Number(id), type: Number(id) < 0 ? "supergroup" : "private" });
    switch (method) {
      case "getMe":
        return ok(this.botInfo);
      case "deleteWebhook":
      case "sendChatAction":
      case "answerCallbackQuery":
      case "deleteMessage":
        return ok(true);
      case "getUpdates": {
        const offset = Number(params.offset ?? 0);
        this.updates = this.updates.filter((u) => (u as { update_id: number }).update_id >= offset);
        if (this.updates.length === 0) {
          const timeoutS = Number(params.timeout ?? 0);
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, Math.min(timeoutS, 2) * 1000);
            this.pollers.push(() => {
              clearTimeout(t);
              resolve();
            });
          });
        }
        if (res.destroyed) return;
        // As the Bot API: at most `limit` updates per answer (1–100, default 100).
        const limit = Math.min(100, Math.max(1, Number(params.limit ?? 100)));
        return ok(this.updates.filter((u) => (u as { update_id: number }).update_id >= offset).slice(0, limit));
      }
      case "getFile": {
        const f = this.files.get(String(params.file_id));
        if (!f) return this.json(res, 400, { ok: false, error_code: 400, description: "Bad Request: invalid file_id" });
        // The real Bot API refuses files over 20 MB here.
        // The Bot API server's MAX_DOWNLOAD_FILE_SIZE (20 << 20).
        if (f.meta.file_size > 20 * 1024 * 1024) return this.json(res, 400, { ok: false, error_code: 400, description: "Bad Request: file is too big" });
        return ok(f.meta);
      }
      case "setMyCommands":
        this.commands = (params.commands as typeof this.commands | undefined) ?? [];
        return ok(true);
      case "getMyCommands":
        return ok(this.commands);
      case "getChatMember": {
        const status = this.memberStatus.get(`${params.chat_id}:${params.user_id}`) ?? "member";
        // A member as Telegram gives one: the user who wrote in a chat here; one never seen is not found.
        const user = this.usersSeen.get(Number(params.user_id));
        if (!user) return this.json(res, 400, { ok: false, error_code: 400, description: "Bad Request: user not found" });
        if (status === "creator") return ok({ status, user, is_anonymous: false });
        if (status === "administrator") {
          const admin = { can_be_edited: false, is_anonymous: false, can_manage_chat: true, can_delete_messages: true, can_manage_video_chats: true, can_restrict_members: true, can_promote_members: false, can_change_info: true, can_invite_users: true, can_post_stories: false, can_edit_stories: false, can_delete_stories: false, can_pin_messages: true, can_manage_topics: true };
          return ok({ status, user, ...admin, ...this.memberRights.get(`${params.chat_id}:${params.user_id}`) });
        }
        if (status !== "restricted") return ok({ status, user });
        const media = { can_send_audios: false, can_send_documents: false, can_send_photos: false, can_send_videos: false, can_send_video_notes: false, can_send_voice_notes: false, can_send_polls: false, can_send_other_messages: false };
        const rights = this.memberRights.get(`${params.chat_id}:${params.user_id}`) ?? {};
        return ok({ status, user, is_member: true, can_send_messages: true, ...media, can_add_web_page_previews: false, can_change_info: false, can_invite_users: false, can_pin_messages: false, can_manage_topics: false, until_date: 0, ...rights });
      }
      case "sendMessage":
      case "sendPhoto":
      case "sendAnimation":
      case "sendDocument":
        return ok({
          message_id: this.nextMessageId++,
          date: Math.floor(Date.now() / 1000),
          chat: chatOf(params.chat_id),
          from: this.botInfo,
          ...(method === "sendMessage" ? { text: params.text } : { caption: params.caption }),
        });
      case "editMessageText":
        return ok({
          message_id: Number(params.message_id ?? 0),
          date: Math.floor(Date.now() / 1000),
          chat: chatOf(params.chat_id),
          text: params.text,
        });
      default:
        return this.json(res, 404, { ok: false, error_code: 404, description: `Not Found: method ${method}` });
    }
  }

  private json(res: ServerResponse, status: number, body: unknown) {
    if (res.destroyed) return;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  }

  private async readParams(req: IncomingMessage): Promise<{ params: Record<string, unknown>; files: RecordedCall["files"] }> {
    const body = await readBody(req);
    if (body.json !== undefined) return { params: body.json as Record<string, unknown>, files: {} };
    const params = Object.fromEntries(Object.entries(body.fields).map(([k, v]) => [k, parseValue(v)]));
    const files: RecordedCall["files"] = {};
    for (const f of body.files) files[f.field] = { bytes: f.bytes, filename: f.filename, mime: f.mime };
    return { params, files };
  }

}

function parseValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** The uploaded file of a sendPhoto/sendAnimation/sendDocument call (grammY attaches it by reference). */
export function uploadedFile(call: RecordedCall): { bytes: Buffer; filename: string; mime: string } {
  const field = call.method === "sendAnimation" ? "animation" : call.method === "sendDocument" ? "document" : "photo";
  const ref = String(call.params[field] ?? "");
  const key = ref.startsWith("attach://") ? ref.slice("attach://".length) : field;
  const file = call.files[key] ?? Object.values(call.files)[0];
  if (!file) throw new Error(`no file uploaded in ${call.method}`);
  return file;
}
