/**
 * A request that reaches the playground while it is still starting (writing its own rules to the store, which
 * another connection may hold) is answered "starting, try again", never left hanging; once started, the same
 * request is served. Real playground HTTP server, real app and SQLite store; the store's write lock is held by
 * a second connection to the same file, as another process (a CLI command, the sqlite3 shell) would.
 */
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { startPlayground, type Playground } from "../../src/bots/playground/server.ts";
import { within } from "../helpers/within.ts";
import { startTestApp, type TestApp } from "./harness.ts";

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Resolves once something accepts connections on the port. */
async function listening(port: number): Promise<void> {
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz-probe`, { signal: AbortSignal.timeout(200) }).then(
      () => true,
      (e: unknown) => (e as { name?: string }).name === "TimeoutError",
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("playground: a request during start-up", () => {
  let app: TestApp | undefined;
  let playground: Playground | undefined;
  let holder: Database.Database | undefined;
  afterEach(async () => {
    if (holder?.inTransaction) holder.exec("COMMIT");
    holder?.close();
    await playground?.close();
    await app?.close();
  });

  it("is answered 503 'starting' while the playground sets itself up, and served once it has", async () => {
    app = await startTestApp();
    const dbPath = join(app.app.config.DATA_DIR, "mimic.db");
    holder = new Database(dbPath);
    holder.exec("BEGIN IMMEDIATE");
    const port = await freePort();
    const starting = startPlayground({ core: app.core, host: "127.0.0.1", port, maxUploadBytes: 1 << 20 }).then((p) => (playground = p));
    await within(60_000, listening(port));

    const early = await within(30_000, fetch(`http://127.0.0.1:${port}/api/faces`, { headers: { "X-Mimic": "1" } }));
    expect(early.status).toBe(503);
    expect(early.headers.get("retry-after")).toBe("2");
    expect(await early.json()).toEqual({ ok: false, text: "Mimic is starting. Please try again in a moment.", errorCode: "BUSY" });
    // The guard applies while starting too: a request that did not come from the page is refused as it will be later.
    const foreign = await within(30_000, fetch(`http://127.0.0.1:${port}/api/faces`));
    expect(foreign.status).toBe(403);

    holder.exec("COMMIT");
    await within(60_000, starting);
    const later = await within(30_000, fetch(`http://127.0.0.1:${port}/api/faces`, { headers: { "X-Mimic": "1" } }));
    expect(later.status).toBe(200);
  });
});
