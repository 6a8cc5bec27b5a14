#!/usr/bin/env node
// Entry for the `mimic` CLI: runs the JavaScript that tools/setup.mjs compiled into dist/ (by `npm start`,
// `npm test`, `npm ci` or `npm run build`), so no TypeScript compiler is loaded at run time.
import { existsSync } from "node:fs";

const entry = new URL("../dist/src/cli/index.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("mimic: not built yet. Run `npm run build` (or `npm start`, which builds first) in the Mimic folder.\n");
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
