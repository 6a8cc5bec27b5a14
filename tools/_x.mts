import * as ort from "onnxruntime-node";
import { mkdirSync } from "node:fs";
mkdirSync("/tmp/optcache", { recursive: true });
for (const name of ["blazeface", "facemesh", "facemesh-attention", "blazeface-front", "faceres", "nsfw-mobilenetv2"]) {
  const path = `models/${name}.onnx`;
  const opt = `/tmp/optcache/${name}.onnx`;
  let t = performance.now();
  const a = await ort.InferenceSession.create(path, { executionProviders: ["cpu"], intraOpNumThreads: 1, graphOptimizationLevel: "extended", optimizedModelFilePath: opt });
  const tA = performance.now() - t;
  t = performance.now();
  const b = await ort.InferenceSession.create(opt, { executionProviders: ["cpu"], intraOpNumThreads: 1, graphOptimizationLevel: "all" });
  const tB = performance.now() - t;
  t = performance.now();
  const c = await ort.InferenceSession.create(path, { executionProviders: ["cpu"], intraOpNumThreads: 1, graphOptimizationLevel: "all" });
  const tC = performance.now() - t;
  const meta = c.inputMetadata[0] as any;
  const shape = meta.shape.map((d: any) => (typeof d === "number" && d > 0 ? d : 1));
  const n = shape.reduce((x: number, y: number) => x * y, 1);
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
  const feeds = { [c.inputNames[0]]: new ort.Tensor("float32", data, shape) };
  const time = async (s: ort.InferenceSession) => { await s.run(feeds); const t0 = performance.now(); let o; for (let i = 0; i < 10; i++) o = await s.run(feeds); return [(performance.now() - t0) / 10, o] as const; };
  const [rb, ob] = await time(b);
  const [rc, oc] = await time(c);
  let same = true;
  for (const k of Object.keys(oc!)) { const x = oc![k].data as Float32Array, y = ob![k].data as Float32Array; for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) { same = false; break; } }
  console.log(name, `create all ${tC.toFixed(0)} (with save ${tA.toFixed(0)}) vs cached ${tB.toFixed(0)} ms; run ${rc.toFixed(2)} vs ${rb.toFixed(2)} ms; identical ${same}`);
}
