import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

/**
 * tools/setup.mjs in a stand-in checkout: a "tsc" that logs each run and takes a second, so two set-ups
 * started together overlap; a db:generate that does nothing.
 */
function standInCheckout(): string {
  const root = mkdtempSync(join(tmpdir(), "mimic-setup-lock-"));
  mkdirSync(join(root, "tools"));
  copyFileSync(new URL("../../tools/setup.mjs", import.meta.url), join(root, "tools", "setup.mjs"));
  for (const d of ["src/generated", "prisma", "models", "node_modules/typescript/bin"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "src", "index.ts"), "export {};\n");
  for (const f of ["tsconfig.json", "tsconfig.build.json", "package-lock.json", "node_modules/.package-lock.json"]) writeFileSync(join(root, f), "{}\n");
  writeFileSync(join(root, "package.json"), JSON.stringify({ name: "stand-in", type: "module", scripts: { "db:generate": "node -e 0" } }));
  writeFileSync(
    join(root, "node_modules/typescript/bin/tsc"),
    `const fs = require("node:fs"), path = require("node:path");
fs.appendFileSync(${JSON.stringify(join(root, "tsc-runs.log"))}, process.pid + "\\n");
const out = process.argv[process.argv.indexOf("--outDir") + 1];
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
fs.mkdirSync(path.join(out, "src", "cli"), { recursive: true });
fs.writeFileSync(path.join(out, "src", "cli", "index.js"), "");
`,
  );
  return root;
}

function setup(root: string): Promise<{ code: number | null; stderr: string }> {
  const env = { ...process.env };
  delete env.MIMIC_SETUP_NESTED;
  delete env.npm_lifecycle_event;
  const child = spawn(process.execPath, [join(root, "tools", "setup.mjs"), "--build-only"], { cwd: root, env });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((res) => child.on("close", (code) => res({ code, stderr })));
}

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

describe("tools/setup.mjs, two runs at once in one checkout (two test runs started together)", () => {
  it("compiles once: the second waits for the first and finds dist/ up to date", async () => {
    const root = standInCheckout();
    roots.push(root);
    const [a, b] = await Promise.all([setup(root), setup(root)]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    expect(readFileSync(join(root, "tsc-runs.log"), "utf8").trim().split("\n")).toHaveLength(1);
    expect(existsSync(join(root, "dist", "src", "cli", "index.js"))).toBe(true);
    expect(a.stderr + b.stderr).toContain("waiting for another set-up");
    expect(existsSync(join(root, "node_modules", ".cache", "mimic-setup.lock"))).toBe(false);
  });

  it("takes over a lock left by a set-up that died", async () => {
    const root = standInCheckout();
    roots.push(root);
    const lock = join(root, "node_modules", ".cache", "mimic-setup.lock");
    mkdirSync(lock, { recursive: true });
    // A pid no process has: the largest Linux allows is 2^22.
    writeFileSync(join(lock, "pid"), String(2 ** 22 + 1));
    const r = await setup(root);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(root, "dist", "src", "cli", "index.js"))).toBe(true);
  });

  it("a rebuild replaces the last dist/ whole: nothing of the old one is left, here or beside it", async () => {
    const root = standInCheckout();
    roots.push(root);
    expect((await setup(root)).code).toBe(0);
    writeFileSync(join(root, "dist", "src", "stale.js"), "");
    writeFileSync(join(root, "src", "index.ts"), "export const changed = 1;\n");
    const r = await setup(root);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(root, "tsc-runs.log"), "utf8").trim().split("\n")).toHaveLength(2);
    expect(existsSync(join(root, "dist", "src", "cli", "index.js"))).toBe(true);
    expect(existsSync(join(root, "dist", "src", "stale.js"))).toBe(false);
    expect(readdirSync(join(root, "node_modules", ".cache")).filter((f) => f.startsWith("mimic-dist"))).toEqual([]);
  });
});
