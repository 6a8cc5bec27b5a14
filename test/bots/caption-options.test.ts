import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiscordBot, type DiscordBot } from "../../src/bots/discord/bot.ts";
import { commandDefinitions } from "../../src/bots/discord/commands.ts";
import { startPlayground, type Playground } from "../../src/bots/playground/server.ts";
import { createTelegramBot, type TelegramBot } from "../../src/bots/telegram/bot.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";
import { ALICE, BOB, FakeDiscord, OPT, content, str, sub } from "../helpers/fake-discord.ts";
import { FakeTelegram } from "../helpers/fake-telegram.ts";
import { postForm } from "../helpers/playground-form.ts";
import { CAPTIONS_NOTE } from "./caption-handlers.ts";
import { startTestApp, type TestApp } from "./harness.ts";

/**
 * The caption options of every entrance, from what a user types to the job a worker takes: a line break typed as
 * \n or ~n (Discord's options and the playground's fields hold no newline), and the captions drawn as typed
 * (keepCase). Real discord.js and grammY against the fake platforms, the real playground server; the real core,
 * request parser and queue, whose workers say which captions each job carried (caption-handlers.ts).
 */

const HANDLERS = new URL("./caption-handlers.ts", import.meta.url);

/** The captions a reply says its job carried. */
function captionsIn(text: string): unknown {
  const m = CAPTIONS_NOTE.exec(text);
  expect(m, text).not.toBeNull();
  return JSON.parse(m![1]!);
}

describe("Discord: captions typed in /meme's and /morph's options", () => {
  let fake: FakeDiscord;
  let app: TestApp;
  let bot: DiscordBot;
  beforeAll(async () => {
    fake = await FakeDiscord.start();
    app = await startTestApp({}, { handlers: HANDLERS });
    bot = createDiscordBot({ core: app.core, token: fake.token, apiRoot: fake.base });
    await bot.start();
    const photo = fake.addAttachment(FACE_JPG, "face.jpg", "image/jpeg");
    const saved = fake.slash(ALICE, "face", [sub("save", [{ name: "photo", type: OPT.attachment, value: photo.id }, str("name", "me")])], { attachments: [photo] });
    expect(content(await fake.finalAnswer(saved.token))).toContain("Saved your face “me”");
  });
  afterAll(async () => {
    await bot?.stop();
    await app?.close();
    await fake?.close();
  });

  async function render(command: "meme" | "morph", options: { name: string; type: number; value: string }[]) {
    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "r.jpg", "image/jpeg");
    const i = fake.slash(ALICE, command, [{ name: "image", type: OPT.attachment, value: reaction.id }, ...options], { attachments: [reaction] });
    return captionsIn(content(await fake.finalAnswer(i.token)));
  }

  it("registers a `case` option, upper or as typed, on /meme and /morph; their caption options say how to start a new line", () => {
    const defs = commandDefinitions() as { name: string; options?: { name: string; description: string; choices?: unknown[] }[] }[];
    for (const name of ["meme", "morph"]) {
      const options = defs.find((c) => c.name === name)!.options ?? [];
      expect(options.find((o) => o.name === "case")?.choices, name).toEqual([
        { name: "upper", value: "upper" },
        { name: "as typed", value: "as typed" },
      ]);
      for (const caption of ["top", "bottom"]) expect(options.find((o) => o.name === caption)!.description, `${name} ${caption}`).toMatch(/\\n or ~n starts a new line/);
    }
  });

  it("/meme: \\n and ~n are line breaks, `case: as typed` keeps the letters, and a name written in is no line break", async () => {
    fake.nicknames.set(BOB.id, "~nina");
    expect(await render("meme", [str("top", "one\\ntwo"), str("bottom", `<@${BOB.id}> be like~nyes`), str("case", "as typed")])).toEqual({
      top: "one\ntwo",
      bottom: "@~nina be like\nyes",
      keepCase: true,
    });
    // Capitals, the default, whether chosen or not; a backslash before \n keeps it as typed.
    expect(await render("meme", [str("top", "C:\\\\new"), str("case", "upper")])).toEqual({ top: "C:\\new" });
    expect(await render("meme", [str("top", "see https://x.io/AbC")])).toEqual({ top: "see https://x.io/AbC" });
  });

  it("/morph takes them too", async () => {
    expect(await render("morph", [str("top", "a~nb"), str("bottom", "c\\nd"), str("case", "as typed")])).toEqual({ top: "a\nb", bottom: "c\nd", keepCase: true });
  });
});

describe("Telegram: keepcase and typed line breaks", () => {
  const ALICE_TG = { id: 11, is_bot: false as const, first_name: "Alice" };
  const DM = { id: ALICE_TG.id, type: "private" as const };
  let fake: FakeTelegram;
  let app: TestApp;
  let bot: TelegramBot;
  beforeAll(async () => {
    fake = await FakeTelegram.start();
    app = await startTestApp({}, { handlers: HANDLERS });
    bot = createTelegramBot({ core: app.core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
    const facePhoto = fake.sendPhoto(DM, ALICE_TG, fake.addFile(FACE_JPG));
    // A photo alone in a private chat is answered with what to do with it.
    await fake.answerTo(facePhoto);
    const reply = fake.nextCall("sendMessage");
    fake.sendCommand(DM, ALICE_TG, "/save me", facePhoto);
    expect(String((await reply).params.text)).toContain("Saved your face “me”");
  });
  afterAll(async () => {
    await bot?.stop();
    await app?.close();
    await fake?.close();
  });

  /** A reaction photo captioned `caption` (a command): the captions its job carried, and the answer's caption. */
  async function render(caption: string) {
    const command = caption.match(/^\/[a-z]+/)![0];
    const message = fake.sendPhoto(DM, ALICE_TG, fake.addFile(REACTION_LAUGH_JPG), {
      caption,
      caption_entities: [{ type: "bot_command", offset: 0, length: command.length }],
    });
    const sent = await fake.answerTo(message, ["sendPhoto", "sendAnimation", "sendMessage"]);
    expect(sent.method, JSON.stringify(sent.params)).not.toBe("sendMessage");
    const said = String(sent.params.caption);
    return { captions: captionsIn(said), said };
  }

  it("/meme keepcase: the captions as typed, line breaks typed as \\n or ~n; the flag read before caption text is said", async () => {
    const made = await render("/meme keepcase one\\ntwo | see https://x.io/AbC~n@Bob");
    expect(made.captions).toEqual({ top: "one\ntwo", bottom: "see https://x.io/AbC\n@Bob", keepCase: true });
    expect(made.said).toMatch(/\n“keepcase” was read as an option; to caption it, write \/meme -- keepcase …$/);
    // After "--" it is caption text, in capitals as ever; with another flag before it, both are options.
    expect((await render("/meme -- keepcase me")).captions).toEqual({ bottom: "keepcase me" });
    expect((await render("/meme keepcase face=me | Hi")).captions).toEqual({ bottom: "Hi", keepCase: true });
  });

  it("/morph keepcase too", async () => {
    expect((await render("/morph keepcase a~nb | c")).captions).toEqual({ top: "a\nb", bottom: "c", keepCase: true });
  });
});

describe("playground: the Meme and Morph cards' caption fields", () => {
  let app: TestApp;
  let playground: Playground;
  beforeAll(async () => {
    app = await startTestApp({}, { handlers: HANDLERS });
    playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: 3 << 20 });
    const saved = await postForm(playground.url, "/api/faces", { name: "me" }, { field: "photo", bytes: FACE_JPG, filename: "me.jpg" });
    expect(saved.text).toContain("Saved your face");
  });
  afterAll(async () => {
    await playground?.close();
    await app?.close();
  });

  /** The names of a card's form fields as the served page has them, with their types. */
  async function fieldsOf(form: "meme-form" | "morph-form"): Promise<Record<string, string>> {
    const page = await (await fetch(playground.url)).text();
    const html = page.slice(page.indexOf(`<form id="${form}"`), page.indexOf("</form>", page.indexOf(`<form id="${form}"`)));
    return Object.fromEntries([...html.matchAll(/<(input|select)\b[^>]*>/g)].map(([tag]) => [/name="([^"]+)"/.exec(tag)?.[1], /type="([^"]+)"/.exec(tag)?.[1] ?? "select"]));
  }

  const post = (path: string, fields: Record<string, string>) =>
    postForm(playground.url, path, fields, { field: "image", bytes: REACTION_LAUGH_JPG, filename: "r.jpg" });

  it("both cards have a top and a bottom caption and a checkbox for captions as typed", async () => {
    for (const form of ["meme-form", "morph-form"] as const) {
      expect(await fieldsOf(form), form).toMatchObject({ top: "text", bottom: "text", keepCase: "checkbox" });
    }
  });

  it("a morph takes a top caption; \\n and ~n are line breaks; the checkbox keeps the letters", async () => {
    // A checked checkbox sends "on"; an unchecked one sends nothing.
    const morph = await post("/api/morph", { top: "one\\ntwo", bottom: "b~nc", keepCase: "on" });
    expect(captionsIn(morph.text)).toEqual({ top: "one\ntwo", bottom: "b\nc", keepCase: true });
    expect(captionsIn((await post("/api/meme", { top: "x\\\\ny", bottom: "Hi" })).text)).toEqual({ top: "x\\ny", bottom: "Hi" });
    expect(captionsIn((await post("/api/meme", { top: "Hi", keepCase: "on" })).text)).toEqual({ top: "Hi", keepCase: true });
    expect(await post("/api/meme", { top: "Hi", keepCase: "maybe" })).toMatchObject({ ok: false, errorCode: "BAD_INPUT", text: "keepCase must be on or off (got “maybe”)." });
  });
});
