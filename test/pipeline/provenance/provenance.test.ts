import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { crc32 } from "node:zlib";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeGif } from "../../../src/pipeline/gif/index.ts";
import { encodePng } from "../../../src/pipeline/image/index.ts";
import { addMp4Provenance, CREATOR_TOOL, DIGITAL_SOURCE_TYPE, readMarks, TOOL_VERSION } from "../../../src/pipeline/provenance/index.ts";
import { renderMeme } from "../../../src/pipeline/render/index.ts";
import { decodeVideo, encodeMp4 } from "../../../src/pipeline/video/index.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";

/**
 * The provenance marks are read back by independent readers: Debian's exiftool (installed by .ci/run) and
 * sharp/libvips. On a developer machine without exiftool those checks say so and skip (CI fails instead).
 */
const run = promisify(execFile);
const EXIFTOOL = "/usr/bin/exiftool";
const hasExiftool = existsSync(EXIFTOOL);
if (!hasExiftool) console.warn("provenance tests: /usr/bin/exiftool missing (apt-get install libimage-exiftool-perl); exiftool checks skipped");
const root = path.resolve(import.meta.dirname, "../../..");
const ffmpeg = (createRequire(import.meta.url)("@ffmpeg-installer/ffmpeg") as { path: string }).path;
const version = (JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as { version: string }).version;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "mimic-provenance-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function gradient(width: number, height: number, phase = 0): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = (phase * 40 + x + y) & 255;
    }
  }
  return { data, width, height };
}

async function exiftool(bytes: Uint8Array, ext: string): Promise<{ tags: Record<string, unknown>; warnings: string[] }> {
  const file = path.join(dir, `probe-${Math.random().toString(36).slice(2)}.${ext}`);
  await writeFile(file, bytes);
  const { stdout } = await run(EXIFTOOL, ["-j", "-G1", "-a", "-struct", file]);
  const [tags] = JSON.parse(stdout) as Array<Record<string, unknown>>;
  const warnings = Object.entries(tags)
    .filter(([k]) => k.endsWith(":Warning") || k.endsWith(":Error"))
    .map(([, v]) => String(v));
  return { tags, warnings };
}

/** Every XMP tag exiftool found, by name (group stripped). */
const xmpTags = (tags: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(tags).filter(([k]) => k.startsWith("XMP-")).map(([k, v]) => [k.split(":")[1], v]));

describe("provenance marks", () => {
  it("a PNG output carries XMP (iTXt) with the digital source type and the tool, and nothing about the user", async () => {
    const png = await encodePng(gradient(64, 48));
    const r = readMarks(png);
    expect(r).toMatchObject({ format: "png", digitalSourceType: DIGITAL_SOURCE_TYPE, creatorTool: `Mimic ${version}` });
    expect(TOOL_VERSION).toBe(version);

    // Every chunk's CRC, by zlib's own CRC-32 (exiftool and libvips do not check ancillary chunks).
    for (let o = 8; o < png.length; ) {
      const len = png.readUInt32BE(o);
      expect(png.readUInt32BE(o + 8 + len), png.toString("latin1", o + 4, o + 8)).toBe(crc32(png.subarray(o + 4, o + 8 + len)));
      o += 12 + len;
    }
    const meta = await sharp(png).metadata();
    expect(meta.xmp?.toString("utf8")).toContain(`Iptc4xmpExt:DigitalSourceType="${DIGITAL_SOURCE_TYPE}"`);
    expect(meta.width).toBe(64);

    if (!hasExiftool) return;
    const { tags, warnings } = await exiftool(png, "png");
    expect(warnings).toEqual([]);
    expect(tags["XMP-iptcExt:DigitalSourceType"]).toBe(DIGITAL_SOURCE_TYPE);
    expect(tags["XMP-xmp:CreatorTool"]).toBe(CREATOR_TOOL);
    expect(tags["PNG:Software"]).toBe(CREATOR_TOOL);
    // Only these three XMP properties exist: no author, owner, server or input name travels with a file.
    expect(Object.keys(xmpTags(tags)).sort()).toEqual(["CreatorTool", "Description", "DigitalSourceType"]);
  });

  it("the aligned face crop kept in the store is not labelled (no one receives it)", async () => {
    const png = await encodePng(gradient(16, 16), { provenance: false });
    expect(readMarks(png).digitalSourceType).toBeNull();
  });

  it("a GIF output carries a comment and XMP, readable by exiftool, and still decodes frame for frame", async () => {
    const frames = [0, 1, 2].map((k) => gradient(40, 30, k));
    const gif = await encodeGif(frames, { delaysMs: 100 });
    const r = readMarks(gif.bytes);
    expect(r.format).toBe("gif");
    expect(r.digitalSourceType).toBe(DIGITAL_SOURCE_TYPE);
    expect(r.creatorTool).toBe(CREATOR_TOOL);
    expect(r.comments.join(" ")).toContain("generative/algorithmic tools");

    const meta = await sharp(gif.bytes).metadata();
    expect(meta.pages).toBe(gif.frames);
    expect(meta.loop).toBe(0);

    if (!hasExiftool) return;
    const { tags, warnings } = await exiftool(gif.bytes, "gif");
    expect(warnings).toEqual([]);
    expect(tags["XMP-iptcExt:DigitalSourceType"]).toBe(DIGITAL_SOURCE_TYPE);
    expect(tags["XMP-xmp:CreatorTool"]).toBe(CREATOR_TOOL);
    expect(String(tags["File:Comment"])).toContain(CREATOR_TOOL);
    expect(tags["GIF:FrameCount"]).toBe(gif.frames);
  });

  it("an MP4 output carries XMP in a top-level uuid box; ffmpeg decodes it frame for frame and exiftool reads the mark", async () => {
    const frames = [0, 1, 2, 3].map((k) => gradient(64, 48, k));
    const mp4 = await encodeMp4(frames, { delaysMs: 100, ffmpegPath: ffmpeg });
    expect(readMarks(mp4.bytes)).toMatchObject({ format: "mp4", digitalSourceType: DIGITAL_SOURCE_TYPE, creatorTool: CREATOR_TOOL });
    const decoded = await decodeVideo(mp4.bytes, ffmpeg);
    expect(decoded.frames).toHaveLength(mp4.frames);
    // Appending never lands inside a box that runs to the end of the file, nor in a truncated file.
    expect(() => addMp4Provenance(Buffer.from("not an mp4 at all"))).toThrow(/not an MP4/);
    expect(() => addMp4Provenance(mp4.bytes.subarray(0, mp4.bytes.length - 10))).toThrow(/truncated/);

    if (!hasExiftool) return;
    const { tags, warnings } = await exiftool(mp4.bytes, "mp4");
    expect(warnings).toEqual([]);
    expect(tags["XMP-iptcExt:DigitalSourceType"]).toBe(DIGITAL_SOURCE_TYPE);
    expect(tags["XMP-xmp:CreatorTool"]).toBe(CREATOR_TOOL);
  });

  it("the visible mark is drawn only when asked for, in the bottom-right corner when nothing is there", async () => {
    const img = gradient(200, 160);
    const plain = await sharp(await renderMeme(img, {})).raw().toBuffer();
    const marked = await sharp(await renderMeme(img, {}, { visibleMark: true })).raw().toBuffer();
    let inCorner = 0;
    let elsewhere = 0;
    for (let y = 0; y < 160; y++) {
      for (let x = 0; x < 200; x++) {
        const i = (y * 200 + x) * 3;
        const d = Math.abs(plain[i] - marked[i]) + Math.abs(plain[i + 1] - marked[i + 1]) + Math.abs(plain[i + 2] - marked[i + 2]);
        if (d > 30) {
          if (x > 140 && y > 140) inCorner++;
          else elsewhere++;
        }
      }
    }
    expect(elsewhere).toBe(0);
    expect(inCorner).toBeGreaterThan(200);
  });

  it("`mimic inspect` reads the marks back from a file", async () => {
    const file = path.join(dir, "out.png");
    await writeFile(file, await encodePng(gradient(32, 32)));
    const { stdout } = await run(process.execPath, ["bin/mimic.mjs", "inspect", file, "--json"], { cwd: root, env: { ...process.env, LOG_LEVEL: "silent" } });
    const report = JSON.parse(stdout) as { aiEdited: boolean; creatorTool: string; sha256: string };
    expect(report.aiEdited).toBe(true);
    expect(report.creatorTool).toBe(CREATOR_TOOL);
    expect(report.sha256).toMatch(/^[0-9a-f]{64}$/);
    const plain = path.join(dir, "plain.png");
    await writeFile(plain, await encodePng(gradient(32, 32), { provenance: false }));
    const text = await run(process.execPath, ["bin/mimic.mjs", "inspect", plain], { cwd: root, env: { ...process.env, LOG_LEVEL: "silent" } });
    expect(text.stdout).toContain("no AI-edit mark found");
  });
});
