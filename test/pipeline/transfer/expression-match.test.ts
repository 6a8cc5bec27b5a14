import { describe, expect, it } from "vitest";
import { useFixtureFaces, type FixtureFace } from "../../helpers/fixture-faces.ts";
import { measureExpression, retargetExpression, transferExpression } from "../../../src/pipeline/transfer/index.ts";
import { drawnEyelids, LID_GAIN } from "../../../src/pipeline/transfer/eyes.ts";
import { localFrame, toLocal } from "../../../src/pipeline/transfer/geometry.ts";
import { LEFT_EYE_LOWER, LEFT_EYE_UPPER, RIGHT_EYE_LOWER, RIGHT_EYE_UPPER } from "../../../src/pipeline/warp/landmarks.ts";
import { resizeImage } from "../../../src/pipeline/image/index.ts";
import type { AnalyzedFace, RgbImage } from "../../../src/pipeline/types.ts";
import { withLipWidth } from "../../helpers/lip-width.ts";

/**
 * The expression is matched in face-size units: the engine's intended mesh carries the reaction's mouth
 * opening and eye openness (not the template's rest shape), and the picture it paints re-measures so
 * (the face analysis run again on the result, as `npm run eval` does for every fixture pair).
 */
type Name = FixtureFace;
const fx = useFixtureFaces();

const m = (n: Name) => measureExpression(fx.faces.get(n)!.landmarks);

describe("intended expression", () => {
  it.each([
    ["astronaut.png", "franck_04117.jpg"],
    ["franck_04117.jpg", "astronaut.png"],
    ["grace_hopper_512x512.jpg", "franck_02221.jpg"],
    ["franck_02221.jpg", "grace_hopper_512x512.jpg"],
  ] as const)("%s wearing %s: the mouth opening is the reaction's", (t, r) => {
    const got = measureExpression(retargetExpression(fx.faces.get(t)!.landmarks, fx.faces.get(r)!.landmarks, { intensity: 1, regions: "all" }));
    expect(Math.abs(got.mouthOpen - m(r).mouthOpen)).toBeLessThan(0.01);
  });

  // The identity-free transfer ratio (issue 14): on a neutral template, (out − template) / (reaction −
  // reaction's own neutral), franck_01829 being the laughing franck_04117's neutral. Before the reaction's
  // neutral became a point estimate the brows scored 0.02–0.26 and the mouth width 0.73 here.
  it.each(["grace_hopper_512x512.jpg", "franck_01829.jpg"] as const)("%s wearing the laugh: its change from its own neutral arrives", (t) => {
    const got = measureExpression(retargetExpression(fx.faces.get(t)!.landmarks, fx.faces.get("franck_04117.jpg")!.landmarks, { intensity: 1, regions: "all" }));
    const tpl = m(t), r = m("franck_04117.jpg"), n = m("franck_01829.jpg");
    for (const k of ["cornerLift", "mouthWidth", "eyeOpenRight", "eyeOpenLeft", "browRight", "browLeft"] as const) {
      const ratio = (got[k] - tpl[k]) / (r[k] - n[k]);
      expect(ratio, k).toBeGreaterThan(0.75);
      expect(ratio, k).toBeLessThan(1.25);
    }
  });

  it("eyes shut on the reaction shut on the template, even a wide-eyed one", () => {
    // The laugh with its lids closed in the mesh (upper lid onto the lower): a reaction laughing, eyes shut.
    const shut = fx.faces.get("franck_04117.jpg")!.landmarks.slice();
    for (const [up, lo] of [[RIGHT_EYE_UPPER, RIGHT_EYE_LOWER], [LEFT_EYE_UPPER, LEFT_EYE_LOWER]] as const) {
      for (let j = 1; j < up.length - 1; j++) for (let k = 0; k < 3; k++) shut[3 * up[j]! + k] = shut[3 * lo[j]! + k]!;
    }
    expect(measureExpression(shut).eyeOpenRight).toBeLessThan(0.01);
    for (const t of ["astronaut.png", "grace_hopper_512x512.jpg"] as const) {
      const got = measureExpression(retargetExpression(fx.faces.get(t)!.landmarks, shut, { intensity: 1, regions: "all" }));
      expect(got.eyeOpenRight, t).toBeLessThan(0.02);
      expect(got.eyeOpenLeft, t).toBeLessThan(0.02);
    }
  });

  // Where a widening is lost (eval/FINDINGS.md, "Wide eyes"): not in the mesh. franck_01829 wearing its own upper
  // lids raised by 40 % of their opening: the retargeted mesh asks for the whole change (astronaut more: her rest
  // eyes are wider and the change is applied as a ratio) and the drawn lids go LID_GAIN× as far.
  it.each(["franck_01829.jpg", "astronaut.png", "grace_hopper_512x512.jpg"] as const)("%s wearing wide eyes: the mesh asks for the whole widening", (t) => {
    const n = fx.faces.get("franck_01829.jpg")!.landmarks;
    const wide = n.slice();
    for (const [up, lo] of [[RIGHT_EYE_UPPER, RIGHT_EYE_LOWER], [LEFT_EYE_UPPER, LEFT_EYE_LOWER]] as const) {
      for (let j = 1; j < up.length - 1; j++) wide[3 * up[j]! + 1]! -= 0.4 * (wide[3 * lo[j]! + 1]! - wide[3 * up[j]! + 1]!);
    }
    const face = fx.faces.get(t)!;
    const mesh = retargetExpression(face.landmarks, wide, { intensity: 1, regions: "all" });
    const tpl = m(t), r = measureExpression(wide), rest = m("franck_01829.jpg");
    const got = measureExpression(mesh), drawn = measureExpression(drawnEyelids(face.landmarks, mesh, Boolean(face.irises)));
    for (const k of ["eyeOpenRight", "eyeOpenLeft"] as const) {
      const ratio = (got[k] - tpl[k]) / (r[k] - rest[k]);
      expect(ratio, k).toBeGreaterThan(0.85);
      expect(ratio, k).toBeLessThan(1.3);
      const gain = (drawn[k] - tpl[k]) / (got[k] - tpl[k]);
      expect(gain, k).toBeGreaterThan(LID_GAIN - 0.1);
      expect(gain, k).toBeLessThan(LID_GAIN + 0.1);
    }
  });

  it("half intensity gives half the change of the mouth opening", () => {
    const t = fx.faces.get("franck_01829.jpg")!, r = fx.faces.get("franck_04117.jpg")!;
    const got = measureExpression(retargetExpression(t.landmarks, r.landmarks, { intensity: 0.5, regions: "all" })).mouthOpen;
    const half = (m("franck_01829.jpg").mouthOpen + m("franck_04117.jpg").mouthOpen) / 2;
    expect(Math.abs(got - half)).toBeLessThan(0.02);
  });
});

describe("re-analysed result", () => {
  // Measured (npm run eval): 0.080 wanted → 0.079 (grace ← smile with teeth; teeth tinted skin-coloured
  // re-measured 0.051), 0.000 → 0.000 (astronaut's open smile shut; squeezed teeth showed before: 0.043),
  // 0.010 → 0.001 (franck's laugh shut with a lip line drawn from his own lips; the reaction's lip line
  // warped in re-measured 0.034), 0.080 → 0.090 (franck's laugh narrowed to a smile; 0.064 while the
  // interior's feathered edge left the squeezed laugh showing inside the new gap).
  const rereadsOpening = async (t: Name, r: Name, tolerance: number) => {
    const res = transferExpression({ template: fx.images.get(t)!, templateFace: fx.faces.get(t)!, reaction: fx.images.get(r)!, reactionFace: fx.faces.get(r)! });
    const again = (await fx.analyzer.analyze(res.image)).faces;
    expect(again).toHaveLength(1);
    const want = m(r).mouthOpen;
    const got = measureExpression(again[0]!.landmarks).mouthOpen;
    expect(Math.abs(got - want) / Math.max(want, 0.1)).toBeLessThan(tolerance);
  };
  // grace's small parting re-reads over-open (0.093 for the mesh's 0.080, eval/FINDINGS.md, "The 'O' mouth and
  // small partings"), and the analyzer's read of her mouth moves with the rest of her face: with the brows'
  // shape transferred it read 0.096 from a mouth whose pixels did not change.
  it.each([
    ["grace_hopper_512x512.jpg", "franck_02221.jpg", 0.2],
    ["astronaut.png", "grace_hopper_512x512.jpg", 0.15],
    ["franck_01829.jpg", "franck_04117.jpg", 0.15],
    ["franck_04117.jpg", "franck_01829.jpg", 0.15],
    ["franck_04117.jpg", "franck_02221.jpg", 0.15],
  ] as const)("%s wearing %s re-measures the reaction's mouth opening within %s of it", rereadsOpening);
});

describe("a smile's squint", () => {
  // franck_01829 → franck_04117 as the analyzer reads it: the lower lids rise 1.5× (right) and 5× (left) as
  // far as the upper lids drop. Before the smiling share rose to 0.7 the drawn lids moved about equally.
  it.each(["grace_hopper_512x512.jpg", "astronaut.png"] as const)("%s wearing the laugh: the cheeks narrow the eyes from below", (t) => {
    const tpl = fx.faces.get(t)!.landmarks;
    const res = transferExpression({ template: fx.images.get(t)!, templateFace: fx.faces.get(t)!, reaction: fx.images.get("franck_04117.jpg")!, reactionFace: fx.faces.get("franck_04117.jpg")! });
    const a = toLocal(localFrame(tpl), tpl), b = toLocal(localFrame(res.landmarks), res.landmarks);
    const mid = (l: Float64Array, ring: readonly number[]) => (l[3 * ring[3]! + 1]! + l[3 * ring[4]! + 1]! + l[3 * ring[5]! + 1]!) / 3 - (l[3 * ring[0]! + 1]! + l[3 * ring[8]! + 1]!) / 2;
    for (const [up, lo] of [[RIGHT_EYE_UPPER, RIGHT_EYE_LOWER], [LEFT_EYE_UPPER, LEFT_EYE_LOWER]] as const) {
      const drop = mid(b, up) - mid(a, up), rise = mid(a, lo) - mid(b, lo);
      expect(rise).toBeGreaterThan(0);
      expect(rise).toBeGreaterThan(1.4 * drop);
    }
  });
});

describe("a laugh with its eyes shut", () => {
  // The laugh with its lids closed in the mesh. Before the cheek's share was capped (CHEEK_LID_MAX), the
  // template's eyes shut by the lower lids rising 80–90 % of the way (grace: upper 0.009, lower 0.064).
  it.each(["grace_hopper_512x512.jpg", "astronaut.png"] as const)("%s closes its eyes with the upper lids", (t) => {
    const shut = fx.faces.get("franck_04117.jpg")!.landmarks.slice();
    for (const [up, lo] of [[RIGHT_EYE_UPPER, RIGHT_EYE_LOWER], [LEFT_EYE_UPPER, LEFT_EYE_LOWER]] as const) {
      for (let j = 1; j < up.length - 1; j++) for (let k = 0; k < 3; k++) shut[3 * up[j]! + k] = shut[3 * lo[j]! + k]!;
    }
    const tpl = fx.faces.get(t)!.landmarks;
    const res = transferExpression({ template: fx.images.get(t)!, templateFace: fx.faces.get(t)!, reaction: fx.images.get("franck_04117.jpg")!, reactionFace: { ...fx.faces.get("franck_04117.jpg")!, landmarks: shut } });
    const a = toLocal(localFrame(tpl), tpl), b = toLocal(localFrame(res.landmarks), res.landmarks);
    const mid = (l: Float64Array, ring: readonly number[]) => (l[3 * ring[3]! + 1]! + l[3 * ring[4]! + 1]! + l[3 * ring[5]! + 1]!) / 3 - (l[3 * ring[0]! + 1]! + l[3 * ring[8]! + 1]!) / 2;
    for (const [up, lo] of [[RIGHT_EYE_UPPER, RIGHT_EYE_LOWER], [LEFT_EYE_UPPER, LEFT_EYE_LOWER]] as const) {
      const drop = mid(b, up) - mid(a, up), rise = mid(a, lo) - mid(b, lo), was = mid(a, lo) - mid(a, up);
      expect(drop + rise).toBeGreaterThan(0.8 * was); // shut
      expect(drop).toBeGreaterThan(2 * rise);
    }
  });
});

describe("a reaction with its eyes shut (or wide), re-analysed", () => {
  // franck's laugh with its lids closed in the mesh, on templates with glasses (grace_hopper), small eyes
  // (astronaut) and a face about 100 px across. The lid must cover the iris: where the template's iris was,
  // the result shows lid skin, not iris (mean luminance, 0 = the template's iris, 1 = its skin below the eye).
  // Before the lid was drawn as unrolled skin (coveringLid) and the slit as lid: 0.26–0.35 per template
  // (now 0.47–0.74), the analyzer reading 41 % of the rest aperture on average (now 33 %). Why the analyzer's
  // reading of a shut eye does not go to 0: eval/FINDINGS.md, "Shut eyes".
  const shutLaugh = () => {
    const shut = fx.faces.get("franck_04117.jpg")!.landmarks.slice();
    for (const [up, lo] of [[RIGHT_EYE_UPPER, RIGHT_EYE_LOWER], [LEFT_EYE_UPPER, LEFT_EYE_LOWER]] as const) {
      for (let j = 1; j < up.length - 1; j++) for (let k = 0; k < 3; k++) shut[3 * up[j]! + k] = shut[3 * lo[j]! + k]!;
    }
    return { ...fx.faces.get("franck_04117.jpg")!, landmarks: shut };
  };
  const luminance = (im: RgbImage, cx: number, cy: number, r: number) => {
    let s = 0, n = 0;
    for (let y = Math.floor(cy - r); y <= cy + r; y++) {
      for (let x = Math.floor(cx - r); x <= cx + r; x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) continue;
        const p = (y * im.width + x) * 3;
        s += 0.299 * im.data[p]! + 0.587 * im.data[p + 1]! + 0.114 * im.data[p + 2]!;
        n++;
      }
    }
    return s / n;
  };
  const templates = async () => {
    const out: [string, RgbImage, AnalyzedFace][] = [];
    for (const n of ["grace_hopper_512x512.jpg", "franck_01829.jpg", "astronaut.png"] as const) out.push([n, fx.images.get(n)!, fx.faces.get(n)!]);
    for (const n of ["franck_01829.jpg", "grace_hopper_512x512.jpg"] as const) {
      const big = fx.images.get(n)!;
      const k = 100 / fx.faces.get(n)!.quality.faceSizePx;
      const img = resizeImage(big, Math.round(big.width * k), Math.round(big.height * k));
      out.push([`${n} at 100 px`, img, (await fx.analyzer.analyze(img)).faces[0]!]);
    }
    return out;
  };

  it("the lids cover the irises, and the analyzer reads the eyes closed further than before", async () => {
    const reaction = shutLaugh();
    const reads: number[] = [];
    for (const [name, img, face] of await templates()) {
      const res = transferExpression({ template: img, templateFace: face, reaction: fx.images.get("franck_04117.jpg")!, reactionFace: reaction });
      const irises = face.irises!;
      let covered = 0;
      for (let k = 0; k < 2; k++) {
        const [cx, cy, r] = [irises[3 * k]!, irises[3 * k + 1]!, irises[3 * k + 2]!];
        const iris = luminance(img, cx, cy, r / 2), skin = luminance(img, cx, cy + 3 * r, r / 2);
        covered += (luminance(res.image, cx, cy, r / 2) - iris) / (skin - iris) / 2;
      }
        expect(covered, name).toBeGreaterThan(0.42);
      const rest = measureExpression(face.landmarks), got = measureExpression((await fx.analyzer.analyze(res.image)).faces[0]!.landmarks);
      reads.push(got.eyeOpenRight / rest.eyeOpenRight, got.eyeOpenLeft / rest.eyeOpenLeft);
    }
    const mean = reads.reduce((a, b) => a + b, 0) / reads.length;
    expect(mean).toBeLessThan(0.36);
  });

  it("wide eyes still open: franck_01829 wearing its own lids raised by 40 % of their opening", async () => {
    // A guard for the shut-eye drawing, which must leave a widening lid alone. The analyzer re-reads about half
    // of a drawn widening (eval/FINDINGS.md, "Shut eyes"): 0.79 / 0.68 of the mesh's change here.
    const face = fx.faces.get("franck_01829.jpg")!;
    const wide = face.landmarks.slice();
    for (const [up, lo] of [[RIGHT_EYE_UPPER, RIGHT_EYE_LOWER], [LEFT_EYE_UPPER, LEFT_EYE_LOWER]] as const) {
      for (let j = 1; j < up.length - 1; j++) wide[3 * up[j]! + 1]! -= 0.4 * (wide[3 * lo[j]! + 1]! - wide[3 * up[j]! + 1]!);
    }
    const img = fx.images.get("franck_01829.jpg")!;
    const res = transferExpression({ template: img, templateFace: face, reaction: img, reactionFace: { ...face, landmarks: wide } });
    const rest = measureExpression(face.landmarks), want = measureExpression(wide);
    const got = measureExpression((await fx.analyzer.analyze(res.image)).faces[0]!.landmarks);
    for (const k of ["eyeOpenRight", "eyeOpenLeft"] as const) expect((got[k] - rest[k]) / (want[k] - rest[k]), k).toBeGreaterThan(0.5);
  });
});

describe("re-analysed transfer ratio", () => {
  // The picture painted through the real transfer, read again by the analyzer (issue 14's metric). Before the
  // reaction's neutral became a point estimate: brows 0.52 / 0.50 (franck_01829), mouth width 0.71 (grace).
  const ratioOf = async (t: Name) => {
    const res = transferExpression({ template: fx.images.get(t)!, templateFace: fx.faces.get(t)!, reaction: fx.images.get("franck_04117.jpg")!, reactionFace: fx.faces.get("franck_04117.jpg")! });
    const got = measureExpression((await fx.analyzer.analyze(res.image)).faces[0]!.landmarks);
    const tpl = m(t), r = m("franck_04117.jpg"), n = m("franck_01829.jpg");
    return (k: "mouthWidth" | "browRight" | "browLeft") => (got[k] - tpl[k]) / (r[k] - n[k]);
  };
  it("the laugh's lowered brows arrive on its own neutral face", async () => {
    const ratio = await ratioOf("franck_01829.jpg");
    expect(ratio("browRight")).toBeGreaterThan(0.75);
    expect(ratio("browLeft")).toBeGreaterThan(0.75);
  });
  it("the laugh's wide mouth arrives on another person's neutral face", async () => {
    expect((await ratioOf("grace_hopper_512x512.jpg"))("mouthWidth")).toBeGreaterThan(0.75);
  });
});

describe("mouth width", () => {
  // The reaction's width is compared with its rest point (REACTION_REST, the reaction's own inter-ocular
  // units). Read on the template's frame instead (scaled by the stable-point fit, i.e. by the two faces'
  // proportions), franck's smile measured 0.633 wide on grace for its own 0.668: the widening arrived at
  // 0.63–0.87 here, a neutral grace widened franck's mouth by 0.027, and grace's own mouth pulled in narrowed
  // franck's by half of that change (0.52).
  const wide = (lm: Float32Array) => measureExpression(lm).mouthWidth;
  const wear = (t: Name, reaction: Float32Array) => wide(retargetExpression(fx.faces.get(t)!.landmarks, reaction, { intensity: 1, regions: "all" }));

  it.each([
    ["grace_hopper_512x512.jpg", "franck_02221.jpg"],
    ["grace_hopper_512x512.jpg", "franck_04117.jpg"],
    ["franck_01829.jpg", "franck_02221.jpg"],
    ["franck_01829.jpg", "franck_04117.jpg"],
  ] as const)("%s wearing %s: the mouth widens by the reaction's change from its own neutral", (t, r) => {
    const ratio = (wear(t, fx.faces.get(r)!.landmarks) - m(t).mouthWidth) / (m(r).mouthWidth - m("franck_01829.jpg").mouthWidth);
    expect(ratio).toBeGreaterThan(0.85);
    expect(ratio).toBeLessThan(1.15);
  });

  it.each([
    ["franck_01829.jpg", "grace_hopper_512x512.jpg"],
    ["grace_hopper_512x512.jpg", "franck_01829.jpg"],
  ] as const)("%s wearing the neutral %s keeps nearly its own mouth width", (t, r) => {
    expect(Math.abs(wear(t, fx.faces.get(r)!.landmarks) - m(t).mouthWidth)).toBeLessThan(0.02);
  });

  it.each([
    ["franck_01829.jpg", "grace_hopper_512x512.jpg"],
    ["grace_hopper_512x512.jpg", "franck_01829.jpg"],
  ] as const)("%s wearing %s's mouth pulled in narrows by that change", (t, r) => {
    const own = fx.faces.get(r)!.landmarks, narrowed = withLipWidth(own, 0.9);
    const change = wide(narrowed) - wide(own);
    expect(change).toBeLessThan(-0.05);
    const ratio = (wear(t, narrowed) - m(t).mouthWidth) / change;
    expect(ratio).toBeGreaterThan(0.65);
    expect(ratio).toBeLessThan(1.35);
  });
});

describe("re-analysed mouth width", () => {
  // Painted through the real transfer and read again by the analyzer. Before the reaction's width was read in
  // its own units: the smile with teeth 0.70 (grace) and 0.59 (franck); grace's mouth pulled in narrowed
  // franck's by 0.38 of the change.
  const reread = async (t: Name, r: Name, landmarks = fx.faces.get(r)!.landmarks) => {
    const res = transferExpression({ template: fx.images.get(t)!, templateFace: fx.faces.get(t)!, reaction: fx.images.get(r)!, reactionFace: { ...fx.faces.get(r)!, landmarks } });
    return measureExpression((await fx.analyzer.analyze(res.image)).faces[0]!.landmarks).mouthWidth - m(t).mouthWidth;
  };
  it.each([
    ["grace_hopper_512x512.jpg", "franck_02221.jpg", 0.85],
    ["franck_01829.jpg", "franck_02221.jpg", 0.66],
  ] as const)("%s wearing %s widens by at least %f of the reaction's change", async (t, r, least) => {
    expect((await reread(t, r)) / (m(r).mouthWidth - m("franck_01829.jpg").mouthWidth)).toBeGreaterThan(least);
  });
  it("franck_01829.jpg wearing grace_hopper_512x512.jpg's mouth pulled in narrows by half of that change or more", async () => {
    const own = fx.faces.get("grace_hopper_512x512.jpg")!.landmarks, narrowed = withLipWidth(own, 0.9);
    const change = measureExpression(narrowed).mouthWidth - measureExpression(own).mouthWidth;
    expect((await reread("franck_01829.jpg", "grace_hopper_512x512.jpg", narrowed)) / change).toBeGreaterThan(0.5);
  });
});
