// Real-photo inputs for the model tests, preprocessed the way the face pipeline feeds each model.
import { fileURLToPath } from "node:url";
import sharp from "sharp";

export const FACES_DIR = fileURLToPath(new URL("../fixtures/faces/", import.meta.url));

export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * A square face region (1.5x the BlazeFace box, as FaceMesh crops are enlarged) measured once with
 * models/blazeface.onnx on each fixture.
 */
export const FACE_CROPS: Record<string, Region> = {
  "grace_hopper_512x512.jpg": { left: 130, top: 84, width: 276, height: 276 },
  "franck_01829.jpg": { left: 204, top: 142, width: 382, height: 382 },
  "franck_04117.jpg": { left: 175, top: 137, width: 380, height: 380 },
};

/**
 * Decodes a fixture (optionally cropped), resizes it to size x size and maps each 0..255 channel value v to
 * v * scale + offset, interleaved NHWC (the models' layout).
 */
export async function photoTensor(file: string, size: number, scale: number, offset: number, crop?: Region): Promise<Float32Array> {
  let img = sharp(FACES_DIR + file).removeAlpha();
  if (crop) img = img.extract(crop);
  const data = await img.resize(size, size, { fit: "fill" }).raw().toBuffer();
  const out = new Float32Array(size * size * 3);
  for (let i = 0; i < out.length; i++) out[i] = data[i] * scale + offset;
  return out;
}
