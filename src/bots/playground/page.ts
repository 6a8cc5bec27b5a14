/**
 * The playground's single page: plain HTML + a little script, no external resources (it must work
 * offline on a fresh clone). Every form posts to /api/* and shows the core's reply text and image.
 */
export const PLAYGROUND_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mimic playground</title>
<link rel="icon" href="data:,">
<style>
  :root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #f5f5f7; }
  body { max-width: 980px; margin: 0 auto; padding: 1.5rem; }
  h1 { margin: 0 0 .25rem; } .lead { margin: 0 0 1.5rem; color: #555; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(290px, 1fr)); gap: 1rem; }
  section { background: #fff; border-radius: 12px; padding: 1rem 1.25rem; box-shadow: 0 1px 3px #0002; }
  h2 { font-size: 1.1rem; margin: 0 0 .75rem; }
  label { display: block; margin: .5rem 0 .2rem; font-size: .9rem; color: #444; }
  input[type=text], input[type=number], select { width: 100%; box-sizing: border-box; padding: .4rem; border: 1px solid #bbb; border-radius: 6px; }
  button { margin-top: .75rem; padding: .5rem 1rem; border: 0; border-radius: 6px; background: #5b4fe0; color: #fff; font-weight: 600; cursor: pointer; }
  button.small { margin: 0 0 0 .4rem; padding: .2rem .5rem; font-size: .8rem; background: #777; }
  button:disabled { opacity: .5; cursor: wait; }
  #faces li { margin: .3rem 0; }
  #output { margin-top: 1rem; }
  #message { white-space: pre-line; padding: .6rem .8rem; border-radius: 8px; background: #e8f5e9; }
  #message.error { background: #fdecea; color: #8a1c12; }
  #message:empty { display: none; }
  #result { display: block; max-width: 100%; margin-top: .75rem; border-radius: 8px; }
  #result[hidden] { display: none; }
</style>
</head>
<body>
<h1>Mimic playground</h1>
<p class="lead">Save your face, then put the expression of any reaction image on it. Everything stays on this computer.</p>
<div class="grid">
  <section>
    <h2>1. Save a face</h2>
    <form id="save-form" data-endpoint="/api/faces">
      <label for="save-photo">A clear, front-facing photo of you</label>
      <input id="save-photo" name="photo" type="file" accept="image/*" required>
      <label for="save-name">Name</label>
      <input id="save-name" name="name" type="text" value="me" maxlength="32" required>
      <button type="submit">Save face</button>
    </form>
    <h2 style="margin-top:1rem">Your faces</h2>
    <ul id="faces"><li>none yet</li></ul>
  </section>
  <section>
    <h2>2. Make a meme</h2>
    <form id="meme-form" data-endpoint="/api/meme">
      <label for="meme-image">Reaction image or GIF</label>
      <input id="meme-image" name="image" type="file" accept="image/*" required>
      <label for="meme-top">Top caption</label>
      <input id="meme-top" name="top" type="text" maxlength="200">
      <label for="meme-bottom">Bottom caption</label>
      <input id="meme-bottom" name="bottom" type="text" maxlength="200">
      <label for="meme-template">Face</label>
      <select id="meme-template" name="template"><option value="">default face</option></select>
      <label for="meme-intensity">Intensity (%)</label>
      <input id="meme-intensity" name="intensity" type="number" min="0" max="100" value="100">
      <label for="meme-mode">Mode</label>
      <select id="meme-mode" name="mode"><option value="mimic">mimic (expression onto your face)</option><option value="swap">swap (your face into the image)</option></select>
      <label><input name="animated" type="checkbox"> animated GIF</label>
      <button type="submit">Make meme</button>
    </form>
  </section>
  <section>
    <h2>3. Morph GIF</h2>
    <form id="morph-form" data-endpoint="/api/morph">
      <label for="morph-image">Reaction image</label>
      <input id="morph-image" name="image" type="file" accept="image/*" required>
      <label for="morph-bottom">Caption</label>
      <input id="morph-bottom" name="bottom" type="text" maxlength="200">
      <button type="submit">Make morph GIF</button>
    </form>
    <h2 style="margin-top:1rem">Usage</h2>
    <button id="usage-button" type="button">Show my usage</button>
  </section>
</div>
<div id="output">
  <p id="message" role="status" aria-live="polite"></p>
  <img id="result" alt="Mimic result" hidden>
</div>
<script>
const $ = (s) => document.querySelector(s);
const message = $("#message"), result = $("#result");
function show(reply) {
  message.textContent = reply.text || "";
  message.className = reply.ok ? "" : "error";
  if (!reply.ok) result.hidden = true;
  if (reply.file) { result.src = reply.file.dataUrl; result.hidden = false; result.dataset.mime = reply.file.mime; }
}
async function call(method, url, body) {
  try {
    // X-Mimic marks the page's own calls: the server refuses API calls without it (other sites cannot add it).
    const res = await fetch(url, { method, body, headers: { "X-Mimic": "1" } });
    return await res.json();
  } catch (e) {
    return { ok: false, text: "The playground server did not answer. Is it still running?" };
  }
}
let facesRequest = 0;
async function refreshFaces() {
  // Only the newest answer may repaint the list (an older, slower one would show stale faces).
  const mine = ++facesRequest;
  const reply = await call("GET", "/api/faces");
  if (mine !== facesRequest) return;
  const list = $("#faces"), select = $("#meme-template");
  list.replaceChildren(); select.replaceChildren(new Option("default face", ""));
  const faces = reply.templates || [];
  if (!faces.length) list.append(Object.assign(document.createElement("li"), { textContent: "none yet" }));
  for (const f of faces) {
    const li = document.createElement("li");
    li.textContent = f.name + (f.isDefault ? " (default)" : "");
    for (const [label, action] of [["default", "default"], ["delete", "delete"]]) {
      if (action === "default" && f.isDefault) continue;
      const b = Object.assign(document.createElement("button"), { type: "button", className: "small", textContent: label });
      b.onclick = async () => { const fd = new FormData(); fd.set("name", f.name); show(await call("POST", "/api/faces/" + action, fd)); refreshFaces(); };
      li.append(b);
    }
    list.append(li);
    select.append(new Option(f.name, f.name));
  }
}
for (const form of document.querySelectorAll("form")) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    message.className = ""; message.textContent = "Working on it…";
    show(await call("POST", form.dataset.endpoint, new FormData(form)));
    button.disabled = false;
    if (form.id === "save-form") refreshFaces();
  });
}
$("#usage-button").onclick = async () => show(await call("GET", "/api/usage"));
refreshFaces();
</script>
</body>
</html>
`;
