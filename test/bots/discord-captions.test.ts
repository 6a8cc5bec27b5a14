import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDiscordBot, type DiscordBot } from "../../src/bots/discord/bot.ts";
import { plainCaption } from "../../src/bots/discord/captions.ts";
import type { MemeInput, MorphInput, Reply } from "../../src/core/index.ts";
import { scriptedCore } from "../helpers/scripted-core.ts";
import { ALICE, BOB, FakeDiscord, OPT, str } from "../helpers/fake-discord.ts";

/**
 * Adapter-only: the captions of /meme and /morph reach the core as people saw them in Discord, not as Discord's
 * markup (`<@id>`, `<#id>`, `<@&id>`, `<:name:id>`, `<t:…>`).
 */

const CAROL = { id: "100000000000000033", username: "carol" };

describe("Discord adapter: mentions and custom emoji in captions", () => {
  let fake: FakeDiscord;
  let bot: DiscordBot;
  let captions: { top?: string; bottom?: string }[];

  beforeEach(async () => {
    fake = await FakeDiscord.start();
    captions = [];
    const take = async (_ctx: unknown, input: MemeInput | MorphInput): Promise<Reply> => {
      captions.push({ top: input.top, bottom: input.bottom });
      return { text: "made", ephemeral: false };
    };
    bot = createDiscordBot({ core: scriptedCore({ meme: take, morph: take }), token: fake.token, apiRoot: fake.base });
    await bot.start();
  });

  afterEach(async () => {
    await bot?.stop();
    await fake?.close();
  });

  /** /meme or /morph with a picture attached and these string options. */
  async function render(command: "meme" | "morph", options: { name: string; type: number; value: string }[], extra: { dm?: boolean } = {}) {
    const reaction = fake.addAttachment(new Uint8Array([1, 2, 3]), "r.png", "image/png");
    const i = fake.slash(ALICE, command, [{ name: "image", type: OPT.attachment, value: reaction.id }, ...options], { attachments: [reaction], ...extra });
    await fake.finalAnswer(i.token);
    return captions.at(-1);
  }

  it("/meme: a member's mention is their display name, a channel, a role and a custom emoji as Discord shows them", async () => {
    fake.nicknames.set(BOB.id, "Bobby");
    const said = await render("meme", [
      str("top", `<@${BOB.id}> BE LIKE`),
      str("bottom", `<@!${ALICE.id}> in <#${fake.channelId}> with <@&${fake.adminRoleId}> <:pepe:123456789012345678><a:dance:123456789012345679>`),
    ]);
    expect(said).toEqual({ top: "@Bobby BE LIKE", bottom: "@alice in #memes with @Admins :pepe::dance:" });
  });

  it("/morph too; who or what is not found reads @user, #channel, @role; a timestamp reads as its date", async () => {
    fake.absentMembers.add(CAROL.id);
    const said = await render("morph", [
      str("top", `<@${CAROL.id}> <#800000000000000077> <@&800000000000000078> @everyone`),
      str("bottom", "<t:1700000000:D>"),
    ]);
    expect(said).toEqual({ top: "@user #channel @role @everyone", bottom: "November 14, 2023" });
    // Without markup, and without captions, nothing changes.
    expect(await render("meme", [str("top", "<3 a <b> c :) 100%")])).toEqual({ top: "<3 a <b> c :) 100%", bottom: undefined });
  });

  it("in a direct message a mention is the user's name on Discord", async () => {
    fake.absentMembers.add(CAROL.id);
    expect(await render("meme", [str("top", `<@${BOB.id}> <@${CAROL.id}>`)], { dm: true })).toEqual({ top: "@user22 @user", bottom: undefined });
  });

  it("plainCaption writes every timestamp style out (UTC), and leaves a time no date has as it was", () => {
    const none = { users: new Map(), channels: new Map(), roles: new Map() };
    const at = 1_700_000_000;
    const now = at * 1000 + 3 * 86_400_000;
    const styles = ["", ":t", ":T", ":d", ":D", ":f", ":F", ":R"].map((s) => plainCaption(`<t:${at}${s}>`, none, now));
    expect(styles).toEqual([
      "November 14, 2023 10:13 PM UTC",
      "10:13 PM UTC",
      "10:13:20 PM UTC",
      "11/14/2023",
      "November 14, 2023",
      "November 14, 2023 10:13 PM UTC",
      "Tuesday, November 14, 2023 10:13 PM UTC",
      "3 days ago",
    ]);
    expect(plainCaption(`<t:${at + 7200 + 3 * 86_400}:R>`, none, now)).toBe("in 2 hours");
    expect(plainCaption("<t:99999999999999999:R> </mimic help:123>", none, now)).toBe("<t:99999999999999999:R> /mimic help");
  });
});
