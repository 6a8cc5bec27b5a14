/**
 * The ops endpoint's parts, loaded by the composition root only when OPS_PORT is set (prom-client stays
 * off the start-up path otherwise).
 */
import { readdir, stat, statfs } from "node:fs/promises";
import { dirname } from "node:path";
import type { InferenceQueue } from "../queue/jobs.ts";
import type { Store } from "../templates/store.ts";
import type { ReadinessCheck } from "./server.ts";

export { createMetrics, type Metrics } from "./metrics.ts";
export { countTurnedAway, observePorts, observeQueue, refusalReason } from "./observe.ts";
export { startOpsServer, type OpsServer, type ReadinessCheck } from "./server.ts";

/** The bundled models (repository root /models; dist/ links it at the same relative place). */
const MODELS_DIR = new URL("../../models/", import.meta.url);

/**
 * One line for /readyz: Prisma's message reports the call and a code frame before the cause on its last line
 * ("Can't reach database server at …"), which is the part an operator needs.
 */
function causeLine(e: unknown): string {
  const lines = (e instanceof Error ? e.message : String(e)).split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? String(e);
}

/** Below this much free space on the SQLite file's disk, saves and uses start to be refused as "storage full". */
const STORAGE_MIN_FREE_BYTES = 1 << 20;

/** The queue as readiness sees it: the Redis queue also says whether any `mimic worker` is there to run its jobs. */
type CheckedQueue = InferenceQueue & { ready?: () => Promise<void>; checkWorkers?: () => Promise<void> };

/**
 * What /readyz checks: the models are in place and (in-process queue) every worker process has loaded
 * them; the database answers a query; the queue answers (in Redis mode: Redis is reachable, and a worker
 * runs for QUEUE_PREFIX, or the last one left within the queue's grace, while requests are still taken); an
 * SQLite file's disk has room for writes (PostgreSQL's disk is its server's to watch).
 */
export function readinessChecks(parts: { store: Store; queue: CheckedQueue }): Record<string, ReadinessCheck> {
  return {
    async models() {
      const onnx = (await readdir(MODELS_DIR)).filter((f) => f.endsWith(".onnx"));
      if (onnx.length === 0) throw new Error("no .onnx models in models/");
      for (const f of onnx) if ((await stat(new URL(f, MODELS_DIR))).size === 0) throw new Error(`models/${f} is empty`);
      await parts.queue.ready?.();
    },
    async database() {
      await parts.store.templates.list({ platform: "ops", userId: "readyz" }).catch((e: unknown) => {
        throw new Error(causeLine(e));
      });
    },
    async queue() {
      await parts.queue.stats();
      await parts.queue.checkWorkers?.();
    },
    ...(parts.store.file !== undefined && {
      async storage() {
        const folder = dirname(parts.store.file!);
        const { bavail, bsize } = await statfs(folder);
        const free = bavail * bsize;
        if (free < STORAGE_MIN_FREE_BYTES) {
          throw new Error(`the disk holding ${folder} is full (${Math.floor(free / 1024)} KiB free): free some space, or move DATA_DIR to a bigger disk`);
        }
      },
    }),
  };
}
