import { MimicError, quoted } from "../errors.ts";

export const NAME_PATTERN = /^[a-z0-9_-]{1,32}$/;

/** What a name is written with, before case folding: ASCII letters (either case), digits, _ and -. */
const RAW_NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** Characters that show as nothing (or as blank) where a name is quoted: format and control characters, Hangul fillers. */
const INVISIBLE = /[\p{Cf}\p{Cc}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0]/u;

const codePoint = (ch: string) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * Template names are 1–32 of [a-z0-9_-], case-insensitive: "Smile" and "smile" are the same template,
 * so the stored form is lower-case and every lookup lower-cases first. The name as given is checked before it
 * is lower-cased: Unicode case folding maps some non-ASCII letters onto ASCII ones (the Kelvin sign U+212A
 * to "k"), which would save "\u212Aate" as "kate". `fresh`: a name to give (a save, a rename's new name), which
 * may not start with "-": a command line reads it as an option (`mimic face rm -x`). Faces already named so
 * are still found.
 */
export function normaliseTemplateName(raw: string, opts: { fresh?: boolean } = {}): string {
  const trimmed = raw.trim();
  const dash = opts.fresh === true && trimmed.startsWith("-");
  if (!RAW_NAME_PATTERN.test(trimmed) || dash) {
    const length = [...trimmed].length;
    const invisible = INVISIBLE.exec(trimmed)?.[0];
    const other = /[^A-Za-z0-9_-]/u.exec(trimmed)?.[0];
    const why =
      length === 0
        ? "it is empty"
        : invisible !== undefined
          ? `it has an invisible character (${codePoint(invisible)})`
          : length > 32
            ? `it has ${length} characters`
            : other !== undefined
              ? other === " " ? "it has a space" : `it has ${quoted(other)}`
              : "it starts with -, which a command line reads as an option";
    throw new MimicError(
      "BAD_INPUT",
      `${quoted([...trimmed].slice(0, 40).join(""))} can't be a face name (${why}): use 1–32 of a–z, 0–9, _ and - (no accents, spaces or emoji), e.g. “smile” or “work_photo”.`,
    );
  }
  return trimmed.toLowerCase();
}

/** Platform names and platform ids are opaque but bounded (they come from chat payloads). */
export function checkIdentity(platform: string, userId: string): void {
  if (!/^[a-z][a-z0-9_-]{0,15}$/.test(platform)) throw new MimicError("BAD_INPUT", `Unknown platform ${quoted(platform.slice(0, 20))}`);
  if (userId.length === 0 || userId.length > 128) throw new MimicError("BAD_INPUT", "Missing or overlong user id");
}
