import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { measureExpression } from "../../../src/pipeline/transfer/index.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../../", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/faces/${name}`, import.meta.url));
const mimic = (...args: string[]) => run(process.execPath, ["bin/mimic.mjs", ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: "silent" } });

describe("mimic analyze", () => {
  it("prints faces, pose, expression, quality and timings as one JSON line", async () => {
    const { stdout } = await mimic("analyze", fixture("franck_04117.jpg"), "--json", "--landmarks");
    expect(stdout.trimEnd().split("\n")).toHaveLength(1);
    const out = JSON.parse(stdout);
    expect(out.path).toBe(fixture("franck_04117.jpg"));
    expect([out.width, out.height]).toEqual([720, 576]);
    expect(out.faces).toHaveLength(1);
    const f = out.faces[0];
    expect(f.landmarks).toHaveLength(468);
    expect(f.landmarks.every((p: number[]) => p.length === 3)).toBe(true);
    expect(Object.keys(f.pose)).toEqual(["yaw", "pitch", "roll"]);
    expect(f.quality.mouthOpenness).toBeGreaterThan(0.15);
    expect(out.timingsMs).toHaveProperty("decode");
    expect(out.timingsMs).toHaveProperty("detect");
    expect(out.timingsMs).toHaveProperty("mesh");
  });

  it("analyses several images in one call: one line each, in order, models loaded once", async () => {
    const names = ["franck_01829.jpg", "franck_04117.jpg", "astronaut.png"];
    const { stdout } = await mimic("analyze", ...names.map(fixture), "--json", "--landmarks");
    const lines = stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.path)).toEqual(names.map(fixture));
    expect(lines.map((l) => [l.width, l.height])).toEqual([[720, 576], [720, 576], [512, 512]]);
    // `init` is the model start-up: only the first image pays it.
    expect(lines.map((l) => "init" in l.timingsMs)).toEqual([true, false, false]);
    for (const l of lines) {
      const f = l.faces[0];
      expect(f.score).toBeGreaterThan(0.5);
      expect(f.box.width).toBeGreaterThan(50);
      // The measures are those of the printed landmarks (in image pixels, inside the box).
      const lm = Float32Array.from(f.landmarks.flat());
      const again = measureExpression(lm);
      for (const [k, v] of Object.entries(f.expression)) expect(Math.abs((again as unknown as Record<string, number>)[k]! - (v as number)), k).toBeLessThan(0.002);
      const [nx, ny] = f.landmarks[1];
      expect(nx).toBeGreaterThan(f.box.x);
      expect(nx).toBeLessThan(f.box.x + f.box.width);
      expect(ny).toBeGreaterThan(f.box.y);
      expect(ny).toBeLessThan(f.box.y + f.box.height);
    }
    // The laugh against the same man's closed mouth.
    expect(lines[1].faces[0].expression.mouthOpen - lines[0].faces[0].expression.mouthOpen).toBeGreaterThan(0.1);
    expect(lines[1].faces[0].expression.mouthWidth).toBeGreaterThan(lines[0].faces[0].expression.mouthWidth);
  });

  it("reports an unreadable image in its own line, goes on with the rest and exits 1", async () => {
    const err = (await mimic("analyze", `${root}package.json`, fixture("astronaut.png"), `${root}no-such.jpg`, "--json").catch((e: unknown) => e)) as {
      code: number;
      stdout: string;
      stderr: string;
    };
    expect(err.code).toBe(1);
    const lines = err.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.path)).toEqual([`${root}package.json`, fixture("astronaut.png"), `${root}no-such.jpg`]);
    expect(lines[0].error).toEqual({ code: "NOT_AN_IMAGE", message: "That file is not a picture I can use. Please send a JPEG, PNG, WebP or GIF image." });
    expect(lines[1].faces).toHaveLength(1);
    expect(lines[1]).not.toHaveProperty("error");
    expect(lines[2].error.message).toMatch(/Cannot read .*: there is no such file\./);
    expect(err.stderr).toMatch(/2 of 3 images could not be analysed/);
  });

  it("refuses a file over the upload limit, a device and a folder before reading them (no 2 GB read into memory)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mimic-analyze-"));
    try {
      const huge = join(dir, "disk.img");
      writeFileSync(huge, "");
      truncateSync(huge, 2 ** 31); // sparse: 2 GiB that take no disk
      const err = (await mimic("analyze", huge, "/dev/zero", dir, "--json").catch((e: unknown) => e)) as { code: number; stdout: string };
      const lines = err.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
      expect(lines.map((l) => l.error)).toEqual([
        { code: "IMAGE_TOO_LARGE", message: "That file is too large (2048.0 MiB): the limit is 25.0 MiB. Please send a smaller picture." },
        { code: "BAD_INPUT", message: 'Cannot read “/dev/zero”: it is not a regular file (a device, a pipe or a socket).' },
        { code: "BAD_INPUT", message: `Cannot read “${dir}”: it is a folder, not a picture file.` },
      ]);
      expect(err.code).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses --landmarks without --json (it would be ignored)", async () => {
    const err = (await mimic("analyze", fixture("astronaut.png"), "--landmarks").catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.stderr).toBe("mimic: --landmarks adds the 468 landmarks to the JSON lines: use it with --json.\n");
    expect(err.code).toBe(2);
  });

  it("prints a readable summary without --json", async () => {
    const { stdout } = await mimic("analyze", fixture("astronaut.png"));
    expect(stdout).toMatch(/512×512, 1 face/);
    expect(stdout).toMatch(/pose: yaw -?\d+°, pitch -?\d+°, roll -?\d+°/);
    expect(stdout).toMatch(/mouth 0\.\d\d/);
  });

  it("fails with a friendly message and exit code 1 on a non-image", async () => {
    const err = (await mimic("analyze", `${root}package.json`).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/That file is not a picture I can use\. Please send a JPEG, PNG, WebP or GIF image\./);
  });
});
