// Start-up checks of an owner's LivePortrait folder: the stand-ins (exactly FaceFusion's signatures) pass;
// a missing file, a wrong shape, a wrong input name and a wrong element type are refused, naming the file.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MimicError } from "../../../src/errors.ts";
import { checkGeneratorDir, LIVEPORTRAIT_FILES, readOnnxSignature } from "../../../src/pipeline/generator/index.ts";
import { writeStandIns, type StandInOptions } from "../../../tools/generator/standins.ts";

const dirs: string[] = [];
function folder(opts: StandInOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "mimic-lp-"));
  dirs.push(dir);
  writeStandIns(dir, opts);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function refusal(dir: string): MimicError {
  try {
    checkGeneratorDir(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(MimicError);
    expect((e as MimicError).code).toBe("CONFIG");
    return e as MimicError;
  }
  throw new Error("the folder was accepted");
}

describe("LivePortrait folder check", () => {
  it("reads a file's inputs and outputs without loading it", () => {
    const dir = folder();
    const sig = readOnnxSignature(join(dir, "live_portrait_generator.onnx"));
    expect(sig.inputs).toEqual([
      { name: "feature_volume", elemType: 1, shape: [1, 32, 16, 64, 64] },
      { name: "source", elemType: 1, shape: [1, 21, 3] },
      { name: "target", elemType: 1, shape: [1, 21, 3] },
    ]);
    expect(sig.outputs).toEqual([{ name: "output", elemType: 1, shape: [1, 3, 512, 512] }]);
    const motion = readOnnxSignature(join(dir, "live_portrait_motion_extractor.onnx"));
    expect(motion.outputs.map((o) => o.shape)).toEqual([[1], [1], [1], [1, 1], [1, 3], [1, 21, 3], [1, 21, 3]]);
  });

  it("accepts FaceFusion's six files, with degrees or with 66 bins, fixed or symbolic batch", () => {
    expect(Object.keys(checkGeneratorDir(folder()))).toHaveLength(6);
    const sym = checkGeneratorDir(folder({ batch: "batch", angles: "bins" }));
    expect(sym.motionExtractor.signature.outputs[0]!.shape).toEqual(["batch", 66]);
  });

  it("refuses a missing file, naming it", () => {
    const dir = folder();
    unlinkSync(join(dir, "live_portrait_stitcher.onnx"));
    const e = refusal(dir);
    expect(e.message).toContain("live_portrait_stitcher.onnx is missing");
    expect(e.message).toContain("MIMIC_GENERATOR_DIR");
    // Only the missing one is named.
    for (const f of LIVEPORTRAIT_FILES.filter((f) => f !== "live_portrait_stitcher.onnx")) expect(e.message).not.toContain(f);
  });

  it("refuses a wrong output shape, saying what it is and what was expected", () => {
    const dir = folder({
      mutate: (model, sig) => {
        if (model === "generator") sig.outputs[0]!.shape = [1, 3, 256, 256];
      },
    });
    expect(refusal(dir).message).toContain(
      'live_portrait_generator.onnx: output 1 (image, named "output" in the file) has shape [1, 3, 256, 256], expected [N, 3, 512, 512]',
    );
  });

  it("refuses a wrong input shape, a renamed input, a wrong type and a missing output", () => {
    const dir = folder({
      mutate: (model, sig) => {
        if (model === "featureExtractor") sig.inputs[0]!.shape = [1, 3, 224, 224];
        if (model === "stitcher") sig.inputs[1]!.name = "driving";
        if (model === "eyeRetargeter") sig.outputs[0]!.elemType = 7;
        if (model === "motionExtractor") sig.outputs.pop();
      },
    });
    const msg = refusal(dir).message;
    expect(msg).toContain('live_portrait_feature_extractor.onnx: input "input" has shape [1, 3, 224, 224], expected [N, 3, 256, 256]');
    expect(msg).toContain('live_portrait_stitcher.onnx: it has no input "target" (its inputs: "source", "driving"); it has inputs Mimic does not feed: "driving"');
    expect(msg).toContain("live_portrait_eye_retargeter.onnx: output 1 (eye_motion, named \"output\" in the file) is int64, expected float32");
    expect(msg).toContain("live_portrait_motion_extractor.onnx: it has 6 outputs, expected 7");
  });

  it("refuses a file that is not ONNX", () => {
    const dir = folder();
    writeFileSync(join(dir, "live_portrait_lip_retargeter.onnx"), "not a model at all, just text");
    expect(refusal(dir).message).toMatch(/live_portrait_lip_retargeter\.onnx is not a readable ONNX model/);
  });
});
