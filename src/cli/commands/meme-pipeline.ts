/**
 * What `mimic meme` uses of the pipeline (sharp, onnxruntime, the GIF encoder), in one module the command imports
 * once the flags and files passed their checks: a refused run exits without loading them.
 */
export { makeMeme } from "../../pipeline/transfer/meme.ts";
export { photoFace, selectFace } from "../../pipeline/transfer/index.ts";
export { laterFrameNote, reactionFacesNote, stillReaction, trackReactionFaces } from "../../pipeline/animate/index.ts";
export { DEFAULT_GIF_MAX_BYTES } from "../../pipeline/gif/index.ts";
export { decodeImage, encodePng, readHeader } from "../../pipeline/image/index.ts";
export { sniffVideoMime } from "../../pipeline/video/index.ts";
export { assembleMeme } from "../../pipeline/meme.ts";
