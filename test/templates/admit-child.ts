/** Child of multiprocess.test.ts: fires `count` concurrent admissions at one server and prints the outcome counts. */
import { MimicError } from "../../src/errors.ts";
import { openStore } from "../../src/templates/index.ts";

const [url, server, count] = process.argv.slice(2);
// A small pool per process: the test runs three of these beside other test files on one server.
const store = await openStore(url, { poolSize: 4, defaults: { cooldownSeconds: 0, dailyQuotaPerUser: 0 } });
// Start together: the parent releases both children at the same moment through stdin.
process.stdout.write("ready\n");
await new Promise((r) => process.stdin.once("data", r));
const results = await Promise.allSettled(
  Array.from({ length: Number(count) }, (_, i) => store.moderation.admit({ platform: "discord", userId: `p${process.pid}u${i % 7}`, serverId: server, channelId: null }, "meme")),
);
const tally: Record<string, number> = {};
for (const r of results) {
  const key = r.status === "fulfilled" ? "ok" : r.reason instanceof MimicError ? r.reason.code : String(r.reason);
  tally[key] = (tally[key] ?? 0) + 1;
}
process.stdout.write(`${JSON.stringify(tally)}\n`);
await store.close();
process.exit(0);
