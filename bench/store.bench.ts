/**
 * Store benchmark: what the template store and moderation cost per request, on the embedded SQLite file
 * and (when BENCH_DATABASE_URL or TEST_DATABASE_URL is set) on PostgreSQL: one admission (the atomic
 * quota/cooldown check + record), 200 concurrent admissions, saving a face (a 512 px crop of ~300 KB),
 * loading the default face for a job, listing. Targets: admission p50 ≤ 5 ms; save ≤ 50 ms.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openStore, type EnrolledTemplate, type Store } from "../src/templates/index.ts";
import { ms, percentile, type BenchContext } from "./context.ts";

function template(seed: number): EnrolledTemplate {
  const cropPng = new Uint8Array(300_000);
  cropPng.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  for (let i = 8; i < cropPng.length; i++) cropPng[i] = (i * 31 + seed) & 255;
  return {
    cropPng,
    cropSize: 512,
    landmarks: new Float32Array(468 * 3).fill(seed),
    embedding: new Float32Array(1024).fill(0.01 * seed),
    analysis: { seed },
  };
}

async function time<T>(samples: number[], f: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const r = await f();
  samples.push(performance.now() - t);
  return r;
}

async function measure(store: Store, log: (m: string) => void): Promise<string[]> {
  const admit: number[] = [];
  for (let i = 0; i < 300; i++) {
    await time(admit, () => store.moderation.admit({ platform: "discord", userId: `u${i % 50}`, serverId: "bench", channelId: null }, "meme"));
  }
  log("admissions done");
  await store.moderation.updateRules({ platform: "discord", serverId: "burst", isAdmin: true }, { dailyQuotaPerServer: 50 });
  const burstStart = performance.now();
  const burst = await Promise.allSettled(
    Array.from({ length: 200 }, (_, i) => store.moderation.admit({ platform: "discord", userId: `b${i}`, serverId: "burst", channelId: null }, "meme")),
  );
  const burstMs = performance.now() - burstStart;
  const admitted = burst.filter((r) => r.status === "fulfilled").length;
  const save: number[] = [];
  const get: number[] = [];
  const list: number[] = [];
  for (let i = 0; i < 40; i++) {
    const owner = { platform: "telegram", userId: `s${i}` };
    await time(save, () => store.templates.save(owner, "face", template(i)));
    await time(save, () => store.templates.save(owner, "other", template(i + 1000)));
    await time(get, () => store.templates.get(owner));
    await time(list, () => store.templates.list(owner));
  }
  log("templates done");
  const row = (what: string, s: number[]) => `| ${what} | ${ms(percentile(s, 50))} | ${ms(percentile(s, 95))} | ${s.length} |`;
  return [
    row("admit (check + atomic quota/cooldown + record)", admit),
    row("save a face (~300 KB crop, new user / second face)", save),
    row("get the default face (crop, landmarks, embedding)", get),
    row("list faces", list),
    `| 200 concurrent admissions, server quota 50 | ${ms(burstMs)} total | | ${admitted} admitted |`,
  ];
}

export async function run(ctx: BenchContext): Promise<string> {
  const lines = [
    `Measured ${ctx.machine.date} on ${ctx.machine.cores} cores (\`nproc\`), ${ctx.machine.cpu}, Node ${ctx.machine.node}; 1-minute load at start ${ctx.machine.loadAtStart.toFixed(2)}${ctx.machine.loadAtStart > ctx.machine.cores / 2 ? " — **the machine was shared and busy**: figures are pessimistic" : ""}.`,
    "",
  ];
  const dir = mkdtempSync(join(tmpdir(), "mimic-bench-store-"));
  try {
    const targets: Array<{ label: string; url: string; cleanup?: () => Promise<void> }> = [{ label: "SQLite (embedded file, WAL)", url: `file:${join(dir, "bench.db")}` }];
    const pgUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
    if (pgUrl) {
      const schema = `mimic_bench_${process.pid}`;
      const u = new URL(pgUrl);
      u.searchParams.set("schema", schema);
      targets.push({
        label: `PostgreSQL (${u.host}, pool of 10)`,
        url: u.toString(),
        cleanup: async () => {
          const c = new pg.Client({ connectionString: pgUrl });
          await c.connect();
          await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await c.end();
        },
      });
    } else {
      lines.push("PostgreSQL skipped: set BENCH_DATABASE_URL (or TEST_DATABASE_URL).", "");
    }
    for (const t of targets) {
      ctx.log(t.label);
      const store = await openStore(t.url, { defaults: { cooldownSeconds: 0, dailyQuotaPerUser: 0, dailyQuotaPerServer: 0 } });
      try {
        lines.push(`**${t.label}** (ms)`, "", "| operation | p50 | p95 | n |", "|---|---|---|---|", ...(await measure(store, ctx.log)), "");
      } finally {
        await store.close();
        await t.cleanup?.();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return lines.join("\n");
}
