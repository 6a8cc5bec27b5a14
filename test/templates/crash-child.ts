/**
 * Child process of crash.test.ts: saves templates back to back (each a transaction writing ~300 KB)
 * and reports each one only after save() resolved. The parent SIGKILLs it at a random moment or, with
 * `hold=<name>`, while the save of <name> is inside its transaction: its row is written and the default
 * moved to it, nothing committed; the child says "inside <name>" and waits there for the kill.
 */
import { openStore } from "../../src/templates/index.ts";
import { fakeTemplate } from "./helpers.ts";

const [url, prefix, holdArg] = process.argv.slice(2);
const hold = holdArg?.startsWith("hold=") ? holdArg.slice(5) : undefined;
const store = await openStore(url, { maxTemplatesPerUser: 1000, defaults: { cooldownSeconds: 0, dailyQuotaPerUser: 0 } });
const owner = { platform: "discord", userId: "crash" };

if (hold) {
  // Reach into the store's Prisma client: the held save's last write (moving the default to it) reports,
  // then never returns.
  type Tx = {
    template: { findFirst(args: unknown): Promise<{ id: number } | null> };
    user: { update(args: { data: { defaultTemplateId?: number } }): Promise<unknown> };
  };
  const db = (store.templates as unknown as { db: { $transaction(fn: unknown, opts?: unknown): Promise<unknown> } }).db;
  const transaction = db.$transaction.bind(db);
  db.$transaction = (fn: unknown, opts?: unknown) =>
    typeof fn !== "function"
      ? transaction(fn, opts)
      : transaction(
          (tx: Tx) =>
            (fn as (tx: Tx) => Promise<unknown>)(
              new Proxy(tx, {
                get(target, key) {
                  if (key === "user") {
                    return new Proxy(target.user, {
                      get: (model, op) =>
                        op !== "update"
                          ? Reflect.get(model, op)
                          : async (args: { data: { defaultTemplateId?: number } }) => {
                              const row = await model.update(args);
                              const heldRow = await target.template.findFirst({ where: { name: hold }, select: { id: true } });
                              if (!heldRow || args.data.defaultTemplateId !== heldRow.id) return row;
                              process.stdout.write(`inside ${hold}\n`);
                              return new Promise(() => undefined);
                            },
                    });
                  }
                  return Reflect.get(target, key);
                },
              }),
            ),
          opts,
        );
}

for (let i = 0; ; i++) {
  const name = `${prefix}${i}`;
  process.stdout.write(`begin ${name}\n`);
  await store.templates.save(owner, name, fakeTemplate(name, 300_000), { makeDefault: true });
  await store.moderation.admit({ ...owner, serverId: "g", channelId: null }, "meme");
  process.stdout.write(`saved ${name}\n`);
}
