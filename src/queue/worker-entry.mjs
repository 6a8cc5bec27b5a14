// Worker-process bootstrap in plain JS: registers the TypeScript loader (as bin/mimic.mjs does), then runs
// the worker loop. The pool starts processes without the parent's execArgv, so this is the one loader.
import { register } from "tsx/esm/api";
register();
await import("./worker.ts");
