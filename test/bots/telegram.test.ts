import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTelegramBot, type TelegramBot } from "../../src/bots/telegram/bot.ts";
import { MemeArgsError, parseMemeArgs } from "../../src/bots/telegram/args.ts";
import { decodeVideo, findFfmpeg } from "../../src/pipeline/video/index.ts";
import { FakeTelegram, uploadedFile } from "../helpers/fake-telegram.ts";
import { psnr } from "../pipeline/gif/helpers.ts";
import { startTestApp, type TestApp } from "./harness.ts";
import { FACE_JPG, NOT_AN_IMAGE, REACTION_LAUGH_JPG, describeImage, flatPng, reactionGif, reactionMp4, reactionStickerWebm } from "../core/images.ts";

/** Whole scenarios on the real pipeline; generous for a busy 2-core machine (each wait has its own limit too). */
const SCENARIO_TIMEOUT_MS = 240_000;
const FFMPEG = findFfmpeg();

const GROUP = { id: -100123, type: "supergroup" as const, title: "Memes" };
const ALICE = { id: 11, is_bot: false as const, first_name: "Alice" };
const BOB = { id: 22, is_bot: false as const, first_name: "Bob" };

describe("Telegram bot (real grammY against a fake Bot API)", () => {
  let fake: FakeTelegram;
  let app: TestApp;
  let bot: TelegramBot;

  beforeEach(async () => {
    fake = await FakeTelegram.start();
    // Default MAX_INPUT_BYTES (25 MiB): Telegram's own 20 MB download limit is the one that applies.
    app = await startTestApp();
    bot = createTelegramBot({ core: app.core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
  });

  afterEach(async () => {
    await bot?.stop();
    await app?.close();
    await fake?.close();
  });

  const photo = (bytes: Uint8Array, ext = "jpg", size?: number) => fake.addFile(bytes, ext, size);

  it("save a face → meme → animated morph → quota → admin setting → non-admin refused → bad inputs", async () => {
    // 1. /save as a reply to a face photo
    const facePhoto = fake.sendPhoto(GROUP, ALICE, photo(FACE_JPG));
    let reply = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, ALICE, "/save me", facePhoto);
    expect(String((await reply).params.text)).toContain("Saved your face “me”");
    await fake.waitFor((c) => c.method === "sendChatAction" && c.params.action === "typing");

    // 2. /meme as the caption of a reaction photo → a real PNG via sendPhoto
    let sent = fake.nextCall(["sendPhoto", "sendMessage"], 120_000);
    fake.sendPhoto(GROUP, ALICE, photo(REACTION_LAUGH_JPG), {
      caption: "/meme top text | bottom text",
      caption_entities: [{ type: "bot_command", offset: 0, length: 5 }],
    });
    let call = await sent;
    expect(call.method, JSON.stringify(call.params)).toBe("sendPhoto");
    const png = uploadedFile(call);
    const memeMessage = call.result as { message_id: number; chat: { id: number } };
    const pngInfo = await describeImage(png.bytes);
    expect(pngInfo.format).toBe("png");
    // The saved face's aligned crop wearing the reaction's expression: the crop's size.
    const crop = (await app.app.store.templates.get({ platform: "telegram", userId: String(ALICE.id) })).cropSize;
    expect([pngInfo.width, pngInfo.height]).toEqual([crop, crop]);
    expect(call.params.reply_parameters).toMatchObject({ message_id: expect.any(Number) });

    // 3. /morph as a reply → a real H.264 MP4 via sendAnimation, decoded here with the same ffmpeg
    const reaction = fake.sendPhoto(GROUP, ALICE, photo(REACTION_LAUGH_JPG));
    sent = fake.nextCall(["sendAnimation", "sendMessage"], 120_000);
    fake.sendCommand(GROUP, ALICE, "/morph", reaction);
    call = await sent;
    expect(call.method, JSON.stringify(call.params)).toBe("sendAnimation");
    const upload = uploadedFile(call);
    expect(upload.filename).toMatch(/\.mp4$/);
    const video = await decodeVideo(upload.bytes, FFMPEG!);
    expect(video.codec).toBe("h264");
    expect(video.frames.length).toBeGreaterThan(1);
    expect(psnr(video.frames[0], video.frames[Math.floor(video.frames.length / 2)])).toBeLessThan(40); // it moves
    // Animations may be scaled down, never up, and keep the crop's square shape.
    expect(video.width).toBe(video.height);
    expect(video.width).toBeGreaterThanOrEqual(128);
    expect(video.width).toBeLessThanOrEqual(crop);
    expect([call.params.width, call.params.height].map(Number)).toEqual([video.width, video.height]);

    // 4. an admin sets a quota of 2 per day: Alice already made 2 → refused
    fake.memberStatus.set(`${GROUP.id}:${ALICE.id}`, "administrator");
    reply = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, ALICE, "/config quota 2");
    expect(String((await reply).params.text)).toContain("quota: 2 per user per day");
    reply = fake.nextCall(["sendMessage", "sendPhoto"], 60_000);
    fake.sendCommand(GROUP, ALICE, "/meme again", reaction);
    call = await reply;
    expect(call.method).toBe("sendMessage");
    expect(String(call.params.text)).toMatch(/used all 2 of today.s memes/);

    // 4b. "who made this picture?": the admin gives the MP4's SHA-256 (as `mimic inspect` prints it); the group
    // sees that the trail has it, the admin alone who made it (her private chat); Bob may not ask
    const mp4Hash = createHash("sha256").update(upload.bytes).digest("hex");
    const privately = fake.waitFor((c) => c.method === "sendMessage" && c.params.chat_id === ALICE.id);
    reply = fake.waitFor((c) => c.method === "sendMessage" && c.params.chat_id === GROUP.id && String(c.params.text).startsWith("SHA-256"));
    fake.sendCommand(GROUP, ALICE, `/audit ${mp4Hash}`);
    expect(String((await privately).params.text)).toMatch(new RegExp(`^In “Memes”, the people who made or used that picture:\n• .* UTC: user ${ALICE.id} \\(Alice\\) made it \\(animated`));
    expect(String((await reply).params.text)).toBe(
      `SHA-256 ${mp4Hash.slice(0, 12)}…: in the audit trail (1 entry).\nThe people who made or used that picture: sent to you in our private chat.`,
    );
    // The natural way: replying /audit to Mimic's own photo, which Telegram shows re-encoded (another hash).
    const reencoded = photo(REACTION_LAUGH_JPG);
    const shown = {
      message_id: memeMessage.message_id,
      date: 0,
      chat: GROUP,
      from: fake.botInfo,
      photo: [{ file_id: reencoded.file_id, file_unique_id: reencoded.file_unique_id, width: 512, height: 512, file_size: reencoded.file_size }],
    };
    const before = fake.calls.length;
    const ownPrivately = fake.waitFor((c) => fake.calls.indexOf(c) >= before && c.method === "sendMessage" && c.params.chat_id === ALICE.id);
    const ownInGroup = fake.waitFor((c) => fake.calls.indexOf(c) >= before && c.method === "sendMessage" && c.params.chat_id === GROUP.id);
    fake.sendCommand(GROUP, ALICE, "/audit", shown);
    expect(String((await ownInGroup).params.text)).toMatch(/^SHA-256 [0-9a-f]{12}…: in the audit trail \(1 entry\)\./);
    expect(String((await ownPrivately).params.text)).toMatch(new RegExp(`^In “Memes”, the people who made or used that picture:\n• .* UTC: user ${ALICE.id} \\(Alice\\) made it \\(meme`));
    reply = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, BOB, `/audit ${createHash("sha256").update(png.bytes).digest("hex")}`);
    expect(String((await reply).params.text)).toMatch(/Only group admins/);

    // 5. a non-admin cannot change settings (a command addressed to another bot is ignored)
    fake.sendCommand(GROUP, BOB, "/config@some_other_bot quota 100");
    reply = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, BOB, `/config@${fake.botInfo.username} quota 100`);
    expect(String((await reply).params.text)).toMatch(/Only group admins/);
    // One refusal for Bob's /audit (4b), one for /config: the command to another bot got none.
    expect(fake.calls.filter((c) => /Only group admins/.test(String(c.params.text))).length).toBe(2);

    // 6. bad inputs: Bob has no face; not an image; too large; no face in the photo
    reply = fake.nextCall("sendMessage");
    fake.sendCommand(GROUP, BOB, "/meme hi", reaction);
    expect(String((await reply).params.text)).toMatch(/no saved face yet.*\/save <name>/);

    const doc = fake.sendMessage(GROUP, BOB, {
      document: { ...photo(NOT_AN_IMAGE, "pdf"), file_name: "notes.pdf", mime_type: "application/pdf" },
    });
    reply = fake.nextCall("sendMessage", 60_000);
    fake.sendCommand(GROUP, BOB, "/save bob", doc);
    expect(String((await reply).params.text)).toMatch(/not a picture I can use/);

    const big = fake.sendPhoto(GROUP, BOB, photo(FACE_JPG, "jpg", 21 * 1000 * 1000));
    const downloadsBefore = fake.downloads.length;
    reply = fake.nextCall("sendMessage", 60_000);
    fake.sendCommand(GROUP, BOB, "/save bob", big);
    expect(String((await reply).params.text)).toBe("That file is too large: Telegram lets bots download at most 20 MB. Please send a smaller picture.");
    expect(fake.downloads.length).toBe(downloadsBefore); // refused before downloading

    const flat = fake.sendPhoto(GROUP, BOB, photo(await flatPng(), "png"));
    reply = fake.nextCall("sendMessage", 60_000);
    fake.sendCommand(GROUP, BOB, "/save bob", flat);
    // A face-less picture is refused with the enrolment's reason, and nothing is saved.
    const faceless = String((await reply).params.text);
    expect(faceless).toMatch(/couldn.t find a face in that photo/);
    expect(faceless).not.toMatch(/Saved/);
    expect(await app.app.store.templates.list({ platform: "telegram", userId: String(BOB.id) })).toEqual([]);

    const sticker = fake.sendMessage(GROUP, BOB, {
      sticker: { ...photo(new Uint8Array(10), "tgs"), width: 512, height: 512, is_animated: true, is_video: false, type: "regular" },
    });
    reply = fake.nextCall("sendMessage", 60_000);
    fake.sendCommand(GROUP, BOB, "/save bob", sticker);
    // Said in a sticker's words, not a file format's.
    expect(String((await reply).params.text)).toBe("Animated stickers can't be read. Send a clear photo of your face instead.");
  }, SCENARIO_TIMEOUT_MS);

  it("/faces shows an inline keyboard that sets the default and deletes (once confirmed); /forget asks first", async () => {
    const dm = { id: ALICE.id, type: "private" as const };
    for (const name of ["me", "work"]) {
      // In a private chat the photo itself gets a pointer ("Reply to it with /save me…"): the command's answer is the reply to the command.
      const p = fake.sendPhoto(dm, ALICE, photo(FACE_JPG));
      const r = fake.answerTo(fake.sendCommand(dm, ALICE, `/save ${name}`, p), "sendMessage", 60_000);
      expect(String((await r).params.text)).toContain(`Saved your face “${name}”`);
    }
    let r = fake.nextCall("sendMessage");
    fake.sendCommand(dm, ALICE, "/faces");
    const list = await r;
    const keyboard = (list.params.reply_markup as { inline_keyboard: { text: string; callback_data: string }[][] }).inline_keyboard;
    expect(keyboard.map((row) => row.map((b) => b.callback_data))).toEqual([
      ["def:11:me", "del:11:me"],
      ["def:11:work", "del:11:work"],
    ]);
    expect(keyboard[0][0].text).toBe("★ me");

    const listMessage = { message_id: 1, date: Math.floor(Date.now() / 1000), chat: dm, text: String(list.params.text) };
    let edit = fake.nextCall("editMessageText");
    fake.pressButton(dm, ALICE, listMessage, "def:11:work");
    expect(String((await edit).params.text)).toContain("work (default)");
    edit = fake.nextCall("editMessageText");
    fake.pressButton(dm, ALICE, listMessage, "del:11:me");
    expect((await edit).params.text).toBe("Delete your face “me”? It cannot be undone.");
    edit = fake.nextCall("editMessageText");
    fake.pressButton(dm, ALICE, listMessage, "delyes:11:me");
    expect(String((await edit).params.text)).not.toContain("me");

    r = fake.nextCall("sendMessage");
    fake.sendCommand(dm, ALICE, "/forget");
    const ask = await r;
    expect(JSON.stringify(ask.params.reply_markup)).toContain("forget:11:yes");
    edit = fake.nextCall("editMessageText");
    fake.pressButton(dm, ALICE, { message_id: 2, date: Math.floor(Date.now() / 1000), chat: dm, text: "x" }, "forget:11:yes");
    // (The core's words for it: "deleted 1 saved face", or "deleted your 1 saved face".)
    expect(String((await edit).params.text)).toMatch(/deleted (your )?1 saved face/);

    r = fake.nextCall("sendMessage");
    fake.sendCommand(dm, ALICE, "/usage");
    expect(String((await r).params.text)).toContain("Saved faces: 0");
  }, SCENARIO_TIMEOUT_MS);

  it("refuses a cut GIF as damaged, a GIF clip as a face in words a Telegram user can follow, and names a PDF or an iPhone photo for /meme and /save alike", async () => {
    const dm = { id: ALICE.id, type: "private" as const };
    const p = fake.sendPhoto(dm, ALICE, photo(FACE_JPG));
    await fake.answerTo(fake.sendCommand(dm, ALICE, "/save me", p), "sendMessage", 60_000);
    const answerTo = async (command: string, message: Record<string, unknown>) => {
      const call = await fake.answerTo(fake.sendCommand(dm, ALICE, command, message), ["sendMessage", "sendPhoto", "sendAnimation"], 120_000);
      expect(call.method, `${command}: ${JSON.stringify(call.params)}`).toBe("sendMessage");
      return String(call.params.text);
    };
    const gif = await reactionGif();
    const cutGif = fake.sendMessage(dm, ALICE, { document: { ...photo(gif.slice(0, Math.floor(gif.length / 2)), "gif"), file_name: "x.gif", mime_type: "image/gif" } });
    expect(await answerTo("/meme", cutGif)).toBe("That file looks damaged or incomplete (maybe the upload was cut off). Please send it again.");

    // Telegram sends a GIF as an MP4 animation: a face must be a photo, and "send a GIF" would be no help.
    const clip = fake.sendMessage(dm, ALICE, { animation: { ...photo(await reactionMp4(FFMPEG!), "mp4"), width: 240, height: 192, duration: 1, mime_type: "video/mp4", file_name: "x.mp4" } });
    const asFace = await answerTo("/save clip", clip);
    expect(asFace).toBe("A face must be a still picture, and that file is a clip (chat apps send GIFs as clips too). Please send a still photo of your face.");

    const pdf = () => fake.sendMessage(dm, ALICE, { document: { ...photo(NOT_AN_IMAGE, "pdf"), file_name: "notes.pdf", mime_type: "application/pdf" } });
    expect(await answerTo("/meme", pdf())).toContain("(it looks like application/pdf)");
    expect(await answerTo("/save p", pdf())).toContain("(it looks like application/pdf)");
    const heicBytes = new Uint8Array([0, 0, 0, 0x18, ...new TextEncoder().encode("ftypheic"), 0, 0, 0, 0, ...new TextEncoder().encode("mif1heic"), ...new Uint8Array(2000)]);
    const heic = () => fake.sendMessage(dm, ALICE, { document: { ...photo(heicBytes, "heic"), file_name: "IMG_1.HEIC", mime_type: "image/heic" } });
    const iphone = "(it is an iPhone HEIC photo, which Mimic cannot read: send a JPEG of it (a chat app's photo button usually converts it))";
    expect(await answerTo("/meme", heic())).toContain(iphone);
    expect(await answerTo("/save h", heic())).toContain(iphone);
  }, SCENARIO_TIMEOUT_MS);

  it("reacts to GIF documents and to Telegram's MP4 GIFs with an animated reply", async () => {
    const dm = { id: ALICE.id, type: "private" as const };
    const p = fake.sendPhoto(dm, ALICE, photo(FACE_JPG));
    await fake.answerTo(fake.sendCommand(dm, ALICE, "/save me", p), "sendMessage", 60_000);
    const gifMessage = fake.sendMessage(dm, ALICE, {
      document: { ...photo(await reactionGif(), "gif"), file_name: "lol.gif", mime_type: "image/gif" },
    });
    // Each reaction sent alone gets a pointer in a private chat: the answers are the replies to the commands.
    const call = await fake.answerTo(fake.sendCommand(dm, ALICE, "/meme", gifMessage), ["sendAnimation", "sendMessage"], 120_000);
    expect(call.method, JSON.stringify(call.params)).toBe("sendAnimation");
    expect((await decodeVideo(uploadedFile(call).bytes, FFMPEG!)).frames.length).toBeGreaterThan(1);

    // A GIF that Telegram turned into MP4: the video itself is read, frame by frame.
    const video = photo(await reactionMp4(FFMPEG!, 6), "mp4");
    const thumb = photo(REACTION_LAUGH_JPG);
    const mp4Message = () =>
      fake.sendMessage(dm, ALICE, {
        animation: { ...video, width: 240, height: 192, duration: 1, mime_type: "video/mp4", thumbnail: { ...thumb, width: 320, height: 240 } },
      });
    const movingCall = await fake.answerTo(fake.sendCommand(dm, ALICE, "/meme", mp4Message()), ["sendAnimation", "sendMessage"], 120_000);
    expect(movingCall.method, JSON.stringify(movingCall.params)).toBe("sendAnimation");
    expect((await decodeVideo(uploadedFile(movingCall).bytes, FFMPEG!)).frames.length).toBeGreaterThan(1);
    expect(fake.downloads).toContain(video.file_path);
    expect(fake.downloads).not.toContain(thumb.file_path);
    // "still": its first frame as a PNG meme.
    const stillCall = await fake.answerTo(fake.sendCommand(dm, ALICE, "/meme still", mp4Message()), ["sendPhoto", "sendMessage"], 120_000);
    expect(stillCall.method, JSON.stringify(stillCall.params)).toBe("sendPhoto");
    expect((await describeImage(uploadedFile(stillCall).bytes)).format).toBe("png");

    // A video sticker (a transparent VP9 WebM): animated, and a face swap into it shows its see-through border white, as Telegram does.
    const sticker = () =>
      fake.sendMessage(dm, ALICE, { sticker: { ...photo(webm, "webm"), width: 240, height: 192, is_animated: false, is_video: true, type: "regular" } });
    const webm = await reactionStickerWebm(FFMPEG!);
    const stickerCall = await fake.answerTo(fake.sendCommand(dm, ALICE, "/meme", sticker()), ["sendAnimation", "sendMessage"], 120_000);
    expect(stickerCall.method, JSON.stringify(stickerCall.params)).toBe("sendAnimation");
    const swapCall = await fake.answerTo(fake.sendCommand(dm, ALICE, "/meme swap still", sticker()), ["sendPhoto", "sendMessage"], 120_000);
    expect(swapCall.method, JSON.stringify(swapCall.params)).toBe("sendPhoto");
    const { data, info } = await sharp(uploadedFile(swapCall).bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const corner = [0, info.width - 1, (info.height - 1) * info.width].map((px) => Math.min(data[px * 3]!, data[px * 3 + 1]!, data[px * 3 + 2]!));
    expect(corner.every((v) => v > 245), String(corner)).toBe(true);
  }, SCENARIO_TIMEOUT_MS);

  it("reads a video (captioned or replied to) and a round video message as animated reactions, within the download limit", async () => {
    const dm = { id: ALICE.id, type: "private" as const };
    const saved = fake.answerTo(fake.sendCommand(dm, ALICE, "/save me", fake.sendPhoto(dm, ALICE, fake.addFile(FACE_JPG))), "sendMessage", 60_000);
    expect(String((await saved).params.text)).toContain("Saved your face");
    const mp4 = await reactionMp4(FFMPEG!, 6);
    const video = () => ({ ...fake.addFile(mp4, "mp4"), width: 240, height: 192, duration: 1, mime_type: "video/mp4" });

    // A clip from the phone's camera with /meme as its caption.
    let answer = fake.nextCall(["sendAnimation", "sendMessage"], 120_000);
    fake.sendMessage(dm, ALICE, { video: video(), caption: "/meme top | bottom", caption_entities: [{ type: "bot_command", offset: 0, length: 5 }] });
    let call = await answer;
    expect(call.method, JSON.stringify(call.params)).toBe("sendAnimation");
    expect((await decodeVideo(uploadedFile(call).bytes, FFMPEG!)).frames.length).toBeGreaterThan(1);

    // A round video message, replied to; "still" makes a PNG of it.
    const note = fake.addFile(mp4, "mp4");
    call = await fake.answerTo(
      fake.sendCommand(dm, ALICE, "/meme still", fake.sendMessage(dm, ALICE, { video_note: { ...note, length: 240, duration: 1 } })),
      ["sendPhoto", "sendMessage"],
      120_000,
    );
    expect(call.method, JSON.stringify(call.params)).toBe("sendPhoto");
    expect(fake.downloads).toContain(note.file_path);

    // Over Telegram's 20 MB download limit: refused by its declared size, never downloaded.
    const big = { ...fake.addFile(mp4, "mp4", 25_000_000), width: 240, height: 192, duration: 1, mime_type: "video/mp4" };
    answer = fake.answerTo(fake.sendCommand(dm, ALICE, "/meme", fake.sendMessage(dm, ALICE, { video: big })), ["sendAnimation", "sendMessage"], 120_000);
    expect(String((await answer).params.text)).toBe("That file is too large: Telegram lets bots download at most 20 MB. Please send a smaller picture.");
    expect(fake.downloads).not.toContain(big.file_path);
  }, SCENARIO_TIMEOUT_MS);
});

describe("Telegram animations without an ffmpeg binary", () => {
  let fake: FakeTelegram;
  let app: TestApp;
  let bot: TelegramBot;
  const dir = mkdtempSync(join(tmpdir(), "mimic-noffmpeg-"));

  beforeEach(async () => {
    fake = await FakeTelegram.start();
    app = await startTestApp({ FFMPEG_PATH: join(dir, "ffmpeg-for-another-platform") });
    bot = createTelegramBot({ core: app.core, token: fake.token, apiRoot: fake.apiRoot });
    await bot.start();
  });

  afterEach(async () => {
    await bot?.stop();
    await app?.close();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Alice saves her face in a private chat, which is returned. */
  async function saveMe() {
    const dm = { id: ALICE.id, type: "private" as const };
    const p = fake.sendPhoto(dm, ALICE, fake.addFile(FACE_JPG, "jpg"));
    await fake.answerTo(fake.sendCommand(dm, ALICE, "/save me", p), "sendMessage", 60_000);
    return dm;
  }

  it("says it cannot read a video reaction", async () => {
    const dm = await saveMe();
    const video = fake.addFile(await reactionMp4(FFMPEG!), "mp4");
    const message = fake.sendMessage(dm, ALICE, { animation: { ...video, width: 240, height: 192, duration: 1, mime_type: "video/mp4" } });
    const call = await fake.answerTo(fake.sendCommand(dm, ALICE, "/meme", message), ["sendAnimation", "sendMessage"], 120_000);
    expect(call.method).toBe("sendMessage");
    // Telegram sends every GIF as a clip like this one: "send a GIF" would be no advice there.
    expect(call.params.text).toBe("This Mimic cannot read clips (it has no ffmpeg), and GIFs sent in a chat often arrive as clips. Please send a photo or another still picture instead.");
  }, SCENARIO_TIMEOUT_MS);

  it("falls back to a GIF through sendAnimation", async () => {
    const dm = await saveMe();
    const reaction = fake.sendPhoto(dm, ALICE, fake.addFile(REACTION_LAUGH_JPG, "jpg"));
    const call = await fake.answerTo(fake.sendCommand(dm, ALICE, "/morph", reaction), ["sendAnimation", "sendMessage"], 120_000);
    expect(call.method, JSON.stringify(call.params)).toBe("sendAnimation");
    const gif = await describeImage(uploadedFile(call).bytes);
    expect(gif.format).toBe("gif");
    expect(gif.pages).toBeGreaterThan(1);
  }, SCENARIO_TIMEOUT_MS);
});

describe("Telegram /meme arguments", () => {
  it("parses options then captions", () => {
    expect(parseMemeArgs("face=work intensity=40% swap gif top | bottom")).toEqual({
      template: "work",
      intensity: "40%",
      mode: "swap",
      animated: true,
      top: "top",
      bottom: "bottom",
    });
    expect(parseMemeArgs("just the punchline")).toEqual({ bottom: "just the punchline" });
    // Values are the core's to judge, in the same words as every entrance (test/bots/front-door.test.ts).
    expect(parseMemeArgs("intensity=loud")).toEqual({ intensity: "loud" });
  });

  it("keeps captions whose first word is also a flag, and their line breaks", () => {
    // A sentence starts with a capital: a caption, not the flag.
    expect(parseMemeArgs("Still better than Monday")).toEqual({ bottom: "Still better than Monday" });
    expect(parseMemeArgs("Swap meet tomorrow")).toEqual({ bottom: "Swap meet tomorrow" });
    // "--" ends the options.
    expect(parseMemeArgs("-- gif me the money")).toEqual({ bottom: "gif me the money" });
    expect(parseMemeArgs("swap -- still here | swap")).toEqual({ mode: "swap", top: "still here", bottom: "swap" });
    expect(parseMemeArgs("when the code\ncompiles | first try")).toEqual({ top: "when the code\ncompiles", bottom: "first try" });
    expect(parseMemeArgs("gif  line one\n\nline two")).toEqual({ animated: true, bottom: "line one\n\nline two" });
    expect(parseMemeArgs("--")).toEqual({});
  });

  it("refuses an option with an empty value and /morph's swap and still, rather than making them a caption or dropping them", () => {
    expect(() => parseMemeArgs("intensity= hi")).toThrow(MemeArgsError);
    expect(() => parseMemeArgs("swap face= hi")).toThrow(/“face=” needs a face name/);
    expect(() => parseMemeArgs("swap", "morph")).toThrow(/“swap” is not an option of \/morph/);
    expect(() => parseMemeArgs("gif still", "morph")).toThrow(/“still” is not an option of \/morph/);
    // A morph is animated anyway: "gif" is allowed; after "--" the words are a caption.
    expect(parseMemeArgs("gif -- swap still", "morph")).toEqual({ animated: true, bottom: "swap still" });
    expect(parseMemeArgs("-- intensity= hi")).toEqual({ bottom: "intensity= hi" });
  });
});
