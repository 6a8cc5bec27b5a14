export { encodeGif, toCentiseconds, DEFAULT_GIF_MAX_BYTES, MIN_GIF_MAX_BYTES } from "./encode.ts";
export type { EncodeGifOptions, EncodedGif, RedrawFrames } from "./encode.ts";
