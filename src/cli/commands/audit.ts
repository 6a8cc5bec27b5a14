import { readFile, stat } from "node:fs/promises";
import type { Command } from "commander";
import { MimicError } from "../../errors.ts";
import { openStore, parseSha256, sha256Hex } from "../../templates/index.ts";

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
      const hash = /^(sha-?256:)?[0-9a-f]{64}$/i.test(target.trim()) && !(await isFile(target)) ? parseSha256(target) : await hashFile(target);
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

async function hashFile(file: string): Promise<string> {
  try {
    return sha256Hex(await readFile(file));
  } catch (cause) {
    throw new MimicError("BAD_INPUT", `Cannot read "${file}" (and it is not a SHA-256): ${(cause as NodeJS.ErrnoException).code ?? "error"}.`, { cause });
  }
}
