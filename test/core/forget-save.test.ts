import { afterEach, beforeEach, describe, expect, it } from "vitest";
import pg from "pg";
import { createCore, type CommandContext, type Core } from "../../src/core/index.ts";
import { storeModeration, storeTemplates } from "../../src/core/bindings.ts";
import type { Reply } from "../../src/core/context.ts";
import { openStore, type Store } from "../../src/templates/index.ts";
import { createTestDb, dialects, PG_URL, type TestDb } from "../templates/helpers.ts";
import { queueDouble, testContext, type QueueDouble } from "./doubles.ts";
import { FACE_JPG } from "./images.ts";

/**
 * Forget-me while one of the user's face saves is under way, through the real core and the real store: the
 * save must not bring a template back after "everything deleted", and says why it was not kept. The test
 * orders the forget between the save's start and its commit with gates it opens itself (no sleeps).
 */

const MIB = 1024 * 1024;
const CANCELLED_TEXT = "You asked Mimic to forget you while this face was being saved, so it was not kept.";
const ctx = (over: Partial<CommandContext> = {}) => testContext({ userId: "101", ...over });
const image = { kind: "bytes" as const, bytes: FACE_JPG };

/** Holds the next enrol job once the face is analysed (before its save): `reached` when it waits, `open()` lets it go on. */
function holdNextEnrol(queue: QueueDouble): { reached: Promise<void>; open(): void } {
  const real = queue.submit.bind(queue);
  let reached!: () => void;
  let open!: () => void;
  const atGate = new Promise<void>((r) => (reached = r));
  const gate = new Promise<void>((r) => (open = r));
  queue.submit = async (job, opts) => {
    const r = await real(job, opts);
    if (job.kind !== "enrol") return r;
    queue.submit = real;
    reached();
    await gate;
    return r;
  };
  return { reached: atGate, open };
}

for (const { dialect, skip } of dialects) {
  describe.skipIf(skip)(`forget-me during a face save (${dialect})`, () => {
    let db: TestDb;
    let store: Store;
    let queue: QueueDouble;
    let core: Core;

    beforeEach(async () => {
      db = await createTestDb(dialect, "forgetsave");
      store = await openStore(db.url, { maxTemplatesPerUser: 5, defaults: { dailyQuotaPerUser: 0, dailyQuotaPerServer: 0, cooldownSeconds: 0 } });
      queue = queueDouble();
      core = createCore({ templates: storeTemplates(store), moderation: storeModeration(store), queue }, { maxInputBytes: 25 * MIB });
    });

    afterEach(async () => {
      await store?.close();
      await db?.drop();
    });

    const rows = (table: "users" | "templates") => db.query(`SELECT id FROM ${table}`);

    it("a save still running when the user is forgotten is cancelled, says so, and leaves nothing; a save after the forget works", async () => {
      expect((await core.faceSave(ctx(), { name: "old", image })).text).toMatch(/^Saved your face “old”/);
      const held = holdNextEnrol(queue);
      const saving = core.faceSave(ctx(), { name: "new", image });
      await held.reached;
      const forgot = await core.forgetMe(ctx(), { confirm: true });
      expect(forgot.text).toMatch(/^Done: deleted your 1 saved face and your usage history\. .*Mimic keeps nothing else about your Discord account, except a note that you asked \(so that restoring an older backup here cannot bring any of it back\) and any ban a server gave you\.$/);
      held.open();
      expect(await saving).toEqual({ text: CANCELLED_TEXT, ephemeral: true, errorCode: "CANCELLED" });
      expect(await rows("templates")).toEqual([]);
      expect(await rows("users")).toEqual([]);
      // The forget is over: a save asked for afterwards is a new one and is kept as ever.
      expect((await core.faceSave(ctx(), { name: "again", image })).text).toMatch(/^Saved your face “again”.* It is your default face\./);
      expect((await core.faceList(ctx())).templates).toEqual([{ name: "again", isDefault: true }]);
    });

    it("a first-ever save (no user record yet) forgotten before it commits is cancelled too", async () => {
      const held = holdNextEnrol(queue);
      const saving = core.faceSave(ctx(), { name: "me", image });
      await held.reached;
      expect((await core.forgetMe(ctx(), { confirm: true })).text).toMatch(/^Done: deleted your usage history\. /);
      held.open();
      expect(await saving).toMatchObject({ errorCode: "CANCELLED", text: CANCELLED_TEXT });
      expect(await rows("templates")).toEqual([]);
      expect(await rows("users")).toEqual([]);
      // Another user's save in flight at the same time is not theirs to cancel.
      expect((await core.faceSave(ctx({ userId: "202" }), { name: "me", image })).text).toMatch(/^Saved your face “me”/);
    });

    it.skipIf(dialect !== "postgres")("a save committing while the forget's transaction is open waits for it and is cancelled", async () => {
      // Forget-me's transaction is held open mid-way (it has deleted the user row, then waits on a usage row this
      // test locks); the save's own transaction starts then, and both finish when the test lets go.
      expect((await core.faceSave(ctx(), { name: "old", image })).text).toMatch(/^Saved your face “old”/);
      await store.moderation.admit({ platform: "discord", userId: "101", serverId: "g1", channelId: "c1" }, "meme");
      const held = holdNextEnrol(queue);
      const saving = core.faceSave(ctx(), { name: "new", image });
      await held.reached;

      const schema = new URL(db.url).searchParams.get("schema")!;
      const locker = new pg.Client({ connectionString: PG_URL, options: `-c search_path="${schema}"` });
      await locker.connect();
      let forgetting: Promise<Reply> | undefined;
      try {
        await locker.query("BEGIN");
        await locker.query("SELECT id FROM usage_events WHERE platform_user_id = '101' FOR UPDATE");
        const lockerPid = Number((await locker.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid);
        forgetting = core.forgetMe(ctx(), { confirm: true });
        const forgetPid = await blockedBy(db, lockerPid);
        held.open();
        // The save's transaction now waits on the user row the open forget has deleted.
        await blockedBy(db, forgetPid);
        await locker.query("COMMIT");
      } finally {
        await locker.end();
      }
      expect((await forgetting!).text).toMatch(/^Done: deleted your 1 saved face and your usage history\. /);
      expect(await saving).toMatchObject({ errorCode: "CANCELLED", text: CANCELLED_TEXT });
      expect(await rows("templates")).toEqual([]);
      expect(await rows("users")).toEqual([]);
    });
  });
}

/** The pid of a backend waiting on a lock `pid` holds, once there is one (each poll is its own snapshot). */
async function blockedBy(db: TestDb, pid: number): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const [row] = await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE ${Number(pid)} = ANY(pg_blocking_pids(pid)) LIMIT 1`);
    if (row) return Number(row.pid);
    if (Date.now() > deadline) throw new Error(`nothing waited on backend ${pid}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
