/**
 * Where the queue's worker code lives. Production runs the JavaScript compiled into dist/ (no TypeScript
 * compiler at run time); vitest and tsx run the TypeScript sources. Both are derived from this module's
 * own URL, so the pool and the default handlers follow whichever tree is running.
 */
const compiled = import.meta.url.endsWith(".js");

/** A module next to this one (`./handlers.ts`), with the extension of the running tree. */
export function queueModule(relativeTs: string): URL {
  return new URL(compiled ? relativeTs.replace(/\.ts$/, ".js") : relativeTs, import.meta.url);
}

/**
 * The worker process's entry: the compiled `worker.js` directly, or the tsx bootstrap (`worker-entry.mjs`
 * of the sources) when running from TypeScript or when the handler module is TypeScript (a test double).
 */
export function workerEntry(handlersUrl: string): URL {
  if (compiled && !/\.[cm]?ts$/.test(handlersUrl)) return queueModule("./worker.ts");
  return new URL(compiled ? "../../../src/queue/worker-entry.mjs" : "./worker-entry.mjs", import.meta.url);
}
