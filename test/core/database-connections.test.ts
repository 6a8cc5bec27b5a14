import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandContext } from "../../src/core/index.ts";
import { DOUBLE_HANDLERS, startTestApp } from "../bots/harness.ts";
import { createTestDb, PG_URL, type TestDb } from "../templates/helpers.ts";

/**
 * A PostgreSQL role (or server) whose connection limit is reached: requests wait for the pool's connections when
 * DATABASE_POOL_SIZE fits under the limit, and are told the database cannot be reached (not "something went
 * wrong") when the pool asks for more than the server allows. The role's limit stands in for max_connections.
 */
const LIMIT = 3;
const role = `mimic_pool_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
let db: TestDb;
let url: string;

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  if (!PG_URL) return;
  db = await createTestDb("postgres", "pool");
  const schema = new URL(db.url).searchParams.get("schema")!;
  const database = new URL(PG_URL).pathname.slice(1);
  await admin(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT ${LIMIT}`);
  await admin(`GRANT CREATE, CONNECT ON DATABASE "${database}" TO ${role}`);
  await admin(`CREATE SCHEMA "${schema}" AUTHORIZATION ${role}`);
  const u = new URL(db.url);
  u.username = role;
  u.password = "";
  url = u.toString();
});

afterAll(async () => {
  if (!PG_URL) return;
  await db.drop();
  const database = new URL(PG_URL).pathname.slice(1);
  await admin(`REVOKE ALL ON DATABASE "${database}" FROM ${role}`);
  await admin(`DROP ROLE IF EXISTS ${role}`);
});

const ctx = (i: number): CommandContext => ({
  platform: "discord",
  userId: `10000000000000000${i}`,
  serverId: "200000000000000000",
  channelId: "300000000000000000",
  isAdmin: false,
  requestId: `pool-${i}`,
  attachmentLimitBytes: 8 << 20,
});

async function burst(env: Record<string, string>) {
  const app = await startTestApp({ DATABASE_URL: url, ...env }, { handlers: DOUBLE_HANDLERS });
  try {
    return await Promise.all(Array.from({ length: 12 }, (_, i) => app.core.usage(ctx(i))));
  } finally {
    await app.close();
  }
}

describe.skipIf(!PG_URL)("PostgreSQL connection limit", () => {
  it("a pool sized under the limit (DATABASE_POOL_SIZE) makes a burst of requests wait their turn: all are answered", async () => {
    const replies = await burst({ DATABASE_POOL_SIZE: "1" });
    expect(replies.map((r) => r.errorCode ?? "ok")).toEqual(Array(12).fill("ok"));
    expect(replies[0].text).toMatch(/^Today you made 0 memes/);
  });

  it("a pool larger than the server allows: the requests refused a connection are told to try again, not that something broke", async () => {
    const replies = await burst({ DATABASE_POOL_SIZE: "12" });
    const refused = replies.filter((r) => r.errorCode);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect([r.errorCode, r.text]).toEqual(["BUSY", "Mimic cannot reach its database right now. Please try again in a minute."]);
  });
});
