import { readdirSync } from "node:fs";
import { decodeImage } from "./src/pipeline/image/index.ts";
import { NsfwClassifier } from "./src/pipeline/safety/nsfw.ts";
import { readFileSync } from "node:fs";
const c = await NsfwClassifier.load({ provider: "cpu", threads: 2 });
for (const f of readdirSync("test/fixtures/faces").filter((f) => /\.(jpg|png)$/.test(f))) {
  const img = await decodeImage(new Uint8Array(readFileSync(`test/fixtures/faces/${f}`)));
  const t = performance.now();
  const [s] = await c.classify([img]);
  console.log(f, JSON.stringify(Object.fromEntries(Object.entries(s.classes).map(([k, v]) => [k, +v.toFixed(4)]))), s.unsafe.toFixed(4), (performance.now() - t).toFixed(1), "ms");
}
