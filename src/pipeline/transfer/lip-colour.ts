import type { RgbImage } from "../types.ts";
import { LIPS_INNER_LOWER, LIPS_INNER_UPPER, LIPS_MID_LOWER, LIPS_MID_UPPER, LIPS_OUTER_LOWER, LIPS_OUTER_UPPER } from "../warp/landmarks.ts";
import { boxBlurMask, patchMean, pointsBox } from "./blend.ts";
import { drawnShare, meshPoints, type DrawnFace, type ReactionPictures } from "./creases.ts";
import { faceSize, insidePolygon, meshPolygon } from "./geometry.ts";
import { skinPoints } from "./mouth.ts";

/** The most a lip's colour may change per channel (log): a misread lip cannot turn the user's lips grey or purple. */
const MAX_CHANGE = 0.4;
/** Soft edge of the lips (share of the face size): the change fades out over the lip line, not in a hard ring. */
const EDGE = 0.006;
/** Lip columns read for the colour (of the rows' 11 points): the corners are shadow and skin. */
const MIDDLE = [2, 9] as const;

/**
 * The colour an expression gives its person's lips: a wide smile stretches them pale, a pout flushes them. Where
 * an animation shows its person at rest, the lips' change of colour from that rest picture (each against the
 * same face's skin, so the picture's light cancels) is laid on the result's lips, whose own pigment it keeps.
 * `outMesh` is where the lips are in `out`; `drawn` (swap) is how much of each pixel of its box is the user's
 * face. A still has no rest picture of its person: its lips keep the user's colour as they are.
 */
export function addLipColourChange(
  out: RgbImage,
  outMesh: Float32Array,
  pictures: ReactionPictures,
  intensity: number,
  drawn?: DrawnFace,
): void {
  const { reaction, reactionFace, reactionRest, reactionRestImage } = pictures;
  if (!reactionRest || !reactionRestImage || intensity <= 0) return;
  const now = lipsAgainstSkin(reaction, reactionFace.landmarks);
  const before = lipsAgainstSkin(reactionRestImage, reactionRest);
  if (!now || !before) return;
  const gain = now.map((v, c) => Math.exp(intensity * Math.max(-MAX_CHANGE, Math.min(MAX_CHANGE, v - before[c]!))));
  if (gain.every((k) => Math.abs(k - 1) < 1 / 256)) return;

  const pts = meshPoints(outMesh);
  const outer = meshPolygon(pts, [...LIPS_OUTER_UPPER, ...[...LIPS_OUTER_LOWER].reverse()]);
  const inner = meshPolygon(pts, [...LIPS_INNER_UPPER, ...[...LIPS_INNER_LOWER].reverse()]);
  const edge = Math.max(1, faceSize(outMesh) * EDGE);
  const box = pointsBox(outer, out.width, out.height, Math.ceil(2 * edge) + 1);
  if (box.width < 2 || box.height < 2) return;
  const mask = new Float32Array(box.width * box.height);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const px = x + box.x, py = y + box.y;
      if (insidePolygon(outer, px, py) && !insidePolygon(inner, px, py)) mask[y * box.width + x] = 1;
    }
  }
  const tmp = new Float32Array(mask.length);
  boxBlurMask(mask, box.width, box.height, edge / 2, tmp);
  boxBlurMask(mask, box.width, box.height, edge / 2, tmp);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const w = mask[y * box.width + x]! * drawnShare(drawn, x + box.x, y + box.y);
      if (w <= 0) continue;
      const o = ((y + box.y) * out.width + x + box.x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = out.data[o + c]! * (1 + w * (gain[c]! - 1));
        out.data[o + c] = v > 255 ? 255 : v + 0.5;
      }
    }
  }
}

/** ln(lips / skin) per channel: the middle of both lips' red, less the face's skin around the nose and cheeks. None off the picture. */
export function lipsAgainstSkin(img: RgbImage, mesh: Float32Array): [number, number, number] | undefined {
  const pts = meshPoints(mesh);
  const [a, b] = MIDDLE;
  const bands = [
    meshPolygon(pts, [...LIPS_OUTER_UPPER.slice(a, b), ...LIPS_MID_UPPER.slice(a, b).reverse()]),
    meshPolygon(pts, [...LIPS_MID_LOWER.slice(a, b), ...LIPS_OUTER_LOWER.slice(a, b).reverse()]),
  ];
  const sum = [0, 0, 0];
  let n = 0;
  for (const band of bands) {
    const box = pointsBox(band, img.width, img.height, 0);
    for (let y = box.y; y < box.y + box.height; y++) {
      for (let x = box.x; x < box.x + box.width; x++) {
        if (!insidePolygon(band, x, y)) continue;
        const o = (y * img.width + x) * 3;
        for (let c = 0; c < 3; c++) sum[c]! += img.data[o + c]!;
        n++;
      }
    }
  }
  if (n < 4) return undefined;
  const skin = patchMean(img, skinPoints(mesh), Math.max(1, faceSize(mesh) * 0.02));
  return [0, 1, 2].map((c) => Math.log((sum[c]! / n + 1) / (skin[c]! + 1))) as [number, number, number];
}
