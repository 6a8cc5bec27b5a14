import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * The real CLI (bin/mimic.mjs, compiled dist/) refuses the paths it cannot use at once and in words: pipes and
 * devices are never read (inspect and audit read them for ever), a store that does not exist is not created by
 * a lookup, and an output path that cannot be written is refused before the meme is made.
 */
const root = fileURLToPath(new URL("../../", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/faces/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "mimic-cli-refusals-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Killed by the bound below: the command hung. */
  hung: boolean;
}

function mimic(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [join(root, "bin", "mimic.mjs"), ...args],
      // A bound on a hang (a pipe read for ever), not a measure of speed.
      { cwd: dir, env: { ...process.env, LOG_LEVEL: "silent", DATABASE_URL: "", DATA_DIR: join(dir, "data"), ...env }, timeout: 60_000, killSignal: "SIGKILL" },
      (err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr, hung: child.signalCode === "SIGKILL" }),
    );
  });
}

/** A named pipe nobody writes to: reading it waits for ever. */
function fifo(name: string): string {
  const path = join(dir, name);
  execFileSync("mkfifo", [path]);
  return path;
}

const hex = "ab".repeat(32);

describe("inspect and audit refuse what is not a regular file", () => {
  it("a named pipe: refused at once with exit 2, as meme's inputs are", async () => {
    const pipe = fifo("pipe.png");
    for (const cmd of ["inspect", "audit"]) {
      const r = await mimic({}, cmd, pipe);
      expect(r.hung, `${cmd} read the pipe`).toBe(false);
      expect(r, r.stderr).toMatchObject({ code: 2, stderr: `mimic: Cannot read “${pipe}”: it is not a regular file (a device, a pipe or a socket).\n` });
    }
  });

  it("inspect refuses a file too large to hold (a disk image named by mistake) before reading it", async () => {
    const huge = join(dir, "disk.img");
    writeFileSync(huge, "");
    truncateSync(huge, 300 * 1024 * 1024); // sparse: takes no disk
    expect(await mimic({}, "inspect", huge)).toMatchObject({ code: 2, stderr: `mimic: “${huge}” is too large to inspect (300.0 MiB): inspect reads files up to 256.0 MiB.\n` });
  });

  it("a folder and a missing file, in words rather than EISDIR / ENOENT", async () => {
    expect(await mimic({}, "inspect", dir)).toMatchObject({ code: 2, stderr: `mimic: Cannot read “${dir}”: it is a folder, not a PNG, GIF, MP4, JPEG or WebP file.\n` });
    expect(await mimic({}, "audit", dir)).toMatchObject({ code: 2, stderr: `mimic: Cannot read “${dir}”: it is a folder, not a picture file.\n` });
    const missing = join(dir, "missing.png");
    expect(await mimic({}, "inspect", missing)).toMatchObject({ code: 2, stderr: `mimic: Cannot read “${missing}”: there is no such file.\n` });
    // Read, but not a picture: the work failed (exit 1), in words; a JPEG is a picture that carries no marks.
    const text = join(dir, "notes.txt");
    writeFileSync(text, "not a picture\n");
    for (const json of [[], ["--json"]]) {
      expect(await mimic({}, "inspect", text, ...json)).toMatchObject({ code: 1, stdout: "", stderr: `mimic: “${text}” is not a picture: inspect reads the marks of PNG, GIF and MP4 files and of JPEG or WebP copies.\n` });
    }
    const jpeg = join(dir, "photo.jpg");
    // SOI, a whole JFIF APP0 segment, EOI: a JPEG's structure without a picture's data.
    writeFileSync(jpeg, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xff, 0xd9]));
    expect(await mimic({}, "inspect", jpeg)).toMatchObject({ code: 0, stdout: expect.stringContaining("not a PNG, GIF or MP4: no marks read") });
    expect((await mimic({}, "audit", missing)).stderr).toBe(`mimic: “${missing}” is neither a file nor a SHA-256: there is no such file, and a SHA-256 is 64 hex characters.\n`);
  });
});

describe("audit against a store that does not exist", () => {
  it("is refused as store backup refuses it, and creates nothing (no false 'not in the audit trail')", async () => {
    const none = join(dir, "x", "none");
    const r = await mimic({ DATA_DIR: none }, "audit", hex);
    expect(r).toMatchObject({ code: 2, stdout: "" });
    expect(r.stderr).toBe(`mimic: There is no store at ${join(none, "mimic.db")}, so nothing was looked up: check DATA_DIR/DATABASE_URL.\n`);
    expect(existsSync(join(dir, "x"))).toBe(false);
  });

  it("an existing store still answers", async () => {
    // face add is how a store starts; then the lookup finds nothing, truly.
    const data = join(dir, "audit-store");
    expect((await mimic({ DATA_DIR: data }, "face", "add", fixture("grace_hopper_512x512.jpg"), "--name", "me")).code).toBe(0);
    expect(await mimic({ DATA_DIR: data }, "audit", hex)).toMatchObject({ code: 0, stdout: `${hex}: not in the audit trail (kept 30 days).\n` });
  });
});

describe("paths in words, and the output checked before the work", () => {
  const face = fixture("grace_hopper_512x512.jpg");

  it("face add of a missing photo says there is no such file", async () => {
    // Checked before the store is opened: a mistyped path makes no empty store either.
    const data = join(dir, "add-missing-photo");
    const r = await mimic({ DATA_DIR: data }, "face", "add", join(dir, "nonexistent.jpg"), "--name", "t");
    expect(existsSync(data)).toBe(false);
    expect(r).toMatchObject({ code: 2, stderr: `mimic: Cannot read “${join(dir, "nonexistent.jpg")}”: there is no such file.\n` });
  });

  it("meme and morph refuse an --out whose folder does not exist, before reading the inputs", async () => {
    // The reaction is not a picture: refused only if the inputs were read first.
    const notPicture = join(dir, "notes.txt");
    writeFileSync(notPicture, "hello");
    const out = join(dir, "nodir", "a.png");
    const meme = await mimic({}, "meme", "--face", face, "--reaction", notPicture, "--out", out);
    expect(meme).toMatchObject({ code: 2, stderr: `mimic: Cannot write --out “${out}”: the folder ${join(dir, "nodir")} does not exist.\n` });
    const gif = join(dir, "nodir", "a.gif");
    const morph = await mimic({}, "morph", "--from", face, "--to", notPicture, "--out", gif);
    expect(morph).toMatchObject({ code: 2, stderr: `mimic: Cannot write --out “${gif}”: the folder ${join(dir, "nodir")} does not exist.\n` });
    expect(existsSync(join(dir, "nodir"))).toBe(false);
  });

  it("refuses an --out that is a folder or a pipe (a write would fail or block after the work)", async () => {
    const folder = join(dir, "folder.png");
    mkdirSync(folder);
    const r = await mimic({}, "meme", "--face", face, "--reaction", face, "--out", folder);
    expect(r).toMatchObject({ code: 2, stderr: `mimic: Cannot write --out “${folder}”: it is a folder; name a file in it.\n` });
    const pipe = fifo("out.gif");
    const p = await mimic({}, "morph", "--from", face, "--to", face, "--out", pipe);
    expect(p.hung).toBe(false);
    expect(p).toMatchObject({ code: 2, stderr: `mimic: Cannot write --out “${pipe}”: it is not a regular file (a device, a pipe or a socket).\n` });
  });

  it("an empty input is refused naming the file (meme reads two), with exit 2 like a missing one", async () => {
    const empty = join(dir, "empty.png");
    writeFileSync(empty, "");
    const meme = await mimic({}, "meme", "--face", face, "--reaction", empty, "--out", join(dir, "e.png"));
    expect(meme).toMatchObject({ code: 2, stderr: `mimic: Cannot use --reaction “${empty}”: the file is empty (0 bytes), so there is no picture in it.\n` });
    const add = await mimic({}, "face", "add", empty, "--name", "e");
    expect(add).toMatchObject({ code: 2, stderr: `mimic: Cannot use “${empty}”: the file is empty (0 bytes), so there is no picture in it.\n` });
  });
});

describe("flags", () => {
  it("analyze --max-faces 0 is refused by name instead of reporting no face", async () => {
    const r = await mimic({}, "analyze", "--max-faces", "0", fixture("grace_hopper_512x512.jpg"));
    expect(r).toMatchObject({ code: 2, stdout: "", stderr: "mimic: --max-faces must be a whole number ≥ 1 (got “0”).\n" });
    const one = await mimic({}, "analyze", "--max-faces", "1", fixture("grace_hopper_512x512.jpg"));
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/, 1 face\n/);
  });

  it("meme --help says what --animate does: --out x.gif already animates", async () => {
    const r = await mimic({}, "meme", "--help");
    expect(r.stdout.replace(/\s+/g, " ")).toContain("--animate the bots' animated option: --out x.gif already makes the meme animated; with --animate a non-.gif --out is refused");
  });

  it("a GIF made smaller for --max-bytes says so by the flag, not as a chat's limit", async () => {
    const r = await mimic({}, "meme", "--face", fixture("grace_hopper_512x512.jpg"), "--reaction", fixture("franck_04117.jpg"), "--frames", "2", "--max-bytes", "5000", "--out", join(dir, "small.gif"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^note: The animation was made smaller to fit the --max-bytes limit of 5 KiB \(.+\)\.$/m);
    expect(r.stderr).not.toContain("chat");
  });
});
