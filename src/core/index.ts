/** The platform-neutral command core: what every adapter (Discord, Telegram, playground) calls. */
export { createCore, checkTemplateName, SETTING_KEYS, MAX_CAPTION_CHARS, FORGET_BUTTONS, NOTHING_DELETED, deleteFaceQuestion, BUTTON_MAX_AGE_MS, BUTTON_TOO_OLD, buttonTooOld, FACES_LISTED, CHARGED_INPUT_NOTE } from "./core.ts";
export type { Core, CoreOptions, MemeInput, MorphInput, ConfigInput } from "./core.ts";
export type { CommandContext, ImageInput, Reply, ReplyFile } from "./context.ts";
export { LOTTIE_FACE_REFUSAL, LOTTIE_MIME, LOTTIE_REACTION_REFUSAL, loadImage, readableFile, readableMime, sniffImageMime, untypedMime } from "./input.ts";
export { progressText, progressReporter } from "./progress.ts";
export type { FetchLike } from "./input.ts";
export type * from "./ports.ts";
export { watchAbandoned, abandonedText, type LateAnswer, type AbandonedWatch } from "./abandoned.ts";
