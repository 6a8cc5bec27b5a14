export { findFfmpeg, runFfmpeg } from "./ffmpeg.ts";
export { encodeMp4, decodeVideo, frameTiming, DEFAULT_MP4_CRF, MAX_VIDEO_FRAMES } from "./mp4.ts";
export type { EncodeMp4Options, EncodedMp4, DecodedVideo } from "./mp4.ts";
export { encodeAnimation, ANIMATION_FORMATS } from "./animation.ts";
export type { AnimationFormat, EncodedAnimation, EncodeAnimationOptions } from "./animation.ts";
export { cannotReadVideos, decodeVideoReaction, sniffVideoMime } from "./reaction.ts";
export type { VideoMime, VideoReactionOptions } from "./reaction.ts";
