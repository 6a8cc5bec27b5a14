/**
 * `npx tsx bench/store-cpu.ts`: main-thread CPU (and wall) per store call on a request's path, on the embedded
 * SQLite file: admissions (admitted, refunded, refused by the quota), the rules, the template look-up.
 * Measures what Prisma costs the event loop per call (see bench/README.md, "Template store and moderation").
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../src/templates/index.ts";

const dir = mkdtempSync(join(tmpdir(), "mimic-store-cpu-"));
const url = `file:${join(dir, "m.db")}`;
const store = await openStore(url, { defaults: { dailyQuotaPerUser: 0, dailyQuotaPerServer: 0, cooldownSeconds: 0 } });
await store.moderation.updateRules({ platform: "discord", serverId: "1", isAdmin: true }, { dailyQuotaPerServer: 0 });
await store.moderation.updateRules({ platform: "discord", serverId: "2", isAdmin: true }, { dailyQuotaPerUser: 1 });
const cropPng = new Uint8Array(300_000).fill(7);
cropPng.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
await store.templates.save({ platform: "discord", userId: "7" }, "me", {
  cropPng,
  cropSize: 512,
  landmarks: new Float32Array(468 * 3).fill(1),
  embedding: new Float32Array(1024).fill(0.01),
  analysis: {},
});
async function cpu(label: string, n: number, f: (i: number) => Promise<unknown>) {
  for (let i = 0; i < 100; i++) await f(i + 1_000_000);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f(i);
  const c = process.cpuUsage(c0);
  console.log(`| ${label} | ${((c.user + c.system) / 1000 / n).toFixed(2)} | ${((performance.now() - t0) / n).toFixed(2)} |`);
}
console.log("| call | CPU ms per call | wall ms per call |\n|---|---|---|");
const N = 1000;
const at = (u: number | string, s: string) => ({ platform: "discord", userId: String(u), serverId: s, channelId: null });
await cpu("admit, admitted", N, (i) => store.moderation.admit(at(i + 10, "1"), "meme"));
await cpu("admit, admitted + refund", N, async (i) => (await store.moderation.admit(at(i + 2_000_000, "1"), "meme")).refund());
// Every delivered meme: admitted, then marked answered once its result is recorded (src/core/abandoned.ts).
// A meme's check before its picture is fetched (core.ts), then its admission: what every meme pays since.
await cpu("check with limits + admit + answered", N, async (i) => {
  await store.moderation.check(at(i + 4_000_000, "1"), "meme", { limits: true });
  return (await store.moderation.admit(at(i + 4_000_000, "1"), "meme", { reply: "{}", job: "j" })).answered();
});
await cpu("admit, admitted + answered", N, async (i) => (await store.moderation.admit(at(i + 3_000_000, "1"), "meme", { reply: "{}", job: "j" })).answered());
await store.moderation.admit(at(5, "2"), "meme");
await cpu("admit, refused (user quota)", N, () => store.moderation.admit(at(5, "2"), "meme").catch(() => 0));
await cpu("rules", N, () => store.moderation.rules("discord", "1"));
await cpu("templates.find (default)", N, () => store.templates.find({ platform: "discord", userId: "7" }));
await store.close();
rmSync(dir, { recursive: true, force: true });
