import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it, vi } from "vitest";
import { abandonedText } from "../../src/core/abandoned.ts";
import { REACTION_LAUGH_JPG } from "../core/images.ts";
import { ALICE, FakeDiscord, OPT, content, str } from "../helpers/fake-discord.ts";
import { FakeTelegram, type RecordedCall } from "../helpers/fake-telegram.ts";

/**
 * A front end killed with -9 (or by the OOM killer) while a meme was being made: nothing can answer from that
 * process, so the next one serving the platform (here the restarted real CLI) gives the use back and tells the
 * user, as a reply to their Telegram command and as the edit of their Discord "thinking…" answer. The first
 * process is the real app with jobs held at gates (abandoned-child.ts), so the kill lands while the job runs.
 */
const root = new URL("../../", import.meta.url).pathname;
const tsxLoader = createRequire(import.meta.url).resolve("tsx/esm");
/** Two app starts (one with the real models) on a busy 2-core machine. */
const TEST_TIMEOUT_MS = 240_000;
const GROUP = { id: -100555, type: "supergroup" as const, title: "Memes" };
const TG_USER = { id: 701, is_bot: false as const, first_name: "Tess" };
/** Answered before the kill: nobody is to apologise to them. */
const TG_DONE = { id: 702, is_bot: false as const, first_name: "Dana" };
/** Waiting behind the two running jobs at the kill, first and second in the queue (the second was told its place). */
const TG_NEXT = { id: 703, is_bot: false as const, first_name: "Nell" };
const TG_QUEUED = { id: 704, is_bot: false as const, first_name: "Quinn" };

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function spawned(args: string[], env: Record<string, string>): { child: ChildProcess; exited: Promise<number | null>; output: () => string; ready: (re: RegExp) => Promise<void> } {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d));
  child.stderr!.on("data", (d: Buffer) => (out += d));
  const ready = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const seen = () => re.test(out) && (resolve(), true);
      if (seen()) return;
      child.stdout!.on("data", seen);
      void exited.then((code) => reject(new Error(`exited ${code} before ${re}: ${out}`)));
    });
  return { child, exited, output: () => out, ready };
}

describe("a front end killed mid-request", () => {
  it("after a restart, the Telegram user gets a reply to their command and the Discord user's answer is edited, both saying it was lost; the uses are given back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mimic-abandoned-"));
    const gates = join(dir, "gates");
    mkdirSync(gates);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // A held worker of the killed process must not wait forever.
    cleanups.push(() => writeFileSync(join(gates, "tg.open"), ""));
    cleanups.push(() => writeFileSync(join(gates, "dc.open"), ""));
    const telegram = await FakeTelegram.start();
    cleanups.push(() => telegram.close());
    const discord = await FakeDiscord.start();
    cleanups.push(() => discord.close());
    const env = {
      DATA_DIR: join(dir, "data"),
      LOG_LEVEL: "warn",
      QUEUE_WORKERS: "2",
      QUEUE_JOB_TIMEOUT_MS: "3600000",
      COOLDOWN_SECONDS: "0",
      DAILY_QUOTA_PER_USER: "1",
      UNANSWERED_TIMEOUT_SECONDS: "2",
      TELEGRAM_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      DISCORD_TOKEN: discord.token,
      DISCORD_API_ROOT: discord.base,
    };

    const first = spawned(["--import", tsxLoader, "test/bots/abandoned-child.ts"], {
      ...env,
      MIMIC_TEST_GATE_DIR: gates,
      MIMIC_TEST_FACES: [TG_USER, TG_DONE, TG_NEXT, TG_QUEUED].map((u) => `telegram:${u.id}`).join(",") + `,discord:${ALICE.id}`,
    });
    await first.ready(/^ready$/m);
    writeFileSync(join(gates, "done.open"), "");
    const delivered = telegram.sendPhoto(GROUP, TG_DONE, telegram.addFile(REACTION_LAUGH_JPG), { caption: "/meme gate:done |" });
    await telegram.waitFor((c) => c.method === "sendPhoto" && (c.params.reply_parameters as { message_id?: number } | undefined)?.message_id === delivered.message_id, 60_000);
    const command = telegram.sendPhoto(GROUP, TG_USER, telegram.addFile(REACTION_LAUGH_JPG), { caption: "/meme gate:tg |" });
    const image = discord.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    const interaction = discord.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: image.id }, str("top", "gate:dc")], { attachments: [image] });
    // Both admitted and running: the kill lands mid-job.
    await vi.waitFor(() => expect(existsSync(join(gates, "tg.started")) && existsSync(join(gates, "dc.started"))).toBe(true), { timeout: 60_000, interval: 20 });
    const next = telegram.sendPhoto(GROUP, TG_NEXT, telegram.addFile(REACTION_LAUGH_JPG), { caption: "/meme" });
    const queued = telegram.sendPhoto(GROUP, TG_QUEUED, telegram.addFile(REACTION_LAUGH_JPG), { caption: "/meme" });
    // The queue-position message is noted with the use before the kill (the store holds what the restart reads).
    const store = new Database(join(dir, "data", "mimic.db"), { readonly: true, fileMustExist: true });
    const noted = await vi.waitFor(
      () => {
        const row = store.prepare("SELECT pending_reply FROM usage_events WHERE platform_user_id = ? AND pending_reply LIKE '%statusId%'").get(String(TG_QUEUED.id)) as { pending_reply: string } | undefined;
        expect(row).toBeDefined();
        return JSON.parse(row!.pending_reply) as { statusId: number };
      },
      { timeout: 60_000, interval: 50 },
    );
    store.close();
    first.child.kill("SIGKILL");
    await first.exited;

    // An answer to the command (its queue-position message replies to it too, while it waits).
    const replyTo = (message: Record<string, unknown>) => (c: RecordedCall) =>
      c.method === "sendMessage" &&
      (c.params.reply_parameters as { message_id?: number } | undefined)?.message_id === message.message_id &&
      !/^In the queue:/.test(String(c.params.text));
    expect(telegram.calls.filter(replyTo(command)), "nothing answered before the restart").toEqual([]);

    const second = spawned(["bin/mimic.mjs", "start"], env);
    const lost = await telegram.waitFor(replyTo(command), 120_000);
    expect(lost.params.text).toBe(abandonedText({ kind: "meme" }));
    // The queued requests are told too, and the "In the queue" message goes before its apology comes.
    const statusSent = telegram.calls.find((c) => c.method === "sendMessage" && String(c.params.text).startsWith("In the queue: position 2"));
    expect(statusSent?.params.chat_id).toBe(GROUP.id);
    const apologyToQueued = await telegram.waitFor(replyTo(queued), 120_000);
    const taken = telegram.calls.findIndex((c) => c.method === "deleteMessage" && c.params.message_id === noted.statusId);
    expect(taken, "the queue message is deleted").toBeGreaterThanOrEqual(0);
    expect(taken).toBeLessThan(telegram.calls.indexOf(apologyToQueued));
    expect((await telegram.waitFor(replyTo(next), 120_000)).params.text).toBe(abandonedText({ kind: "meme" }));
    const edited = await discord.waitFor(
      (c) => c.method === "PATCH" && c.path.endsWith(`/webhooks/${discord.appId}/${interaction.token}/messages/@original`) && content(c) === abandonedText({ kind: "meme" }),
      120_000,
    );
    expect(edited.authorization, "the interaction's token authorises the edit, not the bot's").toBeUndefined();

    // The use came back: the quota of 1 is free again. The meme delivered before the kill still counts, and its
    // user heard nothing more (the same claim that took the lost one would have taken it).
    for (const [user, made] of [[TG_USER, "0 memes"], [TG_DONE, "1 meme"]] as const) {
      const usage = telegram.sendCommand(GROUP, user, "/usage");
      const answer = await telegram.waitFor(replyTo(usage), 60_000);
      expect(String(answer.params.text)).toContain(`Today you made ${made} of 1 allowed.`);
    }
    expect(telegram.calls.filter(replyTo(delivered))).toEqual([]);

    second.child.kill("SIGTERM");
    expect(await second.exited, second.output()).toBe(0);
  }, TEST_TIMEOUT_MS);
});
