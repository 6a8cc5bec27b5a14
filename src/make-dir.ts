import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * mkdir -p, one level at a time: Node 20's recursive mkdirSync never returns where a parent refuses a new
 * folder with ENOENT (any path under /proc), so a mistyped DATA_DIR hung start-up. Throws as mkdirSync does.
 */
export function makeDir(path: string): void {
  const missing: string[] = [];
  for (let dir = resolve(path); !existsSync(dir); dir = dirname(dir)) {
    missing.push(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (cause) {
      // Another process made it first.
      if ((cause as NodeJS.ErrnoException).code !== "EEXIST") throw cause;
    }
  }
  if (!statSync(path).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a folder, mkdir '${path}'`), { code: "ENOTDIR" });
}
