import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startPlayground, type Playground } from "../../src/bots/playground/server.ts";
import { FACE_JPG, NOT_AN_IMAGE, REACTION_LAUGH_JPG, describeImage } from "../core/images.ts";
import { startTestApp, type TestApp } from "./harness.ts";

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
    app = await startTestApp({ MAX_INPUT_BYTES: String(3 * 1024 * 1024) });
    playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: 3 * 1024 * 1024 });
    page = await browser.newPage({ viewport: { width: 1100, height: 1200 } });
  });
  afterEach(async () => {
    await page?.close();
    await playground?.close();
    await app?.close();
  });

  const file = (name: string, mimeType: string, bytes: Uint8Array) => ({ name, mimeType, buffer: Buffer.from(bytes) });

  /** Submits a form and waits for its answer to replace "Working on it…". */
  async function submit(formId: string): Promise<string> {
    await page.click(`#${formId} button[type=submit]`);
    // Browser-side expressions are strings: this project's TypeScript has no DOM types.
    await page.waitForFunction(
      `(() => { const t = document.querySelector("#message")?.textContent ?? ""; return t !== "" && t !== "Working on it…"; })()`,
      undefined,
      { timeout: 120_000 },
    );
    return (await page.textContent("#message")) ?? "";
  }

  async function resultBytes(): Promise<Uint8Array> {
    const src = await page.getAttribute("#result", "src");
    expect(src).toMatch(/^data:image\/(png|gif);base64,/);
    return new Uint8Array(Buffer.from(src!.slice(src!.indexOf(",") + 1), "base64"));
  }

  it("saves a face, makes a captioned meme and a morph GIF, shows usage and errors", async () => {
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(playground.url);
    expect(await page.title()).toBe("Mimic playground");

    // 1. save a face
    await page.setInputFiles("#save-photo", file("me.jpg", "image/jpeg", FACE_JPG));
    expect(await submit("save-form")).toContain("Saved your face “me”");
    await page.waitForFunction(`document.querySelector("#faces")?.textContent?.includes("me (default)")`);
    expect(await page.locator("#meme-template option").allTextContents()).toEqual(["default face", "me"]);

    // 2. a meme with captions: the result image is shown and is a real PNG
    await page.setInputFiles("#meme-image", file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
    await page.fill("#meme-top", "when the tests");
    await page.fill("#meme-bottom", "pass first time");
    expect(await submit("meme-form")).toContain("Here you go");
    expect(await page.isVisible("#result")).toBe(true);
    const png = await describeImage(await resultBytes());
    expect(png.format).toBe("png");
    const shown = await page.evaluate(`(() => { const i = document.querySelector("#result"); return { w: i.naturalWidth, ok: i.complete }; })()`);
    expect(shown).toEqual({ w: png.width, ok: true });
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, "meme.png"), fullPage: true });

    // 3. a morph GIF
    await page.setInputFiles("#morph-image", file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
    await page.click("#morph-form button[type=submit]");
    await page.waitForFunction(`document.querySelector("#result")?.src.startsWith("data:image/gif")`, undefined, { timeout: 120_000 });
    const gif = await describeImage(await resultBytes());
    expect(gif.format).toBe("gif");
    expect(gif.pages).toBeGreaterThan(1);

    // 4. usage
    await page.click("#usage-button");
    await page.waitForFunction(`document.querySelector("#message")?.textContent?.startsWith("Today you made")`);
    expect(await page.textContent("#message")).toContain("Today you made 2 memes");

    // 5. a bad file: the error is shown, styled as an error, and the old result is hidden
    await page.setInputFiles("#meme-image", file("notes.pdf", "application/pdf", NOT_AN_IMAGE));
    expect(await submit("meme-form")).toMatch(/not a picture I can use/);
    expect(await page.getAttribute("#message", "class")).toBe("error");
    expect(await page.isVisible("#result")).toBe(false);
    await page.screenshot({ path: join(SCREENSHOT_DIR, "error.png"), fullPage: true });

    // 6. too large: refused by the server without buffering it
    await page.setInputFiles("#meme-image", file("big.jpg", "image/jpeg", new Uint8Array(4 * 1024 * 1024)));
    expect(await submit("meme-form")).toMatch(/too large.*limit is 3\.0 MiB/);
    expect(pageErrors).toEqual([]);
  }, SCENARIO_TIMEOUT_MS);
});
