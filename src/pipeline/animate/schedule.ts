import { MimicError } from "../../errors.ts";

export type LoopMode = "pingpong" | "forward";

export const DEFAULT_MORPH_FRAMES = 24;
export const DEFAULT_MORPH_FPS = 20;
export const MAX_MORPH_FRAMES = 120;
/** The two extremes stay on screen a moment so the eye can read them. */
export const DEFAULT_HOLD_MS = 600;

/** Slow in, slow out: a face starts and stops moving gently. */
export const easeInOut = (t: number) => 0.5 - 0.5 * Math.cos(Math.PI * Math.min(1, Math.max(0, t)));

export interface MorphTiming {
  /** Progress 0..1 per frame, before easing. */
  t: number[];
  delaysMs: number[];
}

/**
 * Frame schedule. forward: 0 → 1 over `frames` frames. pingpong: 0 → 1 → back, the whole cycle in `frames`
 * frames with no repeated frame at the turn, so it loops seamlessly. The end frames hold for holdMs.
 */
export function morphTiming(frames = DEFAULT_MORPH_FRAMES, loop: LoopMode = "pingpong", fps = DEFAULT_MORPH_FPS, holdMs = DEFAULT_HOLD_MS): MorphTiming {
  if (!Number.isInteger(frames) || frames < 2 || frames > MAX_MORPH_FRAMES) {
    throw new MimicError("BAD_INPUT", `A morph needs 2–${MAX_MORPH_FRAMES} frames (got ${frames}).`);
  }
  if (!Number.isFinite(fps) || fps < 1 || fps > 50) {
    throw new MimicError("BAD_INPUT", `The frame rate must be 1–50 frames per second (got ${fps}).`);
  }
  if (loop !== "pingpong" && loop !== "forward") {
    throw new MimicError("BAD_INPUT", `Loop mode must be "pingpong" or "forward" (got ${String(loop)}).`);
  }
  const t: number[] = [];
  if (loop === "forward") {
    for (let i = 0; i < frames; i++) t.push(i / (frames - 1));
  } else {
    const half = Math.max(1, Math.floor(frames / 2));
    for (let i = 0; i < frames; i++) t.push(i <= half ? i / half : (frames - i) / half);
  }
  const frameMs = 1000 / fps;
  const hold = Math.max(frameMs, holdMs);
  const delaysMs = t.map((x) => (x === 0 || x === 1 ? hold : frameMs));
  return { t, delaysMs };
}
