/** The optional LivePortrait generator backend (MIMIC_GENERATOR=liveportrait): owner-supplied ONNX files. */
export { LivePortraitEngine, MAX_BATCH, type GeneratorEngineOptions } from "./engine.ts";
export { generatorTransfer, type GeneratorReaction, type GeneratorTransferInput, type GeneratorTransferResult } from "./transfer.ts";
export { checkGeneratorDir, LIVEPORTRAIT_FILES, LIVEPORTRAIT_MODELS, signatureProblems, type LivePortraitModel } from "./signatures.ts";
export { readOnnxSignature, type OnnxSignature, type TensorSignature } from "./onnx-signature.ts";
export * from "./keypoints.ts";
export { cropFace, cropTransform, pasteBack, CROP_SIZE, INPUT_SIZE } from "./crop.ts";
