/**
 * makeDir makes the folders Mimic writes to (the data folder, model caches) one level at a time, and fails the
 * way mkdir -p does. Paths under /proc are where Node's own recursive mkdirSync never returns; those cases
 * run in a child process, so a hang fails the test at its bound instead of stalling the test worker.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeDir } from "../../src/make-dir.ts";

const dir = mkdtempSync(join(tmpdir(), "mimic-make-dir-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(work: () => void): string | undefined {
  try {
    work();
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
  return undefined;
}

describe("makeDir", () => {
  it("makes every missing level, and leaves an existing folder as it is", () => {
    const deep = join(dir, "a", "b", "c");
    makeDir(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    writeFileSync(join(deep, "kept"), "x");
    makeDir(deep);
    expect(existsSync(join(deep, "kept"))).toBe(true);
    makeDir(join("relative-is-fine", "..", dir, "a"));
  });

  it("refuses a file in the way, at the end or above", () => {
    writeFileSync(join(dir, "a-file"), "");
    expect(codeOf(() => makeDir(join(dir, "a-file")))).toBe("ENOTDIR");
    expect(codeOf(() => makeDir(join(dir, "a-file", "data")))).toBe("ENOTDIR");
  });

  it.skipIf(!existsSync("/proc/self"))("refuses a folder under /proc with ENOENT instead of hanging", () => {
    const script = `import { makeDir } from ${JSON.stringify(join(process.cwd(), "src/make-dir.ts"))};
      try { makeDir("/proc/mimic-nope/data"); console.log("made"); } catch (e) { console.log(e.code); }`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    expect(child.signal, "makeDir did not return").toBeNull();
    expect(child.stdout.trim()).toBe("ENOENT");
  });
});
