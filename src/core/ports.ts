/**
 * The narrow interfaces the command core needs from the rest of Mimic. The composition root
 * (src/app.ts) binds them to the real template store, moderation and inference queue; tests bind
 * them to in-memory doubles. Everything here is plain data so it can cross worker/process borders.
 */
import type { EnrolledFace, InferenceQueue } from "../queue/jobs.ts";
import type { Platform } from "../places.ts";

/** Who is asking, on which platform and where. Server/channel are null in private chats. */
export interface Scope {
  platform: Platform;
  userId: string;
  serverId: string | null;
  channelId: string | null;
}

export type { Platform };

/** Template owner: user ids are only unique within one platform. */
export interface Owner {
  platform: Platform;
  userId: string;
}

// ---------------------------------------------------------------- templates

export interface TemplateSummary {
  id: string;
  name: string;
  isDefault: boolean;
  createdAt: Date;
}

/** Opaque: what openSave returned, for the save it began. */
export type SaveTicket = string;

/** What enrolment produced for one saved face (the store keeps it; the queue consumes it). */

export interface TemplatePort {
  list(owner: Owner): Promise<TemplateSummary[]>;
  /** The template's summary only (no image data): by name, or the user's default. Throws NOT_FOUND. */
  find(owner: Owner, name?: string): Promise<TemplateSummary>;
  /**
   * The template to use, with its data: by name, or the user's default, or by id (the one a request looked up
   * before its download, whatever it is called since). Throws NOT_FOUND with a helpful message.
   */
  resolve(owner: Owner, which?: string | { id: string }): Promise<{ summary: TemplateSummary; data: unknown }>;
  /**
   * Called as a save command arrives, before its slow work: the ticket `save` must be given. A forget-me after
   * this makes that save throw CANCELLED (even one racing the save's commit), so nothing of the user comes back;
   * a save opened after the forget is unaffected.
   */
  openSave(owner: Owner): Promise<SaveTicket>;
  /** What `save` would refuse (the name taken, the limit reached), checked before a save's slow work; `save` checks again. */
  checkSave(owner: Owner, name: string, scope: Scope): Promise<void>;
  /** Saves a new template; the first one becomes the default. Throws LIMIT_REACHED / BAD_INPUT (name) / CANCELLED (forgotten since opened). */
  save(owner: Owner, name: string, face: EnrolledFace, scope: Scope, opened: SaveTicket): Promise<TemplateSummary>;
  /** Deletes a template; `name`: as stored. A deleted default's successor (or null: none left) is `newDefault`. */
  remove(owner: Owner, name: string): Promise<{ name: string; newDefault?: string | null }>;
  /** Returns the template's name as stored. */
  setDefault(owner: Owner, name: string): Promise<{ name: string }>;
  rename(owner: Owner, from: string, to: string): Promise<void>;
  /**
   * Deletes every template and every usage record of the user; returns what was removed: usageRecords (uses older
   * than a day), auditRecords (audit-trail rows), and heldRecords (the last day's uses, deleted a day after each),
   * of which heldInFlight are still being made, in any process (given back once their pictures are thrown away).
   */
  forgetUser(owner: Owner): Promise<{ templates: number; usageRecords: number; auditRecords?: number; heldRecords?: number; heldInFlight?: number }>;
}

// ---------------------------------------------------------------- moderation

export type JobKind = "enrol" | "meme" | "animated";

/** Per-server rules an admin can change. */
export interface ServerSettings {
  enabled: boolean;
  /** Generations per user per UTC day; 0 = unlimited. */
  dailyQuota: number;
  /** Generations of the whole server per UTC day; 0 = unlimited. */
  serverDailyQuota: number;
  maxFacesPerUser: number;
  /** Seconds between two generations of one user; 0 = none. */
  cooldownSeconds: number;
  /** Whether animated outputs (GIF reactions, morphs) are allowed. */
  animated: boolean;
  /** When non-empty, Mimic only answers in these channels. */
  channels: string[];
  /** Draw the small visible "AI-edited" mark on outputs (the machine-readable marks are always there). */
  visibleMark: boolean;
  /** The NSFW gate (reaction, face before saving, result) is on; it refuses at this unsafe score (0..1]. */
  nsfwFilter: boolean;
  nsfwThreshold: number;
  /** Swap mode (your face into someone else's picture) is allowed. */
  swap: boolean;
  /** Which of the numbers above the server set itself (the others are the operator's defaults); absent where unknown. */
  overridden?: Array<NumericSetting>;
  /** The operator's defaults of those numbers (what “default” goes back to); absent where unknown. */
  defaults?: Pick<ServerSettings, NumericSetting>;
  /** The operator's bounds on what the server may set (MAX_DAILY_QUOTA_PER_USER, MIN_COOLDOWN_SECONDS, NSFW_REQUIRED, MAX_NSFW_THRESHOLD), where set. */
  bounds?: { maxDailyQuota?: number; minCooldownSeconds?: number; nsfwRequired?: boolean; maxNsfwThreshold?: number };
}

/** The settings that are numbers with an operator's default (a server may set its own, or go back to the default). */
export type NumericSetting = "dailyQuota" | "serverDailyQuota" | "cooldownSeconds" | "maxFacesPerUser";

/**
 * What a platform adapter knows of the place a setting is changed in, so what an admin names there can be
 * checked (each field absent where the adapter does not know it).
 */
export interface PlaceFacts {
  /**
   * The server's channels Mimic can be asked in (Discord), and its threads: a thread (or forum post) goes by the
   * channel it is in (threadOf), so that channel is what the allow-list names.
   */
  channels?: ReadonlyArray<{ id: string; threadOf?: string }>;
  /** Mimic's own user id on the platform (it cannot be banned). */
  botUserId?: string;
  /**
   * Whether a user may change Mimic's settings here (a server's or group's admin): a ban would not hold them, as
   * they could lift it. False where the platform could not tell.
   */
  isAdmin?: (userId: string) => Promise<boolean>;
}

/** What a ban or unban did, for the admin's answer. */
/** What a setting's change did where "Updated" would mislead: a ban's outcome, or channels that were listed already. */
export type SettingOutcome = { kind: "banned" | "alreadyBanned" | "unbanned"; userId: string } | { kind: "alreadyListed"; channels: string[] };

export type SettingKey = "enabled" | "quota" | "server_quota" | "cooldown" | "max_faces" | "animated" | "channel" | "ban" | "unban" | "mark" | "nsfw" | "nsfw_threshold" | "swap";

export interface UsageReport {
  /** The caller's generations today (UTC) and the quota that applies (0 = unlimited). */
  /** Uses counted towards the daily quota today: memes, and refused pictures (refusedToday). */
  usedToday: number;
  /** Of usedToday, the refused pictures (the NSFW gate's, and moving pictures that could not be used; absent where the store does not count them). */
  refusedToday?: number;
  dailyQuota: number;
  /** Seconds until the caller may generate again (cooldown), 0 when ready. */
  cooldownRemainingSeconds: number;
  /** What a request would be told now, when a daily quota (the user's or the server's) is used up. */
  quotaReached?: string;
  /** What a request would be told now, when none may be made here at all (banned, switched off, not in this channel). */
  blocked?: string;
  templates: number;
  /** Server-wide figures, only filled for admins. */
  server?: {
    generationsToday: number;
    activeUsersToday: number;
    /** Memes each user made today (count) and, where there were some, their refused pictures. */
    topUsers: { userId: string; count: number; refused?: number }[];
    /** Refused pictures today, counted as uses (absent where the store does not count them). */
    refusedToday?: number;
    /** Of refusedToday, those the NSFW gate refused (the rest: moving pictures that could not be used). */
    explicitToday?: number;
    /** The server's daily quota (0 = unlimited; absent where unknown). */
    dailyQuota?: number;
    /** Uses today of users who asked to be forgotten, who are not named in topUsers: memes (count) and refused pictures. */
    forgotten?: { count: number; refused: number };
  };
}

export interface ModerationPort {
  /**
   * Asked before anything is queued. Atomically checks enabled/channel/ban/cooldown/quota for the scope
   * and, when admitted, counts one use of `kind`. Throws DISABLED / FORBIDDEN / COOLDOWN /
   * QUOTA_EXCEEDED MimicErrors (with retryAfterSeconds where it applies).
   */
  admit(scope: Scope, kind: JobKind, pending?: PendingNote): Promise<Admission>;
  /**
   * Where the store keeps admitted uses pending until answered: this process is alive, so its unanswered uses
   * wait on it another `pendingTtlMs`. Called every third of that (src/core/abandoned.ts).
   */
  renewPending?(): Promise<void>;
  /** A graceful stop: what this process still holds counts as answered (nobody is to apologise for it). */
  releasePending?(): Promise<void>;
  /**
   * The uses on `platform` whose process stopped renewing them (killed, crashed) before answering: given back,
   * each to one caller only, with the adapter's note of how to tell the user (CommandContext.pendingReply).
   */
  takeAbandoned?(platform: Platform): Promise<AbandonedRequest[]>;
  /** How long an unanswered use waits on its process, unrenewed (present exactly where takeAbandoned is). */
  readonly pendingTtlMs?: number;
  /** The rules of scope's server (scope.serverId is never null here). */
  settings(scope: Scope): Promise<ServerSettings>;
  /** The user ids banned in the scope's server, for its admins' settings list (absent where the store keeps none). */
  bannedUsers?(scope: Scope): Promise<string[]>;
  /**
   * Applies one admin change by scope.userId; parses and validates `value` (BAD_INPUT on nonsense), against what
   * the adapter knows of the place (`facts`) where it says. A change of a list (channels) is atomic: two admins
   * changing it at once both have their change kept. `outcome` says what a ban or unban did.
   */
  updateSetting(scope: Scope, key: SettingKey, value: string, facts?: PlaceFacts): Promise<ServerSettings & { outcome?: SettingOutcome }>;
  usage(scope: Scope, opts: { includeServer: boolean }): Promise<UsageReport>;
  /**
   * The non-counting part of admit: throws its DISABLED / FORBIDDEN refusal (switched off, banned, not in this
   * channel) where a request of `kind` would hear it, and with `limits` its QUOTA_EXCEEDED / COOLDOWN as they stand
   * now; with `swap`, its refusal of a swap where swaps are off; counts nothing (absent where the store has no such check).
   */
  check?(scope: Scope, kind: JobKind, opts?: { limits?: boolean; swap?: boolean }): Promise<void>;
  /** A server's id changed on its platform: its rules, bans and records move to the new id. True when anything moved. */
  moveServer?(platform: Platform, from: string, to: string): Promise<boolean>;
}

/** One admitted use. `refund()` gives the quota back when the job failed through no fault of the user. */
export interface Admission {
  /** The store's record of this use, where it keeps one (the audit trail is written only while it stands). */
  id?: string;
  refund(): Promise<void>;
  /** The answer exists: the use no longer waits on this process (absent where nothing is kept pending). */
  answered?(): Promise<void>;
  /** Replaces the note of how to still answer (PendingNote.reply) while the use waits on this process. */
  renote?(reply: string): Promise<void>;
  /**
   * The NSFW gate refused the job ("nsfw"), or a moving picture it read for a while could not be used ("input"):
   * counted as a refused picture (usage report; it still counts as a use). False where it was not counted (the
   * user asked to be forgotten meanwhile: the use is to be given back instead).
   */
  refused?(reason: "nsfw" | "input"): Promise<boolean>;
}

/** A request whose process stopped before answering; its use was given back. */
export interface AbandonedRequest {
  /** Null for a user who asked to be forgotten meanwhile (nobody is told: their faces are gone). */
  userId: string | null;
  serverId: string | null;
  kind: JobKind;
  /** The adapter's note of how to still answer (CommandContext.pendingReply); null where it left none. */
  reply: string | null;
  /** Its job's id in the shared queue (SubmitOptions.jobId); null where none was noted. */
  job: string | null;
}

/** What an admitted use notes for whoever takes it for lost: how to tell its user, and its job in the queue. */
export interface PendingNote {
  reply?: string;
  job?: string;
}

// ---------------------------------------------------------------- audit trail

/** One generation as the moderators' audit trail keeps it (hashes, never pixels). */
export interface AuditEntry {
  platform: Platform;
  userId: string;
  serverId: string | null;
  channelId: string | null;
  kind: JobKind;
  templateId: string | null;
  /** Lower-case hex SHA-256 of the input as received and of the file sent back. */
  inputSha256: string;
  outputSha256: string | null;
  /** The admission's use (Admission.id): the row is written only while that use stands, not once its user was forgotten. */
  useId?: string;
}

export interface AuditPort {
  /**
   * "recorded" (with a useId, the use then waits on its process no more, as Admission.answered would say); else
   * nothing was written because the use no longer stands: "forgotten" (its user asked to be forgotten while the
   * job ran) or "gone" (its record vanished: the store was restored from a backup, or another process took the
   * request for lost and gave its use back).
   */
  record(entry: AuditEntry): Promise<"recorded" | "forgotten" | "gone">;
  /** Takes back the newest record of a picture the platform refused to take (never sent). */
  withdraw(entry: { platform: Platform; userId: string; outputSha256: string }): Promise<void>;
  /** Notes the platform's message that carried a picture (Reply.delivered), for lookups by that message. */
  noteMessage?(entry: { platform: Platform; userId: string; outputSha256: string; messageRef: string }): Promise<void>;
  /** The output hash of the picture one of this server's messages carried (noteMessage); null when none is known. */
  hashOfMessage?(messageRef: string, where: { platform: Platform; serverId: string }): Promise<string | null>;
  /** Rows of one server whose input or output has this hash, newest first (at most a few dozen). */
  lookup(sha256: string, where: { platform: Platform; serverId: string }): Promise<Array<Omit<AuditEntry, "platform" | "kind"> & { kind: string; at: Date }>>;
  /**
   * How many such rows there are in all (lookup returns only the newest); without a serverId, the pictures Mimic made
   * (outputs only) on the whole platform.
   * Absent: lookup's own count is all there is.
   */
  count?(sha256: string, where: { platform: Platform; serverId?: string }): Promise<number>;
  /** How many days rows are kept (said in "not found" answers). */
  readonly retentionDays: number;
}

// ---------------------------------------------------------------- queue

// The job contract is the queue's own (src/queue/jobs.ts); the core only needs to submit.
export type {
  Captions,
  EncodedImage,
  EnrolledFace,
  Job,
  JobResult,
  ProgressEvent,
  SubmitOptions,
  TransferMode,
} from "../queue/jobs.ts";

export type QueuePort = Pick<InferenceQueue, "submit">;

export interface CorePorts {
  templates: TemplatePort;
  moderation: ModerationPort;
  queue: QueuePort;
  /** The moderators' audit trail; without it nothing is recorded and `audit` lookups are refused. */
  audit?: AuditPort;
}
