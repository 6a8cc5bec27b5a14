import { readFile } from "node:fs/promises";
import { MimicError } from "../errors.ts";

/**
 * Flag checks shared by the subcommands: commander parses, these validate, and every refusal is a
 * BAD_INPUT MimicError naming the flag and the value (the CLI exits 2 on those).
 */
export function choice<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new MimicError("BAD_INPUT", `${flag} must be one of ${allowed.join(", ")} (got "${value}").`);
}

export function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
    throw new MimicError("BAD_INPUT", `${flag} must be a whole number from ${min} to ${max} (got "${value}").`);
  }
  return n;
}

/** A file the user named, quoted as refusals show it. */
export const named = (file: string) => `“${file}”`;

/** Reads an input file; `what` names it in the error ("--face", or nothing for a positional argument). */
export async function readInputFile(file: string, what?: string): Promise<Uint8Array> {
  try {
    const b = await readFile(file);
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  } catch (cause) {
    const label = what ? `${what} "${file}"` : `"${file}"`;
    throw new MimicError("BAD_INPUT", `Cannot read ${label}: ${(cause as NodeJS.ErrnoException).code ?? "error"}.`, { cause });
  }
}
