import type { MemeInput } from "../../core/index.ts";

/**
 * Telegram has no typed command options, so /meme takes a small text syntax:
 *   /meme [face=<name>] [intensity=<0-100>] [swap] [gif|still] [--] top caption | bottom caption
 * Options come first; everything after them is the caption ("|" separates top from bottom; with no
 * "|" the text is the bottom caption, as classic memes put the punchline there). The flags are lower-case
 * words, so a caption that starts a sentence ("Still better than Monday") stays a caption; "--" ends the
 * options for one that starts with a flag's word in lower case ("-- gif me the money"). The caption keeps
 * its line breaks.
 */
export type ParsedMemeArgs = Omit<MemeInput, "image">;

const FLAGS: Record<string, Partial<ParsedMemeArgs>> = { swap: { mode: "swap" }, gif: { animated: true }, still: { animated: false } };

/** Splits the text into the request's fields; their values are checked by the core's one request parser. */
export function parseMemeArgs(text: string): ParsedMemeArgs {
  const out: ParsedMemeArgs = {};
  let rest = text.trim();
  for (;;) {
    const word = rest.match(/^\S+/)?.[0];
    if (!word) break;
    const kv = word.match(/^(face|intensity)=(.+)$/i);
    if (kv) {
      if (kv[1].toLowerCase() === "face") out.template = kv[2];
      else out.intensity = kv[2];
    } else if (Object.hasOwn(FLAGS, word)) Object.assign(out, FLAGS[word]);
    else if (word !== "--") break;
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
