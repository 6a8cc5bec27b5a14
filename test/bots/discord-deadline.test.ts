/**
 * A Discord command can be answered for 15 minutes. A render still unmade after 14 (a long queue) is stopped,
 * queued or running, and its member told so privately while the command can still be answered, with the use
 * given back: not made for a command nobody can see answered. The real app (startApp) with the real discord.js
 * client against the fake, the real store and queue, and handlers held at gates the test opens
 * (gated-handlers.ts); the commands are dated back by their ids, as Discord's snowflakes carry their time.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startApp, type RunningApp } from "../../src/app.ts";
import { RENDER_DEADLINE_REPLY } from "../../src/bots/discord/bot.ts";
import { loadConfig } from "../../src/config.ts";
import { storeModeration } from "../../src/core/bindings.ts";
import type { EnrolResult } from "../../src/queue/jobs.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { enrolDouble } from "../core/doubles.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";
import { ALICE, BOB, EPHEMERAL, FakeDiscord, OPT, content, flagsOf, str, type FakeUser } from "../helpers/fake-discord.ts";

const GATED_HANDLERS = new URL("./gated-handlers.ts", import.meta.url);
/** A command this old has under two seconds left before its render's deadline (14 minutes). */
const NEAR_DEADLINE_MS = 14 * 60_000 - 1_500;

let dir: string;
let gates: string;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mimic-dc-deadline-"));
  gates = join(dir, "gates");
  mkdirSync(gates);
  // The queue's worker processes inherit it when they are forked (at start).
  process.env.MIMIC_TEST_GATE_DIR = gates;
});
afterEach(async () => {
  for (const g of ["held", "late"]) writeFileSync(join(gates, `${g}.open`), "");
  for (const c of cleanups.splice(0).reverse()) await c();
  delete process.env.MIMIC_TEST_GATE_DIR;
  rmSync(dir, { recursive: true, force: true });
});

async function startDiscord(): Promise<{ r: RunningApp; fake: FakeDiscord }> {
  const fake = await FakeDiscord.start();
  cleanups.push(() => fake.close());
  const config = loadConfig({
    LOG_LEVEL: "silent",
    DATA_DIR: join(dir, "data"),
    QUEUE_WORKERS: "1",
    COOLDOWN_SECONDS: "0",
    QUEUE_JOB_TIMEOUT_MS: "3600000",
    DISCORD_TOKEN: fake.token,
    DISCORD_API_ROOT: fake.base,
    TELEGRAM_TOKEN: "",
  });
  const r = await startApp(config, { handlers: GATED_HANDLERS, onFatal: () => {} });
  cleanups.push(() => r.stop());
  for (const user of [ALICE, BOB]) {
    const enrolled = (await enrolDouble({ bytes: FACE_JPG })) as EnrolResult;
    await r.app.store.templates.save({ platform: "discord", userId: user.id }, "me", enrolled.face.data as EnrolledTemplate);
  }
  return { r, fake };
}

function meme(fake: FakeDiscord, user: FakeUser, gate: string, ageMs?: number) {
  const image = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
  return fake.slash(user, "meme", [{ name: "image", type: OPT.attachment, value: image.id }, str("top", `gate:${gate}`)], { attachments: [image], ageMs });
}

const usedToday = async (r: RunningApp, fake: FakeDiscord, user: FakeUser) =>
  (await storeModeration(r.app.store).usage({ platform: "discord", userId: user.id, serverId: fake.guildId, channelId: null }, { includeServer: false })).usedToday;
const started = (gate: string) => vi.waitFor(() => expect(existsSync(join(gates, `${gate}.started`))).toBe(true), { timeout: 60_000, interval: 20 });

describe("Discord: a render near the end of its command's 15 minutes", () => {
  it("waiting in the queue: dropped before it runs, the member told privately, the use given back", async () => {
    const { r, fake } = await startDiscord();
    const bobs = meme(fake, BOB, "held");
    await started("held");
    const late = meme(fake, ALICE, "late", NEAR_DEADLINE_MS);

    const answer = await fake.finalAnswer(late.token);
    expect(content(answer)).toBe(RENDER_DEADLINE_REPLY);
    expect(flagsOf(answer) & EPHEMERAL).toBe(EPHEMERAL);
    // The public "thinking…" was taken down, as for any private answer to a render.
    expect(fake.original(late.token)).toBeNull();
    expect(await usedToday(r, fake, ALICE)).toBe(0);

    writeFileSync(join(gates, "held.open"), "");
    expect((await fake.finalAnswer(bobs.token)).files).toHaveLength(1);
    expect(existsSync(join(gates, "late.started"))).toBe(false);
  }, 120_000);

  it("running: stopped, the member told privately, the use given back", async () => {
    const { r, fake } = await startDiscord();
    const late = meme(fake, ALICE, "late", NEAR_DEADLINE_MS);
    await started("late");

    const answer = await fake.finalAnswer(late.token);
    expect(content(answer)).toBe(RENDER_DEADLINE_REPLY);
    expect(flagsOf(answer) & EPHEMERAL).toBe(EPHEMERAL);
    expect(await usedToday(r, fake, ALICE)).toBe(0);
    expect(fake.callsFor(late.token).some((c) => c.files.length > 0)).toBe(false);
  }, 120_000);
});
