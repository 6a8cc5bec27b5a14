import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";

/**
 * The real CLI (bin/mimic.mjs, compiled dist/) answers as the bots and the playground do (issue #15): the
 * same formats, the same caption limit and the same words, asserted literally here and in
 * test/bots/front-door.test.ts for the playground.
 */
const root = fileURLToPath(new URL("../../", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/faces/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "mimic-cli-door-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mimic(...args: string[]): Promise<{ code: number; stderr: string }> {
  return mimicWith({}, ...args);
}

function mimicWith(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/mimic.mjs", ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: "silent", ...env } }, (err, _out, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

const meme = (...extra: string[]) =>
  mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", fixture("franck_04117.jpg"), "--out", join(dir, "m.png"), ...extra);

describe("mimic meme: the same front door", () => {
  it("refuses TIFF as the playground does (the CLI accepted it); reads AVIF (a browser's saved picture), as the bots do", async () => {
    const tiff = join(dir, "r.tiff");
    writeFileSync(tiff, await sharp(fixture("franck_04117.jpg")).tiff().toBuffer());
    const r = await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", tiff, "--out", join(dir, "t.png"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("That file is not a picture I can use. Please send a JPEG, PNG, WebP or GIF image, or an MP4 or WebM clip.");

    const avif = join(dir, "r.avif");
    writeFileSync(avif, await sharp(fixture("franck_04117.jpg")).avif().toBuffer());
    const out = join(dir, "avif.png");
    const made = await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", avif, "--out", out);
    expect(made.code, made.stderr).toBe(0);
    expect((await sharp(out).metadata()).format).toBe("png");
  });

  it("has the bots' caption limit, in the same words", async () => {
    const r = await meme("--top", "é".repeat(201));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("The top caption is too long (201 characters): the limit is 200 characters per caption.");
  });

  it("refuses an unknown flag by its name, as the playground refuses an unknown field", async () => {
    const out = join(dir, "unknown-flag.png");
    const r = await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", fixture("franck_04117.jpg"), "--out", out, "--colour", "red");
    // A usage mistake exits 2, as a refused value does (commander's own would be 1).
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--colour'");
    expect(existsSync(out)).toBe(false);
  });

  it("refuses an unknown mode by the flag's name", async () => {
    const r = await meme("--mode", "evil");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--mode must be mimic or swap (got “evil”).");
  });

  it("tells what it left out of a caption", async () => {
    const r = await meme("--top", "hi ሰ");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("note: I have no font for ሰ (U+1230), so it was left out of the caption.");
  });
});

describe("the CLI passes its configuration to the pipeline (which reads no environment)", () => {
  it("MAX_INPUT_PIXELS and ORT_EXECUTION_PROVIDER reach meme, morph, analyze and face save", async () => {
    const small = { MAX_INPUT_PIXELS: "300000" };
    const tooLarge = /That picture is too large \(720×576 pixels\): the limit is 0\.3 megapixels/;
    // A PNG: a JPEG over the limit is read scaled down to it.
    const reaction = join(dir, "franck_04117.png");
    writeFileSync(reaction, await sharp(fixture("franck_04117.jpg")).png().toBuffer());
    expect((await mimicWith(small, "meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", reaction, "--out", join(dir, "p.png"))).stderr).toMatch(tooLarge);
    expect((await mimicWith(small, "morph", "--from", fixture("grace_hopper_512x512.jpg"), "--to", reaction, "--out", join(dir, "p.gif"))).stderr).toMatch(tooLarge);
    expect((await mimicWith(small, "analyze", reaction)).stderr).toMatch(tooLarge);
    const cuda = await mimicWith({ ORT_EXECUTION_PROVIDER: "cuda", DATA_DIR: dir, DATABASE_URL: `file:${join(dir, "m.db")}` }, "face", "add", fixture("grace_hopper_512x512.jpg"), "--name", "me");
    expect(cuda.code).not.toBe(0);
    expect(cuda.stderr).toMatch(/ORT_EXECUTION_PROVIDER=cuda/);
    expect((await mimicWith({ ORT_EXECUTION_PROVIDER: "cuda" }, "analyze", fixture("astronaut.png"))).stderr).toMatch(/ORT_EXECUTION_PROVIDER=cuda/);
  });
});
