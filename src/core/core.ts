import { randomUUID } from "node:crypto";
import { echoed, formatSize, MimicError, isDatabaseUnreachable, isMimicError, quoted, userMessageOf } from "../errors.ts";
import sharp from "sharp";
import { logger } from "../logger.ts";
import type { Regions } from "../pipeline/transfer/index.ts";
import { MAX_CAPTION_CHARS } from "../pipeline/render/text.ts";
import { parseSha256, sha256Hex as sha256 } from "../templates/hashes.ts";
import { normaliseTemplateName } from "../templates/names.ts";
import { formatDuration, formatWait, swapOff } from "../templates/moderation.ts";
import type { CommandContext, ImageInput, Reply } from "./context.ts";
import { hint } from "./hints.ts";
import { capitalised, channelRef as placeChannelRef, placeWords, serverWord, sharedChat, userRef } from "../places.ts";
import { frameCount, loadImage, refuseByDeclaredType, type FetchLike } from "./input.ts";
import { Turns, TurnWaitTimeout } from "./turns.ts";
import { parseMemeRequest, parseMorphRequest, type Captioned } from "../requests.ts";
import type {
  Admission,
  Captions,
  CorePorts,
  EncodedImage,
  Job,
  JobKind,
  JobResult,
  NumericSetting,
  Owner,
  PlaceFacts,
  Platform,
  Scope,
  ServerSettings,
  SettingKey,
  SettingOutcome,
  TransferMode,
} from "./ports.ts";

/**
 * The platform-neutral command core: one function per user command. Adapters turn a platform event
 * into a CommandContext + plain inputs, call one of these, and render the Reply. Every function
 * resolves (never rejects): failures become ephemeral replies carrying the MimicError's userMessage.
 */

/**
 * What an adapter hands over: the image plus the request's fields, typed options (Discord) or form strings
 * (playground, Telegram's text syntax). They are parsed by src/requests.ts, the one front door: any
 * other field, or a value out of range, is refused by name.
 */
export interface MemeInput {
  image: ImageInput;
  top?: string;
  bottom?: string;
  /** Template name; the user's default when absent. */
  template?: string;
  /** 0..100 % of the reaction's expression (default 100); a form sends it as a string. */
  intensity?: number | string;
  /** mimic | swap; anything else is refused. */
  mode?: TransferMode | string;
  /** Which part of the face takes the reaction's expression (default all): all | upper | lower. */
  regions?: Regions | string;
  /** true: animated output even from a still (a morph); false: a PNG even from a GIF; default: follow the input. */
  animated?: boolean | string;
  /** Captions drawn as typed (default: in capitals); a form sends it as a string. */
  keepCase?: boolean | string;
  /**
   * Another picture of the same message is tried if this one shows no usable face (src/bots/first-face.ts): a
   * moving picture read in vain is given back at once, and its reply's countUnused counts it if none works.
   */
  othersToTry?: boolean;
}

export interface MorphInput {
  image: ImageInput;
  template?: string;
  top?: string;
  bottom?: string;
  intensity?: number | string;
  /** As MemeInput's. */
  keepCase?: boolean | string;
}

export interface ConfigInput {
  /** Absent: show the current settings. */
  key?: SettingKey;
  value?: string;
  /** What the adapter knows of the place (its channels, Mimic's own id), so what the value names can be checked. */
  facts?: PlaceFacts;
}

export interface AuditInput {
  /** Hex SHA-256 of the picture (what `mimic inspect` prints). */
  hash?: string;
  /** Or the picture itself: its bytes are hashed exactly as received. */
  image?: ImageInput;
  /** Or Mimic's own message that carried it (the adapter's reference, as given to Reply.delivered). */
  message?: string;
}

export interface CoreOptions {
  /** MAX_INPUT_BYTES: no input is fetched beyond this, whatever the platform allows. */
  maxInputBytes: number;
  /** Used to download url inputs (tests may inject one); global fetch otherwise. */
  fetch?: FetchLike;
  /** How long a request waits for its user's earlier one before it is answered busy; default TURN_WAIT_MS. */
  turnWaitMs?: number;
  /** A request turned away by the core itself (its user's earlier one seems stuck), for the metrics. */
  onTurnedAway?: (refusal: unknown) => void;
}

export interface Core {
  meme(ctx: CommandContext, input: MemeInput): Promise<Reply>;
  morph(ctx: CommandContext, input: MorphInput): Promise<Reply>;
  faceSave(ctx: CommandContext, input: { name: string; image: ImageInput }): Promise<Reply>;
  faceList(ctx: CommandContext): Promise<Reply>;
  faceRemove(ctx: CommandContext, input: { name: string }): Promise<Reply>;
  faceDefault(ctx: CommandContext, input: { name: string }): Promise<Reply>;
  faceRename(ctx: CommandContext, input: { from: string; to: string }): Promise<Reply>;
  forgetMe(ctx: CommandContext, input: { confirm: boolean }): Promise<Reply>;
  usage(ctx: CommandContext): Promise<Reply>;
  config(ctx: CommandContext, input: ConfigInput): Promise<Reply>;
  /** Admins: who made the picture with this SHA-256 (or this attached picture) on this server. */
  audit(ctx: CommandContext, input: AuditInput): Promise<Reply>;
  /** A small PNG of a saved face (the playground's face picker). */
  faceThumbnail(ctx: CommandContext, input: { name: string }): Promise<Reply>;
  /** Template names of the user starting with `prefix` (case-insensitive), at most 25 (Discord's cap). */
  templateNames(owner: Owner, prefix: string): Promise<string[]>;
  /** A server (chat) got a new id on its platform, e.g. a Telegram group upgraded to a supergroup: what its admins set follows it. */
  serverMoved(platform: Platform, from: string, to: string): Promise<void>;
}

export const SETTING_KEYS: readonly SettingKey[] = ["enabled", "quota", "server_quota", "cooldown", "max_faces", "animated", "channel", "ban", "unban", "mark", "nsfw", "nsfw_threshold", "swap"];
export { MAX_CAPTION_CHARS };

const ownerOf = (ctx: CommandContext): Owner => ({ platform: ctx.platform, userId: ctx.userId });
const scopeOf = (ctx: CommandContext): Scope => ({
  platform: ctx.platform,
  userId: ctx.userId,
  serverId: ctx.serverId,
  channelId: ctx.channelId,
});

/**
 * A use that could not be given back (or marked answered) at once, the database unreachable, is tried again in the
 * background, waiting longer each time, for at most patienceMs: the user's reply never waits for it. Tests shorten these.
 */
export const writeRetry = { firstDelayMs: 1_000, maxDelayMs: 60_000, patienceMs: 30 * 60_000 };

const GAVE_UP = {
  refund: "the use still counts",
  answered: "should this process stop, the use is given back and its user told the answer was lost",
};

/** One write about an admitted use (its refund, or that it was answered): one attempt now, then retries in the background. */
async function reliably(what: "refund" | "answered", write: () => Promise<void>, requestId: string): Promise<void> {
  try {
    await write();
    return;
  } catch (err) {
    logger.warn({ err, requestId }, `${what} failed`);
  }
  const giveUpAt = Date.now() + writeRetry.patienceMs;
  let delay = writeRetry.firstDelayMs;
  const retry = () => {
    // unref: a pending retry never keeps a stopping process alive.
    setTimeout(() => {
      write().then(
        () => logger.info({ requestId }, `${what} done after retrying`),
        (err: unknown) => {
          if (Date.now() + delay >= giveUpAt) return logger.error({ err, requestId }, `${what} failed: gave up retrying; ${GAVE_UP[what]}`);
          delay = Math.min(delay * 2, writeRetry.maxDelayMs);
          retry();
        },
      );
    }, delay).unref();
  };
  retry();
}

/** A store error meaning the database cannot be reached, said as such (like the job queue's), instead of a generic apology. */
function databaseUnreachable(e: unknown): MimicError | undefined {
  if (!isDatabaseUnreachable(e)) return undefined;
  return new MimicError("BUSY", "Mimic cannot reach its database right now. Please try again in a minute.", {
    cause: e,
    retryAfterSeconds: 60,
    details: { reason: "database-unreachable" },
  });
}

function failureReply(e: unknown, ctx: CommandContext): Reply {
  const unreachable = databaseUnreachable(e);
  if (unreachable) {
    logger.warn({ err: e, requestId: ctx.requestId, platform: ctx.platform }, "command failed: the database is unreachable");
    return { text: unreachable.userMessage, ephemeral: true, errorCode: unreachable.code };
  }
  if (!isMimicError(e) || e.code === "INTERNAL") {
    logger.error({ err: e, requestId: ctx.requestId, platform: ctx.platform }, "command failed");
  } else {
    logger.info({ code: e.code, requestId: ctx.requestId, message: e.message }, "command refused");
  }
  const saveHint = isMimicError(e) && e.details?.reason === "noFaces" ? ` Save one with ${hint(ctx.platform, "saveFace")}.` : "";
  return { text: userMessageOf(e) + saveHint, ephemeral: true, errorCode: isMimicError(e) ? e.code : "INTERNAL" };
}

const regionsOf = (opts: { regions?: Regions }) => (opts.regions && opts.regions !== "all" ? { regions: opts.regions } : {});

/** Longest side of a face thumbnail, px. */
const THUMBNAIL_SIZE = 96;

/**
 * Template names follow the store's rule (1–32 of a-z 0-9 _ -, case-insensitive); checked before any work.
 * `fresh` (default): a name to give, which may not start with "-"; false: one to look up.
 */
export function checkTemplateName(name: string, opts: { fresh?: boolean } = { fresh: true }): string {
  return normaliseTemplateName(name, opts);
}

/** The longest a request waits for its user's earlier ones to be admitted; past it, they seem stuck. */
const TURN_WAIT_MS = 45_000;

export function createCore(ports: CorePorts, options: CoreOptions): Core {
  const { templates, moderation, queue, audit } = ports;

  const inputLimit = (ctx: CommandContext) => Math.min(options.maxInputBytes, ctx.downloadLimitBytes ?? Infinity);
  const load = (ctx: CommandContext, image: ImageInput, allowVideo = false) =>
    loadImage(image, { limitBytes: inputLimit(ctx), fetch: options.fetch, signal: ctx.signal, allowVideo }).catch((e: unknown) => {
      // Over the platform's own download limit: said as the platform says it (Telegram: 20 MB), not in MiB.
      if (isMimicError(e) && e.code === "IMAGE_TOO_LARGE" && ctx.downloadLimitMessage && e.details?.limit === ctx.downloadLimitBytes) {
        throw new MimicError("IMAGE_TOO_LARGE", ctx.downloadLimitMessage, { cause: e, details: e.details });
      }
      throw e;
    });

  const turns = new Turns();
  const heldTurns = new WeakMap<CommandContext, () => void>();
  /**
   * This request's turn among its user's requests, held until it is admitted (or refused, or failed). One that
   * waits longer than a download may take is told to wait for the request before it (which seems stuck).
   */
  const takeTurn = async (ctx: CommandContext) => {
    const end = await turns.take(`${ctx.platform}\u0000${ctx.userId}`, { signal: ctx.signal, timeoutMs: options.turnWaitMs ?? TURN_WAIT_MS }).catch((e: unknown) => {
      if (e instanceof TurnWaitTimeout) {
        const busy = new MimicError("BUSY", "You already have a request in progress. Please wait for it to finish before sending another.", { retryAfterSeconds: 60, details: { reason: "user" } });
        options.onTurnedAway?.(busy);
        throw busy;
      }
      // A caller's own reason (an adapter's deadline) says more than "cancelled".
      throw ctx.signal?.reason instanceof MimicError ? ctx.signal.reason : new MimicError("CANCELLED", "The request was cancelled.", { cause: e });
    });
    heldTurns.set(ctx, end);
  };
  const endTurn = (ctx: CommandContext) => heldTurns.get(ctx)?.();

  async function guarded(ctx: CommandContext, fn: () => Promise<Reply>): Promise<Reply> {
    try {
      return await fn();
    } catch (e) {
      const reply = failureReply(e, ctx);
      const later = isMimicError(e) ? (e.details?.countLater as JobKind | undefined) : undefined;
      return later ? { ...reply, countUnused: () => countUnused(ctx, later) } : reply;
    } finally {
      endTurn(ctx);
    }
  }

  /** A moving picture read in vain while other pictures were left to try, counted after all (Reply.countUnused). */
  async function countUnused(ctx: CommandContext, kind: JobKind): Promise<boolean> {
    const admission = await moderation.admit(scopeOf(ctx), kind).catch(() => undefined);
    if (!admission) return false;
    const counted = admission.refused ? await admission.refused("input").catch(() => false) : false;
    if (!counted) await reliably("refund", () => admission.refund(), ctx.requestId);
    return counted;
  }

  async function resolveTemplate(ctx: CommandContext, name: string | undefined, kind: JobKind) {
    // Metadata only: the face's image data is read once the request is admitted (see render). One store
    // look-up on every request's path: "no faces at all" comes back from find as reason noFaces.
    try {
      return await templates.find(ownerOf(ctx), name);
    } catch (e) {
      if (isMimicError(e) && e.code === "NOT_FOUND") {
        // Advice about faces is no use to someone who may not use Mimic here at all (banned, switched off, another
        // channel): that refusal is said instead, as the request would hear it once it had a face.
        await moderation.check?.(scopeOf(ctx), kind);
        if (e.details?.reason === "noFaces") throw new MimicError("NOT_FOUND", `You have no saved face yet. Save one first with ${hint(ctx.platform, "saveFace")}.`);
      }
      throw e;
    }
  }

  /**
   * Moderation in front of the queue: admit (counts a use), submit, refund when the job did not deliver.
   * `accept` runs on the result before it counts as delivered (the audit record): if it fails, nothing is
   * sent and the use is refunded. With `movingReaction`, a job that started and then could not use the picture
   * keeps its use (see chargedInput).
   */
  async function runJob(
    ctx: CommandContext,
    kind: JobKind,
    job: Job | (() => Promise<Job>),
    /** "answered": its audit record also ended the use's wait on this process (AuditPort.record with a useId). */
    accept?: (r: JobResult, admission: Admission) => Promise<"answered" | void>,
    opts: { movingReaction?: boolean; othersToTry?: boolean } = {},
  ) {
    // Chosen here so that the use can note it: should this process die, the job is taken out of the shared queue.
    const jobId = randomUUID();
    const admission: Admission = await moderation.admit(scopeOf(ctx), kind, { reply: ctx.pendingReply, job: jobId }).finally(() => endTurn(ctx));
    if (admission.renote) ctx.bindPendingReply?.((reply) => admission.renote!(reply));
    const refund = () => reliably("refund", () => admission.refund(), ctx.requestId);
    let started = false;
    try {
      const result = await queue.submit(typeof job === "function" ? await job() : job, {
        jobId,
        requestId: ctx.requestId,
        userId: ctx.userId,
        serverId: ctx.serverId,
        signal: ctx.signal,
        onProgress: (e) => {
          if (e.type === "started") started = true;
          ctx.progress?.(e);
        },
      });
      // A result the chat cannot take, or one that could not be recorded, was not delivered: refunded like a failure.
      const recorded = await accept?.(result, admission);
      // From here the answer goes out from this process; should it die now, nobody else is to apologise for it.
      // (Its audit record already said so in the same write.)
      if (admission.answered && recorded !== "answered") await reliably("answered", () => admission.answered!(), ctx.requestId);
      return { result, refund };
    } catch (e) {
      // A refusal by the NSFW gate is counted instead of the use it replaces: it still counts towards the quota and
      // cooldown (so probing the gate is as slow as making memes), and the user is told so. So is a moving picture
      // the worker read and could not use: reading one takes seconds, and given back it would cost its sender
      // nothing however often it was sent. Not counted, the use is given back.
      const unusable = isMimicError(e) && opts.movingReaction === true && started && chargedInput(e);
      // With other pictures of the message left to try, given back now: the caller counts it once if none works.
      if (unusable && opts.othersToTry) {
        await refund();
        throw new MimicError(e.code, e.userMessage, { cause: e, details: { ...e.details, countLater: kind } });
      }
      const reason = !isMimicError(e) ? undefined : e.code === "UNSAFE_CONTENT" ? "nsfw" : unusable ? "input" : undefined;
      if (isMimicError(e) && reason) {
        if (reason === "nsfw") logger.warn({ requestId: ctx.requestId, platform: ctx.platform, serverId: ctx.serverId, stage: e.details?.stage }, "nsfw gate refused a request");
        const counted = admission.refused
          ? await admission.refused(reason).catch((err: unknown) => (logger.warn({ err, requestId: ctx.requestId }, "recording a refusal failed"), false))
          : false;
        if (!counted) await refund();
        const said = reason === "nsfw" ? nsfwRefusal(ctx, e, counted) : counted ? `${e.userMessage} ${CHARGED_INPUT_NOTE}` : e.userMessage;
        throw new MimicError(e.code, said, { cause: e, details: e.details });
      }
      await refund();
      throw e;
    }
  }

  async function render(
    ctx: CommandContext,
    reaction: EncodedImage,
    summary: { id: string; name: string },
    requested: {
      captions: Captions;
      intensity: number;
      mode: TransferMode;
      regions?: Regions;
      animation: "none" | "morph" | "reaction";
      /** An animated reaction nobody asked to animate: a still of it where animations are off. */
      stillIfAnimationsOff?: boolean;
      /** The reaction has several frames (a GIF, a clip): one the job could not use still costs a use (runJob). */
      moving?: boolean;
      /** Another picture of the message follows if this one cannot be used (MemeInput.othersToTry). */
      othersToTry?: boolean;
    },
  ): Promise<Reply> {
    const byteBudget = ctx.attachmentLimitBytes;
    const { visibleMark, swap, ...gate } = await moderation.settings(scopeOf(ctx));
    // Said before the download by moderation's check; here again for a setting changed meanwhile.
    if (requested.mode === "swap" && !swap) throw swapOff(ctx.platform);
    const stillInstead = requested.animation === "reaction" && requested.stillIfAnimationsOff === true && !gate.animated;
    const opts = stillInstead ? { ...requested, animation: "none" as const } : requested;
    const nsfwThreshold = gate.nsfwFilter ? gate.nsfwThreshold : undefined;
    const kind = opts.animation === "none" ? "meme" : "animated";
    // Built once admitted: most of a burst is refused by the quota and never needs the face's ~300 KB.
    const job = async (): Promise<Job> => {
      // By the id looked up before the download: a face renamed or deleted meanwhile is never swapped for another.
      const { data } = await templates.resolve(ownerOf(ctx), { id: summary.id }).catch((e: unknown) => {
        throw isMimicError(e) && e.details?.reason === "gone"
          ? new MimicError("NOT_FOUND", `Your face “${summary.name}” was deleted while this request waited, so nothing was made. Please send it again.`, { cause: e })
          : e;
      });
      return opts.animation === "none"
        ? { kind: "meme", template: data, reaction, captions: opts.captions, intensity: opts.intensity, mode: opts.mode, byteBudget, visibleMark, nsfwThreshold, ...regionsOf(opts) }
        : {
            kind: "animated",
            template: data,
            reaction,
            captions: opts.captions,
            intensity: opts.intensity,
            mode: opts.mode,
            animation: opts.animation,
            byteBudget,
            visibleMark,
            nsfwThreshold,
            ...regionsOf(opts),
            ...(ctx.animationFormat ? { format: ctx.animationFormat } : {}),
          };
    };
    // A result the chat cannot take is not delivered. Who made which picture is recorded for the server's
    // moderators (hashes only) before anything is sent.
    // The result's hash, taken once for its audit row (and for taking that row back, or noting its message).
    let outputSha256: string | undefined;
    const accept = async (r: JobResult, admission: Admission) => {
      if (r.kind !== "enrol" && r.bytes.byteLength > byteBudget) {
        throw new MimicError(
          "IMAGE_TOO_LARGE",
          `The result (${formatSize(r.bytes.byteLength)}) is larger than this chat allows (${formatSize(byteBudget)}). Try a shorter or smaller reaction.`,
        );
      }
      if (r.kind === "enrol") return;
      // What an admin changed while it was made holds for it too: a ban, Mimic or animations switched off, swaps off.
      await moderation.check?.(scopeOf(ctx), kind, { swap: opts.mode === "swap" });
      if (!audit) return;
      const outcome = await audit.record({
        platform: ctx.platform,
        userId: ctx.userId,
        serverId: ctx.serverId,
        channelId: ctx.channelId,
        kind,
        templateId: summary.id,
        inputSha256: sha256(reaction.bytes),
        outputSha256: (outputSha256 = sha256(r.bytes)),
        useId: admission.id,
      });
      // Forget-me said "Mimic keeps nothing else about you": a picture of that face finished afterwards is not sent either.
      // Its use is given back (runJob), and the forget-me's answer did not count it (still pending: heldInFlight).
      if (outcome === "forgotten") throw new MimicError("CANCELLED", "You asked Mimic to forget you while this was being made, so it was thrown away.");
      if (outcome === "gone") {
        // Its use's record is gone: the store was restored from a backup, or another process took the request for
        // lost (this one was cut off from the database too long) and has told the user to send it again.
        throw new MimicError("CANCELLED", "This request was given up while it was being made (Mimic restarted, or its store was restored), so it was not sent. Please send it again.");
      }
      return admission.id !== undefined ? "answered" : undefined;
    };
    const { result, refund } = await runJob(ctx, kind, job, accept, { movingReaction: opts.moving === true, othersToTry: opts.othersToTry === true });
    if (result.kind === "enrol") throw new MimicError("INTERNAL", "Something went wrong on our side.", { logMessage: "enrol result for a render job" });
    const ext = result.mime === "image/gif" ? "gif" : result.mime === "video/mp4" ? "mp4" : "png";
    const notes = [...(stillInstead ? ["Animations are switched off here, so this is a still."] : []), ...(result.notes ?? [])];
    return {
      text: [`Here you go, using your face “${summary.name}”.`, ...notes].join(" "),
      ephemeral: false,
      file: { bytes: result.bytes, mime: result.mime, name: `mimic-${summary.name.replace(/[^\p{L}\p{N}_-]+/gu, "_")}.${ext}`, width: result.width, height: result.height },
      // Refused by the platform: the use is given back and the record of a picture sent is taken back.
      undelivered: async () => {
        await refund();
        await audit
          ?.withdraw({ platform: ctx.platform, userId: ctx.userId, outputSha256: outputSha256 ?? sha256(result.bytes) })
          .catch((err: unknown) => logger.warn({ err, requestId: ctx.requestId }, "withdrawing an audit record failed"));
      },
      delivered: async (messageRef) => {
        await audit
          ?.noteMessage?.({ platform: ctx.platform, userId: ctx.userId, outputSha256: outputSha256 ?? sha256(result.bytes), messageRef })
          .catch((err: unknown) => logger.warn({ err, requestId: ctx.requestId }, "noting the message of an audited picture failed"));
      },
    };
  }

  const core: Core = {
    meme: (ctx, input) =>
      guarded(ctx, async () => {
        const { image, othersToTry, ...fields } = input;
        // An adapter's flag, never a form's field: anything but a boolean is left to the parser to refuse by name.
        const req = parseMemeRequest(othersToTry === undefined || typeof othersToTry === "boolean" ? fields : { ...fields, othersToTry });
        refuseByDeclaredType(image, true);
        // Before downloading: "save a face first" costs nothing.
        const template = await resolveTemplate(ctx, req.template, "meme");
        // Nor does a refusal: a banned, cooling-down or used-up user's file (or a swap where swaps are off) is never
        // fetched or read. The user's earlier requests are admitted first, so a burst is refused here, not downloaded.
        await takeTurn(ctx);
        await moderation.check?.(scopeOf(ctx), "meme", { limits: true, swap: req.mode === "swap" });
        const reaction = await load(ctx, image, true);
        // An animation is what has several frames (GIF, WebP, a video); a one-frame GIF is a still picture.
        const moving = (await frameCount(reaction)) > 1;
        const animation = req.animated === false ? "none" : moving ? "reaction" : req.animated ? "morph" : "none";
        const captions = captionsOf(req);
        return render(ctx, reaction, template, { captions, intensity: req.intensity, mode: req.mode, regions: req.regions, animation, stillIfAnimationsOff: req.animated === undefined, moving, othersToTry });
      }),

    morph: (ctx, input) =>
      guarded(ctx, async () => {
        const { image, ...fields } = input;
        const req = parseMorphRequest(fields);
        refuseByDeclaredType(image, true);
        const template = await resolveTemplate(ctx, req.template, "animated");
        await takeTurn(ctx);
        await moderation.check?.(scopeOf(ctx), "animated", { limits: true });
        const reaction = await load(ctx, image, true);
        const moving = (await frameCount(reaction)) > 1;
        return render(ctx, reaction, template, { captions: captionsOf(req), intensity: req.intensity, mode: "mimic", animation: "morph", moving });
      }),

    faceSave: (ctx, input) =>
      guarded(ctx, async () => {
        const name = checkTemplateName(input.name);
        refuseByDeclaredType(input.image);
        // A banned user's (or a switched-off place's) photo is never fetched, nor anything written for them.
        await moderation.check?.(scopeOf(ctx), "enrol");
        // Before the photo's download and analysis (perhaps a long wait in the queue): a name taken, the limit reached.
        await templates.checkSave(ownerOf(ctx), name, scopeOf(ctx)).catch((e: unknown) => {
          throw saveRefusal(e, ctx) ?? e;
        });
        // Opened before anything slow: a forget-me from here on cancels this save instead of being undone by it.
        const opened = await templates.openSave(ownerOf(ctx));
        const image = await load(ctx, input.image);
        const gate = await moderation.settings(scopeOf(ctx));
        const { result } = await runJob(ctx, "enrol", { kind: "enrol", image, ...(gate.nsfwFilter ? { nsfwThreshold: gate.nsfwThreshold } : {}) });
        if (result.kind !== "enrol") throw new MimicError("INTERNAL", "Something went wrong on our side.", { logMessage: "render result for enrol" });
        const saved = await templates.save(ownerOf(ctx), name, result.face, scopeOf(ctx), opened).catch((e: unknown) => {
          throw saveRefusal(e, ctx) ?? e;
        });
        const quality = result.face.qualityNote ? ` (${result.face.qualityNote.replace(/\.$/, "")})` : "";
        return {
          text: `Saved your face “${saved.name}”${quality}.${saved.isDefault ? " It is your default face." : ""} Now try ${hint(ctx.platform, "meme")}.`,
          ephemeral: true,
        };
      }),

    faceThumbnail: (ctx, input) =>
      guarded(ctx, async () => {
        const { summary, data } = await templates.resolve(ownerOf(ctx), input.name);
        const png = (data as { cropPng?: unknown }).cropPng;
        if (!(png instanceof Uint8Array)) throw new MimicError("NOT_FOUND", `Your saved face “${summary.name}” could not be read: save it again.`);
        const thumb = await sharp(png).resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: "inside" }).png().toBuffer({ resolveWithObject: true });
        return {
          text: summary.name,
          ephemeral: true,
          file: { bytes: new Uint8Array(thumb.data), mime: "image/png", name: `${summary.name}.png`, width: thumb.info.width, height: thumb.info.height },
        };
      }),

    faceList: (ctx) =>
      guarded(ctx, async () => {
        const list = await templates.list(ownerOf(ctx));
        if (list.length === 0) {
          return { text: `You have no saved faces. Save one with ${hint(ctx.platform, "saveFace")}.`, ephemeral: true, templates: [] };
        }
        const lines = list.slice(0, FACES_LISTED).map((t) => `• ${t.name}${t.isDefault ? " (default)" : ""}`);
        if (list.length > FACES_LISTED) lines.push(`…and ${list.length - FACES_LISTED} more (${list.length} in all).`);
        return {
          text: `Your faces:\n${lines.join("\n")}`,
          ephemeral: true,
          templates: list.map((t) => ({ name: t.name, isDefault: t.isDefault })),
        };
      }),

    faceRemove: (ctx, { name }) =>
      guarded(ctx, async () => {
        const removed = await templates.remove(ownerOf(ctx), name.trim());
        // A deleted default's successor is said: memes without a face name now use it.
        const next = removed.newDefault ? ` “${removed.newDefault}” is now your default face.` : "";
        return { text: `Deleted your face “${removed.name}”.${next}`, ephemeral: true };
      }),

    faceDefault: (ctx, { name }) =>
      guarded(ctx, async () => {
        const chosen = await templates.setDefault(ownerOf(ctx), name.trim());
        return { text: `“${chosen.name}” is now your default face.`, ephemeral: true };
      }),

    faceRename: (ctx, { from, to }) =>
      guarded(ctx, async () => {
        const target = checkTemplateName(to);
        await templates.rename(ownerOf(ctx), from.trim(), target);
        if (from.trim().toLowerCase() === target) {
          return { text: `Your face is already named “${target}” (names ignore upper and lower case).`, ephemeral: true };
        }
        return { text: `Renamed “${from.trim()}” to “${target}”.`, ephemeral: true };
      }),

    forgetMe: (ctx, { confirm }) =>
      guarded(ctx, async () => {
        const { kind } = placeWords(ctx.platform);
        // Faces are the user's wherever they use Mimic on this platform: all of them go.
        const everywhere = FORGET_EVERYWHERE[ctx.platform];
        // A server's ban is kept on purpose (its admins' decision; see templates.forgetUser): said, not hidden.
        const banKept = kind ? `Any ban a ${kind} gave you stays.` : "";
        if (!confirm) {
          const count = (await templates.list(ownerOf(ctx))).length;
          const what =
            count === 0
              ? "your usage history and the record of which pictures you made (you have no saved faces)"
              : `your ${plural(count, "saved face", "saved faces")}${everywhere ? ` (${everywhere})` : ""}, your usage history and the record of which pictures you made`;
          return {
            // Answered by the platform's buttons (FORGET_BUTTONS).
            text: [
              `This permanently deletes ${what}.`,
              "Uses from the last 24 hours still count towards daily limits and cooldowns: they are deleted a day after they were made.",
              banKept,
              "Delete everything?",
            ]
              .filter(Boolean)
              .join(" "),
            ephemeral: true,
          };
        }
        const removed = await templates.forgetUser(ownerOf(ctx));
        // A meme still being made is thrown away once it is done, and its use given back: it is not one that still counts.
        const givenBack = removed.heldInFlight ?? 0;
        const held = (removed.heldRecords ?? 0) - givenBack;
        // Said plainly: the last day's uses stay until they stop counting towards the limits, then go too.
        const holding =
          held === 0 ? "" : held === 1
            ? " The 1 use you made in the last 24 hours still counts towards daily limits and cooldowns: its record is deleted a day after it was made."
            : ` The ${held} uses you made in the last 24 hours still count towards daily limits and cooldowns: their records are deleted a day after they were made.`;
        const audited = removed.auditRecords ?? 0;
        const deleted = [
          ...(removed.templates > 0 ? [`your ${plural(removed.templates, "saved face", "saved faces")}`] : []),
          `your usage history${removed.usageRecords > 0 ? ` (${plural(removed.usageRecords, "use", "uses")} older than a day)` : ""}`,
          ...(audited > 0 ? [`the record of the ${plural(audited, "picture", "pictures")} you made`] : []),
        ];
        const list = deleted.length === 1 ? deleted[0] : `${deleted.slice(0, -1).join(", ")} and ${deleted.at(-1)}`;
        const thrownAway =
          givenBack === 0 ? "" : givenBack === 1 ? " The picture being made for you now is thrown away and its use given back." : ` The ${givenBack} pictures being made for you now are thrown away and their uses given back.`;
        return {
          // Faces are per platform account: the same person's faces on another platform are theirs to forget there.
          text: `Done: deleted ${list}.${holding}${thrownAway} Mimic keeps nothing else about ${kind ? `your ${capitalised(ctx.platform)} account` : "you"}, except a note that you asked (so that restoring an older backup here cannot bring any of it back)${kind ? ` and any ban a ${kind} gave you` : ""}.`,
          ephemeral: true,
        };
      }),

    usage: (ctx) =>
      guarded(ctx, async () => {
        const r = await moderation.usage(scopeOf(ctx), { includeServer: ctx.isAdmin && ctx.serverId !== null });
        // Refused pictures (the NSFW gate's, moving pictures that could not be used) count towards the quota too, but are not called memes.
        const refused = r.refusedToday ?? 0;
        const made = r.usedToday - refused;
        const ready =
          r.cooldownRemainingSeconds > 0
            ? `Next one possible in ${formatWait(r.cooldownRemainingSeconds)}.`
            : // Nothing to make one from yet: how to start, not "another one".
              r.templates === 0
              ? `To make one, save a face first with ${hint(ctx.platform, "saveFace")}.`
              : "You can make another one now.";
        const lines = [
          `Today you made ${plural(made, "meme", "memes")}${refused > 0 ? ` and ${plural(refused, "refused picture", "refused pictures")}` : ""}${r.dailyQuota > 0 ? ` of ${r.dailyQuota} allowed` : " (no daily limit)"}.`,
          r.blocked ?? r.quotaReached ?? ready,
          `Saved faces: ${r.templates}.`,
        ];
        const personal: string[] = [];
        if (r.server) {
          const { kind } = placeWords(ctx.platform);
          // The server's own quota, where it has one: every use counts towards it, refused pictures too.
          const ofQuota = r.server.dailyQuota ? ` (${plural(r.server.generationsToday + (r.server.refusedToday ?? 0), "use", "uses")} of the ${r.server.dailyQuota} a day allowed)` : "";
          // "0 memes by 0 users" read oddly above a count of refused pictures.
          const made = r.server.generationsToday > 0 ? `${plural(r.server.generationsToday, "meme", "memes")} by ${plural(r.server.activeUsersToday, "user", "users")}` : "no memes yet";
          lines.push(`${kind ? `${capitalised(kind)} today` : "Everyone here today"}: ${made}${ofQuota}.`);
          const refused = r.server.refusedToday ?? 0;
          const explicit = r.server.explicitToday ?? refused;
          const unusable = refused - explicit;
          if (refused && !unusable) lines.push(`Refused as explicit today: ${refused}.`);
          else if (refused) {
            const parts = [...(explicit ? [`${explicit} as explicit`] : []), plural(unusable, "moving picture Mimic could not use", "moving pictures Mimic could not use")];
            lines.push(`Refused today: ${refused} (${parts.join(", ")}).`);
          }
          // Each user's memes, and their refused pictures where there were some: the same figures as the lines above.
          const counts = (u: { count: number; refused?: number }) => (u.refused ? `${u.count} + ${u.refused} refused` : `${u.count}`);
          const refOf = await peopleRefs(ctx, r.server.topUsers.map((u) => u.userId));
          const top = r.server.topUsers.map((u) => `${refOf(u.userId)} (${counts(u)})`);
          // Users who asked Mimic to forget them are not named; their uses of the day still count, so they are said.
          const forgotten = r.server.forgotten;
          if (forgotten && forgotten.count + forgotten.refused > 0) top.push(`users who asked to be forgotten (${counts(forgotten)})`);
          if (top.length) personal.push(`Top: ${top.join(", ")}`);
        }
        // Each person's counts are their own business: kept apart, so that an adapter which cannot answer
        // privately where others read (Telegram groups) sends them to the admin alone. Elsewhere: one answer.
        const shared = lines.join("\n");
        if (personal.length === 0) return { text: shared, ephemeral: true };
        return { text: [...lines, ...personal].join("\n"), ephemeral: true, split: { shared, personal: personal.join("\n"), about: "each person's counts today" } };
      }),

    config: (ctx, typed) =>
      guarded(ctx, async () => {
        // Setting names as values are read: in any letter case ("/config QUOTA 5", as "enabled OFF").
        const input = { ...typed, key: typed.key?.toLowerCase() as typeof typed.key };
        if (ctx.serverId === null) {
          throw new MimicError("BAD_INPUT", `Settings belong to ${sharedChat(ctx.platform)}: use this command there.`);
        }
        if (!ctx.isAdmin) {
          throw new MimicError("FORBIDDEN", `Only ${placeWords(ctx.platform).admins} can see or change Mimic's settings.`);
        }
        if (input.key === undefined && (input.value ?? "").trim() !== "") {
          throw new MimicError("BAD_INPUT", `Which setting should be ${echoed(input.value!.trim())}? Settings: ${SETTING_KEYS.join(", ")}.`);
        }
        if (input.key === undefined) {
          const banned = (await moderation.bannedUsers?.(scopeOf(ctx))) ?? [];
          const settings = await moderation.settings(scopeOf(ctx));
          const refOf = await peopleRefs(ctx, banned);
          const text = describeSettings(settings, ctx, banned, refOf);
          // Who is banned is the admins' alone: apart, for an adapter that cannot answer privately.
          return banned.length
            ? { text, ephemeral: true, split: { shared: describeSettings(settings, ctx, banned), personal: `• banned: ${listed(banned.map(refOf), BANS_LISTED)}`, about: "who is banned" } }
            : { text, ephemeral: true };
        }
        if (!SETTING_KEYS.includes(input.key)) {
          // Echo a few characters only: the key is whatever was typed, and a chat caps a message's length (Telegram 4096).
          throw new MimicError("BAD_INPUT", `Unknown setting ${echoed(input.key)}. Settings: ${SETTING_KEYS.join(", ")}. ${hint(ctx.platform, "showConfig")} shows each with its value.`);
        }
        const value = (input.value ?? "").trim();
        if (value === "") {
          // Telegram shows nobody's user id: whom to ban is said by replying to one of their messages.
          if (ctx.platform === "telegram" && (input.key === "ban" || input.key === "unban")) {
            throw new MimicError("BAD_INPUT", `Reply to one of the person's messages with /config ${input.key}.`);
          }
          // With what it is now, so an admin can look one setting up without the whole list (no setting's own line
          // lists the banned: none are read).
          const now = settingLine(describeSettings(await moderation.settings(scopeOf(ctx)), ctx, []), input.key);
          throw new MimicError("BAD_INPUT", `Give a value for “${input.key}”, e.g. ${exampleFor(input.key, ctx.platform)}.${now ? ` Now: ${now.replace(/^• /, "")}` : ""}`);
        }
        const after = await moderation.updateSetting(scopeOf(ctx), input.key, value, input.facts);
        const banned = (await moderation.bannedUsers?.(scopeOf(ctx))) ?? [];
        const refOf = await peopleRefs(ctx, after.outcome && "userId" in after.outcome ? [after.outcome.userId, ...banned] : banned);
        const said = after.outcome ? outcomeSaid(after.outcome, ctx, refOf) : `Updated “${input.key}”.`;
        const all = describeSettings(after, ctx, banned, refOf);
        // Where others read the answer: the change and its setting's line, not the whole list (nor who is banned).
        const line = settingLine(all, input.key);
        const brief = [said, line, `${capitalised(hint(ctx.platform, "showConfig"))} lists every setting.`].filter(Boolean).join("\n");
        return { text: `${said}\n${all}`, ephemeral: true, split: { shared: brief, personal: "", about: "" } };
      }),

    audit: (ctx, input) =>
      guarded(ctx, async () => {
        if (ctx.serverId === null) throw new MimicError("BAD_INPUT", `The audit trail belongs to ${sharedChat(ctx.platform)}: use this command there.`);
        if (!ctx.isAdmin) throw new MimicError("FORBIDDEN", `Only ${placeWords(ctx.platform).admins} can look up who made a picture.`);
        if (!audit) throw new MimicError("DISABLED", "This Mimic keeps no audit trail.");
        const here = { platform: ctx.platform, serverId: ctx.serverId };
        // Mimic's own message first (found by the message where the platform re-encoded the picture); where it was not
        // noted (sent before, or the note failed), the file it carries is hashed as received, as any other picture.
        const byMessage = input.message === undefined ? null : ((await audit.hashOfMessage?.(input.message, here)) ?? null);
        let hash: string;
        if (byMessage !== null) hash = byMessage;
        else if (input.image) hash = sha256((await load(ctx, input.image, true)).bytes);
        else if (input.hash) hash = parseSha256(input.hash, AUDIT_PICTURE[ctx.platform]);
        else if (input.message !== undefined) {
          throw new MimicError(
            "NOT_FOUND",
            `That message of mine is not in the audit trail: it is older than ${audit.retentionDays} days, was sent before Mimic noted its messages, or carries no picture Mimic made.`,
          );
        } else throw new MimicError("BAD_INPUT", `${capitalised(AUDIT_PICTURE[ctx.platform])}.`);
        const [rows, total] = await Promise.all([audit.lookup(hash, here), audit.count?.(hash, here)]);
        if (rows.length === 0) {
          // Made elsewhere (a private chat, another server) and posted here: said, so the admin does not take it for
          // none of Mimic's; whose it is stays with the place it was made in.
          const elsewhere = (await audit.count?.(hash, { platform: ctx.platform })) ?? 0;
          const away = ctx.platform === "telegram" ? "a private chat or another group" : "a DM or another server";
          const seen = elsewhere > 0 ? ` Mimic made it elsewhere on ${capitalised(ctx.platform)} (${away}); who made it there is not shown here.` : "";
          return {
            text: `No picture with SHA-256 ${hash.slice(0, 12)}… was made or used here in the last ${audit.retentionDays} days.${seen} (Chat apps may re-encode pictures: a re-encoded copy has another hash.)`,
            ephemeral: true,
          };
        }
        // On Telegram a row made in the group itself (no topics, or General) needs no place.
        const where = (id: string | null) => (id === null || (ctx.platform === "telegram" && id === ctx.serverId) ? "" : ` in ${channelRef(ctx, id)}`);
        const listedRows = rows.slice(0, AUDIT_ROWS_LISTED);
        const refOf = await peopleRefs(ctx, listedRows.map((r) => r.userId));
        const lines = listedRows.map((r) => {
          const role = r.outputSha256 === hash ? "made it" : "used it as the reaction image";
          return `• ${r.at.toISOString().slice(0, 16).replace("T", " ")} UTC: ${refOf(r.userId)} ${role} (${r.kind}, face #${r.templateId ?? "?"})${where(r.channelId)}`;
        });
        // The lookup returns only the newest rows: how many more there are is the trail's own count.
        const all = Math.max(total ?? rows.length, rows.length);
        if (all > lines.length) lines.push(`…and ${all - lines.length} more.`);
        // Who made a picture is the admin's business: kept apart as /usage's counts are (Telegram groups have no private answers).
        const head = `SHA-256 ${hash.slice(0, 12)}…:`;
        return {
          text: `${head}\n${lines.join("\n")}`,
          ephemeral: true,
          split: { shared: `${head} in the audit trail (${plural(all, "entry", "entries")}).`, personal: lines.join("\n"), about: "the people who made or used that picture" },
        };
      }),

    async templateNames(owner, prefix) {
      const p = prefix.trim().toLowerCase();
      const list = await templates.list(owner);
      return list
        .filter((t) => t.name.toLowerCase().startsWith(p))
        .map((t) => t.name)
        .slice(0, 25);
    },

    async serverMoved(platform, from, to) {
      if (await moderation.moveServer?.(platform, from, to)) logger.info({ platform, from, to }, "a server got a new id; its settings and records followed");
    },
  };
  return core;
}

function exampleFor(key: SettingKey, platform: Platform): string {
  switch (key) {
    case "nsfw_threshold":
      return "“0.7” (refuse at this unsafe score, 0–1; lower refuses more) or “default”";
    case "enabled":
    case "animated":
    case "mark":
    case "nsfw":
    case "swap":
      return "“on” or “off”";
    case "quota":
      return "“20” (per user per day, 0 = unlimited) or “default”";
    case "server_quota":
      return `“500” (the whole ${serverWord(platform)} per day, 0 = unlimited) or “default”`;
    case "max_faces":
      return "“3” (saved faces per user, counting those saved anywhere) or “default”";
    case "cooldown":
      return "“30” (seconds between two memes, 0 = none) or “default”";
    case "channel":
      return platform === "telegram" ? "“add” or “remove” inside a topic (or with the topic's id), or “all”" : "“add #channel”, “remove #channel” (or the channel's id) or “all”";
    case "ban":
    case "unban":
      // Discord's value option is plain text: a mention typed into it (@ and a pick from the list) names the user.
      return platform === "discord" ? "a mention of the user (type @ and pick them) or their numeric user id" : "a user id";
  }
}

/** How an admin names a picture to /audit: the picture itself, as each platform lets a command point at one. */
const AUDIT_PICTURE: Record<Platform, string> = {
  discord: "attach the picture to /mimic audit, as Mimic sent it",
  telegram: "reply to the picture with /audit",
  playground: "choose the picture",
};

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * A started job's answers that cost its worker the whole moving picture: no face in any frame, or its reading ran
 * past the reader's deadline (which a very busy worker can cause too). The use is kept, as a refused picture
 * (runJob). A face found but unusable (cut off) is told early and can be fixed; a clip this Mimic cannot read (no
 * ffmpeg), or a job timed out by the queue (a lost worker, a long wait), is Mimic's own limit: those are given back.
 */
const chargedInput = (e: MimicError) => e.code === "NO_FACE" || (e.code === "TIMEOUT" && e.details?.stage === "read");
export const CHARGED_INPUT_NOTE = "It still counts towards your daily limits, like a meme: reading a moving picture takes Mimic a while.";

/** An NSFW gate refusal, in the platform's words for the place (the pipeline knows no platforms, only the stage). */
function nsfwRefusal(ctx: CommandContext, refusal: MimicError, counted: boolean): string {
  const { kind, thisPlace } = placeWords(ctx.platform);
  const notAllowed = kind && ctx.serverId !== null ? `which ${thisPlace} doesn't allow` : "which isn't allowed here";
  const stage = refusal.details?.stage;
  const said =
    stage === "output"
      ? "The result looked like explicit content, so I didn't send it. Nothing was kept. Try another picture."
      : stage === "input" || stage === "face"
        ? `I can't ${stage === "face" ? "save that photo" : "use that picture"}: it looks like explicit content, ${notAllowed}. Nothing was kept.`
        : refusal.userMessage;
  return counted ? `${said} It still counts towards your daily limits, like a meme.` : said;
}

/** The two answers to a forget-me's question, as every platform's buttons say them, and what Cancel is told. */
export const FORGET_BUTTONS = { yes: "Yes, delete everything", cancel: "Cancel" } as const;
export const NOTHING_DELETED = "Nothing was deleted.";
/** The question every platform asks before deleting one face (its buttons: Delete, Cancel). */
export const deleteFaceQuestion = (name: string) => `Delete your face ${quoted(name)}? It cannot be undone.`;

/**
 * How long the buttons of a question that deletes (a face, everything) may be pressed: an older press would
 * act on the faces the user has now, not on those the question was about (the adapters read when their
 * message was sent).
 */
export const BUTTON_MAX_AGE_MS = 15 * 60_000;
export const BUTTON_TOO_OLD = "These buttons are more than 15 minutes old, so they no longer work: send the command again.";

/** Whether a press of a button on a message sent at `sentAtMs` comes too late (BUTTON_MAX_AGE_MS). */
export function buttonTooOld(sentAtMs: number, nowMs = Date.now()): boolean {
  return nowMs - sentAtMs > BUTTON_MAX_AGE_MS;
}

/** Where a user's faces were saved, all of which a forget-me deletes: every place on the platform. */
const FORGET_EVERYWHERE: Record<Platform, string> = {
  discord: "from every server and DM",
  telegram: "from every group and private chat",
  playground: "",
};

/** Banned users and allowed channels the settings list names before it only counts the rest. */
const BANS_LISTED = 20;
const CHANNELS_LISTED = 20;
/**
 * Rows of one audit answer and faces of one list shown before the rest are only counted: a chat message has a
 * length limit (Discord's is 2,000 characters), and a popular picture or a long face list went past it.
 */
const AUDIT_ROWS_LISTED = 15;
/** Faces a face list names (its text; a platform's buttons for them follow it). */
export const FACES_LISTED = 40;

/** A channel as the platform shows one (places.ts), in the place the command came from. */
const channelRef = (ctx: Pick<CommandContext, "platform" | "serverId">, id: string): string => placeChannelRef(ctx.platform, ctx.serverId, id);

/**
 * A save's refusal in the platform's words: a name taken says how to delete that face there; the saved-faces
 * limit is honest about what it caps (a server's own limit stops saving a face there while the user has that
 * many, counting the faces saved anywhere, as they are the user's everywhere; the operator's limit is the most
 * Mimic keeps for anyone). Undefined for any other error.
 */
function saveRefusal(e: unknown, ctx: CommandContext): MimicError | undefined {
  if (isMimicError(e) && e.details?.reason === "nameTaken") {
    return new MimicError(e.code, `${e.userMessage.replace(/\.$/, "")} (${hint(ctx.platform, "deleteFace")}).`, { cause: e, details: e.details });
  }
  if (!isMimicError(e) || e.code !== "LIMIT_REACHED" || e.details?.reason !== "limit") return undefined;
  const { count, limit, byServer } = e.details as { count: number; limit: number; byServer?: boolean };
  const have = `You already have ${plural(count, "saved face", "saved faces")}`;
  const fix = `To save another, delete one first (see ${hint(ctx.platform, "listFaces")}).`;
  const text =
    byServer === true
      ? `${have}, and ${placeWords(ctx.platform).thisPlace} lets you save one here only while you have ${limit === 1 ? "none" : `fewer than ${limit}`}. Your faces are yours wherever you use Mimic, so those saved elsewhere count too. ${fix}`
      : `${have}, the most Mimic keeps for one person (${limit}). ${fix}`;
  return new MimicError("LIMIT_REACHED", text, { cause: e, details: e.details });
}

/** The owner's bounds on the NSFW check, as the settings list says them ("" where none). */
function nsfwBounds(b: ServerSettings["bounds"]): string {
  const said = [...(b?.nsfwRequired ? ["keeps it on"] : []), ...(b?.maxNsfwThreshold !== undefined ? [`allows a threshold of at most ${b.maxNsfwThreshold}`] : [])];
  return said.length ? `; this Mimic's owner ${said.join(" and ")}` : "";
}

/** The first `max` items, then how many more. */
function listed(items: readonly string[], max: number): string {
  return `${items.slice(0, max).join(", ")}${items.length > max ? ` and ${items.length - max} more` : ""}`;
}

/**
 * How answers name people: userRef with the platform's names where the adapter gives them (Telegram shows no
 * ids, so "user 22" alone says nothing). A failed lookup leaves the ids bare.
 */
async function peopleRefs(ctx: CommandContext, ids: readonly string[]): Promise<(id: string) => string> {
  const names = ids.length > 0 && ctx.displayNames
    ? await ctx.displayNames([...new Set(ids)]).catch((err: unknown) => {
        logger.warn({ err, requestId: ctx.requestId }, "looking up people's names failed");
        return new Map<string, string>();
      })
    : new Map<string, string>();
  return (id) => userRef(ctx.platform, id, names.get(id));
}

/** What a ban or unban did (or a channel listed already), naming the user as the platform shows one. */
function outcomeSaid(o: SettingOutcome, ctx: CommandContext, refOf: (id: string) => string): string {
  const { inPlace } = placeWords(ctx.platform);
  if (o.kind === "alreadyListed") {
    const named = o.channels.map((id) => channelRef(ctx, id)).join(", ");
    return `${capitalised(named)} ${o.channels.length === 1 ? "was" : "were"} listed already, so nothing changed.`;
  }
  const who = refOf(o.userId);
  if (o.kind === "banned") return `Banned ${who}: they can no longer use Mimic ${inPlace}.`;
  if (o.kind === "alreadyBanned") return `${capitalised(who)} was already banned ${inPlace}, so nothing changed.`;
  return `Lifted the ban on ${who}: they can use Mimic ${inPlace} again.`;
}

/** Where a number came from: the server's own setting, or the operator's default (what “default” goes back to). */
function origin(s: ServerSettings, key: NumericSetting, shown: (n: number) => string): string {
  if (!s.overridden || !s.defaults) return "";
  return s.overridden.includes(key) ? ` (set here; default ${shown(s.defaults[key])})` : " (default)";
}

/** A request's captions as its job carries them: keepCase only when asked (requests.ts). */
const captionsOf = (req: Captioned): Captions => ({ top: req.top, bottom: req.bottom, ...(req.keepCase && { keepCase: req.keepCase }) });

/** One setting's line of the settings list (its threshold is the nsfw line's; ban and unban have none of their own). */
function settingLine(list: string, key: SettingKey): string | undefined {
  if (key === "ban" || key === "unban") return undefined;
  return list.split("\n").find((l) => l.startsWith(`• ${key === "nsfw_threshold" ? "nsfw" : key}:`));
}

/** The settings list; without `refOf`, the banned are only counted (the list a whole group reads on Telegram). */
function describeSettings(s: ServerSettings, ctx: CommandContext, banned: readonly string[], refOf?: (id: string) => string): string {
  const count = (n: number) => (n === 0 ? "unlimited" : String(n));
  const cooldown = (n: number) => (n === 0 ? "none" : formatDuration(n));
  return [
    `Mimic settings for this ${serverWord(ctx.platform)} (a day runs from 00:00 UTC):`,
    `• enabled: ${s.enabled ? "on" : "off"}`,
    `• quota: ${s.dailyQuota === 0 ? "unlimited" : `${s.dailyQuota} per user per day`}${origin(s, "dailyQuota", count)}${s.bounds?.maxDailyQuota ? `; this Mimic's owner allows at most ${s.bounds.maxDailyQuota}` : ""}`,
    `• server_quota: ${s.serverDailyQuota === 0 ? "unlimited" : `${s.serverDailyQuota} per day`}${origin(s, "serverDailyQuota", count)}`,
    `• cooldown: ${cooldown(s.cooldownSeconds)}${origin(s, "cooldownSeconds", cooldown)}${s.bounds?.minCooldownSeconds ? `; this Mimic's owner asks for at least ${cooldown(s.bounds.minCooldownSeconds)}` : ""}`,
    // Faces are a user's everywhere: the limit stops saving one here, counting those saved anywhere.
    `• max_faces: ${s.maxFacesPerUser} per user${origin(s, "maxFacesPerUser", String)}; saving a face here is refused to anyone who has that many, wherever they saved them`,
    `• animated: ${s.animated ? "on" : "off"}`,
    `• channel: ${s.channels.length === 0 ? "all" : listed(s.channels.map((id) => channelRef(ctx, id)), CHANNELS_LISTED)}`,
    `• mark: ${s.visibleMark ? "on" : "off"} (a small visible “AI-edited” label on every picture)`,
    s.nsfwFilter
      ? `• nsfw: on (threshold ${s.nsfwThreshold}): explicit pictures, faces and results are refused${nsfwBounds(s.bounds)}`
      : "• nsfw: off: pictures are not checked for explicit content",
    `• swap: ${s.swap ? "allowed" : "off"} (putting your face into someone else's picture)`,
    ...(banned.length ? [`• banned: ${refOf ? listed(banned.map(refOf), BANS_LISTED) : plural(banned.length, "person", "people")}`] : []),
    `Change one with ${hint(ctx.platform, "config")}. A number set to “default” follows the default again.`,
  ].join("\n");
}
