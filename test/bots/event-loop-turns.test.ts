/**
 * A burst of requests must not hold the event loop in one piece. The SQLite driver answers synchronously,
 * so 200 concurrent store calls used to resolve as one chain of microtasks (2 s of the burst of
 * 200 memes, 3 s here under load) during which no timer, socket or bot heartbeat could run. Statements now
 * take turns with the event loop (src/templates/db/turns.ts). Counted in turns, not milliseconds, so
 * the test does not depend on the machine's speed.
 */
import { afterEach, expect, test } from "vitest";
import type { CommandContext } from "../../src/core/index.ts";
import { DOUBLE_HANDLERS, startTestApp, type TestApp } from "./harness.ts";

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const ctx = (i: number): CommandContext => ({
  platform: "playground",
  userId: "local",
  serverId: "playground",
  channelId: "playground",
  isAdmin: true,
  requestId: `burst-${i}`,
  attachmentLimitBytes: 8 << 20,
});

test("200 concurrent usage checks on the real store let the event loop turn between statements", async () => {
  app = await startTestApp({}, { handlers: DOUBLE_HANDLERS });
  await app.core.usage(ctx(-1)); // the user and the server's rules exist from here on
  let turns = 0;
  let last = 0;
  let running = true;
  const tick = () => {
    turns += 1;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const replies = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      app!.core.usage(ctx(i)).then((r) => {
        last = turns;
        return r;
      }),
    ),
  );
  running = false;
  expect(replies.every((r) => !r.errorCode)).toBe(true);
  // Each check runs at least one statement, each statement in its own turn: the loop turned at least
  // once per check before the last one answered (it turned 0 times when the chain ran in one piece).
  expect(last).toBeGreaterThanOrEqual(200);
});
