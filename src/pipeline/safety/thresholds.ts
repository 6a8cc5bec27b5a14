/**
 * Default refusal threshold of the NSFW gate on the classifier's unsafe score (porn + hentai), used where a
 * server set none (`nsfw_threshold`). Kept apart from the classifier so the store can read it without
 * loading onnxruntime. Measurements (false positives on every safe image, cost): bench/README.md.
 */
export const DEFAULT_NSFW_THRESHOLD = 0.7;
