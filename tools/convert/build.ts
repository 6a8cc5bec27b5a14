// Builds one committed ONNX file from its pinned npm source, entirely in memory.
import { convertTfjsGraph } from "./convert.ts";
import { loadSourceFiles, sha256, type ModelSource } from "./sources.ts";
import { parseTfjsLayersUmd } from "./tfjs-layers.ts";
import { parseTfjsGraphModel } from "./tfjs-model.ts";

export function buildModel(root: string, source: ModelSource): Uint8Array {
  const files = loadSourceFiles(root, source);
  const model = source.format === "layers-umd" ? parseTfjsLayersUmd(files, source.modelJson) : parseTfjsGraphModel(files);
  const sourceHashes = Object.entries(source.sha256).map(([f, h]) => `${f}=${h}`);
  return convertTfjsGraph(model, {
    name: source.file.replace(/\.onnx$/, ""),
    description: source.description,
    metadata: [
      ["source_package", `${source.packageName}@${source.packageVersion}`],
      ["source_model", source.modelJson],
      ["source_sha256", sourceHashes.join(" ")],
      ["upstream", source.upstream],
      ["licence", source.licence],
      ["converter", "tools/convert (npm run models)"],
    ],
  });
}

export { sha256 };
