import { randomUUID } from "node:crypto";
import {
  Client,
  Events,
  GatewayIntentBits,
  MessageFlags,
  PermissionFlagsBits,
  Routes,
  type APIMessage,
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type Message,
  type MessageContextMenuCommandInteraction,
  type RepliableInteraction,
} from "discord.js";
import type { CommandContext, Core, ImageInput, Reply, SettingKey, TransferMode } from "../../core/index.ts";
import { progressReporter, readableMime } from "../../core/index.ts";
import { logger } from "../../logger.ts";
import { shuttingDown } from "../../queue/refusals.ts";
import { createInFlight } from "../in-flight.ts";
import { COMMAND } from "./commands.ts";
import { restOptions } from "./rest.ts";

/**
 * Thin Discord adapter: translates interactions into core calls and core replies into interaction
 * responses. It acknowledges every command at once (deferReply, well inside Discord's 3 s), shows
 * queue progress by editing that reply, and turns failures into ephemeral messages.
 */

export interface DiscordBotOptions {
  core: Core;
  token: string;
  /** DISCORD_API_ROOT: another Discord-compatible endpoint (tests, proxies). */
  apiRoot?: string;
  /** Called once a command was acknowledged (deferReply answered), with the time that took. */
  onAcknowledged?: (info: { command: string; latencyMs: number }) => void;
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
   * Stops intake, waits up to `graceMs` (default 0) for the interactions in flight, then disconnects. Replies
   * still in flight after that can still be sent (interaction responses need no gateway and no bot token).
   */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

/** Discord's limit for bots without boosts; interactions carry the real one. */
const DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024;

interface ImageCandidate {
  url: string;
  size?: number;
  contentType?: string | null;
  name?: string;
}

const IMAGE_EXT = /\.(png|jpe?g|gif|webp|mp4|webm|mov)(\?|$)/i;
/** Pictures, and videos (GIF-picker GIFs are MP4 or WebM, phone clips QuickTime): the bytes are sniffed later. */
const isReactionType = (t: string) => /^(image|video)\//i.test(t.trim());

function firstImage(candidates: ImageCandidate[]): ImageInput | undefined {
  const readable = (a: ImageCandidate) => (a.contentType ? readableMime(a.contentType) : IMAGE_EXT.test(a.name ?? a.url));
  const reaction = (a: ImageCandidate) => (a.contentType ? isReactionType(a.contentType) : IMAGE_EXT.test(a.name ?? a.url));
  // A message with an SVG or HEIC before a JPEG: use the JPEG. Only unreadable pictures: pass the first on,
  // so the core tells the user which formats work.
  const c = candidates.find(readable) ?? candidates.find(reaction);
  return c && { kind: "url", url: c.url, declaredSize: c.size, declaredMime: c.contentType ?? undefined, name: c.name };
}

/**
 * Embed pictures only through Discord's media proxy (proxy_url): the embed's own url is any third-party
 * address a user or a site put there, and fetching it would let anyone aim Mimic at internal hosts (SSRF).
 * Embeds without a proxied copy are skipped. Attachments keep their Discord CDN url.
 */
function embedImages(...proxyUrls: (string | undefined | null)[]): ImageCandidate[] {
  return proxyUrls.filter((u): u is string => !!u).map((url) => ({ url }));
}

function imageOfMessage(m: Message): ImageInput | undefined {
  return firstImage([
    ...m.attachments.map((a) => ({ url: a.url, size: a.size, contentType: a.contentType, name: a.name })),
    // A GIF-picker GIF (gifv) is its video; its thumbnail is a still of it.
    ...m.embeds.flatMap((e) => embedImages(e.image?.proxyURL, e.video?.proxyURL, e.thumbnail?.proxyURL)),
  ]);
}

function imageOfApiMessage(m: APIMessage): ImageInput | undefined {
  return firstImage([
    ...m.attachments.map((a) => ({ url: a.url, size: a.size, contentType: a.content_type, name: a.filename })),
    ...(m.embeds ?? []).flatMap((e) => embedImages(e.image?.proxy_url, e.video?.proxy_url, e.thumbnail?.proxy_url)),
  ]);
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

export const UPLOAD_FAILED_REPLY =
  "Your meme was made, but Discord refused to take it (it is probably too large). Try again with a smaller or shorter reaction image.";

const NO_IMAGE: Reply = {
  text: "I need a reaction image: attach one to the command, or right-click (long-press) a message with a picture → Apps → “Mimic this”.",
  ephemeral: true,
  errorCode: "BAD_INPUT",
};

export function createDiscordBot(opts: DiscordBotOptions): DiscordBot {
  const { core } = opts;
  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: restOptions(opts.apiRoot) });

  const contextOf = (i: RepliableInteraction | AutocompleteInteraction): CommandContext => ({
    platform: "discord",
    userId: i.user.id,
    serverId: i.guildId,
    channelId: i.channelId,
    isAdmin: i.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false,
    requestId: `dc-${i.id}-${randomUUID().slice(0, 8)}`,
    attachmentLimitBytes: i.attachmentSizeLimit || DEFAULT_ATTACHMENT_LIMIT,
    // GIFs autoplay inline; an MP4 (also shown inline) only where the GIF had to lose quality to fit.
    animationFormat: "gif-or-mp4",
  });

  /** The newest picture among the channel's last messages: "/meme" right after someone posted a reaction. */
  async function latestChannelImage(channelId: string | null): Promise<ImageInput | undefined> {
    if (!channelId) return undefined;
    try {
      const messages = (await client.rest.get(Routes.channelMessages(channelId), {
        query: new URLSearchParams({ limit: "20" }),
      })) as APIMessage[];
      const appId = client.application?.id ?? client.user?.id;
      for (const m of messages) {
        // Mimic's own results are not the picture the user means: skip its messages and interaction responses.
        const isResponse = !!(m.interaction_metadata ?? m.interaction) && (m.application_id ?? m.webhook_id) === appId;
        if (m.author.id === client.user?.id || isResponse) continue;
        const img = imageOfApiMessage(m);
        if (img) return img;
      }
    } catch (err) {
      logger.debug({ err, channelId }, "could not read recent channel messages");
    }
    return undefined;
  }

  /** Sends a core Reply as the response to a deferred interaction; failures become ephemeral follow-ups. */
  async function deliver(i: RepliableInteraction, reply: Reply, deferredEphemeral: boolean): Promise<void> {
    const files = reply.file ? [{ attachment: Buffer.from(reply.file.bytes), name: reply.file.name }] : [];
    const content = fitContent(reply.text);
    try {
      if (reply.ephemeral && !deferredEphemeral) {
        // The deferral was public ("Mimic is thinking…"): remove it and answer privately.
        await i.deleteReply().catch(() => undefined);
        await i.followUp({ content, files, flags: MessageFlags.Ephemeral });
        return;
      }
      await i.editReply({ content, files });
    } catch (err) {
      if (!reply.file) throw err;
      // The picture exists but Discord refused the upload: drop the public "Working on it…" and say so privately.
      const f = reply.file;
      logger.error({ err, mime: f.mime, bytes: f.bytes.byteLength, width: f.width, height: f.height, interaction: i.id }, "discord upload failed");
      await reply.undelivered?.();
      if (!deferredEphemeral) await i.deleteReply().catch(() => undefined);
      await i.followUp({ content: UPLOAD_FAILED_REPLY, flags: MessageFlags.Ephemeral });
    }
  }

  /** Commands that render: public deferral, progress edits, then the picture. */
  async function runRender(i: RepliableInteraction, name: string, work: (ctx: CommandContext) => Promise<Reply>) {
    const started = performance.now();
    await i.deferReply();
    opts.onAcknowledged?.({ command: name, latencyMs: performance.now() - started });
    const progress = progressReporter((text) => i.editReply({ content: text }));
    const ctx = { ...contextOf(i), progress: progress.onProgress };
    const reply = await work(ctx);
    await progress.close();
    await deliver(i, reply, false);
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
        return runRender(i, i.commandName, async (ctx) => {
          const att = o.getAttachment("image");
          const image = att
            ? ({ kind: "url", url: att.url, declaredSize: att.size, declaredMime: att.contentType ?? undefined, name: att.name } as const)
            : await latestChannelImage(i.channelId);
          if (!image) return NO_IMAGE;
          const common = {
            image,
            top: o.getString("top") ?? undefined,
            bottom: o.getString("bottom") ?? undefined,
            template: o.getString("template") ?? undefined,
            intensity: o.getInteger("intensity") ?? undefined,
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
            case "delete":
              return core.faceRemove(ctx, { name: o.getString("name", true) });
            case "default":
              return core.faceDefault(ctx, { name: o.getString("name", true) });
            default:
              return core.faceRename(ctx, { from: o.getString("name", true), to: o.getString("new_name", true) });
          }
        });
      }
      case COMMAND.mimic: {
        const sub = o.getSubcommand();
        return runPrivate(i, `mimic ${sub}`, (ctx) => {
          switch (sub) {
            case "usage":
              return core.usage(ctx);
            case "config":
              return core.config(ctx, {
                key: (o.getString("setting") as SettingKey | null) ?? undefined,
                value: o.getString("value") ?? undefined,
              });
            case "audit": {
              const att = o.getAttachment("picture");
              return core.audit(ctx, {
                hash: o.getString("hash") ?? undefined,
                image: att ? { kind: "url", url: att.url, declaredSize: att.size, declaredMime: att.contentType ?? undefined, name: att.name } : undefined,
              });
            }
            default:
              return core.forgetMe(ctx, { confirm: o.getBoolean("confirm", true) });
          }
        });
      }
    }
  }

  async function onMessageContext(i: MessageContextMenuCommandInteraction) {
    return runRender(i, "mimic-this", async (ctx) => {
      const image = imageOfMessage(i.targetMessage);
      if (!image) return { ...NO_IMAGE, text: "That message has no picture I can use. Pick a message with an image or GIF." };
      return core.meme(ctx, { image });
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
    if (i.isRepliable()) await i.reply({ content: shuttingDown().userMessage, flags: MessageFlags.Ephemeral });
  }

  const inFlight = createInFlight((err) => logger.error({ err }, "discord interaction failed"));
  let accepting = true;
  client.on(Events.InteractionCreate, (i) => inFlight.track(accepting ? onInteraction(i) : refuse(i)));
  client.on(Events.Error, (err) => logger.error({ err }, "discord client error"));

  return {
    client,
    async start() {
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      await client.login(opts.token);
      await ready;
      logger.info({ user: client.user?.tag }, "discord bot ready");
    },
    stopIntake() {
      accepting = false;
    },
    settled: (graceMs) => inFlight.settled(graceMs),
    async stop({ graceMs = 0 } = {}) {
      accepting = false;
      if (graceMs > 0) await inFlight.settled(graceMs);
      await client.destroy();
    },
  };
}
