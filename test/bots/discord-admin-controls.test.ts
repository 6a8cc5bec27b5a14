import { beforeEach, describe, expect, it } from "vitest";
import { ALICE, BOB, EPHEMERAL, FakeDiscord, OPT, PERMISSIONS, content, str, sub, type RestCall } from "../helpers/fake-discord.ts";
import { useDiscordBot } from "./discord-harness.ts";
import { DOUBLE_HANDLERS, type TestApp } from "./harness.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";

/**
 * Admin controls as a member sees them on Discord, through the real discord.js client and the fake Discord: a /meme
 * moderation refuses at once is answered privately from the start (no public "thinking…" flashes in the channel),
 * and `/mimic config channel add` without a channel names the one it is used in.
 */

/** A gateway event the fake sends on its socket. */
const gateway = (fake: FakeDiscord, t: string, d: Record<string, unknown>) => (fake as unknown as { dispatch(t: string, d: unknown): void }).dispatch(t, d);

describe("Discord: a /meme moderation refuses at once never shows in the channel", () => {
  const live = useDiscordBot({}, { handlers: DOUBLE_HANDLERS, bot: { ackWaitMs: 30_000 } });
  let fake: FakeDiscord;
  let app: TestApp;
  beforeEach(() => ({ fake, app } = live));

  const config = async (setting: string, value: string) =>
    content(await fake.finalAnswer(fake.slash(BOB, "mimic", [sub("config", [str("setting", setting), str("value", value)])], { permissions: PERMISSIONS.manageGuild }).token));

  /** A render command with a reaction attached: how it was acknowledged, its answer, and its calls. */
  async function render(command: "meme" | "morph") {
    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    const i = fake.slash(ALICE, command, [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] });
    const answer = await fake.finalAnswer(i.token);
    const ack = (await fake.waitFor((c) => c.path.includes(`/${i.token}/callback`))).json as { type: number; data?: { flags?: number } };
    return { ack, answer, calls: fake.callsFor(i.token), fetched: fake.cdnServed.some((p) => p.includes(reaction.id)) };
  }

  /** Refused privately from the start: an ephemeral deferral, edited into the refusal; nothing public to take down. */
  async function refusedPrivately(command: "meme" | "morph", said: RegExp) {
    const r = await render(command);
    const label = `${command}: ${content(r.answer)}\n${r.calls.map((c: RestCall) => `${c.method} ${c.path}`).join("\n")}`;
    expect(content(r.answer), label).toMatch(said);
    expect(r.ack, label).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect(r.calls.filter((c) => c.method === "DELETE"), label).toEqual([]);
    // Nor was the picture fetched for a request refused anyway.
    expect(r.fetched, label).toBe(false);
  }

  it("banned, switched off, another channel, animations off, a cooldown, the quota: an ephemeral deferral and no public message", async () => {
    const photo = fake.addAttachment(FACE_JPG, "face.jpg", "image/jpeg");
    expect(content(await fake.finalAnswer(fake.slash(ALICE, "face", [sub("save", [{ name: "photo", type: OPT.attachment, value: photo.id }, str("name", "me")])], { attachments: [photo] }).token))).toContain("Saved");

    // A request that goes through is still acknowledged publicly, and its meme posted there.
    const made = await render("meme");
    expect(made.answer.files).toHaveLength(1);
    expect(made.ack.data?.flags ?? 0).toBe(0);

    expect(await config("ban", ALICE.id)).toMatch(/^Banned/);
    await refusedPrivately("meme", /blocked you from using Mimic/);
    expect(await config("unban", ALICE.id)).toMatch(/^Lifted the ban/);

    expect(await config("enabled", "off")).toContain("enabled: off");
    await refusedPrivately("meme", /switched off/);
    expect(await config("enabled", "on")).toContain("enabled: on");

    const GENERAL = "800000000000000077";
    gateway(fake, "CHANNEL_CREATE", { id: GENERAL, type: 0, guild_id: fake.guildId, name: "general", position: 1, permission_overwrites: [] });
    expect(await config("channel", `add <#${GENERAL}>`)).toContain(`channel: <#${GENERAL}>`);
    await refusedPrivately("meme", /doesn't answer in this channel/);
    expect(await config("channel", "all")).toContain("channel: all");

    expect(await config("animated", "off")).toContain("animated: off");
    await refusedPrivately("morph", /animat/i);
    expect(await config("animated", "on")).toContain("animated: on");

    expect(await config("cooldown", "1h")).toContain("cooldown: 1 h");
    await refusedPrivately("meme", /^Slow down a little: you can make the next one in/);
    expect(await config("cooldown", "0")).toContain("cooldown: none");

    expect(await config("quota", "1")).toContain("quota: 1 per user per day");
    await refusedPrivately("meme", /^You've used your one meme for today here\./);
    expect((await app.app.store.moderation.rules("discord", fake.guildId)).dailyQuotaPerUser).toBe(1);
  });
});

describe("Discord: /mimic config channel add without a channel", () => {
  const live = useDiscordBot({}, { handlers: DOUBLE_HANDLERS, bot: { ackWaitMs: 30_000 } });

  /** /mimic config channel <value> by an admin, made in `channel` (default: the fake's #memes). */
  function configIn(fake: FakeDiscord, value: string, channel?: Record<string, unknown>) {
    const options = [sub("config", [str("setting", "channel"), str("value", value)])];
    return fake.finalAnswer(fake.slash(BOB, "mimic", options, { permissions: PERMISSIONS.manageGuild, ...(channel && { channel }) }).token);
  }

  it("names the channel it is used in, as Telegram's names the topic; in a thread or forum post, the channel it is in", async () => {
    const { fake, app } = live;
    const allowed = async () => (await app.app.store.moderation.rules("discord", fake.guildId)).allowedChannels;
    expect(content(await configIn(fake, "add"))).toContain(`• channel: <#${fake.channelId}>\n`);
    expect(await allowed()).toEqual([fake.channelId]);
    // In any case, as the core reads the operation.
    expect(content(await configIn(fake, "Remove"))).toContain("• channel: all\n");
    expect(await allowed()).toEqual([]);

    const FORUM = "800000000000000011";
    gateway(fake, "CHANNEL_CREATE", { id: FORUM, type: 15, guild_id: fake.guildId, name: "clips", position: 1, permission_overwrites: [], available_tags: [] });
    const post = {
      id: "800000000000000014",
      type: 11,
      guild_id: fake.guildId,
      parent_id: FORUM,
      name: "a post",
      thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false },
    };
    expect(content(await configIn(fake, " add ", post))).toContain(`• channel: <#${FORUM}>\n`);
    expect(await allowed()).toEqual([FORUM]);
    // A channel named is taken as before.
    expect(content(await configIn(fake, `add <#${fake.channelId}>`))).toContain(`• channel: <#${FORUM}>, <#${fake.channelId}>\n`);
  });
});

describe("Discord: /mimic help", () => {
  const live = useDiscordBot({}, { handlers: DOUBLE_HANDLERS, bot: { ackWaitMs: 30_000 } });

  it("names the caption options: line breaks typed as \\n or ~n, and case", async () => {
    const { fake } = live;
    const i = fake.slash(ALICE, "mimic", [sub("help")]);
    const text = ((await fake.waitFor((c) => c.path.includes(`/${i.token}/callback`))).json as { data: { content: string } }).data.content;
    expect(text).toContain("\\n or ~n");
    expect(text).toMatch(/\bcase\b/);
  });
});
