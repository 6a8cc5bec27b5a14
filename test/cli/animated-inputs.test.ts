import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { findFfmpeg } from "../../src/pipeline/video/index.ts";
import { writeApng } from "../pipeline/animate/apng-writer.ts";

/**
 * `mimic meme` and `mimic morph` (the real CLI, compiled dist/: run `node tools/setup.mjs --build-only` after
 * editing src/) read reactions by one path: upright, APNG animated, long or large GIFs sampled and scaled.
 */
const root = fileURLToPath(new URL("../../", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/faces/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "mimic-cli-anim-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FACE = fixture("grace_hopper_512x512.jpg");
const FFMPEG = findFfmpeg();
if (!FFMPEG) console.warn("long/large GIF tests skipped: no ffmpeg binary (@ffmpeg-installer ships none for this platform), and a GIF is sampled by ffmpeg");

function mimic(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/mimic.mjs", ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: "silent", DATA_DIR: dir } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** An output GIF's frame size, frame count and length. */
async function gifFacts(file: string): Promise<{ width: number; height: number; pages: number; ms: number }> {
  const m = await sharp(readFileSync(file), { animated: true }).metadata();
  return { width: m.width ?? 0, height: m.pageHeight ?? m.height ?? 0, pages: m.pages ?? 1, ms: (m.delay ?? []).reduce((a, b) => a + b, 0) };
}

const gifenc = createRequire(import.meta.url)("gifenc") as {
  GIFEncoder: () => { writeFrame(i: Uint8Array, w: number, h: number, o: { palette: number[][]; delay?: number }): void; finish(): void; bytes(): Uint8Array };
  quantize: (rgba: Uint8Array, n: number) => number[][];
  applyPalette: (rgba: Uint8Array, p: number[][]) => Uint8Array;
};

/** RGBA of the two reaction photos at `width`: franck at rest, then laughing. */
async function restAndLaugh(width: number) {
  return Promise.all(
    ["franck_01829.jpg", "franck_04117.jpg"].map(async (f) => {
      const { data, info } = await sharp(fixture(f)).resize({ width }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      return { rgba: new Uint8Array(data), width: info.width, height: info.height };
    }),
  );
}

/** A GIF of `n` frames of `delay` ms, each the rest or the laugh photo (`pick`). */
async function gif(name: string, width: number, n: number, delay: number, pick: (i: number) => number): Promise<string> {
  const ims = (await restAndLaugh(width)).map((im) => {
    const palette = gifenc.quantize(im.rgba, 256);
    return { ...im, palette, index: gifenc.applyPalette(im.rgba, palette) };
  });
  const enc = gifenc.GIFEncoder();
  for (let i = 0; i < n; i++) {
    const im = ims[pick(i)]!;
    enc.writeFrame(im.index, im.width, im.height, { palette: im.palette, delay });
  }
  enc.finish();
  const file = join(dir, name);
  writeFileSync(file, enc.bytes());
  return file;
}

describe("mimic meme / morph: reactions read by one path", () => {
  it("an EXIF-rotated phone JPEG gives an upright animated swap (--out x.gif, --animate), as the PNG is", async () => {
    for (const [orientation, stored] of [[6, -90], [8, 90]] as const) {
      const file = join(dir, `exif${orientation}.jpg`);
      await sharp(fixture("franck_04117.jpg")).rotate(stored).withMetadata({ orientation }).jpeg().toFile(file);
      const out = join(dir, `swap${orientation}.gif`);
      const r = await mimic("meme", "--face", FACE, "--reaction", file, "--mode", "swap", "--out", out, ...(orientation === 8 ? ["--animate"] : []), "--json");
      expect(r.code, r.stderr).toBe(0);
      expect([JSON.parse(r.stdout).width, JSON.parse(r.stdout).height], `orientation ${orientation}`).toEqual([384, 307]);
      const facts = await gifFacts(out);
      expect([facts.width, facts.height]).toEqual([384, 307]);
    }
  }, 120_000);

  it("an APNG reaction animates frame by frame (it became a morph of its default image)", async () => {
    const [rest, laugh] = await restAndLaugh(240);
    const frames = [rest, rest, laugh, laugh].map((im) => ({ width: im!.width, height: im!.height, rgba: im!.rgba, delayMs: 200 }));
    const file = join(dir, "reaction.png");
    writeFileSync(file, writeApng(rest!.width, rest!.height, frames));
    const out = join(dir, "apng-meme.gif");
    const r = await mimic("meme", "--face", FACE, "--reaction", file, "--out", out, "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).kind).toBe("reaction");
    expect((await gifFacts(out)).ms).toBe(800);
    const morph = join(dir, "apng-morph.gif");
    const m = await mimic("morph", "--from", FACE, "--to", file, "--out", morph, "--json");
    expect(m.code, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout).kind).toBe("reaction");
  }, 120_000);

  it.skipIf(!FFMPEG)("mimic morph reads a long GIF over its whole length, as mimic meme does (it kept the first 48 frames)", async () => {
    // 6 s: at rest for 3 s, then laughing for 3 s.
    const long = await gif("long.gif", 200, 120, 50, (i) => (i < 60 ? 0 : 1));
    const out = join(dir, "morph-long.gif");
    const r = await mimic("morph", "--from", FACE, "--to", long, "--out", out, "--json");
    expect(r.code, r.stderr).toBe(0);
    expect((await gifFacts(out)).ms).toBeGreaterThan(5500);
  }, 180_000);

  it.skipIf(!FFMPEG)("mimic morph scales a GIF over the pixel budget, as mimic meme does (it refused it)", async () => {
    // 48 frames of 640×512: over the pixel budget, scaled rather than refused.
    const large = await gif("large.gif", 640, 48, 80, (i) => i % 2);
    const big = await mimic("morph", "--from", FACE, "--to", large, "--out", join(dir, "morph-large.gif"), "--json");
    expect(big.code, big.stderr).toBe(0);
    expect(JSON.parse(big.stdout).kind).toBe("reaction");
  }, 180_000);
});
