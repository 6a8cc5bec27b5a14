/**
 * Named index groups of the 468-point MediaPipe face mesh (the topology is fixed by the model).
 * "Right"/"left" are the subject's sides: the subject's right eye is on the image's left in a frontal photo.
 */
export const MESH_POINTS = 468;

/** Face outline, clockwise from the forehead top (10) in a frontal image. */
export const FACE_OVAL = [
  10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136,
  172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
] as const;

/** Inner lip ring, corner 78 → lower lip → corner 308 → upper lip back (a closed polygon, 20 points). */
export const LIPS_INNER_LOWER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308] as const;
export const LIPS_INNER_UPPER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308] as const;
export const LIPS_OUTER_LOWER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291] as const;
export const LIPS_OUTER_UPPER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291] as const;
/** Between the outer and inner rings (semi rings), matched column by column with the rings above. */
export const LIPS_MID_LOWER = [62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292] as const;
export const LIPS_MID_UPPER = [62, 183, 42, 41, 38, 12, 268, 271, 272, 407, 292] as const;
export const LIPS_SEMI_OUTER_LOWER = [76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306] as const;
export const LIPS_SEMI_OUTER_UPPER = [76, 184, 74, 73, 72, 11, 302, 303, 304, 408, 306] as const;

export const INNER_LIP_RING: readonly number[] = [...LIPS_INNER_LOWER, ...LIPS_INNER_UPPER.slice(1, -1).reverse()];
/** Each lip's four rows, inner edge to outer edge, column j of one row above or below column j of the next. */
export const UPPER_LIP_ROWS = [LIPS_INNER_UPPER, LIPS_MID_UPPER, LIPS_SEMI_OUTER_UPPER, LIPS_OUTER_UPPER] as const;
export const LOWER_LIP_ROWS = [LIPS_INNER_LOWER, LIPS_MID_LOWER, LIPS_SEMI_OUTER_LOWER, LIPS_OUTER_LOWER] as const;

/** Eye rings: lower lid from outer corner to inner corner, upper lid likewise (shared corners). */
export const RIGHT_EYE_LOWER = [33, 7, 163, 144, 145, 153, 154, 155, 133] as const;
export const RIGHT_EYE_UPPER = [33, 246, 161, 160, 159, 158, 157, 173, 133] as const;
export const LEFT_EYE_LOWER = [263, 249, 390, 373, 374, 380, 381, 382, 362] as const;
export const LEFT_EYE_UPPER = [263, 466, 388, 387, 386, 385, 384, 398, 362] as const;
/** The skin fold just above the upper lid (moves with the lid) — same column order as *_EYE_UPPER inner points. */
export const RIGHT_EYE_UPPER_FOLD = [247, 30, 29, 27, 28, 56, 190] as const;
export const LEFT_EYE_UPPER_FOLD = [467, 260, 259, 257, 258, 286, 414] as const;
/** Lower-lid skin just under the lid line. */
export const RIGHT_EYE_LOWER_FOLD = [130, 25, 110, 24, 23, 22, 26, 112, 243] as const;
export const LEFT_EYE_LOWER_FOLD = [359, 255, 339, 254, 253, 252, 256, 341, 463] as const;

export const RIGHT_BROW = [70, 63, 105, 66, 107, 46, 53, 52, 65, 55, 156, 193, 35, 124] as const;
export const LEFT_BROW = [300, 293, 334, 296, 336, 276, 283, 282, 295, 285, 383, 417, 265, 353] as const;

/** Chin and lower jaw: they follow the lower lip when the mouth opens. */
export const CHIN = [152, 148, 176, 377, 400, 175, 199, 200, 18, 171, 396, 208, 428, 140, 369, 149, 378, 32, 262, 201, 421, 83, 313, 194, 418, 182, 406] as const;

/**
 * Points that expression barely moves: nose bridge and tip, forehead, temples, upper cheekbones, eye corners.
 * Head pose and scale are estimated on these.
 */
export const STABLE = [
  10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 33, 133, 362, 263, 127, 356, 234, 454, 162, 389, 21, 251,
  116, 345, 117, 346, 109, 338, 67, 297, 129, 358, 48, 278,
] as const;

/** Eye outer/inner corners for the inter-ocular distance. */
export const RIGHT_EYE_OUTER = 33;
export const RIGHT_EYE_INNER = 133;
export const LEFT_EYE_OUTER = 263;
export const LEFT_EYE_INNER = 362;
export const MOUTH_CORNER_RIGHT = 61;
export const MOUTH_CORNER_LEFT = 291;
export const INNER_CORNER_RIGHT = 78;
export const INNER_CORNER_LEFT = 308;
export const UPPER_INNER_MID = 13;
export const LOWER_INNER_MID = 14;
export const NOSE_BOTTOM = 2;
