/**
 * `mimic inspect` through the real CLI (bin/mimic.mjs, compiled dist/): a JPEG or WebP copy of a Mimic result
 * that kept its metadata shows the marks, one that did not says so in the usual words, and a damaged file is
 * read as far as its chunks allow or refused in one line (exit 1), never with a stack trace.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { encodePng } from "../../src/pipeline/image/index.ts";
import { addMp4Provenance, CREATOR_TOOL, DIGITAL_SOURCE_TYPE, pngChunk as markChunk, PROVENANCE_COMMENT } from "../../src/pipeline/provenance/marks.ts";
import type { RgbImage } from "../../src/pipeline/types.ts";
import { exitCode, runCli } from "../helpers/cli-run.ts";

const dir = mkdtempSync(join(tmpdir(), "mimic-cli-inspect-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((f) => f()));
});

async function inspect(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const cli = runCli(["inspect", ...args], { ...process.env, LOG_LEVEL: "silent", DATABASE_URL: "", DATA_DIR: join(dir, "data") }, (f) => cleanups.push(f));
  const code = await exitCode(cli);
  return { code, out: cli.out(), err: cli.err() };
}

function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function gradient(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set([(i % width) * 4, Math.floor(i / width) * 5, i & 255], i * 3);
  return { data, width, height };
}

const MARKED = "  marked as edited with generative/algorithmic tools (IPTC compositeWithTrainedAlgorithmicMedia)";

describe("mimic inspect: copies of a Mimic result", () => {
  it("a JPEG and a WebP that kept the metadata (sharp keepMetadata) show the marks, in words and in JSON", async () => {
    const png = await encodePng(gradient(48, 40));
    for (const [format, bytes] of [
      ["jpeg", await sharp(png).keepMetadata().jpeg({ quality: 85 }).toBuffer()],
      ["webp", await sharp(png).keepMetadata().webp({ quality: 80 }).toBuffer()],
    ] as const) {
      const path = file(`copy.${format}`, bytes);
      const text = await inspect(path);
      expect(text, text.err).toMatchObject({ code: 0, err: "" });
      expect(text.out.split("\n")).toEqual([expect.stringMatching(new RegExp(`: ${format.toUpperCase()}, sha256 [0-9a-f]{64}$`)), MARKED, `  tool: ${CREATOR_TOOL}`, ""]);
      const json = await inspect(path, "--json");
      expect(json.code, json.err).toBe(0);
      expect(JSON.parse(json.out)).toMatchObject({ file: path, format, aiEdited: true, digitalSourceType: DIGITAL_SOURCE_TYPE, creatorTool: CREATOR_TOOL });
    }
  });

  it("a PNG that kept the metadata (libvips writes it as zTXt) shows the marks and the comment", async () => {
    const copy = file("copy.png", await sharp(await encodePng(gradient(48, 40))).keepMetadata().resize(24).png().toBuffer());
    expect(await inspect(copy)).toMatchObject({ code: 0, out: expect.stringContaining(`${MARKED}\n  tool: ${CREATOR_TOOL}\n  comment: ${PROVENANCE_COMMENT}\n`) });
  });

  it("a JPEG or WebP re-encoded without metadata (what a chat does) still reads as no marks", async () => {
    const png = await encodePng(gradient(48, 40));
    for (const [name, bytes] of [
      ["chat.jpg", await sharp(png).jpeg({ quality: 85 }).toBuffer()],
      ["chat.webp", await sharp(png).webp({ quality: 80 }).toBuffer()],
    ] as const) {
      const path = file(name, bytes);
      expect(await inspect(path)).toMatchObject({ code: 0, out: expect.stringContaining("\n  not a PNG, GIF or MP4: no marks read\n") });
      const json = await inspect(path, "--json");
      expect(JSON.parse(json.out)).toMatchObject({ aiEdited: false, digitalSourceType: null, creatorTool: null, comments: [] });
    }
  });
});

/** A PNG chunk with its CRC. */
const pngChunk = (type: string, data: Buffer) => Buffer.from(markChunk(type, data));

const mp4Box = (type: string, body: Buffer) => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, "latin1");
  return Buffer.concat([head, body]);
};

describe("mimic inspect: damaged files", () => {
  it("a compressed iTXt chunk with bad zlib data (under any keyword) is skipped and the marks still read", async () => {
    const png = await encodePng(gradient(32, 24));
    for (const keyword of ["Comment", "Author"]) {
      const bad = pngChunk("iTXt", Buffer.concat([Buffer.from(`${keyword}\0\x01\0\0\0`, "latin1"), Buffer.from("garbage-not-zlib")]));
      const path = file(`bad-${keyword}.png`, Buffer.concat([png.subarray(0, 33), bad, png.subarray(33)]));
      const r = await inspect(path);
      expect(r, r.err).toMatchObject({ code: 0, err: "", out: expect.stringContaining(`: PNG, sha256 `) });
      expect(r.out).toContain(`${MARKED}\n  tool: ${CREATOR_TOOL}\n  comment: ${PROVENANCE_COMMENT}\n`);
    }
  });

  it("an MP4 whose last box header is cut short, and a PNG cut short: “damaged file” in one line, exit 1, no stack", async () => {
    const mp4 = addMp4Provenance(Buffer.concat([mp4Box("ftyp", Buffer.from("isom\0\0\x02\0isomiso2mp41", "latin1")), mp4Box("mdat", Buffer.alloc(64, 7))]));
    // The last box says its size is 64-bit (1), and the 8 bytes of that size are missing.
    const cutMp4 = file("cut.mp4", Buffer.concat([mp4, Buffer.from([0, 0, 0, 1, 0x66, 0x72, 0x65, 0x65])]));
    const png = await encodePng(gradient(32, 24));
    const cutPng = file("cut.png", png.subarray(0, png.length - 20));
    for (const [path, why] of [
      [cutMp4, "the MP4 ends inside a box header"],
      [cutPng, "the PNG ends inside a chunk"],
    ]) {
      for (const json of [[], ["--json"]]) {
        expect(await inspect(path, ...json)).toEqual({ code: 1, out: "", err: `mimic: “${path}” is a damaged file (${why}): inspect cannot read its marks.\n` });
      }
    }
  });
});
