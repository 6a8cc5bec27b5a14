import { spawnSync } from "node:child_process";

/**
 * Tests that spawn `bin/mimic.mjs` run the compiled dist/, as production does: recompile it first when
 * the sources changed (a no-op otherwise), so no test runs stale code.
 */
export default function build(): void {
  const r = spawnSync(process.execPath, ["tools/setup.mjs", "--build-only"], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`compiling src/ into dist/ failed (exit ${r.status ?? r.signal})`);
}
