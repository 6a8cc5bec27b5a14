import type { IncomingMessage, ServerResponse } from "node:http";
import sharp from "sharp";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FROM_REPLIED_NOTE, REPLIED_TO_DELETED, REPLIED_TO_UNREADABLE } from "../../src/bots/discord/bot.ts";
import { MAX_PICTURES_TRIED } from "../../src/bots/first-face.ts";
import { ALICE, BOB, FakeDiscord, OPT, content, str, sub, type FakeUser } from "../helpers/fake-discord.ts";
import { FACE_JPG, REACTION_LAUGH_JPG, REACTION_SMILE_JPG, flatPng } from "../core/images.ts";
import { useDiscordBot } from "./discord-harness.ts";

/**
 * "Mimic this" on the messages people really use it on: a text reply to a picture, and a message with several
 * pictures whose first shows no face. The real discord.js client against the fake Discord, the real store,
 * queue and pipeline (a flat grey picture has no face for the real detector).
 */

/** Whole scenarios on the real pipeline; generous for a busy 2-core machine. */
const SCENARIO_TIMEOUT_MS = 240_000;
const CAROL: FakeUser = { id: "100000000000000033", username: "carol" };

describe("Discord “Mimic this” (real discord.js, store, queue and pipeline)", () => {
  const live = useDiscordBot();
  let fake: FakeDiscord;
  beforeEach(() => ({ fake } = live));
  let sharpCut: Buffer;
  beforeAll(async () => {
    sharpCut = await sharp(REACTION_LAUGH_JPG).extract({ left: 0, top: 0, width: 420, height: 576 }).png().toBuffer();
  });

  const answer = (i: { token: string }) => fake.finalAnswer(i.token, 120_000);

  async function saveFace(user: FakeUser) {
    const photo = fake.addAttachment(FACE_JPG, "face.jpg", "image/jpeg");
    const saved = await answer(fake.slash(user, "face", [sub("save", [{ name: "photo", type: OPT.attachment, value: photo.id }, str("name", "me")])], { attachments: [photo] }));
    expect(content(saved)).toContain("Saved your face “me”");
  }

  /** A text message replying to `to`, as Discord sends it: with the replied message (`referenced_message`) or, sometimes, without. */
  function replyTo(to: ReturnType<FakeDiscord["message"]>, opts: { sendReplied: boolean }) {
    return {
      ...fake.message(CAROL, [], "this one 😂"),
      type: 19,
      message_reference: { type: 0, message_id: to.id, channel_id: fake.channelId, guild_id: fake.guildId },
      ...(opts.sendReplied ? { referenced_message: to } : {}),
    };
  }

  /** The fake answers GET /channels/{id}/messages/{message id} with these messages (the reply's target, fetched). */
  function serveMessages(fake: FakeDiscord, messages: ReturnType<FakeDiscord["message"]>[]): string[] {
    const f = fake as unknown as { handle(req: IncomingMessage, res: ServerResponse): Promise<void> };
    const handle = f.handle.bind(fake);
    const fetched: string[] = [];
    f.handle = async (req, res) => {
      const m = /^\/api\/v10\/channels\/\d+\/messages\/(\d+)$/.exec(req.url ?? "");
      const found = m && req.method === "GET" ? messages.find((x) => x.id === m[1]) : undefined;
      if (!found) return handle(req, res);
      fetched.push(found.id);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(found));
    };
    return fetched;
  }

  it(
    "on a text reply to a picture, uses the picture it replies to (sent with the reply, or fetched) and says so; a reply to a message without one is told so",
    async () => {
      await saveFace(ALICE);
      const laugh = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
      const picture = fake.message(BOB, [laugh]);
      let served = fake.cdnServed.length;
      const made = await answer(fake.contextMenu(ALICE, replyTo(picture, { sendReplied: true })));
      expect(made.files, content(made)).toHaveLength(1);
      expect(content(made)).toMatch(/^Here you go, using your face “me”\./);
      expect(content(made).endsWith(FROM_REPLIED_NOTE), content(made)).toBe(true);
      expect(fake.cdnServed.slice(served)).toEqual([new URL(laugh.url).pathname]);

      // Discord left the replied message out: it is read from the channel.
      const smile = fake.addAttachment(REACTION_SMILE_JPG, "smile.jpg", "image/jpeg");
      const another = fake.message(BOB, [smile]);
      const fetched = serveMessages(fake, [another]);
      served = fake.cdnServed.length;
      const viaFetch = await answer(fake.contextMenu(ALICE, replyTo(another, { sendReplied: false })));
      expect(viaFetch.files, content(viaFetch)).toHaveLength(1);
      expect(fetched).toEqual([another.id]);
      expect(fake.cdnServed.slice(served)).toEqual([new URL(smile.url).pathname]);

      // Nothing to follow: said plainly, nothing made.
      const refused = await answer(fake.contextMenu(ALICE, replyTo(fake.message(BOB, [], "no picture here"), { sendReplied: true })));
      expect(refused.files).toHaveLength(0);
      expect(content(refused)).toBe("That message has no picture I can use, and neither has the message it replies to. Pick a message with an image, GIF or sticker.");
    },
    SCENARIO_TIMEOUT_MS,
  );

  it("on a text reply to a message Discord says was deleted, or one Mimic may not read, says which instead of “no picture”", async () => {
    const gone = fake.message(BOB, [], "deleted since");
    fake.failNext((c) => c.method === "GET" && c.path.endsWith(`/messages/${gone.id}`), 404, { code: 10008, message: "Unknown Message" });
    const deleted = await answer(fake.contextMenu(ALICE, replyTo(gone, { sendReplied: false })));
    expect(content(deleted)).toBe(REPLIED_TO_DELETED);

    const hidden = fake.message(BOB, [], "in a channel Mimic may not read");
    fake.failNext((c) => c.method === "GET" && c.path.endsWith(`/messages/${hidden.id}`), 403, { code: 50001, message: "Missing Access" });
    const unreadable = await answer(fake.contextMenu(ALICE, replyTo(hidden, { sendReplied: false })));
    expect(content(unreadable)).toBe(REPLIED_TO_UNREADABLE);
  });

  it(
    `on a message whose first pictures show no face, tries the next ones (at most MAX_PICTURES_TRIED) and says which it used, or that none had a face; only the picture made counts a use`,
    async () => {
      await saveFace(ALICE);
      const flat = await flatPng();
      let n = 0;
      const blank = () => fake.addAttachment(flat, `blank-${++n}.png`, "image/png");
      const laugh = fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");

      const made = await answer(fake.contextMenu(ALICE, fake.message(BOB, [blank(), blank(), laugh])));
      expect(made.files, content(made)).toHaveLength(1);
      expect(content(made)).toMatch(/^Here you go, using your face “me”\./);
      expect(content(made)).toContain("Pictures 1 and 2 have no face I can use, so this is made from picture 3.");

      const none = await answer(fake.contextMenu(ALICE, fake.message(BOB, [blank(), blank()])));
      expect(none.files).toHaveLength(0);
      expect(content(none)).toBe("None of the 2 pictures in that message has a face I can use. Pick a picture where a face looks roughly at the camera.");

      // A message full of pictures: only the first few are fetched and tried.
      const many = Array.from({ length: MAX_PICTURES_TRIED + 2 }, blank);
      const served = fake.cdnServed.length;
      const bounded = await answer(fake.contextMenu(ALICE, fake.message(BOB, many)));
      expect(content(bounded)).toBe(
        `None of the first ${MAX_PICTURES_TRIED} of the ${many.length} pictures in that message has a face I can use. Pick a picture where a face looks roughly at the camera.`,
      );
      expect(fake.cdnServed.slice(served)).toEqual(many.slice(0, MAX_PICTURES_TRIED).map((a) => new URL(a.url).pathname));

      // The faceless tries were given back.
      expect(content(await answer(fake.slash(ALICE, "mimic", [sub("usage")])))).toMatch(/^Today you made 1 meme\b/);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    "passes over a file that is no picture and says why a face could not be used (cut off by the edge), in the core's words",
    async () => {
      await saveFace(ALICE);
      const flat = await flatPng();
      const notAPicture = fake.addAttachment(new TextEncoder().encode("just some text\n"), "b.jpg", "image/jpeg");
      const laugh = () => fake.addAttachment(REACTION_LAUGH_JPG, "laugh.jpg", "image/jpeg");
      // franck_04117 cut at 420 px: the picture's edge runs through his eyes and mouth.
      const cut = () => fake.addAttachment(new Uint8Array(sharpCut), "cut.png", "image/png");

      const made = await answer(fake.contextMenu(ALICE, fake.message(BOB, [fake.addAttachment(flat, "blank.png", "image/png"), notAPicture, laugh()])));
      expect(made.files, content(made)).toHaveLength(1);
      expect(content(made)).toContain("Picture 1 has no face I can use, picture 2 is not a picture I can read, so this is made from picture 3.");

      const none = await answer(fake.contextMenu(ALICE, fake.message(BOB, [fake.addAttachment(flat, "blank.png", "image/png"), cut()])));
      expect(none.files).toHaveLength(0);
      expect(content(none)).toBe(
        "None of the 2 pictures in that message could be used. Picture 1 has no face I can use, picture 2 has a face I could not use. " +
          "The reaction's face is cut off by the picture's edge (or too close to it to read), so there is no expression to copy onto yours. Please send a picture that shows the whole face.",
      );
    },
    SCENARIO_TIMEOUT_MS,
  );
});
