import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDiscordBot, HISTORY_NOT_YOURS_REPLY, HISTORY_UNREADABLE_REPLY, type DiscordBot } from "../../src/bots/discord/bot.ts";
import type { ImageInput, Reply } from "../../src/core/index.ts";
import { scriptedCore } from "../helpers/scripted-core.ts";
import { ALICE, BOB, CONTENT_MAX, EPHEMERAL, FakeDiscord, content, flagsOf, sub } from "../helpers/fake-discord.ts";

/**
 * Adapter-only (a scripted core): how replies reach Discord, whose content Discord caps at 2,000
 * characters, and which channel message "/meme" without an attachment takes its picture from.
 */

/**
 * The picture as the core fetches it once past its immediate refusals: a URL the adapter gives as a function is asked
 * for then (the Discord adapter's cue for a public "thinking…").
 */
const asFetched = async (image: ImageInput): Promise<ImageInput> =>
  image.kind === "url" && typeof image.url === "function" ? { ...image, url: await image.url() } : image;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe("Discord adapter: delivery and the channel's latest picture", () => {
  let fake: FakeDiscord;
  let bot: DiscordBot;
  /** What the scripted core answers, and the pictures it was handed. */
  let memeReply: Reply;
  let usageReply: Reply;
  let images: ImageInput[];

  beforeEach(async () => {
    fake = await FakeDiscord.start();
    images = [];
    memeReply = { text: "meme made", ephemeral: false };
    usageReply = { text: "usage", ephemeral: true };
    const core = scriptedCore({
      meme: async (_ctx, input) => (images.push(await asFetched(input.image)), memeReply),
      usage: async () => usageReply,
    });
    bot = createDiscordBot({ core, token: fake.token, apiRoot: fake.base });
    await bot.start();
  });

  afterEach(async () => {
    await bot?.stop();
    await fake?.close();
  });

  const answer = (i: { token: string }) => fake.finalAnswer(i.token);
  const urlOf = (image: ImageInput) => (image as { url: unknown }).url;

  it("cuts a reply over Discord's 2,000 characters to fit, with “…”, wherever it is sent", async () => {
    const long = Array.from({ length: 300 }, (_, n) => `• line ${n}`).join("\n");
    expect(long.length).toBeGreaterThan(CONTENT_MAX);

    // A private command: the edit of the ephemeral deferral.
    usageReply = { text: long, ephemeral: true };
    const usage = await answer(fake.slash(ALICE, "mimic", [sub("usage")]));
    expect(usage.status, content(usage).slice(-40)).toBeUndefined();
    expect(content(usage)).toHaveLength(CONTENT_MAX);
    expect(content(usage)).toBe(`${long.slice(0, CONTENT_MAX - 1)}…`);

    // A public result with its picture.
    memeReply = { text: long, ephemeral: false, file: { bytes: new Uint8Array([1, 2, 3]), name: "mimic-me.png", mime: "image/png" } };
    fake.channelMessages = [fake.message(BOB, [fake.addAttachment(new Uint8Array([1]), "r.png", "image/png")])];
    const meme = await answer(fake.slash(ALICE, "meme", []));
    expect(meme.status).toBeUndefined();
    expect(meme.files).toHaveLength(1);
    expect(content(meme)).toBe(`${long.slice(0, CONTENT_MAX - 1)}…`);

    // A refusal after a public deferral: the ephemeral follow-up; emoji are never cut in half.
    const emoji = "😂".repeat(CONTENT_MAX + 100);
    memeReply = { text: emoji, ephemeral: true, errorCode: "BAD_INPUT" };
    const refusal = await answer(fake.slash(ALICE, "meme", []));
    expect(refusal.method).toBe("POST");
    expect(refusal.status).toBeUndefined();
    expect(flagsOf(refusal)).toBe(EPHEMERAL);
    expect(content(refusal).length).toBeLessThanOrEqual(CONTENT_MAX);
    expect(content(refusal).endsWith("😂…")).toBe(true);
    expect(content(refusal)).not.toMatch(LONE_SURROGATE);
  });

  it("/meme without an attachment skips Mimic's own results and its interaction responses in the channel", async () => {
    const picture = (name: string) => fake.addAttachment(new Uint8Array([1]), name, "image/png");
    const own = picture("mimic-me.png");
    const response = picture("mimic-work.png");
    const otherApp = picture("other-bot.png");
    const bobs = picture("bob.png");
    const interactionMetadata = (user: typeof ALICE) => ({ id: "1", type: 2, user: { ...user, discriminator: "0", global_name: null, avatar: null }, authorizing_integration_owners: {} });
    // Newest first: Mimic's last result, a response by this application shown under another name, Bob's picture.
    fake.channelMessages = [
      fake.message(fake.botUser, [own], "Here you go, using your face “me”."),
      { ...fake.message({ id: "900000000000000009", username: "Mimic" }, [response]), webhook_id: fake.appId, application_id: fake.appId, interaction_metadata: interactionMetadata(ALICE) },
      fake.message(BOB, [bobs]),
    ];
    await answer(fake.slash(ALICE, "meme", []));
    expect(images.map(urlOf)).toEqual([bobs.url]);

    // Another bot's result is a picture like any other.
    fake.channelMessages = [
      fake.message(fake.botUser, [own]),
      { ...fake.message({ id: "700000000000000001", username: "otherbot" }, [otherApp]), webhook_id: "700000000000000001", application_id: "700000000000000001", interaction_metadata: interactionMetadata(BOB) },
      fake.message(BOB, [bobs]),
    ];
    await answer(fake.slash(ALICE, "meme", []));
    expect(images.map(urlOf)).toEqual([bobs.url, otherApp.url]);
  });

  it("without the permissions to read the channel's messages, says so instead of 'I need a reaction image'", async () => {
    fake.channelMessages = [fake.message(BOB, [fake.addAttachment(new Uint8Array([1]), "bob.png", "image/png")])];
    // Read Message History missing (Discord then lists no messages), and View Channel missing (403 Missing Access).
    const noHistory = String((1n << 10n) | (1n << 11n) | (1n << 15n));
    expect(content(await answer(fake.slash(ALICE, "meme", [], { appPermissions: noHistory })))).toBe(HISTORY_UNREADABLE_REPLY);
    fake.failNext((c) => c.method === "GET" && c.path.endsWith(`/channels/${fake.channelId}/messages`), 403, { code: 50001, message: "Missing Access" });
    expect(content(await answer(fake.slash(ALICE, "morph", [])))).toBe(HISTORY_UNREADABLE_REPLY);
    expect(images).toEqual([]);
    // A member who may not read the channel's history is not handed a picture from it (Mimic would post it for all to see).
    const seesOnlyNew = String((1n << 10n) | (1n << 11n));
    expect(content(await answer(fake.slash(ALICE, "meme", [], { permissions: seesOnlyNew })))).toBe(HISTORY_NOT_YOURS_REPLY);
    expect(images).toEqual([]);
    // With them, the picture is found.
    await answer(fake.slash(ALICE, "meme", []));
    expect(images).toHaveLength(1);
    // A DM with the bot: Discord lists neither permission there, yet its messages are read.
    const inDm = String((1n << 14n) | (1n << 15n) | (1n << 17n) | (1n << 18n));
    await answer(fake.slash(ALICE, "meme", [], { dm: true, appPermissions: inDm }));
    expect(images).toHaveLength(2);
  });
});
