#!/usr/bin/env node
// One-shot, idempotent set-up run by `npm start`, `npm test`, `npm run build` and npm's `prepare` (so
// `npm ci` alone also leaves a runnable checkout): installs dependencies from the lock file when it
// changed (`npm ci`: it never rewrites package-lock.json), regenerates the Prisma clients when their
// inputs changed, and compiles src/ into dist/ when the sources changed. Each step says what it does
// and how long it may take. Plain Node only: it runs before node_modules exists.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const stampFile = join(root, "node_modules", ".cache", "mimic-setup.json");
const dist = join(root, "dist");
const started = Date.now();
const say = (msg) => console.error(`setup: ${msg}`);
const elapsed = (t0) => `${Math.round((Date.now() - t0) / 1000)} s`;
// npm ci (run by this script) runs `prepare`, which runs this script again: the outer run does the rest.
if (process.env.MIMIC_SETUP_NESTED) process.exit(0);
const insideNpmInstall = process.env.npm_lifecycle_event === "prepare";
// npm 10 has no allowScripts: this keeps onnxruntime-node's CUDA download (not on npm) off there too.
const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip", MIMIC_SETUP_NESTED: "1" };

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

function fail(what, hint) {
  say(`${what} failed.${hint ? ` ${hint}` : ""}`);
  process.exit(1);
}

function run(cmd, args, hint) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env, shell: process.platform === "win32" });
  if (r.status !== 0) fail(`'${cmd} ${args.join(" ")}' (exit ${r.status ?? r.signal})`, hint);
}

/** npm ci, with a line every 30 s so a long native build is not mistaken for a hang. */
async function install() {
  const t0 = Date.now();
  say("installing dependencies with npm ci (from package-lock.json; about 2 minutes on an idle machine, longer while other work runs)…");
  const child = spawn("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit", env, shell: process.platform === "win32" });
  const sqliteBuild = join(root, "node_modules", "better-sqlite3", "build");
  const tick = setInterval(() => {
    const building = existsSync(sqliteBuild) && !existsSync(join(sqliteBuild, "Release", "better_sqlite3.node"));
    say(
      building
        ? `still installing (${elapsed(t0)}): compiling better-sqlite3's native code with node-gyp (no prebuilt binary for this machine; 1-5 minutes)…`
        : `still installing (${elapsed(t0)})…`,
    );
  }, 30_000);
  const code = await new Promise((res) => child.on("close", (c, sig) => res(c ?? sig)));
  clearInterval(tick);
  if (code !== 0)
    fail(
      `npm ci (exit ${code})`,
      "If better-sqlite3 failed to compile, install a C++ toolchain and Python 3 (Debian: apt-get install build-essential python3) and run the command again.",
    );
  say(`dependencies installed (${elapsed(t0)}).`);
}

function checkNative() {
  try {
    const require = createRequire(join(root, "package.json"));
    const Database = require("better-sqlite3");
    new Database(":memory:").close();
  } catch (e) {
    fail(
      `loading better-sqlite3 (${String(e?.message ?? e).split("\n")[0]})`,
      "Rebuild it with `npm rebuild better-sqlite3` (needs a C++ toolchain and Python 3), then run the command again.",
    );
  }
}

/**
 * tsc src/ → dist/ (ES modules with .js imports); models/ and prisma/ are linked in at the paths the code
 * expects. Compiled beside it first, so a failed build leaves the last good dist/ in place.
 */
function build() {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  if (!existsSync(tsc)) {
    // `npm ci --omit=dev` leaves out the compiler: such an install runs a dist/ built elsewhere.
    const what = "TypeScript is not installed (dev dependencies omitted?), so src/ was not compiled";
    if (insideNpmInstall) return say(`${what}: build dist/ with a full \`npm ci && npm run build\` and ship it.`);
    fail(what, "Run a full `npm ci` (with dev dependencies), then the command again.");
  }
  const t0 = Date.now();
  say("compiling TypeScript into dist/ (a few seconds)…");
  const next = join(root, "node_modules", ".cache", "mimic-dist-next");
  rmSync(next, { recursive: true, force: true });
  run(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", next], "Run `npm run typecheck` to see the type errors.");
  // Windows: junctions need no privilege but an absolute target; elsewhere a relative link survives a moved checkout.
  for (const dir of ["models", "prisma"])
    symlinkSync(process.platform === "win32" ? join(root, dir) : join("..", dir), join(next, dir), "junction");
  // Moved aside, not deleted in place: dist/ is missing only between two renames, not for a whole rm.
  const old = join(root, "node_modules", ".cache", `mimic-dist-old-${process.pid}`);
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(next, dist);
  rmSync(old, { recursive: true, force: true });
  say(`compiled (${elapsed(t0)}).`);
}

const readStamp = () => {
  try {
    return JSON.parse(readFileSync(stampFile, "utf8"));
  } catch {
    return {};
  }
};
// Written by rename: a checkout whose node_modules is a hard-linked copy must not rewrite the original's stamp.
const writeStamp = (s) => {
  mkdirSync(dirname(stampFile), { recursive: true });
  writeFileSync(`${stampFile}.${process.pid}.tmp`, JSON.stringify(s));
  renameSync(`${stampFile}.${process.pid}.tmp`, stampFile);
};

/**
 * One generate-and-compile at a time per checkout: two test runs started together both compiled into the same
 * folder and one failed (EEXIST, ENOTEMPTY). The lock is a folder (mkdir is atomic) holding its owner's pid; a
 * lock whose owner has died is taken over.
 */
function withSetupLock(fn) {
  const lock = join(root, "node_modules", ".cache", "mimic-setup.lock");
  mkdirSync(dirname(lock), { recursive: true });
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 10 * 60_000;
  let waited = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      if (!lockHeld(lock)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) fail(`another set-up has held ${lock} for 10 minutes`, "Stop the other `npm test` / `npm start`, or remove that folder.");
      if (!waited) say("waiting for another set-up in this checkout (a test run started beside this one)…");
      waited = true;
      Atomics.wait(nap, 0, 0, 200);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Whether the lock's owner still runs (a lock seconds old may not have its pid written yet). */
function lockHeld(lock) {
  let pid;
  try {
    pid = Number(readFileSync(join(lock, "pid"), "utf8"));
  } catch {
    try {
      return Date.now() - statSync(lock).mtimeMs < 10_000;
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

// `--build-only` (vitest's global set-up): regenerate the database clients and recompile dist/ when their
// inputs changed, never install.
const buildOnly = process.argv.includes("--build-only");
const lockHash = hashPaths(["package-lock.json"]);
let stamp = readStamp();
let firstRun = false;
if (buildOnly) {
  // installing is the caller's business
} else if (insideNpmInstall) {
  if (stamp.lock !== lockHash) firstRun = true;
  stamp = { ...stamp, lock: lockHash };
} else if (!existsSync(join(root, "node_modules", ".package-lock.json")) || stamp.lock !== lockHash) {
  firstRun = true;
  await install();
  stamp = { lock: lockHash };
}
if (firstRun) checkNative();
writeStamp(stamp);

withSetupLock(() => {
  // Another run may have done the work while this one waited.
  stamp = readStamp();
  const genHash = hashPaths(["prisma", "package-lock.json", "tools/db"]);
  if (stamp.gen !== genHash || !existsSync(join(root, "src", "generated"))) {
    const t0 = Date.now();
    say("generating the database clients (Prisma, SQLite and PostgreSQL; about 10 s)…");
    run("npm", ["run", "--silent", "db:generate"]);
    say(`database clients ready (${elapsed(t0)}); migrations apply when Mimic starts.`);
    stamp = { ...stamp, gen: genHash };
    writeStamp(stamp);
  }

  const buildHash = hashPaths(["src", "tsconfig.json", "tsconfig.build.json", "package-lock.json"]);
  if (stamp.build !== buildHash || !existsSync(join(dist, "src", "cli", "index.js"))) {
    build();
    stamp = { ...stamp, build: buildHash };
    writeStamp(stamp);
  }
});

if (firstRun) {
  say(`done in ${elapsed(started)}. Models are bundled in models/ and load when Mimic starts.`);
  if (insideNpmInstall) say("next: `npm start` (the local playground, or the bots when DISCORD_TOKEN / TELEGRAM_TOKEN are set), `npm test`.");
}
