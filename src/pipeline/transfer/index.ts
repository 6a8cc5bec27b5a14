/** Expression transfer (mimic) and face swap on analysed faces: pure functions of plain data. */
export { nothingCopiedError, swapWorkingCopy, transferExpression } from "./transfer.ts";
export type { TransferInput, TransferMode, TransferResult } from "./transfer.ts";
export { retargetExpression, neutralShape, restEyesOwn, REST, REACTION_REST } from "./expression.ts";
export type { Regions, RegionsSeen, RetargetOptions } from "./expression.ts";
export { measureExpression } from "./measure.ts";
export type { ExpressionMeasures } from "./measure.ts";
export { AMBIGUOUS_FACE_RATIO, checkFace, photoFace, regionsSeen, selectFace, FACE_LIMITS } from "./validate.ts";
export type { FaceRole } from "./validate.ts";
