/** Image decoding (with guards against hostile uploads), encoding and pixel helpers on RgbImage. */
export { decodeImage, decodeAnimation, readHeader } from "./decode.ts";
export type { DecodeOptions, AnimationOptions, DecodedAnimation } from "./decode.ts";
export { encodePng, encodeJpeg } from "./encode.ts";
export {
  applyAffine,
  composeAffine,
  copyImage,
  cropImage,
  flipHorizontal,
  invertAffine,
  pasteImage,
  resizeImage,
  rotateQuarterTurns,
  shrinkByBox,
  solidImage,
  squareCropTransform,
  warpAffine,
  warpAffineToTensor,
} from "./transform.ts";
export type { Affine } from "./transform.ts";
