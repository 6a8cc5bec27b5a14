import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

/**
 * Keeps other web sites out of the playground. It has no login and its one user is an admin, so any page
 * open in the same browser could otherwise POST /api/forget (a no-cors "simple" request needs no consent)
 * or, by DNS rebinding a name of its own to 127.0.0.1, read GET /api/faces. Three checks close that:
 * - Host must name this server (a rebound attacker name is refused; an IP literal cannot be rebound);
 * - a state-changing request that carries an Origin must come from the playground's own origin;
 * - every POST and /api/ call must carry `X-Mimic: 1`, a custom header that a cross-site page can only
 *   send after a CORS preflight, which this server never grants.
 */

/** The header the page's own fetch calls send. */
export const CSRF_HEADER = "x-mimic";

export interface Refusal {
  status: 403;
  text: string;
}

export type RequestGuard = (req: IncomingMessage) => Refusal | undefined;

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);
const HOST_PATTERN = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/;

export function createRequestGuard(boundAddress: string, port: number): RequestGuard {
  const wildcard = boundAddress === "0.0.0.0" || boundAddress === "::";
  const loopback = /^(127\.|::1$|::ffff:127\.)/.test(boundAddress);
  const bound = isIP(boundAddress) === 6 ? `[${boundAddress}]` : boundAddress;
  const ownUrl = `http://${loopback || wildcard ? "127.0.0.1" : bound}:${port}/`;

  const hostAllowed = (host: string): boolean => {
    const m = HOST_PATTERN.exec(host.toLowerCase());
    if (!m) return false;
    const [, name, portText] = m;
    if (Number(portText ?? 80) !== port) return false;
    if (name === bound) return true;
    if ((loopback || wildcard) && LOOPBACK_NAMES.has(name)) return true;
    // Bound to every interface: any of this machine's IP addresses, never a DNS name (rebinding).
    return wildcard && isIP(name.replace(/^\[|\]$/g, "")) !== 0;
  };
  const originAllowed = (origin: string): boolean => origin.startsWith("http://") && hostAllowed(origin.slice("http://".length));
  const wrongHost = wildcard
    ? `The playground answers at this machine's IP addresses only, not at a name (a name could be pointed at it by another web site): open http://<this machine's IP address>:${port}/ from another machine, or ${ownUrl} on this one.`
    : `The playground only answers at its own address: open ${ownUrl} in your browser.`;

  return (req) => {
    const host = req.headers.host;
    if (!host || !hostAllowed(host)) {
      return { status: 403, text: wrongHost };
    }
    const path = (req.url ?? "/").split("?")[0];
    const stateChanging = req.method !== "GET" && req.method !== "HEAD";
    const origin = req.headers.origin;
    if (stateChanging && origin !== undefined && !originAllowed(origin)) {
      return { status: 403, text: "Requests from other web sites are refused: use the playground page itself." };
    }
    if ((stateChanging || path.startsWith("/api/")) && req.headers[CSRF_HEADER] !== "1") {
      return { status: 403, text: "Please use the playground page (reload it if it is open): this request did not come from it." };
    }
    return undefined;
  };
}
