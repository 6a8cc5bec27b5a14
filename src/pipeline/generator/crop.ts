/**
 * Crop and paste-back for the generator: the face is aligned (eyes level, fixed size and position, loose
 * enough to hold the head as LivePortrait's crops do) into a 512² crop, fed to the networks at 256², and
 * the generated 512² face is colour-matched to the photo and pasted back through a feathered mask.
 */
import { applyAffine, invertAffine, shrinkByBox, squareCropTransform, warpAffine, type Affine } from "../image/transform.ts";
import type { Box, RgbImage } from "../types.ts";

export const CROP_SIZE = 512;
export const INPUT_SIZE = 256;
/** Crop side over the eyes-to-mouth distance, and how far above the five points' centre the crop is centred (same unit). */
const SIDE_PER_FACE = 5.8;
const CENTRE_RAISE = 0.58;
/** Width of the paste mask's soft edge, as a share of the crop side. */
const FEATHER = 0.14;

// Face-mesh points: eye corners, mouth corners, nose tip.
const RIGHT_EYE = [33, 133];
const LEFT_EYE = [362, 263];
const MOUTH = [61, 291];
const NOSE = 1;

export interface FaceCrop {
  /** crop (512²) ← image. */
  affine: Affine;
  crop: RgbImage;
  /** The network input: 1×3×256×256, RGB planes in 0..1. */
  tensor: Float32Array;
}

const mid = (lm: ArrayLike<number>, idx: number[]): [number, number] => {
  let x = 0;
  let y = 0;
  for (const i of idx) {
    x += lm[3 * i]!;
    y += lm[3 * i + 1]!;
  }
  return [x / idx.length, y / idx.length];
};

/** The crop ← image transform for a face's 468-point mesh (image pixels). */
export function cropTransform(landmarks: ArrayLike<number>): Affine {
  const re = mid(landmarks, RIGHT_EYE);
  const le = mid(landmarks, LEFT_EYE);
  const mo = mid(landmarks, MOUTH);
  const no = mid(landmarks, [NOSE]);
  // The subject's right eye is on the image's left: the eye line's angle is the face's roll.
  const angle = Math.atan2(le[1] - re[1], le[0] - re[0]);
  const eyes: [number, number] = [(re[0] + le[0]) / 2, (re[1] + le[1]) / 2];
  const faceLen = Math.hypot(mo[0] - eyes[0], mo[1] - eyes[1]) || 1;
  const cx = (re[0] + le[0] + no[0] + 2 * mo[0]) / 5;
  const cy = (re[1] + le[1] + no[1] + 2 * mo[1]) / 5;
  // "Up" in the face's frame is perpendicular to the eye line.
  const ux = Math.sin(angle);
  const uy = -Math.cos(angle);
  const raise = CENTRE_RAISE * faceLen;
  return squareCropTransform(cx + ux * raise, cy + uy * raise, SIDE_PER_FACE * faceLen, angle, CROP_SIZE);
}

/** Planar RGB 0..1 of an interleaved image (into `out` at `offset`). */
export function toPlanar(img: RgbImage, out = new Float32Array(3 * img.width * img.height), offset = 0): Float32Array {
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    out[offset + i] = img.data[3 * i]! / 255;
    out[offset + n + i] = img.data[3 * i + 1]! / 255;
    out[offset + 2 * n + i] = img.data[3 * i + 2]! / 255;
  }
  return out;
}

export function cropFace(image: RgbImage, landmarks: ArrayLike<number>): FaceCrop {
  const affine = cropTransform(landmarks);
  const crop = warpAffine(image, affine, CROP_SIZE, CROP_SIZE);
  // 512 → 256 by 2×2 averaging (area resampling, as the networks were fed).
  const tensor = toPlanar(shrinkByBox(crop, CROP_SIZE / INPUT_SIZE));
  return { affine, crop, tensor };
}

/** 1 inside, easing to 0 over the last FEATHER of the crop at each edge (smoothstep). */
function edgeWeight(u: number): number {
  const f = FEATHER * CROP_SIZE;
  const d = Math.min(u, CROP_SIZE - u) / f;
  if (d <= 0) return 0;
  if (d >= 1) return 1;
  return d * d * (3 - 2 * d);
}

/**
 * Per-channel gain and offset that give the generated face the photo's mean and spread inside the crop's
 * core (the networks drift in colour and contrast; the photo around the face does not).
 */
export function colourMatch(generated: Float32Array, crop: RgbImage): { gain: number[]; offset: number[] } {
  const n = CROP_SIZE * CROP_SIZE;
  const lo = Math.round(FEATHER * CROP_SIZE);
  const hi = CROP_SIZE - lo;
  const gain: number[] = [];
  const offset: number[] = [];
  for (let c = 0; c < 3; c++) {
    let sg = 0, sg2 = 0, sp = 0, sp2 = 0, count = 0;
    for (let y = lo; y < hi; y += 2) {
      for (let x = lo; x < hi; x += 2) {
        const i = y * CROP_SIZE + x;
        const g = generated[c * n + i]! * 255;
        const p = crop.data[3 * i + c]!;
        sg += g; sg2 += g * g; sp += p; sp2 += p * p; count++;
      }
    }
    const mg = sg / count;
    const mp = sp / count;
    const dg = Math.sqrt(Math.max(0, sg2 / count - mg * mg));
    const dp = Math.sqrt(Math.max(0, sp2 / count - mp * mp));
    // A flat generated channel gets no boost beyond 2× (it would only amplify noise).
    const k = dg > 1e-3 ? Math.min(2, Math.max(0.5, dp / dg)) : 1;
    gain.push(k);
    offset.push(mp - k * mg);
  }
  return { gain, offset };
}

export interface Pasted {
  image: RgbImage;
  /** Pixels the paste may have changed (the crop's footprint, clipped to the image). */
  changedBox: Box | null;
}

/** Pastes a generated 3×512×512 face (0..1) back onto `target` where `crop` was taken. */
export function pasteBack(target: RgbImage, generated: Float32Array, crop: FaceCrop): Pasted {
  const { gain, offset } = colourMatch(generated, crop.crop);
  const inv = invertAffine(crop.affine);
  const corners = [[0, 0], [CROP_SIZE, 0], [0, CROP_SIZE], [CROP_SIZE, CROP_SIZE]].map(([u, v]) => applyAffine(inv, u!, v!));
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[0]))));
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[1]))));
  const x1 = Math.min(target.width, Math.ceil(Math.max(...corners.map((c) => c[0]))));
  const y1 = Math.min(target.height, Math.ceil(Math.max(...corners.map((c) => c[1]))));
  const out: RgbImage = { width: target.width, height: target.height, data: target.data.slice() };
  if (x1 <= x0 || y1 <= y0) return { image: out, changedBox: null };
  const n = CROP_SIZE * CROP_SIZE;
  const a = crop.affine;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const u = a[0] * (x + 0.5) + a[1] * (y + 0.5) + a[2];
      const v = a[3] * (x + 0.5) + a[4] * (y + 0.5) + a[5];
      const m = edgeWeight(u) * edgeWeight(v);
      if (m <= 0) continue;
      // Bilinear sample of the generated planes at pixel-centre coordinates.
      const sx = Math.min(CROP_SIZE - 1.001, Math.max(0, u - 0.5));
      const sy = Math.min(CROP_SIZE - 1.001, Math.max(0, v - 0.5));
      const ix = Math.floor(sx);
      const iy = Math.floor(sy);
      const fx = sx - ix;
      const fy = sy - iy;
      const i00 = iy * CROP_SIZE + ix;
      const p = 3 * (y * target.width + x);
      for (let c = 0; c < 3; c++) {
        const o = c * n;
        const g =
          generated[o + i00]! * (1 - fx) * (1 - fy) +
          generated[o + i00 + 1]! * fx * (1 - fy) +
          generated[o + i00 + CROP_SIZE]! * (1 - fx) * fy +
          generated[o + i00 + CROP_SIZE + 1]! * fx * fy;
        const matched = Math.min(255, Math.max(0, gain[c]! * g * 255 + offset[c]!));
        out.data[p + c] = Math.round(out.data[p + c]! * (1 - m) + matched * m);
      }
    }
  }
  return { image: out, changedBox: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } };
}
