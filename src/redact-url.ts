/**
 * The one place URL passwords are hidden before a URL reaches a message or a log (configuration errors,
 * the queue's and the store's start-up errors and warnings).
 */

/** What replaces a password. */
export const MASK = "***";

const SCHEME = /[A-Za-z][A-Za-z0-9+.-]*:\/\//g;

/** Whether `hostPort` (an authority after its userinfo) reads as host[:digits]; a "port" that is not one means the password ran on past a `/`, `?` or `#`. */
function plausibleHostPort(hostPort: string): boolean {
  let port: string;
  if (hostPort.startsWith("[")) {
    const close = hostPort.indexOf("]");
    if (close < 0) return false;
    port = hostPort.slice(close + 1);
  } else {
    const colon = hostPort.indexOf(":");
    port = colon < 0 ? "" : hostPort.slice(colon);
  }
  return /^(:\d*)?$/.test(port);
}

/**
 * The [start, end) of the password in `rest` (a URL after its `scheme://`, up to the end of its word at
 * `wordEnd`), if it has one, and where the URL ends. `reach`: how far a password may run on past the word.
 */
function passwordSpan(rest: string, wordEnd: number, reach: number): { span?: [number, number]; end: number } {
  const delimiter = rest.slice(0, wordEnd).search(/[/?#]/);
  const authorityEnd = delimiter < 0 ? wordEnd : delimiter;
  // As WHATWG URL reads it: the userinfo runs to the authority's last "@".
  let userinfoEnd = authorityEnd === 0 ? -1 : rest.lastIndexOf("@", authorityEnd - 1);
  let end = wordEnd;
  // A password with an unencoded "/", "?", "#" or space (a URL no parser takes) leaves a "port" that is not a
  // number before a later "@": the userinfo runs to that "@" instead.
  const later = rest.lastIndexOf("@", reach - 1);
  if (later >= authorityEnd && !plausibleHostPort(rest.slice(userinfoEnd + 1, authorityEnd))) {
    userinfoEnd = later;
    const after = rest.slice(later).search(/\s/);
    end = Math.max(wordEnd, after < 0 ? reach : later + after);
  }
  const colon = rest.indexOf(":");
  if (userinfoEnd < 0 || colon < 0 || colon >= userinfoEnd - 1) return { end };
  return { span: [colon + 1, userinfoEnd], end };
}

/** In a word with no `scheme://`: `user:password@host` (a URL without its scheme, or with a mistyped one). */
function barePasswordSpan(word: string): [number, number] | undefined {
  const at = word.lastIndexOf("@");
  const colon = word.indexOf(":");
  // "file:/a@b" and "C:/x@y" are paths, not userinfo.
  if (colon < 0 || at <= colon + 1 || word[colon + 1] === "/") return undefined;
  return [colon + 1, at];
}

/**
 * `text` with the password of every `scheme://user:password@host` in it replaced by `***`, whatever the
 * scheme, whether or not the URL parses, percent-encoded or not; also a word `user:password@host` without
 * `scheme://`. The rest is left exactly as written. A URL ends at whitespace, except in a text that starts
 * with one, whose password may hold a space. Never throws.
 */
export function redactUrl(text: string): string {
  const s = String(text);
  const oneUrl = /^\s*[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(s);
  const spans: [number, number][] = [];
  /** Where the URLs read as such are: the words there are not read again as bare userinfo. */
  const urls: [number, number][] = [];
  for (const m of s.matchAll(SCHEME)) {
    const from = m.index + m[0].length;
    const rest = s.slice(from);
    const word = rest.search(/\s/);
    const wordEnd = word < 0 ? rest.length : word;
    const { span, end } = passwordSpan(rest, wordEnd, oneUrl && urls.length === 0 ? rest.length : wordEnd);
    urls.push([m.index, from + end]);
    if (span) spans.push([from + span[0], from + span[1]]);
  }
  for (const w of s.matchAll(/\S+/g)) {
    const [a, b] = [w.index, w.index + w[0].length];
    if (urls.some(([x, y]) => a < y && x < b)) continue;
    const span = barePasswordSpan(w[0]);
    if (span) spans.push([a + span[0], a + span[1]]);
  }
  // Overlapping spans (a URL inside another's password) merge into one.
  const merged: [number, number][] = [];
  for (const [a, b] of spans.sort((x, y) => x[0] - y[0])) {
    const last = merged.at(-1);
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  let out = s;
  for (const [a, b] of merged.reverse()) out = out.slice(0, a) + MASK + out.slice(b);
  return out;
}
