/**
 * Issue #15 removed the core ↔ queue import cycle: the core depends on the queue's interface
 * (src/queue/jobs.ts) and on the request types (src/requests.ts); nothing the queue loads, directly or
 * through other modules, comes from src/core. Type-only imports count too (the cycle was one).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const src = fileURLToPath(new URL("../../src/", import.meta.url));

/** Relative imports and re-exports of a module (static, dynamic and type-only), resolved to files. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1]);
  return specs.map((s) => resolve(dirname(file), s)).map((p) => (existsSync(p) ? p : [`${p}.ts`, join(p, "index.ts")].find(existsSync) ?? p));
}

/** Every module `entry` reaches through relative imports, with the chain that reached it. */
function reachable(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>([[entry, [entry]]]);
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (!file.endsWith(".ts") || !existsSync(file)) continue;
    for (const next of importsOf(file)) {
      if (seen.has(next)) continue;
      seen.set(next, [...seen.get(file)!, next]);
      todo.push(next);
    }
  }
  return seen;
}

test("nothing src/queue loads comes from src/core", () => {
  const queueDir = join(src, "queue");
  const offenders: string[] = [];
  for (const f of readdirSync(queueDir)) {
    if (!f.endsWith(".ts")) continue;
    for (const [file, chain] of reachable(join(queueDir, f))) {
      if (file.startsWith(join(src, "core"))) offenders.push(chain.map((p) => relative(src, p)).join(" → "));
    }
  }
  expect(offenders).toEqual([]);
  // The walk does follow imports: the queue reaches the request types and the pipeline through them.
  expect([...reachable(join(queueDir, "handlers.ts")).keys()].map((p) => relative(src, p))).toEqual(
    expect.arrayContaining(["requests.ts", "pipeline/meme.ts"]),
  );
});
