import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startPlayground, type Playground } from "../../src/bots/playground/server.ts";
import { findFfmpeg } from "../../src/pipeline/video/index.ts";
import { FACE_JPG, NOT_AN_IMAGE, REACTION_LAUGH_JPG, describeImage, reactionGif, reactionMp4 } from "../core/images.ts";
import { DOUBLE_HANDLERS, startTestApp, type TestApp } from "./harness.ts";

const ASTRONAUT_PNG = new Uint8Array(readFileSync(new URL("../fixtures/faces/astronaut.png", import.meta.url)));

/** Whole scenarios on the real pipeline; generous for a busy 2-core machine (each wait has its own limit too). */
const SCENARIO_TIMEOUT_MS = 240_000;

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`playground browser test skipped: ${CHROMIUM} is missing (install it with: apt-get install -y chromium)`);
}

/** Where the test leaves its screenshot for a human to look at. */
export const SCREENSHOT_DIR = join(tmpdir(), "mimic-playground");

describe.skipIf(!hasChromium)("playground in a real headless Chromium", () => {
  let browser: Browser;
  let app: TestApp;
  let playground: Playground;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  });
  afterAll(async () => browser?.close());

  beforeEach(async () => {
    // A cooldown for everyone else: the playground's own user has none by default (PLAYGROUND_COOLDOWN_SECONDS).
    app = await startTestApp({ MAX_INPUT_BYTES: String(3 * 1024 * 1024), COOLDOWN_SECONDS: "60" });
    playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: 3 * 1024 * 1024 });
    context = await browser.newContext({ viewport: { width: 1100, height: 1300 }, permissions: ["clipboard-read", "clipboard-write"] });
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
    await playground?.close();
    await app?.close();
  });

  const file = (name: string, mimeType: string, bytes: Uint8Array) => ({ name, mimeType, buffer: Buffer.from(bytes) });

  /** Submits a form and waits for its answer to replace "Working on it…". */
  async function submit(formId: string): Promise<string> {
    await page.click(`#${formId} button[type=submit]`);
    return answer();
  }

  async function answer(): Promise<string> {
    // Browser-side expressions are strings: this project's TypeScript has no DOM types.
    await page.waitForFunction(
      `(() => { const t = document.querySelector("#message")?.textContent ?? ""; return t !== "" && t !== "Working on it…"; })()`,
      undefined,
      { timeout: 120_000 },
    );
    return (await page.textContent("#message")) ?? "";
  }

  /**
   * The picture shown: the result arrives as bytes (not base64 in JSON), kept by the page as a Blob and shown
   * through its object URL, which Download links to as well. Read back from the page.
   */
  async function resultBytes(): Promise<Uint8Array> {
    const src = await page.getAttribute("#result", "src");
    expect(src).toMatch(/^blob:/);
    expect(await page.getAttribute("#download", "href")).toBe(src);
    const b64 = await page.evaluate<string>(`fetch(${JSON.stringify(src)}).then((r) => r.arrayBuffer()).then((b) => {
      const u = new Uint8Array(b);
      let s = "";
      for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192));
      return btoa(s);
    })`);
    return new Uint8Array(Buffer.from(b64, "base64"));
  }

  /** Drops (or pastes) a file the way a browser delivers one: a DataTransfer on a real DOM event. */
  async function deliver(how: "drop" | "paste", selector: string, name: string, mime: string, bytes: Uint8Array) {
    const b64 = Buffer.from(bytes).toString("base64");
    await page.evaluate(`(() => {
      const bin = atob(${JSON.stringify(b64)});
      const buf = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) buf[i] = bin.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([buf], ${JSON.stringify(name)}, { type: ${JSON.stringify(mime)} }));
      const target = document.querySelector(${JSON.stringify(selector)});
      if (${JSON.stringify(how)} === "drop") target.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
      else target.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
    })()`);
  }

  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });

  it("empty → save faces (drop) with thumbnails → working (queue position) → result (paste, picker, controls, download, copy) → morph → error", async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(playground.url);
    expect(await page.title()).toBe("Mimic playground");
    await page.waitForFunction(`document.querySelector("#faces")?.textContent === "none yet"`);
    expect(await page.isVisible("#output")).toBe(false);
    await shot("empty");

    // 1. save two faces: one chosen, one dropped onto its zone; each gets a real thumbnail
    await page.setInputFiles("#save-photo", file("me.jpg", "image/jpeg", FACE_JPG));
    expect(await submit("save-form")).toContain("Saved your face “me”");
    await deliver("drop", "#save-form .drop", "astronaut.png", "image/png", ASTRONAUT_PNG);
    expect(await page.textContent("#save-form .drop span")).toBe("astronaut.png");
    await page.fill("#save-name", "astro");
    expect(await submit("save-form")).toMatch(/Saved your face “astro” \(Your face is small in this photo/);
    await page.waitForFunction(`document.querySelectorAll("#faces li img").length === 2 && [...document.querySelectorAll("#faces li img")].every((i) => i.complete && i.naturalWidth > 0)`);
    expect(await page.locator("#faces li").allTextContents()).toEqual([expect.stringContaining("me (default)"), expect.stringContaining("astro")]);
    for (const card of ["meme", "morph"]) {
      expect(await page.locator(`#${card}-faces .tile`).allTextContents()).toEqual(["★default", "me", "astro"]);
      await page.waitForFunction(`[...document.querySelectorAll("#${card}-faces .tile img")].every((i) => i.complete && i.naturalWidth > 0)`);
    }

    // 2. working: another job holds the one worker, so the page's meme waits in line and shows where it is
    const local = { platform: "playground" as const, userId: "local", serverId: "playground", channelId: "playground", isAdmin: true, requestId: "busy", attachmentLimitBytes: 3 << 20 };
    const busy = app.core.morph(local, { image: { kind: "bytes", bytes: await reactionGif(REACTION_LAUGH_JPG, 12, 320) } });
    await page.click('#meme-faces .tile[data-face="astro"]');
    // A picture pasted anywhere goes to the card last worked in.
    await deliver("paste", "body", "image.png", "image/jpeg", REACTION_LAUGH_JPG);
    expect(await page.textContent("#meme-form .drop span")).toBe("image.png");
    await page.fill("#meme-top", "when the tests");
    await page.fill("#meme-bottom", "pass first time");
    await page.selectOption("#meme-regions", "upper");
    await page.fill("#meme-intensity", "60");
    await page.click("#meme-form button[type=submit]");
    await page.waitForFunction(`/Waiting in line: position \\d+/.test(document.querySelector("#progress-text")?.textContent ?? "")`, undefined, { timeout: 60_000 });
    await shot("working");
    expect((await busy).errorCode).toBeUndefined();

    // 3. result: the astro face (its portrait frame), a PNG with download and copy
    expect(await answer()).toContain("Here you go, using your face “astro”");
    expect(await page.isVisible("#progress")).toBe(false);
    const png = await describeImage(await resultBytes());
    expect(png.format).toBe("png");
    expect(png.width).not.toBe(png.height); // the astronaut's own framing, not a square crop
    expect(await page.getAttribute("#download", "download")).toBe("mimic-astro.png");
    expect(await page.getAttribute("#download", "href")).toMatch(/^blob:/);
    await shot("result");
    await page.click("#copy");
    await page.waitForFunction(`document.querySelector("#message")?.textContent === "Copied to the clipboard."`);
    expect(await page.evaluate(`navigator.clipboard.read().then((items) => items[0].types)`)).toContain("image/png");

    // 4. right after: no cooldown for the local user (others have 60 s here); a morph of the default face, as a GIF
    await page.setInputFiles("#morph-image", file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
    await page.click('#morph-faces .tile[data-face="me"]');
    expect(await submit("morph-form")).toContain("Here you go, using your face “me”");
    const gif = await describeImage(await resultBytes());
    expect(gif.format).toBe("gif");
    expect(gif.pages).toBeGreaterThan(1);
    expect(await page.getAttribute("#download", "download")).toBe("mimic-me.gif");
    expect(await page.isVisible("#copy")).toBe(false);

    // 4b. a video reaction (an MP4, as a GIF often is): the picker offers it, and every sampled frame is transferred
    expect(await page.getAttribute("#meme-image", "accept")).toBe("image/*,video/mp4,video/webm");
    await page.setInputFiles("#meme-image", file("laugh.mp4", "video/mp4", await reactionMp4(findFfmpeg()!, 6)));
    expect(await submit("meme-form")).toContain("Here you go, using your face “astro”");
    const fromVideo = await describeImage(await resultBytes());
    expect(fromVideo.format).toBe("gif");
    expect(fromVideo.pages).toBeGreaterThan(1);

    // 5. usage
    await page.click("#usage-button");
    // (said under its own button, apart from the last result)
    await page.waitForFunction(`document.querySelector("#usage-note")?.textContent?.startsWith("Today you made")`);
    expect(await page.textContent("#usage-note")).toContain("Today you made 4 memes");

    // 6. a bad file: the error is shown, styled as an error, and the last result stays (still downloadable)
    await page.setInputFiles("#meme-image", file("notes.pdf", "application/pdf", NOT_AN_IMAGE));
    expect(await submit("meme-form")).toMatch(/not a picture I can use/);
    expect(await page.getAttribute("#message", "class")).toBe("error");
    expect(await page.isVisible("#result")).toBe(true);
    expect(await page.isVisible("#actions")).toBe(true);
    await shot("error");

    // 7. too large: refused by the server without buffering it
    await page.setInputFiles("#meme-image", file("big.jpg", "image/jpeg", new Uint8Array(4 * 1024 * 1024)));
    expect(await submit("meme-form")).toMatch(/too large.*limit is 3\.0 MiB/);
    expect(pageErrors).toEqual([]);
  }, SCENARIO_TIMEOUT_MS);
});

describe("playground cooldown (PLAYGROUND_COOLDOWN_SECONDS)", () => {
  let app: TestApp;
  let playground: Playground;
  afterEach(async () => {
    await playground?.close();
    await app?.close();
  });

  const post = async (path: string, form: FormData) =>
    (await (await fetch(new URL(path, playground.url), { method: "POST", body: form, headers: { "X-Mimic": "1" } })).json()) as { ok: boolean; text: string };
  const memeForm = (extra: Record<string, string> = {}) => {
    const f = new FormData();
    f.set("image", new Blob([REACTION_LAUGH_JPG], { type: "image/jpeg" }), "r.jpg");
    for (const [k, v] of Object.entries(extra)) f.set(k, v);
    return f;
  };

  it("applies a configured cooldown to the local user, and the controls reach the core (regions validated)", async () => {
    app = await startTestApp({}, { handlers: DOUBLE_HANDLERS });
    playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: 3 << 20, cooldownSeconds: 30 });
    const save = new FormData();
    save.set("photo", new Blob([FACE_JPG], { type: "image/jpeg" }), "me.jpg");
    save.set("name", "me");
    expect((await post("/api/faces", save)).text).toContain("Saved your face");
    expect((await post("/api/meme", memeForm({ regions: "sideways" }))).text).toMatch(/^regions must be one of all, upper, lower \(got “sideways”\)\.$/);
    expect((await post("/api/meme", memeForm({ regions: "lower", intensity: "40" }))).ok).toBe(true);
    expect((await post("/api/meme", memeForm())).text).toMatch(/^Slow down a little/);
  }, 60_000);

  it("the local user has no daily quota, whatever the bots' defaults (per user and per server), and the settings say how to change one", async () => {
    app = await startTestApp({ DAILY_QUOTA_PER_USER: "2", DAILY_QUOTA_PER_SERVER: "2", COOLDOWN_SECONDS: "0" }, { handlers: DOUBLE_HANDLERS });
    playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: 3 << 20 });
    const save = new FormData();
    save.set("photo", new Blob([FACE_JPG], { type: "image/jpeg" }), "me.jpg");
    save.set("name", "me");
    expect((await post("/api/faces", save)).ok).toBe(true);
    for (let i = 0; i < 3; i++) expect((await post("/api/meme", memeForm())).ok, `meme ${i + 1}`).toBe(true);
    const settings = await post("/api/config", new FormData());
    expect(settings.text).toContain("• quota: unlimited");
    expect(settings.text).toContain("• server_quota: unlimited");
    expect(settings.text).toContain("Change one with POST /api/config with the fields key and value (and the header X-Mimic: 1).");
  }, 60_000);
});
