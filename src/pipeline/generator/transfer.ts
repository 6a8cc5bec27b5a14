/**
 * The generator path of expression transfer (mimic mode), beside the mesh engine and with its inputs and
 * options: the saved face is aligned and its appearance features taken once; each reaction frame's motion
 * gives the expression, blended by `intensity` on the `regions` chosen; eye and lip retargeting move the
 * openings towards the reaction's; the stitcher keeps the crop's edge in place; the generator renders the
 * face, which is colour-matched and pasted back through a feathered mask.
 */
import { measureExpression, restEyesOwn, type Regions } from "../transfer/index.ts";
import type { AnalyzedFace, Box, RgbImage, StageTimings } from "../types.ts";
import { cropFace, pasteBack } from "./crop.ts";
import type { LivePortraitEngine } from "./engine.ts";
import { addScaled, blendExpression, eyeRetargetInput, lipRetargetInput, openingRatios, posedKeypoints, relativeExpression, wantedOpenings } from "./keypoints.ts";

export interface GeneratorTransferInput {
  template: RgbImage;
  templateFace: AnalyzedFace;
  /** Content key of the saved face (its stored crop's hash): the appearance features' cache key. */
  templateKey: string;
  /**
   * One reaction (a meme) or an animation's frames; each with its face, and its own intensity where it differs
   * (a morph's steps). Items sharing one face object share its crop and motion.
   */
  reactions: GeneratorReaction[];
  intensity?: number;
  regions?: Regions;
}

export interface GeneratorReaction {
  image: RgbImage;
  face: AnalyzedFace;
  intensity?: number;
  /**
   * The shot's rest frame, where an animation shows its person at rest (src/pipeline/animate, restFrames): the
   * frame's expression is then its change from that frame, added to the template's own (relative motion).
   */
  rest?: { image: RgbImage; face: AnalyzedFace };
}

export interface GeneratorTransferResult {
  /** Template-sized, one per reaction. */
  images: RgbImage[];
  /** The template's face mesh (the head does not move, so captions keep off it as before). */
  landmarks: Float32Array;
  changedBox: Box | null;
  timingsMs: StageTimings;
}

function clock(timings: StageTimings) {
  return async <T>(stage: string, fn: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      timings[stage] = (timings[stage] ?? 0) + (performance.now() - t0);
    }
  };
}

export async function generatorTransfer(engine: LivePortraitEngine, input: GeneratorTransferInput): Promise<GeneratorTransferResult> {
  const timingsMs: StageTimings = {};
  const time = clock(timingsMs);
  const intensity = input.intensity ?? 1;
  const regions = input.regions ?? "all";
  const own = await time("gen.crop", () => cropFace(input.template, input.templateFace.landmarks));
  const imageOf = new Map<AnalyzedFace, RgbImage>();
  for (const r of input.reactions) for (const x of r.rest ? [r, r.rest] : [r]) if (!imageOf.has(x.face)) imageOf.set(x.face, x.image);
  const faces = [...imageOf.keys()];
  const faceIndex = new Map(faces.map((f, i) => [f, i]));
  const reactionCrops = await time("gen.crop", () => faces.map((f) => cropFace(imageOf.get(f)!, f.landmarks)));
  const features = await time("gen.features", () => engine.features(own.tensor, input.templateKey));
  const [mine, ...theirs] = await time("gen.motion", () => engine.motion([own.tensor, ...reactionCrops.map((c) => c.tensor)]));
  const amount = input.reactions.map((r) => r.intensity ?? intensity);

  const { current, driving } = await time("gen.keypoints", () => {
    const current = posedKeypoints(mine!);
    const driving = input.reactions.map((r, i) => {
      const m = theirs[faceIndex.get(r.face)!]!;
      const rest = r.rest && theirs[faceIndex.get(r.rest.face)!]!;
      const expression = rest
        ? relativeExpression(mine!.expression, m.expression, rest.expression, amount[i]!, regions)
        : blendExpression(mine!.expression, m.expression, amount[i]!, regions);
      return posedKeypoints(mine!, expression);
    });
    return { current, driving };
  });

  // Retargeting, as LivePortrait conditions it: the face's own keypoints and opening ratios, and the opening wanted.
  const ownRatios = openingRatios(input.templateFace.landmarks);
  const wanted = input.reactions.map((r) => {
    const restEyes = r.rest && measureExpression(r.rest.face.landmarks);
    const eyesAtRest = restEyes && restEyesOwn(restEyes.eyeOpenRight, restEyes.eyeOpenLeft);
    return wantedOpenings(ownRatios, openingRatios(r.face.landmarks), eyesAtRest ? openingRatios(r.rest!.face.landmarks) : undefined);
  });
  let moved = driving;
  await time("gen.retarget", async () => {
    if (regions !== "lower") {
      const deltas = await engine.retargetEyes(wanted.map((w) => eyeRetargetInput(current, ownRatios, w.eye)));
      moved = moved.map((kp, i) => addScaled(kp, deltas[i]!, amount[i]!));
    }
    if (regions !== "upper") {
      const deltas = await engine.retargetLips(wanted.map((w) => lipRetargetInput(current, ownRatios, w.lip)));
      moved = moved.map((kp, i) => addScaled(kp, deltas[i]!, amount[i]!));
    }
  });
  const stitched = await time("gen.stitch", () => engine.stitch(moved, moved.map(() => current)));
  const rendered = await time("gen.generate", () => engine.generate(features, stitched, stitched.map(() => current)));
  const pasted = await time("gen.paste", () => rendered.map((f) => pasteBack(input.template, f, own)));
  return {
    images: pasted.map((p) => p.image),
    landmarks: input.templateFace.landmarks,
    changedBox: pasted[0]?.changedBox ?? null,
    timingsMs,
  };
}
