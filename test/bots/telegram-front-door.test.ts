import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTelegramBot, type TelegramBot } from "../../src/bots/telegram/bot.ts";
import { FakeTelegram } from "../helpers/fake-telegram.ts";
import { DOUBLE_HANDLERS, startTestApp, type TestApp } from "./harness.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";

/**
 * Issue #15's one front door through Telegram: /meme's text options meet the same request parser as the
 * playground, Discord and the CLI, and are refused in the same words (test/bots/front-door.test.ts,
 * discord.test.ts, test/cli/front-door.test.ts). Real grammY against the fake Bot API, the real core, store
 * and queue (double handlers: the pipeline is not the subject).
 */

const DM = { id: 31, type: "private" as const };
const CAROL = { id: 31, is_bot: false as const, first_name: "Carol" };

describe("Telegram: the same front door", () => {
  let fake: FakeTelegram;
  let app: TestApp;
  let bot: TelegramBot;

  beforeAll(async () => {
    fake = await FakeTelegram.start();
    app = await startTestApp({}, { handlers: DOUBLE_HANDLERS });
    bot = createTelegramBot({ core: app.core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
    // The photo alone gets a pointer in a private chat: the command's answer is its reply.
    const saved = fake.answerTo(fake.sendCommand(DM, CAROL, "/save me", fake.sendPhoto(DM, CAROL, fake.addFile(FACE_JPG))), "sendMessage", 60_000);
    expect(String((await saved).params.text)).toContain("Saved your face");
  });

  afterAll(async () => {
    await bot?.stop();
    await app?.close();
    await fake?.close();
  });

  /** `/<command> <args>` as a reply to a reaction photo: "made" when a picture comes back, else the reply's text. */
  async function command(text: string): Promise<string> {
    const reaction = fake.sendPhoto(DM, CAROL, fake.addFile(REACTION_LAUGH_JPG));
    const call = await fake.answerTo(fake.sendCommand(DM, CAROL, text, reaction), ["sendPhoto", "sendAnimation", "sendMessage"], 60_000);
    return call.method === "sendMessage" ? String(call.params.text) : "made";
  }

  it("refuses an intensity out of range or not a number, for memes and morphs, in the playground's words", async () => {
    expect(await command("/meme intensity=150 hi")).toBe("intensity must be a number from 0 to 100 (percent) (got “150”).");
    expect(await command("/meme intensity=loud hi")).toBe("intensity must be a number from 0 to 100 (percent) (got “loud”).");
    expect(await command("/morph intensity=-5")).toBe("intensity must be a number from 0 to 100 (percent) (got “-5”).");
    // The same options in range make the picture: the refusals above are the values'.
    expect(await command("/meme intensity=40% hi")).toBe("made");
  });

  it("refuses an option with no value and /morph's flags it has no use for, instead of drawing or ignoring them", async () => {
    expect(await command("/meme intensity= hi")).toBe("“intensity=” needs a number from 0 to 100 right after the = (no space), e.g. /meme intensity=50 top | bottom.");
    expect(await command("/meme face= hi")).toBe("“face=” needs a face name right after the = (no space), e.g. /meme face=me top | bottom.");
    expect(await command("/morph FACE=")).toBe("“face=” needs a face name right after the = (no space), e.g. /morph face=me top | bottom.");
    for (const flag of ["swap", "still"]) {
      expect(await command(`/morph ${flag}`)).toBe(
        `“${flag}” is not an option of /morph: a morph is always an animation of your own face. Use /meme ${flag} for that, or /morph -- ${flag} … to write it as a caption.`,
      );
    }
    expect(await command("/morph -- swap")).toBe("made");
    // Telegram ends the command at the "|" too.
    expect(await command("/meme|bottom")).toBe("made");
    expect(await command("/meme| ")).toBe("made");
  });

  it("says a file Telegram will not hand a bot (over 20 MB, its size not declared) is too large, not to send it again", async () => {
    const big = fake.addFile(REACTION_LAUGH_JPG, "jpg", 21_000_000);
    const doc = fake.sendMessage(DM, CAROL, { document: { file_id: big.file_id, file_unique_id: big.file_unique_id, file_name: "big.jpg", mime_type: "image/jpeg" } });
    const answer = fake.answerTo(fake.sendCommand(DM, CAROL, "/meme hi", doc), ["sendPhoto", "sendMessage"], 60_000);
    expect((await answer).params.text).toBe("That file is too large: Telegram lets bots download at most 20 MB. Please send a smaller picture.");
    expect(fake.downloads).not.toContain(big.file_path);
  });

  it("a file over 20 MB whose size is declared gets the same answer, in Telegram's unit", async () => {
    const big = fake.addFile(REACTION_LAUGH_JPG, "jpg", 25_000_000);
    const photo = fake.sendPhoto(DM, CAROL, big);
    const answer = fake.answerTo(fake.sendCommand(DM, CAROL, "/meme hi", photo), ["sendPhoto", "sendMessage"], 60_000);
    expect((await answer).params.text).toBe("That file is too large: Telegram lets bots download at most 20 MB. Please send a smaller picture.");
    expect(fake.downloads).not.toContain(big.file_path);
  });

  it("takes a file up to the Bot API's own download limit, 20 MiB (20 971 520 bytes), not 20 000 000", async () => {
    const large = fake.addFile(REACTION_LAUGH_JPG, "jpg", 20_500_000);
    const doc = fake.sendMessage(DM, CAROL, { document: { file_id: large.file_id, file_unique_id: large.file_unique_id, file_name: "large.jpg", mime_type: "image/jpeg", file_size: 20_500_000 } });
    const answer = fake.answerTo(fake.sendCommand(DM, CAROL, "/meme hi", doc), ["sendPhoto", "sendMessage"], 60_000);
    const call = await answer;
    expect(call.method, String(call.params.text)).toBe("sendPhoto");
    expect(fake.downloads).toContain(large.file_path);
  });

  it("uses the picture of a message quoted from another chat (“reply in another chat”: external_reply)", async () => {
    const quoted = fake.addFile(REACTION_LAUGH_JPG);
    const elsewhere = { origin: { type: "channel", date: 0, chat: { id: -100777, type: "channel", title: "Memes" }, message_id: 9 }, chat: { id: -100777, type: "channel", title: "Memes" }, message_id: 9 };
    const answer = fake.nextCall(["sendPhoto", "sendMessage"], 60_000);
    fake.sendMessage(DM, CAROL, {
      text: "/meme hi",
      entities: [{ type: "bot_command", offset: 0, length: 5 }],
      external_reply: { ...elsewhere, photo: [{ file_id: quoted.file_id, file_unique_id: quoted.file_unique_id, width: 512, height: 512, file_size: quoted.file_size }] },
    });
    const call = await answer;
    expect(call.method, String(call.params.text)).toBe("sendPhoto");
    expect(fake.downloads).toContain(quoted.file_path);
    // A quoted message without a picture still asks for one.
    const none = fake.nextCall(["sendPhoto", "sendMessage"], 60_000);
    fake.sendMessage(DM, CAROL, { text: "/meme", entities: [{ type: "bot_command", offset: 0, length: 5 }], external_reply: elsewhere });
    expect(String((await none).params.text)).toMatch(/^Reply to a photo, GIF, video or sticker with \/meme/);
  });

  it("has the same caption limit, refused by length in the same words", async () => {
    // Without "|" the text is the bottom caption; the refusal names which one is too long.
    expect(await command(`/meme ${"é".repeat(201)}`)).toBe("The bottom caption is too long (201 characters): the limit is 200 characters per caption.");
    expect(await command(`/meme ${"x".repeat(201)} | ${"é".repeat(100)}`)).toBe(
      "The top caption is too long (201 characters): the limit is 200 characters per caption.",
    );
    expect(await command(`/meme ${"é".repeat(200)}`)).toBe("made");
  });
});
