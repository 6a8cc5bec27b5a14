import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { MimicError } from "../../../src/errors.ts";
import { useFixtureFaces, type FixtureFace } from "../../helpers/fixture-faces.ts";
import { greyscale, mostColourful } from "../../helpers/grey.ts";
import { withLipWidth } from "../../helpers/lip-width.ts";
import { decodeImage, flipHorizontal, resizeImage } from "../../../src/pipeline/image/index.ts";
import {
  FACE_LIMITS,
  measureExpression,
  selectFace,
  transferExpression,
  type TransferInput,
} from "../../../src/pipeline/transfer/index.ts";
import type { AnalyzedFace, Box, FaceAnalysis, RgbImage } from "../../../src/pipeline/types.ts";
import { faceMeshPoints } from "../../../src/pipeline/warp/index.ts";
import {
  FACE_OVAL,
  LEFT_BROW,
  LEFT_EYE_LOWER,
  LEFT_EYE_UPPER,
  LIPS_INNER_UPPER,
  LIPS_MID_UPPER,
  LIPS_OUTER_UPPER,
  LIPS_SEMI_OUTER_UPPER,
  RIGHT_BROW,
  RIGHT_EYE_LOWER,
  RIGHT_EYE_UPPER,
} from "../../../src/pipeline/warp/landmarks.ts";
import { RING_SCALE } from "../../../src/pipeline/transfer/transfer.ts";
import { innerLipPolygon } from "../../../src/pipeline/transfer/measure.ts";
import { faceSize, insidePolygon, workScale } from "../../../src/pipeline/transfer/geometry.ts";
import { scaledFace } from "../../../src/pipeline/face/describe.ts";
import { mouthFeather } from "../../../src/pipeline/transfer/mouth.ts";

type Name = FixtureFace;
const fx = useFixtureFaces();

const input = (template: Name, reaction: Name, extra: Partial<TransferInput> = {}): TransferInput => ({
  template: fx.images.get(template)!,
  templateFace: fx.faces.get(template)!,
  reaction: fx.images.get(reaction)!,
  reactionFace: fx.faces.get(reaction)!,
  ...extra,
});

/** Box around landmark indices, grown by `margin` px. */
function boxOf(lm: Float32Array, idx: readonly number[], margin: number): Box {
  const xs = idx.map((i) => lm[3 * i]!), ys = idx.map((i) => lm[3 * i + 1]!);
  const x = Math.floor(Math.min(...xs) - margin), y = Math.floor(Math.min(...ys) - margin);
  return { x, y, width: Math.ceil(Math.max(...xs) + margin) - x, height: Math.ceil(Math.max(...ys) + margin) - y };
}

/** Detail: the mean |Laplacian| of luma over x0 ≤ x < x1, y0 ≤ y < y1 (a range at least one pixel inside the image). */
function detailIn(img: RgbImage, x0: number, y0: number, x1: number, y1: number): number {
  const lum = (x: number, y: number) => {
    const o = (y * img.width + x) * 3;
    return 0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!;
  };
  let sum = 0, n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++, n++) sum += Math.abs(4 * lum(x, y) - lum(x - 1, y) - lum(x + 1, y) - lum(x, y - 1) - lum(x, y + 1));
  }
  return sum / n;
}

function changedIn(a: RgbImage, b: RgbImage, box: Box): number {
  let n = 0;
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      const o = (y * a.width + x) * 3;
      if (a.data[o] !== b.data[o] || a.data[o + 1] !== b.data[o + 1] || a.data[o + 2] !== b.data[o + 2]) n++;
    }
  }
  return n;
}

function clipBox(b: Box, img: RgbImage): Box {
  const x = Math.max(0, Math.floor(b.x)), y = Math.max(0, Math.floor(b.y));
  return { x, y, width: Math.min(img.width, Math.ceil(b.x + b.width)) - x, height: Math.min(img.height, Math.ceil(b.y + b.height)) - y };
}

const MOUTH = [61, 291, 0, 17, 13, 14, 78, 308];
const EYES_AND_BROWS = [70, 63, 105, 66, 107, 300, 293, 334, 296, 336, 33, 133, 159, 145, 263, 362, 386, 374];

/** A face wearing its own expression with the upper lids lowered by `px` in the mesh (regions upper). */
function ownLidsLowered(name: Name, px: number) {
  const tpl = fx.images.get(name)!;
  const face = fx.faces.get(name)!;
  const lowered = face.landmarks.slice();
  for (const upper of [RIGHT_EYE_UPPER, LEFT_EYE_UPPER]) {
    for (let j = 1; j < 8; j++) lowered[3 * upper[j]! + 1]! += px * Math.sin((j * Math.PI) / 8);
  }
  const res = transferExpression({ template: tpl, templateFace: face, reaction: tpl, reactionFace: { ...face, landmarks: lowered }, regions: "upper" });
  return { tpl, face, res };
}

describe("transferExpression (mimic)", () => {
  it("returns the template unchanged at intensity 0", () => {
    const res = transferExpression(input("franck_01829.jpg", "franck_04117.jpg", { intensity: 0 }));
    expect(Buffer.compare(Buffer.from(res.image.data), Buffer.from(fx.images.get("franck_01829.jpg")!.data))).toBe(0);
    expect(res.changedBox).toBeNull();
  });

  it("opens a neutral mouth into a laugh with a synthesised mouth interior", async () => {
    const res = transferExpression(input("grace_hopper_512x512.jpg", "franck_04117.jpg"));
    expect(res.mouthSynthesised).toBe(true);
    const before = measureExpression(fx.faces.get("grace_hopper_512x512.jpg")!.landmarks);
    const again = (await fx.analyzer.analyze(res.image)).faces[0]!;
    const after = measureExpression(again.landmarks);
    expect(before.mouthOpen).toBeLessThan(0.03);
    expect(after.mouthOpen).toBeGreaterThan(0.09);
    expect(after.mouthWidth).toBeGreaterThan(before.mouthWidth * 1.05);
    // Inside the new mouth: dark cavity and bright teeth, as in the reaction, not stretched lip colour.
    const lm = res.landmarks;
    const cx = Math.round((lm[3 * 13]! + lm[3 * 14]!) / 2), cy = Math.round((lm[3 * 13 + 1]! + lm[3 * 14 + 1]!) / 2);
    const lum: number[] = [];
    for (let y = cy - 4; y <= cy + 4; y++) {
      for (let x = cx - 15; x <= cx + 15; x++) {
        const o = (y * res.image.width + x) * 3;
        lum.push((res.image.data[o]! + res.image.data[o + 1]! + res.image.data[o + 2]!) / 3);
      }
    }
    expect(Math.max(...lum) - Math.min(...lum)).toBeGreaterThan(60);
  });

  it("opens closed lips with their seam on the new inner-lip line, not as a dark rim apart from the gap", () => {
    // A closed mouth's seam often lies a few pixels under the mesh's inner-lip points. Here grace's is drawn
    // plainly, 3–4 px under them across the middle of her lips; opened into the laugh, it belongs at the lower
    // lip's edge against the mouth, not as a dark line further down the lip.
    const tpl: Name = "grace_hopper_512x512.jpg";
    const lm = fx.faces.get(tpl)!.landmarks;
    const seamed: RgbImage = { ...fx.images.get(tpl)!, data: fx.images.get(tpl)!.data.slice() };
    const lower = [88, 178, 87, 14, 317, 402, 318]; // inner lower lip, the middle columns
    for (let k = 0; k + 1 < lower.length; k++) {
      const [a, b] = [lower[k]!, lower[k + 1]!];
      for (let x = Math.round(lm[3 * a]!); x <= Math.round(lm[3 * b]!); x++) {
        const y = Math.round(lm[3 * a + 1]! + ((lm[3 * b + 1]! - lm[3 * a + 1]!) * (x - lm[3 * a]!)) / (lm[3 * b]! - lm[3 * a]!));
        for (const dy of [3, 4]) seamed.data.set([40, 12, 10], ((y + dy) * seamed.width + x) * 3);
      }
    }
    const res = transferExpression({ ...input(tpl, "franck_04117.jpg"), template: seamed });
    // Along the lower lip's middle column, from the inner-lip point down: where its darkest pixel lies (px).
    const darkestBelow = (img: RgbImage, at: Float32Array) => {
      const [x0, y0, x1, y1] = [at[3 * 14]!, at[3 * 14 + 1]!, at[3 * 17]!, at[3 * 17 + 1]!];
      const len = Math.hypot(x1 - x0, y1 - y0);
      let best = 0, least = Infinity;
      for (let d = 0; d <= 0.6 * len; d += 0.5) {
        const o = (Math.round(y0 + ((y1 - y0) * d) / len) * img.width + Math.round(x0 + ((x1 - x0) * d) / len)) * 3;
        const sum = img.data[o]! + img.data[o + 1]! + img.data[o + 2]!;
        if (sum < least) (least = sum), (best = d);
      }
      return best;
    };
    expect(darkestBelow(seamed, lm)).toBeGreaterThanOrEqual(3); // the test can see the seam where it was drawn
    expect(darkestBelow(res.image, res.landmarks)).toBeLessThan(1.5);
  });

  it("closes a laughing mouth with a lip line drawn from the template's own lips instead of squeezed teeth", () => {
    const tplName = "franck_04117.jpg";
    const res = transferExpression(input(tplName, "franck_01829.jpg"));
    expect(res.mouthSynthesised).toBe(true);
    expect(measureExpression(res.landmarks).mouthOpen).toBeLessThan(0.04);
    // Along the lip line: the template shows teeth there, the result none.
    const bright = (img: RgbImage, lm: Float32Array) => {
      let n = 0;
      for (let k = 1; k < 10; k++) {
        const up = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308][k]!, lo = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308][k]!;
        // A third of the way from the upper to the lower inner lip: where the upper teeth show in a laugh.
        const x = Math.round(lm[3 * up]! * 0.65 + lm[3 * lo]! * 0.35), y = Math.round(lm[3 * up + 1]! * 0.65 + lm[3 * lo + 1]! * 0.35);
        const o = (y * img.width + x) * 3;
        const [r, g, b] = [img.data[o]!, img.data[o + 1]!, img.data[o + 2]!];
        // Teeth (JPEG-yellowed: ~200,150,115) are light and not red; lips are red (green below 0.6 × red).
        if (Math.min(r, g, b) > 100 && g > 0.7 * r) n++;
      }
      return n;
    };
    expect(bright(fx.images.get(tplName)!, fx.faces.get(tplName)!.landmarks)).toBeGreaterThan(4);
    expect(bright(res.image, res.landmarks)).toBe(0);
    // The lips meet at a thin seam, darker and redder than the lips a few pixels above and below it.
    const px = (x: number, y: number) => {
      const o = (Math.round(y) * res.image.width + Math.round(x)) * 3;
      return [res.image.data[o]!, res.image.data[o + 1]!, res.image.data[o + 2]!] as const;
    };
    const lum = ([r, g, b]: readonly number[]) => 0.299 * r! + 0.587 * g! + 0.114 * b!;
    for (const [up, lo] of [[81, 178], [13, 14], [311, 402]] as const) {
      const x = (res.landmarks[3 * up]! + res.landmarks[3 * lo]!) / 2, y = (res.landmarks[3 * up + 1]! + res.landmarks[3 * lo + 1]!) / 2;
      const seam = px(x, y);
      expect(lum(seam)).toBeLessThan(lum(px(x, y - 6)) - 15);
      expect(lum(seam)).toBeLessThan(lum(px(x, y + 6)) - 15);
      expect(seam[0]).toBeGreaterThan(seam[1] * 1.2);
    }
  });

  it("keeps a closed mouth's lip line when the reaction's mouth is closed too (no folded lip shards)", async () => {
    // franck_01829's lips nearly touch (0.010); grace's touch (0.000). Nothing is hidden between them, so the
    // lip line must stay a dark seam: squeezing it as if teeth were there folded light lip texture onto it.
    // grace's mesh with her closed lips 10 % wider: a closed-mouth widening (her own neutral width is identity,
    // and moves the template's mouth by little).
    const tplName = "franck_01829.jpg", reactionName = "grace_hopper_512x512.jpg";
    const tpl = fx.faces.get(tplName)!, tplImg = fx.images.get(tplName)!;
    const graceLm = fx.faces.get(reactionName)!.landmarks, wider = withLipWidth(graceLm, 1.1);
    const res = transferExpression(input(tplName, reactionName, { reactionFace: { ...fx.faces.get(reactionName)!, landmarks: wider } }));
    // Everything below is read from the output's pixels: where its lips are comes from analysing it again.
    const seen = (await fx.analyzer.analyze(res.image)).faces[0]!;
    // The mouth really changed (an unchanged picture would keep its own seam and pass the rest): the wider
    // mouth is re-read in the output, and the pixels around the lips moved.
    const width = (lm: Float32Array) => measureExpression(lm).mouthWidth;
    expect(measureExpression(wider).mouthOpen).toBeLessThan(0.01);
    expect(width(wider)).toBeGreaterThan(width(graceLm) + 0.05);
    expect(width(seen.landmarks)).toBeGreaterThan(width(tpl.landmarks) + 0.02);
    expect(changedIn(tplImg, res.image, boxOf(tpl.landmarks, MOUTH, 4))).toBeGreaterThan(1000);
    const up = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308], lo = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308];
    const seam = (img: RgbImage, lm: Float32Array) =>
      [2, 3, 4, 5, 6, 7, 8].map((j) => {
        const x = Math.round((lm[3 * up[j]!]! + lm[3 * lo[j]!]!) / 2), yc = (lm[3 * up[j]! + 1]! + lm[3 * lo[j]! + 1]!) / 2;
        let darkest = 255;
        for (const y of [yc - 1, yc, yc + 1]) {
          const o = (Math.round(y) * img.width + x) * 3;
          darkest = Math.min(darkest, 0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!);
        }
        return darkest;
      });
    // Light lip texture folded onto the seam reads 100+ (the lips a few pixels off it); the template's own seam peaks at ~65.
    const own = Math.max(...seam(tplImg, tpl.landmarks));
    for (const v of seam(res.image, seen.landmarks)) expect(v).toBeLessThan(own + 20);
  });

  it("keeps every pixel outside the face's anchor ring bit-identical", () => {
    const tpl = fx.images.get("franck_01829.jpg")!;
    const res = transferExpression(input("franck_01829.jpg", "franck_04117.jpg"));
    const ring = faceMeshPoints(fx.faces.get("franck_01829.jpg")!.landmarks, { width: tpl.width, height: tpl.height, ringScale: RING_SCALE });
    const b = res.changedBox!;
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let k = 468; k < ring.length / 2; k++) {
      minX = Math.min(minX, ring[2 * k]!); maxX = Math.max(maxX, ring[2 * k]!);
      minY = Math.min(minY, ring[2 * k + 1]!); maxY = Math.max(maxY, ring[2 * k + 1]!);
    }
    expect(b.x).toBeGreaterThanOrEqual(Math.floor(minX));
    expect(b.y).toBeGreaterThanOrEqual(Math.floor(minY));
    expect(b.x + b.width).toBeLessThanOrEqual(Math.ceil(maxX) + 1);
    expect(b.y + b.height).toBeLessThanOrEqual(Math.ceil(maxY) + 1);
    // And the box is exact: nothing outside it differs.
    const all = changedIn(tpl, res.image, { x: 0, y: 0, width: tpl.width, height: tpl.height });
    expect(changedIn(tpl, res.image, b)).toBe(all);
    expect(all).toBeGreaterThan(1000);
  });

  it("regions 'upper' leaves the mouth untouched and 'lower' the eyes and brows", () => {
    const tplName = "grace_hopper_512x512.jpg";
    const tpl = fx.images.get(tplName)!;
    const lm = fx.faces.get(tplName)!.landmarks;
    const mouth = boxOf(lm, MOUTH, 6);
    const eyes = boxOf(lm, EYES_AND_BROWS, 4);
    // A reaction that differs in both: franck laughing (mouth open, eyes narrowed).
    const upper = transferExpression(input(tplName, "franck_04117.jpg", { regions: "upper" }));
    const lower = transferExpression(input(tplName, "franck_04117.jpg", { regions: "lower" }));
    expect(changedIn(tpl, upper.image, mouth)).toBe(0);
    expect(changedIn(tpl, upper.image, eyes)).toBeGreaterThan(50);
    expect(changedIn(tpl, lower.image, eyes)).toBe(0);
    expect(changedIn(tpl, lower.image, mouth)).toBeGreaterThan(500);
    expect(lower.mouthSynthesised).toBe(true);
    expect(upper.mouthSynthesised).toBe(false);
  });

  it("leaves the user's eyes and brows (or mouth) as they are where the reaction's picture cuts them off, and says so", async () => {
    // franck_04117 cut at the top: the face is still found, but the mesh guesses the eyes and brows it cannot see,
    // and grace's spectacle rim kinked upwards with them. Cut at the bottom, the lips are guessed the same way.
    const tplName = "grace_hopper_512x512.jpg", rn = "franck_04117.jpg";
    const tpl = fx.images.get(tplName)!;
    const lm = fx.faces.get(tplName)!.landmarks;
    const mouth = boxOf(lm, MOUTH, 6);
    const eyes = boxOf(lm, EYES_AND_BROWS, 4);
    const cut = async (top: number, height: number) => {
      const file = fileURLToPath(new URL(`../../fixtures/faces/${rn}`, import.meta.url));
      const reaction = await decodeImage(new Uint8Array(await sharp(file).extract({ left: 0, top, width: 720, height }).png().toBuffer()));
      const reactionFace = (await fx.analyzer.analyze(reaction)).faces[0]!;
      return transferExpression({ ...input(tplName, rn), reaction, reactionFace });
    };
    for (const top of [240, 300]) {
      const res = await cut(top, 576 - top);
      expect(changedIn(tpl, res.image, eyes), `cut at y ${top}`).toBe(0);
      expect(changedIn(tpl, res.image, mouth), `cut at y ${top}`).toBeGreaterThan(500);
      expect(res.mouthSynthesised).toBe(true);
      expect(res.notes, `cut at y ${top}`).toEqual([expect.stringMatching(/eyes and brows are cut off .* left yours as they are/)]);
    }
    for (const height of [360, 400]) {
      const res = await cut(0, height);
      expect(changedIn(tpl, res.image, mouth), `cut at height ${height}`).toBe(0);
      expect(changedIn(tpl, res.image, eyes), `cut at height ${height}`).toBeGreaterThan(50);
      expect(res.notes, `cut at height ${height}`).toEqual([expect.stringMatching(/mouth is cut off .* left yours as it is/)]);
    }
    // The whole face in the picture: everything copied, nothing to say.
    const whole = transferExpression(input(tplName, rn));
    expect(changedIn(tpl, whole.image, eyes)).toBeGreaterThan(50);
    expect(whole.notes).toBeUndefined();
    // Brows near the edge but inside: copied in part, so the expression fades out as the edge nears them.
    const browMotion = (res: { landmarks: Float32Array }) =>
      [...RIGHT_BROW, ...LEFT_BROW].reduce((s, i) => s + Math.hypot(res.landmarks[3 * i]! - lm[3 * i]!, res.landmarks[3 * i + 1]! - lm[3 * i + 1]!), 0);
    const lidMotion = (res: { landmarks: Float32Array }) =>
      [...RIGHT_EYE_UPPER, ...RIGHT_EYE_LOWER, ...LEFT_EYE_UPPER, ...LEFT_EYE_LOWER].reduce((s, i) => s + Math.abs(res.landmarks[3 * i + 1]! - lm[3 * i + 1]!), 0);
    const near = await cut(170, 406);
    expect(near.notes).toEqual([expect.stringMatching(/^The reaction's brows are close to the picture's edge, so I copied them only in part/)]);
    expect(browMotion(near)).toBeGreaterThan(0);
    expect(browMotion(near) / browMotion(whole)).toBeLessThan(0.6);
    // A crop tight on the forehead keeps the eyes: their lids move as with the whole face.
    expect(lidMotion(near) / lidMotion(whole)).toBeGreaterThan(0.8);
    // Brows cut off, eyes near the edge: the brows left as they are, the eyes copied in part.
    const tight = await cut(200, 376);
    expect(tight.notes).toEqual([expect.stringMatching(/eyes and brows are close to the picture's edge, so I copied them only in part/)]);
    expect(browMotion(tight)).toBe(0);
    expect(lidMotion(tight)).toBeGreaterThan(0);
    expect(lidMotion(tight) / lidMotion(whole)).toBeLessThan(0.8);
  });

  it("closes eyes by lowering the lids over the iris (fewer dark iris pixels), not by smearing", () => {
    // The same face with its upper lids lowered by 10 px: a reaction whose eyes are nearly shut.
    const { tpl, face, res } = ownLidsLowered("franck_01829.jpg", 10);
    const dark = (img: RgbImage) => {
      let n = 0;
      for (const [a, b] of [[159, 145], [386, 374]] as const) {
        const box = boxOf(face.landmarks, [a, b, a === 159 ? 33 : 263, a === 159 ? 133 : 362], 2);
        for (let y = box.y; y < box.y + box.height; y++) {
          for (let x = box.x; x < box.x + box.width; x++) {
            const o = (y * img.width + x) * 3;
            if (img.data[o]! + img.data[o + 1]! + img.data[o + 2]! < 180) n++;
          }
        }
      }
      return n;
    };
    const before = dark(tpl), after = dark(res.image);
    expect(before).toBeGreaterThan(100);
    expect(after).toBeLessThan(before * 0.7);
    // The mouth is untouched (regions upper) and the result still has a face with both eyes narrower.
    expect(measureExpression(res.landmarks).eyeOpenLeft).toBeLessThan(measureExpression(face.landmarks).eyeOpenLeft * 0.6);
  });

  it("a lowering lid covers the eyeball instead of squeezing it: the lower iris stays where it was", async () => {
    // Read 3 px, drawn LID_GAIN × 3 = 4.8 px: the opening keeps a still middle.
    const { tpl, face, res } = ownLidsLowered("franck_01829.jpg", 3);
    const seen = (await fx.analyzer.analyze(res.image)).faces[0]!;
    let still = 0, diff = 0, moved = 0;
    for (const [up, lo] of [[159, 145], [386, 374]] as const) {
      const lm = face.landmarks;
      const x = Math.round(lm[3 * up]!);
      const newLid = res.landmarks[3 * up + 1]!, lower = lm[3 * lo + 1]!;
      const open = lower - lm[3 * up + 1]!;
      // Between the lowered lid's shadow band and the lower lid's: the still eyeball.
      for (let y = Math.ceil(newLid + 0.3 * open); y <= Math.floor(lower - 0.22 * open); y++) {
        for (let dx = -3; dx <= 3; dx++) {
          const o = (y * tpl.width + x + dx) * 3;
          for (let c = 0; c < 3; c++) diff += Math.abs(res.image.data[o + c]! - tpl.data[o + c]!);
          still++;
        }
      }
      // (and the lid itself did come down, as the output's pixels show it)
      moved += seen.landmarks[3 * up + 1]! - lm[3 * up + 1]!;
    }
    // Drawn 4.8 px; the analyser reads lids at about 1/LID_GAIN of what is drawn.
    expect(moved / 2).toBeGreaterThan(1.5);
    expect(still).toBeGreaterThan(10);
    // Squeezed into the smaller opening, these pixels would come from higher up the iris (~1–3 px away).
    expect(diff / (still * 3)).toBeLessThan(1.5);
  });

  it("scales the expression with intensity (as the output's pixels show it)", async () => {
    // Re-analysed from the pictures, not read from the engine's own mesh.
    const open = async (i: number) =>
      measureExpression((await fx.analyzer.analyze(transferExpression(input("franck_01829.jpg", "franck_04117.jpg", { intensity: i })).image)).faces[0]!.landmarks)
        .mouthOpen;
    const own = measureExpression(fx.faces.get("franck_01829.jpg")!.landmarks).mouthOpen;
    const [a, b, c] = [await open(0.25), await open(0.5), await open(1)];
    expect(own).toBeLessThan(a);
    expect(a).toBeLessThan(b);
    expect(b).toBeLessThan(c);
  });

  it("gives mirrored results for mirrored inputs", async () => {
    const t = flipHorizontal(fx.images.get("franck_01829.jpg")!);
    const r = flipHorizontal(fx.images.get("franck_04117.jpg")!);
    const tf = (await fx.analyzer.analyze(t)).faces[0]!;
    const rf = (await fx.analyzer.analyze(r)).faces[0]!;
    const flipped = transferExpression({ template: t, templateFace: tf, reaction: r, reactionFace: rf });
    const mirrored = flipHorizontal(flipped.image);
    const direct = transferExpression(input("franck_01829.jpg", "franck_04117.jpg"));
    const box = direct.changedBox!;
    let sum = 0, n = 0;
    for (let y = box.y; y < box.y + box.height; y++) {
      for (let x = box.x; x < box.x + box.width; x++) {
        const o = (y * t.width + x) * 3;
        for (let c = 0; c < 3; c++) sum += Math.abs(mirrored.data[o + c]! - direct.image.data[o + c]!);
        n += 3;
      }
    }
    // The detector does not see a mirrored face exactly mirrored (sub-pixel landmark noise), hence a tolerance.
    expect(sum / n).toBeLessThan(6);
    // Size-free measures do not depend on the side: the flipped output, re-analysed, measures like the direct one,
    // and both carry the reaction's open mouth (an unchanged template would be symmetric too, but closed).
    const mm = measureExpression((await fx.analyzer.analyze(flipped.image)).faces[0]!.landmarks);
    const dm = measureExpression((await fx.analyzer.analyze(direct.image)).faces[0]!.landmarks);
    expect(mm.mouthOpen).toBeCloseTo(dm.mouthOpen, 1);
    expect(mm.mouthWidth).toBeCloseTo(dm.mouthWidth, 1);
    const own = measureExpression(fx.faces.get("franck_01829.jpg")!.landmarks).mouthOpen;
    const want = measureExpression(fx.faces.get("franck_04117.jpg")!.landmarks).mouthOpen;
    for (const m of [mm, dm]) expect(Math.abs(m.mouthOpen - want)).toBeLessThan(Math.abs(m.mouthOpen - own));
  });
});

/** Who the swapped output shows, from its own pixels: closer to the template's person than to the reaction's. */
async function showsTemplatePerson(out: RgbImage, template: Name, reaction: Name): Promise<boolean> {
  const { cosineSimilarity } = await import("../../../src/pipeline/face/index.ts");
  const seen = (await fx.analyzer.analyze(out)).faces[0]!;
  const e = await fx.analyzer.embed(out, seen);
  const of = async (n: Name) => fx.analyzer.embed(fx.images.get(n)!, fx.faces.get(n)!);
  return cosineSimilarity(e, await of(template)) > cosineSimilarity(e, await of(reaction));
}

describe("a laughing template's mouth closed", () => {
  // franck_04117 laughs; the reaction's lips are closed (franck_01829). The closed upper lip must show as lip,
  // not as a thin line over a pale band (the laugh's lip sampled folded over its own rows).
  const upperLipRows = (img: RgbImage, lm: Float32Array, lip: readonly number[], skin: readonly number[]) => {
    const px = (x: number, y: number) => {
      const o = (Math.round(y) * img.width + Math.round(x)) * 3;
      return [img.data[o]!, img.data[o + 1]!, img.data[o + 2]!];
    };
    const dist = (a: readonly number[], b: readonly number[]) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
    let n = 0;
    for (let j = 2; j <= 8; j++) {
      const inner = LIPS_INNER_UPPER[j]!, outer = LIPS_OUTER_UPPER[j]!;
      const x = lm[3 * inner]!, iy = lm[3 * inner + 1]!, oy = lm[3 * outer + 1]!;
      // From half a lip's height above the outer lip line down to the inner one: pixels nearer the lip's colour than the skin's.
      for (let y = Math.round(oy - 0.5 * (iy - oy)); y <= Math.round(iy); y++) {
        const p = px(x, y);
        if (dist(p, lip) < dist(p, skin) && dist(p, lip) < 40) n++;
      }
    }
    return n;
  };
  /** Mean colour of the upper lip between two rows' shares (0 inner lip line … 1 outer), middle columns. */
  const upperMean = (img: RgbImage, lm: Float32Array, from: readonly number[], to: readonly number[], a: number, b: number) => {
    const sum = [0, 0, 0];
    let n = 0;
    for (let j = 3; j <= 7; j++) {
      for (let t = a; t <= b + 1e-9; t += 0.1, n++) {
        const x = lm[3 * from[j]!]! + (lm[3 * to[j]!]! - lm[3 * from[j]!]!) * t, y = lm[3 * from[j]! + 1]! + (lm[3 * to[j]! + 1]! - lm[3 * from[j]! + 1]!) * t;
        const o = (Math.round(y) * img.width + Math.round(x)) * 3;
        for (let c = 0; c < 3; c++) sum[c]! += img.data[o + c]!;
      }
    }
    return sum.map((v) => v / n);
  };

  it.each(["mimic", "swap"] as const)("shows the template's whole upper lip, not a thin line of it (%s)", async (mode) => {
    const tplName = "franck_04117.jpg", tpl = fx.images.get(tplName)!, tplLm = fx.faces.get(tplName)!.landmarks;
    const res = transferExpression(input(tplName, "franck_01829.jpg", { mode }));
    expect(res.mouthSynthesised).toBe(true);
    const seen = (await fx.analyzer.analyze(res.image)).faces[0]!;
    expect(measureExpression(seen.landmarks).mouthOpen).toBeLessThan(0.015);
    const lip = upperMean(tpl, tplLm, LIPS_MID_UPPER, LIPS_SEMI_OUTER_UPPER, 0, 1);
    const skin = upperMean(tpl, tplLm, LIPS_INNER_UPPER, LIPS_OUTER_UPPER, 1.5, 2);
    const own = upperLipRows(tpl, tplLm, lip, skin);
    expect(own).toBeGreaterThan(30); // the test sees the laugh's upper lip
    expect(upperLipRows(res.image, seen.landmarks, lip, skin)).toBeGreaterThanOrEqual(0.95 * own);
  });
});

describe("lips of an opening mouth", () => {
  it("keep the template's own: none of the reaction's lip is pasted inside the new opening", () => {
    // franck_04117's mesh puts its inner-lip points up to a few px onto its lips (a pale pink, wet edge:
    // blue above green, unlike grace_hopper's or franck_01829's own lips under the warp). Painted as part of
    // the interior, that strip lined the new opening as a pink rim on a swollen-looking lower lip.
    // Reaction-pink share inside the new inner-lip ring: 0.075 over both templates before the interior was
    // cut at the reaction's visible lip edge, 0.016 after.
    let inside = 0, pink = 0;
    for (const t of ["grace_hopper_512x512.jpg", "franck_01829.jpg"] as const) {
      const res = transferExpression(input(t, "franck_04117.jpg"));
      const ring = innerLipPolygon(res.landmarks);
      const W = res.image.width, d = res.image.data;
      const box = boxOf(res.landmarks, [78, 308, 13, 14, 82, 312, 87, 317], 1);
      for (let y = box.y; y < box.y + box.height; y++) {
        for (let x = box.x; x < box.x + box.width; x++) {
          if (!insidePolygon(ring, x, y)) continue;
          inside++;
          const o = (y * W + x) * 3;
          if (d[o + 2]! > d[o + 1]! + 3 && d[o]! > 120 && d[o]! - d[o + 1]! > 50) pink++;
        }
      }
    }
    expect(inside).toBeGreaterThan(3000);
    expect(pink / inside).toBeLessThan(0.03);
  });
});

describe("small template faces", () => {
  it.each([[256, 110], [205, 90]] as const)("a small face (image %i px, face under %i px) keeps its fine detail and its tone through the warp", async (side, faceMax) => {
    // grace_hopper at half size (face box ~95 px) wearing the laugh; detail = mean |Laplacian| of luma over
    // the changed pixels outside the mouth (whose inside is painted from the reaction). Bilinear sampling
    // kept 0.75 of it; Catmull-Rom keeps 0.88.
    // The 80–90 px face is the eval's smallest synthetic template: saved faces go down to 64 px (enrolment's
    // limit), so the transfer must take them too.
    const tpl = resizeImage(fx.images.get("grace_hopper_512x512.jpg")!, side, side);
    const face = (await fx.analyzer.analyze(tpl)).faces[0]!;
    expect(face.quality.faceSizePx).toBeLessThan(faceMax);
    const res = transferExpression({ template: tpl, templateFace: face, reaction: fx.images.get("franck_04117.jpg")!, reactionFace: fx.faces.get("franck_04117.jpg")! });
    const mouth = boxOf(face.landmarks, MOUTH, 4);
    const W = tpl.width, cb = res.changedBox!;
    const luma = (d: Uint8Array, i: number) => 0.299 * d[3 * i]! + 0.587 * d[3 * i + 1]! + 0.114 * d[3 * i + 2]!;
    const lap = (d: Uint8Array, i: number) => Math.abs(4 * luma(d, i) - luma(d, i - 1) - luma(d, i + 1) - luma(d, i - W) - luma(d, i + W));
    let before = 0, after = 0, lumaBefore = 0, lumaAfter = 0, n = 0;
    for (let y = cb.y + 1; y < cb.y + cb.height - 1; y++) {
      for (let x = cb.x + 1; x < cb.x + cb.width - 1; x++) {
        if (x >= mouth.x && x < mouth.x + mouth.width && y >= mouth.y && y < mouth.y + mouth.height) continue;
        const i = y * W + x;
        if (tpl.data[3 * i] === res.image.data[3 * i] && tpl.data[3 * i + 1] === res.image.data[3 * i + 1] && tpl.data[3 * i + 2] === res.image.data[3 * i + 2]) continue;
        before += lap(tpl.data, i);
        after += lap(res.image.data, i);
        lumaBefore += luma(tpl.data, i);
        lumaAfter += luma(res.image.data, i);
        n++;
      }
    }
    expect(n).toBeGreaterThan(1000);
    expect(after / before).toBeGreaterThan(0.84);
    // No tone change: the moved skin keeps its mean brightness (within what the moved geometry itself shifts).
    expect(Math.abs(lumaAfter - lumaBefore) / n).toBeLessThan(2.5);
  });
});

describe("small template faces: working resolution", () => {
  // franck_01829 shrunk until its face is ~80 px (the eval's smallest synthetic template) wearing the laugh:
  // the engine transfers it at 4× and pastes the changed pixels back.
  const small = async () => {
    const big = fx.images.get("franck_01829.jpg")!;
    const k = 80 / fx.faces.get("franck_01829.jpg")!.quality.faceSizePx;
    const tpl = resizeImage(big, Math.round(big.width * k), Math.round(big.height * k));
    const face = (await fx.analyzer.analyze(tpl)).faces[0]!;
    const res = transferExpression({ template: tpl, templateFace: face, reaction: fx.images.get("franck_04117.jpg")!, reactionFace: fx.faces.get("franck_04117.jpg")! });
    return { tpl, face, res };
  };
  const same = (a: RgbImage, b: RgbImage, i: number) => a.data[3 * i] === b.data[3 * i] && a.data[3 * i + 1] === b.data[3 * i + 1] && a.data[3 * i + 2] === b.data[3 * i + 2];

  it("comes out as the full-size face's result shrunk would: the drawn mouth close to it, the moved skin as detailed", async () => {
    // Reference: the laugh on the same face transferred at full size, shrunk with the resampler that made the
    // small template, so it has the same geometry and only the small path's own losses show. Over the
    // changed pixels: mean squared luma error to it inside the mouth box, and the detail (mean squared
    // Laplacian of luma) outside it, against the reference's. Figures in test/README.md.
    const { tpl, face, res } = await small();
    expect(face.quality.faceSizePx).toBeLessThan(90);
    const full = transferExpression(input("franck_01829.jpg", "franck_04117.jpg"));
    const ref = resizeImage(full.image, tpl.width, tpl.height);
    const W = tpl.width, cb = res.changedBox!, mouth = boxOf(face.landmarks, MOUTH, 3);
    const luma = (d: Uint8Array, i: number) => 0.299 * d[3 * i]! + 0.587 * d[3 * i + 1]! + 0.114 * d[3 * i + 2]!;
    const lap = (d: Uint8Array, i: number) => 4 * luma(d, i) - luma(d, i - 1) - luma(d, i + 1) - luma(d, i - W) - luma(d, i + W);
    let err = 0, nMouth = 0, want = 0, got = 0, nSkin = 0;
    for (let y = cb.y + 1; y < cb.y + cb.height - 1; y++) {
      for (let x = cb.x + 1; x < cb.x + cb.width - 1; x++) {
        const i = y * W + x;
        if (same(tpl, res.image, i)) continue;
        if (x >= mouth.x && x < mouth.x + mouth.width && y >= mouth.y && y < mouth.y + mouth.height) {
          err += (luma(res.image.data, i) - luma(ref.data, i)) ** 2;
          nMouth++;
        } else {
          want += lap(ref.data, i) ** 2;
          got += lap(res.image.data, i) ** 2;
          nSkin++;
        }
      }
    }
    expect(nMouth).toBeGreaterThan(200);
    expect(nSkin).toBeGreaterThan(500);
    expect(err / nMouth).toBeLessThan(245);
    expect(got / want).toBeGreaterThan(0.76);
  });

  it("pastes back without a seam: no tone step where the changed pixels meet the untouched ones, nothing changed beyond them", async () => {
    const { tpl, face, res } = await small();
    const W = tpl.width, H = tpl.height;
    // The seam: changed pixels with an unchanged 4-neighbour. A tone shift of the pasted region shows there
    // as a mean offset per channel (the warp's own motion there is a fraction of a pixel).
    const sum = [0, 0, 0];
    let n = 0;
    for (let y = 1; y < H - 1; y++) {
      for (let x = 1; x < W - 1; x++) {
        const i = y * W + x;
        if (same(tpl, res.image, i)) continue;
        if ([i - 1, i + 1, i - W, i + W].every((j) => !same(tpl, res.image, j))) continue;
        for (let c = 0; c < 3; c++) sum[c]! += res.image.data[3 * i + c]! - tpl.data[3 * i + c]!;
        n++;
      }
    }
    expect(n).toBeGreaterThan(100);
    for (const s of sum) expect(Math.abs(s / n)).toBeLessThan(0.75);
    // Nothing beyond the warp's anchor ring changed (the paste covers only what the working result changed).
    const ring = faceMeshPoints(face.landmarks, { width: W, height: H, ringScale: RING_SCALE });
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let k = 468; k < ring.length / 2; k++) {
      minX = Math.min(minX, ring[2 * k]!); maxX = Math.max(maxX, ring[2 * k]!);
      minY = Math.min(minY, ring[2 * k + 1]!); maxY = Math.max(maxY, ring[2 * k + 1]!);
    }
    const b = res.changedBox!;
    expect(b.x).toBeGreaterThanOrEqual(Math.floor(minX));
    expect(b.y).toBeGreaterThanOrEqual(Math.floor(minY));
    expect(b.x + b.width).toBeLessThanOrEqual(Math.ceil(maxX) + 1);
    expect(b.y + b.height).toBeLessThanOrEqual(Math.ceil(maxY) + 1);
    // The result's mesh is in the template's pixels again: its stable points sit where the template's are.
    expect(Math.hypot(res.landmarks[3 * 168]! - face.landmarks[3 * 168]!, res.landmarks[3 * 168 + 1]! - face.landmarks[3 * 168 + 1]!)).toBeLessThan(0.5);
  });
});

describe("transferExpression (swap)", () => {
  it("puts the template's face into the reaction image and leaves the rest of it alone", async () => {
    const reaction = fx.images.get("franck_04117.jpg")!;
    const res = transferExpression(input("grace_hopper_512x512.jpg", "franck_04117.jpg", { mode: "swap" }));
    expect([res.image.width, res.image.height]).toEqual([reaction.width, reaction.height]);
    const face = fx.faces.get("franck_04117.jpg")!;
    // Changes stay within the picture bent around the face (RESHAPE_REACH × the outline from its centre; the
    // face box is about the outline's), and changedBox holds all of them.
    const reach = { x: face.box.x - face.box.width / 2, y: face.box.y - face.box.height / 2, width: 2 * face.box.width, height: 2 * face.box.height };
    const all = { x: 0, y: 0, width: reaction.width, height: reaction.height };
    expect(changedIn(reaction, res.image, all)).toBeGreaterThan(0);
    expect(changedIn(reaction, res.image, clipBox(reach, reaction))).toBe(changedIn(reaction, res.image, all));
    expect(changedIn(reaction, res.image, res.changedBox!)).toBe(changedIn(reaction, res.image, all));
    expect(res.mouthSynthesised).toBe(true);
    const again = (await fx.analyzer.analyze(res.image)).faces[0]!;
    const e = await fx.analyzer.embed(res.image, again);
    const { cosineSimilarity } = await import("../../../src/pipeline/face/index.ts");
    const toTemplate = cosineSimilarity(e, await fx.analyzer.embed(fx.images.get("grace_hopper_512x512.jpg")!, fx.faces.get("grace_hopper_512x512.jpg")!));
    const toReaction = cosineSimilarity(e, await fx.analyzer.embed(reaction, face));
    expect(toTemplate).toBeGreaterThan(toReaction);
    // The laugh stays a laugh.
    expect(measureExpression(again.landmarks).mouthOpen).toBeGreaterThan(0.08);
  });

  it("puts a colour face into a black-and-white reaction in black and white", async () => {
    // Per-channel means and contrasts alone left grace's glasses teal and her skin pink in a grey picture.
    const reaction = greyscale(fx.images.get("franck_04117.jpg")!);
    const reactionFace = (await fx.analyzer.analyze(reaction)).faces[0]!;
    const res = transferExpression({ ...input("grace_hopper_512x512.jpg", "franck_04117.jpg", { mode: "swap" }), reaction, reactionFace });
    expect(mostColourful(res.image)).toBeLessThanOrEqual(1);
    expect(await showsTemplatePerson(res.image, "grace_hopper_512x512.jpg", "franck_04117.jpg")).toBe(true);
  });

  it("gives the user's face the reaction picture's colour contrast: an old photo's red creases do not come along", () => {
    // grace's photo is a vivid print: the red of her skin spreads about 2.5x franck's webcam frame's (ln R/G over
    // the face). Pasted with her own contrasts (one gain per channel and a gamma, tried to keep her lips' tint
    // exactly), she came out pale with red creases, the result's spread 0.30 against franck's 0.15.
    const redSpread = (img: RgbImage, lm: Float32Array) => {
      const c = [0, 1].map((k) => FACE_OVAL.reduce((a, i) => a + lm[3 * i + k]!, 0) / FACE_OVAL.length);
      const ring = new Float32Array(FACE_OVAL.flatMap((i) => [0, 1].map((k) => c[k]! + (lm[3 * i + k]! - c[k]!) * 0.8)));
      let s = 0, s2 = 0, n = 0;
      for (let y = 0; y < img.height; y++) {
        for (let x = 0; x < img.width; x++) {
          if (!insidePolygon(ring, x, y)) continue;
          const o = (y * img.width + x) * 3, v = Math.log((img.data[o]! + 1) / (img.data[o + 1]! + 1));
          s += v;
          s2 += v * v;
          n++;
        }
      }
      return Math.sqrt(s2 / n - (s / n) ** 2);
    };
    const tpl = "grace_hopper_512x512.jpg";
    const own = redSpread(fx.images.get(tpl)!, fx.faces.get(tpl)!.landmarks);
    for (const reaction of ["franck_04117.jpg", "astronaut.png"] as Name[]) {
      const theirs = redSpread(fx.images.get(reaction)!, fx.faces.get(reaction)!.landmarks);
      expect(own - theirs, reaction).toBeGreaterThan(0.2); // the two pictures' contrasts really differ
      const res = transferExpression(input(tpl, reaction, { mode: "swap" }));
      expect(Math.abs(redSpread(res.image, res.landmarks) - theirs), reaction).toBeLessThan(0.25 * (own - theirs));
    }
  });

  it("keeps black black: a red print's spectacle frames and the shadow under its jaw come out as dark as the reaction's darks, not teal", () => {
    // The colour match maps each channel by a gain and an offset fitted to the skin. grace's print is far redder
    // than franck's webcam frame, so black went to the offsets (about −12, +34, +40): her frames' rims and the
    // shadow by her ear came out teal. Measured on the darkest 3 % of the face: their tint (ln G/R, ln B/R)
    // against the reaction's own darkest 3 %, 0.48 / 0.57 / 1.72 apart (the last crushed to a deep red).
    const darkTint = (img: RgbImage, lm: Float32Array) => {
      const c = [0, 1].map((k) => FACE_OVAL.reduce((a, i) => a + lm[3 * i + k]!, 0) / FACE_OVAL.length);
      const ring = new Float32Array(FACE_OVAL.flatMap((i) => [0, 1].map((k) => c[k]! + (lm[3 * i + k]! - c[k]!) * 0.8)));
      const px: [number, number, number, number][] = [];
      for (let y = 0; y < img.height; y++) {
        for (let x = 0; x < img.width; x++) {
          if (!insidePolygon(ring, x, y)) continue;
          const o = (y * img.width + x) * 3, [r, g, b] = [img.data[o]!, img.data[o + 1]!, img.data[o + 2]!];
          px.push([0.299 * r + 0.587 * g + 0.114 * b, r, g, b]);
        }
      }
      px.sort((p, q) => p[0] - q[0]);
      const dark = px.slice(0, Math.ceil(px.length * 0.03));
      const [r, g, b] = [1, 2, 3].map((k) => dark.reduce((s, p) => s + p[k]!, 0) / dark.length) as [number, number, number];
      return [Math.log((g + 1) / (r + 1)), Math.log((b + 1) / (r + 1))] as const;
    };
    const apart: string[] = [];
    let sum = 0;
    for (const [tpl, reaction] of [
      ["grace_hopper_512x512.jpg", "franck_04117.jpg"],
      ["grace_hopper_512x512.jpg", "astronaut.png"],
      ["franck_01829.jpg", "grace_hopper_512x512.jpg"],
    ] as [Name, Name][]) {
      const res = transferExpression(input(tpl, reaction, { mode: "swap" }));
      const want = darkTint(fx.images.get(reaction)!, fx.faces.get(reaction)!.landmarks);
      const got = darkTint(res.image, res.landmarks);
      const d = Math.hypot(got[0] - want[0], got[1] - want[1]);
      apart.push(`${tpl} into ${reaction}: ${d.toFixed(2)}`);
      sum += d;
      expect(d, apart.join("; ")).toBeLessThan(0.65);
    }
    expect(sum / 3, apart.join("; ")).toBeLessThan(0.35);
  });

  it("swaps into a darkened reaction as into the normal one, darkened: shadows neither blood-red nor black, no extra contrast", async () => {
    // A third of franck's brightness is a third of the colour match's spreads too: a clamp on the spread alone held
    // the face at twice the picture's contrast and pushed grace's wrinkles and shadows through black (the darkest
    // tenth of the face at (28, 4, 5) where the darkened normal swap has (33, 17, 15)).
    const k = 0.35, rn = "franck_04117.jpg";
    const dark = await decodeImage(new Uint8Array(await sharp(fileURLToPath(new URL(`../../fixtures/faces/${rn}`, import.meta.url))).linear(k, 0).jpeg({ quality: 90 }).toBuffer()));
    const darkFace = (await fx.analyzer.analyze(dark)).faces[0]!;
    for (const tpl of ["grace_hopper_512x512.jpg", "franck_01829.jpg"] as Name[]) {
      const normal = transferExpression(input(tpl, rn, { mode: "swap" }));
      const res = transferExpression({ ...input(tpl, rn, { mode: "swap" }), reaction: dark, reactionFace: darkFace });
      // Within the swapped face (its outline drawn in to 80 %): the darkest tenth's colour and the spread of luma.
      const out = res.landmarks;
      const c = [0, 1].map((j) => FACE_OVAL.reduce((a, i) => a + out[3 * i + j]!, 0) / FACE_OVAL.length);
      const ring = new Float32Array(FACE_OVAL.flatMap((i) => [0, 1].map((j) => c[j]! + (out[3 * i + j]! - c[j]!) * 0.8)));
      const read = (img: RgbImage, scale: number) => {
        const px: [number, number, number, number][] = [];
        for (let y = 0; y < img.height; y++) {
          for (let x = 0; x < img.width; x++) {
            if (!insidePolygon(ring, x, y)) continue;
            const o = (y * img.width + x) * 3, [r, g, b] = [0, 1, 2].map((j) => img.data[o + j]! * scale) as [number, number, number];
            px.push([0.299 * r + 0.587 * g + 0.114 * b, r, g, b]);
          }
        }
        px.sort((p, q) => p[0] - q[0]);
        const darkest = px.slice(0, Math.ceil(px.length / 10));
        const mean = px.reduce((s, p) => s + p[0], 0) / px.length;
        const spread = Math.sqrt(px.reduce((s, p) => s + (p[0] - mean) ** 2, 0) / px.length);
        return { darkest: [1, 2, 3].map((j) => darkest.reduce((s, p) => s + p[j]!, 0) / darkest.length), spread };
      };
      const got = read(res.image, 1), want = read(normal.image, k);
      const say = `${tpl}: darkest tenth ${got.darkest.map((v) => v.toFixed(1))} against ${want.darkest.map((v) => v.toFixed(1))}, luma spread ${got.spread.toFixed(2)} against ${want.spread.toFixed(2)}`;
      for (let j = 0; j < 3; j++) expect(Math.abs(got.darkest[j]! - want.darkest[j]!), say).toBeLessThan(3);
      expect(Math.abs(got.spread / want.spread - 1), say).toBeLessThan(0.06);
    }
  });

  it("does not recolour the whole face for what lies at its rim: a bright patch at the reaction's cheek edge", () => {
    // The colour match read the whole blend region, rim included, where the outline crosses the reaction's
    // ear, hair or background (or the user's grey hair at a temple): a white patch there shifted every pixel
    // of the face's far half by 3 levels on average. It now reads the face within STATS_INSET of the rim.
    const tpl = "grace_hopper_512x512.jpg", rn = "franck_04117.jpg";
    const reaction = fx.images.get(rn)!, face = fx.faces.get(rn)!;
    const lm = face.landmarks;
    const patched: RgbImage = { ...reaction, data: reaction.data.slice() };
    const radius = 0.08 * face.quality.faceSizePx;
    for (const i of [234, 93]) {
      const cx = lm[3 * i]!, cy = lm[3 * i + 1]!;
      for (let y = Math.floor(cy - radius); y <= cy + radius; y++) {
        for (let x = Math.floor(cx - radius); x <= cx + radius; x++) {
          if (Math.hypot(x - cx, y - cy) <= radius) patched.data.set([250, 250, 250], (y * reaction.width + x) * 3);
        }
      }
    }
    const plain = transferExpression(input(tpl, rn, { mode: "swap" }));
    const withPatch = transferExpression({ ...input(tpl, rn, { mode: "swap" }), reaction: patched });
    // The middle of the face's far half (the patch is on the picture's left): its outline drawn in to 60 %.
    const out = plain.landmarks;
    const c = [0, 1].map((k) => FACE_OVAL.reduce((a, i) => a + out[3 * i + k]!, 0) / FACE_OVAL.length);
    const ring = new Float32Array(FACE_OVAL.flatMap((i) => [0, 1].map((k) => c[k]! + (out[3 * i + k]! - c[k]!) * 0.6)));
    let sum = 0, n = 0;
    for (let y = 0; y < reaction.height; y++) {
      for (let x = 0; x < reaction.width; x++) {
        if (!insidePolygon(ring, x, y) || x < c[0]!) continue; // the half away from the patch
        const o = (y * reaction.width + x) * 3;
        for (let k = 0; k < 3; k++) sum += Math.abs(withPatch.image.data[o + k]! - plain.image.data[o + k]!);
        n += 3;
      }
    }
    expect(n).toBeGreaterThan(10_000);
    expect(sum / n).toBeLessThan(1.5);
  });

  it("bends the reaction's picture to the user's face outline: what lay just outside the reaction's face lies just outside the user's", () => {
    // grace_hopper's face is shorter and narrower than franck's laughing one. Without the bend, the pixels just
    // outside her pasted outline were franck's own cheeks and chin (skin where the blue backdrop or his neck
    // should be): a second, wider face around hers.
    const reaction = fx.images.get("franck_04117.jpg")!;
    const from = fx.faces.get("franck_04117.jpg")!.landmarks;
    const res = transferExpression(input("grace_hopper_512x512.jpg", "franck_04117.jpg", { mode: "swap" }));
    const outside = (lm: Float32Array, i: number, centre: [number, number]): [number, number] => [
      Math.round(centre[0] + (lm[3 * i]! - centre[0]) * 1.06),
      Math.round(centre[1] + (lm[3 * i + 1]! - centre[1]) * 1.06),
    ];
    const centreOf = (lm: Float32Array): [number, number] => [
      FACE_OVAL.reduce((a, i) => a + lm[3 * i]!, 0) / FACE_OVAL.length,
      FACE_OVAL.reduce((a, i) => a + lm[3 * i + 1]!, 0) / FACE_OVAL.length,
    ];
    const cr = centreOf(from), cu = centreOf(res.landmarks);
    const colour = (img: RgbImage, [x, y]: [number, number]) => [0, 1, 2].map((c) => img.data[(y * img.width + x) * 3 + c]!);
    let moved = 0, follows = 0, stays = 0;
    for (const i of FACE_OVAL) {
      const there = outside(from, i, cr), here = outside(res.landmarks, i, cu);
      if (Math.hypot(there[0] - here[0], there[1] - here[1]) < 6) continue; // outlines agree here
      moved++;
      const want = colour(reaction, there);
      follows += Math.max(...[0, 1, 2].map((c) => Math.abs(colour(res.image, here)[c]! - want[c]!)));
      stays += Math.max(...[0, 1, 2].map((c) => Math.abs(colour(reaction, here)[c]! - want[c]!)));
    }
    expect(moved).toBeGreaterThan(8);
    // Mean largest channel difference: a few levels where the picture follows the outline, tens where it stays.
    expect(follows / moved).toBeLessThan(12);
    expect(stays / moved).toBeGreaterThan(30);
  });

  it("shuts the user's laughing mouth as the reaction's is shut: a lip line, no squeezed teeth", async () => {
    // franck_04117 laughs (0.208); grace_hopper's lips touch. The swapped mouth must read closed again: the
    // squeezed gap of the user's own teeth read 0.036 before the lip line was drawn (the eval allows 0.015).
    const res = transferExpression(input("franck_04117.jpg", "grace_hopper_512x512.jpg", { mode: "swap" }));
    expect(res.mouthSynthesised).toBe(true);
    const again = (await fx.analyzer.analyze(res.image)).faces[0]!;
    expect(measureExpression(again.landmarks).mouthOpen).toBeLessThan(0.015);
    // The closed mouth is the user's face, not the reaction left as it was.
    expect(await showsTemplatePerson(res.image, "franck_04117.jpg", "grace_hopper_512x512.jpg")).toBe(true);
  });

  it("keeps the reaction's own lip edge with its teeth, so the swapped mouth reads as open as the reaction's", async () => {
    // franck_02221's lips meeting the astronaut's teeth with a margin of their own re-measured 0.150 for her
    // 0.125 (20 %); with her lips' inner edge kept around her teeth, 0.131.
    const res = transferExpression(input("franck_02221.jpg", "astronaut.png", { mode: "swap" }));
    expect(res.mouthSynthesised).toBe(true);
    const again = (await fx.analyzer.analyze(res.image)).faces[0]!;
    const want = measureExpression(fx.faces.get("astronaut.png")!.landmarks).mouthOpen;
    expect(Math.abs(measureExpression(again.landmarks).mouthOpen - want) / want).toBeLessThan(0.15);
    expect(await showsTemplatePerson(res.image, "franck_02221.jpg", "astronaut.png")).toBe(true);
  });

  it("shows a small reaction face's teeth as crisp as the reaction's own, not veiled by the lips", async () => {
    // The astronaut's face is 104 px wide: its smile's gap is ~6 px. A fixed 2.5-px feather left the teeth
    // there only a sliver of full cover, so they showed through a grey veil of the swapped lips.
    const res = transferExpression(input("grace_hopper_512x512.jpg", "astronaut.png", { mode: "swap" }));
    expect(res.mouthSynthesised).toBe(true);
    const teeth = (img: RgbImage, lm: Float32Array) => {
      const ring = innerLipPolygon(lm);
      const lum: number[] = [];
      const box = boxOf(lm, [78, 308, 13, 14, 82, 312, 87, 317], 0);
      for (let y = box.y; y <= box.y + box.height; y++) {
        for (let x = box.x; x <= box.x + box.width; x++) {
          if (!insidePolygon(ring, x + 0.5, y + 0.5)) continue;
          const o = (y * img.width + x) * 3;
          lum.push(0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!);
        }
      }
      lum.sort((a, b) => a - b);
      return lum[Math.floor(lum.length * 0.9)]!;
    };
    const own = teeth(fx.images.get("astronaut.png")!, fx.faces.get("astronaut.png")!.landmarks);
    // Read where the output's own pixels put the mouth, on a face that is the user's.
    const seen = (await fx.analyzer.analyze(res.image)).faces[0]!;
    expect(teeth(res.image, seen.landmarks)).toBeGreaterThan(own - 20);
    expect(await showsTemplatePerson(res.image, "grace_hopper_512x512.jpg", "astronaut.png")).toBe(true);
  });

  it("puts a large saved face into a small reaction face without speckle: as detailed as a well-shrunk face, no more", async () => {
    // A saved face is up to ~340 px, a meme's face often ~100 px. Warped straight down, bilinear sampling skipped
    // two source pixels in three: grace's wrinkles and spectacle rims came out as dark speckle, 1.21-1.31x the
    // detail (mean |Laplacian|) of the same swap from her photo shrunk first by sharp's Lanczos filter.
    const lanczos = async (img: RgbImage, width: number, height: number): Promise<RgbImage> => {
      const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
        .resize(width, height, { kernel: "lanczos3", fit: "fill" })
        .raw()
        .toBuffer({ resolveWithObject: true });
      return { width: info.width, height: info.height, data: new Uint8Array(data) };
    };
    const detail = (img: RgbImage, b: Box) => detailIn(img, b.x + 1, b.y + 1, b.x + b.width - 1, b.y + b.height - 1);
    const grace = fx.images.get("grace_hopper_512x512.jpg")!;
    const template = await lanczos(grace, 840, 840);
    const templateFace = (await fx.analyzer.analyze(template)).faces[0]!;
    const laugh = fx.images.get("franck_04117.jpg")!, laughFace = fx.faces.get("franck_04117.jpg")!;
    const ratios: number[] = [];
    for (const facePx of [160, 95]) {
      const k = facePx / laughFace.quality.faceSizePx;
      const reaction = await lanczos(laugh, Math.round(laugh.width * k), Math.round(laugh.height * k));
      const reactionFace = (await fx.analyzer.analyze(reaction)).faces[0]!;
      const res = transferExpression({ template, templateFace, reaction, reactionFace, mode: "swap" });
      // The reference draws the face as large as the engine does for this reaction face (WORK_FACE_PX).
      const drawn = workScale(faceSize(reactionFace.landmarks));
      const kt = (drawn * faceSize(reactionFace.landmarks)) / faceSize(templateFace.landmarks);
      expect(kt, `${facePx} px`).toBeLessThan(0.8);
      const shrunk = await lanczos(template, Math.round(template.width * kt), Math.round(template.height * kt));
      const ref = transferExpression({ template: shrunk, templateFace: scaledFace(templateFace, shrunk.width / template.width), reaction, reactionFace, mode: "swap" });
      ratios.push(detail(res.image, ref.changedBox!) / detail(ref.image, ref.changedBox!));
    }
    const seen = ratios.map((r) => r.toFixed(3)).join(" / ");
    for (const r of ratios) {
      expect(r, seen).toBeGreaterThan(0.85);
      expect(r, seen).toBeLessThan(1.06);
    }
  });

  it("draws a small reaction face's new lips and eyes as crisply as the full-size swap shrunk", () => {
    // Drawn at the 80-px face's own size, the swapped lips and lids came out softer than the same swap made on
    // the full-size reaction and shrunk: mean detail 0.81 of it over mouths and eyes. They are now drawn at
    // WORK_FACE_PX and averaged down.
    const ratios: number[] = [];
    for (const tpl of ["grace_hopper_512x512.jpg", "franck_01829.jpg"] as Name[]) {
      for (const rn of ["franck_04117.jpg", "franck_02221.jpg"] as Name[]) {
        const full = transferExpression(input(tpl, rn, { mode: "swap" }));
        const big = fx.images.get(rn)!, bigFace = fx.faces.get(rn)!;
        const k = 80 / bigFace.quality.faceSizePx;
        const W = Math.round(big.width * k), H = Math.round(big.height * k);
        const reaction = resizeImage(big, W, H);
        const reactionFace = scaledFace(bigFace, W / big.width);
        const res = transferExpression({ template: fx.images.get(tpl)!, templateFace: fx.faces.get(tpl)!, reaction, reactionFace, mode: "swap" });
        const ref = resizeImage(full.image, W, H);
        const lm = reactionFace.landmarks, p = (i: number, c: number) => Math.round(lm[3 * i + c]!);
        const regions = [
          [p(61, 0) - 4, Math.min(p(0, 1), p(13, 1)) - 4, p(291, 0) + 4, p(17, 1) + 4],
          [p(33, 0) - 3, p(159, 1) - 5, p(263, 0) + 3, p(145, 1) + 5],
        ] as const;
        for (const [x0, y0, x1, y1] of regions) ratios.push(detailIn(res.image, x0, y0, x1, y1) / detailIn(ref, x0, y0, x1, y1));
      }
    }
    const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    expect(mean, ratios.map((r) => r.toFixed(2)).join(" ")).toBeGreaterThan(0.9);
    expect(mean, ratios.map((r) => r.toFixed(2)).join(" ")).toBeLessThan(1.2);
  });
});

describe("mouthFeather", () => {
  it("scales the mouth interior's soft edge with the face, from 1 px up to 2.5 px", () => {
    expect(mouthFeather(60)).toBe(1);
    expect(mouthFeather(180)).toBeCloseTo(1.8, 5);
    expect(mouthFeather(250)).toBeCloseTo(2.5, 5);
    expect(mouthFeather(900)).toBe(2.5);
  });
});

describe("face checks", () => {
  const base = () => fx.faces.get("franck_01829.jpg")!;
  const expectUnusable = (face: AnalyzedFace, pattern: RegExp, role: "templateFace" | "reactionFace" = "reactionFace") => {
    try {
      transferExpression(input("franck_01829.jpg", "franck_04117.jpg", { [role]: face }));
      expect.unreachable("should have thrown");
    } catch (e) {
      expect(e).toBeInstanceOf(MimicError);
      expect((e as MimicError).code).toBe("FACE_UNUSABLE");
      expect((e as MimicError).userMessage).toMatch(pattern);
    }
  };

  it("rejects a low-confidence detection", () => expectUnusable({ ...base(), score: 0.3 }, /could not be made out.*Use a reaction image/));
  it("rejects a low-confidence mesh on the template", () =>
    expectUnusable({ ...base(), meshScore: 0.2 }, /your saved face could not be made out.*Save your face again/, "templateFace"));
  it("rejects a face turned beyond 45°", () =>
    expectUnusable({ ...base(), pose: { yaw: -60, pitch: 0, roll: 0 } }, /turned too far to the side \(60°, at most 45°/));
  it("rejects a face that is too small", () =>
    expectUnusable({ ...base(), quality: { ...base().quality, faceSizePx: 50 } }, new RegExp(`too small \\(50 px; at least ${FACE_LIMITS.minFaceSizePx} px`)));
  it("rejects a broken mesh", () => expectUnusable({ ...base(), landmarks: new Float32Array(468 * 3).fill(NaN) }, /could not be measured/));

  it("selectFace: no face, index out of range, default largest", () => {
    const analysis = (faces: AnalyzedFace[]): FaceAnalysis => ({ width: 10, height: 10, faces, timingsMs: {} });
    expect(() => selectFace(analysis([]), "reaction")).toThrow(/No face found in the reaction image/);
    try {
      selectFace(analysis([base()]), "reaction", 2);
      expect.unreachable();
    } catch (e) {
      expect((e as MimicError).code).toBe("BAD_INPUT");
      expect((e as MimicError).userMessage).toMatch(/only 1 face.*index 2 does not exist/);
    }
    const small = { ...base(), quality: { ...base().quality, faceSizePx: 200 } };
    expect(selectFace(analysis([base(), small]), "reaction")).toBe(base());
    expect(selectFace(analysis([base(), small]), "reaction", 1)).toBe(small);
  });
});

describe("makeMeme", () => {
  it("picks the reaction face by index (default: the largest) in a photo with two faces", async () => {
    const { makeMeme } = await import("../../../src/pipeline/transfer/meme.ts");
    const { encodePng, pasteImage, resizeImage, solidImage } = await import("../../../src/pipeline/image/index.ts");
    // A wide photo: the laugh large on the left, the neutral face smaller on the right.
    const canvas = solidImage(1100, 600, [90, 110, 130]);
    pasteImage(canvas, fx.images.get("franck_04117.jpg")!, 0, 12);
    pasteImage(canvas, resizeImage(fx.images.get("franck_01829.jpg")!, 360, 288), 730, 150);
    const reaction = new Uint8Array(await encodePng(canvas));
    const template = new Uint8Array(await encodePng(fx.images.get("grace_hopper_512x512.jpg")!));
    const largest = await makeMeme(template, reaction, {}, fx.analyzer);
    const second = await makeMeme(template, reaction, { faceIndex: 1 }, fx.analyzer);
    expect(largest.reactionFaceCount).toBe(2);
    expect([largest.reactionFaceIndex, second.reactionFaceIndex]).toEqual([0, 1]);
    expect(largest.reactionFace.box.x).toBeLessThan(600);
    expect(second.reactionFace.box.x).toBeGreaterThan(600);
    // The laugh opens the mouth (interior synthesised); the neutral face does not.
    expect(largest.mouthSynthesised).toBe(true);
    expect(second.mouthSynthesised).toBe(false);
    await expect(makeMeme(template, reaction, { faceIndex: 2 }, fx.analyzer)).rejects.toThrow(/2 faces.*index 2 does not exist/);
    expect(largest.notes.join(" ")).not.toMatch(/ignored/);
    // The same two-face photo given as the face photo: its largest face is used, and the user is told, as a save says.
    const asFace = await makeMeme(reaction, template, { sources: { face: "“pair.png”" } }, fx.analyzer);
    expect(asFace.templateFace.box.x).toBeLessThan(600);
    expect(asFace.notes).toContain("1 smaller face in the face photo “pair.png” was ignored; I used the largest one.");
    // Two faces of about the same size in the face photo: refused, as saving that photo would be (which is the user?).
    const twins = solidImage(1040, 520, [90, 110, 130]);
    pasteImage(twins, fx.images.get("grace_hopper_512x512.jpg")!, 0, 4);
    pasteImage(twins, fx.images.get("grace_hopper_512x512.jpg")!, 524, 4);
    await expect(makeMeme(new Uint8Array(await encodePng(twins)), template, { sources: { face: "“twins.png”" } }, fx.analyzer)).rejects.toMatchObject({
      code: "FACE_UNUSABLE",
      userMessage: "I see 2 faces of about the same size in the face photo “twins.png”, so I can't tell which one is you. Crop the photo to just your face.",
    });
  });
});
