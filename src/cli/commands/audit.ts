import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { MimicError, quoted } from "../../errors.ts";
import { pathProblem, regularFileSize } from "../args.ts";

/**
 * `mimic audit <file|sha256> [--json]`: "who made this picture?" for the operator, from the audit trail of
 * every server (a server's admins use /mimic audit or /audit, which see their own server only).
 */
export function register(program: Command): void {
  program
    .command("audit")
    .description("Who made this picture? Looks a file (or its SHA-256) up in the audit trail of every server")
    .argument("<file-or-sha256>", "a picture Mimic sent, or its hex SHA-256")
    .option("--json", "print machine-readable JSON")
    .action(async (target: string, o: { json?: boolean }) => {
      // The store's modules (its database client) load once there is a hash to look up: a refused file needs none.
      const hash = /^(sha-?256:)?[0-9a-f]{64}$/i.test(target.trim()) && !(await isFile(target)) ? (await import("../../templates/hashes.ts")).parseSha256(target) : await hashFile(target);
      const [{ requireExistingStore }, { openStore, storeTarget }] = await Promise.all([import("../../templates/existing-store.ts"), import("../../templates/store.ts")]);
      // A mistyped DATA_DIR/DATABASE_URL would otherwise answer "not in the audit trail" from a new, empty store.
      await requireExistingStore(storeTarget(), "nothing was looked up");
      const store = await openStore();
      try {
        const rows = await store.audit.lookup(hash);
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ sha256: hash, records: rows.map((r) => ({ ...r, at: r.at.toISOString() })) }, null, 2)}\n`);
          return;
        }
        if (rows.length === 0) {
          process.stdout.write(`${hash}: not in the audit trail (kept ${store.audit.retentionDays} days).\n`);
          return;
        }
        const lines = rows.map((r) => {
          const role = r.outputSha256 === hash ? "made it" : "used it as the reaction";
          const where = r.serverId === null ? "a private chat" : `server ${r.serverId}${r.channelId ? ` channel ${r.channelId}` : ""}`;
          return `  ${r.at.toISOString()}  ${r.platform} user ${r.userId} ${role} (${r.kind}, template ${r.templateId ?? "-"}) in ${where}`;
        });
        process.stdout.write(`${hash}:\n${lines.join("\n")}\n`);
      } finally {
        await store.close();
      }
    });
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * The file's SHA-256, read in a stream (any size, little memory); a path that is missing, a folder, a device or
 * a pipe is refused before anything reads it.
 */
async function hashFile(file: string): Promise<string> {
  const missing = await stat(file).then(() => false, (e: NodeJS.ErrnoException) => e.code === "ENOENT");
  if (missing) throw new MimicError("BAD_INPUT", `${quoted(file)} is neither a file nor a SHA-256: there is no such file, and a SHA-256 is 64 hex characters.`);
  await regularFileSize(file);
  const hash = createHash("sha256");
  try {
    await pipeline(createReadStream(file), hash);
  } catch (cause) {
    throw new MimicError("BAD_INPUT", `Cannot read ${quoted(file)}: ${pathProblem(cause)}.`, { cause });
  }
  return hash.digest("hex");
}
