import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { readBody } from "./read-body.ts";

/**
 * A fake Discord for driving the real discord.js Client offline: a gateway (HELLO, heartbeat ACK,
 * READY, GUILD_CREATE, INTERACTION_CREATE dispatch) and the REST routes Mimic uses (a guild member, a user, interaction
 * callbacks, webhook edits/follow-ups with multipart files, channel messages, command registration),
 * plus a CDN serving attachments and stickers. An interaction's response (@original) is kept as the edits left
 * it: GET returns it, DELETE removes it. Button presses (MESSAGE_COMPONENT) are dispatched too, and their
 * callbacks update the message the button is on (press()). Failures can be injected, with Discord's status and error code, and an
 * answer held back (a slow upload Discord took, or one it lost). Everything on one 127.0.0.1 port.
 */

export interface RestCall {
  method: string;
  path: string;
  query: URLSearchParams;
  json: Record<string, unknown> | unknown[] | undefined;
  files: { field: string; filename: string; mime: string; bytes: Buffer }[];
  at: number;
  /** Set when the fake had no route for it, or answered with an injected failure. */
  status?: number;
  /** Set when its answer was held back (holdNext). */
  held?: boolean;
  /** The Authorization header, when the request carried one. */
  authorization?: string;
}

export interface FakeUser {
  id: string;
  username: string;
}

let snowflake = BigInt(Date.now() - 1420070400000) << 22n;
/** A fresh id carries the time it is made, as Discord's do (the bot times its acknowledgement from an interaction's). */
const nextId = () => {
  const now = BigInt(Date.now() - 1420070400000) << 22n;
  snowflake = snowflake >= now ? snowflake + 1n : now;
  return String(snowflake);
};
/** An id Discord would have given `ageMs` ago (a snowflake carries its time: discord.js reads createdTimestamp from it). */
const idFromAgo = (ageMs: number) => String((BigInt(Date.now() - ageMs - 1420070400000) << 22n) + (++snowflake & 0x3fffffn));

/** Discord permission bits used by the tests. */
/**
 * A member's permissions in the channel: an ordinary member sees it, writes, attaches files and reads its history
 * (Discord's defaults for @everyone); an admin may also manage the server.
 */
const MEMBER = (1n << 10n) | (1n << 11n) | (1n << 15n) | (1n << 16n);
export const PERMISSIONS = { none: "0", member: String(MEMBER), manageGuild: String(MEMBER | (1n << 5n)) } as const;

export class FakeDiscord {
  readonly appId = "900000000000000001";
  readonly botUser = { id: "900000000000000001", username: "mimic", discriminator: "0", global_name: "Mimic", avatar: null, bot: true };
  readonly guildId = "800000000000000001";
  readonly channelId = "800000000000000002";
  readonly dmChannelId = "800000000000000003";
  readonly calls: RestCall[] = [];
  /** Paths the CDN served (attachments, stickers), in order. */
  readonly cdnServed: string[] = [];
  /** Messages returned by GET /channels/{id}/messages, newest first. */
  channelMessages: Record<string, unknown>[] = [];
  /**
   * The role that grants Manage Server, and the users GET /guilds/{id}/members/{user} gives it (others: none; absent:
   * Unknown Member, and Unknown User for GET /users/{user}).
   */
  readonly adminRoleId = "800000000000000009";
  readonly admins = new Set<string>();
  readonly absentMembers = new Set<string>();
  /** Server nicknames GET /guilds/{id}/members/{user} gives (a member's display name there). */
  readonly nicknames = new Map<string, string>();
  /** Per interaction id: ms from INTERACTION_CREATE sent to its callback received. */
  readonly ackLatencyMs = new Map<string, number>();

  private sockets = new Set<WebSocket>();
  private seq = 0;
  private attachments = new Map<string, { bytes: Buffer; mime: string }>();
  private dispatchedAt = new Map<string, number>();
  private waiters: { pred: (c: RestCall) => boolean; resolve: (c: RestCall) => void }[] = [];
  private failures: { pred: (c: RestCall) => boolean; status: number; error: { code?: number; message?: string } }[] = [];
  private holds: { pred: (c: RestCall) => boolean; accept: boolean; ms?: number }[] = [];
  /** Per interaction token: its response (@original) as the last edit left it; null once deleted. */
  private originals = new Map<string, Record<string, unknown> | null>();
  /** Per button press (its token): the message the button is on, until the press answers with a message of its own. */
  private componentMessages = new Map<string, Record<string, unknown>>();

  /** A message changed by a button press: kept as @original of the press, and of every interaction whose response it is. */
  private updateMessage(token: string, message: Record<string, unknown>) {
    this.originals.set(token, message);
    for (const [t, m] of this.originals) if (t !== token && m && m.id === message.id) this.originals.set(t, message);
  }

  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    readonly base: string,
    readonly token: string,
  ) {}

  static async start(token = "fake-discord-token"): Promise<FakeDiscord> {
    let fake!: FakeDiscord;
    const server = createServer((req, res) => void fake.handle(req, res));
    const wss = new WebSocketServer({ server });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    fake = new FakeDiscord(server, wss, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token);
    wss.on("connection", (ws) => fake.onSocket(ws));
    return fake;
  }

  /** Hosts bytes on the fake CDN; returns the attachment object an interaction/message carries. */
  addAttachment(bytes: Uint8Array, filename: string, mime: string, declaredSize?: number) {
    const id = nextId();
    const path = `/attachments/${this.channelId}/${id}/${filename}`;
    this.attachments.set(path, { bytes: Buffer.from(bytes), mime });
    return {
      id,
      filename,
      size: declaredSize ?? bytes.byteLength,
      url: `${this.base}${path}`,
      proxy_url: `${this.base}${path}`,
      content_type: mime,
    };
  }

  /** Sticker format types (Discord's format_type). */
  static readonly STICKER = { png: 1, apng: 2, lottie: 3, gif: 4 } as const;

  /** Hosts a sticker on the fake CDN at stickers/{id}.png, .gif (GIF) or .json (Lottie); returns its sticker item. */
  addSticker(bytes: Uint8Array, name: string, formatType: 1 | 2 | 3 | 4) {
    const id = nextId();
    const [ext, mime] = formatType === 4 ? ["gif", "image/gif"] : formatType === 3 ? ["json", "application/json"] : ["png", "image/png"];
    this.attachments.set(`/stickers/${id}.${ext}`, { bytes: Buffer.from(bytes), mime });
    return { id, name, format_type: formatType };
  }

  /**
   * A forwarded message as Discord sends it (flags 16384, a message_reference of type 1): it carries nothing
   * itself, the forwarded content is in message_snapshots[0].message.
   */
  forward(
    author: FakeUser,
    snapshot: { attachments?: ReturnType<FakeDiscord["addAttachment"]>[]; embeds?: Record<string, unknown>[]; sticker_items?: ReturnType<FakeDiscord["addSticker"]>[]; content?: string },
  ) {
    const { sticker_items, ...fields } = snapshot;
    const message = { type: 0, content: "", embeds: [], attachments: [], timestamp: new Date().toISOString(), edited_timestamp: null, flags: 0, mentions: [], mention_roles: [], ...fields, ...(sticker_items ? { sticker_items } : {}) };
    return {
      ...this.message(author),
      flags: 16384,
      message_reference: { type: 1, message_id: nextId(), channel_id: "800000000000000099", guild_id: this.guildId },
      message_snapshots: [{ message }],
    };
  }

  /** Sends INTERACTION_CREATE; returns its id and token. */
  interact(opts: {
    user: FakeUser;
    permissions?: string;
    /** 2: application command, 3: message component (a button press: see press()), 4: autocomplete. */
    type?: 2 | 3 | 4;
    /** A component's interaction: the message the component is on. */
    message?: Record<string, unknown>;
    data: Record<string, unknown>;
    attachmentSizeLimit?: number;
    /** A direct message with the bot: no guild, no member, a DM channel. */
    dm?: boolean;
    /** What the app may do in the channel (a permission bit set); default: everything. */
    appPermissions?: string;
    /** A command made this long ago (its id says when), e.g. one near the end of its 15 minutes. */
    ageMs?: number;
    /** The server's channel (or thread, forum post) it is made in, as Discord sends it; default #memes. */
    channel?: Record<string, unknown>;
  }): { id: string; token: string } {
    const id = opts.ageMs ? idFromAgo(opts.ageMs) : nextId();
    const token = `itoken-${randomBytes(6).toString("hex")}`;
    const user = { ...opts.user, discriminator: "0", global_name: opts.user.username, avatar: null };
    const where = opts.dm
      ? {
          channel_id: this.dmChannelId,
          channel: { id: this.dmChannelId, type: 1, recipients: [user] },
          user,
          authorizing_integration_owners: { "1": opts.user.id },
          context: 1,
        }
      : {
          guild_id: this.guildId,
          guild: { id: this.guildId, locale: "en-US", features: [] },
          channel_id: opts.channel ? String(opts.channel.id) : this.channelId,
          channel: opts.channel ?? { id: this.channelId, type: 0, guild_id: this.guildId, name: "memes" },
          member: {
            user,
            roles: [],
            joined_at: new Date().toISOString(),
            deaf: false,
            mute: false,
            flags: 0,
            permissions: opts.permissions ?? PERMISSIONS.member,
          },
          guild_locale: "en-US",
          authorizing_integration_owners: { "0": this.guildId },
          context: 0,
        };
    const d = {
      id,
      application_id: this.appId,
      type: opts.type ?? 2,
      data: opts.data,
      ...where,
      token,
      version: 1,
      app_permissions: opts.appPermissions ?? "2147483647",
      locale: "en-US",
      entitlements: [],
      attachment_size_limit: opts.attachmentSizeLimit ?? 10 * 1024 * 1024,
      ...(opts.message ? { message: { ...opts.message, channel_id: where.channel_id } } : {}),
    };
    this.dispatchedAt.set(id, performance.now());
    this.dispatch("INTERACTION_CREATE", d);
    return { id, token };
  }

  /** A slash command interaction with options; attachments are put into data.resolved. */
  slash(
    user: FakeUser,
    name: string,
    options: { name: string; type: number; value?: unknown; focused?: boolean; options?: unknown[] }[],
    extra: {
      permissions?: string;
      attachments?: ReturnType<FakeDiscord["addAttachment"]>[];
      type?: 2 | 4;
      attachmentSizeLimit?: number;
      dm?: boolean;
      appPermissions?: string;
      ageMs?: number;
      channel?: Record<string, unknown>;
    } = {},
  ) {
    const resolved = extra.attachments?.length ? { attachments: Object.fromEntries(extra.attachments.map((a) => [a.id, a])) } : undefined;
    return this.interact({
      user,
      permissions: extra.permissions,
      appPermissions: extra.appPermissions,
      ageMs: extra.ageMs,
      type: extra.type,
      attachmentSizeLimit: extra.attachmentSizeLimit,
      dm: extra.dm,
      channel: extra.channel,
      data: { id: nextId(), name, type: 1, options, ...(resolved ? { resolved } : {}) },
    });
  }

  /**
   * A press of the button `customId` on `message` (the bot's message carrying it, e.g. original(token) of the
   * command that sent it) by `user`: a MESSAGE_COMPONENT interaction. Its callback UPDATE_MESSAGE (7), or
   * DEFERRED_UPDATE_MESSAGE (6) then an edit of @original, changes that message: original(token) of the command
   * shows it too. A reply (4, 5) is a message of its own, as on Discord. `ageMs`: the message was sent that long ago.
   */
  press(user: FakeUser, message: Record<string, unknown>, customId: string, extra: { dm?: boolean; permissions?: string; ageMs?: number } = {}) {
    // A message sent `ageMs` ago has an id that says so (discord.js reads its createdTimestamp from it): the press
    // is on that copy, and what it changes shows on it (original() of the press), not on the command's message.
    const on = extra.ageMs ? { ...message, id: idFromAgo(extra.ageMs) } : message;
    const pressed = this.interact({ user, type: 3, dm: extra.dm, permissions: extra.permissions, message: on, data: { custom_id: customId, component_type: 2 } });
    this.componentMessages.set(pressed.token, on);
    return pressed;
  }

  /** A user message as the API returns it (for context menus and channel history). */
  message(author: FakeUser, attachments: ReturnType<FakeDiscord["addAttachment"]>[] = [], content = "", embeds: Record<string, unknown>[] = []) {
    return {
      id: nextId(),
      channel_id: this.channelId,
      author: { ...author, discriminator: "0", global_name: author.username, avatar: null },
      content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments,
      embeds,
      pinned: false,
      type: 0,
    };
  }

  /** The "Mimic this" message context-menu command on `target`. */
  contextMenu(user: FakeUser, target: ReturnType<FakeDiscord["message"]> & Record<string, unknown>) {
    return this.interact({
      user,
      data: { id: nextId(), name: "Mimic this", type: 3, target_id: target.id, resolved: { messages: { [target.id]: target } } },
    });
  }

  waitFor(pred: (c: RestCall) => boolean, timeoutMs = 30_000): Promise<RestCall> {
    const seen = this.calls.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`FakeDiscord: no matching REST call within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      });
    });
  }

  /** The final answer to an interaction: an edit of @original with content or files, or an ephemeral follow-up. */
  finalAnswer(token: string, timeoutMs = 60_000): Promise<RestCall> {
    return this.waitFor(
      (c) =>
        c.path.includes(`/webhooks/${this.appId}/${token}`) &&
        ((c.method === "PATCH" && (c.files.length > 0 || !isProgressText(c))) || c.method === "POST"),
      timeoutMs,
    );
  }

  /**
   * The next REST call matching `pred` is answered with `status` (a transport failure as the bot sees it), and
   * Discord's JSON error (default: code 50035, "Injected failure"). Nothing it asked for is done.
   */
  failNext(pred: (c: RestCall) => boolean, status = 400, error: { code?: number; message?: string } = {}): void {
    this.failures.push({ pred, status, error });
  }

  /** Interaction tokens past Discord's 15 minutes: every webhook call on them is refused (401, 50027), as Discord does. */
  readonly expiredTokens = new Set<string>();

  /**
   * The next REST call matching `pred` is answered late: after `ms`, or never (until close). With `accept` Discord
   * did what it asked at once (an edit shows on GET @original), only its answer is slow; without, the call is lost.
   */
  holdNext(pred: (c: RestCall) => boolean, opts: { accept: boolean; ms?: number }): void {
    this.holds.push({ pred, ...opts });
  }

  /** An interaction's response (@original) as Discord has it now; null once deleted, undefined if never made. */
  original(token: string): Record<string, unknown> | null | undefined {
    return this.originals.get(token);
  }

  callsFor(token: string): RestCall[] {
    return this.calls.filter((c) => c.path.includes(token));
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private dispatch(t: string, d: unknown) {
    const payload = JSON.stringify({ op: 0, t, s: ++this.seq, d });
    for (const ws of this.sockets) ws.send(payload);
  }

  private onSocket(ws: WebSocket) {
    this.sockets.add(ws);
    ws.on("close", () => this.sockets.delete(ws));
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 45_000 } }));
    ws.on("message", (raw) => {
      const msg = JSON.parse(String(raw)) as { op: number; d: unknown };
      if (msg.op === 1) ws.send(JSON.stringify({ op: 11 }));
      if (msg.op === 2) {
        const wsUrl = this.base.replace("http", "ws");
        ws.send(
          JSON.stringify({
            op: 0,
            t: "READY",
            s: ++this.seq,
            d: {
              v: 10,
              user: this.botUser,
              guilds: [{ id: this.guildId, unavailable: true }],
              session_id: randomBytes(8).toString("hex"),
              resume_gateway_url: wsUrl,
              application: { id: this.appId, flags: 0 },
              private_channels: [],
            },
          }),
        );
        ws.send(
          JSON.stringify({
            op: 0,
            t: "GUILD_CREATE",
            s: ++this.seq,
            d: {
              id: this.guildId,
              name: "Meme Lab",
              owner_id: "1",
              unavailable: false,
              member_count: 3,
              large: false,
              features: [],
              roles: [
                { id: this.guildId, name: "@everyone", permissions: "0", position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 },
                { id: this.adminRoleId, name: "Admins", permissions: PERMISSIONS.manageGuild, position: 1, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 },
              ],
              channels: [{ id: this.channelId, type: 0, name: "memes", position: 0, permission_overwrites: [] }],
              members: [],
              threads: [],
              emojis: [],
              stickers: [],
              voice_states: [],
              presences: [],
              stage_instances: [],
              guild_scheduled_events: [],
              joined_at: new Date().toISOString(),
              premium_tier: 0,
              preferred_locale: "en-US",
            },
          }),
        );
      }
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", this.base);
    const path = decodeURIComponent(url.pathname);
    const cdn = this.attachments.get(path);
    if (req.method === "GET" && cdn) {
      this.cdnServed.push(path);
      res.writeHead(200, { "content-type": cdn.mime, "content-length": cdn.bytes.length });
      res.end(cdn.bytes);
      return;
    }
    const call: RestCall = { method: req.method ?? "GET", path, query: url.searchParams, json: undefined, files: [], at: performance.now(), authorization: req.headers.authorization };
    await this.readBody(req, call);
    this.calls.push(call);
    for (const w of this.waiters.slice()) {
      if (w.pred(call)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(call);
      }
    }
    let send = (status: number, body?: unknown) => {
      if (res.destroyed || res.writableEnded) return;
      res.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const expired = [...this.expiredTokens].some((t) => path.includes(`/webhooks/${this.appId}/${t}`));
    if (expired) {
      call.status = 401;
      return send(401, { message: "Invalid Webhook Token", code: 50027 });
    }
    const failure = this.failures.find((f) => f.pred(call));
    if (failure) {
      this.failures.splice(this.failures.indexOf(failure), 1);
      call.status = failure.status;
      return send(failure.status, { message: failure.error.message ?? "Injected failure", code: failure.error.code ?? 50035 });
    }
    const hold = this.holds.find((h) => h.pred(call));
    if (hold) {
      this.holds.splice(this.holds.indexOf(hold), 1);
      call.held = true;
      if (!hold.accept) {
        if (hold.ms !== undefined) setTimeout(() => send(504, { message: "Gateway Timeout", code: 0 }), hold.ms).unref();
        return;
      }
      const answer = send;
      const queued: [number, unknown][] = [];
      send = (status, body) => void queued.push([status, body]);
      if (hold.ms !== undefined) setTimeout(() => queued.forEach(([st, b]) => answer(st, b)), hold.ms).unref();
    }
    const api = path.replace(/^\/api\/v10/, "");
    let m: RegExpMatchArray | null;
    // Like Discord: message content over 2,000 characters is refused (Invalid Form Body).
    const sent = (api.includes("/callback") ? (call.json as { data?: { content?: unknown } } | undefined)?.data?.content : (call.json as Record<string, unknown> | undefined)?.content);
    if (typeof sent === "string" && [...sent].length > CONTENT_MAX) {
      call.status = 400;
      return send(400, {
        message: "Invalid Form Body",
        code: 50035,
        errors: { content: { _errors: [{ code: "BASE_TYPE_MAX_LENGTH", message: `Must be ${CONTENT_MAX} or fewer in length.` }] } },
      });
    }
    if (api === "/gateway/bot") {
      return send(200, {
        url: this.base.replace("http", "ws"),
        shards: 1,
        session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 },
      });
    }
    if ((m = api.match(/^\/interactions\/(\d+)\/([^/]+)\/callback$/))) {
      const at = this.dispatchedAt.get(m[1]);
      if (at !== undefined && !this.ackLatencyMs.has(m[1])) this.ackLatencyMs.set(m[1], performance.now() - at);
      // A reply or a deferral ("thinking…") is the interaction's response message.
      const cb = (call.json ?? {}) as { type?: number; data?: { content?: string; flags?: number; components?: unknown[] } };
      const pressedOn = this.componentMessages.get(m[2]!);
      if (pressedOn && (cb.type === 6 || cb.type === 7)) {
        // A button's message is updated (7) or will be by an edit of @original (6).
        this.componentMessages.delete(m[2]!);
        const data = cb.type === 7 ? (cb.data ?? {}) : {};
        this.updateMessage(m[2]!, { ...pressedOn, ...(data.content !== undefined && { content: data.content }), ...(data.components !== undefined && { components: data.components }) });
        return send(204);
      }
      if (pressedOn) this.componentMessages.delete(m[2]!);
      if ((cb.type === 4 || cb.type === 5) && !this.originals.has(m[2]!)) {
        this.originals.set(m[2]!, { ...this.message(this.botUser, [], cb.data?.content ?? ""), flags: cb.data?.flags ?? 0 });
      }
      return send(204);
    }
    if ((m = api.match(/^\/webhooks\/\d+\/([^/]+)(\/messages\/@original)?$/))) {
      const token = m[1]!;
      const onOriginal = !!m[2];
      const kept = onOriginal ? this.originals.get(token) : undefined;
      if (onOriginal && kept === null) return send(404, { message: "Unknown Message", code: 10008 });
      if (req.method === "DELETE") {
        if (onOriginal) this.originals.set(token, null);
        return send(204);
      }
      if (req.method === "GET") return send(200, kept ?? this.message(this.botUser));
      const body = (call.json ?? {}) as Record<string, unknown>;
      const attachments = call.files.map((f) => ({ id: nextId(), filename: f.filename, size: f.bytes.length, url: `${this.base}/x`, proxy_url: `${this.base}/x` }));
      const message = {
        ...(kept ?? {}),
        ...this.message(this.botUser, [], String(body.content ?? "")),
        ...(kept ? { id: kept.id } : {}),
        flags: body.flags ?? kept?.flags ?? 0,
        // An edit without files or an attachments list keeps the message's files, as on Discord; so with buttons.
        attachments: call.files.length > 0 || body.attachments !== undefined || !kept ? attachments : kept.attachments,
        components: body.components ?? kept?.components ?? [],
      };
      if (onOriginal && req.method === "PATCH") this.updateMessage(token, message);
      return send(200, message);
    }
    if ((m = api.match(/^\/guilds\/\d+\/members\/(\d+)$/)) && req.method === "GET") {
      const id = m[1]!;
      if (this.absentMembers.has(id)) return send(404, { message: "Unknown Member", code: 10007 });
      const user = { id, username: `user${id.slice(-2)}`, discriminator: "0", global_name: null, avatar: null };
      const nick = this.nicknames.get(id);
      return send(200, { user, ...(nick !== undefined && { nick }), roles: this.admins.has(id) ? [this.adminRoleId] : [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 });
    }
    // A user (a mention in a DM is looked up so); one of absentMembers is unknown.
    if ((m = api.match(/^\/users\/(\d+)$/)) && req.method === "GET") {
      const id = m[1]!;
      if (this.absentMembers.has(id)) return send(404, { message: "Unknown User", code: 10013 });
      return send(200, { id, username: `user${id.slice(-2)}`, discriminator: "0", global_name: null, avatar: null });
    }
    if ((m = api.match(/^\/channels\/\d+\/messages$/)) && req.method === "GET") {
      return send(200, this.channelMessages);
    }
    // A direct message with the bot token: the DM channel, then a message in it.
    if (api === "/users/@me/channels" && req.method === "POST") {
      const recipient = String((call.json as { recipient_id?: unknown } | undefined)?.recipient_id ?? "");
      return send(200, { id: this.dmChannelId, type: 1, recipients: [{ id: recipient, username: "user", discriminator: "0", global_name: null, avatar: null }] });
    }
    if ((m = api.match(/^\/channels\/(\d+)\/messages$/)) && req.method === "POST") {
      return send(200, { ...this.message(this.botUser, [], String((call.json as { content?: unknown } | undefined)?.content ?? "")), channel_id: m[1] });
    }
    if ((m = api.match(/^\/applications\/\d+(\/guilds\/\d+)?\/commands$/)) && req.method === "PUT") {
      if (req.headers.authorization !== `Bot ${this.token}`) return send(401, { message: "401: Unauthorized", code: 0 });
      const list = (call.json ?? []) as Record<string, unknown>[];
      return send(
        200,
        list.map((c) => ({ ...c, id: nextId(), application_id: this.appId, version: nextId(), ...(m![1] ? { guild_id: this.guildId } : {}) })),
      );
    }
    call.status = 404;
    return send(404, { message: `404: Not Found (${req.method} ${path})`, code: 0 });
  }

  private async readBody(req: IncomingMessage, call: RestCall): Promise<void> {
    const body = await readBody(req);
    if (body.json !== undefined) call.json = body.json as Record<string, unknown>;
    if (body.fields.payload_json) call.json = JSON.parse(body.fields.payload_json) as Record<string, unknown>;
    call.files.push(...body.files);
  }

}

/** Discord's limit on a message's content, in characters. */
export const CONTENT_MAX = 2000;

/** Progress edits ("In the queue…", "Working on it…") are not final answers. */
function isProgressText(c: RestCall): boolean {
  const content = String((c.json as Record<string, unknown> | undefined)?.content ?? "");
  return /^(In the queue|Next in line|Working on it|Almost there)/.test(content);
}

/** Discord's application command option types used by Mimic. */
export const OPT = { subcommand: 1, string: 3, integer: 4, boolean: 5, attachment: 11 } as const;

/** Two guild members, and the ephemeral message flag. */
export const ALICE = { id: "100000000000000011", username: "alice" };
export const BOB = { id: "100000000000000022", username: "bob" };
export const EPHEMERAL = 64;

/** Option builders and readers for slash interactions and the bot's REST answers. */
export const str = (name: string, value: string) => ({ name, type: OPT.string, value });
export const sub = (name: string, options: unknown[] = []) => ({ name, type: OPT.subcommand, options });
export const content = (c: RestCall) => String((c.json as Record<string, unknown> | undefined)?.content ?? "");
export const flagsOf = (c: RestCall) => Number((c.json as Record<string, unknown> | undefined)?.flags ?? 0);
/** The buttons of a message (or a REST call's body): custom id, label and style, row by row flattened. */
export const buttonsOf = (m: Record<string, unknown> | null | undefined) =>
  ((m?.components ?? []) as { components?: { custom_id?: string; label?: string; style?: number }[] }[]).flatMap((row) =>
    (row.components ?? []).map((b) => ({ id: b.custom_id, label: b.label, style: b.style })),
  );
