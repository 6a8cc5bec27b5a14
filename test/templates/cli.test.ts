/** `mimic face …` end to end: the real CLI binary against an embedded database in a temp dir. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "mimic-cli-"));
const faces = join(root, "test", "fixtures", "faces");

function mimic(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, "bin", "mimic.mjs"), "face", ...args], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: "", DATA_DIR: join(dir, "data"), LOG_LEVEL: "silent" },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("mimic face (CLI)", () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("adds, lists, switches the default and removes faces of the local user in DATA_DIR/mimic.db", async () => {
    const grace = mimic("add", join(faces, "grace_hopper_512x512.jpg"), "--name", "Grace");
    expect(grace, grace.err).toMatchObject({ code: 0, out: 'saved "grace" (default) for playground:local\n' });
    const laugh = mimic("add", join(faces, "franck_04117.jpg"), "--name", "laugh", "--user", "42", "--platform", "telegram");
    expect(laugh.code, laugh.err).toBe(0);
    expect(laugh.out).toMatch(/note: Your mouth is open/);
    const small = mimic("add", join(faces, "astronaut.png"), "--name", "astro");
    expect(small.code, small.err).toBe(0);
    expect(small.out).toMatch(/note: Your face is small in this photo \(1[01]\d px\).*a bigger photo gives a sharper result/);
    const tinyPhoto = join(dir, "tiny.png");
    writeFileSync(tinyPhoto, await sharp(join(faces, "grace_hopper_512x512.jpg")).resize(128, 128).png().toBuffer());
    const tiny = mimic("add", tinyPhoto, "--name", "tiny");
    expect(tiny.code).toBe(1);
    expect(tiny.err).toMatch(/^mimic: face too small: at least 64 px \(this one is \d\d px\)\. Send a closer or higher-resolution photo\.\n$/);
    expect(mimic("rm", "astro").code).toBe(0);
    expect(mimic("list").out).toMatch(/^\* grace +\d{4}-/);
    expect(mimic("list", "--user", "42", "--platform", "telegram").out).toMatch(/^\* laugh/);
    expect(mimic("default", "nope").err).toMatch(/no face named "nope". Your faces: grace/);
    const rm = mimic("rm", "grace");
    expect(rm, rm.err).toMatchObject({ code: 0, out: 'removed "grace"\n' });
    expect(mimic("list").out).toMatch(/^no saved faces for playground:local/);
  }, 120_000);
});
