import { Server, request, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startPlayground, type Playground } from "../../src/bots/playground/server.ts";
import { logger } from "../../src/logger.ts";
import { DOUBLE_HANDLERS, startTestApp, type TestApp } from "./harness.ts";

/** Cut-off uploads and cross-site requests against the real playground server (double handlers: no models). */

let app: TestApp;
let playground: Playground;
let port: number;

beforeEach(async () => {
  app = await startTestApp({}, { handlers: DOUBLE_HANDLERS });
  playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: 1024 * 1024 });
  port = Number(new URL(playground.url).port);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await playground?.close();
  await app?.close();
});

interface Answer {
  status: number;
  body: { ok: boolean; text: string; errorCode?: string };
}

/** node:http (not fetch) so the test can set Host and Origin the way another site's page would. */
function call(method: string, path: string, headers: Record<string, string> = {}, body = ""): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { "content-length": String(Buffer.byteLength(body)), ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Answer["body"] }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const PAGE = { "x-mimic": "1" };
const FORM = { ...PAGE, "content-type": "multipart/form-data; boundary=b" };
const CUT_BODY = '--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\nxxxx';

/** The server still works: the page loads and the API answers. */
async function stillServing(): Promise<void> {
  const page = await fetch(playground.url);
  expect(page.status).toBe(200);
  expect((await call("GET", "/api/faces", PAGE)).body.ok).toBe(true);
}

describe("playground: odd requests", () => {
  it("a request target that is not a URL gets 400, not an internal error, and the server keeps serving", async () => {
    const answer = await call("GET", "http://[", PAGE);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ ok: false, errorCode: "BAD_INPUT", text: "That address is not one the playground knows." });
    await stillServing();
  });

  it("HEAD / answers as GET / does, without the page", async () => {
    const head = await fetch(playground.url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await head.text()).toBe("");
  });

  it.each(["constructor", "toString", "__proto__"])("a form field named %s, sent once, is a field like any other (here: not the name asked for)", async (name) => {
    const body = `--b\r\nContent-Disposition: form-data; name="${name}"\r\n\r\nx\r\n--b--\r\n`;
    const answer = await call("POST", "/api/faces/default", FORM, body);
    expect(answer.body).toMatchObject({ ok: false, errorCode: "BAD_INPUT", text: expect.stringMatching(/^“” can't be a face name \(it is empty\)/) });
  });
});

describe("playground: cut-off uploads", () => {
  it("answers 400 'cut off' to a body that ends mid-file (correct Content-Length) and keeps serving", async () => {
    const answer = await call("POST", "/api/meme", FORM, CUT_BODY);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ ok: false, errorCode: "BAD_INPUT", text: "The upload was cut off, please try again." });
    await stillServing();
  });

  it("settles the upload when the client hangs up mid-file, and keeps serving", async () => {
    const wentAway = vi.spyOn(logger, "debug");
    const requests = vi.spyOn(Server.prototype as { emit(event: string, ...args: unknown[]): boolean }, "emit");
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(
      `POST /api/faces HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Mimic: 1\r\n` +
        `Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n${CUT_BODY}`,
    );
    // Once the server has the request (its handler is reading the file), hang up with most of the body unsent.
    await vi.waitFor(() => expect(requests.mock.calls.some((c) => c[0] === "request" && (c[1] as IncomingMessage).url === "/api/faces")).toBe(true), {
      timeout: 30_000,
    });
    socket.destroy();
    await vi.waitFor(
      () => {
        const call = wentAway.mock.calls.find((c) => c[1] === "playground client went away mid-request");
        expect((call?.[0] as { err?: { message?: string } } | undefined)?.err?.message).toBe("The upload was cut off, please try again.");
      },
      { timeout: 30_000 },
    );
    await stillServing();
  });
});

describe("playground: cross-site requests", () => {
  it("refuses another site's POST /api/forget (with Origin, or without the page's header) and forgets nothing", async () => {
    const forget = vi.spyOn(app.core, "forgetMe");
    const fromOtherSite = await call("POST", "/api/forget", { ...PAGE, origin: "http://evil.example" });
    expect(fromOtherSite.status).toBe(403);
    expect(fromOtherSite.body).toMatchObject({ ok: false, errorCode: "FORBIDDEN", text: expect.stringMatching(/other web sites/) });
    // A no-cors "simple" request cannot add X-Mimic (some browsers omit Origin, e.g. from a file: page).
    const simple = await call("POST", "/api/forget", { "content-type": "text/plain" });
    expect(simple.status).toBe(403);
    expect(simple.body.text).toMatch(/playground page/);
    const nullOrigin = await call("POST", "/api/forget", { ...PAGE, origin: "null" });
    expect(nullOrigin.status).toBe(403);
    expect(forget).not.toHaveBeenCalled();

    // The page's own call goes through.
    const own = await call("POST", "/api/forget", { ...PAGE, origin: `http://127.0.0.1:${port}` });
    expect(own.status).toBe(200);
    expect(forget).toHaveBeenCalledOnce();
  });

  it("refuses a DNS-rebound Host (reading /api/faces) but accepts localhost and 127.0.0.1 on its port", async () => {
    const rebound = await call("GET", "/api/faces", { ...PAGE, host: `attacker.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.body.text).toContain(`open http://127.0.0.1:${port}/`);
    expect((await call("GET", "/api/faces", { ...PAGE, host: `127.0.0.1:${port + 1}` })).status).toBe(403);
    expect((await call("GET", "/api/faces", { ...PAGE, host: `localhost:${port}` })).status).toBe(200);
    expect((await call("GET", "/api/faces", { ...PAGE, host: `127.0.0.1:${port}` })).status).toBe(200);
    // A cross-site read without the page's header is refused too.
    expect((await call("GET", "/api/faces")).status).toBe(403);
  });

  it("listening on every interface, it answers at any IP address of the machine; a name is refused with how to reach it instead", async () => {
    await playground.close();
    playground = await startPlayground({ core: app.core, host: "0.0.0.0", port: 0, maxUploadBytes: 1024 * 1024 });
    port = Number(new URL(playground.url).port);
    expect((await call("GET", "/api/faces", { ...PAGE, host: `192.0.2.2:${port}` })).status).toBe(200);
    const named = await call("GET", "/api/faces", { ...PAGE, host: `mybox.lan:${port}` });
    expect(named.status).toBe(403);
    expect(named.body.text).toBe(
      `The playground answers at this machine's IP addresses only, not at a name (a name could be pointed at it by another web site): open http://<this machine's IP address>:${port}/ from another machine, or http://127.0.0.1:${port}/ on this one.`,
    );
  });
});
