/**
 * Safety settings kept by the real store (SQLite and PostgreSQL) and honoured by the command core: the
 * per-server visible AI-edit mark reaches the job the queue runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeModeration } from "../../src/core/bindings.ts";
import { createCore, type CommandContext } from "../../src/core/index.ts";
import { openStore, type Store } from "../../src/templates/index.ts";
import { memoryTemplates, queueDouble } from "../core/doubles.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";
import { createTestDb, dialects, type TestDb } from "./helpers.ts";

const MIB = 1024 * 1024;
const ctx = (over: Partial<CommandContext> = {}): CommandContext => ({
  platform: "discord",
  userId: "u1",
  serverId: "g1",
  channelId: "c1",
  isAdmin: false,
  requestId: `r${Math.random()}`,
  attachmentLimitBytes: 10 * MIB,
  ...over,
});
const bytes = (b: Uint8Array) => ({ kind: "bytes" as const, bytes: b });

describe.each(dialects)("safety settings on $dialect", ({ dialect, skip }) => {
  let db: TestDb;
  let store: Store;
  beforeAll(async () => {
    if (skip) return;
    db = await createTestDb(dialect, "safety");
    store = await openStore(db.url, { defaults: { dailyQuotaPerUser: 0, dailyQuotaPerServer: 0, cooldownSeconds: 0 } });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it.skipIf(skip)("an admin turns the visible mark on; the server's jobs ask for it, other servers' do not", async () => {
    const queue = queueDouble();
    const core = createCore({ templates: memoryTemplates(), moderation: storeModeration(store), queue }, { maxInputBytes: 25 * MIB });
    expect((await core.faceSave(ctx(), { name: "me", image: bytes(FACE_JPG) })).errorCode).toBeUndefined();

    await core.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ kind: "meme", visibleMark: false });

    expect((await core.config(ctx(), { key: "mark", value: "on" })).errorCode).toBe("FORBIDDEN");
    const on = await core.config(ctx({ isAdmin: true }), { key: "mark", value: "on" });
    expect(on.text).toContain("mark: on");
    expect((await core.config(ctx({ isAdmin: true }), { key: "mark", value: "maybe" })).errorCode).toBe("BAD_INPUT");

    await core.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ kind: "meme", visibleMark: true });
    await core.morph(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ kind: "animated", visibleMark: true });
    await core.meme(ctx({ serverId: "g2" }), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ visibleMark: false });
    await core.meme(ctx({ serverId: null, channelId: null }), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ visibleMark: false });

    await core.config(ctx({ isAdmin: true }), { key: "mark", value: "off" });
    await core.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
    expect(queue.submitted.at(-1)).toMatchObject({ visibleMark: false });
  });
});
