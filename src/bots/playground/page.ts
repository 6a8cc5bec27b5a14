/**
 * The playground's single page: plain HTML + a little script, no external resources (it must work
 * offline on a fresh clone). Every form posts to /api/* and shows the core's reply text and image.
 * Answers come as the server's reply stream: long jobs' queue progress, then the reply, then the result's
 * bytes as they are (shown through an object URL); pictures can be chosen, dropped or pasted. The caption
 * limit is checked here too (as the front door counts it), so the page can say which caption is too long.
 */
import { CAPTION_DROPPED, CAPTION_EDGE_ZWSP, CAPTION_LINE_BREAK, CAPTION_SPACE_RUN, MAX_CAPTION_CHARS } from "../../pipeline/render/text.ts";

/** A server-side pattern as a RegExp the page's script builds (text.ts's caption cleaning, counted alike). */
const inPage = (re: RegExp) => `new RegExp(${JSON.stringify(re.source)}, ${JSON.stringify(re.flags)})`;

export const PLAYGROUND_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mimic playground</title>
<link rel="icon" href="data:,">
<style>
  :root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #f5f5f7; }
  body { max-width: 1060px; margin: 0 auto; padding: 1.5rem; }
  h1 { margin: 0 0 .25rem; } .lead { margin: 0 0 1.25rem; color: #555; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 1rem; align-items: start; }
  section { background: #fff; border-radius: 12px; padding: 1rem 1.25rem; box-shadow: 0 1px 3px #0002; }
  h2 { font-size: 1.1rem; margin: 0 0 .75rem; }
  label, .label { display: block; margin: .55rem 0 .2rem; font-size: .9rem; color: #444; }
  input[type=text], select { width: 100%; box-sizing: border-box; padding: .4rem; border: 1px solid #bbb; border-radius: 6px; }
  input[type=range] { width: 100%; }
  .row { display: flex; gap: .75rem; } .row > * { flex: 1; }
  button { margin-top: .75rem; padding: .5rem 1rem; border: 0; border-radius: 6px; background: #5b4fe0; color: #fff; font-weight: 600; cursor: pointer; }
  button.small { margin: 0; padding: .15rem .45rem; font-size: .75rem; background: #777; }
  button.danger { background: #b3261e; }
  a.button { display: inline-block; margin-top: .75rem; padding: .5rem 1rem; border-radius: 6px; background: #5b4fe0; color: #fff; font-weight: 600; font-size: .83rem; text-decoration: none; }
  .hint { margin: .2rem 0 0; font-size: .8rem; color: #666; }
  .hint.over { color: #8a1c12; white-space: pre-line; overflow-wrap: anywhere; }
  .note { margin: .6rem 0 0; padding: .4rem .6rem; border-radius: 6px; font-size: .85rem; background: #e8f5e9; white-space: pre-line; }
  .note.working { background: #eef1ff; }
  .note.error { background: #fdecea; color: #8a1c12; }
  .note:empty { display: none; }
  button.secondary { background: #e9e7fb; color: #3b30b0; }
  button:disabled { opacity: .5; cursor: wait; }
  .drop { display: flex; align-items: center; gap: .75rem; min-height: 64px; padding: .6rem; border: 2px dashed #b9b4ee; border-radius: 10px; color: #555; font-size: .85rem; cursor: pointer; background: #fbfaff; }
  .drop.over { border-color: #5b4fe0; background: #efedff; }
  /* The real file input is invisible: the zone shows its keyboard focus. */
  .drop:focus-within { border-color: #5b4fe0; outline: 3px solid #5b4fe0; outline-offset: 2px; }
  .drop span { min-width: 0; overflow-wrap: anywhere; }
  .drop img { width: 56px; height: 56px; object-fit: cover; border-radius: 6px; }
  .drop img[hidden] { display: none; }
  .drop input { position: absolute; width: 1px; height: 1px; opacity: 0; }
  .picker { display: flex; flex-wrap: wrap; gap: .5rem; }
  .tile { margin: 0; padding: 3px; width: 68px; background: #fff; color: #333; border: 2px solid #ddd; border-radius: 8px; font-weight: 400; font-size: .75rem; text-align: center; }
  .tile[aria-pressed=true] { border-color: #5b4fe0; background: #efedff; }
  /* Long names (up to 32 characters) are cut with "…" inside the tile; the full name is its title and accessible name. */
  .tile .name { display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .tile img, .tile .none { display: block; width: 58px; height: 58px; object-fit: cover; border-radius: 5px; background: #eee; margin-bottom: 2px; }
  .tile .none { line-height: 58px; color: #888; font-size: 1.4rem; }
  #faces { display: flex; flex-wrap: wrap; gap: .6rem; list-style: none; padding: 0; margin: 0; }
  #faces li { width: 128px; font-size: .8rem; text-align: center; }
  #faces .name { overflow-wrap: anywhere; }
  #faces img { width: 96px; height: 96px; margin: 0 auto; object-fit: cover; border-radius: 8px; display: block; background: #eee; }
  #faces .actions { display: flex; flex-wrap: wrap; gap: .25rem; justify-content: center; margin-top: .2rem; }
  #faces .actions input { width: 100%; box-sizing: border-box; padding: .2rem; font-size: .8rem; }
  #faces .actions p { margin: 0; width: 100%; overflow-wrap: anywhere; }
  #output { scroll-margin: 1rem; margin-top: 1rem; background: #fff; border-radius: 12px; padding: 1rem 1.25rem; box-shadow: 0 1px 3px #0002; }
  #output[hidden] { display: none; }
  #message, .note { overflow-wrap: anywhere; }
  #message { white-space: pre-line; padding: .6rem .8rem; border-radius: 8px; background: #e8f5e9; margin: 0; }
  #message.error { background: #fdecea; color: #8a1c12; }
  #message.working { background: #eef1ff; }
  #message:empty { display: none; }
  #progress { margin-top: .6rem; }
  #progress[hidden] { display: none; }
  #progress-text { font-size: .9rem; color: #333; }
  .bar { height: 8px; border-radius: 4px; background: #e5e3fa; overflow: hidden; margin-top: .35rem; }
  .bar > div { height: 100%; width: 0; background: #5b4fe0; transition: width .5s linear; }
  .bar.busy > div { width: 35%; animation: slide 1.2s ease-in-out infinite alternate; }
  @keyframes slide { from { margin-left: 0; } to { margin-left: 65%; } }
  #result, #result-video { display: block; max-width: 100%; max-height: 640px; margin-top: .75rem; border-radius: 8px; }
  #result[hidden], #result-video[hidden], #actions[hidden] { display: none; }
  #actions { display: flex; gap: .5rem; }
  #earlier[hidden] { display: none; }
  #earlier ul { display: flex; flex-wrap: wrap; gap: .6rem; list-style: none; padding: 0; margin: 0; }
  #earlier li { display: flex; flex-direction: column; align-items: center; gap: .2rem; font-size: .8rem; }
  #earlier img, #earlier video { width: 72px; height: 72px; object-fit: cover; border-radius: 6px; background: #eee; }
</style>
</head>
<body>
<h1>Mimic playground</h1>
<p class="lead">Save your face, then put the expression of any reaction image on it. Drop or paste pictures anywhere. Everything stays on this computer.</p>
<div class="grid">
  <section>
    <h2>1. Your faces</h2>
    <form id="save-form" data-endpoint="/api/faces">
      <label class="drop" for="save-photo"><img alt="" hidden><span>Drop, paste or choose a clear, front-facing photo of you</span>
        <input id="save-photo" name="photo" type="file" accept="image/*" required></label>
      <label for="save-name">Name</label>
      <input id="save-name" name="name" type="text" value="me" maxlength="32" required pattern="[A-Za-z0-9_\\-]{1,32}"
        title="1–32 of a–z, 0–9, _ and -" aria-describedby="save-name-hint" autocapitalize="none" spellcheck="false">
      <p class="hint" id="save-name-hint">1–32 of a–z, 0–9, _ and - (no accents or spaces; e.g. smile, work_photo)</p>
      <button type="submit">Save face</button>
      <p class="note" role="status" aria-live="polite"></p>
    </form>
    <p class="label">Saved</p>
    <ul id="faces"><li>loading…</li></ul>
    <p class="note" id="faces-note" role="status" aria-live="polite"></p>
  </section>
  <section>
    <h2>2. Make a meme</h2>
    <form id="meme-form" data-endpoint="/api/meme">
      <label class="drop" for="meme-image"><img alt="" hidden><span>Drop, paste or choose a reaction image, GIF or MP4/WebM clip</span>
        <input id="meme-image" name="image" type="file" accept="image/*,video/mp4,video/webm" required></label>
      <p class="label">Face</p>
      <div class="picker" id="meme-faces"></div>
      <input type="hidden" name="template" id="meme-template" value="">
      <div class="row">
        <div><label for="meme-top">Top caption</label><input id="meme-top" name="top" type="text" data-caption="top caption" aria-describedby="meme-caption-hint"></div>
        <div><label for="meme-bottom">Bottom caption</label><input id="meme-bottom" name="bottom" type="text" data-caption="bottom caption" aria-describedby="meme-caption-hint"></div>
      </div>
      <p class="hint" id="meme-caption-hint"></p>
      <label><input id="meme-keep-case" name="keepCase" type="checkbox"> captions as typed (not in capitals)</label>
      <label for="meme-mode">Mode</label>
      <select id="meme-mode" name="mode"><option value="mimic">mimic: the expression onto your photo</option><option value="swap">swap: your face into the image</option></select>
      <label for="meme-regions">Regions</label>
      <select id="meme-regions" name="regions"><option value="all">whole face</option><option value="upper">eyes and brows</option><option value="lower">mouth</option></select>
      <label for="meme-intensity">Intensity <output id="meme-intensity-value">100 %</output></label>
      <input id="meme-intensity" name="intensity" type="range" min="0" max="100" step="5" value="100">
      <label><input id="meme-animated" name="animated" type="checkbox"> animated (a morph from a still picture)</label>
      <button type="submit">Make meme</button>
      <p class="note" role="status" aria-live="polite"></p>
    </form>
  </section>
  <section>
    <h2>3. Morph</h2>
    <form id="morph-form" data-endpoint="/api/morph">
      <label class="drop" for="morph-image"><img alt="" hidden><span>Drop, paste or choose a reaction image</span>
        <input id="morph-image" name="image" type="file" accept="image/*,video/mp4,video/webm" required></label>
      <p class="label">Face</p>
      <div class="picker" id="morph-faces"></div>
      <input type="hidden" name="template" id="morph-template" value="">
      <div class="row">
        <div><label for="morph-top">Top caption</label><input id="morph-top" name="top" type="text" data-caption="top caption" aria-describedby="morph-caption-hint"></div>
        <div><label for="morph-bottom">Bottom caption</label><input id="morph-bottom" name="bottom" type="text" data-caption="bottom caption" aria-describedby="morph-caption-hint"></div>
      </div>
      <p class="hint" id="morph-caption-hint"></p>
      <label><input id="morph-keep-case" name="keepCase" type="checkbox"> captions as typed (not in capitals)</label>
      <label for="morph-intensity">Intensity <output id="morph-intensity-value">100 %</output></label>
      <input id="morph-intensity" name="intensity" type="range" min="0" max="100" step="5" value="100">
      <button type="submit">Make morph</button>
      <p class="note" role="status" aria-live="polite"></p>
    </form>
    <p class="label">Usage</p>
    <button id="usage-button" type="button" class="secondary">Show my usage</button>
    <p class="note" id="usage-note" role="status" aria-live="polite"></p>
  </section>
</div>
<div id="output" hidden>
  <p id="message" role="status" aria-live="polite"></p>
  <div id="progress" hidden><div id="progress-text"></div><div class="bar busy" id="progress-bar"><div></div></div></div>
  <img id="result" alt="Mimic result" hidden>
  <video id="result-video" autoplay loop muted playsinline hidden></video>
  <div id="actions" hidden>
    <a id="download" class="button" download>Download</a>
    <button id="copy" type="button" class="secondary">Copy</button>
  </div>
  <div id="earlier" hidden><p class="label">Earlier results</p><ul id="earlier-list"></ul></div>
</div>
<script>
const $ = (s) => document.querySelector(s);
const el = (tag, props) => Object.assign(document.createElement(tag), props || {});
const message = $("#message"), result = $("#result"), video = $("#result-video"), output = $("#output");
const progress = $("#progress"), progressText = $("#progress-text"), bar = $("#progress-bar"), facesNote = $("#faces-note");
const NAME_PATTERN = $("#save-name").pattern, NAME_RULE = $("#save-name").title;
let current = null;
// The form whose job the output panel follows (its message and progress); another card's submit meanwhile is answered by that card.
let running = null;
function say(text, kind) { output.hidden = false; message.textContent = text; message.className = kind || ""; }
function note(box, text, kind) {
  const className = "note" + (kind ? " " + kind : "");
  // Unchanged text is left alone, so a repeated retry message is not announced again.
  if (box.textContent !== text || box.className !== className) { box.textContent = text; box.className = className; }
}
// On a narrow screen the output sits below all three cards: bring it into view so the user sees something happen.
function reveal() { if (!output.hidden) output.scrollIntoView({ block: "nearest" }); }
result.addEventListener("load", reveal);
video.addEventListener("loadeddata", reveal);
// Results a newer one replaced stay downloadable (two cards' jobs may finish one after the other); the oldest beyond these go.
const EARLIER_KEPT = 4;
function keepEarlier(f) {
  const list = $("#earlier-list"), li = el("li");
  li.append(f.mime.startsWith("video/") ? el("video", { src: f.url, muted: true, loop: true, playsInline: true }) : el("img", { src: f.url, alt: "earlier result" }));
  li.append(el("a", { href: f.url, download: f.name, textContent: "Download" }));
  li.dataset.url = f.url;
  list.prepend(li);
  while (list.children.length > EARLIER_KEPT) { const last = list.lastElementChild; URL.revokeObjectURL(last.dataset.url); last.remove(); }
  $("#earlier").hidden = false;
}
function show(reply) {
  // An error is said above the last good result, which stays shown and downloadable.
  say(reply.text || "", reply.ok ? "" : "error");
  const f = reply.file;
  if (f && f.blob && !reply.templates) {
    // The result arrives as bytes (a Blob), shown through an object URL.
    if (current) keepEarlier(current);
    current = f;
    f.url = URL.createObjectURL(f.blob);
    const isVideo = f.mime.startsWith("video/");
    result.hidden = isVideo; video.hidden = !isVideo;
    if (isVideo) video.src = f.url; else { result.src = f.url; result.dataset.mime = f.mime; }
    const a = $("#download"); a.href = f.url; a.download = f.name;
    // Browsers copy PNG to the clipboard; GIF and video are offered for download only.
    $("#copy").hidden = f.mime !== "image/png";
    $("#actions").hidden = false;
  }
}
function progressLine(e) {
  if (e.type === "queued") return "Waiting in line: position " + e.position + (e.etaSeconds > 0 ? " · about " + Math.ceil(e.etaSeconds) + " s" : "");
  if (e.type === "started") return "Working on it: your picture is being made…";
  if (e.type === "done") return "Finishing…";
  return "";
}
// The server's answer format for this page (see REPLY_STREAM in server.ts): JSON lines, the reply's line followed
// by its file's bytes as they are (file.size of them).
const STREAM = "application/x-mimic-stream";
const NEWLINE = 10;
async function readReply(res, onProgress) {
  const reader = res.body.getReader(), decoder = new TextDecoder();
  let pending = new Uint8Array(0), reply = null, parts = null, need = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (value && parts) { parts.push(value); need -= value.byteLength; }
    else if (value) { const joined = new Uint8Array(pending.length + value.length); joined.set(pending); joined.set(value, pending.length); pending = joined; }
    let nl;
    while (!parts && (nl = pending.indexOf(NEWLINE)) >= 0) {
      const line = decoder.decode(pending.subarray(0, nl)); pending = pending.subarray(nl + 1);
      if (!line.trim()) continue;
      const m = JSON.parse(line);
      if (m.type === "progress") { const t = onProgress && progressLine(m.event); if (t) onProgress(t); }
      else if (m.type === "reply") {
        reply = m.reply;
        if (reply.file) { parts = [pending]; need = reply.file.size - pending.byteLength; pending = new Uint8Array(0); }
      }
    }
    if (done) break;
  }
  if (!reply || (parts && need !== 0)) return { ok: false, text: "The playground server stopped answering mid-way. Please try again." };
  if (parts) reply.file.blob = new Blob(parts, { type: reply.file.mime });
  return reply;
}
async function call(method, url, body, onProgress) {
  try {
    // X-Mimic marks the page's own calls: the server refuses API calls without it (other sites cannot add it).
    const res = await fetch(url, { method, body, headers: { "X-Mimic": "1", Accept: STREAM + ", application/json" } });
    if (!(res.headers.get("content-type") || "").startsWith(STREAM)) return await res.json();
    return await readReply(res, onProgress);
  } catch (e) {
    return { ok: false, text: "The playground server did not answer. Is it still running?" };
  }
}
const thumbUrl = (name) => "/api/faces/thumbnail?name=" + encodeURIComponent(name);
async function thumb(name) {
  // Thumbnails are API calls too: fetched with the page's header, shown as object URLs.
  try {
    const res = await fetch(thumbUrl(name), { headers: { "X-Mimic": "1" } });
    return res.ok && (res.headers.get("content-type") || "").startsWith("image/") ? URL.createObjectURL(await res.blob()) : "";
  } catch (e) {
    return "";
  }
}
let facesRequest = 0, facesRetry = 0, shownUrls = [];
async function refreshFaces(focusName) {
  // Only the newest answer may repaint the lists (an older, slower one would show stale faces).
  const mine = ++facesRequest;
  clearTimeout(facesRetry);
  const reply = await call("GET", "/api/faces");
  if (mine !== facesRequest) return;
  // A failed call is not an empty list: keep the last list shown, say why, and ask again until the server answers.
  if (!reply.ok || !Array.isArray(reply.templates)) {
    note(facesNote, "Could not refresh your faces: " + reply.text + " Showing the last list; trying again…", "error");
    facesNote.dataset.list = "1";
    facesRetry = setTimeout(refreshFaces, 3000);
    return;
  }
  if (facesNote.dataset.list) { note(facesNote, ""); delete facesNote.dataset.list; }
  const faces = reply.templates;
  const urls = await Promise.all(faces.map((f) => thumb(f.name)));
  if (mine !== facesRequest) return;
  const list = $("#faces");
  list.replaceChildren();
  if (!faces.length) list.append(el("li", { textContent: "none yet" }));
  faces.forEach((f, i) => {
    const li = el("li");
    li.dataset.name = f.name;
    li.append(el("img", { src: urls[i], alt: "face " + f.name }), el("div", { className: "name", textContent: f.name + (f.isDefault ? " (default)" : "") }));
    li.append(faceActions(f));
    list.append(li);
  });
  for (const card of ["meme", "morph"]) picker(card, faces, urls);
  for (const u of shownUrls) if (u) URL.revokeObjectURL(u);
  shownUrls = urls;
  const again = focusName && list.querySelector('li[data-name="' + CSS.escape(focusName) + '"] button');
  if (again) again.focus();
}
const quoted = (name) => "“" + name + "”";
function small(text, label, onclick, extra) {
  // Visible text stays short; the accessible name says which face (and starts with the visible text).
  const b = el("button", Object.assign({ type: "button", className: "small", textContent: text, onclick }, extra || {}));
  b.setAttribute("aria-label", label);
  return b;
}
async function faceAction(action, fields, focusName) {
  const fd = new FormData();
  for (const k in fields) fd.set(k, fields[k]);
  const reply = await call("POST", "/api/faces/" + action, fd);
  note(facesNote, reply.text || "", reply.ok ? "" : "error");
  delete facesNote.dataset.list;
  // A renamed face stays picked on the cards.
  if (reply.ok && action === "rename") for (const card of ["meme", "morph"]) { const input = $("#" + card + "-template"); if (input.value === fields.name) input.value = fields.to.trim().toLowerCase(); }
  await refreshFaces(reply.ok ? focusName : fields.name);
  return reply;
}
function faceActions(f) {
  const box = el("div", { className: "actions" });
  const back = (shown, focusLabel) => {
    const fresh = faceActions(f);
    shown.replaceWith(fresh);
    const b = focusLabel && [...fresh.querySelectorAll("button")].find((x) => x.getAttribute("aria-label") === focusLabel);
    if (b) b.focus();
  };
  const onEscape = (e, label) => { if (e.key === "Escape") { e.preventDefault(); back(e.currentTarget, label); } };
  const renameLabel = "Rename " + quoted(f.name), deleteLabel = "Delete " + quoted(f.name);
  if (!f.isDefault) box.append(small("Make default", "Make default: " + quoted(f.name), () => faceAction("default", { name: f.name }, f.name)));
  box.append(small("Rename", renameLabel, () => {
    const form = el("form", { className: "actions" });
    const input = el("input", { type: "text", name: "to", value: f.name, maxLength: 32, required: true, pattern: NAME_PATTERN, title: NAME_RULE, autocapitalize: "none", spellcheck: false });
    input.setAttribute("aria-label", "New name for " + quoted(f.name) + " (" + NAME_RULE + ")");
    form.append(input, small("Save", "Save the new name of " + quoted(f.name), null, { type: "submit" }), small("Cancel", "Cancel renaming " + quoted(f.name), () => back(form, renameLabel)));
    form.onsubmit = (e) => { e.preventDefault(); faceAction("rename", { name: f.name, to: input.value }, input.value.trim().toLowerCase()); };
    form.onkeydown = (e) => onEscape(e, renameLabel);
    box.replaceWith(form);
    input.select();
  }));
  box.append(small("Delete", deleteLabel, () => {
    // Deleting cannot be undone: ask first, in the page; "Keep" has the focus.
    const ask = el("div", { className: "actions" });
    const keep = small("Keep", "Keep " + quoted(f.name), () => back(ask, deleteLabel));
    ask.append(el("p", { textContent: "Delete " + quoted(f.name) + "?" }), small("Delete", "Delete " + quoted(f.name) + " (confirm)", () => faceAction("delete", { name: f.name }), { className: "small danger" }), keep);
    ask.onkeydown = (e) => onEscape(e, deleteLabel);
    box.replaceWith(ask);
    keep.focus();
  }));
  return box;
}
function picker(card, faces, urls) {
  const box = $("#" + card + "-faces"), input = $("#" + card + "-template");
  if (!faces.some((f) => f.name === input.value)) input.value = "";
  box.replaceChildren();
  const tile = (name, label, url) => {
    const b = el("button", { type: "button", className: "tile", title: label });
    b.dataset.face = name;
    b.setAttribute("aria-pressed", String(input.value === name));
    b.append(url ? el("img", { src: url, alt: "" }) : el("span", { className: "none", textContent: "★" }));
    b.append(el("span", { className: "name", textContent: label }));
    b.onclick = () => { input.value = name; for (const t of box.children) t.setAttribute("aria-pressed", String(t === b)); };
    return b;
  };
  box.append(tile("", "default", ""));
  faces.forEach((f, i) => box.append(tile(f.name, f.name, urls[i])));
}
for (const id of ["meme-intensity", "morph-intensity"]) {
  const r = $("#" + id), out = $("#" + id + "-value");
  r.oninput = () => { out.textContent = r.value + " %"; };
}
// The caption limit, counted as the front door counts it (readLineBreaks, then cleanCaption: NFC, controls dropped,
// spaces collapsed, user-perceived characters), so a caption is refused here, by name, before the upload. A text
// input holds no newline: the rule says how to type one.
const MAX_CAPTION = ${MAX_CAPTION_CHARS}, CAPTION_RULE = "Up to " + MAX_CAPTION + " characters per caption; \\\\n or ~n starts a new line.";
const graphemes = typeof Intl.Segmenter === "function" ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;
function captionLength(text) {
  const clean = text.replace(${inPage(CAPTION_LINE_BREAK)}, (_, kept) => kept || "\\n")
    .normalize("NFC").replace(/\\r\\n?/g, "\\n")
    .replace(${inPage(CAPTION_DROPPED)}, "")
    .split("\\n")
    .map((l) => l.replace(${inPage(CAPTION_SPACE_RUN)}, " ").replace(${inPage(CAPTION_EDGE_ZWSP)}, "").trim())
    .filter((l) => l.length > 0).join("\\n");
  // Without a grapheme segmenter the page cannot count as the server does: the server alone decides.
  if (!graphemes) return 0;
  let n = 0;
  for (const _ of graphemes.segment(clean)) n++;
  return n;
}
for (const hint of document.querySelectorAll("[id$=-caption-hint]")) {
  const fields = [...document.querySelectorAll('[aria-describedby="' + hint.id + '"]')];
  const check = () => {
    const over = [];
    for (const input of fields) {
      const n = captionLength(input.value);
      const says = n > MAX_CAPTION ? "The " + input.dataset.caption + " is too long (" + n + " characters): the limit is " + MAX_CAPTION + " characters per caption." : "";
      input.setCustomValidity(says);
      if (says) over.push(says);
    }
    hint.textContent = over.length ? over.join("\\n") : CAPTION_RULE;
    hint.className = "hint" + (over.length ? " over" : "");
  };
  for (const input of fields) input.addEventListener("input", check);
  check();
}
// Drag-and-drop and paste: a picture dropped anywhere goes to the card under the pointer (else to the last card
// used, as a pasted one does); the browser never opens a dropped file itself (the page would be lost).
let pasteTarget = $("#meme-image");
function setFile(input, file) {
  const dt = new DataTransfer(); dt.items.add(file); input.files = dt.files;
  input.dispatchEvent(new Event("change"));
}
for (const zone of document.querySelectorAll(".drop")) {
  const input = zone.querySelector("input"), preview = zone.querySelector("img"), text = zone.querySelector("span");
  const original = text.textContent;
  input.addEventListener("change", () => {
    pasteTarget = input;
    const f = input.files && input.files[0];
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.hidden = !f || !f.type.startsWith("image/");
    if (f) preview.src = URL.createObjectURL(f);
    text.textContent = f ? f.name || "pasted picture" : original;
  });
  // Working anywhere in a card (typing a caption, picking a face) makes its picture the paste target.
  for (const ev of ["pointerdown", "focusin", "dragenter"]) zone.closest("form").addEventListener(ev, () => { pasteTarget = input; });
  zone.addEventListener("dragover", () => zone.classList.add("over"));
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
}
// Only drags of files are the page's: text dragged into a caption field drops as usual.
const carriesFiles = (e) => !!e.dataTransfer && [...e.dataTransfer.types].includes("Files");
for (const type of ["dragenter", "dragover"]) {
  document.addEventListener(type, (e) => { if (carriesFiles(e)) { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; } });
}
document.addEventListener("drop", (e) => {
  if (!carriesFiles(e)) return;
  e.preventDefault();
  for (const z of document.querySelectorAll(".drop.over")) z.classList.remove("over");
  const card = e.target instanceof Element ? e.target.closest("section") : null;
  const input = (card && card.querySelector(".drop input")) || pasteTarget;
  const f = e.dataTransfer.files[0];
  if (f) setFile(input, f);
});
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) => i.kind === "file" && i.type.startsWith("image/"));
  if (!item) return;
  e.preventDefault();
  const f = item.getAsFile();
  setFile(pasteTarget, new File([f], f.name || "pasted." + f.type.split("/")[1], { type: f.type }));
});
for (const form of document.querySelectorAll("form[data-endpoint]")) {
  const button = form.querySelector("button[type=submit]"), own = form.querySelector(".note");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    const long = form.id !== "save-form";
    // While another card's job runs, this card answers by itself: the running job's progress stays in view.
    const aside = running !== null;
    if (aside) note(own, "Working on it…", "working");
    else {
      running = form; note(own, "");
      say("Working on it…", "working");
      progress.hidden = !long; progressText.textContent = "Sending…";
      reveal();
    }
    const reply = await call("POST", form.dataset.endpoint, new FormData(form), long && (aside ? (t) => note(own, t, "working") : (t) => { progressText.textContent = t; }));
    button.disabled = false;
    const busy = reply.errorCode === "BUSY";
    if (aside && !reply.file) note(own, reply.text || "", reply.ok ? "" : "error");
    else { if (aside) note(own, ""); show(reply); reveal(); }
    if (busy && aside) own.dataset.busy = "1"; else delete own.dataset.busy;
    // A job ended: another card's "already in progress" refusal is out of date.
    if (!busy) for (const n of document.querySelectorAll(".note[data-busy]")) { note(n, ""); delete n.dataset.busy; }
    if (!aside) { running = null; progress.hidden = true; }
    // A failed meme may name a face another tab deleted: reload the faces (the pickers fall back to the default).
    if (form.id === "save-form" || (!reply.ok && !busy)) refreshFaces();
  });
}
// Another tab may have changed the faces meanwhile.
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refreshFaces(); });
$("#copy").onclick = async () => {
  try {
    await navigator.clipboard.write([new ClipboardItem({ [current.blob.type]: current.blob })]);
    say("Copied to the clipboard.");
  } catch (e) {
    say("This browser does not allow copying pictures here: use Download instead.", "error");
  }
};
// The usage is said by its own button, apart from the last result (which it is no part of).
$("#usage-button").onclick = async () => {
  const box = $("#usage-note"), reply = await call("GET", "/api/usage");
  note(box, reply.text || "", reply.ok ? "" : "error");
};
refreshFaces();
</script>
</body>
</html>
`;
