import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { commandDefinitions } from "../../src/bots/discord/commands.ts";
import { SETTING_KEYS } from "../../src/core/index.ts";
import { deployCommands } from "../../src/bots/discord/rest.ts";
import { decodeVideo, findFfmpeg } from "../../src/pipeline/video/index.ts";
import { ALICE, BOB, EPHEMERAL, FakeDiscord, OPT, PERMISSIONS, content, flagsOf, str, sub } from "../helpers/fake-discord.ts";
import { useDiscordBot } from "./discord-harness.ts";
import type { TestApp } from "./harness.ts";
import { FACE_JPG, NOT_AN_IMAGE, REACTION_LAUGH_JPG, describeImage, flatPng, reactionGif } from "../core/images.ts";

/** Whole scenarios on the real pipeline; generous for a busy 2-core machine (each wait has its own limit too). */
const SCENARIO_TIMEOUT_MS = 240_000;



describe("Discord bot (real discord.js against a fake Discord)", () => {
  // Its refusals are asserted private from the start, however loaded the machine (see DiscordBotOptions.ackWaitMs).
  const live = useDiscordBot({ MAX_INPUT_BYTES: String(3 * 1024 * 1024) }, { bot: { ackWaitMs: 30_000 } });
  let fake: FakeDiscord;
  let app: TestApp;
  beforeEach(() => ({ fake, app } = live));

  /** The interaction's first callback (the acknowledgement). */
  const ack = (token: string) => fake.waitFor((c) => c.path.includes(`/${token}/callback`));

  async function saveFace(user: typeof ALICE, name: string, bytes: Uint8Array = FACE_JPG) {
    const photo = fake.addAttachment(bytes, "face.jpg", "image/jpeg");
    const { token } = fake.slash(user, "face", [sub("save", [{ name: "photo", type: OPT.attachment, value: photo.id }, str("name", name)])], {
      attachments: [photo],
    });
    return { ack: await ack(token), answer: await fake.finalAnswer(token) };
  }

  it("save a face → meme → animated morph → quota → admin setting → non-admin refused → bad inputs", async () => {
    // 1. /face save: acknowledged as ephemeral, answered privately
    const saved = await saveFace(ALICE, "me");
    expect(saved.ack.json).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect(content(saved.answer)).toContain("Saved your face “me”");

    // 2. /meme with an attachment and captions: public reply carrying a real PNG
    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    let i = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }, str("top", "me when"), str("bottom", "tests pass")], {
      attachments: [reaction],
    });
    expect((await ack(i.token)).json).toMatchObject({ type: 5, data: { flags: 0 } });
    let answer = await fake.finalAnswer(i.token, 120_000);
    expect(answer.files, content(answer)).toHaveLength(1);
    expect(answer.files[0].filename).toMatch(/\.png$/);
    const pngBytes = answer.files[0].bytes;
    const png = await describeImage(pngBytes);
    expect(png.format).toBe("png");
    // The meme is the saved face (its aligned crop) wearing the reaction's expression: same size as the crop.
    const crop = (await app.app.store.templates.get({ platform: "discord", userId: ALICE.id })).cropSize;
    expect([png.width, png.height]).toEqual([crop, crop]);

    // 3. /morph: animated GIF
    i = fake.slash(ALICE, "morph", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] });
    answer = await fake.finalAnswer(i.token, 120_000);
    expect(answer.files, content(answer)).toHaveLength(1);
    const gif = await describeImage(answer.files[0].bytes);
    expect(gif.format).toBe("gif");
    expect(gif.pages).toBeGreaterThan(1);
    // Animations may be scaled down to fit the byte budget, never up, and keep the crop's square shape.
    expect(gif.width).toBe(gif.height);
    expect(gif.width).toBeGreaterThanOrEqual(128);
    expect(gif.width).toBeLessThanOrEqual(crop);

    // 3b. "who made this picture?": an admin attaches the GIF Mimic sent, or gives the PNG's SHA-256
    const sent = fake.addAttachment(answer.files[0].bytes, "mimic-me.gif", "image/gif");
    i = fake.slash(BOB, "mimic", [sub("audit", [{ name: "picture", type: OPT.attachment, value: sent.id }])], { attachments: [sent], permissions: PERMISSIONS.manageGuild });
    expect((await ack(i.token)).json).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    let audit = await fake.finalAnswer(i.token);
    expect(content(audit)).toContain(`<@${ALICE.id}> made it (animated`);
    i = fake.slash(BOB, "mimic", [sub("audit", [str("hash", createHash("sha256").update(pngBytes).digest("hex"))])], { permissions: PERMISSIONS.manageGuild });
    expect(content(await fake.finalAnswer(i.token))).toContain(`<@${ALICE.id}> made it (meme`);
    i = fake.slash(BOB, "mimic", [sub("audit", [str("hash", createHash("sha256").update(pngBytes).digest("hex"))])]);
    audit = await fake.finalAnswer(i.token);
    expect(content(audit)).toMatch(/Only server admins/);

    // 4. an admin (Manage Server) sets a daily quota of 2; Alice has used 2 → refused, privately
    i = fake.slash(ALICE, "mimic", [sub("config", [str("setting", "quota"), str("value", "2")])], { permissions: PERMISSIONS.manageGuild });
    answer = await fake.finalAnswer(i.token);
    expect(content(answer)).toContain("quota: 2 per user per day");
    i = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] });
    answer = await fake.finalAnswer(i.token, 60_000);
    // Refused before anything was fetched: private from the start, no public "thinking…" to take down.
    expect((await ack(i.token)).json).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect(content(answer)).toMatch(/used all 2 of today.s memes/);
    expect(fake.callsFor(i.token).some((c) => c.method === "DELETE")).toBe(false);

    // 5. a member without Manage Server cannot change settings
    i = fake.slash(BOB, "mimic", [sub("config", [str("setting", "quota"), str("value", "100")])]);
    expect(content(await fake.finalAnswer(i.token))).toMatch(/Only server admins/);

    // 6. bad inputs
    i = fake.slash(BOB, "meme", [{ name: "image", type: OPT.attachment, value: reaction.id }], { attachments: [reaction] });
    answer = await fake.finalAnswer(i.token);
    expect((await ack(i.token)).json).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect(content(answer)).toMatch(/no saved face yet.*\/face save/);

    const pdf = fake.addAttachment(NOT_AN_IMAGE, "notes.pdf", "application/pdf");
    expect(content((await saveFace(BOB, "bob", NOT_AN_IMAGE)).answer)).toMatch(/not a picture I can use/);
    void pdf;

    const huge = fake.addAttachment(FACE_JPG, "huge.jpg", "image/jpeg", 8 * 1024 * 1024);
    i = fake.slash(BOB, "face", [sub("save", [{ name: "photo", type: OPT.attachment, value: huge.id }, str("name", "bob")])], { attachments: [huge] });
    expect(content(await fake.finalAnswer(i.token))).toMatch(/too large \(8\.0 MiB\).*limit is 3\.0 MiB/);

    // A face-less picture is refused with the enrolment's reason, and nothing is saved.
    const faceless = content((await saveFace(BOB, "bob", await flatPng())).answer);
    expect(faceless).toMatch(/couldn.t find a face in that photo/);
    expect(faceless).not.toMatch(/Saved/);
    expect(await app.app.store.templates.list({ platform: "discord", userId: BOB.id })).toEqual([]);
  }, SCENARIO_TIMEOUT_MS);

  it("answers a bad value or an over-long caption in the playground's and the CLI's words (one front door)", async () => {
    await saveFace(ALICE, "me");
    const reaction = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    const image = { name: "image", type: OPT.attachment, value: reaction.id };
    // Discord's own choices stop "evil" in its app; a client that sends it anyway meets the core's rule.
    let i = fake.slash(ALICE, "meme", [image, str("mode", "evil")], { attachments: [reaction] });
    expect(content(await fake.finalAnswer(i.token))).toBe("mode must be mimic or swap (got “evil”).");
    i = fake.slash(ALICE, "meme", [image, str("top", "é".repeat(201))], { attachments: [reaction] });
    expect(content(await fake.finalAnswer(i.token))).toBe("The top caption is too long (201 characters): the limit is 200 characters per caption.");
  }, SCENARIO_TIMEOUT_MS);

  it("autocompletes template names, reacts via “Mimic this”, uses the channel's latest image, renders GIF reactions", async () => {
    await saveFace(ALICE, "me");
    await saveFace(ALICE, "work");

    const auto = fake.slash(ALICE, "meme", [{ name: "template", type: OPT.string, value: "wo", focused: true }], { type: 4 });
    const choices = await fake.waitFor((c) => c.path.includes(`/${auto.token}/callback`));
    expect(choices.json).toEqual({ type: 8, data: { choices: [{ name: "work", value: "work" }] } });

    const gif = fake.addAttachment(await reactionGif(), "lol.gif", "image/gif");
    const target = fake.message(BOB, [gif]);
    const i = fake.contextMenu(ALICE, target);
    const answer = await fake.finalAnswer(i.token, 120_000);
    expect(answer.files, content(answer)).toHaveLength(1);
    expect((await describeImage(answer.files[0].bytes)).pages).toBeGreaterThan(1);

    const noPicture = fake.contextMenu(ALICE, fake.message(BOB, [], "just text"));
    expect(content(await fake.finalAnswer(noPicture.token))).toMatch(/no picture/);

    fake.channelMessages = [fake.message(BOB, [], "lol"), fake.message(BOB, [fake.addAttachment(REACTION_LAUGH_JPG, "r.jpg", "image/jpeg")])];
    const latest = fake.slash(ALICE, "meme", [str("template", "work")]);
    const latestAnswer = await fake.finalAnswer(latest.token, 120_000);
    expect(latestAnswer.files, content(latestAnswer)).toHaveLength(1);

    // The interaction's attachment_size_limit is the renderer's byte budget.
    const still = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
    const tiny = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: still.id }, str("template", "me")], {
      attachments: [still],
      attachmentSizeLimit: 20_000,
    });
    const tinyAnswer = await fake.finalAnswer(tiny.token, 120_000);
    expect(tinyAnswer.files).toHaveLength(0);
    expect(flagsOf(tinyAnswer)).toBe(EPHEMERAL);
    expect(content(tinyAnswer)).toMatch(/larger than this chat/);

    // A limit under the meme's size that a smaller picture meets: the meme comes scaled down, and says so.
    const full = latestAnswer.files[0];
    const limit = Math.round(full.bytes.length * 0.6);
    const fits = fake.slash(ALICE, "meme", [{ name: "image", type: OPT.attachment, value: still.id }, str("template", "work")], {
      attachments: [still],
      attachmentSizeLimit: limit,
    });
    const fitsAnswer = await fake.finalAnswer(fits.token, 120_000);
    expect(fitsAnswer.files, content(fitsAnswer)).toHaveLength(1);
    expect(fitsAnswer.files[0].bytes.length).toBeLessThanOrEqual(limit);
    const [fullSize, fitted] = [await describeImage(full.bytes), await describeImage(fitsAnswer.files[0].bytes)];
    expect(fitted.width).toBeLessThan(fullSize.width);
    expect(content(fitsAnswer)).toContain(`scaled down to ${fitted.width}×${fitted.height} to fit this chat's`);

    // Discord keeps GIF, but an animation whose GIF would have to lose quality to fit comes as an MP4 (shown inline).
    const tight = fake.slash(ALICE, "morph", [{ name: "image", type: OPT.attachment, value: still.id }, str("template", "me")], {
      attachments: [still],
      attachmentSizeLimit: 150_000,
    });
    const tightAnswer = await fake.finalAnswer(tight.token, 120_000);
    expect(tightAnswer.files, content(tightAnswer)).toHaveLength(1);
    expect(tightAnswer.files[0].filename).toMatch(/\.mp4$/);
    expect(tightAnswer.files[0].bytes.byteLength).toBeLessThanOrEqual(150_000);
    const video = await decodeVideo(tightAnswer.files[0].bytes, findFfmpeg()!);
    expect(video.codec).toBe("h264");
    expect(video.frames.length).toBeGreaterThan(1);

    fake.channelMessages = [];
    const none = fake.slash(ALICE, "meme", []);
    expect(content(await fake.finalAnswer(none.token))).toMatch(/attach one to the command/);

    const list = fake.slash(ALICE, "face", [sub("list")]);
    expect(content(await fake.finalAnswer(list.token))).toBe("Your faces:\n• me (default)\n• work");

    const usage = fake.slash(ALICE, "mimic", [sub("usage")], { permissions: PERMISSIONS.manageGuild });
    const usageAnswer = await fake.finalAnswer(usage.token);
    expect((await ack(usage.token)).json).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect(content(usageAnswer)).toMatch(/Today you made \d+ memes?[\s\S]*Saved faces: 2[\s\S]*Server today/);

    const ask = fake.slash(ALICE, "mimic", [sub("forget")]);
    expect(content(await fake.finalAnswer(ask.token))).toMatch(/^This permanently deletes your 2 saved faces/);
    const forget = fake.press(ALICE, fake.original(ask.token)!, `forget:${ALICE.id}:yes`);
    expect(content(await fake.finalAnswer(forget.token))).toMatch(/^Done: deleted your 2 saved faces/);
    const after = fake.slash(ALICE, "face", [sub("list")]);
    expect(content(await fake.finalAnswer(after.token))).toMatch(/no saved faces/);
  }, SCENARIO_TIMEOUT_MS);
});

describe("mimic register", () => {
  let fake: FakeDiscord;
  afterEach(async () => fake?.close());

  it("PUTs the one command list, globally or to one guild", async () => {
    fake = await FakeDiscord.start();
    const names = await deployCommands({ token: fake.token, appId: fake.appId, apiRoot: fake.base, guildId: fake.guildId });
    expect(names).toEqual(["meme", "morph", "face", "mimic", "Mimic this"]);
    const put = fake.calls.find((c) => c.method === "PUT")!;
    expect(put.path).toBe(`/api/v10/applications/${fake.appId}/guilds/${fake.guildId}/commands`);
    expect(put.json).toEqual(JSON.parse(JSON.stringify(commandDefinitions())));
    await deployCommands({ token: fake.token, appId: fake.appId, apiRoot: fake.base });
    expect(fake.calls.at(-1)!.path).toBe(`/api/v10/applications/${fake.appId}/commands`);
    await expect(deployCommands({ token: "wrong", appId: fake.appId, apiRoot: fake.base })).rejects.toMatchObject({
      code: "CONFIG",
      userMessage: expect.stringContaining("DISCORD_TOKEN was rejected"),
    });
  });

  it("defines autocomplete template options and admin-only config within Discord's limits", () => {
    type Opt = { name: string; type: number; autocomplete?: boolean; choices?: { name: string; value: string }[]; options?: Opt[]; description?: string };
    const defs = commandDefinitions() as { name: string; options?: Opt[]; default_member_permissions?: string | null }[];
    const meme = defs.find((d) => d.name === "meme")!;
    expect(meme.options!.find((o) => o.name === "template")!.autocomplete).toBe(true);
    // Discord's limits at every level: 25 options per command or subcommand, 25 choices per option.
    const walk = (opts: Opt[] | undefined, path: string): number => {
      let seen = 0;
      expect((opts ?? []).length, path).toBeLessThanOrEqual(25);
      for (const o of opts ?? []) {
        expect((o.choices ?? []).length, `${path} ${o.name}`).toBeLessThanOrEqual(25);
        seen += (o.choices ?? []).length + walk(o.options, `${path} ${o.name}`);
      }
      return seen;
    };
    const choices = defs.reduce((n, d) => n + walk(d.options, d.name), 0);
    // The nested setting choices are reached (a walk of the top level alone sees only mode's 2 and case's 2 on /meme and /morph).
    const config = defs.find((d) => d.name === "mimic")!.options!.find((o) => o.name === "config")!;
    const setting = config.options!.find((o) => o.name === "setting")!;
    expect(setting.choices!.map((c) => c.value)).toEqual([...SETTING_KEYS]);
    expect(choices).toBe(2 + 2 * 2 + SETTING_KEYS.length);
    // "config" is admin-only: it says so, and /mimic stays usable by everyone (usage, forget), so the
    // check is the adapter's Manage Server test (discord-adapter.test.ts), not a command-wide permission.
    expect(config.description).toMatch(/Manage Server/);
    expect(defs.find((d) => d.name === "mimic")!.default_member_permissions ?? null).toBeNull();
  });

});
