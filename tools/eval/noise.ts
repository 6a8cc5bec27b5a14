/**
 * Landmark noise floors: how far a judge's measures move when nothing about the face changes, only the picture
 * around it: shifted, rescaled, mirrored or re-encoded. A reaction's change counts in the transfer ratio only
 * beyond its measure's floor (tools/eval/ratio.ts).
 */
import sharp, { type Sharp } from "sharp";
import type { RgbImage } from "../../src/pipeline/types.ts";
import { RATIO_MEASURES, percentile, type Measures } from "./ratio.ts";

export const NOISE_VARIANTS = ["shift", "rescale 0.7", "rescale 1.4", "mirror", "jpeg q40"] as const;
export type NoiseVariant = (typeof NOISE_VARIANTS)[number];

/**
 * The floor is this multiple of the 90th percentile of |variant − original| over all photos and variants:
 * a change has to stand clearly above what re-reading the same face gives, or its ratio is mostly noise.
 */
export const FLOOR_MULTIPLE = 2;

const raw = (img: RgbImage) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });

export async function fromSharp(s: Sharp): Promise<RgbImage> {
  const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

export async function noiseVariant(img: RgbImage, v: NoiseVariant): Promise<RgbImage> {
  switch (v) {
    case "shift":
      // Odd offsets move the face off the detector's and the mesh crop's pixel grid.
      return fromSharp(raw(img).extend({ left: 17, top: 11, extendWith: "copy" }));
    case "rescale 0.7":
    case "rescale 1.4": {
      const k = Number(v.split(" ")[1]);
      return fromSharp(raw(img).resize(Math.round(img.width * k), Math.round(img.height * k)));
    }
    case "mirror":
      return fromSharp(raw(img).flop());
    case "jpeg q40":
      return fromSharp(sharp(await raw(img).jpeg({ quality: 40 }).toBuffer()));
  }
}

/** A mirrored picture shows the subject's right side where the left was: swap the sided measures back. */
export function unmirror(m: Measures): Measures {
  return { ...m, eyeOpenRight: m.eyeOpenLeft, eyeOpenLeft: m.eyeOpenRight, browRight: m.browLeft, browLeft: m.browRight };
}

/** Per measure: FLOOR_MULTIPLE × the 90th percentile of the absolute differences. */
export function noiseFloors(deltas: readonly Measures[]): Measures {
  if (deltas.length === 0) throw new Error("no noise measurements");
  return Object.fromEntries(RATIO_MEASURES.map((k) => [k, FLOOR_MULTIPLE * percentile(deltas.map((d) => Math.abs(d[k])), 90)])) as Measures;
}

export function difference(a: Measures, b: Measures): Measures {
  return Object.fromEntries(RATIO_MEASURES.map((k) => [k, a[k] - b[k]])) as Measures;
}
