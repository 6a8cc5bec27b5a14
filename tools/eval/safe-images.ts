// Every safe image the project has, with synthetic variants, for the NSFW gate's false-positive measure:
// the fixture photos and the evaluation contact sheets, each as-is, scaled (½, ¼, 2×), rotated (90°, 180°,
// 270°, 15°), mirrored and re-encoded as JPEG q40.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import sharp, { type Sharp } from "sharp";
import type { RgbImage } from "../../src/pipeline/types.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function safeImageFiles(): string[] {
  const faces = readdirSync(`${ROOT}test/fixtures/faces`).filter((f) => /\.(jpe?g|png)$/i.test(f)).map((f) => `test/fixtures/faces/${f}`);
  const sheets = readdirSync(`${ROOT}eval`).filter((f) => /\.png$/i.test(f)).map((f) => `eval/${f}`);
  return [...faces, ...sheets].sort();
}

export const VARIANTS = ["original", "scale 1/2", "scale 1/4", "scale 2", "rotate 90", "rotate 180", "rotate 270", "rotate 15", "mirror", "jpeg q40"] as const;

async function raw(s: Sharp): Promise<RgbImage> {
  const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

export async function variant(bytes: Buffer, v: (typeof VARIANTS)[number]): Promise<RgbImage> {
  const meta = await sharp(bytes).metadata();
  const w = meta.width!;
  const h = meta.height!;
  const s = () => sharp(bytes).flatten({ background: "#ffffff" });
  switch (v) {
    case "original":
      return raw(s());
    case "scale 1/2":
      return raw(s().resize(Math.round(w / 2), Math.round(h / 2)));
    case "scale 1/4":
      return raw(s().resize(Math.round(w / 4), Math.round(h / 4)));
    case "scale 2":
      return raw(s().resize(w * 2, h * 2));
    case "rotate 90":
    case "rotate 180":
    case "rotate 270":
      return raw(s().rotate(Number(v.split(" ")[1])));
    case "rotate 15":
      return raw(s().rotate(15, { background: "#808080" }));
    case "mirror":
      return raw(s().flop());
    case "jpeg q40":
      return raw(sharp(await s().jpeg({ quality: 40 }).toBuffer()));
  }
}

export async function* safeImages(): AsyncGenerator<{ name: string; image: RgbImage }> {
  for (const file of safeImageFiles()) {
    const bytes = readFileSync(ROOT + file);
    for (const v of VARIANTS) yield { name: `${file} (${v})`, image: await variant(bytes, v) };
  }
}
