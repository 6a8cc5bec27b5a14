/**
 * The GIF encoder looks at its AbortSignal between frames and between its budget's attempts (giving the event
 * loop a turn at each), so a cancelled animated job stops encoding with the cancellation error instead of
 * running every attempt to the end.
 */
import { describe, expect, it } from "vitest";
import { MimicError } from "../../../src/errors.ts";
import { encodeGif } from "../../../src/pipeline/gif/index.ts";
import { resizeImage } from "../../../src/pipeline/image/index.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";
import { image, rng } from "./helpers.ts";

const noise = (seed: number): RgbImage => {
  const r = rng(seed);
  return image(160, 128, () => [(r() * 256) | 0, (r() * 256) | 0, (r() * 256) | 0]);
};

describe("encodeGif cancellation", () => {
  it("a cancellation heard while the budget redraws the frames smaller stops before the next attempt", async () => {
    const frames = [1, 2, 3, 4].map(noise);
    const ac = new AbortController();
    const reason = new MimicError("CANCELLED", "The request was cancelled.");
    let redraws = 0;
    const outcome = await encodeGif(frames, {
      delaysMs: 100,
      // Noise is far over this: the budget scales the frames down, again and again.
      maxBytes: 8192,
      redraw: async (w, h) => {
        redraws++;
        // As a worker's cancel message: a macrotask later.
        setImmediate(() => ac.abort(reason));
        return frames.map((f) => resizeImage(f, w, h));
      },
      signal: ac.signal,
    }).then(
      () => ({ ok: true as const }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    expect(outcome.ok, "the encode went on to the end although cancelled").toBe(false);
    if (!outcome.ok) expect(outcome.e).toBe(reason);
    expect(redraws).toBe(1);
  });

  it("a signal already fired stops it before any work; one never fired changes nothing", async () => {
    const frames = [1, 2, 3].map(noise);
    const reason = new MimicError("CANCELLED", "The request was cancelled.");
    await expect(encodeGif(frames, { delaysMs: 100, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    const plain = await encodeGif(frames, { delaysMs: 100, maxBytes: 60_000 });
    const watched = await encodeGif(frames, { delaysMs: 100, maxBytes: 60_000, signal: new AbortController().signal });
    expect(plain.reductions.length).toBeGreaterThan(0);
    expect(Buffer.from(watched.bytes).equals(Buffer.from(plain.bytes))).toBe(true);
    expect(watched.reductions).toEqual(plain.reductions);
  });
});
