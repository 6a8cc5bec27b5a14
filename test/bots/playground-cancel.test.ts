import { afterEach, describe, expect, it, vi } from "vitest";
import { startPlayground, type Playground } from "../../src/bots/playground/server.ts";
import type { EnrolResult } from "../../src/queue/jobs.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { enrolDouble } from "../core/doubles.ts";
import { FACE_JPG, REACTION_LAUGH_JPG } from "../core/images.ts";
import { TEST_HANDLERS } from "../queue/helpers.ts";
import { startTestApp, type TestApp } from "./harness.ts";

/** The real playground over HTTP, the real core, store and queue; the CPU test handlers ("spin:MS" runs until cancelled). */
describe("playground: a page that hangs up cancels its job", () => {
  let app: TestApp;
  let playground: Playground;
  afterEach(async () => {
    await playground?.close();
    await app?.close();
  });

  const headers = { "X-Mimic": "1" };
  const form = (fields: Record<string, string | Blob>) => {
    const f = new FormData();
    for (const [k, v] of Object.entries(fields)) f.set(k, v as string);
    return f;
  };
  const usage = async () => ((await (await fetch(new URL("/api/usage", playground.url), { headers })).json()) as { text: string }).text;

  it("the job leaves the worker and the use is given back; the next one runs", async () => {
    app = await startTestApp({}, { handlers: TEST_HANDLERS });
    playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: 3 << 20 });
    // The CPU test handlers do not enrol faces: the test doubles' face goes straight into the store.
    const enrolled = (await enrolDouble({ bytes: FACE_JPG })) as EnrolResult;
    await app.app.store.templates.save({ platform: "playground", userId: "local" }, "me", enrolled.face.data as EnrolledTemplate);

    const hangUp = new AbortController();
    const res = await fetch(new URL("/api/meme", playground.url), {
      method: "POST",
      headers: { ...headers, accept: "application/x-ndjson" },
      body: form({ image: new Blob([REACTION_LAUGH_JPG], { type: "image/jpeg" }), top: "spin:600000" }),
      signal: hangUp.signal,
    });
    // Wait until the job runs on the worker, then close the page.
    const reader = res.body!.getReader();
    let seen = "";
    while (!seen.includes('"started"')) seen += new TextDecoder().decode((await reader.read()).value);
    expect(await usage()).toMatch(/^Today you made 1 meme /);
    hangUp.abort();

    await vi.waitFor(async () => expect(await usage()).toMatch(/^Today you made 0 memes /), { timeout: 30_000, interval: 100 });
    // The worker is free again: a job that would queue behind a 10-minute spin finishes.
    const next = await fetch(new URL("/api/meme", playground.url), { method: "POST", headers, body: form({ image: new Blob([REACTION_LAUGH_JPG], { type: "image/jpeg" }) }) });
    expect(((await next.json()) as { ok: boolean; text: string }).text).toMatch(/^Here you go/);
  }, 60_000);
});
