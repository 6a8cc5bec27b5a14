/**
 * Saved faces ("templates"). Every method takes the owner and every query is scoped by it: there is no
 * way to read, list, use or even detect another user's template through this API.
 * Invariants kept inside transactions: names unique per user (case-insensitive, stored lower-case), at
 * most `maxTemplates` per user, and whenever a user has templates exactly one of them is the default.
 */
import { MimicError } from "../errors.ts";
import { Prisma } from "../generated/sqlite/client.ts";
import { FORGOTTEN, FORGOTTEN_HOLD_MS, pruneForgottenUsage } from "./moderation.ts";
import type { Db } from "./db/client.ts";
import type { BlobReader } from "./db/blobs.ts";
import { passThrough, type Gate } from "./db/gate.ts";
import { bytesToFloat32, float32ToBytes } from "./codec.ts";
import { checkIdentity, normaliseTemplateName } from "./names.ts";

/** A user on one platform. `userId` is the platform's id (Discord snowflake, Telegram id, "local"). */
export interface Owner {
  platform: string;
  userId: string;
}

/** What enrolment produces for one face; the store keeps exactly this (never the uploaded photo). */
export interface EnrolledTemplate {
  /** PNG bytes of the aligned, square face crop. */
  cropPng: Uint8Array;
  /** Side of the crop in pixels. */
  cropSize: number;
  /** 468×3 mesh points in crop pixels. */
  landmarks: Float32Array;
  /** Identity embedding of the face (L2-normalised). */
  embedding: Float32Array;
  /** JSON-serialisable facts about the face: pose, quality, source size, crop transform, warnings. */
  analysis: Record<string, unknown>;
}

export interface TemplateSummary {
  id: string;
  name: string;
  isDefault: boolean;
  createdAt: Date;
  cropSize: number;
}

export interface StoredTemplate extends TemplateSummary, EnrolledTemplate {}

export const MESH_VALUES = 468 * 3;

type Tx = Prisma.TransactionClient;

export class TemplateStore {
  constructor(
    private readonly db: Db,
    /** Configured MAX_TEMPLATES_PER_USER; a server may only lower it. */
    readonly maxTemplatesPerUser: number,
    /** Serialises units of work on SQLite (see db/gate.ts). */
    private readonly gate: Gate = passThrough,
    /** Fast lane for the binary columns (see db/blobs.ts); without one they come through Prisma. */
    private readonly blobs?: BlobReader,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Starts a save that takes a while (the face is analysed first): returns the id of the owner's user row,
   * creating it, to be given to `save` as `opened`. Forget-me deletes that row, and ids are never reused
   * (AUTOINCREMENT, SERIAL), so a save opened before a forget is cancelled and one opened after it is not.
   */
  async openSave(owner: Owner): Promise<string> {
    checkIdentity(owner.platform, owner.userId);
    return this.exclusive(() =>
      this.db.$transaction(async (tx) => {
        const user = await lockUser(tx, owner, true);
        if (!user) throw new Error("user row vanished inside its own transaction");
        return String(user.id);
      }),
    );
  }

  /**
   * What `save` would refuse, checked before the slow work of a save (the photo's download and analysis): a name
   * taken, the limit reached. The save checks again, atomically. Throws as `save` does.
   */
  async checkSave(owner: Owner, rawName: string, opts: { maxTemplates?: number | null } = {}): Promise<void> {
    checkIdentity(owner.platform, owner.userId);
    const name = normaliseTemplateName(rawName, { fresh: true });
    const limit = Math.min(this.maxTemplatesPerUser, opts.maxTemplates ?? Infinity);
    refuseSave(await this.list(owner), name, limit);
  }

  /**
   * Saves a new template. The user's first template becomes the default (or any, with makeDefault).
   * `opened`: what openSave returned when this save began; the save is then kept only while that user row stands.
   * Throws BAD_INPUT (name invalid or taken), LIMIT_REACHED (too many templates), CANCELLED (the owner asked to
   * be forgotten since the save was opened: nothing is written).
   */
  async save(
    owner: Owner,
    rawName: string,
    face: EnrolledTemplate,
    opts: { maxTemplates?: number | null; makeDefault?: boolean; opened?: string } = {},
  ): Promise<TemplateSummary> {
    checkIdentity(owner.platform, owner.userId);
    const name = normaliseTemplateName(rawName, { fresh: true });
    checkEnrolled(face);
    const limit = Math.min(this.maxTemplatesPerUser, opts.maxTemplates ?? Infinity);
    const data = {
      name,
      cropPng: new Uint8Array(face.cropPng),
      cropSize: face.cropSize,
      landmarks: float32ToBytes(face.landmarks),
      embedding: float32ToBytes(face.embedding),
      analysis: JSON.stringify(face.analysis),
    };
    const opened = opts.opened === undefined ? undefined : openedId(opts.opened);
    return this.exclusive(() =>
      this.db.$transaction(async (tx) => {
        // Checked under the user row's lock, in the transaction that writes: a forget-me deleting the row either
        // committed first (this finds no row) or waits for this commit and then deletes the new template too.
        const user = opened === undefined ? await lockUser(tx, owner, true) : await lockOpened(tx, owner, opened);
        if (!user && opened !== undefined) {
          throw new MimicError("CANCELLED", "You asked Mimic to forget you while this face was being saved, so it was not kept.", { details: { reason: "forgotten" } });
        }
        if (!user) throw new Error("user row vanished inside its own transaction");
        refuseSave(await tx.template.findMany({ where: { userId: user.id }, select: { name: true } }), name, limit);
        const created = await tx.template.create({ data: { ...data, userId: user.id }, select: summarySelect });
        const isDefault = user.defaultTemplateId === null || opts.makeDefault === true;
        if (isDefault) await tx.user.update({ where: { id: user.id }, data: { defaultTemplateId: created.id } });
        return toSummary(created, isDefault ? created.id : user.defaultTemplateId);
      }),
    );
  }

  /** The owner's templates, oldest first. */
  async list(owner: Owner): Promise<TemplateSummary[]> {
    checkIdentity(owner.platform, owner.userId);
    return this.gate.run(async () => {
      const user = await this.findUser(owner);
      if (!user) return [];
      const rows = await this.db.template.findMany({ where: { userId: user.id }, select: summarySelect, orderBy: { id: "asc" } });
      return rows.map((r) => toSummary(r, user.defaultTemplateId));
    });
  }

  async count(owner: Owner): Promise<number> {
    checkIdentity(owner.platform, owner.userId);
    return this.gate.run(async () => {
      const user = await this.findUser(owner);
      return user ? this.db.template.count({ where: { userId: user.id } }) : 0;
    });
  }

  /**
   * One template's summary (no image, mesh, embedding or analysis): by name, or the owner's default.
   * For checks before a request is admitted; `get` loads the data once the job needs it.
   * Throws NOT_FOUND saying what exists.
   */
  async find(owner: Owner, rawName?: string): Promise<TemplateSummary> {
    checkIdentity(owner.platform, owner.userId);
    const name = rawName === undefined ? undefined : normaliseTemplateName(rawName);
    return this.gate.run(async () => {
      // One raw statement (on every request's path: raw SQL skips Prisma's per-call query compilation).
      const match = name === undefined ? Prisma.sql`t.id = u.default_template_id` : Prisma.sql`t.name = ${name}`;
      const [row] = await this.db.$queryRaw<FoundRow[]>`
        SELECT u.default_template_id, t.id, t.name, t.created_at, t.crop_size
        FROM users u JOIN templates t ON t.user_id = u.id AND ${match}
        WHERE u.platform = ${owner.platform} AND u.platform_user_id = ${owner.userId}`;
      if (!row) throw await this.notFound(owner, name);
      const defaultId = row.default_template_id === null ? null : Number(row.default_template_id);
      return toSummary({ id: Number(row.id), name: row.name, createdAt: new Date(row.created_at), cropSize: Number(row.crop_size) }, defaultId);
    });
  }

  /**
   * One template with its data: by name, or the owner's default, or by id (as `find` gave it). Throws NOT_FOUND
   * saying what exists (by id: details.reason "gone").
   */
  async get(owner: Owner, which?: string | { id: string }): Promise<StoredTemplate> {
    checkIdentity(owner.platform, owner.userId);
    const byId = typeof which === "object" ? Number(which.id) : undefined;
    const name = typeof which === "string" ? normaliseTemplateName(which) : undefined;
    const { user, row, blobs } = await this.gate.run(async () => {
      const user = await this.findUser(owner);
      const where = byId !== undefined ? { userId: user?.id ?? -1, id: Number.isSafeInteger(byId) ? byId : -1 } : user && whereTemplate(user, name);
      const row = user && where ? await this.db.template.findFirst({ where, select: { ...summarySelect, analysis: true } }) : null;
      // Same unit of work (and on SQLite the same gate), so the blobs are the row's own.
      const blobs = row && user
        ? this.blobs
          ? await this.blobs.read(row.id, user.id)
          : await this.db.template.findFirst({ where: { id: row.id, userId: user.id }, select: { cropPng: true, landmarks: true, embedding: true } })
        : null;
      if (!row || !user || !blobs) {
        throw byId !== undefined ? new MimicError("NOT_FOUND", "That face no longer exists.", { details: { reason: "gone" } }) : await this.notFound(owner, name);
      }
      return { user, row, blobs };
    });
    return {
      ...toSummary(row, user.defaultTemplateId),
      cropPng: blobs.cropPng,
      landmarks: bytesToFloat32(blobs.landmarks),
      embedding: bytesToFloat32(blobs.embedding),
      analysis: JSON.parse(row.analysis) as Record<string, unknown>,
    };
  }

  async rename(owner: Owner, rawFrom: string, rawTo: string): Promise<TemplateSummary> {
    checkIdentity(owner.platform, owner.userId);
    const from = normaliseTemplateName(rawFrom);
    const to = normaliseTemplateName(rawTo, { fresh: true });
    return this.exclusive(() =>
      this.db.$transaction(async (tx) => {
        const user = await lockUser(tx, owner, false);
        const row = user && (await tx.template.findFirst({ where: { userId: user.id, name: from }, select: { id: true } }));
        if (!user || !row) throw await this.notFound(owner, from, tx);
        if (from !== to && (await tx.template.count({ where: { userId: user.id, name: to } })) > 0) {
          throw new MimicError("BAD_INPUT", `You already have a face named “${to}”.`, { details: { reason: "nameTaken", name: to } });
        }
        const updated = await tx.template.update({ where: { id: row.id }, data: { name: to }, select: summarySelect });
        return toSummary(updated, user.defaultTemplateId);
      }),
    );
  }

  async setDefault(owner: Owner, rawName: string): Promise<TemplateSummary> {
    checkIdentity(owner.platform, owner.userId);
    const name = normaliseTemplateName(rawName);
    return this.exclusive(() =>
      this.db.$transaction(async (tx) => {
        const user = await lockUser(tx, owner, false);
        const row = user && (await tx.template.findFirst({ where: { userId: user.id, name }, select: summarySelect }));
        if (!user || !row) throw await this.notFound(owner, name, tx);
        await tx.user.update({ where: { id: user.id }, data: { defaultTemplateId: row.id } });
        return toSummary(row, row.id);
      }),
    );
  }

  /**
   * Deletes one template (`name`: as stored); when it was the default, the newest remaining one becomes the
   * default and is returned as `newDefault` (null: none left).
   */
  async remove(owner: Owner, rawName: string): Promise<{ name: string; newDefault?: string | null }> {
    checkIdentity(owner.platform, owner.userId);
    const name = normaliseTemplateName(rawName);
    return this.exclusive(() =>
      this.db.$transaction(async (tx) => {
        const user = await lockUser(tx, owner, false);
        const row = user && (await tx.template.findFirst({ where: { userId: user.id, name }, select: { id: true, name: true } }));
        if (!user || !row) throw await this.notFound(owner, name, tx);
        await tx.template.delete({ where: { id: row.id } });
        if (user.defaultTemplateId !== row.id && user.defaultTemplateId !== null) return { name: row.name };
        const next = await tx.template.findFirst({ where: { userId: user.id }, orderBy: { id: "desc" }, select: { id: true, name: true } });
        await tx.user.update({ where: { id: user.id }, data: { defaultTemplateId: next?.id ?? null } });
        return { name: row.name, newDefault: next?.name ?? null };
      }),
    );
  }

  /**
   * Forget-me: deletes every template, the user record, the audit rows and the usage records of this user on
   * every server. A server's ban is kept (the server's decision; see prisma/schema.prisma), and so, for a day,
   * are the uses of the last 24 hours: quotas and cooldowns count them, and deleting them let anyone reset
   * their limits by forgetting and saving a face again. They are marked (FORGOTTEN) and deleted once a day old
   * (pruneForgottenUsage: here, at start-up and hourly on admission).
   */
  /**
   * usageRecords: uses deleted now (older than a day); auditRecords: audit-trail rows deleted; heldRecords: the last
   * day's uses, held, of which heldInFlight still await their answer in some process: their pictures are thrown
   * away when done and those uses given back, so they are not among the uses that stay counted.
   */
  async forgetUser(owner: Owner): Promise<{ templates: number; usageRecords: number; auditRecords: number; heldRecords: number; heldInFlight: number }> {
    checkIdentity(owner.platform, owner.userId);
    return this.exclusive(() =>
      this.db.$transaction(async (tx) => {
        const user = await lockUser(tx, owner, false);
        // Noted first, so a restore of an older backup deletes again what the user had up to now (forgotten.ts).
        const noted = { atMs: BigInt(this.now()) };
        await tx.forgottenUser.upsert({
          where: { platform_platformUserId: { platform: owner.platform, platformUserId: owner.userId } },
          create: { platform: owner.platform, platformUserId: owner.userId, ...noted },
          update: noted,
        });
        let templates = 0;
        if (user) {
          await tx.user.update({ where: { id: user.id }, data: { defaultTemplateId: null } });
          templates = (await tx.template.deleteMany({ where: { userId: user.id } })).count;
          await tx.user.delete({ where: { id: user.id } });
        }
        const dayAgo = BigInt(this.now() - FORGOTTEN_HOLD_MS);
        const usage = await tx.usageEvent.deleteMany({ where: { platform: owner.platform, platformUserId: owner.userId, atMs: { lt: dayAgo } } });
        // A picture still being made is thrown away and its use given back (heldInFlight); should its process die
        // first, its use is given back without a word (pending_reply): "send it again" would only find no face.
        await tx.$executeRaw`UPDATE usage_events SET command = CAST(${FORGOTTEN} AS TEXT) || command, pending_reply = NULL
          WHERE platform = ${owner.platform} AND platform_user_id = ${owner.userId} AND at_ms >= ${dayAgo} AND command NOT LIKE ${`${FORGOTTEN}%`}`;
        const held = await tx.usageEvent.findMany({ where: { platform: owner.platform, platformUserId: owner.userId, command: { startsWith: FORGOTTEN } }, select: { pendingBy: true } });
        // The audit trail's rows are records of this user's use too.
        const audit = await tx.auditEvent.deleteMany({ where: { platform: owner.platform, platformUserId: owner.userId } });
        await pruneForgottenUsage(tx, this.now());
        // Counted apart: a reply saying "usage records" for audit rows miscounted the uses.
        return { templates, usageRecords: usage.count, auditRecords: audit.count, heldRecords: held.length, heldInFlight: held.filter((h) => h.pendingBy !== null).length };
      }),
    );
  }

  /** One transactional unit: queued on SQLite, retried whole on transient conflicts (see db/gate.ts). */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.write(work);
  }

  private findUser(owner: Owner, tx: Tx | Db = this.db) {
    return tx.user.findUnique({
      where: { platform_platformUserId: { platform: owner.platform, platformUserId: owner.userId } },
      select: { id: true, defaultTemplateId: true },
    });
  }

  private async notFound(owner: Owner, name: string | undefined, tx: Tx | Db = this.db): Promise<MimicError> {
    const user = await this.findUser(owner, tx);
    const names = user ? (await tx.template.findMany({ where: { userId: user.id }, select: { name: true }, orderBy: { id: "asc" } })).map((t) => t.name) : [];
    if (names.length === 0) {
      // Callers add how to save one on their platform (core: hints.ts; CLI: the face command).
      return new MimicError("NOT_FOUND", "You have no saved face yet.", { details: { reason: "noFaces", names } });
    }
    // At most NAMES_LISTED names: a chat message has a length limit, and a user may keep hundreds of faces.
    const shown = `${names.slice(0, NAMES_LISTED).join(", ")}${names.length > NAMES_LISTED ? ` and ${names.length - NAMES_LISTED} more` : ""}`;
    if (name === undefined) return new MimicError("NOT_FOUND", `You have no default face. Choose one of: ${shown}.`, { details: { reason: "noDefault", names } });
    return new MimicError("NOT_FOUND", `You have no face named “${name}”. Your faces: ${shown}.`, { details: { reason: "noSuchFace", names } });
  }
}

/** The save's refusals, given the owner's faces: the name taken, or `limit` faces already. */
function refuseSave(existing: Array<{ name: string }>, name: string, limit: number): void {
  if (existing.some((t) => t.name === name)) {
    throw new MimicError("BAD_INPUT", `You already have a face named “${name}”. Pick another name, or remove that one first.`, { details: { reason: "nameTaken", name } });
  }
  if (existing.length >= limit) {
    throw new MimicError(
      "LIMIT_REACHED",
      `You already have ${existing.length} saved ${existing.length === 1 ? "face" : "faces"}, the most allowed here is ${limit}. Remove one first.`,
      { details: { reason: "limit", limit, count: existing.length, names: existing.map((t) => t.name) } },
    );
  }
}

/** Face names an error lists before it only counts the rest. */
const NAMES_LISTED = 30;

/** templates.find's row as raw SQL returns it (PostgreSQL may send integers as bigint). */
interface FoundRow {
  default_template_id: number | bigint | null;
  id: number | bigint;
  name: string;
  created_at: Date | string;
  crop_size: number | bigint;
}

const summarySelect = { id: true, name: true, createdAt: true, cropSize: true } as const;

/** The owner's template by name, or their default (none: matches nothing). */
function whereTemplate(user: { id: number; defaultTemplateId: number | null }, name: string | undefined) {
  return name === undefined ? { userId: user.id, id: user.defaultTemplateId ?? -1 } : { userId: user.id, name };
}

function toSummary(r: { id: number; name: string; createdAt: Date; cropSize: number }, defaultId: number | null): TemplateSummary {
  return { id: String(r.id), name: r.name, isDefault: r.id === defaultId, createdAt: r.createdAt, cropSize: r.cropSize };
}

/**
 * Finds (optionally creates) the owner's user row and write-locks it for the rest of the transaction, so
 * concurrent changes of one user's templates run one after the other: a row lock on PostgreSQL, the
 * database write lock on SQLite (taken now rather than upgraded later, which could fail with BUSY).
 */
async function lockUser(tx: Tx, owner: Owner, create: boolean): Promise<{ id: number; defaultTemplateId: number | null } | null> {
  // On PostgreSQL a forget-me committing between the INSERT (which found the row) and the UPDATE leaves nothing to
  // lock: creating again then makes a fresh row. A few rounds, as each needs another forget to lose.
  let locked = 0;
  for (let round = 0; round < 3 && locked === 0; round++) {
    if (create) {
      await tx.$executeRaw`INSERT INTO users (platform, platform_user_id) VALUES (${owner.platform}, ${owner.userId})
        ON CONFLICT (platform, platform_user_id) DO NOTHING`;
    }
    locked = await tx.$executeRaw`UPDATE users SET platform = platform WHERE platform = ${owner.platform} AND platform_user_id = ${owner.userId}`;
    if (!create) break;
  }
  if (locked === 0) return null;
  return tx.user.findUnique({
    where: { platform_platformUserId: { platform: owner.platform, platformUserId: owner.userId } },
    select: { id: true, defaultTemplateId: true },
  });
}

/** The user row a save was opened on (see openSave), locked like lockUser does; null once it was deleted (forget-me). */
async function lockOpened(tx: Tx, owner: Owner, id: number): Promise<{ id: number; defaultTemplateId: number | null } | null> {
  const locked = await tx.$executeRaw`UPDATE users SET platform = platform
    WHERE id = ${id} AND platform = ${owner.platform} AND platform_user_id = ${owner.userId}`;
  if (locked === 0) return null;
  return tx.user.findUnique({ where: { id }, select: { id: true, defaultTemplateId: true } });
}

function openedId(opened: string): number {
  const id = Number(opened);
  if (!/^\d+$/.test(opened) || !Number.isSafeInteger(id)) {
    throw new MimicError("INTERNAL", "That face could not be saved because of an internal error. Please try again.", { logMessage: `not an openSave ticket: ${opened.slice(0, 40)}` });
  }
  return id;
}

function checkEnrolled(face: EnrolledTemplate): void {
  const problems: string[] = [];
  if (!(face.cropPng instanceof Uint8Array) || face.cropPng.byteLength < 8) problems.push("crop PNG missing");
  else if (face.cropPng[0] !== 0x89 || face.cropPng[1] !== 0x50) problems.push("crop is not a PNG");
  if (!Number.isInteger(face.cropSize) || face.cropSize < 16 || face.cropSize > 4096) problems.push("bad crop size");
  if (!(face.landmarks instanceof Float32Array) || face.landmarks.length !== MESH_VALUES) problems.push("landmarks must be 468×3");
  if (!(face.embedding instanceof Float32Array) || face.embedding.length === 0) problems.push("embedding missing");
  if (problems.length) {
    throw new MimicError("INTERNAL", "That face could not be saved because of an internal error. Please try again.", {
      logMessage: `invalid enrolment result: ${problems.join(", ")}`,
    });
  }
}
