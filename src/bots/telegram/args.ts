import type { MemeInput } from "../../core/index.ts";

/**
 * Telegram has no typed command options, so /meme takes a small text syntax:
 *   /meme [face=<name>] [intensity=<0-100>] [swap] [gif|still] [--] top caption | bottom caption
 * Options come first; everything after them is the caption ("|" separates top from bottom; with no
 * "|" the text is the bottom caption, as classic memes put the punchline there). The flags are lower-case
 * words, so a caption that starts a sentence ("Still better than Monday") stays a caption; "--" ends the
 * options for one that starts with a flag's word in lower case ("-- gif me the money"). The caption keeps
 * its line breaks. /morph takes the same syntax without swap and still (a morph is always animated, of
 * your own face).
 */
export type ParsedMemeArgs = Omit<MemeInput, "image">;

const FLAGS: Record<string, Partial<ParsedMemeArgs>> = { swap: { mode: "swap" }, gif: { animated: true }, still: { animated: false } };
/** Flags /morph has no use for: refused, rather than silently ignored. */
const NOT_FOR_MORPH = new Set(["swap", "still"]);

/** Text options the user must correct (an empty value, a flag the command does not take); its message is for the user. */
export class MemeArgsError extends Error {
  override readonly name = "MemeArgsError";
}

/**
 * Splits the text into the request's fields; their values are checked by the core's one request parser.
 * Throws MemeArgsError for what only this text syntax can get wrong.
 */
export function parseMemeArgs(text: string, command: "meme" | "morph" = "meme"): ParsedMemeArgs {
  const out: ParsedMemeArgs = {};
  let rest = text.trim();
  for (;;) {
    const word = rest.match(/^\S+/)?.[0];
    if (!word) break;
    const kv = word.match(/^(face|intensity)=(.*)$/i);
    if (kv) {
      const key = kv[1].toLowerCase();
      if (kv[2] === "") {
        throw new MemeArgsError(
          key === "face"
            ? `“face=” needs a face name right after the = (no space), e.g. /${command} face=me top | bottom.`
            : `“intensity=” needs a number from 0 to 100 right after the = (no space), e.g. /${command} intensity=50 top | bottom.`,
        );
      }
      if (key === "face") out.template = kv[2];
      else out.intensity = kv[2];
    } else if (Object.hasOwn(FLAGS, word)) {
      if (command === "morph" && NOT_FOR_MORPH.has(word)) {
        throw new MemeArgsError(
          `“${word}” is not an option of /morph: a morph is always an animation of your own face. Use /meme ${word} for that, or /morph -- ${word} … to write it as a caption.`,
        );
      }
      Object.assign(out, FLAGS[word]);
    } else if (word !== "--") break;
    rest = rest.slice(word.length).trimStart();
    if (word === "--") break;
  }
  if (rest.includes("|")) {
    const [top, ...bottom] = rest.split("|");
    out.top = top.trim() || undefined;
    out.bottom = bottom.join("|").trim() || undefined;
  } else if (rest) {
    out.bottom = rest;
  }
  return out;
}
