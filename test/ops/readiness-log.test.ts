/**
 * /readyz is probed every few seconds: the log says when readiness changes (a warning naming what fails, then
 * "ready again"), not once per probe, so a stopping process (its shutdown check fails on purpose) or a long
 * outage does not fill the log.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { logger } from "../../src/logger.ts";
import { createMetrics, startOpsServer, type OpsServer } from "../../src/ops/index.ts";

let ops: OpsServer | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await ops?.close();
});

describe("readiness in the log", () => {
  it("warns when the failing checks change and says when ready again, not at every probe", async () => {
    let failing: string | undefined = "stopping";
    ops = await startOpsServer({
      host: "127.0.0.1",
      port: 0,
      metrics: createMetrics(),
      checks: {
        async shutdown() {
          if (failing) throw new Error(failing);
        },
      },
    });
    const warn = vi.spyOn(logger, "warn");
    const info = vi.spyOn(logger, "info");
    const probe = async () => (await fetch(`${ops!.url}/readyz`)).status;
    for (let i = 0; i < 3; i++) expect(await probe()).toBe(503);
    expect(warn.mock.calls).toEqual([[{ failed: { shutdown: "stopping" } }, "not ready"]]);
    // A message whose figure changes at each probe is the same failure.
    for (const left of ["3 s left", "2 s left"]) {
      failing = left;
      expect(await probe()).toBe(503);
    }
    expect(warn).toHaveBeenCalledTimes(1);
    failing = undefined;
    for (let i = 0; i < 2; i++) expect(await probe()).toBe(200);
    expect(info.mock.calls.filter((c) => c.includes("ready again"))).toHaveLength(1);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
