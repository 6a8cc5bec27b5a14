/**
 * `mimic meme` with a reaction that shows two faces says, as the bots do, that it used the largest; a face picked
 * with --face-index gets no such note (the bots cannot pick one, so they have no words for it). Through the real
 * CLI, for each way the CLI chooses the reaction face: a still to a PNG, a still to a GIF (a morph), an animation
 * to a GIF. SLOW: it spawns the CLI.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeGif } from "../../src/pipeline/gif/index.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/faces/${name}`, import.meta.url));
const mimic = (...args: string[]) => run(process.execPath, ["bin/mimic.mjs", ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: "silent" } });
const dir = mkdtempSync(join(tmpdir(), "mimic-meme-faces-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The bots' words (reactionFacesNote) as the CLI prints a note. */
const TWO_FACES = "note: The reaction shows 2 faces; I used the largest.\n";
const face = fixture("grace_hopper_512x512.jpg");

/** franck (smiling, then laughing) with grace beside him, smaller: two faces a frame. */
async function twoFaceFrames() {
  const grace = await sharp(face).resize(280).toBuffer();
  return Promise.all(
    ["franck_02221.jpg", "franck_04117.jpg"].map(async (f) => {
      const { data, info } = await sharp(fixture(f)).resize(360, 288).extend({ right: 300, background: "#808080" })
        .composite([{ input: grace, left: 370, top: 4 }]).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      return { data: new Uint8Array(data), width: info.width, height: info.height };
    }),
  );
}

const still = join(dir, "pair.png");
const animation = join(dir, "pair.gif");

describe("mimic meme with a reaction of two faces", () => {
  beforeAll(async () => {
    const frames = await twoFaceFrames();
    const first = frames[0]!;
    writeFileSync(still, await sharp(first.data, { raw: { width: first.width, height: first.height, channels: 3 } }).png().toBuffer());
    writeFileSync(animation, (await encodeGif(frames, { delaysMs: 200 })).bytes);
  });

  it("a still to a PNG: says it used the largest; with --face-index 1, no note, and the summary names face 1 of 2", async () => {
    const largest = await mimic("meme", "--face", face, "--reaction", still, "--out", join(dir, "still-0.png"));
    expect(largest.stdout).toMatch(/reaction face 0 of 2/);
    expect(largest.stderr).toContain(TWO_FACES);
    const picked = await mimic("meme", "--face", face, "--reaction", still, "--out", join(dir, "still-1.png"), "--face-index", "1");
    expect(picked.stdout).toMatch(/reaction face 1 of 2/);
    expect(picked.stderr).not.toContain("The reaction shows");
  }, 120_000);

  it("a still to a GIF (a morph): says it used the largest", async () => {
    const largest = await mimic("meme", "--face", face, "--reaction", still, "--out", join(dir, "still-0.gif"), "--frames", "4");
    expect(largest.stderr).toContain(TWO_FACES);
  }, 120_000);

  it("an animation to a GIF: says it used the largest; with --face-index 1, no note", async () => {
    const largest = await mimic("meme", "--face", face, "--reaction", animation, "--out", join(dir, "anim-0.gif"));
    expect(largest.stderr).toContain(TWO_FACES);
    const picked = await mimic("meme", "--face", face, "--reaction", animation, "--out", join(dir, "anim-1.gif"), "--face-index", "1");
    expect(picked.stderr).not.toContain("The reaction shows");
  }, 120_000);
});
