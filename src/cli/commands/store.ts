import type { Command } from "commander";
import { MimicError } from "../../errors.ts";
import { storeInUse } from "../../templates/db/in-use.ts";
import { describeTarget } from "../../templates/db/url.ts";
// From backup.ts, not the templates' index: that one loads the face pipeline (sharp, onnxruntime) for enrolments.
import { backupStore, BACKUP_TABLES, removeTemporaryFiles, restoreStore, type TableCounts } from "../../templates/backup.ts";
import { storeTarget } from "../../templates/store.ts";

/**
 * Ctrl-C or a stop signal: removes the temporary files (the partial backup, the restore's private copy) and
 * exits at once, saying `what` became of the work. A restore's transaction not yet committed is rolled back when
 * exiting closes its connection; the returned function changes `what` once that can no longer be promised.
 */
function onInterrupt(what: string): (now: string, advice: string) => void {
  let then = "";
  const stop = (signal: NodeJS.Signals, code: number) => {
    removeTemporaryFiles();
    process.stderr.write(`mimic: Stopped (${signal}), so ${what}; its temporary files were removed.${then}\n`);
    process.exit(code);
  };
  process.once("SIGINT", () => stop("SIGINT", 130));
  process.once("SIGTERM", () => stop("SIGTERM", 143));
  return (now, advice) => {
    what = now;
    then = ` ${advice}`;
  };
}

/**
 * `mimic store backup|restore`: the whole configured store (DATABASE_URL, default the embedded SQLite file)
 * to and from one portable file, a standalone SQLite store. Moving to PostgreSQL is a backup with the default
 * store and a restore with DATABASE_URL=postgresql://….
 */
export function register(program: Command): void {
  const store = program.command("store").description("Back up the store (faces, settings, usage, bans, audit trail) to a file, or restore one");

  store
    .command("backup")
    .description("Write a consistent snapshot of the configured store to a new SQLite file (safe while the bot runs)")
    .argument("<file>", "the backup file to write")
    .option("--force", "overwrite the file if it exists")
    .option("--json", "print machine-readable JSON")
    .action(async (file: string, o: { force?: boolean; json?: boolean }) => {
      onInterrupt("no backup was written");
      const r = await backupStore(file, { force: o.force === true });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(`backed up ${r.source} to ${r.file} (schema ${r.schema}):\n${table(r.tables)}\n`);
    });

  store
    .command("restore")
    .description("Load a backup into the configured store (it must be empty unless --replace)")
    .argument("<file>", "a file written by mimic store backup")
    .option("--replace", "replace everything the store holds with the backup, in one transaction")
    .option("--json", "print machine-readable JSON")
    .action(async (file: string, o: { replace?: boolean; json?: boolean }) => {
      const interrupted = onInterrupt("nothing was restored");
      await refuseWhileInUse();
      // PostgreSQL finishes a commit it was sent even if this process stops waiting for the answer.
      const checkAgain = o.replace
        ? "Run the same command again to be sure the store holds the backup."
        : "Run the same command again: if it says the store is not empty, the backup is in.";
      const r = await restoreStore(file, { replace: o.replace === true, onCommitting: () => interrupted("the restore may have finished (it was being committed)", checkAgain) });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(`restored ${r.file} into ${r.target}${r.replaced ? " (replacing what it held)" : ""}:\n${table(r.tables)}\n`);
      if (r.forgottenAgain > 0) {
        process.stdout.write(`deleted again what ${r.forgottenAgain === 1 ? "1 user" : `${r.forgottenAgain} users`} who asked to be forgotten had up to their request (faces, uses, audit records)\n`);
      }
    });
}

/** A running bot would keep answering from what it read before, and its memes in flight would lose their records. */
async function refuseWhileInUse(): Promise<void> {
  const target = storeTarget();
  if (await storeInUse(target)) {
    throw new MimicError(
      "BAD_INPUT",
      `The store (${describeTarget(target)}) is in use by a running Mimic (the bot, the playground or another mimic command), so nothing was restored. Stop it first, then restore.`,
    );
  }
}

function table(counts: TableCounts): string {
  return BACKUP_TABLES.map((t) => `  ${t.padEnd(16)} ${counts[t]}`).join("\n");
}
