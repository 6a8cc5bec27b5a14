/**
 * Test databases: a fresh SQLite file in a temp dir, and (when TEST_DATABASE_URL is set, as on CI) a
 * fresh PostgreSQL schema per call, so parallel test files never share tables.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import type { MimicError } from "../../src/errors.ts";
import type { EnrolledTemplate } from "../../src/templates/index.ts";

export const PG_URL = process.env.TEST_DATABASE_URL;
if (!PG_URL) {
  console.warn("test/templates: TEST_DATABASE_URL is not set, so the PostgreSQL variants are SKIPPED (CI sets it).");
}

export interface TestDb {
  dialect: "sqlite" | "postgres";
  url: string;
  /** Raw SQL against the same database (for assertions that must not go through the store). */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  drop(): Promise<void>;
}

export const dialects = [
  { dialect: "sqlite" as const, skip: false },
  { dialect: "postgres" as const, skip: !PG_URL },
];

let counter = 0;

export async function createTestDb(dialect: "sqlite" | "postgres", tag: string): Promise<TestDb> {
  counter++;
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), `mimic-${tag}-`));
    const path = join(dir, "test.db");
    return {
      dialect,
      url: `file:${path}`,
      async query<T>(sql: string) {
        const c = new Database(path, { timeout: 10_000 });
        try {
          const stmt = c.prepare(sql);
          return (stmt.reader ? stmt.all() : (stmt.run(), [])) as T[];
        } finally {
          c.close();
        }
      },
      async drop() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `mimic_${tag}_${process.pid}_${counter}_${Math.random().toString(36).slice(2, 8)}`.replace(/[^a-z0-9_]/g, "_");
  const url = new URL(PG_URL!);
  url.searchParams.set("schema", schema);
  const run = async <T>(sql: string): Promise<T[]> => {
    const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path="${schema}"` });
    await c.connect();
    try {
      return (await c.query(sql)).rows as T[];
    } finally {
      await c.end();
    }
  };
  return {
    dialect,
    url: url.toString(),
    query: run,
    async drop() {
      await run(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A synthetic enrolment result whose bytes are derived from `seed` (so tests can verify them later). */
export function fakeTemplate(seed: string, cropBytes = 256): EnrolledTemplate {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  const next = () => ((h = Math.imul(h ^ (h >>> 15), 2246822507) ^ 0x9e3779b9) >>> 0) / 2 ** 32;
  const cropPng = new Uint8Array(Math.max(cropBytes, 16));
  cropPng.set(PNG_SIGNATURE);
  for (let i = PNG_SIGNATURE.length; i < cropPng.length; i++) cropPng[i] = Math.floor(next() * 256);
  const landmarks = new Float32Array(468 * 3).map(() => next() * 512);
  const embedding = new Float32Array(1024).map(() => next() - 0.5);
  return { cropPng, cropSize: 512, landmarks, embedding, analysis: { seed, pose: { yaw: 1, pitch: 2, roll: 3 } } };
}

/** Every table of the store (the drift test checks this list against the schema). */
export const STORE_TABLES = ["users", "templates", "server_settings", "usage_events", "bans", "audit_events", "forgotten_users"] as const;

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<MimicError> {
  try {
    await p;
  } catch (e) {
    return e as MimicError;
  }
  throw new Error("expected the promise to reject");
}
