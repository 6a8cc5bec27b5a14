import type { MemeInput } from "../../core/index.ts";

/**
 * Telegram has no typed command options, so /meme takes a small text syntax:
 *   /meme [face=<name>] [intensity=<0-100>] [swap] [gif|still] top caption | bottom caption
 * Options come first; everything after them is the caption ("|" separates top from bottom; with no
 * "|" the text is the bottom caption, as classic memes put the punchline there).
 */
export type ParsedMemeArgs = Omit<MemeInput, "image">;

/** Splits the text into the request's fields; their values are checked by the core's one request parser. */
export function parseMemeArgs(text: string): ParsedMemeArgs {
  const out: Omit<MemeInput, "image"> = {};
  const words = text.trim().split(/\s+/).filter(Boolean);
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i];
    const kv = w.match(/^(face|intensity)=(.+)$/i);
    if (kv) {
      if (kv[1].toLowerCase() === "face") out.template = kv[2];
      else out.intensity = kv[2];
    } else if (/^swap$/i.test(w)) out.mode = "swap";
    else if (/^gif$/i.test(w)) out.animated = true;
    else if (/^still$/i.test(w)) out.animated = false;
    else break;
  }
  const caption = words.slice(i).join(" ");
  if (caption.includes("|")) {
    const [top, ...bottom] = caption.split("|");
    out.top = top.trim() || undefined;
    out.bottom = bottom.join("|").trim() || undefined;
  } else if (caption) {
    out.bottom = caption;
  }
  return out;
}
