/**
 * A job a worker refuses at once (a damaged picture) may fail before submit() has handed its promise back:
 * the refusal must reach the caller, never stop the process as an unhandled rejection (QA N2 #1: the bot
 * process exited on a truncated PNG in Redis mode). The window is held open on purpose: the new job's first
 * position read (the POSITIONS script) is answered only once the job's failure has been read.
 */
import { createHash, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { createRedisQueue, startRedisWorker, type RedisWorkerHandle } from "../../src/queue/redis.ts";
import { CLAIM, POSITIONS } from "../../src/queue/redis-scripts.ts";
import type { InferenceQueue } from "../../src/queue/jobs.ts";
import { expectRejects, memeJob, redisQueueOptions } from "./helpers.ts";

const REDIS = process.env.TEST_REDIS_URL;
const sha1 = (lua: string) => createHash("sha1").update(lua).digest("hex");
const [POSITIONS_SHA, CLAIM_SHA] = [sha1(POSITIONS), sha1(CLAIM)];

describe.skipIf(!REDIS)("redis queue: a job that fails while submit() is still under way", () => {
  const prefix = `mimictest:${randomUUID().slice(0, 8)}`;
  let worker: RedisWorkerHandle;
  let q: InferenceQueue & { ready(): Promise<void> };
  let probe: Redis;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled);
    worker = await startRedisWorker({ ...redisQueueOptions(REDIS!, prefix), stallMs: 2000 });
    q = createRedisQueue(redisQueueOptions(REDIS!, prefix));
    await q.ready();
    probe = new Redis(REDIS!);
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    process.off("unhandledRejection", onUnhandled);
    await q?.close({ drainMs: 0 });
    await worker?.close({ drainMs: 0 });
    probe?.disconnect();
  });

  test("the caller hears the refusal; nothing is left unhandled", async () => {
    // Held: the worker's claim until the producer asks for the new job's first position, and that answer until
    // the failed job's result has been read (collect deletes it).
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let askedPosition!: () => void;
    const positionAsked = new Promise<void>((r) => (askedPosition = r));
    let held = false;
    const send = Redis.prototype.sendCommand;
    vi.spyOn(Redis.prototype, "sendCommand").mockImplementation(function (this: Redis, ...args: Parameters<typeof send>) {
      const command = args[0] as unknown as { name: string; args: unknown[] };
      const script = command.name === "evalsha" ? command.args[0] : undefined;
      if (script === CLAIM_SHA && !held) return positionAsked.then(() => send.apply(this, args)) as ReturnType<typeof send>;
      const answer = send.apply(this, args);
      if (script === POSITIONS_SHA && !held) {
        held = true;
        askedPosition();
        return gate.then(() => answer) as ReturnType<typeof send>;
      }
      return answer;
    });
    const listener = new Redis(REDIS!);
    await listener.subscribe(`${prefix}:events`);
    const failed = new Promise<void>((r) => listener.on("message", (_c: string, m: string) => JSON.parse(m).type === "failed" && r()));
    const submitted = q.submit(memeJob("fail"), { requestId: "r-fast-fail", userId: "u1", serverId: "s1" });
    // The worker fails the job at once. The producer deletes its result as it settles the job, in one step:
    // once the failure is out and no result is left, the refusal has been delivered (or found nobody).
    await failed;
    listener.disconnect();
    const bound = Date.now() + 30_000;
    while ((await probe.keys(`${prefix}:res:*`)).length > 0) {
      if (Date.now() > bound) throw new Error("the job's result was never read");
      await new Promise((r) => setTimeout(r, 20));
    }
    release();
    const e = await expectRejects(submitted);
    expect(e.code).toBe("NO_FACE");
    await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
  });
});
