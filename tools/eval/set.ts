/**
 * The evaluation set: photos with the person they show, their expression, whether the engine may be tuned on
 * them (`dev`) or they are held out (`test`), and where they come from (eval/set/PROVENANCE.md has the
 * licences). The transfer ratio needs neutral templates and reactions whose person also has a neutral photo.
 */
import sharp from "sharp";
import type { RgbImage } from "../../src/pipeline/types.ts";
import { fromSharp } from "./noise.ts";

export interface SetImage {
  /** Path from the repository root. */
  file: string;
  person: string;
  expression: string;
  /**
   * neutral: a template, and the rest shape of that person's reactions; reaction: what is transferred;
   * reference: only the rest shape of its person's reactions, never a template; posed: a template that is not
   * neutral, scored only by the figures that need no neutral template (re-found face, identity, pixels outside
   * the face, absolute mouth opening).
   */
  role: "neutral" | "reaction" | "reference" | "posed";
  split: "dev" | "test";
  /** Where the picture comes from (held-out sets: package and path), for the report. */
  source?: string;
}

const FIXTURES = "test/fixtures/faces";

/** Every image here has been tuned on before (they are the engine's test fixtures): all dev. */
export const SET: readonly SetImage[] = [
  { file: `${FIXTURES}/grace_hopper_512x512.jpg`, person: "grace", expression: "neutral", role: "neutral", split: "dev" },
  { file: `${FIXTURES}/franck_01829.jpg`, person: "franck", expression: "neutral", role: "neutral", split: "dev" },
  { file: `${FIXTURES}/franck_02221.jpg`, person: "franck", expression: "closed-mouth smile", role: "reaction", split: "dev" },
  { file: `${FIXTURES}/franck_04117.jpg`, person: "franck", expression: "open laugh", role: "reaction", split: "dev" },
];

/** A neutral photo (a template's or a reference) of the reaction's person, or undefined (such a reaction cannot be scored). */
export function neutralOf(r: SetImage, set: readonly SetImage[] = SET): SetImage | undefined {
  return set.find((s) => s.person === r.person && (s.role === "neutral" || s.role === "reference"));
}

/** Synthetic variants of every template (issue 14): small faces, rotated, mirrored, re-encoded. */
export const TEMPLATE_VARIANTS = ["original", "face 100 px", "face 80 px", "rotate 20", "rotate -20", "mirror", "jpeg q40"] as const;
export type TemplateVariant = (typeof TEMPLATE_VARIANTS)[number];

/** `faceSizePx`: the template face's size in the original (the larger side of its landmark box). */
export async function templateVariant(img: RgbImage, faceSizePx: number, v: TemplateVariant): Promise<RgbImage> {
  const s = () => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  switch (v) {
    case "original":
      return img;
    case "face 100 px":
    case "face 80 px": {
      const k = Number(v.split(" ")[1]) / faceSizePx;
      return fromSharp(s().resize(Math.max(1, Math.round(img.width * k)), Math.max(1, Math.round(img.height * k))));
    }
    case "rotate 20":
    case "rotate -20":
      return fromSharp(s().rotate(Number(v.split(" ")[1]), { background: "#808080" }));
    case "mirror":
      return fromSharp(s().flop());
    case "jpeg q40":
      return fromSharp(sharp(await s().jpeg({ quality: 40 }).toBuffer()));
  }
}
