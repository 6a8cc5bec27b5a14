#!/usr/bin/env node
// Entry for the `mimic` CLI: runs the JavaScript that tools/setup.mjs compiled into dist/ (by `npm start`,
// `npm test`, `npm ci` or `npm run build`), so no TypeScript compiler is loaded at run time.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnv } from "node:util";

const entry = new URL("../dist/src/cli/index.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("mimic: not built yet. Run `npm run build` (or `npm start`, which builds first) in the Mimic folder.\n");
  process.exit(1);
}
// Settings in ./.env (see .env.example) apply where the shell has not set them; loaded before any module reads one.
// Read here rather than by process.loadEnvFile: a byte-order mark (Windows editors) would hide the first
// setting, and a bad value's message names the file it came from (MIMIC_ENV_FILE, MIMIC_ENV_FILE_KEYS).
if (existsSync(".env")) {
  let settings;
  try {
    settings = parseEnv(readFileSync(".env", "utf8").replace(/^\uFEFF/, ""));
  } catch (err) {
    const why = err?.code === "EISDIR" ? "it is a folder, not a file" : err instanceof Error ? err.message : err;
    process.stderr.write(`mimic: could not read .env in ${process.cwd()}: ${why}\n`);
    process.exit(2);
  }
  const fromFile = Object.keys(settings).filter((k) => process.env[k] === undefined);
  for (const k of fromFile) process.env[k] = settings[k];
  process.env.MIMIC_ENV_FILE = resolve(".env");
  process.env.MIMIC_ENV_FILE_KEYS = fromFile.join(",");
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
