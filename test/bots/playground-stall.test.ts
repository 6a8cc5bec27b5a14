/**
 * Big pictures must not hold the event loop in one piece (QA: 0.3–0.6 s stalls swapping a 22.8 MB photo):
 * through the real playground HTTP server, the real core, store and queue (its worker processes), with
 * handlers that answer a meme with the reaction picture itself, so the bytes of every answer are known.
 * Counted in event-loop turns and in buffers, never in milliseconds.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
import { afterEach, describe, expect, it } from "vitest";
import { REPLY_STREAM, startPlayground, type Playground } from "../../src/bots/playground/server.ts";
import type { CommandContext, Core } from "../../src/core/index.ts";
import type { EnrolResult, Job } from "../../src/queue/jobs.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { enrolDouble } from "../core/doubles.ts";
import { FACE_JPG } from "../core/images.ts";
import { startTestApp, type TestApp } from "./harness.ts";

const ECHO_HANDLERS = new URL("./echo-handlers.ts", import.meta.url);
const MiB = 1 << 20;

/** A PNG of noise, stored without compression: `width` × `height` × 3 bytes and a little more. */
async function noisePng(width: number, height: number): Promise<Uint8Array> {
  const png = await sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
  return new Uint8Array(png);
}

/** Counts event-loop turns (one per check phase) until stopped. */
function turnCounter() {
  const counter = { turns: 0, running: true, stop: () => (counter.running = false) };
  const tick = () => {
    counter.turns += 1;
    if (counter.running) setImmediate(tick);
  };
  setImmediate(tick);
  return counter;
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe("playground: big pictures travel without holding the event loop", () => {
  let app: TestApp;
  let playground: Playground;
  afterEach(async () => {
    await playground?.close();
    await app?.close();
  });

  async function start(wrap: (core: Core) => Core = (c) => c) {
    app = await startTestApp({}, { handlers: ECHO_HANDLERS });
    playground = await startPlayground({ core: wrap(app.core), host: "127.0.0.1", port: 0, maxUploadBytes: 25 * MiB });
    const enrolled = (await enrolDouble({ bytes: FACE_JPG })) as EnrolResult;
    await app.app.store.templates.save({ platform: "playground", userId: "local" }, "me", enrolled.face.data as EnrolledTemplate);
  }

  /** The reaction bytes of the meme job the queue is handed next (read after the request). */
  function queuedReaction(): () => Uint8Array | undefined {
    let queued: Uint8Array | undefined;
    const queue = app.app.queue;
    const submit = queue.submit.bind(queue);
    queue.submit = ((job: Job, opts) => {
      if (job.kind === "meme") queued = job.reaction.bytes as Uint8Array;
      return submit(job, opts);
    }) as typeof queue.submit;
    return () => queued;
  }

  const form = (png: Uint8Array) => {
    const f = new FormData();
    f.set("image", new Blob([png], { type: "image/png" }), "big.png");
    f.set("top", "a caption");
    return f;
  };

  it("the page's answer: the reply's line, then the result's bytes as they are (no base64, no JSON around them)", async () => {
    await start();
    const png = await noisePng(1250, 1200);
    const res = await fetch(new URL("/api/meme", playground.url), { method: "POST", body: form(png), headers: { "X-Mimic": "1", accept: REPLY_STREAM } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(REPLY_STREAM);
    const body = new Uint8Array(await res.arrayBuffer());
    // JSON lines (progress, then the reply) up to the reply's line; after it, exactly the file.
    let at = 0;
    let reply: { ok: boolean; text: string; file?: { mime: string; size: number; width: number; height: number; name: string } } | undefined;
    const kinds: string[] = [];
    while (!reply) {
      const nl = body.indexOf(10, at);
      expect(nl).toBeGreaterThan(at);
      const line = JSON.parse(Buffer.from(body.subarray(at, nl)).toString("utf8")) as { type: string; reply?: typeof reply };
      kinds.push(line.type);
      at = nl + 1;
      if (line.type === "reply") reply = line.reply;
    }
    expect(kinds.at(-1)).toBe("reply");
    expect(kinds.slice(0, -1).every((k) => k === "progress")).toBe(true);
    expect(reply).toMatchObject({ ok: true, text: expect.stringMatching(/^Here you go/), file: { mime: "image/png", size: png.byteLength, width: 1250, height: 1200, name: "mimic-me.png" } });
    expect(body.byteLength - at).toBe(png.byteLength);
    expect(equalBytes(body.subarray(at), png)).toBe(true);

    // Answers without a file come in the same format: one line, nothing after it.
    const faces = await fetch(new URL("/api/faces", playground.url), { headers: { "X-Mimic": "1", accept: REPLY_STREAM } });
    expect(faces.headers.get("content-type")).toBe(REPLY_STREAM);
    const text = await faces.text();
    expect(text.endsWith("\n")).toBe(true);
    expect(JSON.parse(text)).toMatchObject({ type: "reply", reply: { ok: true, templates: [{ name: "me" }] } });
  });

  it("a JSON client's data URL is written a slice per event-loop turn, not as one 6 MB string in one turn", async () => {
    await start();
    const png = await noisePng(1250, 1200);
    // What the server writes for the meme's answer, by event-loop turn.
    const ticks = turnCounter();
    const perTurn = new Map<number, number>();
    playground.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      if (req.url !== "/api/meme") return;
      for (const method of ["write", "end"] as const) {
        const original = res[method].bind(res) as (chunk?: unknown, ...rest: unknown[]) => ServerResponse | boolean;
        (res as unknown as Record<string, unknown>)[method] = (chunk?: unknown, ...rest: unknown[]) => {
          const size = typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk instanceof Uint8Array ? chunk.byteLength : 0;
          perTurn.set(ticks.turns, (perTurn.get(ticks.turns) ?? 0) + size);
          return original(chunk, ...rest);
        };
      }
    });
    const res = await fetch(new URL("/api/meme", playground.url), { method: "POST", body: form(png), headers: { "X-Mimic": "1" } });
    const answer = (await res.json()) as { ok: boolean; file: { mime: string; dataUrl: string } };
    ticks.stop();
    expect(answer.ok).toBe(true);
    expect(answer.file.dataUrl.startsWith("data:image/png;base64,")).toBe(true);
    expect(equalBytes(new Uint8Array(Buffer.from(answer.file.dataUrl.slice(answer.file.dataUrl.indexOf(",") + 1), "base64")), png)).toBe(true);
    const written = [...perTurn.values()];
    const base64Bytes = 4 * Math.ceil(png.byteLength / 3);
    expect(written.reduce((a, b) => a + b, 0)).toBeGreaterThan(base64Bytes);
    // 6 MB of base64 in slices of 1 MiB: at least six turns, none writing much more than a slice.
    expect(written.length).toBeGreaterThanOrEqual(Math.floor(base64Bytes / MiB));
    expect(Math.max(...written)).toBeLessThanOrEqual(1.5 * MiB);
  });

  it("an upload is copied once: into one buffer as it arrives, which the queue's job then carries as it is", async () => {
    let handed: Uint8Array | undefined;
    await start((core) => ({
      ...core,
      meme: (ctx, input) => {
        if (input.image?.kind === "bytes") handed = input.image.bytes;
        return core.meme(ctx, input);
      },
    }));
    const queued = queuedReaction();

    const png = await noisePng(1000, 1000);
    // The form as a browser sends it, so its length (the request's Content-Length) is known here.
    const head = Buffer.from('--b\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n');
    const body = Buffer.concat([head, png, Buffer.from("\r\n--b--\r\n")]);
    const res = await fetch(new URL("/api/meme", playground.url), {
      method: "POST",
      body,
      headers: { "X-Mimic": "1", "content-type": "multipart/form-data; boundary=b", accept: REPLY_STREAM },
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(handed && equalBytes(handed, png)).toBe(true);
    // Allocated when the upload began, for the body's declared length, and filled chunk by chunk: not a join of
    // the chunks made at the end (whose buffer would be exactly the file), nor a copy of that join.
    expect(handed!.buffer.byteLength).toBe(body.byteLength);
    // The core did not copy it again: the job holds the very same buffer.
    expect(queued()!.buffer === handed!.buffer).toBe(true);
    expect(queued()!.byteOffset).toBe(handed!.byteOffset);
    expect(queued()!.byteLength).toBe(png.byteLength);
  });

  it("a downloaded picture (a bot's attachment) is copied as it arrives, at most about 1 MiB per event-loop turn", async () => {
    await start();
    const png = await noisePng(1500, 1400);
    // A chat platform's file server: the picture with its Content-Length, in 64 KiB writes.
    const cdn = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "image/png", "content-length": png.byteLength });
      void (async () => {
        for (let off = 0; off < png.byteLength; off += 64 << 10) if (!res.write(png.subarray(off, off + (64 << 10)))) await once(res, "drain");
        res.end();
      })();
    });
    await new Promise<void>((resolve) => cdn.listen(0, "127.0.0.1", resolve));
    const queued = queuedReaction();

    // Bytes copied into a buffer the size of the picture (the download's), by event-loop turn.
    const ticks = turnCounter();
    const perTurn = new Map<number, number>();
    const typedArray = Object.getPrototypeOf(Uint8Array.prototype) as { set: (this: Uint8Array, src: ArrayLike<number>, offset?: number) => void };
    const set = typedArray.set;
    typedArray.set = function (this: Uint8Array, src: ArrayLike<number>, offset?: number) {
      if (this.byteLength === png.byteLength) perTurn.set(ticks.turns, (perTurn.get(ticks.turns) ?? 0) + src.length);
      return set.call(this, src, offset);
    };
    const ctx: CommandContext = { platform: "playground", userId: "local", serverId: "playground", channelId: "playground", isAdmin: true, requestId: "download", attachmentLimitBytes: 25 * MiB };
    try {
      const url = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}/big.png`;
      const reply = await app.core.meme(ctx, { image: { kind: "url", url, declaredSize: png.byteLength, declaredMime: "image/png", name: "big.png" } });
      expect(reply.errorCode).toBeUndefined();
      expect(reply.file && equalBytes(reply.file.bytes, png)).toBe(true);
    } finally {
      typedArray.set = set;
      ticks.stop();
      cdn.close();
    }
    expect(equalBytes(queued()!, png)).toBe(true);
    const copied = [...perTurn.values()];
    expect(copied.reduce((a, b) => a + b, 0)).toBe(png.byteLength);
    // 6 MB: copied over several turns, never more than about 1 MiB (plus the chunk that crossed it) in one.
    expect(copied.length).toBeGreaterThanOrEqual(Math.floor(png.byteLength / MiB));
    expect(Math.max(...copied)).toBeLessThanOrEqual(1.5 * MiB);
  });
});
