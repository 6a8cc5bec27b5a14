/**
 * The reproduction, through the real CLI: a saved face, then `mimic start` with
 * QUEUE_JOB_TIMEOUT_MS=200 and memes posted to the playground. With worker threads the first timeout
 * aborted the process (exit 134, "terminate called after throwing an instance of 'Napi::Error'"); with
 * worker processes every meme gets the TIMEOUT answer, the process keeps serving, and it shuts down cleanly.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { REACTION_LAUGH_JPG, reactionGif } from "../core/images.ts";

const root = new URL("../../", import.meta.url).pathname;
const face = (f: string) => new Blob([readFileSync(join(root, "test/fixtures/faces", f))], { type: "image/jpeg" });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(dir: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ["bin/mimic.mjs", "start"], {
    cwd: root,
    env: { ...process.env, DATA_DIR: dir, PLAYGROUND_PORT: "0", LOG_LEVEL: "warn", DISCORD_TOKEN: "", TELEGRAM_TOKEN: "", QUEUE_WORKERS: "1", COOLDOWN_SECONDS: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await exited;
  });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 120 s: ${out} ${err}`)), 120_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d;
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  const post = async (path: string, fields: Record<string, string | Blob>) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    const res = await fetch(new URL(path, url), { method: "POST", body: form, headers: { origin: new URL(url).origin, "x-mimic": "1" } });
    return (await res.json()) as { ok: boolean; errorCode?: string };
  };
  return { child, url, exited, post, stderr: () => err };
}

test("mimic start with QUEUE_JOB_TIMEOUT_MS=200: memes time out, the process stays up and stops cleanly", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mimic-timeout-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const first = await start(dir, {});
  expect(await first.post("/api/faces", { name: "me", image: face("grace_hopper_512x512.jpg") })).toMatchObject({ ok: true });
  first.child.kill("SIGTERM");
  expect(await first.exited).toBe(0);

  const app = await start(dir, { QUEUE_JOB_TIMEOUT_MS: "200" });
  // A 48-frame reaction followed frame by frame: one face analysis and one warp per frame, far more
  // than 0.2 s of model work on any machine.
  const gif = new Blob([await reactionGif(REACTION_LAUGH_JPG, 48, 320)], { type: "image/gif" });
  for (let i = 0; i < 10; i++) {
    const answer = await app.post("/api/meme", { image: gif, animated: "on", top: `try ${i}` });
    expect(answer).toMatchObject({ ok: false, errorCode: "TIMEOUT" });
  }
  const page = await fetch(app.url);
  expect(page.status).toBe(200);
  expect(app.child.exitCode).toBeNull();
  app.child.kill("SIGTERM");
  expect(await app.exited).toBe(0);
  expect(app.stderr()).not.toMatch(/terminate called/);
}, 600_000);
