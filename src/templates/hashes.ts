/**
 * The picture hashes of the audit trail, apart from the trail itself: `mimic inspect` and the CLI's audit read
 * them without loading the store's database client.
 */
import { createHash } from "node:crypto";
import { MimicError } from "../errors.ts";

/** A hex SHA-256 as stored: 64 lower-case hex characters. */
export const SHA256 = /^[0-9a-f]{64}$/;

/** The hex SHA-256 the trail records for a picture (what `mimic inspect` prints): its bytes as sent or received. */
export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/**
 * A hex SHA-256 as typed by a person (any case, surrounding space, an optional "sha256:" prefix), or BAD_INPUT.
 * `instead` says what else to do where the person is (a chat: point at the picture); the default names the CLI.
 */
export function parseSha256(text: string, instead?: string): string {
  const h = text.trim().toLowerCase().replace(/^sha-?256:/, "");
  if (!SHA256.test(h)) {
    throw new MimicError(
      "BAD_INPUT",
      instead
        ? `That is not a SHA-256 hash (64 hex characters). Instead, ${instead}.`
        : "That is not a SHA-256 hash: give the 64 hex characters that “mimic inspect <file>” prints, or the picture's file.",
    );
  }
  return h;
}
