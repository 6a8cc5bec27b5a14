/**
 * A cancelled animation stops within a frame: the meme assembly looks at its AbortSignal between the frames it
 * makes (and between encoding steps), giving the event loop a turn at each, so a worker hears its cancel message
 * (a macrotask: here a setImmediate stands for it) and its handler ends with the cancellation error within the
 * pool's grace, instead of making every frame and having its process killed (and its models reloaded).
 */
import { describe, expect, it } from "vitest";
import { MimicError } from "../../../src/errors.ts";
import { assembleMeme, type MemeInput } from "../../../src/pipeline/meme.ts";
import { useFixtureFaces, type FixtureFace } from "../../helpers/fixture-faces.ts";

const fx = useFixtureFaces();
const img = (n: FixtureFace) => fx.images.get(n)!;
const face = (n: FixtureFace) => fx.faces.get(n)!;

/** The worker's cancellation error (src/queue/worker.ts aborts a job's signal with it). */
const cancelled = () => new MimicError("CANCELLED", "The request was cancelled.");

/**
 * An assembly cancelled once its first frame is made: the abort comes a macrotask later (as the worker's cancel
 * message does), so only an assembly that gives the event loop a turn between frames hears it before the end.
 */
async function cancelAfterFirstFrame(input: Omit<MemeInput, "output">, output: Omit<Extract<MemeInput["output"], { kind: "animation" }>, "signal" | "onFrame">) {
  const ac = new AbortController();
  const reason = cancelled();
  const made: { made: number; of: number }[] = [];
  const outcome = await assembleMeme({
    ...input,
    output: {
      ...output,
      signal: ac.signal,
      onFrame: (n, of) => {
        made.push({ made: n, of });
        if (n === 1) setImmediate(() => ac.abort(reason));
      },
    },
  }).then(
    (r) => ({ ok: true as const, r }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  return { outcome, reason, made };
}

describe("a cancelled animation stops between frames with the cancellation error", () => {
  it("a morph (/morph: the saved face into a still reaction's expression)", async () => {
    const { outcome, reason, made } = await cancelAfterFirstFrame(
      {
        template: img("franck_01829.jpg"),
        templateFace: face("franck_01829.jpg"),
        reaction: { frames: [img("franck_04117.jpg")], delaysMs: [0] },
        reactionFaces: [face("franck_04117.jpg")],
        captions: { top: "OH NO" },
      },
      { kind: "animation", format: "gif" },
    );
    expect(made.length, "the morph made its first frame").toBeGreaterThan(0);
    expect(outcome.ok, "the morph ran to the end although cancelled after its first frame").toBe(false);
    if (outcome.ok) return;
    expect(outcome.e).toBe(reason);
    const of = made[0]!.of;
    expect(of).toBe(24);
    expect(made.at(-1)!.made).toBeLessThan(of);
  });

  it("an animated meme (a GIF reaction followed frame by frame)", async () => {
    const frames = [0, 1, 2, 3, 4, 5].map((i) => img(i % 2 ? "franck_04117.jpg" : "franck_02221.jpg"));
    const { outcome, reason, made } = await cancelAfterFirstFrame(
      {
        template: img("franck_01829.jpg"),
        templateFace: face("franck_01829.jpg"),
        reaction: { frames, delaysMs: frames.map(() => 100) },
        reactionFaces: frames.map((f) => face(f === img("franck_04117.jpg") ? "franck_04117.jpg" : "franck_02221.jpg")),
        captions: { bottom: "same energy" },
      },
      { kind: "animation", format: "gif" },
    );
    expect(made.length, "the animation made its first frame").toBeGreaterThan(0);
    expect(outcome.ok, "the animation ran to the end although cancelled after its first frame").toBe(false);
    if (outcome.ok) return;
    expect(outcome.e).toBe(reason);
    expect(made[0]!.of).toBe(6);
    expect(made.at(-1)!.made).toBeLessThan(6);
  });

  it("a cancellation heard after the frames are made (during the output check) stops before encoding", async () => {
    const ac = new AbortController();
    const reason = cancelled();
    let checked = 0;
    const outcome = await assembleMeme({
      template: img("franck_01829.jpg"),
      templateFace: face("franck_01829.jpg"),
      reaction: { frames: [img("franck_04117.jpg")], delaysMs: [0] },
      reactionFaces: [face("franck_04117.jpg")],
      // The NSFW gate's output check: the job is cancelled while it runs (it does not look at the signal itself).
      check: async () => {
        checked++;
        await new Promise<void>((resolve) => setImmediate(resolve));
        ac.abort(reason);
      },
      output: { kind: "animation", format: "gif", morph: { frames: 6 }, signal: ac.signal },
    }).then(
      () => ({ ok: true as const }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    expect(checked).toBe(1);
    expect(outcome.ok, "the GIF was encoded although the job was cancelled before encoding").toBe(false);
    if (!outcome.ok) expect(outcome.e).toBe(reason);
  });

  it("without a cancellation the same assembly is unchanged: every frame made and encoded", async () => {
    const made: number[] = [];
    const ac = new AbortController();
    const out = await assembleMeme({
      template: img("franck_01829.jpg"),
      templateFace: face("franck_01829.jpg"),
      reaction: { frames: [img("franck_04117.jpg")], delaysMs: [0] },
      reactionFaces: [face("franck_04117.jpg")],
      output: { kind: "animation", format: "gif", morph: { frames: 6, loop: "forward" }, signal: ac.signal, onFrame: (n) => made.push(n) },
    });
    expect(made).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out.mime).toBe("image/gif");
    expect(out.animation?.frames).toBe(6);
  });
});
