import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import busboy from "busboy";
import type { CommandContext, Core, ProgressEvent, Reply, SettingKey } from "../../core/index.ts";
import { ByteGatherer, tooLarge } from "../../core/input.ts";
import { MAX_CAPTION_FIELD_BYTES, parseEnrolRequest } from "../../requests.ts";
import { MimicError, userMessageOf } from "../../errors.ts";
import { logger } from "../../logger.ts";
import { createInFlight } from "../in-flight.ts";
import { createRequestGuard, type RequestGuard } from "./guard.ts";
import { PLAYGROUND_PAGE } from "./page.ts";

/**
 * The local playground: a one-page web UI on 127.0.0.1 that drives the same command core as the bots,
 * so a newcomer can try Mimic without creating a bot. One local user who is also the "server" admin.
 */

export interface PlaygroundOptions {
  core: Core;
  host: string;
  port: number;
  /** MAX_INPUT_BYTES: uploads beyond it are refused without being buffered. */
  maxUploadBytes: number;
  /** PLAYGROUND_COOLDOWN_SECONDS: the one local user's cooldown (default none), applied at start. */
  cooldownSeconds?: number;
  /** Called for each request turned away because Mimic is stopping (the ops metrics count them). */
  onTurnedAway?: (reason: "shutting_down") => void;
}

export interface Playground {
  url: string;
  server: Server;
  /**
   * Takes no new work: from now on every request that arrives (on a new or a kept-alive connection) is
   * answered 503 "Mimic is shutting down" and its connection closed. Requests already in flight go on
   * (their jobs run, their replies are written); nothing is cut off. Idempotent.
   */
  stopAccepting(): void;
  /**
   * Stops accepting (as above), waits up to `graceMs` (default 0) for the requests in flight to be
   * answered, then closes every remaining connection (whose requests' jobs are cancelled, as when a page
   * hangs up) and the listening socket. Resolves once the server is closed; a second call joins the first.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

const LOCAL_USER = "local";

interface Upload {
  fields: Record<string, string>;
  file?: { bytes: Uint8Array; name: string; mime: string };
}

const CUT_OFF = "The upload was cut off, please try again.";
/** Form limits: the longest caption allowed fits a field (refused by name beyond), and no form has 20 fields. */
const MAX_FIELD_BYTES = MAX_CAPTION_FIELD_BYTES;
const MAX_FIELDS = 20;

/**
 * Multipart parsing by busboy; the file is buffered only up to the limit, then the request is refused.
 * Settles exactly once: a body that ends mid-file (busboy errors the file stream) or a client that hangs up
 * mid-upload (busboy never closes) becomes a friendly BAD_INPUT, and the buffered chunks are dropped.
 */
function readUpload(req: IncomingMessage, maxBytes: number, takesFile = true): Promise<Upload> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: maxBytes, files: takesFile ? 1 : 0, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES } });
    } catch (cause) {
      reject(new MimicError("BAD_INPUT", "Please send the form as multipart/form-data.", { cause }));
      return;
    }
    // No prototype: a field named "constructor" or "__proto__" is a field like any other.
    const upload: Upload = { fields: Object.create(null) as Record<string, string> };
    const declared = Number(req.headers["content-length"] ?? NaN);
    // The file is copied into one buffer as it arrives (ByteGatherer), sized from the body's declared length.
    const file = new ByteGatherer(declared, maxBytes);
    let failure: MimicError | undefined;
    let settled = false;
    const settle = (error?: MimicError) => {
      if (settled) return;
      settled = true;
      req.off("close", onRequestClose);
      if (error) {
        file.drop();
        upload.file = undefined;
        reject(error);
      } else resolve(upload);
    };
    const cutOff = (cause: unknown) => settle(new MimicError("BAD_INPUT", CUT_OFF, { cause }));
    // The client hung up before sending the whole body: busboy would wait for the rest forever.
    const onRequestClose = () => {
      if (req.complete) return;
      bb.destroy();
      cutOff(new Error("client closed the connection mid-upload"));
    };
    req.on("close", onRequestClose);
    // Nothing is cut or dropped silently: an over-long field, one field too many or a file where none
    // belongs refuses the whole form, by name.
    bb.on("field", (name, value, info) => {
      if (info.valueTruncated && !failure) {
        failure = new MimicError("BAD_INPUT", `The field “${name.slice(0, 40)}” is too long: the limit is ${MAX_FIELD_BYTES} bytes.`, {
          details: { field: name },
        });
      }
      if (Object.hasOwn(upload.fields, name) && !failure) failure = new MimicError("BAD_INPUT", `The field “${name.slice(0, 40)}” was sent twice.`);
      upload.fields[name] = value;
    });
    bb.on("fieldsLimit", () => {
      failure ??= new MimicError("BAD_INPUT", `Too many form fields: the limit is ${MAX_FIELDS}.`);
    });
    bb.on("filesLimit", () => {
      failure ??= new MimicError("BAD_INPUT", takesFile ? "Send one picture per request." : "This request takes no file.");
    });
    bb.on("file", (_field, stream, info) => {
      let size = 0;
      stream.on("data", (c: Buffer) => {
        size += c.length;
        if (!failure && !settled) file.push(c);
      });
      stream.on("limit", () => {
        failure = tooLarge(Number.isFinite(declared) ? declared : size + 1, maxBytes);
        file.drop();
        stream.resume();
      });
      // busboy destroys the file stream with "Unexpected end of form" when the body stops mid-file.
      stream.on("error", cutOff);
      stream.on("end", () => {
        // A form whose file input is left blank sends an unnamed, empty part: no file. A named empty file is a
        // file, and the core says it is empty.
        const chosen = size > 0 || (info.filename ?? "") !== "";
        if (chosen && !failure && !settled) upload.file = { bytes: file.bytes(), name: info.filename || "upload", mime: info.mimeType };
      });
    });
    bb.on("error", cutOff);
    bb.on("close", () => settle(failure));
    req.pipe(bb);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}

/**
 * The page's own answer format: JSON lines (queue progress, then the reply), and after the reply's line, when it
 * has a file, exactly `file.size` bytes of that file as they are: a big result as base64 inside JSON held the
 * event loop while it was encoded and stringified (bench/README.md, "Playground, big photos").
 */
export const REPLY_STREAM = "application/x-mimic-stream";

const wantsStream = (req: IncomingMessage) => (req.headers.accept ?? "").includes(REPLY_STREAM);

/** A reply as the page's stream tells it: the file described, its bytes sent after the line. */
function replyHead(reply: Reply) {
  return {
    ok: !reply.errorCode,
    text: reply.text,
    errorCode: reply.errorCode,
    templates: reply.templates,
    file: reply.file && { name: reply.file.name, mime: reply.file.mime, width: reply.file.width, height: reply.file.height, size: reply.file.bytes.byteLength },
  };
}

/** A reply without its file's bytes, as JSON gives it (the file, if any, is added by writeWithDataUrl). */
function replyBody(reply: Reply) {
  const head = replyHead(reply);
  return { ...head, file: head.file && { name: head.file.name, mime: head.file.mime, width: head.file.width, height: head.file.height } };
}

const live = (res: ServerResponse) => !res.destroyed && !res.writableEnded;

/** Resolves once the socket takes more (or is gone). */
const drained = (res: ServerResponse) =>
  new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });

/** Bytes encoded per turn: 768 KiB become 1 MiB of base64, a few milliseconds of work. */
const BASE64_SLICE = 3 * 256 * 1024;

/**
 * `json` (the JSON text of an object whose last key is the reply, whose last key is `file`) with the file's
 * data URL added to it, written in slices, one per event-loop turn, waiting for the socket to take each: for
 * clients that ask for JSON (the page asks for REPLY_STREAM). `closers` is how many "}" end `json`.
 */
async function writeWithDataUrl(res: ServerResponse, json: string, closers: number, file: NonNullable<Reply["file"]>, trailer = "", status?: number): Promise<void> {
  const cut = json.length - closers;
  const before = `${json.slice(0, cut)},"dataUrl":${JSON.stringify(`data:${file.mime};base64,`).slice(0, -1)}`;
  const after = `"${json.slice(cut)}${trailer}`;
  const bytes = Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength);
  if (status !== undefined) {
    const length = Buffer.byteLength(before) + 4 * Math.ceil(bytes.byteLength / 3) + Buffer.byteLength(after);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "content-length": length });
  }
  res.write(before);
  for (let off = 0; off < bytes.byteLength; off += BASE64_SLICE) {
    if (!live(res)) return;
    if (!res.write(bytes.subarray(off, off + BASE64_SLICE).toString("base64"))) await drained(res);
    // A whole turn of the event loop (timers, other requests) before the next slice, even where the socket
    // drained at once.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (live(res)) res.write(after);
}

/** The reply's line of the page's stream, then its file's bytes as they are (not copied). */
function writeReplyFrame(res: ServerResponse, reply: Reply): void {
  res.write(`${JSON.stringify({ type: "reply", reply: replyHead(reply) })}\n`);
  if (reply.file && reply.file.bytes.byteLength > 0) res.write(Buffer.from(reply.file.bytes.buffer, reply.file.bytes.byteOffset, reply.file.bytes.byteLength));
}

/** Core replies as the page's stream (REPLY_STREAM) or, for other clients, as JSON with the result image as a data URL. */
async function replyJson(req: IncomingMessage, res: ServerResponse, reply: Reply): Promise<void> {
  const status = reply.errorCode ? 422 : 200;
  if (wantsStream(req)) {
    res.writeHead(status, { "content-type": REPLY_STREAM, "cache-control": "no-store" });
    writeReplyFrame(res, reply);
  } else if (reply.file) {
    await writeWithDataUrl(res, JSON.stringify(replyBody(reply)), 2, reply.file, "", status);
  } else return sendJson(res, status, replyBody(reply));
  if (live(res)) res.end();
}

/**
 * A long job answered as a stream when the client asks for one: one line per queue progress event (position,
 * ETA, started), then the reply; in the page's format (REPLY_STREAM) the file's bytes follow, in NDJSON
 * (Accept: application/x-ndjson) the reply's line has the file as a data URL. Otherwise one JSON reply at the end.
 */
async function replyWithProgress(req: IncomingMessage, res: ServerResponse, work: (progress?: (e: ProgressEvent) => void) => Promise<Reply>): Promise<void> {
  const stream = wantsStream(req);
  if (!stream && !(req.headers.accept ?? "").includes("application/x-ndjson")) return replyJson(req, res, await work());
  res.writeHead(200, { "content-type": stream ? REPLY_STREAM : "application/x-ndjson; charset=utf-8", "cache-control": "no-store" });
  const line = (v: unknown) => {
    if (live(res)) res.write(`${JSON.stringify(v)}\n`);
  };
  const reply = await work((e) => line({ type: "progress", event: e }));
  if (!live(res)) return;
  if (stream) writeReplyFrame(res, reply);
  else if (reply.file) await writeWithDataUrl(res, JSON.stringify({ type: "reply", reply: replyBody(reply) }), 3, reply.file, "\n");
  else line({ type: "reply", reply: replyBody(reply) });
  if (live(res)) res.end();
}

const optionalText = (s: string | undefined) => (s === undefined || s.trim() === "" ? undefined : s);

/**
 * Why a setting is refused here: switching Mimic off, or keeping it to channels, shuts out the one local user,
 * who is its admin but has no control on the page to undo it. Stopping the playground is the way to switch it off.
 */
function lockOutRefusal(key: string, value: string): string | undefined {
  if (key === "enabled" && /^(off|false|no|0|disable|disabled)$/i.test(value.trim())) {
    return "The playground cannot be switched off: you are its only user. To stop it, press Ctrl+C where it runs.";
  }
  if (key === "channel" && value.trim() !== "all") return "The playground has no channels: Mimic answers on this page only.";
  return undefined;
}

/** The answer to a request that arrives once the playground has stopped taking work. */
const SHUTTING_DOWN = { ok: false, text: "Mimic is shutting down. Please try again in a minute.", errorCode: "BUSY" } as const;
const STARTING = { ok: false, text: "Mimic is starting. Please try again in a moment.", errorCode: "BUSY" } as const;

export async function startPlayground(opts: PlaygroundOptions): Promise<Playground> {
  const { core } = opts;
  const ctx = (): CommandContext => ({
    platform: "playground",
    userId: LOCAL_USER,
    serverId: "playground",
    channelId: "playground",
    isAdmin: true,
    requestId: `pg-${randomUUID().slice(0, 8)}`,
    // No platform limit here: a result may be as large as an accepted upload.
    attachmentLimitBytes: opts.maxUploadBytes,
  });

  async function withImage(req: IncomingMessage): Promise<Upload & { image?: { kind: "bytes"; bytes: Uint8Array; mime: string; name: string } }> {
    const up = await readUpload(req, opts.maxUploadBytes);
    return { ...up, image: up.file && { kind: "bytes", ...up.file } };
  }

  const noImage: Reply = { text: "Choose a picture first.", ephemeral: true, errorCode: "BAD_INPUT" };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = URL.canParse(req.url ?? "/", "http://localhost") ? new URL(req.url ?? "/", "http://localhost") : null;
    if (!url) return sendJson(res, 400, replyBody({ text: "That address is not one the playground knows.", ephemeral: true, errorCode: "BAD_INPUT" }));
    // HEAD is GET without the body (node's response drops it).
    const key = `${req.method === "HEAD" ? "GET" : req.method} ${url.pathname}`;
    switch (key) {
      case "GET /":
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
        res.end(PLAYGROUND_PAGE);
        return;
      case "GET /api/faces":
        return replyJson(req, res, await core.faceList(ctx()));
      case "GET /api/faces/thumbnail": {
        const reply = await core.faceThumbnail(ctx(), { name: url.searchParams.get("name") ?? "" });
        if (!reply.file) return replyJson(req, res, reply);
        res.writeHead(200, { "content-type": reply.file.mime, "cache-control": "no-store" });
        res.end(reply.file.bytes);
        return;
      }
      case "POST /api/faces": {
        const up = await withImage(req);
        if (!up.image) return replyJson(req, res, noImage);
        return replyJson(req, res, await core.faceSave(ctx(), { ...parseEnrolRequest(up.fields), image: up.image }));
      }
      case "POST /api/faces/default":
      case "POST /api/faces/delete":
      case "POST /api/faces/rename": {
        const { fields } = await readUpload(req, 0, false);
        const name = fields.name ?? "";
        if (url.pathname.endsWith("default")) return replyJson(req, res, await core.faceDefault(ctx(), { name }));
        if (url.pathname.endsWith("delete")) return replyJson(req, res, await core.faceRemove(ctx(), { name }));
        return replyJson(req, res, await core.faceRename(ctx(), { from: name, to: fields.to ?? "" }));
      }
      case "POST /api/meme":
      case "POST /api/morph": {
        const up = await withImage(req);
        if (!up.image) return replyJson(req, res, noImage);
        // Every form field goes to the core's request parser, which refuses unknown ones by name.
        const input = { ...up.fields, image: up.image };
        // A page that hangs up (closed, reloaded) cancels its job: it leaves the queue and its use is given back.
        const hungUp = new AbortController();
        res.on("close", () => {
          if (!res.writableFinished) hungUp.abort();
        });
        const run = { ...ctx(), signal: hungUp.signal };
        if (url.pathname === "/api/morph") return replyWithProgress(req, res, (progress) => core.morph({ ...run, progress }, input));
        return replyWithProgress(req, res, (progress) => core.meme({ ...run, progress }, input));
      }
      case "GET /api/usage":
        return replyJson(req, res, await core.usage(ctx()));
      case "POST /api/config": {
        const { fields } = await readUpload(req, 0, false);
        const key = optionalText(fields.key);
        const lockOut = key === undefined ? undefined : lockOutRefusal(key, fields.value ?? "");
        if (lockOut) return replyJson(req, res, { text: lockOut, ephemeral: true, errorCode: "BAD_INPUT" });
        return replyJson(req, res, await core.config(ctx(), { key: key as SettingKey | undefined, value: fields.value }));
      }
      case "POST /api/forget":
        return replyJson(req, res, await core.forgetMe(ctx(), { confirm: true }));
      default:
        sendJson(res, 404, { ok: false, text: "Not found." });
    }
  }

  /** Requests taken before stopAccepting() and not yet answered (their response neither finished nor closed). */
  const inFlight = createInFlight(() => undefined);
  let accepting = true;

  function handle(guard: RequestGuard, req: IncomingMessage, res: ServerResponse): void {
    if (!accepting) {
      // Shutting down: a clear answer (never a hang), and the connection is not kept. The body is read
      // first: closing a socket with unread bytes resets it, and the client could lose the answer.
      // A request for work (the API's POSTs, not the page or a face's thumbnail) is counted as turned away.
      if (req.method === "POST") opts.onTurnedAway?.("shutting_down");
      req.once("end", () => {
        res.setHeader("connection", "close");
        res.setHeader("retry-after", "60");
        sendJson(res, 503, SHUTTING_DOWN);
      });
      req.resume();
      return;
    }
    inFlight.track(
      new Promise<void>((answered) => {
        res.once("finish", answered);
        res.once("close", answered);
      }),
    );
    const refusal = guard(req);
    if (refusal) {
      sendJson(res, refusal.status, { ok: false, text: refusal.text, errorCode: "FORBIDDEN" });
      req.resume();
      return;
    }
    route(req, res).catch((e: unknown) => {
      if (!(e instanceof MimicError)) logger.error({ err: e }, "playground request failed");
      if (req.socket.destroyed) logger.debug({ err: e }, "playground client went away mid-request");
      const status = e instanceof MimicError && e.code === "BAD_INPUT" ? 400 : 422;
      if (!res.headersSent) sendJson(res, status, { ok: false, text: userMessageOf(e), errorCode: e instanceof MimicError ? e.code : "INTERNAL" });
      else res.end();
      // A refused upload: stop reading the rest of it.
      req.unpipe();
      req.resume();
    });
  }

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        e.code === "EADDRINUSE"
          ? new MimicError("CONFIG", `Port ${opts.port} on ${opts.host} is in use: set PLAYGROUND_PORT to a free port.`, { cause: e })
          : e.code === "ENOTFOUND" || e.code === "EADDRNOTAVAIL" || e.code === "EAI_AGAIN"
            ? new MimicError("CONFIG", `The playground cannot listen on ${opts.host} (${e.code}): set PLAYGROUND_HOST to an address of this machine, e.g. 127.0.0.1.`, { cause: e })
            : e,
      ),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  // The guard needs the bound port (PLAYGROUND_PORT may be 0). The handler is attached at once: a request
  // arriving while the rules below are written (they wait for the store, which another process may hold)
  // is answered "starting" instead of being left unanswered.
  const guard = createRequestGuard(addr.address, addr.port);
  let ready = false;
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (ready) return handle(guard, req, res);
    const refusal = guard(req);
    // Read the body first: closing a socket with unread bytes resets it, and the client could lose the answer.
    req.once("end", () => {
      if (refusal) return sendJson(res, refusal.status, { ok: false, text: refusal.text, errorCode: "FORBIDDEN" });
      res.setHeader("retry-after", "2");
      sendJson(res, 503, STARTING);
    });
    req.resume();
  });
  // The local user is the only user: no daily quota (theirs or the "server's"), and no cooldown unless
  // configured (a fresh store's defaults, meant to share a server between many, would apply). Switched on in
  // every channel: a store switched off before the page refused it (lockOutRefusal) comes back usable.
  const ownRules = [["quota", "0"], ["server_quota", "0"], ["cooldown", String(opts.cooldownSeconds ?? 0)], ["enabled", "on"], ["channel", "all"]] as const;
  for (const [key, value] of ownRules) {
    const set = await core.config(ctx(), { key, value });
    if (set.errorCode) logger.warn({ key, reply: set.text }, "could not set the playground's own rules");
  }
  if (!/^(127\.|::1$|::ffff:127\.)/.test(addr.address)) {
    // The playground has no login and its one user is an admin: fine on this computer, not on a network.
    logger.warn({ host: addr.address }, "the playground is reachable from other machines (PLAYGROUND_HOST); anyone there can use it");
  }
  ready = true;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const stopAccepting = () => {
    accepting = false;
  };
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${addr.port}/`,
    server,
    stopAccepting,
    close: ({ graceMs = 0 } = {}) =>
      (closing ??= (async () => {
        stopAccepting();
        if (graceMs > 0 && !(await inFlight.settled(graceMs))) {
          logger.warn({ requests: inFlight.size }, "playground requests still unanswered at shutdown: closing their connections");
        }
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Only idle connections and unanswered requests are left (each answered one has finished writing).
          server.closeAllConnections();
        });
      })()),
  };
}
