/**
 * Backup benchmark: `mimic store backup` / `mimic store restore` through the built CLI (run `npm run build`
 * first), each command in its own process so its peak RSS is its own. A synthetic store of N users with one
 * face each (an incompressible crop, like a real PNG, plus landmarks and embedding), N usage and N audit rows
 * is backed up from SQLite, restored into SQLite and into PostgreSQL, and backed up from PostgreSQL again;
 * every result is checked byte for byte against the source.
 *
 * PostgreSQL needs BENCH_DATABASE_URL (or TEST_DATABASE_URL). BENCH_BACKUP_FACES (default "200,1000") sets the
 * sizes, BENCH_BACKUP_CROP_KB (default 300) the crop's. BENCH_BACKUP_BASELINE names another build's
 * bin/mimic.mjs (e.g. a copy of an older checkout's bin/ and dist/) to run as a peer, so the report gives the
 * ratio: on the smallest size, or on the sizes BENCH_BACKUP_BASELINE_FACES lists (the Prisma path takes
 * minutes per move at 1000 faces).
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { migrate } from "../src/templates/db/migrate.ts";
import type { BenchContext } from "./context.ts";

const root = join(import.meta.dirname, "..");
/** A 512 px face crop is about 300 KB; BENCH_BACKUP_CROP_KB sets another size (portrait frames reach ~2 MB). */
const CROP_BYTES = Number(process.env.BENCH_BACKUP_CROP_KB ?? 300) * 1000;
/** Preloaded into each CLI process: writes its peak RSS (KiB) where BENCH_RSS_FILE says when it exits. */
const RSS_PROBE = "data:text/javascript,import{writeFileSync}from'node:fs';process.on('exit',()=>writeFileSync(process.env.BENCH_RSS_FILE,String(process.resourceUsage().maxRSS)))";

/** An SQLite store of `faces` users with one face each (the default), written straight through the driver. */
async function seed(path: string, faces: number): Promise<void> {
  await migrate({ dialect: "sqlite", path, url: `file:${path}` });
  const db = new Database(path);
  try {
    const at = new Date(Date.UTC(2025, 0, 1)).toISOString().replace("Z", "+00:00");
    const user = db.prepare("INSERT INTO users (id, platform, platform_user_id, created_at) VALUES (?, 'telegram', ?, ?)");
    const face = db.prepare("INSERT INTO templates (id, user_id, name, crop_png, crop_size, landmarks, analysis, embedding, created_at) VALUES (?, ?, 'face', ?, 512, ?, '{}', ?, ?)");
    const usage = db.prepare("INSERT INTO usage_events (platform, server_id, platform_user_id, command, at_ms, day) VALUES ('telegram', 'g', ?, 'meme', ?, 20000)");
    const audit = db.prepare("INSERT INTO audit_events (platform, server_id, channel_id, platform_user_id, kind, input_sha256, at_ms) VALUES ('telegram', 'g', 'c', ?, 'meme', ?, ?)");
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        user.run(i + 1, `u${i}`, at);
        face.run(i + 1, i + 1, randomBytes(CROP_BYTES), randomBytes(468 * 3 * 4), randomBytes(1024 * 4), at);
        usage.run(`u${i}`, 1_735_689_600_000 + i);
        audit.run(`u${i}`, "a".repeat(64), 1_735_689_600_000 + i);
      }
    });
    for (let i = 0; i < faces; i += 100) batch(i, Math.min(faces, i + 100));
    db.prepare("UPDATE users SET default_template_id = id").run();
    db.prepare("INSERT INTO server_settings (platform, server_id, cooldown_seconds, nsfw_threshold) VALUES ('telegram', 'g', 3, 0.25)").run();
    db.prepare("INSERT INTO bans (platform, server_id, platform_user_id, reason) VALUES ('telegram', 'g', 'x', 'spam')").run();
  } finally {
    db.close();
  }
}

/** One digest over every face's bytes, in id order (the source's and each copy's must agree). */
async function facesDigest(where: { sqlite: string } | { pgUrl: string; schema: string }): Promise<string> {
  const hash = createHash("sha256");
  const add = (r: { id: number; crop_png: Uint8Array; landmarks: Uint8Array; embedding: Uint8Array }) => {
    hash.update(String(r.id)).update(r.crop_png).update(r.landmarks).update(r.embedding);
  };
  if ("sqlite" in where) {
    const db = new Database(where.sqlite, { readonly: true });
    try {
      for (const r of db.prepare("SELECT id, crop_png, landmarks, embedding FROM templates ORDER BY id").iterate()) add(r as Parameters<typeof add>[0]);
    } finally {
      db.close();
    }
    return hash.digest("hex");
  }
  const c = new pg.Client({ connectionString: where.pgUrl, options: `-c search_path="${where.schema}"` });
  await c.connect();
  try {
    for (let after = 0; ; ) {
      const { rows } = await c.query("SELECT id, crop_png, landmarks, embedding FROM templates WHERE id > $1 ORDER BY id LIMIT 50", [after]);
      if (rows.length === 0) break;
      for (const r of rows) add(r);
      after = rows.at(-1).id;
    }
  } finally {
    await c.end();
  }
  return hash.digest("hex");
}

interface Run {
  seconds: number;
  rssMiB: number;
}

function cli(bin: string, env: Record<string, string>, args: string[], work: string): Run {
  const rssFile = join(work, "rss.txt");
  const start = performance.now();
  const r = spawnSync(process.execPath, ["--import", RSS_PROBE, bin, ...args], {
    cwd: work,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: "", DATA_DIR: join(work, "unused"), LOG_LEVEL: "silent", BENCH_RSS_FILE: rssFile, ...env },
  });
  const seconds = (performance.now() - start) / 1000;
  if (r.status !== 0) throw new Error(`mimic ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return { seconds, rssMiB: Number(readFileSync(rssFile, "utf8")) / 1024 };
}

async function dropSchema(pgUrl: string, schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

/** The four moves for one store size with one build; returns a row per move. */
async function moves(bin: string, faces: number, pgUrl: string | undefined, work: string, log: (m: string) => void): Promise<Array<{ what: string; run: Run }>> {
  const sourceDir = join(work, `source-${faces}`);
  const source = join(sourceDir, "mimic.db");
  const backup = join(work, `backup-${faces}.db`);
  const fromPg = join(work, `from-pg-${faces}.db`);
  rmSync(sourceDir, { recursive: true, force: true });
  mkdirSync(sourceDir);
  for (const f of [backup, fromPg]) rmSync(f, { force: true });
  log(`seeding ${faces} faces`);
  await seed(source, faces);
  const expected = await facesDigest({ sqlite: source });
  const check = async (what: string, got: string) => {
    if (got !== expected) throw new Error(`${what}: the faces' bytes differ from the source's`);
  };
  const rows: Array<{ what: string; run: Run }> = [];
  const step = async (what: string, env: Record<string, string>, args: string[], verify: () => Promise<string>) => {
    log(`${faces} faces: ${what}`);
    // The previous step's (or the seed's) dirty pages are written out first, not during this step.
    spawnSync("sync");
    const run = cli(bin, env, args, work);
    await check(what, await verify());
    rows.push({ what, run });
  };
  await step("backup SQLite → file", { DATA_DIR: sourceDir }, ["store", "backup", backup], () => facesDigest({ sqlite: backup }));
  const sqliteTargetDir = join(work, `target-${faces}`);
  rmSync(sqliteTargetDir, { recursive: true, force: true });
  await step("restore file → SQLite", { DATA_DIR: sqliteTargetDir }, ["store", "restore", backup], () => facesDigest({ sqlite: join(sqliteTargetDir, "mimic.db") }));
  rmSync(sqliteTargetDir, { recursive: true, force: true });
  if (pgUrl) {
    const schema = `mimic_bench_backup_${process.pid}_${faces}_${Math.random().toString(36).slice(2, 6)}`;
    const u = new URL(pgUrl);
    u.searchParams.set("schema", schema);
    try {
      await step("restore file → PostgreSQL", { DATABASE_URL: u.toString() }, ["store", "restore", backup], () => facesDigest({ pgUrl, schema }));
      await step("backup PostgreSQL → file", { DATABASE_URL: u.toString() }, ["store", "backup", fromPg], () => facesDigest({ sqlite: fromPg }));
    } finally {
      await dropSchema(pgUrl, schema);
    }
  }
  for (const f of [backup, fromPg]) rmSync(f, { force: true });
  rmSync(sourceDir, { recursive: true, force: true });
  return rows;
}

export async function run(ctx: BenchContext): Promise<string> {
  const sizes = (process.env.BENCH_BACKUP_FACES ?? "200,1000").split(",").map(Number).filter((n) => n > 0);
  const pgUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  const baseline = process.env.BENCH_BACKUP_BASELINE;
  const peerSizes = (process.env.BENCH_BACKUP_BASELINE_FACES ?? String(Math.min(...sizes))).split(",").map(Number);
  const current = join(root, "bin", "mimic.mjs");
  const work = mkdtempSync(join(tmpdir(), "mimic-bench-backup-"));
  const lines = [
    `Measured ${ctx.machine.date} on ${ctx.machine.cores} cores (\`nproc\`), ${ctx.machine.cpu}, Node ${ctx.machine.node}; 1-minute load at start ${ctx.machine.loadAtStart.toFixed(2)}${ctx.machine.loadAtStart > ctx.machine.cores / 2 ? " — **the machine was shared and busy**: figures are pessimistic" : ""}.`,
    `Each face: a ${CROP_BYTES / 1000} KB crop, landmarks and embedding; each command a fresh CLI process (wall time includes its start, about 0.5 s); peak RSS is the process's own.`,
    "",
  ];
  if (!pgUrl) lines.push("PostgreSQL skipped: set BENCH_DATABASE_URL (or TEST_DATABASE_URL).", "");
  try {
    const table = ["| faces | move | build | wall s | faces/s | peak RSS MiB | baseline ÷ this: time, RSS |", "|---|---|---|---|---|---|---|"];
    for (const faces of sizes) {
      const now = await moves(current, faces, pgUrl, work, ctx.log);
      const before = baseline && peerSizes.includes(faces) ? await moves(baseline, faces, pgUrl, work, (m) => ctx.log(`baseline: ${m}`)) : [];
      for (const { what, run } of now) {
        const peer = before.find((b) => b.what === what)?.run;
        const row = (build: string, r: Run, ratio: string) => `| ${faces} | ${what} | ${build} | ${r.seconds.toFixed(1)} | ${(faces / r.seconds).toFixed(0)} | ${r.rssMiB.toFixed(0)} | ${ratio} |`;
        if (peer) table.push(row("baseline", peer, ""));
        table.push(row("this", run, peer ? `${(peer.seconds / run.seconds).toFixed(1)}×, ${(peer.rssMiB / run.rssMiB).toFixed(1)}×` : ""));
      }
    }
    lines.push(...table);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return lines.join("\n");
}
