import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTelegramBot, type TelegramBot } from "../../src/bots/telegram/bot.ts";
import { parseMemeArgs } from "../../src/bots/telegram/args.ts";
import type { CommandContext, Reply } from "../../src/core/index.ts";
import { FakeTelegram } from "../helpers/fake-telegram.ts";
import { scriptedCore } from "../helpers/scripted-core.ts";

/**
 * /meme's and /morph's text options as a Telegram user types them (real grammY against the fake Bot API, a
 * recording core): a lower-case first word read as an option is said, and a full-width ｜ separates captions.
 */

const ALICE = { id: 11, is_bot: false as const, first_name: "Alice" };
const DM = { id: ALICE.id, type: "private" as const };
const MADE = "Here you go, using your face “me”.";

describe("Telegram: /meme's options as typed", () => {
  let fake: FakeTelegram;
  let bot: TelegramBot;
  let inputs: { method: string; input: Record<string, unknown> }[];

  beforeEach(async () => {
    fake = await FakeTelegram.start();
    inputs = [];
    const made = (method: string) => async (_ctx: CommandContext, input?: unknown): Promise<Reply> => {
      const { image: _image, ...rest } = input as Record<string, unknown>;
      inputs.push({ method, input: rest });
      return { text: MADE, ephemeral: false, file: { bytes: new Uint8Array(64), mime: method === "morph" ? "video/mp4" : "image/png", name: "meme.png", width: 8, height: 8 } };
    };
    const core = scriptedCore({ meme: made("meme"), morph: made("morph") });
    bot = createTelegramBot({ core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
  });

  afterEach(async () => {
    await bot?.stop();
    await fake?.close();
  });

  /** A photo captioned `caption` (a command): what the core was asked and the caption of the picture sent back. */
  const meme = async (caption: string) => {
    const command = caption.match(/^\/[a-z]+/)![0];
    const message = fake.sendPhoto(DM, ALICE, fake.addFile(new Uint8Array(16)), {
      caption,
      caption_entities: [{ type: "bot_command", offset: 0, length: command.length }],
    });
    const sent = await fake.answerTo(message, ["sendPhoto", "sendAnimation", "sendMessage"]);
    expect(sent.method, `${caption}: ${JSON.stringify(sent.params)}`).not.toBe("sendMessage");
    return { input: inputs.at(-1)!.input, caption: String(sent.params.caption) };
  };

  it("says when a lower-case word before the caption was read as an option, and how to caption it", async () => {
    expect(await meme("/meme still waiting for the weekend")).toEqual({
      input: { animated: false, bottom: "waiting for the weekend" },
      caption: `${MADE}\n“still” was read as an option; to caption it, write /meme -- still …`,
    });
    expect((await meme("/meme swap when you see it")).caption).toBe(`${MADE}\n“swap” was read as an option; to caption it, write /meme -- swap …`);
    // Only the word right before the caption, with the options typed before it kept.
    expect(await meme("/meme face=work swap gif me the money | now")).toEqual({
      input: { template: "work", mode: "swap", animated: true, top: "me the money", bottom: "now" },
      caption: `${MADE}\n“gif” was read as an option; to caption it, write /meme face=work swap -- gif …`,
    });
    expect((await meme("/morph gif me the money")).caption).toBe(`${MADE}\n“gif” was read as an option; to caption it, write /morph -- gif …`);

    // No caption after it, a caption that starts at "|", a capital, "--", no option at all: nothing to say.
    for (const [caption, input] of [
      ["/meme still", { animated: false }],
      ["/meme gif | bottom", { animated: true, bottom: "bottom" }],
      ["/meme Still waiting", { bottom: "Still waiting" }],
      ["/meme -- still waiting", { bottom: "still waiting" }],
      ["/meme face=me top | bottom", { template: "me", top: "top", bottom: "bottom" }],
    ] as const) {
      expect(await meme(caption), caption).toEqual({ input, caption: MADE });
    }
  });

  it("takes the full-width ｜ of Chinese and Japanese keyboards as the top | bottom separator", async () => {
    expect((await meme("/meme 月曜日の朝｜もう帰りたい")).input).toEqual({ top: "月曜日の朝", bottom: "もう帰りたい" });
    expect((await meme("/meme 上面 ｜ 下面 | 还有")).input).toEqual({ top: "上面", bottom: "下面 | 还有" });
    // Right after the command, as "/meme|bottom" is.
    expect((await meme("/meme｜只有下面")).input).toEqual({ bottom: "只有下面" });
    expect((await meme("/morph 上｜下")).input).toEqual({ top: "上", bottom: "下" });
    expect(parseMemeArgs("-- gif｜still")).toEqual({ top: "gif", bottom: "still" });
  });
});
