import type { MemeInput } from "../../core/index.ts";

/**
 * Telegram has no typed command options, so /meme takes a small text syntax:
 *   /meme [face=<name>] [intensity=<0-100>] [swap] [gif|still] [keepcase] [--] top caption | bottom caption
 * Options come first; everything after them is the caption ("|", or the full-width "｜" of Chinese and
 * Japanese keyboards, separates top from bottom; with neither the text is the bottom caption, as classic memes
 * put the punchline there). The flags are lower-case words, so a caption that starts a sentence ("Still better
 * than Monday") stays a caption; "--" ends the options for one that starts with a flag's word in lower case
 * ("-- gif me the money"), and a flag read right before caption text is said in a note (flagNote). keepcase draws
 * the captions as typed instead of in capitals. The caption keeps its line breaks (typed ones too, \n or ~n, read by
 * the core's request parser). /morph takes the same syntax without swap and still (a morph is always animated, of
 * your own face).
 */
export type ParsedMemeArgs = Omit<MemeInput, "image">;

const FLAGS: Record<string, Partial<ParsedMemeArgs>> = {
  swap: { mode: "swap" },
  gif: { animated: true },
  still: { animated: false },
  keepcase: { keepCase: true },
};
/** Flags /morph has no use for: refused, rather than silently ignored. */
const NOT_FOR_MORPH = new Set(["swap", "still"]);

/** Text options the user must correct (an empty value, a flag the command does not take); its message is for the user. */
export class MemeArgsError extends Error {
  override readonly name = "MemeArgsError";
}

/** The separators of top from bottom caption: "|" and the full-width "｜" (U+FF5C) of Chinese and Japanese keyboards. */
export const CAPTION_SEPARATOR = /[|\uFF5C]/;

/**
 * Under the answer, where a flag's word was read as an option right before caption text (a lower-case sentence
 * such as "still waiting for the weekend" loses its first word): how to make it a caption instead. `before` is
 * what was typed ahead of it (other options), kept in the example.
 */
export const flagReadAsOptionNote = (word: string, command: "meme" | "morph", before = "") =>
  `“${word}” was read as an option; to caption it, write /${command} ${before ? `${before} ` : ""}-- ${word} …`;

/**
 * Splits the text into the request's fields; their values are checked by the core's one request parser.
 * Throws MemeArgsError for what only this text syntax can get wrong.
 */
export function parseMemeArgs(text: string, command: "meme" | "morph" = "meme"): ParsedMemeArgs {
  return readMemeArgs(text, command).args;
}

/** parseMemeArgs, with the note to add to the answer where a flag was read right before caption text (flagReadAsOptionNote). */
export function readMemeArgs(text: string, command: "meme" | "morph" = "meme"): { args: ParsedMemeArgs; flagNote?: string } {
  const out: ParsedMemeArgs = {};
  const all = text.trim();
  let rest = all;
  /** The last word taken as a flag, and what was typed before it, while it is the last word read. */
  let lastFlag: { word: string; before: string } | undefined;
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
      lastFlag = undefined;
    } else if (Object.hasOwn(FLAGS, word)) {
      if (command === "morph" && NOT_FOR_MORPH.has(word)) {
        throw new MemeArgsError(
          `“${word}” is not an option of /morph: a morph is always an animation of your own face. Use /meme ${word} for that, or /morph -- ${word} … to write it as a caption.`,
        );
      }
      Object.assign(out, FLAGS[word]);
      lastFlag = { word, before: all.slice(0, all.length - rest.length).trimEnd() };
    } else if (word !== "--") break;
    rest = rest.slice(word.length).trimStart();
    if (word === "--") {
      lastFlag = undefined;
      break;
    }
  }
  const sep = rest.search(CAPTION_SEPARATOR);
  if (sep >= 0) {
    out.top = rest.slice(0, sep).trim() || undefined;
    out.bottom = rest.slice(sep + 1).trim() || undefined;
  } else if (rest) {
    out.bottom = rest;
  }
  // A flag followed by the caption's first words may have been the caption's first word; not one before "|" (an empty top).
  const flagNote = lastFlag && rest && sep !== 0 ? flagReadAsOptionNote(lastFlag.word, command, lastFlag.before) : undefined;
  return { args: out, ...(flagNote && { flagNote }) };
}
