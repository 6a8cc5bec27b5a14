/**
 * Mimic's own version, from its package.json: stamped into the files it writes (pipeline/provenance) and
 * advertised by queue workers and producers, so processes of one deployment running different versions are told apart.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Mimic's own package.json, found upwards from this module (it runs from src/ or from the compiled dist/src/). */
export function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "mimic" && pkg.version) return pkg.version;
    }
    if (dirname(dir) === dir) throw new Error("Mimic's package.json not found");
  }
}
