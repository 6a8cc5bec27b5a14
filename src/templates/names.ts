import { MimicError, quoted } from "../errors.ts";

export const NAME_PATTERN = /^[a-z0-9_-]{1,32}$/;

/**
 * Template names are 1–32 of [a-z0-9_-], case-insensitive: "Smile" and "smile" are the same template,
 * so the stored form is lower-case and every lookup lower-cases first.
 */
export function normaliseTemplateName(raw: string): string {
  const name = raw.trim().toLowerCase();
  if (!NAME_PATTERN.test(name)) {
    const why = name.length === 0 ? "it is empty" : name.length > 32 ? `it has ${name.length} characters` : "it has other characters";
    throw new MimicError(
      "BAD_INPUT",
      `“${raw.trim().slice(0, 40)}” can't be a face name (${why}): use 1–32 letters, digits, _ or -, e.g. “smile” or “work_photo”.`,
    );
  }
  return name;
}

/** Platform names and platform ids are opaque but bounded (they come from chat payloads). */
export function checkIdentity(platform: string, userId: string): void {
  if (!/^[a-z][a-z0-9_-]{0,15}$/.test(platform)) throw new MimicError("BAD_INPUT", `Unknown platform ${quoted(platform.slice(0, 20))}`);
  if (userId.length === 0 || userId.length > 128) throw new MimicError("BAD_INPUT", "Missing or overlong user id");
}
