import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { findFfmpeg } from "../../../src/pipeline/video/index.ts";
import { REACTION_LAUGH_JPG, reactionGif, reactionMp4 } from "../../core/images.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../../", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/faces/${name}`, import.meta.url));
const mimic = (...args: string[]) => run(process.execPath, ["bin/mimic.mjs", ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: "silent" } });
const dir = mkdtempSync(join(tmpdir(), "mimic-meme-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("mimic meme", () => {
  it("writes a captioned PNG and reports faces, stages and the output path as JSON", async () => {
    const out = join(dir, "laugh.png");
    const { stdout } = await mimic(
      "meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", fixture("franck_04117.jpg"),
      "--intensity", "80", "--top", "when the tests", "--bottom", "pass first time", "--out", out, "--json",
    );
    const r = JSON.parse(stdout);
    expect(r.out).toBe(out);
    expect([r.width, r.height, r.mode, r.regions, r.intensity]).toEqual([512, 512, "mimic", "all", 80]);
    expect(r.faces.reaction).toMatchObject({ index: 0, of: 1 });
    expect(r.faces.template.faceSizePx).toBeGreaterThan(150);
    expect(r.mouthSynthesised).toBe(true);
    for (const stage of ["decode", "analyzeTemplate", "analyzeReaction", "transfer", "transfer.warp", "caption", "encode", "total"]) {
      expect(r.timingsMs[stage], stage).toBeGreaterThan(0);
    }
    const meta = await sharp(readFileSync(out)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 512, 512]);
    // The captions are drawn: the top band is mostly white/black ink now, unlike the template's flag.
    const { data } = await sharp(readFileSync(out)).extract({ left: 100, top: 20, width: 312, height: 50 }).raw().toBuffer({ resolveWithObject: true });
    let white = 0;
    for (let i = 0; i < data.length; i += 3) if (data[i]! > 240 && data[i + 1]! > 240 && data[i + 2]! > 240) white++;
    expect(white).toBeGreaterThan(500);
  });

  it("swaps the face into the reaction image", async () => {
    const out = join(dir, "swap.png");
    const { stdout } = await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", fixture("franck_02221.jpg"), "--mode", "swap", "--out", out);
    expect(stdout).toMatch(/swap\.png: 720×576 swap, reaction face 0 of 1/);
  });

  it("--keep-case draws the captions as typed; \\n and ~n in a caption are line breaks, \\\\n is kept as typed (meme and morph)", async () => {
    /** The pixels of what `mimic <command>` wrote (every frame of a GIF). */
    const drawn = async (command: "meme" | "morph", name: string, ...flags: string[]) => {
      const out = join(dir, name);
      const input = command === "meme" ? ["--face", fixture("grace_hopper_512x512.jpg"), "--reaction"] : ["--from", fixture("grace_hopper_512x512.jpg"), "--to"];
      const gif = command === "morph" ? ["--frames", "3", "--size", "256"] : [];
      await mimic(command, ...input, fixture("franck_04117.jpg"), ...gif, "--out", out, ...flags);
      return sharp(readFileSync(out), { pages: -1 }).raw().toBuffer();
    };
    const typed = await drawn("meme", "typed.png", "--top", "one\\ntwo", "--keep-case");
    expect((await drawn("meme", "tilde.png", "--top", "one~ntwo", "--keep-case")).equals(typed)).toBe(true);
    expect((await drawn("meme", "newline.png", "--top", "one\ntwo", "--keep-case")).equals(typed)).toBe(true);
    expect((await drawn("meme", "upper.png", "--top", "one\\ntwo")).equals(typed)).toBe(false);
    expect((await drawn("meme", "escaped.png", "--top", "one\\\\ntwo", "--keep-case")).equals(typed)).toBe(false);
    const morph = await drawn("morph", "kept.gif", "--top", "Hi @Bob~nok", "--keep-case");
    expect((await drawn("morph", "upper.gif", "--top", "Hi @Bob~nok")).equals(morph)).toBe(false);
    expect((await drawn("morph", "newline.gif", "--top", "Hi @Bob\nok", "--keep-case")).equals(morph)).toBe(true);
  });

  it("rejects bad flags and unusable inputs with a clear message", async () => {
    const base = ["meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", fixture("franck_04117.jpg"), "--out", join(dir, "x.png")];
    const fails = async (args: string[], pattern: RegExp, code = 2) => {
      const e = await mimic(...args).then(() => null, (err: { code: number; stderr: string }) => err);
      expect(e, args.join(" ")).not.toBeNull();
      expect(e!.stderr).toMatch(pattern);
      expect(e!.code).toBe(code);
    };
    // The bots' rule and words (percent), with the flag's name.
    await fails([...base, "--intensity", "150"], /--intensity must be a number from 0 to 100 \(percent\) \(got “150”\)\./);
    await fails([...base, "--mode", "blend"], /--mode must be mimic or swap \(got “blend”\)/);
    // Flags that shape only a GIF are refused with a .png output, not ignored.
    await fails([...base, "--frames", "12", "--loop", "forward"], /^mimic: --frames, --loop shape a GIF: give --out a \.gif file name, or leave them out\.\n$/);
    await fails([...base, "--regions", "middle"], /--regions must be one of all, upper, lower \(got “middle”\)/);
    await fails([...base, "--face-index", "1"], /only 1 face.*index 1 does not exist/);
    await fails(["meme", "--face", fixture("PROVENANCE.md"), "--reaction", fixture("franck_04117.jpg"), "--out", join(dir, "y.png")], /That file is not a picture I can use\. Please send a JPEG, PNG, WebP or GIF image\./, 1);
    await fails([...base.slice(0, -2), "--out", join(dir, "y.jpg")], /--out must name a \.png or \.gif file/);
    await fails([...base, "--animate"], /--animate makes a GIF/);
    await fails([...base.slice(0, -2), "--out", join(dir, "z.gif"), "--frames", "1"], /--frames must be a whole number from 2 to 96/);
  });

  it("--animate with a still reaction writes a morph GIF from the face to the expression", async () => {
    const out = join(dir, "morph.gif");
    const { stdout } = await mimic(
      "meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", fixture("franck_04117.jpg"), "--animate",
      "--frames", "8", "--fps", "10", "--loop", "forward", "--bottom", "ha", "--out", out, "--json",
    );
    const r = JSON.parse(stdout);
    expect(r).toMatchObject({ out, kind: "morph", mode: "mimic" });
    const meta = await sharp(readFileSync(out), { animated: true }).metadata();
    expect(meta.format).toBe("gif");
    expect(meta.pages).toBe(r.frames);
    expect(r.frames).toBeGreaterThanOrEqual(2);
    expect(r.frames).toBeLessThanOrEqual(8);
    expect([meta.width, meta.pageHeight]).toEqual([r.width, r.height]);
  });

  it("an animated reaction GIF is transferred frame by frame", async () => {
    // A three-frame reaction built from the franck sequence (neutral → smile → laugh).
    const frames = await Promise.all(
      ["franck_01829.jpg", "franck_02221.jpg", "franck_04117.jpg"].map(async (f) => {
        const { data, info } = await sharp(fixture(f)).resize(360, 288).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        return { data: new Uint8Array(data), width: info.width, height: info.height };
      }),
    );
    const { encodeGif } = await import("../../../src/pipeline/gif/index.ts");
    const reactionGif = join(dir, "reaction.gif");
    writeFileSync(reactionGif, (await encodeGif(frames, { delaysMs: 100 })).bytes);
    const out = join(dir, "reaction-out.gif");
    const { stdout } = await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", reactionGif, "--out", out, "--json");
    const r = JSON.parse(stdout);
    expect(r).toMatchObject({ kind: "reaction", faceFrames: 3, carriedFrames: 0 });
    const meta = await sharp(readFileSync(out), { animated: true }).metadata();
    expect([meta.format, meta.pages]).toEqual(["gif", r.frames]);
    // A still from a GIF that opens on a blank card is made from its first frame with a face.
    const carded = join(dir, "carded.gif");
    writeFileSync(carded, (await encodeGif([{ ...frames[2]!, data: new Uint8Array(frames[2]!.data.length).fill(200) }, frames[2]!], { delaysMs: 250 })).bytes);
    const still = await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", carded, "--out", join(dir, "carded.png"));
    expect(still.stderr).toBe("note: The animation's first frame shows no face, so the still is made from its frame at 0.3 s.\n");
  });

  it("--face-index picks whose face an animated reaction follows; an index no frame has is refused", async () => {
    // franck's smile and laugh, each with grace (still) beside him: two faces a frame.
    const grace = await sharp(fixture("grace_hopper_512x512.jpg")).resize(280).toBuffer();
    const frames = await Promise.all(
      ["franck_02221.jpg", "franck_04117.jpg"].map(async (f) => {
        const { data, info } = await sharp(fixture(f)).resize(360, 288).extend({ right: 300, background: "#808080" })
          .composite([{ input: grace, left: 370, top: 4 }]).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        return { data: new Uint8Array(data), width: info.width, height: info.height };
      }),
    );
    const { encodeGif } = await import("../../../src/pipeline/gif/index.ts");
    const pair = join(dir, "pair.gif");
    writeFileSync(pair, (await encodeGif(frames, { delaysMs: 200 })).bytes);
    const out = (i: number) => join(dir, `pair-${i}.gif`);
    await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", pair, "--out", out(0));
    await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", pair, "--out", out(1), "--face-index", "1");
    expect(readFileSync(out(1)).equals(readFileSync(out(0)))).toBe(false);
    const refused = await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", pair, "--out", out(5), "--face-index", "5").catch((e: { code: number; stderr: string }) => e);
    expect((refused as { code: number }).code).toBe(2);
    expect((refused as { stderr: string }).stderr).toContain("No frame of that animation shows 6 faces (at most 2); face index 5 does not exist.");
  }, 120_000);

  it("a refusal names the file the user gave (a face photo, not a saved face) and says what to use instead", async () => {
    const blank = join(dir, "blank.png");
    writeFileSync(blank, await sharp({ create: { width: 300, height: 300, channels: 3, background: "#777" } }).png().toBuffer());
    const asFace = await mimic("meme", "--face", blank, "--reaction", fixture("franck_04117.jpg"), "--out", join(dir, "x.png")).catch((e: { stderr: string }) => e);
    expect((asFace as { stderr: string }).stderr).toBe(`mimic: No face found in the face photo “${blank}”. Use a sharp, well-lit photo of your face looking at the camera.\n`);
    const asReaction = await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", blank, "--out", join(dir, "y.png")).catch((e: { stderr: string }) => e);
    const asMorphTarget = await mimic("morph", "--from", fixture("grace_hopper_512x512.jpg"), "--to", blank, "--out", join(dir, "z.gif")).catch((e: { stderr: string }) => e);
    expect((asMorphTarget as { stderr: string }).stderr).toContain(`No face found in the reaction image “${blank}”.`);
    const asMorphFace = await mimic("morph", "--from", blank, "--to", fixture("franck_04117.jpg"), "--out", join(dir, "z.gif")).catch((e: { stderr: string }) => e);
    expect((asMorphFace as { stderr: string }).stderr).toContain(`No face found in the face photo “${blank}”.`);
    expect((asReaction as { stderr: string }).stderr).toMatch(new RegExp(`^mimic: No face found in the reaction image “${blank.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}”\\. Use a reaction image where`));
  }, 120_000);
  it("reads an MP4 reaction: every sampled frame into a GIF, its first frame into a PNG (the real CLI)", async () => {
    const clip = join(dir, "laugh.mp4");
    writeFileSync(clip, await reactionMp4(findFfmpeg()!, 6));
    const gif = join(dir, "from-mp4.gif");
    await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", clip, "--out", gif);
    expect((await sharp(readFileSync(gif), { animated: true }).metadata()).pages).toBeGreaterThan(1);
    const png = join(dir, "from-mp4.png");
    await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", clip, "--out", png);
    expect((await sharp(readFileSync(png)).metadata()).format).toBe("png");
    // A clip that opens on two blank frames: its still is made from the first frame with a face, and says so.
    const { decodeAnimation } = await import("../../../src/pipeline/image/index.ts");
    const { encodeMp4 } = await import("../../../src/pipeline/video/index.ts");
    const laugh = (await decodeAnimation(await reactionGif(REACTION_LAUGH_JPG, 4))).frames;
    const blank = { ...laugh[0]!, data: new Uint8Array(laugh[0]!.data.length).fill(40) };
    const late = join(dir, "late.mp4");
    writeFileSync(late, (await encodeMp4([blank, blank, ...laugh], { delaysMs: 100, ffmpegPath: findFfmpeg()! })).bytes);
    const lateRun = await mimic("meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", late, "--out", join(dir, "late.png"));
    expect(lateRun.stderr).toBe("note: The animation's first frame shows no face, so the still is made from its frame at 0.2 s.\n");
    expect((await sharp(readFileSync(join(dir, "late.png"))).metadata()).format).toBe("png");
    // A video where a face photo is wanted: a face must be a still picture.
    const e = await mimic("meme", "--face", clip, "--reaction", fixture("franck_04117.jpg"), "--out", png).then(() => undefined, (x: { stderr: string }) => x);
    expect(e?.stderr).toMatch(/^mimic: A face must be a still picture, and that file is a clip/);
  }, 180_000);
});
