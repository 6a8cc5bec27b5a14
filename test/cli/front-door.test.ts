import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/mimic.mjs", ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: "silent" } }, (err, _out, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

const meme = (...extra: string[]) =>
  mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", fixture("franck_04117.jpg"), "--out", join(dir, "m.png"), ...extra);

describe("mimic meme: the same front door", () => {
  it("refuses TIFF and AVIF as the playground does (the CLI accepted them)", async () => {
    for (const fmt of ["tiff", "avif"] as const) {
      const file = join(dir, `r.${fmt}`);
      writeFileSync(file, await sharp(fixture("franck_04117.jpg"))[fmt]().toBuffer());
      const r = await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", file, "--out", join(dir, "t.png"));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("That file is not a picture I can use. Please send a JPEG, PNG, WebP or GIF image.");
    }
  });

  it("has the bots' caption limit, in the same words", async () => {
    const r = await meme("--top", "é".repeat(201));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("That caption is too long (201 characters): the limit is 200 characters per caption.");
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
