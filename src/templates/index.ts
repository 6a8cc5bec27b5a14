/**
 * Templates and moderation: Mimic's persistent store (Prisma 6: embedded SQLite by default, PostgreSQL
 * for multi-process deployments), face enrolment and per-server rules.
 *
 *   const store = await openStore(url?, opts?)        // applies pending migrations first
 *   await store.close()
 *
 * store.templates (every call is scoped by its owner {platform, userId}; no call reaches another user's faces):
 *   openSave(owner) → ticket     before a save's slow work; a forget-me after it cancels that save
 *   save(owner, name, face: EnrolledTemplate, {maxTemplates?, makeDefault?, opened?: ticket}) → TemplateSummary
 *       BAD_INPUT (name invalid/taken), LIMIT_REACHED, CANCELLED (forgotten since opened). The first template becomes the default.
 *   list(owner) → TemplateSummary[]            count(owner) → number
 *   find(owner, name?) → TemplateSummary       (metadata only, for checks before admission) NOT_FOUND
 *   get(owner, name? | {id}) → StoredTemplate (crop PNG, landmarks, embedding, analysis; default when no name) NOT_FOUND
 *   rename(owner, from, to)   setDefault(owner, name)   remove(owner, name) → {newDefault}
 *   forgetUser(owner) → {templates, usageRecords, auditRecords, heldRecords, heldInFlight} every template, the user row, all usage and audit records
 *
 * store.moderation (scope = {platform, userId, serverId|null, channelId|null}):
 *   admit(scope, command, pending?: {reply, job}) → Admission {id, refund(), answered()}   atomic quota + cooldown; DISABLED /
 *       FORBIDDEN / COOLDOWN / QUOTA_EXCEEDED (retryAfterSeconds). Call before queueing; refund() if the job failed,
 *       answered() once the answer exists (until then the use waits on this process: renewPending, takeAbandoned).
 *   check(scope, command) → Rules                       the same without counting (read-only commands)
 *   rules(platform, serverId|null) → Rules              userUsage(scope) → {usedToday, dailyQuota, cooldownRemainingSeconds}
 *   updateRules({platform, serverId, isAdmin}, RulesPatch) → Rules       FORBIDDEN unless isAdmin
 *   ban / unban / bans({platform, serverId, isAdmin}, userId, reason?)
 *   usageReport({platform, serverId, isAdmin}) → {today, last30Days}: {total, byCommand, topUsers}
 *   pruneUsage(keepDays = 90) → deleted count       (openStore's prune: when a bot starts)
 *
 * store.audit: record({platform, userId, serverId, channelId, kind, templateId, inputSha256, outputSha256})
 *   lookup(sha256, {platform, serverId}?) → AuditRecord[] newest first     prune() (a bot's start, then hourly on write)
 *
 * Enrolment:
 *   assessEnrolment(analysis, rules?) → verdict          pure: which face, usable or what to fix
 *   prepareEnrolment(photoBytes, opts?) → {template, warnings, otherFaces}   heavy, no DB (worker-safe)
 *   enrolFace(store.templates, owner, name, photoBytes, opts?)   both + save
 *
 * Backup (backup.ts; the store needs no openStore for these):
 *   backupStore(file, {url?, force?}) → {file, source, schema, tables}   a consistent snapshot as a standalone SQLite file
 *   restoreStore(file, {url?, replace?}) → {target, tables, …}          into an empty store (or --replace), ids kept
 */
export { openStore } from "./store.ts";
export type { Store, StoreOptions } from "./store.ts";
export { TemplateStore, MESH_VALUES } from "./templates.ts";
export type { EnrolledTemplate, Owner, StoredTemplate, TemplateSummary } from "./templates.ts";
export { AuditLog, DEFAULT_AUDIT_RETENTION_DAYS } from "./audit.ts";
export { parseSha256, sha256Hex } from "./hashes.ts";
export type { AuditEntry, AuditRecord } from "./audit.ts";
export { Moderation, rulesPatchSchema, formatWait, USAGE_RETENTION_DAYS } from "./moderation.ts";
export type { Admission, RuleDefaults, Rules, RulesPatch, Scope, ServerRef, UsageReport, UsageWindow, UserUsage } from "./moderation.ts";
export { assessEnrolment, prepareEnrolment, enrolFace, DEFAULT_ENROLMENT_RULES, TEMPLATE_CROP_SIZE, TEMPLATE_MAX_SIDE, portraitFrame } from "./enrol.ts";
export type { EnrolmentRules, EnrolmentVerdict, PreparedEnrolment } from "./enrol.ts";
export { normaliseTemplateName, NAME_PATTERN } from "./names.ts";
export { resolveDatabaseTarget, describeTarget } from "./db/url.ts";
export type { DatabaseTarget } from "./db/url.ts";
export { migrate, loadMigrations } from "./db/migrate.ts";
export { float32ToBytes, bytesToFloat32, utcDay } from "./codec.ts";
export { backupStore, restoreStore, BACKUP_TABLES } from "./backup.ts";
export type { BackupResult, BackupTable, BackupTargetOptions, RestoreResult, TableCounts } from "./backup.ts";
