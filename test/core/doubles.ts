import { createRequire } from "node:module";
import sharp from "sharp";
import { MimicError } from "../../src/errors.ts";
import type {
  Admission,
  CorePorts,
  EnrolledFace,
  Job,
  JobResult,
  ModerationPort,
  Owner,
  QueuePort,
  Scope,
  ServerSettings,
  SettingKey,
  SubmitOptions,
  TemplatePort,
  TemplateSummary,
  UsageReport,
} from "../../src/core/ports.ts";
import type { ImageSource } from "../../src/queue/jobs.ts";
import type { CommandContext } from "../../src/core/index.ts";

/** A command context in a Discord server ("g1", channel "c1"), 10 MiB attachments; `over` changes any of it. */
export function testContext(over: Partial<CommandContext> = {}): CommandContext {
  return {
    platform: "discord",
    userId: "u1",
    serverId: "g1",
    channelId: "c1",
    isAdmin: false,
    requestId: "r1",
    attachmentLimitBytes: 10 * 1024 * 1024,
    ...over,
  };
}

/**
 * In-memory stand-ins for the store, moderation and queue, for tests of the core and the adapters'
 * translation. They follow the ports' contracts (errors, atomic admit, progress events) and produce
 * real encoded images, so adapters are exercised with real bytes. End-to-end tests use the real ones.
 */

const gifenc = createRequire(import.meta.url)("gifenc") as {
  GIFEncoder: () => { writeFrame(idx: Uint8Array, w: number, h: number, o: { palette: number[][]; delay?: number }): void; finish(): void; bytes(): Uint8Array };
  quantize: (rgba: Uint8Array, n: number) => number[][];
  applyPalette: (rgba: Uint8Array, p: number[][]) => Uint8Array;
};

const key = (o: Owner) => `${o.platform}:${o.userId}`;

export function memoryTemplates(): TemplatePort & { usageRecords: Map<string, number> } {
  const byOwner = new Map<string, (TemplateSummary & { data: unknown })[]>();
  const usageRecords = new Map<string, number>();
  /** Per owner, bumped by forgetUser: a save opened on an older one is cancelled (as the store's user row id). */
  const generations = new Map<string, number>();
  const generationOf = (o: Owner) => String(generations.get(key(o)) ?? 0);
  let nextId = 1;
  const listOf = (o: Owner) => byOwner.get(key(o)) ?? [];
  const find = (o: Owner, name: string) => {
    const t = listOf(o).find((t) => t.name.toLowerCase() === name.toLowerCase());
    if (!t) throw new MimicError("NOT_FOUND", `You have no face named “${name}”.`);
    return t;
  };
  return {
    usageRecords,
    async list(o) {
      return listOf(o).map(({ data: _d, ...s }) => ({ ...s }));
    },
    async find(o, name) {
      // As the store: no faces at all is its own NOT_FOUND reason.
      if (listOf(o).length === 0) throw new MimicError("NOT_FOUND", "You have no saved face yet.", { details: { reason: "noFaces", names: [] } });
      const t = name ? find(o, name) : listOf(o).find((t) => t.isDefault);
      if (!t) throw new MimicError("NOT_FOUND", "You have no default face.");
      const { data: _d, ...summary } = t;
      return summary;
    },
    async resolve(o, which) {
      if (typeof which === "object") {
        const t = listOf(o).find((t) => t.id === which.id);
        if (!t) throw new MimicError("NOT_FOUND", "That face no longer exists.", { details: { reason: "gone" } });
        const { data, ...summary } = t;
        return { summary, data };
      }
      const t = which ? find(o, which) : listOf(o).find((t) => t.isDefault);
      if (!t) throw new MimicError("NOT_FOUND", "You have no default face.");
      const { data, ...summary } = t;
      return { summary, data };
    },
    async openSave(o) {
      return generationOf(o);
    },
    async checkSave(o, name) {
      const list = listOf(o);
      if (list.some((t) => t.name.toLowerCase() === name.toLowerCase())) {
        throw new MimicError("BAD_INPUT", `You already have a face named “${name}”.`);
      }
      if (list.length >= 5) throw new MimicError("LIMIT_REACHED", "You can keep at most 5 faces.");
    },
    async save(o, name, face: EnrolledFace, scope, opened) {
      if (opened !== generationOf(o)) throw new MimicError("CANCELLED", "You asked Mimic to forget you while this face was being saved, so it was not kept.");
      await this.checkSave(o, name, scope);
      const list = listOf(o);
      const t = { id: String(nextId++), name, isDefault: list.length === 0, createdAt: new Date(), data: face.data };
      byOwner.set(key(o), [...list, t]);
      return { id: t.id, name, isDefault: t.isDefault, createdAt: t.createdAt };
    },
    async remove(o, name) {
      const t = find(o, name);
      const rest = listOf(o).filter((x) => x !== t);
      if (t.isDefault && rest[0]) rest[0].isDefault = true;
      byOwner.set(key(o), rest);
      return t.isDefault ? { name: t.name, newDefault: rest[0]?.name ?? null } : { name: t.name };
    },
    async setDefault(o, name) {
      const t = find(o, name);
      for (const x of listOf(o)) x.isDefault = x === t;
      return { name: t.name };
    },
    async rename(o, from, to) {
      const t = find(o, from);
      if (listOf(o).some((x) => x !== t && x.name.toLowerCase() === to.toLowerCase())) {
        throw new MimicError("BAD_INPUT", `You already have a face named “${to}”.`);
      }
      t.name = to;
    },
    async forgetUser(o) {
      const templates = listOf(o).length;
      byOwner.delete(key(o));
      const usage = usageRecords.get(key(o)) ?? 0;
      usageRecords.delete(key(o));
      generations.set(key(o), Number(generationOf(o)) + 1);
      return { templates, usageRecords: usage };
    },
  };
}

export function memoryModeration(templates: ReturnType<typeof memoryTemplates>, now = () => Date.now()): ModerationPort {
  const settings = new Map<string, ServerSettings>();
  const bans = new Set<string>();
  const uses: { scope: Scope; at: number }[] = [];
  const defaults = (): ServerSettings => ({
    enabled: true,
    dailyQuota: 0,
    serverDailyQuota: 0,
    maxFacesPerUser: 5,
    cooldownSeconds: 0,
    animated: true,
    channels: [],
    visibleMark: false,
    nsfwFilter: true,
    nsfwThreshold: 0.7,
    swap: true,
  });
  const sKey = (s: Scope) => `${s.platform}:${s.serverId ?? ""}`;
  const get = (s: Scope) => settings.get(sKey(s)) ?? defaults();
  const mine = (s: Scope) => uses.filter((u) => u.scope.userId === s.userId && u.scope.platform === s.platform && u.scope.serverId === s.serverId);
  return {
    async admit(scope, kind): Promise<Admission> {
      const s = get(scope);
      if (!s.enabled) throw new MimicError("DISABLED", "Mimic is switched off on this server.");
      if (bans.has(`${sKey(scope)}:${scope.userId}`)) throw new MimicError("FORBIDDEN", "You are banned from Mimic on this server.");
      if (s.channels.length && scope.channelId && !s.channels.includes(scope.channelId)) {
        throw new MimicError("FORBIDDEN", "Mimic is not allowed in this channel.");
      }
      if (kind === "animated" && !s.animated) throw new MimicError("FORBIDDEN", "Animated memes are switched off on this server.");
      if (kind === "enrol") return { refund: async () => undefined };
      const list = mine(scope);
      const last = list.at(-1);
      if (last && s.cooldownSeconds > 0 && now() - last.at < s.cooldownSeconds * 1000) {
        const wait = Math.ceil((s.cooldownSeconds * 1000 - (now() - last.at)) / 1000);
        throw new MimicError("COOLDOWN", `Slow down: try again in ${wait} s.`, { retryAfterSeconds: wait });
      }
      if (s.dailyQuota > 0 && list.length >= s.dailyQuota) {
        throw new MimicError("QUOTA_EXCEEDED", `You reached today's limit of ${s.dailyQuota} memes. It resets at midnight UTC.`);
      }
      const use = { scope, at: now() };
      uses.push(use);
      templates.usageRecords.set(key(scope), (templates.usageRecords.get(key(scope)) ?? 0) + 1);
      return {
        refund: async () => {
          uses.splice(uses.indexOf(use), 1);
        },
      };
    },
    async settings(scope) {
      return get(scope);
    },
    async updateSetting(scope, k: SettingKey, value) {
      const s = { ...get(scope) };
      const bool = () => {
        if (/^(on|true|yes|1)$/i.test(value)) return true;
        if (/^(off|false|no|0)$/i.test(value)) return false;
        throw new MimicError("BAD_INPUT", `“${value}” is not on/off.`);
      };
      const int = () => {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) throw new MimicError("BAD_INPUT", `“${value}” is not a whole number ≥ 0.`);
        return n;
      };
      if (k === "enabled") s.enabled = bool();
      else if (k === "animated") s.animated = bool();
      else if (k === "mark") s.visibleMark = bool();
      else if (k === "nsfw") s.nsfwFilter = bool();
      else if (k === "swap") s.swap = bool();
      else if (k === "nsfw_threshold") s.nsfwThreshold = Number(value);
      else if (k === "quota") s.dailyQuota = int();
      else if (k === "server_quota") s.serverDailyQuota = int();
      else if (k === "max_faces") s.maxFacesPerUser = int();
      else if (k === "cooldown") s.cooldownSeconds = int();
      else if (k === "ban") bans.add(`${sKey(scope)}:${value}`);
      else if (k === "unban") bans.delete(`${sKey(scope)}:${value}`);
      else if (k === "channel") {
        const [op, id] = value.split(/\s+/);
        if (op === "all") s.channels = [];
        else if (op === "add" && id) s.channels = [...new Set([...s.channels, id])];
        else if (op === "remove" && id) s.channels = s.channels.filter((c) => c !== id);
        else throw new MimicError("BAD_INPUT", "Use “add <id>”, “remove <id>” or “all”.");
      }
      settings.set(sKey(scope), s);
      return s;
    },
    async usage(scope, { includeServer }): Promise<UsageReport> {
      const s = get(scope);
      const list = mine(scope);
      const last = list.at(-1);
      const server = uses.filter((u) => u.scope.platform === scope.platform && u.scope.serverId === scope.serverId);
      const counts = new Map<string, number>();
      for (const u of server) counts.set(u.scope.userId, (counts.get(u.scope.userId) ?? 0) + 1);
      return {
        usedToday: list.length,
        dailyQuota: s.dailyQuota,
        cooldownRemainingSeconds: last && s.cooldownSeconds ? Math.max(0, Math.ceil((s.cooldownSeconds * 1000 - (now() - last.at)) / 1000)) : 0,
        templates: (await templates.list(scope)).length,
        server: includeServer
          ? {
              generationsToday: server.length,
              activeUsersToday: counts.size,
              topUsers: [...counts].map(([userId, count]) => ({ userId, count })).sort((a, b) => b.count - a.count),
            }
          : undefined,
      };
    },
  };
}

/**
 * A face "template" for the double, shaped like the store's EnrolledTemplate (crop PNG, 468×3 mesh,
 * embedding) so the real store accepts it; NO_FACE when the picture is flat (no structure at all).
 */
export async function enrolDouble(image: { bytes: Uint8Array }): Promise<JobResult> {
  const stats = await sharp(image.bytes).stats();
  if (stats.channels.every((c) => c.stdev < 4)) {
    throw new MimicError("NO_FACE", "I could not find a face in that photo. Use a clear, front-facing photo of one person.");
  }
  const cropSize = 128;
  const cropPng = new Uint8Array(await sharp(image.bytes).resize(cropSize, cropSize).png().toBuffer());
  const landmarks = new Float32Array(468 * 3).map((_, i) => (i % 3 === 2 ? 0 : (i * 7) % cropSize));
  const embedding = new Float32Array(16).fill(0.25);
  return { kind: "enrol", face: { data: { cropPng, cropSize, landmarks, embedding, analysis: { double: true } }, qualityNote: "test double" } };
}

/** The core always sends input bytes inline (the job type has no other kind); checked all the same. */
function inlineBytes(src: ImageSource): Uint8Array {
  if (!(src.bytes instanceof Uint8Array)) throw new Error("the core submitted a job without input bytes");
  return src.bytes;
}

/** Real PNG/GIF output made from the reaction (no face work): what a renderer returns, in shape and format. */
export async function renderDouble(job: Extract<Job, { kind: "meme" | "animated" }>): Promise<JobResult> {
  const reaction = inlineBytes(job.reaction);
  const meta = await sharp(reaction).metadata();
  if (!meta.width) throw new MimicError("NOT_AN_IMAGE", "That file is not a picture I can read.");
  const width = Math.min(meta.width, 256);
  const base = sharp(reaction, { pages: 1 }).resize({ width }).removeAlpha();
  const { data, info } = await base.raw().toBuffer({ resolveWithObject: true });
  if (job.kind === "meme") {
    const png = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toBuffer();
    return { kind: "meme", bytes: new Uint8Array(png), mime: "image/png", width: info.width, height: info.height };
  }
  const enc = gifenc.GIFEncoder();
  const rgba = new Uint8Array(info.width * info.height * 4);
  for (let f = 0; f < 4; f++) {
    for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
      rgba[j] = data[i];
      rgba[j + 1] = Math.min(255, data[i + 1] + f * 20);
      rgba[j + 2] = data[i + 2];
      rgba[j + 3] = 255;
    }
    const palette = gifenc.quantize(rgba, 64);
    enc.writeFrame(gifenc.applyPalette(rgba, palette), info.width, info.height, { palette, delay: 80 });
  }
  enc.finish();
  return { kind: "animated", bytes: enc.bytes(), mime: "image/gif", width: info.width, height: info.height };
}

export interface QueueDouble extends QueuePort {
  /** Jobs accepted so far. */
  submitted: Job[];
  /** While closed, jobs wait in line (to observe progress and a full queue). */
  hold(): void;
  release(): void;
  readonly waiting: number;
}

/** One worker, FIFO, BUSY beyond `capacity` waiting jobs, progress events like the real queue. */
export function queueDouble(capacity = 10): QueueDouble {
  const line: { run: () => void; opts: SubmitOptions }[] = [];
  let busy = false;
  let held = false;
  const submitted: Job[] = [];
  const announce = () => line.forEach((w, i) => w.opts.onProgress?.({ type: "queued", position: i + 1, etaSeconds: (i + 1) * 2 }));
  const pump = () => {
    if (busy || held || line.length === 0) return;
    busy = true;
    line.shift()!.run();
    announce();
  };
  return {
    submitted,
    get waiting() {
      return line.length;
    },
    hold() {
      held = true;
    },
    release() {
      held = false;
      pump();
    },
    submit(job, opts) {
      if (line.length >= capacity) {
        return Promise.reject(new MimicError("BUSY", "Mimic is very busy right now. Please try again in a minute.", { retryAfterSeconds: 60 }));
      }
      submitted.push(job);
      return new Promise((resolve, reject) => {
        line.push({
          opts,
          run: () => {
            opts.onProgress?.({ type: "started" });
            const work = job.kind === "enrol" ? enrolDouble({ bytes: inlineBytes(job.image) }) : renderDouble(job);
            work
              .then((r) => {
                opts.onProgress?.({ type: "done" });
                resolve(r);
              }, reject)
              .finally(() => {
                busy = false;
                pump();
              });
          },
        });
        announce();
        pump();
      });
    },
  };
}

export function memoryPorts(capacity?: number): CorePorts & { queue: QueueDouble; templates: ReturnType<typeof memoryTemplates> } {
  const templates = memoryTemplates();
  return { templates, moderation: memoryModeration(templates), queue: queueDouble(capacity) };
}
