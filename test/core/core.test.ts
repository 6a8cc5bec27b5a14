import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createCore } from "../../src/core/index.ts";
import { LOTTIE_FACE_REFUSAL, loadImage, sniffImageMime } from "../../src/core/input.ts";
import { progressReporter, progressText } from "../../src/core/progress.ts";
import { hint } from "../../src/core/hints.ts";
import { memoryPorts, testContext } from "./doubles.ts";
import { FACE_JPG, NOT_AN_IMAGE, REACTION_LAUGH_JPG, describeImage, flatPng, reactionGif } from "./images.ts";

const MIB = 1024 * 1024;

const ctx = testContext;

const bytes = (b: Uint8Array) => ({ kind: "bytes" as const, bytes: b });

describe("command core", () => {
  it("asks for a saved face first, with the platform's own command", async () => {
    const ports = memoryPorts();
    const core = createCore(ports, { maxInputBytes: 25 * MIB });
    const dc = await core.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
    expect(dc).toMatchObject({ ephemeral: true, errorCode: "NOT_FOUND" });
    expect(dc.text).toContain("/face save");
    const tg = await core.meme(ctx({ platform: "telegram" }), { image: bytes(REACTION_LAUGH_JPG) });
    expect(tg.text).toContain("/save <name>");
    expect(ports.queue.submitted).toHaveLength(0);
  });

  it("saves a face, lists it, renders a PNG meme and an animated GIF from a GIF reaction", async () => {
    const ports = memoryPorts();
    const core = createCore(ports, { maxInputBytes: 25 * MIB });
    const saved = await core.faceSave(ctx(), { name: "me", image: bytes(FACE_JPG) });
    expect(saved.errorCode).toBeUndefined();
    expect(saved).toMatchObject({ ephemeral: true });
    expect(saved.text).toContain("default face");

    const list = await core.faceList(ctx());
    expect(list.templates).toEqual([{ name: "me", isDefault: true }]);

    const events: string[] = [];
    const meme = await core.meme(ctx({ progress: (e) => events.push(e.type) }), {
      image: bytes(REACTION_LAUGH_JPG),
      top: "  when the   build ",
      bottom: "passes",
      intensity: 50,
    });
    expect(meme.errorCode).toBeUndefined();
    expect(meme.ephemeral).toBe(false);
    expect(meme.file?.mime).toBe("image/png");
    expect((await describeImage(meme.file!.bytes)).format).toBe("png");
    expect(events).toEqual(expect.arrayContaining(["queued", "started", "done"]));
    const job = ports.queue.submitted.at(-1)!;
    expect(job).toMatchObject({ kind: "meme", captions: { top: "when the build", bottom: "passes" }, intensity: 0.5, byteBudget: 10 * MIB });

    // The front door only checks captions (length, spaces, controls): marks and fonts are the worker's, where
    // they are drawn (test/bots/front-door.test.ts shows its notes reach the reply).
    const typed = await core.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG), top: "hi   ሰ", bottom: "o" + "\u0301".repeat(30) });
    expect(typed.file?.mime).toBe("image/png");
    expect(ports.queue.submitted.at(-1)).toMatchObject({ captions: { top: "hi ሰ", bottom: "ó" + "\u0301".repeat(29) } });

    const gif = await core.meme(ctx(), { image: bytes(await reactionGif()) });
    expect(gif.file?.mime).toBe("image/gif");
    const d = await describeImage(gif.file!.bytes);
    expect(d.format).toBe("gif");
    expect(d.pages).toBeGreaterThan(1);
    expect(ports.queue.submitted.at(-1)).toMatchObject({ kind: "animated", animation: "reaction" });

    const morph = await core.morph(ctx(), { image: bytes(REACTION_LAUGH_JPG) });
    expect(ports.queue.submitted.at(-1)).toMatchObject({ kind: "animated", animation: "morph" });
    expect(morph.file?.name).toMatch(/\.gif$/);
  });

  it("refuses bad inputs with actionable messages, before queueing", async () => {
    const ports = memoryPorts();
    const core = createCore(ports, { maxInputBytes: 1 * MIB });
    expect((await core.faceSave(ctx(), { name: "me", image: bytes(await flatPng()) })).errorCode).toBe("NO_FACE");
    expect((await core.faceSave(ctx(), { name: "!!", image: bytes(FACE_JPG) })).text).toContain("can't be a face name");
    const notImage = await core.faceSave(ctx(), { name: "me", image: bytes(NOT_AN_IMAGE) });
    expect(notImage).toMatchObject({ errorCode: "NOT_AN_IMAGE", ephemeral: true });
    const big = await core.faceSave(ctx(), { name: "me", image: bytes(new Uint8Array(2 * MIB)) });
    expect(big.errorCode).toBe("IMAGE_TOO_LARGE");
    expect(big.text).toContain("limit is 1.0 MiB");
    await core.faceSave(ctx(), { name: "me", image: bytes(FACE_JPG) });
    const caption = await core.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG), top: "x".repeat(201) });
    expect(caption.text).toContain("the limit is 200 characters");
    expect((await core.meme(ctx(), { image: bytes(REACTION_LAUGH_JPG), intensity: 150 })).text).toContain("0 to 100");
    // only the NO_FACE enrolment reached the queue
    expect(ports.queue.submitted).toHaveLength(2);
  });

  // Quota, refunds, every setting and the moderation of face saves are driven through the real store in
  // core-store.test.ts; here only what the core decides itself: who may change settings, and where.
  it("lets only admins in a server see or change settings", async () => {
    const ports = memoryPorts();
    const core = createCore(ports, { maxInputBytes: 25 * MIB });
    const refused = await core.config(ctx(), { key: "quota", value: "1" });
    expect(refused).toMatchObject({ errorCode: "FORBIDDEN", ephemeral: true });
    expect((await core.config(ctx(), {})).errorCode).toBe("FORBIDDEN");
    const set = await core.config(ctx({ isAdmin: true }), { key: "quota", value: "1" });
    expect(set.text).toContain("1 per user per day");
    expect((await core.config(ctx({ isAdmin: true }), {})).text).toContain("quota: 1 per user per day");
    expect((await core.config(ctx({ isAdmin: true, serverId: null }), {})).errorCode).toBe("BAD_INPUT");
    expect((await core.usage(ctx())).text).not.toContain("Server today");
    expect((await core.usage(ctx({ isAdmin: true }))).text).toContain("Server today: no memes yet");
  });

  it("manages faces and forgets a user completely", async () => {
    const ports = memoryPorts();
    const core = createCore(ports, { maxInputBytes: 25 * MIB });
    await core.faceSave(ctx(), { name: "me", image: bytes(FACE_JPG) });
    await core.faceSave(ctx(), { name: "work", image: bytes(REACTION_LAUGH_JPG) });
    expect(await core.templateNames({ platform: "discord", userId: "u1" }, "W")).toEqual(["work"]);
    expect(await core.templateNames({ platform: "telegram", userId: "u1" }, "")).toEqual([]);
    expect((await core.faceDefault(ctx(), { name: "work" })).text).toContain("now your default");
    expect((await core.faceRename(ctx(), { from: "me", to: "home" })).errorCode).toBeUndefined();
    expect((await core.faceList(ctx())).templates).toEqual([
      { name: "home", isDefault: false },
      { name: "work", isDefault: true },
    ]);
    expect((await core.faceRemove(ctx(), { name: "nope" })).errorCode).toBe("NOT_FOUND");
    expect((await core.forgetMe(ctx(), { confirm: false })).text).toMatch(/^This permanently deletes your 2 saved faces \(from every server and DM\), .* Delete everything\?$/);
    expect((await core.faceList(ctx())).templates).toHaveLength(2);
    const gone = await core.forgetMe(ctx(), { confirm: true });
    expect(gone.text).toContain("deleted your 2 saved faces");
    expect((await core.faceList(ctx())).templates).toEqual([]);
  });
});

describe("image input", () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it("sniffs real image types and ignores declared ones", async () => {
    expect(sniffImageMime(FACE_JPG)).toBe("image/jpeg");
    expect(sniffImageMime(await flatPng())).toBe("image/png");
    expect(sniffImageMime(await reactionGif(undefined, 2, 32))).toBe("image/gif");
    expect(sniffImageMime(NOT_AN_IMAGE)).toBeUndefined();
  });

  it("refuses oversized downloads by declared size, Content-Length, or while streaming", async () => {
    let requests = 0;
    let streamedBytes = 0;
    const base = await serve((req, res) => {
      requests++;
      if (req.url === "/declared") {
        res.writeHead(200, { "content-length": String(5 * MIB) });
        res.end(Buffer.alloc(5 * MIB));
        return;
      }
      // No Content-Length: chunks until the client gives up (or 20 MiB).
      res.writeHead(200, { "content-type": "image/png" });
      const chunk = Buffer.alloc(64 * 1024, 1);
      let closed = false;
      res.on("close", () => (closed = true));
      const pump = () => {
        while (!closed && streamedBytes < 20 * MIB) {
          streamedBytes += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    });
    await expect(loadImage({ kind: "url", url: `${base}/x`, declaredSize: 3 * MIB }, { limitBytes: MIB })).rejects.toMatchObject({
      code: "IMAGE_TOO_LARGE",
    });
    expect(requests).toBe(0);
    await expect(loadImage({ kind: "url", url: `${base}/declared` }, { limitBytes: MIB })).rejects.toMatchObject({ code: "IMAGE_TOO_LARGE" });
    await expect(loadImage({ kind: "url", url: `${base}/stream` }, { limitBytes: MIB })).rejects.toMatchObject({ code: "IMAGE_TOO_LARGE" });
    // The stream was cut soon after the limit, not read to its end.
    expect(streamedBytes).toBeLessThan(8 * MIB);
  });

  it("downloads a picture and reports a dead link helpfully", async () => {
    const base = await serve((req, res) => {
      if (req.url === "/face.jpg") res.end(Buffer.from(FACE_JPG));
      else res.writeHead(404).end();
    });
    const img = await loadImage({ kind: "url", url: async () => `${base}/face.jpg` }, { limitBytes: MIB });
    expect(img.mime).toBe("image/jpeg");
    expect(img.bytes.byteLength).toBe(FACE_JPG.byteLength);
    await expect(loadImage({ kind: "url", url: `${base}/gone.jpg` }, { limitBytes: MIB })).rejects.toMatchObject({
      code: "BAD_INPUT",
      userMessage: expect.stringContaining("deleted"),
    });
    await expect(
      loadImage({ kind: "url", url: `${base}/x`, declaredMime: "application/x-tgsticker" }, { limitBytes: MIB }),
    ).rejects.toMatchObject({ code: "NOT_AN_IMAGE", userMessage: LOTTIE_FACE_REFUSAL });
  });
});

describe("progress reporter", () => {
  it("sends in order, throttles bursts and never after close", async () => {
    vi.useFakeTimers();
    try {
      const sent: string[] = [];
      const r = progressReporter(async (t) => void sent.push(t), 1000);
      r.onProgress({ type: "queued", position: 3, etaSeconds: 6 });
      r.onProgress({ type: "queued", position: 2, etaSeconds: 4 });
      await vi.advanceTimersByTimeAsync(10);
      expect(sent).toEqual(["In the queue: position 3, about 6 s."]);
      await vi.advanceTimersByTimeAsync(1000);
      expect(sent).toEqual(["In the queue: position 3, about 6 s.", "In the queue: position 2, about 4 s."]);
      r.onProgress({ type: "started" });
      await r.close();
      r.onProgress({ type: "done" });
      await vi.advanceTimersByTimeAsync(2000);
      expect(sent.at(-1)).toBe("Working on it…");
      expect(sent).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("progress reporter's throttle", () => {
  const queued = (position: number) => ({ type: "queued" as const, position, etaSeconds: position * 2 });
  /** Lets a push's send run (it is chained on promises), without moving the fake clock. */
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  let sent: string[];
  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
  });
  afterEach(() => vi.useRealTimers());

  it("sends nothing when the text did not change", async () => {
    const r = progressReporter(async (t) => void sent.push(t), 1000);
    r.onProgress(queued(2));
    await vi.advanceTimersByTimeAsync(5000);
    r.onProgress(queued(2));
    r.onProgress({ type: "started" });
    r.onProgress({ type: "started" });
    await settle();
    expect(sent).toEqual(["In the queue: position 2, about 4 s.", "Working on it…"]);
  });

  it("a burst within the interval becomes one update, its latest, sent when the interval ends and not before", async () => {
    const r = progressReporter(async (t) => void sent.push(t), 1000);
    r.onProgress(queued(4));
    await vi.advanceTimersByTimeAsync(100);
    r.onProgress(queued(3));
    await vi.advanceTimersByTimeAsync(100);
    r.onProgress(queued(2));
    await vi.advanceTimersByTimeAsync(799);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual(["In the queue: position 4, about 8 s.", "In the queue: position 2, about 4 s."]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(sent).toHaveLength(2);
  });

  it("an update exactly one interval after the last goes out at once", async () => {
    const r = progressReporter(async (t) => void sent.push(t), 1000);
    r.onProgress(queued(3));
    await vi.advanceTimersByTimeAsync(1000);
    r.onProgress(queued(2));
    await settle();
    expect(sent).toEqual(["In the queue: position 3, about 6 s.", "In the queue: position 2, about 4 s."]);
  });

  it("'started' goes out at once and drops the throttled update before it", async () => {
    const r = progressReporter(async (t) => void sent.push(t), 1000);
    r.onProgress(queued(3));
    await vi.advanceTimersByTimeAsync(100);
    r.onProgress(queued(2));
    await vi.advanceTimersByTimeAsync(100);
    r.onProgress({ type: "started" });
    await settle();
    expect(sent).toEqual(["In the queue: position 3, about 6 s.", "Working on it…"]);
    // The next update waits a whole interval from 'started' (t = 200), not the dropped update's timer (t = 1000).
    await vi.advanceTimersByTimeAsync(100);
    r.onProgress({ type: "done" });
    await vi.advanceTimersByTimeAsync(899);
    expect(sent).toEqual(["In the queue: position 3, about 6 s.", "Working on it…"]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual(["In the queue: position 3, about 6 s.", "Working on it…", "Almost there…"]);
  });

  it("close() drops a throttled update and waits for the one in flight; a failed send does not stop the next", async () => {
    let release!: () => void;
    const sends: string[] = [];
    const r = progressReporter(async (t) => {
      sends.push(t);
      if (t.includes("position 5")) throw new Error("edit refused");
      if (t === "Working on it…") await new Promise<void>((res) => (release = res));
      sent.push(t);
    }, 1000);
    r.onProgress(queued(5));
    await vi.advanceTimersByTimeAsync(1000);
    r.onProgress({ type: "started" });
    await settle();
    expect(sends).toEqual(["In the queue: position 5, about 10 s.", "Working on it…"]);
    r.onProgress({ type: "done" });
    let closed = false;
    const closing = r.close().then(() => (closed = true));
    await settle();
    expect(closed).toBe(false);
    release();
    await closing;
    expect(sent).toEqual(["Working on it…"]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(sends).toHaveLength(2);
  });
});

describe("progress wording and platform hints", () => {
  it("words every queue event, rounding ETAs up to at least 1 s", () => {
    expect(progressText({ type: "queued", position: 1, etaSeconds: 0.2 })).toBe("Next in line… (about 1 s)");
    expect(progressText({ type: "queued", position: 0, etaSeconds: 7.6 })).toBe("Next in line… (about 8 s)");
    expect(progressText({ type: "queued", position: 2, etaSeconds: 0 })).toBe("In the queue: position 2, about 1 s.");
    expect(progressText({ type: "queued", position: 5, etaSeconds: 12.4 })).toBe("In the queue: position 5, about 12 s.");
    expect(progressText({ type: "started" })).toBe("Working on it…");
    expect(progressText({ type: "done" })).toBe("Almost there…");
    expect(progressText({ type: "failed", message: "x" })).toBe("That did not work.");
  });

  it("tells each platform's users the command that works there", () => {
    expect({
      discord: (["saveFace", "listFaces", "meme", "config"] as const).map((a) => hint("discord", a)),
      telegram: (["saveFace", "listFaces", "meme", "config"] as const).map((a) => hint("telegram", a)),
      playground: (["saveFace", "listFaces", "meme", "config"] as const).map((a) => hint("playground", a)),
    }).toEqual({
      discord: ["/face save (attach a clear photo of your face)", "/face list", "/meme with a reaction image attached", "/mimic config"],
      telegram: [
        "/save <name> as a reply to a clear photo of your face",
        "/faces",
        "/meme as the caption of a reaction photo (or as a reply to one)",
        "/config <setting> <value>",
      ],
      playground: ["the “Save face” button under “1. Your faces”", "the “Your faces” list", "the “Make a meme” form", "POST /api/config with the fields key and value (and the header X-Mimic: 1)"],
    });
  });
});
