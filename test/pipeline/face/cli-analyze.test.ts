import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../../", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/faces/${name}`, import.meta.url));
const mimic = (...args: string[]) => run(process.execPath, ["bin/mimic.mjs", ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: "silent" } });

describe("mimic analyze", () => {
  it("prints faces, pose, quality and timings as JSON", async () => {
    const { stdout } = await mimic("analyze", fixture("franck_04117.jpg"), "--json", "--landmarks");
    const out = JSON.parse(stdout);
    expect([out.width, out.height]).toEqual([720, 576]);
    expect(out.faces).toHaveLength(1);
    const f = out.faces[0];
    expect(f.landmarks).toHaveLength(1404);
    expect(Object.keys(f.pose)).toEqual(["yaw", "pitch", "roll"]);
    expect(f.quality.mouthOpenness).toBeGreaterThan(0.15);
    expect(out.timingsMs).toHaveProperty("decode");
    expect(out.timingsMs).toHaveProperty("detect");
    expect(out.timingsMs).toHaveProperty("mesh");
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
    expect(err.stderr).toMatch(/not a picture we can read/);
  });
});
