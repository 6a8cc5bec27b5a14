import { createRequire } from "node:module";

/**
 * gifenc is CommonJS-first: under Node ESM only its default export resolves, and vitest resolves the ESM
 * build differently. A plain require works in both, so every module takes gifenc from here.
 */
const require = createRequire(import.meta.url);
export const gifenc = require("gifenc") as typeof import("gifenc");
