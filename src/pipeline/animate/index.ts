/** Animated output: expression morphs, two-face morphs, animated reactions, and the animated meme entry point. */
export { animatedMemeFrames, renderFaceMorphGif, captionFrames, DEFAULT_ANIMATION_SIZE } from "./meme.ts";
export type { AnimatedMemeInput, AnimatedMemeResult, AnimatedMemeFrames, FaceMorphGifInput } from "./meme.ts";
export { morphExpression, morphFaces } from "./morph.ts";
export type { MorphOptions, MorphFrames, FaceMorphFrames, ExpressionMorphInput, FaceMorphInput } from "./morph.ts";
export { animateReaction, decodeReaction, detectReactionFaces, laterFrameNote, reactionFacesNote, readReaction, restFrames, stillReaction, STILL_SEARCH_FRAMES, smoothLandmarks, trackReactionFaces, MAX_REACTION_FRAMES, MAX_REACTION_TOTAL_PIXELS } from "./reaction.ts";
export type { AnimateReactionInput, AnimatedReaction } from "./reaction.ts";
export { morphTiming, easeInOut, DEFAULT_MORPH_FRAMES, DEFAULT_MORPH_FPS, MAX_MORPH_FRAMES } from "./schedule.ts";
export type { LoopMode, MorphTiming } from "./schedule.ts";
