#!/usr/bin/env node
// Entry for the `mimic` CLI: runs the JavaScript that tools/setup.mjs compiled into dist/ (by `npm start`,
// `npm test`, `npm ci` or `npm run build`), so no TypeScript compiler is loaded at run time.
import { existsSync } from "node:fs";

const entry = new URL("../dist/src/cli/index.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("mimic: not built yet. Run `npm run build` (or `npm start`, which builds first) in the Mimic folder.\n");
  process.exit(1);
}
// Settings in ./.env (see .env.example) apply where the shell has not set them; loaded before any module reads one.
if (existsSync(".env")) {
  try {
    process.loadEnvFile(".env");
  } catch (err) {
    process.stderr.write(`mimic: could not read .env in ${process.cwd()}: ${err instanceof Error ? err.message : err}\n`);
    process.exit(2);
  }
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
