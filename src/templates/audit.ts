/**
 * The moderators' audit trail: one row per generation (who, where, when, job kind, template, SHA-256 of the
 * input and of the output), so "who made this picture?" is answered from the picture's own hash. No pixels
 * are kept. Rows older than the retention are deleted by the app itself (at start-up and, while it runs,
 * at most once an hour when a row is written); forget-me deletes a user's rows (TemplateStore.forgetUser).
 */
import type { Db } from "./db/client.ts";
import { passThrough, type Gate } from "./db/gate.ts";
import { FORGOTTEN, NOT_PENDING } from "./moderation.ts";
import { parseSha256, SHA256 } from "./hashes.ts";
import { checkIdentity } from "./names.ts";

export const DEFAULT_AUDIT_RETENTION_DAYS = 30;
const DAY_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;
/** Most rows one lookup returns (the same picture posted many times is still one answer). */
const LOOKUP_LIMIT = 20;

export interface AuditEntry {
  platform: string;
  userId: string;
  /** null in private chats. */
  serverId: string | null;
  channelId: string | null;
  kind: string;
  templateId: string | null;
  inputSha256: string;
  outputSha256: string | null;
  /** The use this generation was admitted as (the usage row's id): written only while that row stands. */
  useId?: string;
}

/** What became of a generation's row: written, or not because its use no longer stands (see AuditLog.record). */
export type AuditOutcome = "recorded" | "forgotten" | "gone";

export interface AuditRecord extends AuditEntry {
  at: Date;
}



export class AuditLog {
  private lastPrune = 0;

  constructor(
    private readonly db: Db,
    readonly retentionDays: number = DEFAULT_AUDIT_RETENTION_DAYS,
    private readonly now: () => number = Date.now,
    private readonly gate: Gate = passThrough,
  ) {
    if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new Error(`audit retention must be ≥ 1 day, got ${retentionDays}`);
  }

  /**
   * Takes back the newest row of this user's picture with this output hash: the platform refused to take it, so
   * it was never sent. Only the newest: the same meme made and delivered earlier keeps its row.
   */
  async withdraw(e: { platform: string; userId: string; outputSha256: string }): Promise<void> {
    await this.exclusive(async () => {
      const row = await this.db.auditEvent.findFirst({
        where: { platform: e.platform, platformUserId: e.userId, outputSha256: e.outputSha256 },
        orderBy: { atMs: "desc" },
        select: { id: true },
      });
      if (row) await this.db.auditEvent.delete({ where: { id: row.id } });
    });
  }

  /**
   * Notes the platform's message that carried this user's picture (the newest row of this output hash without one):
   * where the platform shows a re-encoding, "who made this?" asked of that message finds the row by it (hashOfMessage).
   */
  async noteMessage(e: { platform: string; userId: string; outputSha256: string; messageRef: string }): Promise<void> {
    await this.exclusive(async () => {
      const row = await this.db.auditEvent.findFirst({
        where: { platform: e.platform, platformUserId: e.userId, outputSha256: e.outputSha256, messageRef: null },
        orderBy: { atMs: "desc" },
        select: { id: true },
      });
      if (row) await this.db.auditEvent.update({ where: { id: row.id }, data: { messageRef: e.messageRef } });
    });
  }

  /** The output hash of the picture a message of this server carried (noteMessage), within the retention; null if none. */
  async hashOfMessage(messageRef: string, where: { platform: string; serverId: string }): Promise<string | null> {
    const oldest = BigInt(this.now() - this.retentionDays * DAY_MS);
    const row = await this.gate.run(() =>
      this.db.auditEvent.findFirst({
        where: { platform: where.platform, serverId: where.serverId, messageRef, atMs: { gte: oldest } },
        select: { outputSha256: true },
      }),
    );
    return row?.outputSha256 ?? null;
  }

  /**
   * Writes one generation's row ("recorded"). Writes nothing when the entry's use (useId) no longer stands:
   * "forgotten" when its user asked to be forgotten meanwhile, "gone" when its record vanished (given back, taken
   * for lost by another process, or the store replaced by a restore).
   */
  async record(e: AuditEntry): Promise<AuditOutcome> {
    checkIdentity(e.platform, e.userId);
    for (const h of [e.inputSha256, e.outputSha256]) if (h !== null && !SHA256.test(h)) throw new Error(`audit: not a sha256: ${h}`);
    const now = this.now();
    const written = await this.exclusive(() =>
      this.db.$transaction(async (tx) => {
        // Locks the use's row: a forget-me marking it (TemplateStore.forgetUser) waits for this row, or this sees its
        // mark. Recorded, the picture is as good as sent: the use no longer waits on its process (Admission.answered),
        // so a forget-me from here on does not say it was thrown away.
        if (e.useId !== undefined) {
          const standing = await tx.$executeRaw`UPDATE usage_events SET ${NOT_PENDING} WHERE id = ${Number(e.useId)} AND command NOT LIKE ${`${FORGOTTEN}%`}`;
          if (standing === 0) {
            const marked = await tx.$queryRaw<unknown[]>`SELECT id FROM usage_events WHERE id = ${Number(e.useId)}`;
            return marked.length > 0 ? "forgotten" : "gone";
          }
        }
        await tx.auditEvent.create({
        data: {
          platform: e.platform,
          serverId: e.serverId ?? "",
          channelId: e.channelId ?? "",
          platformUserId: e.userId,
          kind: e.kind,
          templateId: e.templateId,
          inputSha256: e.inputSha256,
          outputSha256: e.outputSha256,
          atMs: BigInt(now),
        },
        });
        return "recorded" as const;
      }),
    );
    if (now - this.lastPrune >= PRUNE_EVERY_MS) await this.prune();
    return written;
  }

  /**
   * Generations whose input or output has this hash, newest first, at most LOOKUP_LIMIT. `where` narrows to one
   * server (a server's admins see only their own server's rows); without it (the operator's CLI) every row is
   * searched. Rows older than the retention are left out, whether or not a prune deleted them yet.
   */
  async lookup(sha256: string, where?: { platform: string; serverId: string }): Promise<AuditRecord[]> {
    const rows = await this.gate.run(() =>
      this.db.auditEvent.findMany({ where: this.matching(sha256, where), orderBy: [{ atMs: "desc" }, { id: "desc" }], take: LOOKUP_LIMIT }),
    );
    return rows.map((r) => ({
      platform: r.platform,
      userId: r.platformUserId,
      serverId: r.serverId || null,
      channelId: r.channelId || null,
      kind: r.kind,
      templateId: r.templateId,
      inputSha256: r.inputSha256,
      outputSha256: r.outputSha256,
      at: new Date(Number(r.atMs)),
    }));
  }

  /** How many rows lookup would find without its limit. */
  async count(sha256: string, where?: { platform: string; serverId?: string }): Promise<number> {
    return this.gate.run(() => this.db.auditEvent.count({ where: this.matching(sha256, where) }));
  }

  /**
   * The rows of this hash, within the retention: in one server, as input or output; on a whole platform (no
   * serverId), as output only, so nobody learns which pictures someone used as reactions in a DM or elsewhere.
   */
  private matching(sha256: string, where?: { platform: string; serverId?: string }) {
    const h = parseSha256(sha256);
    const oldest = BigInt(this.now() - this.retentionDays * DAY_MS);
    return {
      OR: where && where.serverId === undefined ? [{ outputSha256: h }] : [{ outputSha256: h }, { inputSha256: h }],
      atMs: { gte: oldest },
      ...(where && { platform: where.platform }),
      ...(where?.serverId !== undefined && { serverId: where.serverId }),
    };
  }

  /** Deletes rows older than the retention; returns how many. */
  async prune(): Promise<number> {
    const now = this.now();
    this.lastPrune = now;
    const oldest = BigInt(now - this.retentionDays * DAY_MS);
    return (await this.exclusive(() => this.db.auditEvent.deleteMany({ where: { atMs: { lt: oldest } } }))).count;
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.write(work);
  }
}
