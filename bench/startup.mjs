#!/usr/bin/env node
// Start-up figures for bench/README.md: `mimic start` (the playground: no bot token) from process spawn to
// (a) "Mimic is running" on stdout and (b) the ops endpoint's /readyz answering 200 (worker threads loaded).
// Runs the compiled CLI (`npm run build` first). Usage: node bench/startup.mjs [runs=7]
// Each round starts twice: a restart (DATA_DIR kept from the round before, so onnxruntime's optimised graphs
// in DATA_DIR/model-cache are there) and a first start (a fresh DATA_DIR: every graph optimised and saved).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const runs = Number(process.argv[2] ?? 7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const kept = mkdtempSync(join(tmpdir(), "mimic-startup-kept-"));

async function once(fresh) {
  const dir = fresh ? mkdtempSync(join(tmpdir(), "mimic-startup-")) : kept;
  const t0 = performance.now();
  const child = spawn(process.execPath, ["bin/mimic.mjs", "start"], {
    env: { ...process.env, DATA_DIR: dir, PLAYGROUND_PORT: "0", OPS_PORT: "0", LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let running, opsUrl;
  await new Promise((resolve, reject) => {
    const onData = (b) => {
      out += b;
      if (running === undefined && out.includes("Mimic is running")) running = performance.now() - t0;
      opsUrl ??= out.match(/Ops endpoint: (http:\/\/[^/\s]+)/)?.[1];
      if (running !== undefined && opsUrl) resolve();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (c) => reject(new Error(`exited ${c}: ${out}`)));
  });
  let ready;
  for (;;) {
    const res = await fetch(`${opsUrl}/readyz`).catch(() => undefined);
    if (res?.status === 200) {
      ready = performance.now() - t0;
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  if (fresh) rmSync(dir, { recursive: true, force: true });
  return { running, ready };
}

await once(false); // fills the kept DATA_DIR's model cache
const restart = [], first = [];
for (let i = 0; i < runs; i++) {
  restart.push(await once(false));
  first.push(await once(true));
}
rmSync(kept, { recursive: true, force: true });
const fmt = (xs) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
for (const [name, all] of [["restart (model cache kept)", restart], ["first start (fresh DATA_DIR)", first]]) {
  console.log(`mimic start, ${name}, ${runs} runs: "Mimic is running" ${fmt(all.map((r) => r.running))}; /readyz 200 ${fmt(all.map((r) => r.ready))}`);
}
const ratio = median(restart.map((r) => r.ready)) / median(first.map((r) => r.ready));
console.log(`/readyz, restart / first start: ${ratio.toFixed(2)}`);
