import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDiscordBot, type DiscordBot } from "../../src/bots/discord/bot.ts";
import type { ImageInput, Reply } from "../../src/core/index.ts";
import { scriptedCore } from "../helpers/scripted-core.ts";
import { FakeDiscord } from "../helpers/fake-discord.ts";

/** Adapter-only: which URL the Discord adapter hands the core for a picture in an embed. */

const ALICE = { id: "100000000000000011", username: "alice" };
const BOB = { id: "100000000000000022", username: "bob" };
/** A third-party address someone put in an embed (here: a cloud metadata endpoint). */
const THIRD_PARTY = "http://169.254.169.254/latest/meta-data/lol.png";

/**
 * The picture as the core fetches it once past its immediate refusals: a URL the adapter gives as a function is asked
 * for then (the Discord adapter's cue for a public "thinking…").
 */
const asFetched = async (image: ImageInput): Promise<ImageInput> =>
  image.kind === "url" && typeof image.url === "function" ? { ...image, url: await image.url() } : image;

describe("Discord adapter: embed pictures go through Discord's media proxy", () => {
  let fake: FakeDiscord;
  let bot: DiscordBot;
  let images: ImageInput[];

  beforeEach(async () => {
    fake = await FakeDiscord.start();
    images = [];
    const meme = async (_ctx: unknown, input: { image?: ImageInput }): Promise<Reply> => {
      if (input.image) images.push(await asFetched(input.image));
      return { text: "meme made", ephemeral: false };
    };
    const core = scriptedCore({
      meme,
    });
    bot = createDiscordBot({ core, token: fake.token, apiRoot: fake.base });
    await bot.start();
  });

  afterEach(async () => {
    await bot?.stop();
    await fake?.close();
  });

  const urlOf = (image: ImageInput) => (image as { url: unknown }).url;

  it("uses proxy_url for embed images and thumbnails, skips embeds without one, never the third-party url", async () => {
    const proxied = `${fake.base}/external/abc/lol.png`;
    // "Mimic this" on a message whose only picture is a link preview.
    const target = fake.message(BOB, [], "https://example.com/lol.png", [{ type: "image", url: THIRD_PARTY, thumbnail: { url: THIRD_PARTY, proxy_url: proxied } }]);
    await fake.finalAnswer(fake.contextMenu(ALICE, target).token);
    expect(images.map(urlOf)).toEqual([proxied]);

    // An embed with no proxied copy is no picture at all.
    const unproxied = fake.message(BOB, [], "", [{ type: "rich", image: { url: THIRD_PARTY } }]);
    const answer = await fake.finalAnswer(fake.contextMenu(ALICE, unproxied).token);
    expect(JSON.stringify(answer.json)).toMatch(/no picture/);
    expect(images).toHaveLength(1);

    // "/meme" with no attachment picks the channel's latest picture, from the REST history (APIMessage).
    fake.channelMessages = [
      fake.message(BOB, [], "", [{ type: "rich", image: { url: THIRD_PARTY } }]),
      fake.message(BOB, [], "", [{ type: "rich", image: { url: THIRD_PARTY, proxy_url: `${proxied}?h` } }]),
    ];
    await fake.finalAnswer(fake.slash(ALICE, "meme", []).token);
    expect(images.map(urlOf)).toEqual([proxied, `${proxied}?h`]);
    expect(images.map(urlOf)).not.toContain(THIRD_PARTY);
  });

  it("takes a GIF-picker GIF (gifv) as its proxied video, not its still thumbnail; video attachments too, not sound", async () => {
    const video = `${fake.base}/external/tenor/laugh.mp4`, still = `${fake.base}/external/tenor/laugh.png`;
    const gifv = fake.message(BOB, [], "https://tenor.com/view/laugh", [
      { type: "gifv", url: "https://tenor.com/view/laugh", video: { url: THIRD_PARTY, proxy_url: video }, thumbnail: { url: THIRD_PARTY, proxy_url: still } },
    ]);
    await fake.finalAnswer(fake.contextMenu(ALICE, gifv).token);
    expect(images.map(urlOf)).toEqual([video]);
    const clip = fake.message(BOB, [{ id: "1", filename: "lol.mp4", size: 1000, url: `${fake.base}/attachments/lol.mp4`, proxy_url: `${fake.base}/attachments/lol.mp4`, content_type: "video/mp4" }], "");
    await fake.finalAnswer(fake.contextMenu(ALICE, clip).token);
    expect(images.map(urlOf)).toEqual([video, `${fake.base}/attachments/lol.mp4`]);
    // A phone's QuickTime clip is passed on too (its bytes are sniffed later); a sound file is no picture.
    const mov = fake.message(BOB, [{ id: "2", filename: "a.mov", size: 1000, url: `${fake.base}/attachments/a.mov`, proxy_url: `${fake.base}/attachments/a.mov`, content_type: "video/quicktime" }], "");
    await fake.finalAnswer(fake.contextMenu(ALICE, mov).token);
    expect(images.map(urlOf)).toEqual([video, `${fake.base}/attachments/lol.mp4`, `${fake.base}/attachments/a.mov`]);
    const song = fake.message(BOB, [{ id: "3", filename: "a.mp3", size: 1000, url: `${fake.base}/attachments/a.mp3`, proxy_url: `${fake.base}/attachments/a.mp3`, content_type: "audio/mpeg" }], "");
    expect(JSON.stringify((await fake.finalAnswer(fake.contextMenu(ALICE, song).token)).json)).toMatch(/no picture/);
  });
});
