/**
 * The ops HTTP endpoint (off unless OPS_PORT is set), on its own port so it can stay off the internet
 * while a load balancer or Prometheus reaches it:
 *   GET /healthz  200 while the process serves HTTP at all (liveness)
 *   GET /readyz   200 when every readiness check passes, else 503 naming the failing ones (JSON either way)
 *   GET /metrics  Prometheus text format
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MimicError } from "../errors.ts";
import { logger } from "../logger.ts";
import type { Metrics } from "./metrics.ts";

/** One readiness condition; it passes by resolving and fails by throwing (its message is reported). */
export type ReadinessCheck = () => Promise<void>;

export interface OpsServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  checks: Record<string, ReadinessCheck>;
  /** A check that has not answered by then fails (a hung database must not hang the probe). */
  checkTimeoutMs?: number;
}

export interface OpsServer {
  readonly url: string;
  close(): Promise<void>;
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    clearTimeout(timer);
  }
}

/** Names the setting to change: OPS_HOST when the address is the problem, OPS_PORT when the port is (as the playground does). */
function listenError(e: NodeJS.ErrnoException, host: string, port: number): MimicError {
  const where = `${host}:${port}`;
  switch (e.code) {
    case "EADDRINUSE":
      return new MimicError("CONFIG", `Port ${port} on ${host} is in use: set OPS_PORT to a free port.`, { cause: e });
    case "EACCES":
      return new MimicError("CONFIG", `The ops endpoint may not listen on ${where} (EACCES): set OPS_PORT to a free port above 1023.`, { cause: e });
    case "ENOTFOUND":
    case "EADDRNOTAVAIL":
    case "EAI_AGAIN":
    case "EAI_FAIL":
    case "EAI_NONAME":
    case "EAFNOSUPPORT":
      return new MimicError("CONFIG", `The ops endpoint cannot listen on ${host} (${e.code}): set OPS_HOST to an address of this machine, e.g. 127.0.0.1.`, { cause: e });
    default:
      return new MimicError("CONFIG", `The ops endpoint cannot listen on ${where} (${e.message}): check OPS_HOST and OPS_PORT.`, { cause: e });
  }
}

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const timeoutMs = opts.checkTimeoutMs ?? 2_000;
  const send = (res: import("node:http").ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
    res.end(body);
  };
  // A probe every few seconds: a warning when the set of failing checks changes (and info when ready again), not per
  // probe; by their names, as some messages carry a figure that changes at every probe ("N KiB free", "N s ago").
  let lastFailed = "";
  const noteReadiness = (failed: Record<string, string | undefined>) => {
    const key = Object.keys(failed).sort().join(",");
    if (key === lastFailed) return;
    const wasReady = lastFailed === "";
    lastFailed = key;
    if (Object.keys(failed).length) logger.warn({ failed }, "not ready");
    else if (!wasReady) logger.info("ready again");
  };
  const server: Server = createServer((req, res) => {
    let path: string;
    try {
      path = new URL(req.url ?? "/", "http://localhost").pathname;
    } catch {
      // An absolute-form target such as "http://[" (anyone who reaches the port can send one) must not take the process down.
      return send(res, 400, "text/plain", "bad request target\n");
    }
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "GET only\n");
    if (path === "/healthz") return send(res, 200, "application/json", '{"status":"ok"}\n');
    if (path === "/readyz") {
      void Promise.all(
        Object.entries(opts.checks).map(async ([name, check]) => [name, await runCheck(check, timeoutMs)] as const),
      ).then((results) => {
        const failed = Object.fromEntries(results.filter(([, err]) => err !== undefined));
        const ready = Object.keys(failed).length === 0;
        const checks = Object.fromEntries(results.map(([name, err]) => [name, err === undefined ? "ok" : err]));
        noteReadiness(failed);
        send(res, ready ? 200 : 503, "application/json", `${JSON.stringify({ status: ready ? "ready" : "not ready", checks })}\n`);
      });
      return;
    }
    if (path === "/metrics") {
      opts.metrics.registry.metrics().then(
        (text) => send(res, 200, opts.metrics.registry.contentType, text),
        (err: unknown) => {
          logger.error({ err }, "collecting metrics failed");
          send(res, 500, "text/plain", "collecting metrics failed\n");
        },
      );
      return;
    }
    send(res, 404, "text/plain", "not found: try /healthz, /readyz or /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => reject(listenError(e, opts.host, opts.port)));
    server.listen(opts.port, opts.host, () => {
      server.removeAllListeners("error");
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  const url = `http://${host}:${port}`;
  logger.info({ url }, "ops endpoint listening (/healthz, /readyz, /metrics)");
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
