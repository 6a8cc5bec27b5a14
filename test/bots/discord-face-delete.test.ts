import { beforeEach, describe, expect, it } from "vitest";
import { BUTTON_TOO_OLD, NOTHING_DELETED, deleteFaceQuestion } from "../../src/core/index.ts";
import { ALICE, BOB, EPHEMERAL, FakeDiscord, OPT, buttonsOf, content, str, sub, type FakeUser, type RestCall } from "../helpers/fake-discord.ts";
import { useDiscordBot } from "./discord-harness.ts";
import { DOUBLE_HANDLERS, type TestApp } from "./harness.ts";
import { FACE_JPG } from "../core/images.ts";

/**
 * Deleting questions on Discord, through the real discord.js client and the fake Discord: /face delete asks
 * privately first (Delete / Cancel, for its asker alone), and the buttons of a deleting question (/face delete's,
 * /mimic forget's) no longer act once they are more than 15 minutes old.
 */

describe("Discord: /face delete asks first; old buttons delete nothing", () => {
  const live = useDiscordBot({}, { handlers: DOUBLE_HANDLERS });
  let fake: FakeDiscord;
  let app: TestApp;
  beforeEach(() => ({ fake, app } = live));

  const faces = async (userId = ALICE.id) => (await app.app.store.templates.list({ platform: "discord", userId })).map((t) => t.name);
  const callbackBody = async (token: string) =>
    (await fake.waitFor((c) => c.path.includes(`/${token}/callback`))).json as { type: number; data?: { content?: string; flags?: number } };

  async function saveFace(name: string, user: FakeUser = ALICE) {
    const photo = fake.addAttachment(FACE_JPG, "face.jpg", "image/jpeg");
    const i = fake.slash(user, "face", [sub("save", [{ name: "photo", type: OPT.attachment, value: photo.id }, str("name", name)])], { attachments: [photo] });
    expect(content(await fake.finalAnswer(i.token))).toContain("Saved your face");
  }

  /** A private command's answer, as Discord keeps it, with its buttons. */
  async function command(user: FakeUser, name: string, options: Parameters<FakeDiscord["slash"]>[2]) {
    const i = fake.slash(user, name, options);
    const answer: RestCall = await fake.finalAnswer(i.token);
    expect((await callbackBody(i.token)).data?.flags).toBe(EPHEMERAL);
    return { answer, message: () => fake.original(i.token)!, buttons: buttonsOf(answer.json as Record<string, unknown>) };
  }
  const askDelete = (name: string, user: FakeUser = ALICE) => command(user, "face", [sub("delete", [str("name", name)])]);

  it("asks privately, with Delete / Cancel for its asker alone: Cancel keeps the face, Delete deletes it", async () => {
    await saveFace("me");
    await saveFace("work");
    const question = await askDelete("Work");
    expect(content(question.answer)).toBe(deleteFaceQuestion("work"));
    expect(question.buttons.map((b) => [b.label, b.style])).toEqual([
      ["Delete", 4],
      ["Cancel", 2],
    ]);
    expect(await faces()).toEqual(["me", "work"]);
    const [del, cancel] = question.buttons.map((b) => b.id!) as [string, string];

    // Someone else's press is refused privately and deletes nothing.
    const intruder = fake.press(BOB, question.message(), del);
    const refused = await callbackBody(intruder.token);
    expect(refused).toMatchObject({ type: 4, data: { flags: EPHEMERAL } });
    expect(refused.data?.content).toMatch(/^These buttons are for the person who ran \/face delete\./);
    expect(await faces()).toEqual(["me", "work"]);
    expect(buttonsOf(question.message())).toHaveLength(2);

    // Cancel: the question becomes the answer, its buttons gone.
    const no = fake.press(ALICE, question.message(), cancel);
    expect(content(await fake.finalAnswer(no.token))).toBe(NOTHING_DELETED);
    expect(question.message()).toMatchObject({ content: NOTHING_DELETED, components: [] });
    expect(await faces()).toEqual(["me", "work"]);

    // Delete: the face goes, and the question says so.
    const again = await askDelete("work");
    const yes = fake.press(ALICE, again.message(), again.buttons[0]!.id!);
    const done = content(await fake.finalAnswer(yes.token));
    expect(done).toBe("Deleted your face “work”.");
    expect(again.message()).toMatchObject({ content: done, components: [] });
    expect(await faces()).toEqual(["me"]);
  });

  it("a name that is no face of the asker's is answered at once, with no question; buttons fit any face name", async () => {
    await saveFace("me");
    for (const [name, said] of [
      ["nope", "You have no face named “nope”. Your faces: me."],
      ["no:such face", /can't be a face name/],
      ["x".repeat(3000), /can't be a face name \(it has 3000 characters\)/],
    ] as const) {
      const answer = await askDelete(name);
      expect(content(answer.answer)).toMatch(said);
      expect(answer.buttons).toEqual([]);
    }
    expect(await faces()).toEqual(["me"]);

    // The longest name, for a user with the longest id: Discord takes custom ids of up to 100 characters.
    const longest = { id: "18446744073709551615", username: "long" };
    const name = "a-very-long_face-name-0123456789";
    expect(name).toHaveLength(32);
    await saveFace(name, longest);
    const question = await askDelete(name, longest);
    expect(question.buttons).toHaveLength(2);
    for (const b of question.buttons) expect(b.id!.length).toBeLessThanOrEqual(100);
    const yes = fake.press(longest, question.message(), question.buttons[0]!.id!);
    expect(content(await fake.finalAnswer(yes.token))).toBe(`Deleted your face “${name}”.`);
    expect(await faces(longest.id)).toEqual([]);
  });

  it("/face delete's buttons pressed more than 15 minutes after the question delete nothing; within them they work", async () => {
    await saveFace("me");
    const question = await askDelete("me");
    const del = question.buttons[0]!.id!;
    const late = fake.press(ALICE, question.message(), del, { ageMs: 16 * 60_000 });
    expect(await callbackBody(late.token)).toMatchObject({ type: 4, data: { flags: EPHEMERAL, content: BUTTON_TOO_OLD } });
    expect(await faces()).toEqual(["me"]);

    const inTime = fake.press(ALICE, question.message(), del, { ageMs: 14 * 60_000 });
    expect(content(await fake.finalAnswer(inTime.token))).toBe("Deleted your face “me”.");
    expect(await faces()).toEqual([]);
  });

  it("/mimic forget's “Yes, delete everything” pressed more than 15 minutes after the question deletes nothing", async () => {
    await saveFace("me");
    const question = await command(ALICE, "mimic", [sub("forget")]);
    const late = fake.press(ALICE, question.message(), `forget:${ALICE.id}:yes`, { ageMs: 16 * 60_000 });
    expect(await callbackBody(late.token)).toMatchObject({ type: 4, data: { flags: EPHEMERAL, content: BUTTON_TOO_OLD } });
    expect(await faces()).toEqual(["me"]);
    expect(question.message()).toMatchObject({ components: [{}] });
    // Someone else's old press is still told it is not theirs.
    await saveFace("bob", BOB);
    const intruder = fake.press(BOB, question.message(), `forget:${ALICE.id}:yes`, { ageMs: 16 * 60_000 });
    expect((await callbackBody(intruder.token)).data?.content).toMatch(/^These buttons are for the person who ran \/mimic forget\./);
    expect(await faces(BOB.id)).toEqual(["bob"]);
    // Its Cancel deletes nothing, so it works however old (as Telegram's does).
    const lateNo = fake.press(ALICE, question.message(), `forget:${ALICE.id}:no`, { ageMs: 16 * 60_000 });
    expect(content(await fake.finalAnswer(lateNo.token))).toBe(NOTHING_DELETED);
    expect(await faces()).toEqual(["me"]);
  });
});
