import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPlayground, type Playground } from "../../src/bots/playground/server.ts";
import type { CommandContext } from "../../src/core/index.ts";
import { FACE_JPG, REACTION_LAUGH_JPG, flatPng } from "../core/images.ts";
import { startTestApp, type TestApp } from "./harness.ts";

/**
 * The playground's page in a real headless Chromium against the real server, core, store and queue; the
 * jobs run on test doubles (playground-handlers.ts) so each scenario takes seconds. Layout, focus, wording
 * and the page's behaviour when the server stops or refuses: what playground.test.ts's scenario does not cover.
 */

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`playground page tests skipped: ${CHROMIUM} is missing (install it with: apt-get install -y chromium)`);
}

const HANDLERS = new URL("./playground-handlers.ts", import.meta.url);
/** Where the tests leave their screenshots for a human to look at. */
const SCREENSHOT_DIR = join(tmpdir(), "mimic-playground");
const DESKTOP = { width: 1100, height: 1100 };
const PHONE = { width: 375, height: 667 };
/** The longest name a face may have (templates/names.ts: 1–32 of a-z 0-9 _ -). */
const LONG_NAME = "abcdefghijklmnopqrstuvwxyz_12345";

const local = (): CommandContext => ({
  platform: "playground",
  userId: "local",
  serverId: "playground",
  channelId: "playground",
  isAdmin: true,
  requestId: "test",
  attachmentLimitBytes: 3 << 20,
});

describe.skipIf(!hasChromium)("playground page in a real headless Chromium (layout, focus, wording, failures)", () => {
  let browser: Browser;
  let app: TestApp | undefined;
  let playground: Playground | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
  });
  afterAll(async () => browser?.close());
  afterEach(async () => {
    expect(pageErrors).toEqual([]);
    await context?.close();
    await playground?.close();
    await app?.close();
    context = playground = app = undefined;
  });

  async function open(opts: { env?: Record<string, string>; context?: BrowserContextOptions } = {}): Promise<void> {
    pageErrors = [];
    app = await startTestApp(opts.env ?? {}, { handlers: HANDLERS });
    playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: 3 << 20 });
    context = await browser.newContext({ viewport: DESKTOP, ...opts.context });
    page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(playground.url);
    await page.waitForFunction(`document.querySelector("#faces li")?.textContent === "none yet"`);
  }

  const file = (name: string, mimeType: string, bytes: Uint8Array) => ({ name, mimeType, buffer: Buffer.from(bytes) });
  const shot = (name: string, fullPage = true) => page.screenshot({ path: join(SCREENSHOT_DIR, `ui-${name}.png`), fullPage });
  // Browser-side expressions are strings: this project's TypeScript has no DOM types.
  const js = <T>(expression: string) => page.evaluate(expression) as Promise<T>;

  /** The answer that replaces "Working on it…" in the output panel. */
  async function answer(): Promise<string> {
    await page.waitForFunction(`(() => { const t = document.querySelector("#message")?.textContent ?? ""; return t !== "" && t !== "Working on it…"; })()`, undefined, { timeout: 60_000 });
    return (await page.textContent("#message")) ?? "";
  }

  async function saveFace(name: string, bytes = FACE_JPG): Promise<string> {
    await page.setInputFiles("#save-photo", file(`${name}.jpg`, "image/jpeg", bytes));
    await page.fill("#save-name", name);
    await page.click("#save-form button[type=submit]");
    const text = await answer();
    if (text.startsWith("Saved")) await page.waitForSelector(`#faces li[data-name="${name}"]`);
    return text;
  }

  /** One user (a job at a time) sends a meme that runs `waitMs`, then a morph while it runs: the morph's card refuses it. */
  async function morphWhileMemeRuns(waitMs: number): Promise<void> {
    await open({ env: { QUEUE_PER_USER: "1" } });
    await saveFace("me");
    await page.setInputFiles("#meme-image", file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
    await page.fill("#meme-top", `wait:${waitMs}`);
    await page.click("#meme-form button[type=submit]");
    await page.waitForFunction(`/^Working on it: /.test(document.querySelector("#progress-text")?.textContent ?? "")`);
    await page.setInputFiles("#morph-image", file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
    await page.click("#morph-form button[type=submit]");
    await page.waitForFunction(`/already have a request in progress/.test(document.querySelector("#morph-form .note")?.textContent ?? "")`);
  }

  const listed = () => page.locator("#faces li").evaluateAll((lis) => lis.map((li) => (li as unknown as { dataset: { name?: string } }).dataset.name ?? "-"));
  const tiles = (card: string) => page.locator(`#${card}-faces .tile`).evaluateAll((bs) => bs.map((b) => (b as unknown as { dataset: { face: string } }).dataset.face));
  /** Where an element is, against the window: entirely inside it, or not. */
  const place = (selector: string) =>
    js<{ top: number; bottom: number; inView: boolean }>(`(() => {
      const r = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect();
      return { top: Math.round(r.top), bottom: Math.round(r.bottom), inView: r.top >= 0 && r.bottom <= innerHeight };
    })()`);

  it("D1: a 32-character face name stays inside its tile in “Saved” and in both pickers, on a desktop and a phone (no horizontal scroll)", async () => {
    await open({ context: { viewport: DESKTOP } });
    expect(await saveFace("me")).toMatch(/^Saved/);
    expect(await saveFace(LONG_NAME)).toMatch(/^Saved/);
    await page.waitForFunction(`[...document.querySelectorAll("#faces img, .tile img")].every((i) => i.complete && i.naturalWidth > 0)`);
    for (const [tag, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
      await page.setViewportSize(viewport);
      await shot(`d1-longname-${tag}`);
      const m = await js<{ pageWidth: number; windowWidth: number; overflowing: string[] }>(`(() => {
        const boxes = [
          ["Saved", document.querySelector('#faces li[data-name=${JSON.stringify(LONG_NAME)}]')],
          ["meme picker", document.querySelector('#meme-faces [data-face=${JSON.stringify(LONG_NAME)}]')],
          ["morph picker", document.querySelector('#morph-faces [data-face=${JSON.stringify(LONG_NAME)}]')],
          ["the answer naming it", document.querySelector("#message")],
        ];
        const overflowing = [];
        for (const [where, box] of boxes) {
          const outer = box.getBoundingClientRect();
          // Every piece of the tile (its name's text included) stays within the tile.
          for (const inner of [box, ...box.querySelectorAll("*")]) {
            const r = inner.getBoundingClientRect();
            if (inner.scrollWidth > inner.clientWidth + 1 && getComputedStyle(inner).textOverflow !== "ellipsis") overflowing.push(where + ": " + inner.tagName + " content " + inner.scrollWidth + " > " + inner.clientWidth);
            if (r.left < outer.left - 1 || r.right > outer.right + 1) overflowing.push(where + ": " + inner.tagName + " right " + Math.round(r.right) + " > " + Math.round(outer.right));
          }
        }
        return { pageWidth: document.documentElement.scrollWidth, windowWidth: innerWidth, overflowing };
      })()`);
      // Soft: both window sizes are measured (and photographed) even when the first fails.
      expect.soft(m.pageWidth, `page width on a ${tag}`).toBeLessThanOrEqual(m.windowWidth);
      expect.soft(m.overflowing, tag).toEqual([]);
    }
    // Cut short on screen, the tiles still carry the full name: as their title and as their accessible name.
    for (const card of ["meme", "morph"]) {
      const tile = page.locator(`#${card}-faces [data-face="${LONG_NAME}"]`);
      expect(await tile.getAttribute("title")).toBe(LONG_NAME);
      expect(await page.locator(`#${card}-faces`).getByRole("button", { name: LONG_NAME, exact: true }).count()).toBe(1);
    }
    expect(await page.textContent(`#faces li[data-name="${LONG_NAME}"]`)).toContain(LONG_NAME);
  }, 60_000);

  it("D2: on a phone, the status, the error and the finished meme come into view where the user is", async () => {
    await open({ context: { viewport: PHONE, isMobile: true, hasTouch: true } });
    // Soft: every step is checked (and photographed) even when an earlier one fails.
    // A photo with no face: the error shows on screen, not 1 000 px below.
    expect(await saveFace("blank", new Uint8Array(await flatPng()))).toMatch(/could not find a face/);
    expect(await page.getAttribute("#message", "class")).toBe("error");
    await shot("d2-phone-save-error", false);
    expect.soft(await place("#message"), "the save error").toMatchObject({ inView: true });
    await page.evaluate("window.scrollTo(0, 0)");
    expect(await saveFace("me")).toMatch(/^Saved/);
    expect.soft(await place("#message"), "the save answer").toMatchObject({ inView: true });

    // A meme that takes a moment (the test handlers wait on "wait:MS"): its progress is on screen while it runs.
    await page.setInputFiles("#meme-image", file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
    await page.fill("#meme-top", "wait:1500");
    await page.tap("#meme-form button[type=submit]");
    await page.waitForFunction(`/Working on it/.test(document.querySelector("#progress-text")?.textContent ?? "")`);
    await shot("d2-phone-working", false);
    expect(await page.textContent("#message")).toBe("Working on it…");
    expect.soft(await place("#message"), "“Working on it…”").toMatchObject({ inView: true });
    expect.soft(await place("#progress"), "the progress bar").toMatchObject({ inView: true });

    // Done: the answer and the picture itself are on screen.
    expect(await answer()).toMatch(/^Here you go/);
    await page.waitForFunction(`(() => { const i = document.querySelector("#result"); return !i.hidden && i.complete && i.naturalWidth > 0; })()`);
    await page.waitForTimeout(100);
    await shot("d2-phone-result", false);
    expect.soft(await place("#message"), "the answer").toMatchObject({ inView: true });
    const picture = await place("#result");
    expect.soft(picture.top, "the result's top is on screen").toBeGreaterThanOrEqual(0);
    expect.soft(picture.top, "the result's top is on screen").toBeLessThan(PHONE.height - 100);
  }, 60_000);

  it("D3: each picture drop zone shows a focus ring when the keyboard reaches its (invisible) file input", async () => {
    await open();
    const before = { "save-photo": "h1", "meme-image": "#save-form button[type=submit]", "morph-image": "#meme-form button[type=submit]" };
    for (const [id, previous] of Object.entries(before)) {
      if (previous === "h1") await page.click("h1");
      else await page.focus(previous);
      const zone = page.locator(`label.drop[for=${id}]`);
      const box = (await zone.boundingBox())!;
      const clip = { x: box.x - 8, y: box.y - 8, width: box.width + 16, height: box.height + 16 };
      const unfocused = await page.screenshot({ clip });
      await page.keyboard.press("Tab");
      expect(await js<string>("document.activeElement.id")).toBe(id);
      const style = await js<{ outline: string; width: number }>(`(() => {
        const s = getComputedStyle(document.querySelector("label.drop[for=${id}]"));
        return { outline: s.outlineStyle, width: parseFloat(s.outlineWidth) };
      })()`);
      expect(style.outline, `${id}: the zone's outline when focused`).not.toBe("none");
      expect(style.width, `${id}: the zone's outline width`).toBeGreaterThanOrEqual(2);
      expect((await page.screenshot({ clip })).equals(unfocused), `${id}: the zone looks different when focused`).toBe(false);
    }
  }, 60_000);

  it("D4: with the server stopped, a face action keeps the list and says why; the list refreshes by itself once the server is back", async () => {
    await open();
    await saveFace("me");
    await saveFace("work");
    expect(await listed()).toEqual(["me", "work"]);
    const port = Number(new URL(playground!.url).port);
    await playground!.close();

    // The first action of a face that is not the default: "make default", whatever it is labelled.
    await page.click('#faces li[data-name="work"] button');
    await page.waitForFunction(`document.body.innerText.includes("did not answer")`);
    // Wait for the list's own refresh to fail (fixed page) or to have wiped the list (the defect).
    await page.waitForFunction(`/Could not refresh/.test(document.querySelector("#faces-note")?.textContent ?? "") || document.querySelector("#faces").textContent === "none yet"`);
    await shot("d4-server-down");
    expect(await listed(), "the last known list stays").toEqual(["me", "work"]);
    for (const card of ["meme", "morph"]) expect(await tiles(card), `${card} picker`).toEqual(["", "me", "work"]);
    expect(await page.getAttribute("#faces-note", "class")).toContain("error");
    expect(await page.textContent("#faces-note")).toMatch(/did not answer/);

    // Meanwhile the face is renamed elsewhere; the server comes back at the same address: the page catches up without a reload.
    expect((await app!.core.faceRename(local(), { from: "work", to: "home" })).errorCode).toBeUndefined();
    playground = await startPlayground({ core: app!.core, host: "127.0.0.1", port, maxUploadBytes: 3 << 20 });
    await page.waitForFunction(`document.querySelector('#faces li[data-name="home"]') !== null`, undefined, { timeout: 20_000 });
    expect(await listed()).toEqual(["me", "home"]);
    for (const card of ["meme", "morph"]) expect(await tiles(card)).toEqual(["", "me", "home"]);
    expect(await page.textContent("#faces-note")).not.toMatch(/Could not refresh/);
  }, 60_000);

  it("D5: a second submit while a job runs is refused by its own card; the running job's progress stays in view", async () => {
    await morphWhileMemeRuns(4000);
    await page.waitForTimeout(200);
    await shot("d5-refused");
    expect(await page.isVisible("#progress"), "the meme's progress is still shown").toBe(true);
    expect(await page.textContent("#progress-text")).toMatch(/^Working on it: /);
    expect(await page.textContent("#message")).toBe("Working on it…");
    const refusal = page.locator("#morph-form .note");
    expect(await refusal.textContent()).toMatch(/^You already have a request in progress/);
    expect(await refusal.getAttribute("class")).toContain("error");
    expect(await refusal.getAttribute("role")).toBe("status");
    expect(await page.isEnabled("#morph-form button[type=submit]")).toBe(true);
    expect(await page.isEnabled("#meme-form button[type=submit]")).toBe(false);

    // The meme finishes as usual.
    expect(await answer()).toMatch(/^Here you go/);
    expect(await page.isVisible("#progress")).toBe(false);
    expect(await page.isVisible("#result")).toBe(true);
    await shot("d5-done");
  }, 60_000);

  it("D6: Download is one link styled as a button: one tab stop, no control inside a link", async () => {
    await open();
    await saveFace("me");
    await page.setInputFiles("#meme-image", file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
    await page.click("#meme-form button[type=submit]");
    expect(await answer()).toMatch(/^Here you go/);
    await page.focus("#usage-button");
    const stops: string[] = [];
    for (let i = 0; i < 2; i++) {
      await page.keyboard.press("Tab");
      stops.push(await js<string>(`(() => { const e = document.activeElement; return e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + " " + e.textContent.trim(); })()`));
    }
    expect(stops).toEqual(["a#download Download", "button#copy Copy"]);
    expect(await page.locator("#actions a button, #actions a a, #actions button a").count()).toBe(0);
    expect(await page.locator("#actions").getByRole("link", { name: "Download", exact: true }).count()).toBe(1);
    expect(await page.locator("#actions").getByRole("button", { name: "Download" }).count()).toBe(0);
    expect(await page.getAttribute("#download", "download")).toBe("mimic-me.png");
    expect(await page.getAttribute("#download", "href")).toMatch(/^blob:/);
  }, 60_000);

  it("D7: each face's actions name the face; delete asks first (and can be kept); rename works from the page", async () => {
    await open();
    await saveFace("me");
    await saveFace("work");
    const names = (face: string) =>
      js<string[]>(`[...document.querySelectorAll('#faces li[data-name="${face}"] button')].map((b) => b.getAttribute("aria-label") ?? b.textContent)`);
    expect(await names("me")).toEqual(["Rename “me”", "Delete “me”"]);
    expect(await names("work")).toEqual(["Make default: “work”", "Rename “work”", "Delete “work”"]);
    const faces = page.locator("#faces");
    const serverFaces = async () => (await app!.core.faceList(local())).templates?.map((t) => t.name);

    // Delete asks first; "Keep" (focused) and Escape leave the face alone.
    await faces.getByRole("button", { name: "Delete “work”", exact: true }).click();
    expect(await page.textContent('#faces li[data-name="work"]')).toContain("Delete “work”?");
    expect(await js<string>(`document.activeElement.getAttribute("aria-label")`)).toBe("Keep “work”");
    expect(await serverFaces()).toEqual(["me", "work"]);
    await page.keyboard.press("Escape");
    expect(await js<string>(`document.activeElement.getAttribute("aria-label")`)).toBe("Delete “work”");
    await faces.getByRole("button", { name: "Delete “work”", exact: true }).click();
    await faces.getByRole("button", { name: "Keep “work”", exact: true }).click();
    expect(await names("work")).toEqual(["Make default: “work”", "Rename “work”", "Delete “work”"]);
    await faces.getByRole("button", { name: "Delete “work”", exact: true }).click();
    await shot("d7-confirm-delete");
    await faces.getByRole("button", { name: "Delete “work” (confirm)", exact: true }).click();
    await page.waitForFunction(`document.querySelector('#faces li[data-name="work"]') === null`);
    expect(await serverFaces()).toEqual(["me"]);
    expect(await page.textContent("#faces-note")).toMatch(/work/);

    // Rename, with the name rule in the field; the face picked on a card stays picked under its new name.
    await page.click('#meme-faces .tile[data-face="me"]');
    await faces.getByRole("button", { name: "Rename “me”", exact: true }).click();
    const field = faces.getByRole("textbox", { name: /^New name for “me”/ });
    expect(await field.inputValue()).toBe("me");
    await field.fill("my face");
    await field.press("Enter");
    expect(await field.evaluate((i) => (i as unknown as { validity: { patternMismatch: boolean } }).validity.patternMismatch)).toBe(true);
    expect(await serverFaces()).toEqual(["me"]);
    await field.fill("Home");
    await field.press("Enter");
    await page.waitForSelector('#faces li[data-name="home"]');
    expect(await serverFaces()).toEqual(["home"]);
    expect(await tiles("meme")).toEqual(["", "home"]);
    expect(await page.getAttribute('#meme-faces .tile[data-face="home"]', "aria-pressed")).toBe("true");
    expect(await page.inputValue("#meme-template")).toBe("home");
  }, 60_000);

  it("D8: with no face saved, the hint names what the page shows (the “Save face” button, the “1. Your faces” card)", async () => {
    await open();
    // No face saved yet: every “…” the hint names is on the page.
    for (const card of ["meme", "morph"]) {
      await page.setInputFiles(`#${card}-image`, file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
      await page.click(`#${card}-form button[type=submit]`);
      const text = await answer();
      expect(text).toMatch(/^You have no saved face yet\. Save one first with /);
      const named = [...text.matchAll(/“([^”]+)”/g)].map((m) => m[1]);
      expect(named.length).toBeGreaterThan(0);
      for (const words of named) expect(await page.getByText(words, { exact: true }).count(), `“${words}” on the page`).toBeGreaterThan(0);
    }
    expect(await page.getByRole("button", { name: "Save face", exact: true }).isVisible()).toBe(true);
  }, 60_000);

  it("D8: the Name field states which names it takes, and the browser holds back one the server would refuse", async () => {
    await open();
    const name = page.getByRole("textbox", { name: "Name", exact: true });
    const described = await name.getAttribute("aria-describedby");
    expect(described).toBeTruthy();
    expect(await page.textContent(`#${described}`)).toContain("1–32 of a–z, 0–9, _ and -");
    expect(await page.isVisible(`#${described}`)).toBe(true);
    await page.setInputFiles("#save-photo", file("me.jpg", "image/jpeg", FACE_JPG));
    const before = await page.textContent("#message");
    await name.fill("my face");
    await page.click("#save-form button[type=submit]");
    expect(await name.evaluate((i) => (i as unknown as { validity: { patternMismatch: boolean } }).validity.patternMismatch)).toBe(true);
    // Chromium shows the title under its "Please match the requested format."
    expect(await name.getAttribute("title")).toContain("1–32 of a–z, 0–9, _ and -");
    expect(await page.textContent("#message"), "nothing was sent").toBe(before);
    await name.fill("Work_Photo-2");
    expect(await name.evaluate((i) => (i as unknown as { validity: { valid: boolean } }).validity.valid)).toBe(true);
    await name.fill(LONG_NAME);
    expect(await name.evaluate((i) => (i as unknown as { validity: { valid: boolean } }).validity.valid)).toBe(true);
  }, 60_000);

  it("D8: the Mode select shows its whole choice, on a desktop and on a phone", async () => {
    await open();
    // The chosen Mode reads whole (the select's arrow takes about 30 px), on a desktop and on a phone.
    for (const viewport of [DESKTOP, PHONE]) {
      await page.setViewportSize(viewport);
      for (const mode of ["mimic", "swap"]) {
        await page.selectOption("#meme-mode", mode);
        const m = await js<{ text: string; textPx: number; selectPx: number }>(`(() => {
          const s = document.querySelector("#meme-mode"), c = document.createElement("canvas").getContext("2d");
          c.font = getComputedStyle(s).font;
          const text = s.selectedOptions[0].text;
          return { text, textPx: Math.ceil(c.measureText(text).width), selectPx: s.clientWidth };
        })()`);
        expect(m.textPx, `“${m.text}” in ${m.selectPx} px at ${viewport.width} px`).toBeLessThanOrEqual(m.selectPx - 30);
      }
    }
  }, 60_000);

  /** Makes a meme from the laughing reaction (optionally with a top caption) and waits for its answer. */
  async function meme(top = ""): Promise<string> {
    await page.setInputFiles("#meme-image", file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
    await page.fill("#meme-top", top);
    await page.click("#meme-form button[type=submit]");
    return answer();
  }
  const resultShown = () => js<boolean>(`(() => { const i = document.querySelector("#result"); return !i.hidden && i.complete && i.naturalWidth > 0 && !document.querySelector("#actions").hidden && document.querySelector("#download").href.startsWith("blob:"); })()`);

  it("M6-1: a failing submit shows its error while the last good result stays on screen and downloadable", async () => {
    await open();
    await saveFace("me");
    expect(await meme()).toMatch(/^Here you go/);
    await page.waitForFunction(`document.querySelector("#result").complete`);
    const href = await page.getAttribute("#download", "href");
    // A PDF instead of a picture: refused by the server.
    await page.setInputFiles("#meme-image", file("doc.pdf", "application/pdf", new TextEncoder().encode("%PDF-1.4\n%\n")));
    await page.click("#meme-form button[type=submit]");
    const text = await answer();
    await shot("m6-1-error-keeps-result");
    expect(await page.getAttribute("#message", "class")).toBe("error");
    expect(text).not.toMatch(/^Here you go/);
    expect(await resultShown(), "the last result is still shown with Download").toBe(true);
    expect(await page.getAttribute("#download", "href")).toBe(href);
    // The Download link still works: the object URL was not let go.
    expect(await js<number>(`fetch(document.querySelector("#download").href).then((r) => r.blob()).then((b) => b.size)`)).toBeGreaterThan(0);
  }, 60_000);

  /** Drops a file on the element `selector` as a browser does; returns whether the page cancelled the browser's own handling of dragover and drop. */
  const drop = (selector: string, name: string) =>
    js<{ dragover: boolean; drop: boolean }>(`(() => {
      const target = document.querySelector(${JSON.stringify(selector)});
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array([137, 80, 78, 71])], ${JSON.stringify(name)}, { type: "image/png" }));
      const r = {};
      for (const type of ["dragenter", "dragover", "drop"]) {
        const e = new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true });
        target.dispatchEvent(e);
        r[type] = e.defaultPrevented;
      }
      return { dragover: r.dragover, drop: r.drop };
    })()`);
  const chosen = (id: string) => js<string>(`document.querySelector("#${id}").files[0]?.name ?? ""`);

  it("M6-2: a picture dropped anywhere goes to the card under the pointer, else to the last card used; the browser never handles a drop itself", async () => {
    await open();
    /** Drops `name` on `target`: the page takes it (both events cancelled) into the picture field `into`. */
    const dropsInto = async (target: string, name: string, into: string) => {
      expect(await drop(target, name), target).toEqual({ dragover: true, drop: true });
      expect(await chosen(into), target).toBe(name);
    };
    // Onto a card's caption field: that card's picture.
    await dropsInto("#meme-bottom", "a.png", "meme-image");
    await dropsInto("#morph-form .label", "b.png", "morph-image");
    await dropsInto("#faces", "c.png", "save-photo");
    // Outside every card: the last card used.
    await page.click("#meme-top");
    await dropsInto("h1", "d.png", "meme-image");
    await dropsInto("body", "e.png", "meme-image");
    // The zones themselves still take their drop (once).
    await dropsInto("label.drop[for=morph-image]", "f.png", "morph-image");
    expect(await page.textContent("label.drop[for=morph-image] span")).toBe("f.png");
  }, 60_000);

  it("M6-3: the page states the caption limit up front, counts characters as people see them, and names the caption that is too long", async () => {
    await open();
    for (const [id, words] of [["meme-top", "top caption"], ["meme-bottom", "bottom caption"], ["morph-bottom", "caption"]] as const) {
      const field = page.locator(`#${id}`);
      const hint = await field.getAttribute("aria-describedby");
      expect(hint, `${id} is described by a hint`).toBeTruthy();
      expect(await page.isVisible(`#${hint}`)).toBe(true);
      expect(await page.textContent(`#${hint}`)).toMatch(/200 characters/);
      // 200 emoji of several code points each are 200 characters: accepted.
      await field.fill("👍🏽".repeat(200));
      expect(await field.evaluate((i) => (i as unknown as { validity: { valid: boolean } }).validity.valid), `${id}: 200 emoji`).toBe(true);
      await field.fill("x".repeat(300));
      expect(await field.evaluate((i) => (i as unknown as { validity: { valid: boolean } }).validity.valid), `${id}: 300 characters`).toBe(false);
      const said = await field.evaluate((i) => (i as unknown as { validationMessage: string }).validationMessage);
      expect(said.toLowerCase()).toContain(words);
      expect(said).toContain("300");
      expect((await page.textContent(`#${hint}`))!.toLowerCase()).toContain(words);
      await field.fill("");
    }
    // Top and bottom read differently; nothing is sent while one is too long.
    await page.setInputFiles("#meme-image", file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
    await page.fill("#meme-bottom", "y".repeat(250));
    await page.click("#meme-form button[type=submit]");
    await shot("m6-3-caption-too-long");
    expect(await page.isHidden("#output"), "nothing was sent").toBe(true);
    expect(await page.locator("#meme-bottom").evaluate((i) => (i as unknown as { validationMessage: string }).validationMessage)).toMatch(/^The bottom caption is too long \(250 characters\)/);
  }, 60_000);

  it("M6-4: a face deleted in another tab: after the error (and when the tab is shown again) the page reloads the faces and picks the default", async () => {
    await open();
    await saveFace("me");
    await saveFace("work");
    const other = await context!.newPage();
    other.on("pageerror", (e) => pageErrors.push(e.message));
    await other.goto(playground!.url);
    await other.waitForSelector('#meme-faces .tile[data-face="work"]');
    await other.click('#meme-faces .tile[data-face="work"]');
    await other.click('#morph-faces .tile[data-face="work"]');
    // Deleted in the first tab.
    await page.click('#faces li[data-name="work"] button[aria-label="Delete “work”"]');
    await page.click('#faces li[data-name="work"] button[aria-label="Delete “work” (confirm)"]');
    await page.waitForFunction(`document.querySelector('#faces li[data-name="work"]') === null`);

    await other.setInputFiles("#meme-image", file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
    await other.click("#meme-form button[type=submit]");
    await other.waitForFunction(`/no face named/.test(document.querySelector("#message").textContent)`);
    await other.waitForFunction(`document.querySelector('#meme-faces .tile[data-face="work"]') === null`, undefined, { timeout: 10_000 });
    expect(await other.inputValue("#meme-template")).toBe("");
    expect(await other.getAttribute('#meme-faces .tile[data-face=""]', "aria-pressed")).toBe("true");
    expect(await other.inputValue("#morph-template")).toBe("");
    await other.click("#meme-form button[type=submit]");
    await other.waitForFunction(`/^Here you go/.test(document.querySelector("#message").textContent)`);

    // Shown again after a delete elsewhere: the list catches up.
    expect((await app!.core.faceRemove(local(), { name: "me" })).errorCode).toBeUndefined();
    await other.evaluate(`document.dispatchEvent(new Event("visibilitychange"))`);
    await other.waitForFunction(`document.querySelector('#faces li[data-name="me"]') === null`, undefined, { timeout: 10_000 });
    await other.close();
  }, 60_000);

  it("M6-5: “Show my usage” shows the usage on its own, not above the last result", async () => {
    await open();
    await saveFace("me");
    expect(await meme()).toMatch(/^Here you go/);
    await page.click("#usage-button");
    await page.waitForFunction(`/\\d/.test(document.querySelector("#usage-note")?.textContent ?? "")`);
    await shot("m6-5-usage");
    const usage = (await page.textContent("#usage-note"))!;
    // The result and its answer are still where they were, apart from the usage.
    expect(await page.textContent("#message")).toMatch(/^Here you go/);
    expect(await resultShown()).toBe(true);
    expect(await js<boolean>(`document.querySelector("#output").contains(document.querySelector("#usage-note"))`)).toBe(false);
    expect(usage).not.toMatch(/^Here you go/);
  }, 60_000);

  it("M6-6: an “already in progress” note on one card goes once the job that caused it ends", async () => {
    await morphWhileMemeRuns(1500);
    expect(await answer()).toMatch(/^Here you go/);
    await page.waitForFunction(`document.querySelector("#morph-form .note").textContent === ""`, undefined, { timeout: 5_000 });
  }, 60_000);

  it("M6-7: with two jobs at once, both results stay available", async () => {
    await open({ env: { QUEUE_PER_USER: "2" } });
    await saveFace("me");
    await page.setInputFiles("#meme-image", file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
    await page.fill("#meme-top", "wait:2500");
    await page.click("#meme-form button[type=submit]");
    await page.waitForFunction(`/^Working on it: /.test(document.querySelector("#progress-text")?.textContent ?? "")`);
    await page.setInputFiles("#morph-image", file("laugh.jpg", "image/jpeg", REACTION_LAUGH_JPG));
    await page.click("#morph-form button[type=submit]");
    await page.waitForFunction(`document.querySelector("#morph-form button[type=submit]").disabled === false`, undefined, { timeout: 20_000 });
    expect(await answer()).toMatch(/^Here you go/);
    await page.waitForFunction(`document.querySelector("#meme-form button[type=submit]").disabled === false`, undefined, { timeout: 20_000 });
    await page.waitForTimeout(200);
    await shot("m6-7-both-results");
    const links = await js<{ name: string; size: number }[]>(`Promise.all([...document.querySelectorAll("#output a[download]")].map(async (a) => ({ name: a.download, size: (await (await fetch(a.href)).blob()).size })))`);
    expect(links.length, JSON.stringify(links)).toBeGreaterThanOrEqual(2);
    expect(links.every((l) => l.size > 0)).toBe(true);
    expect(await page.isVisible("#result")).toBe(true);
  }, 60_000);
});
