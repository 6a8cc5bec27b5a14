#!/usr/bin/env node
// One-shot, idempotent set-up run by `npm start` and `npm test` before anything else, so a fresh clone
// needs no manual step: installs dependencies when the lock file changed, then regenerates derived
// code (the Prisma clients) when its inputs changed. Plain Node only: it runs before node_modules exists.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const stampFile = join(root, "node_modules", ".cache", "mimic-setup.json");

function hashPaths(paths) {
  const h = createHash("sha256");
  const walk = (p) => {
    if (!existsSync(p)) return;
    if (statSync(p).isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
    else h.update(p.slice(root.length)).update(readFileSync(p));
  };
  for (const p of paths) walk(join(root, p));
  return h.digest("hex");
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip" },
  });
  if (r.status !== 0) {
    console.error(`setup: '${cmd} ${args.join(" ")}' failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

const readStamp = () => {
  try {
    return JSON.parse(readFileSync(stampFile, "utf8"));
  } catch {
    return {};
  }
};

const lockHash = hashPaths(["package-lock.json"]);
let stamp = readStamp();
if (!existsSync(join(root, "node_modules", ".package-lock.json")) || stamp.lock !== lockHash) {
  console.error("setup: installing dependencies (npm install, from the lock file)…");
  run("npm", ["install", "--no-audit", "--no-fund"]);
  stamp = {};
}

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const genHash = hashPaths(["prisma", "package-lock.json", "tools/db"]);
if (pkg.scripts?.["db:generate"] && (stamp.gen !== genHash || !existsSync(join(root, "src", "generated")))) {
  console.error("setup: generating the database clients…");
  run("npm", ["run", "--silent", "db:generate"]);
}

mkdirSync(dirname(stampFile), { recursive: true });
writeFileSync(stampFile, JSON.stringify({ lock: lockHash, gen: genHash }));
