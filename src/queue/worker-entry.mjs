// Worker-thread bootstrap in plain JS: Node 20 does not apply `--import tsx` from a Worker's execArgv
// to the worker's own entry module, so the TypeScript loader is registered here first (as bin/mimic.mjs does).
import { register } from "tsx/esm/api";
register();
await import("./worker.ts");
