/**
 * Child process of crash.test.ts: saves templates back to back (each a transaction writing ~300 KB)
 * and reports each one only after save() resolved. The parent SIGKILLs it at a random moment.
 */
import { openStore } from "../../src/templates/index.ts";
import { fakeTemplate } from "./helpers.ts";

const [url, prefix] = process.argv.slice(2);
const store = await openStore(url, { maxTemplatesPerUser: 1000, defaults: { cooldownSeconds: 0, dailyQuotaPerUser: 0 } });
const owner = { platform: "discord", userId: "crash" };
for (let i = 0; ; i++) {
  const name = `${prefix}${i}`;
  process.stdout.write(`begin ${name}\n`);
  await store.templates.save(owner, name, fakeTemplate(name, 300_000), { makeDefault: true });
  await store.moderation.admit({ ...owner, serverId: "g", channelId: null }, "meme");
  process.stdout.write(`saved ${name}\n`);
}
