import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDiscordBot } from "../../src/bots/discord/bot.ts";
import { deployCommands } from "../../src/bots/discord/rest.ts";
import { ALICE, BOB, EPHEMERAL, FakeDiscord, OPT, PERMISSIONS, buttonsOf, content, str, sub, type RestCall } from "../helpers/fake-discord.ts";
import { useDiscordBot } from "./discord-harness.ts";
import { DOUBLE_HANDLERS, type TestApp } from "./harness.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";

/**
 * A first-time user's guidance on Discord, through the real discord.js client and the fake Discord: /mimic help,
 * /mimic forget's question with its buttons (nothing is deleted before the user's own press), and what the
 * registered commands offer (mimic register's PUT).
 */

const QUESTION =
  "This permanently deletes your 2 saved faces (from every server and DM), your usage history and the record of which pictures you made. Uses from the last 24 hours still count towards daily limits and cooldowns: they are deleted a day after they were made. Any ban a server gave you stays. Delete everything?";

describe("Discord: /mimic forget asks first, with buttons", () => {
  const live = useDiscordBot({}, { handlers: DOUBLE_HANDLERS });
  let fake: FakeDiscord;
  let app: TestApp;
  beforeEach(() => ({ fake, app } = live));

  const faces = async (userId = ALICE.id) => (await app.app.store.templates.list({ platform: "discord", userId })).map((t) => t.name);
  /** The first callback of an interaction (its acknowledgement or its answer). */
  const callback = (token: string) => fake.waitFor((c) => c.path.includes(`/${token}/callback`));
  const callbackBody = async (token: string) => (await callback(token)).json as { type: number; data?: { content?: string; flags?: number } };

  async function saveFace(name: string, user = ALICE) {
    const photo = fake.addAttachment(FACE_JPG, "face.jpg", "image/jpeg");
    const i = fake.slash(user, "face", [sub("save", [{ name: "photo", type: OPT.attachment, value: photo.id }, str("name", name)])], { attachments: [photo] });
    expect(content(await fake.finalAnswer(i.token))).toContain("Saved your face");
  }

  /** /mimic forget (with the options an old registration may still send): its private question, as Discord keeps it. */
  async function ask(options: unknown[] = [], user = ALICE) {
    const i = fake.slash(user, "mimic", [sub("forget", options)]);
    const answer: RestCall = await fake.finalAnswer(i.token);
    expect((await callbackBody(i.token)).data?.flags).toBe(EPHEMERAL);
    return { token: i.token, answer, message: () => fake.original(i.token)! };
  }

  it("answers privately with the question and Delete / Cancel buttons for that user alone; only their press deletes", async () => {
    await saveFace("me");
    await saveFace("work");
    const question = await ask();
    expect(content(question.answer)).toBe(QUESTION);
    expect(buttonsOf(question.answer.json as Record<string, unknown>)).toEqual([
      { id: `forget:${ALICE.id}:yes`, label: "Yes, delete everything", style: 4 },
      { id: `forget:${ALICE.id}:no`, label: "Cancel", style: 2 },
    ]);
    expect(await faces()).toEqual(["me", "work"]);

    // An old registration's confirm:True asks too: never an instant delete.
    const old = await ask([{ name: "confirm", type: OPT.boolean, value: true }]);
    expect(content(old.answer)).toBe(QUESTION);
    expect(await faces()).toEqual(["me", "work"]);

    // Someone else's press is refused privately, and deletes nothing of anyone.
    await saveFace("bob", BOB);
    const intruder = fake.press(BOB, question.message(), `forget:${ALICE.id}:yes`);
    const refused = await callbackBody(intruder.token);
    expect(refused).toMatchObject({ type: 4, data: { flags: EPHEMERAL } });
    expect(refused.data?.content).toBe("These buttons are for the person who ran /mimic forget. To delete your own data, run /mimic forget yourself.");
    expect(await faces()).toEqual(["me", "work"]);
    expect(await faces(BOB.id)).toEqual(["bob"]);
    expect(buttonsOf(question.message())).toHaveLength(2);

    // Cancel: the question becomes the answer, its buttons gone.
    const cancel = fake.press(ALICE, old.message(), `forget:${ALICE.id}:no`);
    expect(content(await fake.finalAnswer(cancel.token))).toBe("Nothing was deleted.");
    expect(old.message()).toMatchObject({ content: "Nothing was deleted.", components: [] });
    expect(await faces()).toEqual(["me", "work"]);

    // The owner's press deletes, and says what went.
    const yes = fake.press(ALICE, question.message(), `forget:${ALICE.id}:yes`);
    const done = content(await fake.finalAnswer(yes.token));
    expect(done).toBe("Done: deleted your 2 saved faces and your usage history. Mimic keeps nothing else about your Discord account, except a note that you asked (so that restoring an older backup here cannot bring any of it back) and any ban a server gave you.");
    expect(question.message()).toMatchObject({ content: done, components: [] });
    expect(await faces()).toEqual([]);
    expect(await faces(BOB.id)).toEqual(["bob"]);
  });

  it("counts the faces in the question, and says so where there are none", async () => {
    await saveFace("me");
    expect(content((await ask()).answer)).toMatch(/^This permanently deletes your 1 saved face \(from every server and DM\), /);
    const dm = fake.slash(BOB, "mimic", [sub("forget")], { dm: true });
    expect(content(await fake.finalAnswer(dm.token))).toMatch(
      /^This permanently deletes your usage history and the record of which pictures you made \(you have no saved faces\)\. /,
    );
  });

  it("a press after Mimic restarted still works: the button carries what it needs", async () => {
    await saveFace("me");
    const question = await ask();
    await live.bot.stop();
    live.bot = createDiscordBot({ core: live.app.core, token: fake.token, apiRoot: fake.base });
    await live.bot.start();
    const yes = fake.press(ALICE, question.message(), `forget:${ALICE.id}:yes`);
    expect(content(await fake.finalAnswer(yes.token))).toMatch(/^Done: deleted your 1 saved face and your usage history\./);
    expect(await faces()).toEqual([]);
  });

  it("a button Mimic does not know (an older version's) says it expired", async () => {
    const stale = fake.press(ALICE, fake.message(fake.botUser), "something:else");
    expect(await callbackBody(stale.token)).toMatchObject({ type: 4, data: { flags: EPHEMERAL, content: "This button has expired: run the command again." } });
  });
});

describe("Discord: /mimic help", () => {
  const live = useDiscordBot({}, { handlers: DOUBLE_HANDLERS });

  it("answers privately how to start: save a face, /meme, /morph, “Mimic this”, /mimic usage", async () => {
    const { fake } = live;
    for (const where of [{}, { dm: true }, { permissions: PERMISSIONS.manageGuild }]) {
      const i = fake.slash(ALICE, "mimic", [sub("help")], where);
      const reply = (await fake.waitFor((c) => c.path.includes(`/${i.token}/callback`))).json as { type: number; data: { content: string; flags: number } };
      expect(reply).toMatchObject({ type: 4, data: { flags: EPHEMERAL } });
      const text = reply.data.content;
      const at = (s: string) => text.indexOf(s);
      for (const s of ["/face save", "/meme", "/morph", "Apps → “Mimic this”", "/mimic usage", "/mimic forget"]) expect(text).toContain(s);
      // In the order a newcomer needs them: a face first.
      expect(at("/face save")).toBeLessThan(at("/meme"));
      expect(text.split("\n").length).toBeLessThanOrEqual(8);
    }
  });
});

describe("Discord: the registered commands", () => {
  let fake: FakeDiscord;
  afterEach(async () => fake?.close());

  type Opt = { name: string; type: number; description: string; required?: boolean; min_value?: number; max_value?: number; options?: Opt[] };
  async function registered() {
    fake = await FakeDiscord.start();
    await deployCommands({ token: fake.token, appId: fake.appId, apiRoot: fake.base });
    return fake.calls.find((c) => c.method === "PUT")!.json as { name: string; description: string; options?: Opt[] }[];
  }

  it("/morph takes intensity as /meme does, and its template says the default; /meme says to save a face first", async () => {
    const defs = await registered();
    const meme = defs.find((d) => d.name === "meme")!;
    const morph = defs.find((d) => d.name === "morph")!;
    const intensity = (c: typeof meme) => c.options!.find((o) => o.name === "intensity");
    expect(intensity(morph)).toEqual(intensity(meme));
    expect(intensity(morph)).toMatchObject({ type: OPT.integer, min_value: 0, max_value: 100 });
    expect(morph.options!.find((o) => o.name === "template")!.description).toBe(meme.options!.find((o) => o.name === "template")!.description);
    expect(morph.options!.find((o) => o.name === "template")!.description).toContain("(default: your default face)");
    expect(meme.description).toContain("/face save");
    expect(meme.description.length).toBeLessThanOrEqual(100);
  });

  it("/mimic has help, a forget without options, and config's value names a channel as #channel", async () => {
    const mimic = (await registered()).find((d) => d.name === "mimic")!;
    const subs = Object.fromEntries(mimic.options!.map((o) => [o.name, o]));
    expect(subs.help).toMatchObject({ type: OPT.subcommand });
    expect(subs.forget.options ?? []).toEqual([]);
    const value = subs.config.options!.find((o) => o.name === "value")!;
    expect(value.description).toContain("add #channel");
    expect(value.description).not.toContain("channel id");
  });
});

describe("Discord: /morph's intensity reaches the core", () => {
  const live = useDiscordBot({}, { handlers: DOUBLE_HANDLERS });

  it("as a number, as /meme's does", async () => {
    const { fake, app } = live;
    const morph = vi.spyOn(app.core, "morph");
    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    const i = fake.slash(ALICE, "morph", [{ name: "image", type: OPT.attachment, value: reaction.id }, { name: "intensity", type: OPT.integer, value: 40 }], {
      attachments: [reaction],
    });
    await fake.finalAnswer(i.token);
    expect(morph.mock.calls[0]![1]).toMatchObject({ intensity: 40 });
  });
});
