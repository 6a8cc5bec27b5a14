import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { getEventListeners } from "node:events";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
import { afterEach, describe, expect, it } from "vitest";
import { frameCount, LOTTIE_FACE_REFUSAL, loadImage, sniffImageMime, tooLarge } from "../../src/core/input.ts";
import { MimicError } from "../../src/errors.ts";
import { FACE_JPG, NOT_AN_IMAGE, flatPng, reactionGif } from "./images.ts";

/** The first box of an MP4 file ("ftyp", brand isom): what the sniffer reads. */
const MP4_HEADER = new Uint8Array([0, 0, 0, 0x20, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0, 0, 2, 0]);
/** The first box of an iPhone photo (brand heic, compatible mif1) and of an AVIF (mif1, compatible avif), then filler. */
const ftyp = (major: string, compatible: string) => new Uint8Array([0, 0, 0, 0x18, ...new TextEncoder().encode(`ftyp${major}`), 0, 0, 0, 0, ...new TextEncoder().encode(compatible), ...new Uint8Array(500)]);
const HEIC_BYTES = ftyp("heic", "mif1heic");
const AVIF_BYTES = ftyp("mif1", "avifmiaf");
const IPHONE_HINT = "(it is an iPhone HEIC photo, which Mimic cannot read: send a JPEG of it (a chat app's photo button usually converts it))";
const CLIP_AS_FACE = "A face must be a still picture, and that file is a clip (chat apps send GIFs as clips too). Please send a still photo of your face.";

/**
 * src/core/input.ts's rules one by one (sniffing, size limits at each stage, download failures, refused
 * types, frame counts), against a real HTTP server on localhost.
 */

const MIB = 1024 * 1024;
const KIB = 1024;

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function refusal(p: Promise<unknown>): Promise<MimicError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MimicError);
    return e as MimicError;
  }
  throw new Error("expected a refusal");
}

const bytesOf = (...b: number[]) => new Uint8Array(b);
const riff = (kind: string, len = 12) => {
  const b = new Uint8Array(len);
  b.set(new TextEncoder().encode("RIFF"), 0);
  b.set(new TextEncoder().encode(kind), 8);
  return b;
};

describe("sniffImageMime", () => {
  it("needs every signature byte and the format's least length", () => {
    const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
    expect(sniffImageMime(bytesOf(...png))).toBe("image/png");
    expect(sniffImageMime(bytesOf(...png.slice(0, 7)))).toBeUndefined();
    for (let i = 0; i < 4; i++) {
      const bad = [...png];
      bad[i] ^= 0xff;
      expect(sniffImageMime(bytesOf(...bad)), `png byte ${i}`).toBeUndefined();
    }
    expect(sniffImageMime(bytesOf(0xff, 0xd8, 0xff))).toBe("image/jpeg");
    expect(sniffImageMime(bytesOf(0xff, 0xd8))).toBeUndefined();
    for (let i = 0; i < 3; i++) {
      const bad = [0xff, 0xd8, 0xff, 0xe0];
      bad[i] ^= 0x01;
      expect(sniffImageMime(bytesOf(...bad)), `jpeg byte ${i}`).toBeUndefined();
    }
    const gif = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61];
    expect(sniffImageMime(bytesOf(...gif))).toBe("image/gif");
    expect(sniffImageMime(bytesOf(...gif.slice(0, 5)))).toBeUndefined();
    for (let i = 0; i < 4; i++) {
      const bad = [...gif];
      bad[i] ^= 0x01;
      expect(sniffImageMime(bytesOf(...bad)), `gif byte ${i}`).toBeUndefined();
    }
    expect(sniffImageMime(riff("WEBP"))).toBe("image/webp");
    expect(sniffImageMime(riff("WEBP").subarray(0, 11))).toBeUndefined();
    expect(sniffImageMime(riff("AVI "))).toBeUndefined();
    const notRiff = riff("WEBP");
    notRiff[3] = 0x58;
    expect(sniffImageMime(notRiff)).toBeUndefined();
    expect(sniffImageMime(new Uint8Array(0))).toBeUndefined();
  });
});

describe("tooLarge", () => {
  it("names the size and the limit in KiB below a MiB, in MiB with one decimal above", () => {
    const small = tooLarge(1500, 1023 * KIB);
    expect(small.code).toBe("IMAGE_TOO_LARGE");
    expect(small.userMessage).toBe("That file is too large (2 KiB): the limit is 1023 KiB. Please send a smaller picture.");
    expect(small.details).toEqual({ bytes: 1500, limit: 1023 * KIB });
    expect(tooLarge(MIB, 2.25 * MIB).userMessage).toBe("That file is too large (1.0 MiB): the limit is 2.3 MiB. Please send a smaller picture.");
  });

  it("a size that would print as the limit itself (just over it, or read off a stream cut there) is not printed", () => {
    expect(tooLarge(25 * MIB + 100, 25 * MIB).userMessage).toBe("That file is larger than the limit of 25.0 MiB. Please send a smaller picture.");
  });
});

describe("loadImage from bytes", () => {
  it("takes exactly the limit, refuses one byte more, and hands the bytes on without copying them", async () => {
    const face = new Uint8Array(FACE_JPG);
    const img = await loadImage({ kind: "bytes", bytes: face }, { limitBytes: face.byteLength });
    expect(img.mime).toBe("image/jpeg");
    expect(img.bytes).toEqual(face);
    // A big upload is held once (the playground's and bots' readers fill one buffer; see playground-stall.test.ts).
    expect(img.bytes.buffer).toBe(face.buffer);
    const e = await refusal(loadImage({ kind: "bytes", bytes: face }, { limitBytes: face.byteLength - 1 }));
    expect(e.code).toBe("IMAGE_TOO_LARGE");
    expect(e.details).toEqual({ bytes: face.byteLength, limit: face.byteLength - 1 });
  });

  it("refuses empty files and non-images, saying what they look like when the type is known", async () => {
    const empty = await refusal(loadImage({ kind: "bytes", bytes: new Uint8Array(0) }, { limitBytes: MIB }));
    expect(empty).toMatchObject({ code: "BAD_INPUT", userMessage: "That file is empty (0 bytes). Please send the picture again." });
    const hintOf = async (mime?: string) => (await refusal(loadImage({ kind: "bytes", bytes: NOT_AN_IMAGE, mime }, { limitBytes: MIB }))).userMessage;
    const plain = "That file is not a picture I can use. Please send a JPEG, PNG, WebP or GIF image.";
    expect(await hintOf()).toBe(plain);
    expect(await hintOf("application/octet-stream")).toBe(plain);
    // A type we read, whose bytes are not that type, says nothing about what the file is.
    expect(await hintOf("image/jpeg")).toBe(plain);
    expect(await hintOf("application/pdf")).toBe("That file is not a picture I can use (it looks like application/pdf). Please send a JPEG, PNG, WebP or GIF image.");
    expect(await hintOf("application/x-tgsticker")).toBe(LOTTIE_FACE_REFUSAL);
    // A clip as a face: Telegram sends GIFs as clips, so a photo is asked for, never "a GIF".
    expect(await hintOf("video/mp4")).toBe(CLIP_AS_FACE);
    expect(await hintOf("image/heic")).toBe(`That file is not a picture I can use ${IPHONE_HINT}. Please send a JPEG, PNG, WebP or GIF image.`);
  });

  it("gives a reaction's refusal the same hint as a face photo's: a PDF, an iPhone photo (by its type or its bytes); an AVIF is taken", async () => {
    const refusalOf = async (bytes: Uint8Array, mime: string | undefined, allowVideo: boolean) =>
      (await refusal(loadImage({ kind: "bytes", bytes, mime }, { limitBytes: MIB, allowVideo }))).userMessage;
    for (const allowVideo of [false, true]) {
      const accepted = allowVideo ? "a JPEG, PNG, WebP or GIF image, or an MP4 or WebM clip" : "a JPEG, PNG, WebP or GIF image";
      expect(await refusalOf(NOT_AN_IMAGE, "application/pdf", allowVideo)).toBe(`That file is not a picture I can use (it looks like application/pdf). Please send ${accepted}.`);
      // An iPhone photo sent as a file: by its declared type, or by its bytes where the type says nothing.
      expect(await refusalOf(NOT_AN_IMAGE, "image/heif", allowVideo)).toBe(`That file is not a picture I can use ${IPHONE_HINT}. Please send ${accepted}.`);
      expect(await refusalOf(HEIC_BYTES, "application/octet-stream", allowVideo)).toBe(`That file is not a picture I can use ${IPHONE_HINT}. Please send ${accepted}.`);
      // An AVIF is read (its decoder is the worker's): taken by its bytes, whatever was declared.
      for (const declared of ["image/avif", undefined, "application/octet-stream"]) {
        expect(await loadImage({ kind: "bytes", bytes: AVIF_BYTES, mime: declared }, { limitBytes: MIB, allowVideo })).toMatchObject({ mime: "image/avif" });
      }
    }
    // A clip's bytes where a face is wanted, whatever the type said (a phone's MP4 sent as a file).
    expect(await refusalOf(MP4_HEADER, "application/octet-stream", false)).toBe(CLIP_AS_FACE);
    // A reaction may be a clip, but not one of a kind ffmpeg is not asked to read.
    expect(await refusalOf(NOT_AN_IMAGE, "video/x-msvideo", true)).toContain("(it looks like video/x-msvideo, a kind of clip I cannot read)");
    const e = await refusal(loadImage({ kind: "bytes", bytes: NOT_AN_IMAGE }, { limitBytes: MIB }));
    expect(e.code).toBe("NOT_AN_IMAGE");
  });
});



describe("loadImage from a link", () => {
  it("sends the platform's headers, takes a body of exactly the limit, declared or streamed", async () => {
    const seen: (string | undefined)[] = [];
    const base = await serve((req, res) => {
      seen.push(req.headers["x-token"] as string | undefined);
      if (req.url === "/declared") res.writeHead(200, { "content-length": String(FACE_JPG.byteLength) }).end(Buffer.from(FACE_JPG));
      else {
        // Chunked, no Content-Length: counted while streaming.
        res.writeHead(200);
        res.write(Buffer.from(FACE_JPG.subarray(0, 1000)));
        setTimeout(() => res.end(Buffer.from(FACE_JPG.subarray(1000))), 10);
      }
    });
    const limit = { limitBytes: FACE_JPG.byteLength };
    const a = await loadImage({ kind: "url", url: `${base}/declared`, headers: { "x-token": "t1" }, declaredSize: FACE_JPG.byteLength }, limit);
    expect(a.bytes).toEqual(FACE_JPG);
    const b = await loadImage({ kind: "url", url: `${base}/stream`, declaredMime: "image/jpeg" }, limit);
    expect(b).toEqual({ bytes: FACE_JPG, mime: "image/jpeg" });
    expect(seen).toEqual(["t1", undefined]);
    const over = await refusal(loadImage({ kind: "url", url: `${base}/stream` }, { limitBytes: FACE_JPG.byteLength - 1 }));
    expect(over.details).toMatchObject({ limit: FACE_JPG.byteLength - 1 });
    expect((over.details as { bytes: number }).bytes).toBeGreaterThan(FACE_JPG.byteLength - 1);
    const declared = await refusal(loadImage({ kind: "url", url: `${base}/declared` }, { limitBytes: FACE_JPG.byteLength - 1 }));
    expect(declared.details).toEqual({ bytes: FACE_JPG.byteLength, limit: FACE_JPG.byteLength - 1 });
  });

  it("refuses videos and stickers by their declared type before downloading, and empty bodies after", async () => {
    let requests = 0;
    const base = await serve((_req, res) => {
      requests++;
      res.end();
    });
    for (const declaredMime of ["video/mp4", "application/x-tgsticker"]) {
      const e = await refusal(loadImage({ kind: "url", url: `${base}/x`, declaredMime }, { limitBytes: MIB }));
      expect(e.code).toBe("NOT_AN_IMAGE");
    }
    expect(requests).toBe(0);
    // A reaction may be an MP4 or WebM (Telegram's and Discord's GIFs): fetched and sniffed; other videos are not.
    const mp4 = await serve((_req, res) => res.end(Buffer.from(MP4_HEADER)));
    expect(await loadImage({ kind: "url", url: `${mp4}/x`, declaredMime: "video/mp4" }, { limitBytes: MIB, allowVideo: true })).toEqual({ bytes: MP4_HEADER, mime: "video/mp4" });
    // Whatever video type is declared (a phone's QuickTime, parameters, capitals), the bytes decide.
    for (const declaredMime of ["video/quicktime", "video/MP4; charset=binary", "video/x-matroska"]) {
      expect((await loadImage({ kind: "url", url: `${mp4}/x`, declaredMime }, { limitBytes: MIB, allowVideo: true })).mime, declaredMime).toBe("video/mp4");
    }
    const notVideo = await refusal(loadImage({ kind: "bytes", bytes: NOT_AN_IMAGE, mime: "video/mp4" }, { limitBytes: MIB, allowVideo: true }));
    expect(notVideo.userMessage).toBe("That file is not a picture I can use. Please send a JPEG, PNG, WebP or GIF image, or an MP4 or WebM clip.");
    // Declared as a picture, sniffed as a video: still no video where a picture is wanted.
    expect((await refusal(loadImage({ kind: "url", url: `${mp4}/x`, declaredMime: "image/jpeg" }, { limitBytes: MIB }))).code).toBe("NOT_AN_IMAGE");
    const empty = await refusal(loadImage({ kind: "url", url: `${base}/x`, declaredMime: "image/png" }, { limitBytes: MIB }));
    expect(empty.userMessage).toBe("That file is empty (0 bytes). Please send the picture again.");
    expect(requests).toBe(1);
  });

  it("a download that fails, is refused or is cut off is a BAD_INPUT asking to send it again, the bot token hidden", async () => {
    const base = await serve((_req, res) => res.writeHead(404).end("gone"));
    const dead = await refusal(loadImage({ kind: "url", url: `${base}/file/bot123:SECRET/photo.jpg` }, { limitBytes: MIB }));
    expect(dead.code).toBe("BAD_INPUT");
    expect(dead.userMessage).toBe("I could not download that picture (it may have been deleted). Please send it again.");
    expect(dead.message).toContain("HTTP 404");
    expect(dead.message).toContain("bot***/photo.jpg");
    expect(dead.message).not.toContain("SECRET");

    // Nothing listens there (the port was just closed).
    const closed = await serve((_q, r) => r.end());
    const last = servers.pop()!;
    await new Promise<void>((r) => last.close(() => r()));
    const unreachable = await refusal(loadImage({ kind: "url", url: `${closed}/x` }, { limitBytes: MIB }));
    expect(unreachable).toMatchObject({ code: "BAD_INPUT", userMessage: "I could not download that picture. Please send it again." });
    const noUrl = await refusal(loadImage({ kind: "url", url: async () => Promise.reject(new Error("file id expired")) }, { limitBytes: MIB }));
    expect(noUrl.userMessage).toBe("I could not download that picture. Please send it again.");
    expect((noUrl as { cause?: Error }).cause?.message).toBe("file id expired");

    // A body that never ends: the deadline, then the caller's own signal, stop it.
    const hangUrl = `${await serve((_q, res) => res.writeHead(200).write("partial"))}/hang`;
    const slow = await refusal(loadImage({ kind: "url", url: hangUrl }, { limitBytes: MIB, timeoutMs: 100 }));
    expect(slow.userMessage).toBe("I could not download that picture. Please send it again.");
    expect((slow as { cause?: unknown }).cause).toBeDefined();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const stopped = await refusal(loadImage({ kind: "url", url: hangUrl }, { limitBytes: MIB, signal: ac.signal }));
    expect(stopped.code).toBe("BAD_INPUT");

    // A declared Content-Length over the limit is refused before reading: this body never comes.
    const liar = `${await serve((_q, res) => res.writeHead(200, { "content-length": String(5 * MIB) }).write("GIF89a"))}/big`;
    const declared = await refusal(loadImage({ kind: "url", url: liar }, { limitBytes: MIB, timeoutMs: 5_000 }));
    expect(declared.details).toEqual({ bytes: 5 * MIB, limit: MIB });
  });

  it("a bodiless answer: empty when OK, a dead link otherwise; the type hint of a link is its declared type", async () => {
    const reply = (status: number, body: Uint8Array | null) => ({ limitBytes: MIB, fetch: async () => new Response(body, { status }) });
    const empty = await refusal(loadImage({ kind: "url", url: "https://cdn.example/a" }, reply(200, null)));
    expect(empty.userMessage).toBe("That file is empty (0 bytes). Please send the picture again.");
    const gone = await refusal(loadImage({ kind: "url", url: "https://cdn.example/a" }, reply(500, null)));
    expect(gone.userMessage).toBe("I could not download that picture (it may have been deleted). Please send it again.");
    const pdf = await refusal(loadImage({ kind: "url", url: "https://cdn.example/a", declaredMime: "application/pdf" }, reply(200, new Uint8Array(NOT_AN_IMAGE))));
    expect(pdf.userMessage).toContain("(it looks like application/pdf)");
  });

  it("leaves nothing behind on the caller's signal once the download is over", async () => {
    const ac = new AbortController();
    const ok = await loadImage({ kind: "url", url: "https://cdn.example/a" }, { limitBytes: MIB, signal: ac.signal, fetch: async () => new Response(new Uint8Array(FACE_JPG)) });
    expect(ok.mime).toBe("image/jpeg");
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
    await refusal(loadImage({ kind: "url", url: "https://cdn.example/a" }, { limitBytes: MIB, signal: ac.signal, fetch: async () => new Response(null, { status: 404 }) }));
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });

  it("uses the fetch it is given", async () => {
    const urls: string[] = [];
    const img = await loadImage(
      { kind: "url", url: "https://cdn.example/face.jpg" },
      {
        limitBytes: MIB,
        fetch: async (url) => {
          urls.push(url);
          return new Response(new Uint8Array(FACE_JPG));
        },
      },
    );
    expect(img.mime).toBe("image/jpeg");
    expect(urls).toEqual(["https://cdn.example/face.jpg"]);
  });
});

describe("frameCount", () => {
  it("counts GIF and WebP frames, is 1 for stills, and refuses a damaged animation", async () => {
    expect(await frameCount({ bytes: await reactionGif(undefined, 3, 32), mime: "image/gif" })).toBe(3);
    expect(await frameCount({ bytes: await reactionGif(undefined, 1, 32), mime: "image/gif" })).toBe(1);
    const webp = new Uint8Array(await sharp(await reactionGif(undefined, 2, 32), { animated: true }).webp().toBuffer());
    expect(await frameCount({ bytes: webp, mime: "image/webp" })).toBe(2);
    expect(await frameCount({ bytes: await flatPng(16), mime: "image/png" })).toBe(1);
    // Not read at all for other types: these bytes would not decode.
    expect(await frameCount({ bytes: NOT_AN_IMAGE, mime: "image/jpeg" })).toBe(1);
    const broken = await refusal(frameCount({ bytes: NOT_AN_IMAGE, mime: "image/gif" }));
    expect(broken).toMatchObject({ code: "NOT_AN_IMAGE", userMessage: "That file looks damaged or incomplete (maybe the upload was cut off). Please send it again." });
    expect((broken as { cause?: unknown }).cause).toBeDefined();
    const brokenWebp = await refusal(frameCount({ bytes: NOT_AN_IMAGE, mime: "image/webp" }));
    expect(brokenWebp.code).toBe("NOT_AN_IMAGE");
    // Cut off mid-frame: sharp counts its frames as if it were whole, so it is refused before it is queued.
    const gif = await reactionGif(undefined, 4, 64);
    const cut = await refusal(frameCount({ bytes: gif.slice(0, Math.floor(gif.length / 2)), mime: "image/gif" }));
    expect(cut).toMatchObject({ code: "NOT_AN_IMAGE", userMessage: "That file looks damaged or incomplete (maybe the upload was cut off). Please send it again." });
    // Missing only its trailer byte: whole.
    expect(await frameCount({ bytes: gif.slice(0, -1), mime: "image/gif" })).toBe(4);
  });
});
