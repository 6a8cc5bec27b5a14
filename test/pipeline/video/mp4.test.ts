import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeVideo, encodeAnimation, encodeMp4, findFfmpeg, frameTiming } from "../../../src/pipeline/video/index.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";
import { image, psnr } from "../gif/helpers.ts";

const FFMPEG = findFfmpeg();
const dir = mkdtempSync(join(tmpdir(), "mimic-video-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A smooth scene whose bright disc moves across it: what a morph looks like to an encoder. */
function scene(n: number, w = 96, h = 64, textured = false): RgbImage[] {
  return Array.from({ length: n }, (_, i) =>
    image(w, h, (x, y) => {
      const d = Math.hypot(x - 20 - i * 6, y - 32);
      return d < 14 ? [240, 200, 60] : [(x * 2) & 255, (y * 3) & 255, textured ? (x * y) & 255 : 120];
    }),
  );
}

describe("MP4 encoding with the bundled ffmpeg", () => {
  it("finds the binary @ffmpeg-installer ships for this platform", () => {
    expect(FFMPEG, "no ffmpeg for linux-x64 in node_modules/@ffmpeg-installer").toMatch(/ffmpeg$/);
  });

  it("writes a silent H.264 MP4 that decodes back to the same frames", async () => {
    const frames = scene(8);
    const v = await encodeMp4(frames, { delaysMs: 100, ffmpegPath: FFMPEG! });
    expect(Buffer.from(v.bytes.subarray(4, 8)).toString("latin1")).toBe("ftyp");
    expect([v.width, v.height, v.fps, v.frames]).toEqual([96, 64, 10, 8]);
    const d = await decodeVideo(v.bytes, FFMPEG!);
    expect(d.codec).toBe("h264");
    expect(d.frames).toHaveLength(8);
    for (let i = 0; i < 8; i++) expect(psnr(d.frames[i], frames[i])).toBeGreaterThan(30);
    // The disc moves: frame 7 is not frame 0 (a video of one repeated frame would pass the loop above only by luck).
    expect(psnr(d.frames[7], frames[0])).toBeLessThan(25);
  });

  it("repeats frames to keep per-frame delays and crops odd sides to even", async () => {
    expect(frameTiming([40, 80, 120])).toEqual({ fps: 25, repeats: [1, 2, 3] });
    // Mixed delays keep the animation's length: ticks are rounded on the running total, not frame by frame.
    for (const delays of [Array.from({ length: 48 }, (_, i) => (i % 3 === 2 ? 40 : 30)), Array.from({ length: 48 }, (_, i) => (i % 2 ? 30 : 20))]) {
      const { fps, repeats } = frameTiming(delays);
      const played = (repeats.reduce((a, b) => a + b, 0) * 1000) / fps;
      const wanted = delays.reduce((a, b) => a + b, 0);
      expect(Math.abs(played - wanted), `${delays.slice(0, 3)}…`).toBeLessThanOrEqual(1000 / fps);
    }
    const frames = scene(3, 33, 21);
    const v = await encodeMp4(frames, { delaysMs: [40, 80, 120], ffmpegPath: FFMPEG! });
    const d = await decodeVideo(v.bytes, FFMPEG!);
    expect([d.width, d.height, d.frames.length]).toEqual([32, 20, 6]);
  });

  it("raises the CRF to meet a byte budget and refuses with a typed error when it cannot", async () => {
    const frames = scene(12);
    const free = await encodeMp4(frames, { delaysMs: 80, ffmpegPath: FFMPEG! });
    const tight = await encodeMp4(frames, { delaysMs: 80, ffmpegPath: FFMPEG!, maxBytes: free.bytes.byteLength - 1 });
    expect(tight.reductions.length).toBeGreaterThan(0);
    expect(tight.bytes.byteLength).toBeLessThan(free.bytes.byteLength);
    await expect(encodeMp4(frames, { delaysMs: 80, ffmpegPath: FFMPEG!, maxBytes: 100 })).rejects.toMatchObject({ code: "IMAGE_TOO_LARGE" });
  });

  it("bounds ffmpeg's time: a hung binary is killed with a TIMEOUT", async () => {
    const hang = join(dir, "hang.sh");
    writeFileSync(hang, "#!/bin/sh\nexec sleep 30\n");
    chmodSync(hang, 0o755);
    await expect(encodeMp4(scene(2), { delaysMs: 100, ffmpegPath: hang, timeoutMs: 300 })).rejects.toMatchObject({ code: "TIMEOUT" });
  });

  it("refuses oversized input before starting ffmpeg", async () => {
    const big = { width: 5000, height: 2, data: new Uint8Array(5000 * 2 * 3) };
    await expect(encodeMp4([big], { delaysMs: 100, ffmpegPath: FFMPEG! })).rejects.toMatchObject({ code: "IMAGE_TOO_LARGE" });
    await expect(encodeMp4(scene(2), { delaysMs: [100], ffmpegPath: FFMPEG! })).rejects.toMatchObject({ code: "BAD_INPUT" });
  });
});

describe("animation format choice", () => {
  it("mp4 where the binary exists, GIF where none does (missing path, or FFMPEG_PATH=none)", async () => {
    const frames = scene(4);
    const mp4 = await encodeAnimation(frames, { delaysMs: [100, 100, 100, 100], format: "mp4", ffmpegPath: FFMPEG });
    expect(mp4.mime).toBe("video/mp4");
    expect(findFfmpeg(join(dir, "no-such-ffmpeg"))).toBeUndefined();
    expect(findFfmpeg("none")).toBeUndefined();
    const gif = await encodeAnimation(frames, { delaysMs: [100, 100, 100, 100], format: "mp4", ffmpegPath: findFfmpeg(join(dir, "no-such-ffmpeg")) });
    expect(gif.mime).toBe("image/gif");
    expect(Buffer.from(gif.bytes.subarray(0, 6)).toString("latin1")).toBe("GIF89a");
  });

  it("a binary that fails still yields the GIF", async () => {
    const broken = join(dir, "broken.sh");
    writeFileSync(broken, "#!/bin/sh\necho broken >&2\nexit 3\n");
    chmodSync(broken, 0o755);
    const r = await encodeAnimation(scene(3), { delaysMs: [100, 100, 100], format: "mp4", ffmpegPath: findFfmpeg(broken) });
    expect(r.mime).toBe("image/gif");
  });

  it("gif-or-mp4 keeps the GIF when it fits and sends the MP4 when the GIF had to give up quality", async () => {
    const frames = scene(10, 192, 128, true);
    const delaysMs = frames.map(() => 80);
    const roomy = await encodeAnimation(frames, { delaysMs, format: "gif-or-mp4", ffmpegPath: FFMPEG });
    expect(roomy.mime).toBe("image/gif");
    expect(roomy.reductions).toEqual([]);
    const tight = await encodeAnimation(frames, { delaysMs, format: "gif-or-mp4", ffmpegPath: FFMPEG, maxBytes: Math.floor(roomy.bytes.byteLength / 2) });
    expect(tight.mime).toBe("video/mp4");
    expect(tight.bytes.byteLength).toBeLessThanOrEqual(Math.floor(roomy.bytes.byteLength / 2));
    const noBinary = await encodeAnimation(frames, { delaysMs, format: "gif-or-mp4", maxBytes: Math.floor(roomy.bytes.byteLength / 2) });
    expect(noBinary.mime).toBe("image/gif");
    expect(noBinary.reductions.length).toBeGreaterThan(0);
  });
});
