import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApp, startApp, type App, type RunningApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { storeAudit, storeModeration } from "../../src/core/bindings.ts";
import type { Platform } from "../../src/core/ports.ts";
import type { EnrolResult } from "../../src/queue/jobs.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { enrolDouble } from "../core/doubles.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";
import { ALICE, BOB, EPHEMERAL, FakeDiscord, OPT, content, flagsOf, str, sub, type FakeUser, type RestCall } from "../helpers/fake-discord.ts";
import { FakeTelegram, uploadedFile, type RecordedCall } from "../helpers/fake-telegram.ts";

/**
 * Stopping Mimic (SIGTERM/SIGINT → RunningApp.stop) while the bots have work in flight, in the playground's
 * order: intake stops, the queue drains (SHUTDOWN_DRAIN_MS), the bots deliver the replies of the jobs that
 * settled, then the store closes. The real app (startApp) with the real discord.js client and grammY bot
 * against the fakes, the real store and queue, and handlers whose jobs wait at gates the test opens
 * (gated-handlers.ts): no step depends on how fast anything runs. A job whose gate stays closed runs until
 * the drain ends, so the tests that have one run with a short SHUTDOWN_DRAIN_MS; where something must happen
 * before the drain ends, the drain starts only once it has (drainAfter).
 */
const GATED_HANDLERS = new URL("./gated-handlers.ts", import.meta.url);
const RESTARTING = "Mimic is restarting. Please try again in a minute.";
/** SHUTDOWN_DRAIN_MS of the tests that wait the drain out. */
const SHORT_DRAIN_MS = 1000;
const SHORT_DRAIN = { SHUTDOWN_DRAIN_MS: String(SHORT_DRAIN_MS) };
/** Starting the app and its worker on a busy 2-core machine, plus a drain. */
const TEST_TIMEOUT_MS = 120_000;

let dir: string;
let gates: string;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mimic-bot-stop-"));
  gates = join(dir, "gates");
  mkdirSync(gates);
  // The queue's worker processes inherit it when they are forked (at start).
  process.env.MIMIC_TEST_GATE_DIR = gates;
});
afterEach(async () => {
  // Whatever a failed test left held goes on.
  for (const g of ["a", "b", "c", "q1", "q2", "q3", "q4", "q5"]) writeFileSync(join(gates, `${g}.open`), "");
  for (const c of cleanups.splice(0).reverse()) await c();
  delete process.env.MIMIC_TEST_GATE_DIR;
  rmSync(dir, { recursive: true, force: true });
});

const config = (env: Record<string, string> = {}) =>
  loadConfig({
    LOG_LEVEL: "silent",
    DATA_DIR: join(dir, "data"),
    QUEUE_WORKERS: "1",
    COOLDOWN_SECONDS: "0",
    // A held job is never cut by its own timeout: only the shutdown ends it.
    QUEUE_JOB_TIMEOUT_MS: "3600000",
    DISCORD_TOKEN: "",
    TELEGRAM_TOKEN: "",
    ...env,
  });

async function start(env: Record<string, string>): Promise<RunningApp> {
  const running = await startApp(config(env), { handlers: GATED_HANDLERS, onFatal: () => {} });
  cleanups.push(() => running.stop());
  return running;
}

/** The same data folder once Mimic has stopped (its store closed): what a restart finds. */
async function reopened(): Promise<App> {
  const app = await createApp(config(), { handlers: GATED_HANDLERS });
  cleanups.push(() => app.close({ drainMs: 0 }));
  return app;
}

const open = (gate: string) => writeFileSync(join(gates, `${gate}.open`), "");
/** Until the job behind `gate` runs on the worker (the test's timeout bounds a hang). */
const started = (gate: string) => vi.waitFor(() => expect(existsSync(join(gates, `${gate}.started`))).toBe(true), { timeout: 60_000, interval: 20 });
/** Until `n` jobs wait in the queue behind the running one. */
const waiting = (r: RunningApp, n: number) =>
  vi.waitFor(async () => expect((await r.app.queue.stats()).waiting).toBe(n), { timeout: 60_000, interval: 20 });

/** A face (the double's) saved straight into the store. */
async function withFace(r: RunningApp, platform: Platform, userId: string): Promise<void> {
  const enrolled = (await enrolDouble({ bytes: FACE_JPG })) as EnrolResult;
  await r.app.store.templates.save({ platform, userId }, "me", enrolled.face.data as EnrolledTemplate);
}

/** Resolves once the app's queue has drained and closed: the step before the replies' grace. */
function queueClosed(r: RunningApp): Promise<void> {
  const queue = r.app.queue;
  const close = queue.close.bind(queue);
  return new Promise((resolve) => {
    queue.close = async (opts) => {
      try {
        await close(opts);
      } finally {
        resolve();
      }
    };
  });
}

/**
 * The queue's drain starts only once `until` has resolved (an event the test must see before the drain ends,
 * which a short drain would otherwise race); records the drain the app asked for and how long it lasted.
 */
function drainAfter(r: RunningApp, until: Promise<unknown> = Promise.resolve()): { drainMs?: number; tookMs?: number } {
  const seen: { drainMs?: number; tookMs?: number } = {};
  // A wait that fails (the test's own timeout) must not keep the queue open: the test fails on what it checks.
  const held = until.catch(() => undefined);
  const queue = r.app.queue;
  const close = queue.close.bind(queue);
  queue.close = async (opts) => {
    await held;
    seen.drainMs = opts?.drainMs;
    const t0 = performance.now();
    try {
      await close(opts);
    } finally {
      seen.tookMs = performance.now() - t0;
    }
  };
  return seen;
}

/** What `probe` returns at the moment the store begins to close (`closing` is false until then). */
function atStoreClose<T>(r: RunningApp, probe: () => T): { closing: boolean; seen?: T } {
  const at: { closing: boolean; seen?: T } = { closing: false };
  const store = r.app.store;
  const close = store.close.bind(store);
  store.close = () => {
    at.closing = true;
    at.seen = probe();
    return close();
  };
  return at;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function usedToday(app: App, platform: Platform, userId: string, serverId: string): Promise<number> {
  return (await storeModeration(app.store).usage({ platform, userId, serverId, channelId: null }, { includeServer: false })).usedToday;
}

describe("Discord: stopping Mimic answers the interactions in flight", () => {
  const CAROL: FakeUser = { id: "100000000000000033", username: "carol" };
  const DAVE: FakeUser = { id: "100000000000000044", username: "dave" };

  async function startDiscord(env: Record<string, string> = {}): Promise<{ r: RunningApp; fake: FakeDiscord }> {
    const fake = await FakeDiscord.start();
    cleanups.push(() => fake.close());
    const r = await start({ DISCORD_TOKEN: fake.token, DISCORD_API_ROOT: fake.base, ...env });
    return { r, fake };
  }

  function meme(fake: FakeDiscord, user: FakeUser, gate: string) {
    const image = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    return fake.slash(user, "meme", [{ name: "image", type: OPT.attachment, value: image.id }, str("top", `gate:${gate}`)], { attachments: [image] });
  }

  /** Discord is slow to take pictures: an upload (a multipart request) is read only once `until` resolves. */
  function holdUploads(fake: FakeDiscord, until: Promise<void>): void {
    const f = fake as unknown as { handle(req: IncomingMessage, res: ServerResponse): Promise<void> };
    const handle = f.handle.bind(fake);
    f.handle = async (req, res) => {
      if (/^multipart\//.test(req.headers["content-type"] ?? "")) await until;
      return handle(req, res);
    };
  }

  /** What the interaction's user got as its answer so far: the picture (an edit with a file) or a private follow-up. */
  const answerOf = (fake: FakeDiscord, token: string): RestCall | undefined =>
    fake.calls.find((c) => c.path.includes(`/webhooks/${fake.appId}/${token}`) && ((c.method === "PATCH" && c.files.length > 0) || c.method === "POST"));

  it("a meme running when stop() is called is delivered before the store closes and stop() resolves, even when Discord takes the upload only after the drain; its audit record and its use are kept", async () => {
    const { r, fake } = await startDiscord();
    await withFace(r, "discord", ALICE.id);
    // The picture reaches Discord only once the queue has closed: only waiting for the reply delivers it in time.
    holdUploads(fake, queueClosed(r));
    const a = meme(fake, ALICE, "a");
    const atClose = atStoreClose(r, () => answerOf(fake, a.token));
    await started("a");

    const stopped = r.stop();
    open("a");
    await stopped;

    // Delivered before the store closed (a reply may still write it) and before stop() resolved (a process
    // exits right after).
    expect(atClose.closing).toBe(true);
    expect(atClose.seen, JSON.stringify(fake.callsFor(a.token).map((c) => [c.method, c.json]))).toBeDefined();
    const answer = answerOf(fake, a.token);
    expect(answer, JSON.stringify(fake.callsFor(a.token).map((c) => [c.method, c.json]))).toBeDefined();
    expect(content(answer!)).toMatch(/^Here you go/);
    expect(answer!.files).toHaveLength(1);
    const sent = sha256(answer!.files[0].bytes);

    const app = await reopened();
    expect(await storeAudit(app.store).lookup(sent, { platform: "discord", serverId: fake.guildId })).toEqual([
      expect.objectContaining({ userId: ALICE.id, outputSha256: sent }),
    ]);
    expect(await usedToday(app, "discord", ALICE.id, fake.guildId)).toBe(1);
  }, TEST_TIMEOUT_MS);

  it("jobs the drain cannot finish are told Mimic is restarting and their uses given back; an interaction after stop() began is answered at once", async () => {
    const { r, fake } = await startDiscord({ ...SHORT_DRAIN, OPS_PORT: "0" });
    for (const u of [ALICE, BOB, CAROL]) await withFace(r, "discord", u.id);
    // One worker: `a` runs, `b` and `c` wait behind it; no gate is ever opened.
    const a = meme(fake, ALICE, "a");
    await started("a");
    const b = meme(fake, BOB, "b");
    const c = meme(fake, CAROL, "c");
    await waiting(r, 2);
    const atClose = atStoreClose(r, () => [a, b, c].map(({ token }) => answerOf(fake, token)));
    // The late interaction is answered while Mimic stops, however short the drain.
    let lateSeen!: () => void;
    drainAfter(r, new Promise<void>((res) => (lateSeen = res)));

    const stopped = r.stop();
    const late = fake.slash(DAVE, "face", [sub("list")]);
    const refused = await fake.waitFor((call) => call.path.includes(`/${late.token}/callback`)).finally(lateSeen);
    expect(refused.json).toMatchObject({ type: 4, data: { content: RESTARTING, flags: EPHEMERAL } });
    // Turned away before reaching the core: counted for the ops metrics.
    expect((await r.app.metrics!.refusals.get()).values).toContainEqual(expect.objectContaining({ labels: { reason: "shutting_down" }, value: 1 }));
    await stopped;

    // All answered before the store closed (each refunds its use first).
    expect(atClose.closing).toBe(true);
    expect(atClose.seen?.every(Boolean), "answered before the store closed").toBe(true);
    for (const { token } of [a, b, c]) {
      const answer = answerOf(fake, token);
      expect(answer, JSON.stringify(fake.callsFor(token).map((call) => [call.method, call.json]))).toBeDefined();
      expect(answer!.method).toBe("POST");
      expect(content(answer!)).toBe(RESTARTING);
      expect(flagsOf(answer!)).toBe(EPHEMERAL);
    }
    // The late one never reached the core.
    expect(fake.callsFor(late.token).map((call) => call.method)).toEqual(["POST"]);

    const app = await reopened();
    for (const u of [ALICE, BOB, CAROL]) expect(await usedToday(app, "discord", u.id, fake.guildId)).toBe(0);
  }, TEST_TIMEOUT_MS);
});

describe("Telegram: stopping Mimic answers the commands in flight, within the drain", () => {
  const GROUP = { id: -100777, type: "supergroup" as const, title: "Memes" };
  const user = (n: number) => ({ id: 500 + n, is_bot: false as const, first_name: `U${n}` });

  async function startTelegram(env: Record<string, string> = {}): Promise<{ r: RunningApp; fake: FakeTelegram }> {
    const fake = await FakeTelegram.start();
    cleanups.push(() => fake.close());
    const r = await start({ TELEGRAM_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot, ...env });
    return { r, fake };
  }

  /** The gate is the top caption (the text before "|"). */
  const meme = (fake: FakeTelegram, from: ReturnType<typeof user>, gate: string) =>
    fake.sendPhoto(GROUP, from, fake.addFile(REACTION_LAUGH_JPG), { caption: `/meme gate:${gate} |` });

  /** The answer sent so far in reply to `message`. */
  /** The answer to a command (not its queue-position message, which replies to it too while it waits). */
  const answerTo = (fake: FakeTelegram, message: Record<string, unknown>): RecordedCall | undefined =>
    fake.calls.find(
      (c) =>
        ["sendMessage", "sendPhoto", "sendAnimation", "sendDocument"].includes(c.method) &&
        (c.params.reply_parameters as { message_id?: number } | undefined)?.message_id === message.message_id &&
        !/^In the queue:/.test(String(c.params.text ?? "")),
    );

  it("a meme running when stop() is called is sent before the store closes and stop() resolves, with its audit record and use; one queued behind it is told Mimic is restarting", async () => {
    const { r, fake } = await startTelegram(SHORT_DRAIN);
    const [alice, bob] = [user(1), user(2)];
    for (const u of [alice, bob]) await withFace(r, "telegram", String(u.id));
    const a = meme(fake, alice, "a");
    let b: Record<string, unknown> | undefined;
    const atClose = atStoreClose(r, () => [answerTo(fake, a), b && answerTo(fake, b)]);
    await started("a");
    b = meme(fake, bob, "b");
    await waiting(r, 1);
    // `a` is answered before the (short) drain starts: the drain cannot cut it short.
    drainAfter(r, fake.waitFor((c) => c === answerTo(fake, a), 60_000));

    const stopped = r.stop();
    open("a");
    // `b` may never finish: it runs until the drain ends. stop() must not wait for it beyond that.
    await stopped;

    expect(atClose.closing).toBe(true);
    expect(atClose.seen?.every(Boolean), "both answered before the store closed").toBe(true);
    const picture = answerTo(fake, a);
    expect(picture, JSON.stringify(fake.calls.map((c) => [c.method, c.params.text ?? c.params.caption]))).toBeDefined();
    expect(picture!.method).toBe("sendPhoto");
    expect(String(picture!.params.caption)).toMatch(/^Here you go/);
    const sent = sha256(uploadedFile(picture!).bytes);
    const refused = answerTo(fake, b!);
    expect(refused?.method).toBe("sendMessage");
    expect(refused?.params.text).toBe(RESTARTING);
    expect(existsSync(join(gates, "b.open"))).toBe(false);

    const app = await reopened();
    expect(await storeAudit(app.store).lookup(sent, { platform: "telegram", serverId: String(GROUP.id) })).toEqual([
      expect.objectContaining({ userId: String(alice.id), outputSha256: sent }),
    ]);
    expect(await usedToday(app, "telegram", String(alice.id), String(GROUP.id))).toBe(1);
    expect(await usedToday(app, "telegram", String(bob.id), String(GROUP.id))).toBe(0);
  }, TEST_TIMEOUT_MS);

  it("with many jobs queued, stop() resolves once the configured drain (SHUTDOWN_DRAIN_MS) ends while every gate is still closed, and each command is told Mimic is restarting", async () => {
    const { r, fake } = await startTelegram(SHORT_DRAIN);
    const users = [1, 2, 3, 4, 5, 6].map(user);
    for (const u of users) await withFace(r, "telegram", String(u.id));
    const held = [meme(fake, users[0], "a")];
    await started("a");
    for (let q = 1; q <= 5; q++) held.push(meme(fake, users[q], `q${q}`));
    await waiting(r, 5);

    // No gate is opened: the running job and the five behind it would each wait for ever.
    const drain = drainAfter(r);
    await r.stop();
    // The configured drain, not the default 10 s, and waited out in full.
    expect(drain.drainMs).toBe(SHORT_DRAIN_MS);
    expect(drain.tookMs).toBeGreaterThanOrEqual(SHORT_DRAIN_MS - 5);

    for (const g of ["a", "q1", "q2", "q3", "q4", "q5"]) expect(existsSync(join(gates, `${g}.open`))).toBe(false);
    for (const m of held) {
      const answer = answerTo(fake, m);
      expect(answer, `no answer to message ${String(m.message_id)}`).toBeDefined();
      expect(answer!.params.text).toBe(RESTARTING);
    }
  }, TEST_TIMEOUT_MS);
});
