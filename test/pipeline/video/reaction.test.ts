import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { writeFile as writeFileAsync } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MimicError, notAPicture } from "../../../src/errors.ts";
import { decodeVideoReaction, findFfmpeg, runFfmpeg, sniffVideoMime } from "../../../src/pipeline/video/index.ts";
import { decodeReaction, MAX_REACTION_TOTAL_PIXELS, readReaction } from "../../../src/pipeline/animate/index.ts";
import { encodeGif } from "../../../src/pipeline/gif/index.ts";

const FFMPEG = findFfmpeg()!;
const dir = mkdtempSync(join(tmpdir(), "mimic-video-reaction-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** ffmpeg's test pattern (a moving frame counter) as a video file: `seconds` long at `fps`, `size` "WxH". */
async function testVideo(name: string, seconds: number, fps: number, size: string, codec: string[] = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]): Promise<Uint8Array> {
  const out = join(dir, name);
  await runFfmpeg(FFMPEG, ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", `testsrc=size=${size}:rate=${fps}`, "-t", String(seconds), ...codec, "-y", out], { timeoutMs: 60_000 });
  return new Uint8Array(readFileSync(out));
}

const LIMITS = { maxPixels: 40_000_000, maxFrames: 48, maxTotalPixels: 48 * 512 * 512 };

describe("video reactions read by ffmpeg (src/pipeline/video/reaction.ts)", () => {
  it("samples a long clip evenly over its whole length into at most maxFrames frames", async () => {
    const bytes = await testVideo("long.mp4", 10, 30, "320x240");
    expect(sniffVideoMime(bytes)).toBe("video/mp4");
    const v = await decodeVideoReaction(bytes, FFMPEG, LIMITS);
    expect(v.frames.length).toBeLessThanOrEqual(48);
    expect(v.frames.length).toBeGreaterThanOrEqual(44);
    // The display times add up to the clip's length: the whole clip, played at its own pace.
    const total = v.delaysMs.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(9000);
    expect(total).toBeLessThan(11_000);
    expect([v.width, v.height]).toEqual([320, 240]);
    // Consecutive samples differ (the pattern moves), so frames were not repeated.
    const differ = (a: Uint8Array, b: Uint8Array) => a.some((x, i) => x !== b[i]);
    expect(differ(v.frames[0]!.data, v.frames[1]!.data)).toBe(true);
  }, 120_000);

  it("reads a clip minutes long over its first 20 s, not 48 frames ten seconds apart", async () => {
    const v = await decodeVideoReaction(await testVideo("minutes.mp4", 300, 2, "160x120"), FFMPEG, LIMITS);
    expect(v.frames.length).toBe(40);
    expect(v.delaysMs.every((d) => d === 500)).toBe(true);
  }, 120_000);

  it("goes by the picture's own length: a longer sound track, or a WebM that records none, does not change it", async () => {
    const picture = join(dir, "four-seconds.mp4");
    await writeFileAsync(picture, await testVideo("four.mp4", 4, 12, "160x120"));
    const withSound = join(dir, "sound-outlasts.mp4");
    await runFfmpeg(FFMPEG, ["-hide_banner", "-loglevel", "error", "-i", picture, "-f", "lavfi", "-t", "60", "-i", "anullsrc=r=8000:cl=mono",
      "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-y", withSound], { timeoutMs: 120_000 });
    const a = await decodeVideoReaction(new Uint8Array(readFileSync(withSound)), FFMPEG, LIMITS);
    expect(a.frames.length).toBe(48);
    expect(a.delaysMs.reduce((x, y) => x + y, 0)).toBeGreaterThan(3500);
    expect(a.delaysMs.reduce((x, y) => x + y, 0)).toBeLessThan(4500);
    const live = join(dir, "live.webm");
    await runFfmpeg(FFMPEG, ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "8", "-c:v", "libvpx-vp9", "-b:v", "100k", "-live", "1", "-f", "webm", "-y", live], { timeoutMs: 120_000 });
    const b = await decodeVideoReaction(new Uint8Array(readFileSync(live)), FFMPEG, LIMITS);
    expect(b.delaysMs.reduce((x, y) => x + y, 0)).toBeGreaterThan(7000);
  }, 180_000);

  it("keeps a short clip's own frame rate, up to 25 a second", async () => {
    const v = await decodeVideoReaction(await testVideo("short.mp4", 1, 12, "160x120"), FFMPEG, LIMITS);
    expect(v.frames.length).toBe(12);
    expect(v.delaysMs.every((d) => d === 83)).toBe(true);
    const fast = await decodeVideoReaction(await testVideo("fast.mp4", 1, 50, "160x120"), FFMPEG, LIMITS);
    expect(fast.frames.length).toBe(25);
  }, 120_000);

  it("scales a large clip down to fit the frames' pixel budget; one frame for a still", async () => {
    const bytes = await testVideo("big.mp4", 2, 24, "1920x1080");
    const v = await decodeVideoReaction(bytes, FFMPEG, LIMITS);
    expect(v.frames.length).toBe(48);
    expect(v.width * v.height * v.frames.length).toBeLessThanOrEqual(LIMITS.maxTotalPixels);
    expect(v.width / v.height).toBeCloseTo(16 / 9, 1);
    const still = await decodeVideoReaction(bytes, FFMPEG, { ...LIMITS, maxFrames: 1 });
    expect(still.frames.length).toBe(1);
    expect([still.width, still.height]).toEqual([1920, 1080]);
    // The still is the clip's first frame, not one from its middle (the pattern's counter moves every frame).
    const raw = async (at: string) =>
      (await runFfmpeg(FFMPEG, ["-hide_banner", "-loglevel", "error", "-ss", at, "-i", join(dir, "big.mp4"), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], { timeoutMs: 60_000 })).stdout;
    const meanDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((sum, x, i) => sum + Math.abs(x - b[i]!), 0) / a.length;
    const [first, middle] = [await raw("0"), await raw("1")];
    expect(meanDiff(still.frames[0]!.data, first)).toBeLessThan(1);
    expect(meanDiff(still.frames[0]!.data, middle)).toBeGreaterThan(3);
  }, 120_000);

  it("reads the first video stream only, and checks that one's size: a huge second stream is never decoded", async () => {
    const out = join(dir, "two-streams.mp4");
    await runFfmpeg(FFMPEG, ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=4", "-f", "lavfi", "-i", "color=gray:size=4000x4000:rate=4", "-t", "1",
      "-map", "0:v", "-map", "1:v", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-y", out], { timeoutMs: 120_000 });
    const v = await decodeVideoReaction(new Uint8Array(readFileSync(out)), FFMPEG, { ...LIMITS, maxPixels: 1_000_000 });
    expect([v.width, v.height]).toEqual([160, 120]);
    // The test pattern, not the grey of the second stream.
    expect(new Set(v.frames[0]!.data).size).toBeGreaterThan(20);
  }, 120_000);

  it("a phone's portrait clip (stored landscape, rotated 90°) comes out portrait, not squashed", async () => {
    const landscape = join(dir, "landscape.mp4");
    await writeFileAsync(landscape, await testVideo("plain.mp4", 1, 10, "320x240"));
    const rotated = join(dir, "rotated.mp4");
    await runFfmpeg(FFMPEG, ["-hide_banner", "-loglevel", "error", "-i", landscape, "-c", "copy", "-metadata:s:v:0", "rotate=90", "-y", rotated], { timeoutMs: 60_000 });
    const v = await decodeVideoReaction(new Uint8Array(readFileSync(rotated)), FFMPEG, LIMITS);
    expect([v.width, v.height]).toEqual([240, 320]);
  }, 120_000);

  it("says a file with sound but no picture has no picture", async () => {
    const out = join(dir, "sound.mp4");
    await runFfmpeg(FFMPEG, ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", "-y", out], { timeoutMs: 60_000 });
    const e = await decodeVideoReaction(new Uint8Array(readFileSync(out)), FFMPEG, LIMITS).then(() => undefined, (x: unknown) => x as MimicError);
    // The formats in the words every other refusal of a reaction file uses.
    expect(e?.userMessage).toBe("That file has sound but no picture. Please send a JPEG, PNG, WebP or GIF image, or an MP4 or WebM clip.");
    expect(notAPicture({ clips: true }).userMessage).toMatch(/Please send a JPEG, PNG, WebP or GIF image, or an MP4 or WebM clip\.$/);
  }, 120_000);

  it("reads WebM too", async () => {
    const bytes = await testVideo("clip.webm", 1, 10, "160x120", ["-c:v", "libvpx-vp9", "-b:v", "200k"]);
    expect(sniffVideoMime(bytes)).toBe("video/webm");
    expect((await decodeVideoReaction(bytes, FFMPEG, LIMITS)).frames.length).toBe(10);
  }, 120_000);

  it("a transparent WebM (a Telegram video sticker) is read onto white, as stickers are shown, not onto black", async () => {
    const out = join(dir, "sticker.webm");
    // The pattern with its left half transparent, over a black backdrop that only a reader dropping alpha would show.
    const pattern = "testsrc=size=160x120:rate=10,format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='if(lt(X,80),0,255)'";
    await runFfmpeg(FFMPEG, ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", pattern, "-t", "1", "-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-y", out], { timeoutMs: 60_000 });
    const v = await decodeVideoReaction(new Uint8Array(readFileSync(out)), FFMPEG, LIMITS);
    expect(v.frames.length).toBe(10);
    const f = v.frames[5]!;
    const mean = (x0: number, x1: number) => {
      let sum = 0, n = 0;
      for (let y = 10; y < 110; y++) for (let x = x0; x < x1; x++) for (let c = 0; c < 3; c++) (sum += f.data[(y * 160 + x) * 3 + c]!), n++;
      return sum / n;
    };
    expect(mean(4, 72)).toBeGreaterThan(250);
    expect(mean(88, 156)).toBeLessThan(200);
  }, 120_000);

  it("a GIF past the frame bounds is read as a clip: sampled over its whole length, large frames scaled, not cut or refused", async () => {
    // 6 s of 50 ms frames: dark for the first half, bright for the second (a reaction whose punchline comes late).
    // A flat level with a black bar moving across it, so no two frames are alike (an encoder merges repeats).
    const level = (v: number, w: number, h: number, bar = 0) => {
      const data = new Uint8Array(w * h * 3).fill(v);
      for (let y = 0; y < h; y++) data.fill(0, (y * w + (bar % (w - 4))) * 3, (y * w + (bar % (w - 4)) + 4) * 3);
      return { width: w, height: h, data };
    };
    const long = await encodeGif(Array.from({ length: 120 }, (_, i) => level(i < 60 ? 40 : 200, 96, 80, i)), { delaysMs: 50 });
    const v = await readReaction(long.bytes, { ffmpegPath: FFMPEG });
    expect(v.frames.length).toBe(48);
    const total = v.delaysMs.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(5500);
    expect(total).toBeLessThan(6500);
    const mean = (i: number) => v.frames[i]!.data.reduce((a, b) => a + b, 0) / v.frames[i]!.data.length;
    expect(mean(0)).toBeLessThan(50);
    expect(mean(47)).toBeGreaterThan(170);
    // 50 frames of 640×480: over the pixel budget for 48 frames, so scaled to fit rather than refused.
    const large = await encodeGif(Array.from({ length: 50 }, (_, i) => level(120, 640, 480, i * 8)), { delaysMs: 100 });
    const fitted = await readReaction(large.bytes, { ffmpegPath: FFMPEG });
    expect(fitted.frames.length).toBeGreaterThanOrEqual(40);
    expect(fitted.width * fitted.height * fitted.frames.length).toBeLessThanOrEqual(MAX_REACTION_TOTAL_PIXELS);
    expect(fitted.width / fitted.height).toBeCloseTo(4 / 3, 1);
    // A GIF within the bounds is read by sharp exactly as before.
    const short = await encodeGif(Array.from({ length: 5 }, (_, i) => level(120, 96, 80, i * 10)), { delaysMs: 70 });
    expect(await readReaction(short.bytes, { ffmpegPath: FFMPEG })).toEqual(await decodeReaction(short.bytes));
  }, 120_000);

  it("refuses a GIF cut off mid-frame whichever reader it goes to; without ffmpeg, a clip is refused in words a Telegram user can follow", async () => {
    const damaged = "That file looks damaged or incomplete (maybe the upload was cut off). Please send it again.";
    const noise = (i: number) => ({ width: 96, height: 80, data: new Uint8Array(96 * 80 * 3).map((_, k) => (k * 7 + i * 13) % 251) });
    // Past the frame bounds (read by ffmpeg) and within them (read by sharp), each cut in half.
    for (const frames of [60, 6]) {
      const gif = (await encodeGif(Array.from({ length: frames }, (_, i) => noise(i)), { delaysMs: 50 })).bytes;
      const cut = gif.slice(0, Math.floor(gif.length / 2));
      for (const still of [false, true]) {
        const e = await readReaction(cut, { ffmpegPath: FFMPEG, still }).then(() => undefined, (x: unknown) => x);
        expect(e, `${frames} frames, still ${still}`).toBeInstanceOf(MimicError);
        expect((e as MimicError).userMessage).toBe(damaged);
      }
    }
    const clip = await testVideo("noffmpeg.mp4", 1, 10, "160x120");
    const e = await readReaction(clip, { ffmpegPath: null }).then(() => undefined, (x: unknown) => x);
    expect((e as MimicError).userMessage).toBe(
      "This Mimic cannot read clips (it has no ffmpeg), and GIFs sent in a chat often arrive as clips. Please send a photo or another still picture instead.",
    );
  }, 120_000);

  it("refuses damaged, oversized and non-video files with a message for the user", async () => {
    const bytes = await testVideo("cut.mp4", 2, 10, "320x240");
    const refusal = async (b: Uint8Array, limits = LIMITS) => {
      const e = await decodeVideoReaction(b, FFMPEG, limits).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(MimicError);
      return e as MimicError;
    };
    const cut = await refusal(bytes.slice(0, 600));
    expect([cut.code, cut.userMessage]).toEqual(["NOT_AN_IMAGE", "That file looks damaged or incomplete (maybe the upload was cut off). Please send it again."]);
    expect((await refusal(new TextEncoder().encode("not a video at all"))).code).toBe("NOT_AN_IMAGE");
    // AVIF and HEIC share MP4's container: their brand says they are pictures, not videos.
    const box = (brand: string) => new Uint8Array([0, 0, 0, 0x18, ...new TextEncoder().encode(`ftyp${brand}`), 0, 0, 0, 0]);
    expect([box("avif"), box("heic"), box("mif1"), box("isom"), box("mp42")].map(sniffVideoMime)).toEqual([undefined, undefined, undefined, "video/mp4", "video/mp4"]);
    const big = await refusal(bytes, { ...LIMITS, maxPixels: 10_000 });
    expect([big.code, big.userMessage]).toEqual(["IMAGE_TOO_LARGE", "That video is too large (320×240). Please send a smaller one."]);
  }, 120_000);
});
