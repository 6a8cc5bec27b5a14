export { renderMeme, renderCaptionOverlay, applyOverlay, captionBoxes, faceAvoidBox, prepareCaptions, MAX_CAPTION_BOXES } from "./meme.ts";
export type { MemeCaptions, CaptionText, CaptionBox, CaptionOverlay, PlacedCaption } from "./meme.ts";
export { fitCaption, layoutCaption, MAX_LINES } from "./fit.ts";
export type { FitOptions, FitResult, CaptionLayout, VAlign } from "./fit.ts";
export { cleanCaption, normalizeCaption, prepareCaption, tokenize, MAX_CAPTION_CHARS } from "./text.ts";
export type { PreparedCaption, PreparedText } from "./text.ts";
export { ensureCaptionFonts, CAPTION_FONT_FAMILY } from "./fonts.ts";
