import { loadConfig } from "../../config.ts";

/** Input limits used when a caller passes none: MAX_INPUT_PIXELS / MAX_INPUT_BYTES, read once per thread. */
let cached: { maxPixels: number; maxBytes: number } | undefined;

export function defaultInputLimits(): { maxPixels: number; maxBytes: number } {
  if (!cached) {
    const c = loadConfig();
    cached = { maxPixels: c.MAX_INPUT_PIXELS, maxBytes: c.MAX_INPUT_BYTES };
  }
  return cached;
}
