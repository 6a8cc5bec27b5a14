// Start-up with MIMIC_GENERATOR=liveportrait: the app refuses to start on a folder with a missing file or a
// wrong shape, naming the file; mesh (the default) needs no folder at all.
import { mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { MimicError } from "../../src/errors.ts";
import { withGenerator, type InferenceQueue, type Job } from "../../src/queue/index.ts";
import { writeStandIns } from "../../tools/generator/standins.ts";
import { expectRejects } from "./helpers.ts";

const root = mkdtempSync(join(tmpdir(), "mimic-gen-start-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const configFor = (name: string, env: Record<string, string>) =>
  loadConfig({ DATA_DIR: join(root, name), QUEUE_WORKERS: "1", ORT_THREADS: "1", LOG_LEVEL: "silent", ...env });

async function startError(env: Record<string, string>, name: string): Promise<MimicError> {
  try {
    const app = await createApp(configFor(name, env));
    await app.close({ drainMs: 0 });
  } catch (e) {
    return e as MimicError;
  }
  throw new Error("the app started");
}

describe("generator start-up check", () => {
  it("mesh is the default and needs no model folder", () => {
    expect(configFor("d", {}).MIMIC_GENERATOR).toBe("mesh");
    expect(() => configFor("d", { MIMIC_GENERATOR: "gan" })).toThrow(/MIMIC_GENERATOR/);
  });

  it("a missing file: the app does not start and names it", async () => {
    const dir = join(root, "missing");
    writeStandIns(dir);
    unlinkSync(join(dir, "live_portrait_eye_retargeter.onnx"));
    const e = await startError({ MIMIC_GENERATOR: "liveportrait", MIMIC_GENERATOR_DIR: dir }, "a");
    expect(e).toBeInstanceOf(MimicError);
    expect(e.code).toBe("CONFIG");
    expect(e.message).toContain("live_portrait_eye_retargeter.onnx is missing");
  });

  it("a wrong shape: the app does not start and says what differs", async () => {
    const dir = join(root, "shape");
    writeStandIns(dir, { mutate: (m, sig) => m === "motionExtractor" && (sig.outputs[5]!.shape = [1, 20, 3]) });
    const e = await startError({ MIMIC_GENERATOR: "liveportrait", MIMIC_GENERATOR_DIR: dir }, "b");
    expect(e.code).toBe("CONFIG");
    expect(e.message).toContain('live_portrait_motion_extractor.onnx: output 6 (expression, named "expression" in the file) has shape [1, 20, 3], expected [N, 21, 3]');
  });

  it("the default folder is <DATA_DIR>/liveportrait", async () => {
    const e = await startError({ MIMIC_GENERATOR: "liveportrait" }, "c");
    expect(e.message).toContain(join(root, "c", "liveportrait"));
  });
});

describe("which jobs the queue sends to the generator", () => {
  it("mimic memes and animations, only with MIMIC_GENERATOR=liveportrait; swap is stamped mesh, and refused on the generator", async () => {
    const seen: unknown[] = [];
    const fake = { submit: async (job: unknown) => (seen.push(job), { kind: "enrol" }), stats: async () => ({}), close: async () => undefined } as unknown as InferenceQueue;
    const meme = { kind: "meme", mode: "mimic" } as unknown as Job;
    const jobs = [meme, { kind: "meme", mode: "swap" }, { kind: "animated", mode: "mimic" }, { kind: "animated", mode: "swap" }, { kind: "enrol" }, { kind: "meme", mode: "mimic", generator: "mesh" }] as unknown as Job[];
    const q = withGenerator(configFor("w", { MIMIC_GENERATOR: "liveportrait" }), fake);
    for (const j of jobs) await q.submit(j, { requestId: "r", userId: "u", serverId: null });
    expect(seen.map((j) => (j as { generator?: string }).generator)).toEqual(["liveportrait", "mesh", "liveportrait", "mesh", undefined, "mesh"]);
    const e = await expectRejects(q.submit({ kind: "meme", mode: "swap", generator: "liveportrait" } as unknown as Job, { requestId: "r", userId: "u", serverId: null }));
    expect(e.code).toBe("BAD_INPUT");
    expect(seen).toHaveLength(6);
    expect(withGenerator(configFor("w", {}), fake)).toBe(fake);
  });
});
