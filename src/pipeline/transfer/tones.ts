import type { RgbImage } from "../types.ts";

/**
 * Swap's colour match beyond the skin's range, on typed arrays (see swapFace): what the per-channel gain and offset
 * fitted to the skin do to the face's darkest and brightest tones, how the seamless paste's correction meets the
 * darks, and how the result is brought back into 0..255.
 */

/** A face's darkest tones: their mean colour and Rec. 601 luma. */
export interface ToneEnd {
  rgb: [number, number, number];
  luma: number;
}

/**
 * The mean colour of the darkest `share` of the pixels where `mask` is set, ranked by luma: a colour
 * the picture really shows there (a per-channel quantile mixes three different pixels' channels).
 */
export function darkestTones(img: RgbImage, mask: Uint8Array, share: number): ToneEnd {
  const count = new Float64Array(256);
  const sums = new Float64Array(256 * 3);
  const d = img.data;
  let n = 0;
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    const o = p * 3, r = d[o]!, g = d[o + 1]!, b = d[o + 2]!;
    const y = (0.299 * r + 0.587 * g + 0.114 * b + 0.5) | 0;
    count[y]!++;
    sums[3 * y]! += r;
    sums[3 * y + 1]! += g;
    sums[3 * y + 2]! += b;
    n++;
  }
  if (n === 0) return { rgb: [0, 0, 0], luma: 0 };
  const want = Math.max(1, share * n);
  let got = 0;
  const rgb: [number, number, number] = [0, 0, 0];
  for (let y = 0; y < 256 && got < want; y++) {
    const c = count[y]!;
    if (c === 0) continue;
    const take = Math.min(c, want - got);
    for (let j = 0; j < 3; j++) rgb[j]! += (sums[3 * y + j]! * take) / c;
    got += take;
  }
  for (let j = 0; j < 3; j++) rgb[j]! /= got;
  return { rgb, luma: luma(rgb) };
}

/**
 * Where the skin's map stops and a face's end tones take over: tones darker than `knee` (luma) go towards the
 * reaction's `reaction` tones, fully at the user's own `user` tones and beyond.
 */
export interface ToneRamp {
  knee: number;
  user: ToneEnd;
  reaction: ToneEnd;
}

/**
 * The colour match, unclipped: v ↦ v · gain + offset per channel, fitted to the skin. The map sends black to its
 * offset, a colour cast that the skin never shows but every dark pixel does (a red print's black frames came out
 * teal in a neutral picture), and it runs out of range at the ends: tones darker than `dark.knee` are pulled from
 * that cast towards the reaction's own darkest tones, reaching them at the user's darkest (the user's pupils come
 * out as dark as the reaction's, not a mid brown), and take no more colour than the reaction's own tones of that
 * brightness show (`chroma`, see toneChroma: a warm shadow at a smiling mouth's corner came out pure red in a
 * vivid print); a pixel whose map runs past white gives up as much of its change as white cuts off, keeping its
 * hue. Returns 3 floats per pixel, for the seamless paste to correct and fitToGamut to bring into range.
 */
export function mapTones(img: RgbImage, gain: readonly number[], offset: readonly number[], dark: ToneRamp, chroma: Float32Array): Float32Array {
  const d = img.data;
  const out = new Float32Array(d.length);
  const [g0, g1, g2] = gain as [number, number, number];
  const [o0, o1, o2] = offset as [number, number, number];
  const u = dark.user.rgb;
  // The map at the user's darkest, less the reaction's darkest: what the pull takes away there.
  const c0 = u[0] * g0 + o0 - dark.reaction.rgb[0], c1 = u[1] * g1 + o1 - dark.reaction.rgb[1], c2 = u[2] * g2 + o2 - dark.reaction.rgb[2];
  // The ramp spans at least a quarter of the knee's luma: a flat photo whose darkest tones lie near the knee would
  // otherwise jump from the skin's map to the reaction's darkest within a level or two.
  const span = Math.max(1, dark.knee * 0.25, dark.knee - dark.user.luma);
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i]!, g = d[i + 1]!, b = d[i + 2]!;
    let vr = r * g0 + o0, vg = g * g1 + o1, vb = b * g2 + o2;
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    if (y < dark.knee) {
      const t = dark.knee - y >= span ? 1 : (dark.knee - y) / span;
      vr -= t * c0;
      vg -= t * c1;
      vb -= t * c2;
      // No more colour than the reaction's tones of this brightness: the chroma (largest channel less smallest)
      // scaled down about the pixel's luma, its hue kept.
      const ly = 0.299 * vr + 0.587 * vg + 0.114 * vb;
      const cap = chroma[ly <= 0 ? 0 : ly >= 255 ? 255 : ly | 0]!;
      const mx = vr > vg ? (vr > vb ? vr : vb) : vg > vb ? vg : vb;
      const mn = vr < vg ? (vr < vb ? vr : vb) : vg < vb ? vg : vb;
      if (mx - mn > cap) {
        const s = cap / (mx - mn);
        vr = ly + (vr - ly) * s;
        vg = ly + (vg - ly) * s;
        vb = ly + (vb - ly) * s;
      }
    } else if (vr > 255 || vg > 255 || vb > 255) {
      // A channel past white: the pixel's change scaled down by the share of it that white cuts off (all of it
      // where that channel's own change is the largest), so a highlight keeps its own hue. Red held at 255 alone
      // while green and blue rose on turned a bright cheek, its red already clipped by the camera, yellow-green.
      const dr = vr - r, dg = vg - g, db = vb - b;
      const over = (vr > vg ? (vr > vb ? vr : vb) : vg > vb ? vg : vb) - 255;
      const most = Math.max(Math.abs(dr), Math.abs(dg), Math.abs(db));
      const s = most > over ? 1 - over / most : 0;
      vr = r + dr * s;
      vg = g + dg * s;
      vb = b + db * s;
    }
    out[i] = vr;
    out[i + 1] = vg;
    out[i + 2] = vb;
  }
  return out;
}

/**
 * How colourful the picture's tones of each luma level (0..255) are where `mask` is set: the mean chroma (largest
 * channel less smallest) of the tones within ±`reach` levels. Levels the face does not show take the nearest
 * level's figure (255 where it shows none).
 */
export function toneChroma(img: RgbImage, mask: Uint8Array, reach = 8): Float32Array {
  const n = new Float64Array(256), s = new Float64Array(256);
  const d = img.data;
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    const o = p * 3, r = d[o]!, g = d[o + 1]!, b = d[o + 2]!;
    const y = (0.299 * r + 0.587 * g + 0.114 * b + 0.5) | 0;
    n[y]!++;
    s[y]! += (r > g ? (r > b ? r : b) : g > b ? g : b) - (r < g ? (r < b ? r : b) : g < b ? g : b);
  }
  const out = new Float32Array(256).fill(-1);
  for (let y = 0; y < 256; y++) {
    let cn = 0, cs = 0;
    for (let k = Math.max(0, y - reach); k <= Math.min(255, y + reach); k++) {
      cn += n[k]!;
      cs += s[k]!;
    }
    if (cn >= 4) out[y] = cs / cn;
  }
  let last = -1;
  for (let y = 0; y < 256; y++) {
    if (out[y]! >= 0) last = out[y]!;
    else if (last >= 0) out[y] = last;
  }
  last = -1;
  for (let y = 255; y >= 0; y--) {
    if (out[y]! >= 0) last = out[y]!;
    else out[y] = last >= 0 ? last : 255;
  }
  return out;
}

/**
 * In place: each pixel's colour pulled towards its own grey (Rec. 601 luma), keeping `share` of it (0: grey).
 * Bytes are rounded and clamped as they are written back; floats keep what they get.
 */
export function scaleSaturation(v: Uint8Array | Float32Array, share: number): void {
  const bytes = !(v instanceof Float32Array);
  for (let i = 0; i < v.length; i += 3) {
    const y = 0.299 * v[i]! + 0.587 * v[i + 1]! + 0.114 * v[i + 2]!;
    for (let c = i; c < i + 3; c++) {
      const kept = y + (v[c]! - y) * share;
      v[c] = bytes ? (kept < 0 ? 0 : kept > 255 ? 255 : kept) + 0.5 : kept;
    }
  }
}

/**
 * In place: a seamless paste's correction (`correction`, 3 floats per pixel) scaled by (pixel luma / `skin`)²
 * where the pixel is darker than the skin, inside the face (`inside`, 0..1 per pixel). The correction is one offset
 * spread smoothly over the face, measured where it meets the skin: added as it is to a pupil, it lifted it by as
 * much as the cheek beside it (+33 at one eye of the astronaut swapped into franck_01829), and a darkening one sank
 * pupils to black; a picture's lighting changes a dark tone far less than a bright one. At the outline (`inside`
 * 0) it stays whole, so the face still meets the picture without a seam.
 */
export function dampCorrectionInDarks(correction: Float32Array, values: Float32Array, inside: Float32Array, skin: number): void {
  const k = 1 / Math.max(1, skin);
  for (let p = 0, i = 0; p < inside.length; p++, i += 3) {
    const w = inside[p]!;
    if (w <= 0) continue;
    const y = (0.299 * values[i]! + 0.587 * values[i + 1]! + 0.114 * values[i + 2]!) * k;
    if (y >= 1) continue;
    const f = 1 - w * (1 - (y <= 0 ? 0 : y * y));
    correction[i]! *= f;
    correction[i + 1]! *= f;
    correction[i + 2]! *= f;
  }
}

/**
 * `values + correction` (3 floats per pixel) written into `out`'s bytes, brought into 0..255 with its hue kept: a
 * colour out of range keeps its luma and loses chroma until every channel fits, rather than each channel clipped
 * alone (which shifts its hue).
 */
export function fitToGamut(values: Float32Array, correction: Float32Array, out: RgbImage): void {
  const d = out.data;
  for (let i = 0; i < d.length; i += 3) {
    let r = values[i]! + correction[i]!, g = values[i + 1]! + correction[i + 1]!, b = values[i + 2]! + correction[i + 2]!;
    const mx = r > g ? (r > b ? r : b) : g > b ? g : b;
    const mn = r < g ? (r < b ? r : b) : g < b ? g : b;
    if (mx > 255 || mn < 0) {
      const y = 0.299 * r + 0.587 * g + 0.114 * b;
      if (y >= 255) {
        r = g = b = 255;
      } else if (y <= 0) {
        r = g = b = 0;
      } else {
        const s = Math.min(mx > 255 ? (255 - y) / (mx - y) : 1, mn < 0 ? y / (y - mn) : 1);
        r = y + (r - y) * s;
        g = y + (g - y) * s;
        b = y + (b - y) * s;
      }
    }
    d[i] = r < 0 ? 0 : r > 255 ? 255 : r + 0.5;
    d[i + 1] = g < 0 ? 0 : g > 255 ? 255 : g + 0.5;
    d[i + 2] = b < 0 ? 0 : b > 255 ? 255 : b + 0.5;
  }
}

/** Rec. 601 luma of an RGB triple (the weights the tone maps and saturation pulls use). */
export const luma = (rgb: readonly number[]) => 0.299 * rgb[0]! + 0.587 * rgb[1]! + 0.114 * rgb[2]!;
