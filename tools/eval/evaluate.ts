/**
 * One evaluation of the engine on a set of photos (tools/eval/set.ts): each judge's noise floors measured on the
 * set's own photos, the engine on every template × reaction pair in both modes, the transfer ratio where the
 * template is neutral and the reaction's person has a neutral photo, both baselines, the plain-warp reference,
 * and the figures that need no neutral (re-found face, identity, pixels outside the face, mouth opening); and the
 * mimic pairs again as a two-frame animation that shows the reaction's person at rest first.
 * `npm run eval` runs it on the dev set and, with `--heldout <dir>`, on a held-out set (tools/eval/heldout.ts).
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { cosineSimilarity, type FaceAnalyzer } from "../../src/pipeline/face/index.ts";
import { animateReaction } from "../../src/pipeline/animate/index.ts";
import { decodeImage } from "../../src/pipeline/image/index.ts";
import { MimicError } from "../../src/errors.ts";
import { transferExpression, type TransferMode } from "../../src/pipeline/transfer/index.ts";
import type { AnalyzedFace, RgbImage } from "../../src/pipeline/types.ts";
import { faceMeshPoints, faceMeshTriangles, warpTriangles } from "../../src/pipeline/warp/index.ts";
import { RING_SCALE } from "../../src/pipeline/transfer/transfer.ts";
import { insidePolygon, localFrame } from "../../src/pipeline/transfer/geometry.ts";
import { descriptorDistance, type Judge, type JudgedFace } from "./judges.ts";
import { UNREAD, type PairLikeness } from "./identity.ts";
import { LIPS_468, lipFloors, readLips, summarizeLips, type LipPair, type LipRow, type Lips } from "./lips.ts";
import { difference, FLOOR_MULTIPLE, NOISE_VARIANTS, noiseFloors, noiseVariant, unmirror } from "./noise.ts";
import { applyLandmarkChange, percentile, summarizeRatios, transferRatios, type Measures } from "./ratio.ts";
import { neutralOf, templateVariant, type SetImage, type TemplateVariant } from "./set.ts";
import { evalVerdict, IDENTITY_FLOOR, type StatsRow, type Verdict } from "./verdict.ts";

export const MODES: TransferMode[] = ["mimic", "swap"];

export interface Picture {
  name: string;
  image: RgbImage;
  /** The engine's reading (analyzer) of the face, its input. */
  face?: AnalyzedFace;
  /** Per judge, its reading. */
  read: Map<Judge["name"], JudgedFace | undefined>;
  /** faceres identity embedding of the engine's face. */
  embedding?: Float32Array;
}

export type SetPicture = Picture & { source: SetImage };

export interface Template extends SetPicture {
  variant: TemplateVariant;
}

export interface PairResult {
  mode: TransferMode;
  template: Template;
  reaction: SetPicture;
  image?: RgbImage;
  /** Whether the pair has a transfer ratio: a neutral template and a reaction whose person has a neutral photo. */
  scorable: boolean;
  /** Per judge: ratios of the measures that counted, and the result's measures. */
  ratios: Map<Judge["name"], Partial<Measures>>;
  out: Map<Judge["name"], Measures | undefined>;
  /** Per judge, the result's lips; and the result's lips read at the engine's own landmarks (no judge's placement). */
  outLips: Map<Judge["name"], Lips | undefined>;
  meshLips?: Lips;
  /** Who the result shows (tools/eval/identity.ts); faceres.toTemplate is the verdict's identity cosine. */
  likeness: PairLikeness;
  outside: number;
  /** The engine's refusal (a typed error), when it would not transfer this pair. */
  refused?: string;
}

export interface Evaluation {
  judges: Judge[];
  floors: Map<Judge["name"], Measures>;
  deltas: Map<Judge["name"], Measures[]>;
  photos: SetPicture[];
  templates: Template[];
  /** Every reaction of the set; the scorable ones have a neutral photo of their person. */
  reactions: SetPicture[];
  results: PairResult[];
  ratioRows: StatsRow[];
  baselineRows: { unchanged: StatsRow[]; applied: StatsRow[] };
  warpRows: StatsRow[];
  /** mimic, the reaction sent as an animation after its person's neutral photo (not in the verdict). */
  animatedRows: StatsRow[];
  /** The engine's own expression mesh, measured as the analyzer measures a face, still and animated (not in the verdict). */
  meshRows: StatsRow[];
  identity: { mode: keyof typeof IDENTITY_FLOOR; median: number }[];
  /** Whose lips the results show: per mode and judge, at the engine's own lip points, and the reaction's picture unchanged as the baseline (tools/eval/lips.ts). */
  lipRows: { engine: LipRow[]; mesh: LipRow[]; animated: LipRow[]; baseline: LipRow[] };
  /** Identity baseline: each template × reaction with the reaction's picture itself as the result. */
  reactionUnchanged: { template: Template; reaction: SetPicture; likeness: PairLikeness }[];
  /** mimic's identity on the pairs also sent as an animation (animatedRows): the still results and the animated ones. */
  animatedIdentity: { still: PairLikeness[]; animated: PairLikeness[] };
  unscored: string[];
  verdict: Verdict;
  refined: boolean;
}

export interface EvaluateOptions {
  analyzer: FaceAnalyzer;
  judges: Judge[];
  variants: readonly TemplateVariant[];
  log?: (line: string) => void;
}

export async function evaluate(set: readonly SetImage[], o: EvaluateOptions): Promise<Evaluation> {
  const { analyzer, judges } = o;
  const log = o.log ?? (() => {});
  const readAll = async (name: string, image: RgbImage): Promise<Picture> => {
    const read = new Map<Judge["name"], JudgedFace | undefined>();
    for (const j of judges) read.set(j.name, await j.read(image));
    const face = (await analyzer.analyze(image)).faces[0];
    return { name, image, face, read, embedding: face && (await analyzer.embed(image, face)) };
  };
  const likenessOf = (embedding: Float32Array | undefined, descriptor: Float32Array | undefined, t: Picture, r: Picture): PairLikeness => {
    const cos = (other: Float32Array | undefined) => (embedding && other ? cosineSimilarity(embedding, other) : NaN);
    const dist = (other: Float32Array | undefined) => (descriptor && other ? descriptorDistance(descriptor, other) : NaN);
    return {
      faceres: { toTemplate: cos(t.embedding), toReaction: cos(r.embedding) },
      faceApi: { toTemplate: dist(descriptorOf(t.read)), toReaction: dist(descriptorOf(r.read)) },
    };
  };
  /** A result's likeness: faceres on the engine's own reading of it, face-api's descriptor from the judges' reads. */
  const likenessOfPicture = async (picture: RgbImage, reads: Map<Judge["name"], JudgedFace | undefined>, t: Picture, r: Picture): Promise<PairLikeness> => {
    const face = (await analyzer.analyze(picture)).faces[0];
    return likenessOf(face && (await analyzer.embed(picture, face)), descriptorOf(reads), t, r);
  };

  // Photos of the set, and each judge's noise floors measured on them.
  const photos = new Map<string, SetPicture>();
  for (const s of set) photos.set(s.file, { ...(await readAll(basename(s.file), await decodeImage(readFileSync(s.file)))), source: s });
  const deltas = new Map<Judge["name"], Measures[]>(judges.map((j) => [j.name, []]));
  const lipNoise = new Map<Judge["name"], { original: Lips; again: Lips }[]>(judges.map((j) => [j.name, []]));
  for (const p of photos.values()) {
    for (const v of NOISE_VARIANTS) {
      const img = await noiseVariant(p.image, v);
      for (const j of judges) {
        const base = p.read.get(j.name), again = await j.read(img);
        if (!base || !again) continue;
        deltas.get(j.name)!.push(difference(v === "mirror" ? unmirror(again.measures) : again.measures, base.measures));
        lipNoise.get(j.name)!.push({ original: base.lips, again: again.lips });
      }
    }
  }
  const floors = new Map(judges.map((j) => [j.name, noiseFloors(deltas.get(j.name)!)]));
  const lipFloorsOf = new Map(judges.map((j) => [j.name, lipFloors(lipNoise.get(j.name)!, FLOOR_MULTIPLE)]));
  log(`noise floors: ${JSON.stringify(Object.fromEntries([...floors].map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([m, x]) => [m, +x.toFixed(3)]))])))}`);

  // Templates (every neutral or posed photo, with its synthetic variants) and reactions.
  const unscored: string[] = [];
  const templates: Template[] = [];
  for (const p of photos.values()) {
    if (p.source.role !== "neutral" && p.source.role !== "posed") continue;
    if (!p.face) {
      unscored.push(`no face found by the engine's analyzer in template ${p.name}`);
      continue;
    }
    for (const variant of o.variants) {
      const image = await templateVariant(p.image, p.face.quality.faceSizePx, variant);
      const t: Template = { ...(await readAll(`${p.name} (${variant})`, image)), source: p.source, variant };
      if (!t.face) unscored.push(`no face found by the engine's analyzer in template ${t.name}`);
      for (const j of judges) if (!t.read.get(j.name)) unscored.push(`no face found by ${j.name} in template ${t.name}`);
      templates.push(t);
    }
  }
  const reactions = [...photos.values()].filter((p) => p.source.role === "reaction");
  for (const r of reactions) if (!r.face) unscored.push(`no face found by the engine's analyzer in reaction ${r.name}`);
  const neutralPhoto = (r: SetPicture) => {
    const n = neutralOf(r.source, set);
    return n ? photos.get(n.file) : undefined;
  };
  const scorable = (t: Template, r: SetPicture) => t.source.role === "neutral" && neutralPhoto(r) !== undefined;
  const neutralRead = (r: SetPicture, j: Judge) => neutralPhoto(r)?.read.get(j.name);

  // What the engine's mesh asks for, before drawing and re-reading: the analyzer's measures of the transferred
  // expression mesh against the analyzer's readings of the photos (floors: the analyzer's).
  const meshJudge = judges.find((j) => j.name === "analyzer");
  const stillMesh: Partial<Measures>[] = [], animatedMesh: Partial<Measures>[] = [];
  const meshRatio = (into: Partial<Measures>[], t: Template, r: SetPicture, mesh: Float32Array) => {
    const tm = meshJudge && t.read.get(meshJudge.name), rm = meshJudge && r.read.get(meshJudge.name), nm = meshJudge && neutralRead(r, meshJudge);
    if (meshJudge && tm && rm && nm) into.push(transferRatios({ template: tm.measures, out: meshJudge.measure(mesh), reaction: rm.measures, neutral: nm.measures }, floors.get(meshJudge.name)!));
  };

  // The engine on every pair, both modes; each result read by both judges.
  const results: PairResult[] = [];
  for (const mode of MODES) {
    for (const t of templates) {
      for (const r of reactions) {
        const row: PairResult = { mode, template: t, reaction: r, scorable: scorable(t, r), ratios: new Map(), out: new Map(), outLips: new Map(), likeness: UNREAD, outside: 0 };
        results.push(row);
        if (!t.face || !r.face) continue;
        let res: ReturnType<typeof transferExpression>;
        try {
          res = transferExpression({ template: t.image, templateFace: t.face, reaction: r.image, reactionFace: r.face, mode });
        } catch (e) {
          if (!(e instanceof MimicError)) throw e;
          unscored.push(`the engine refused ${mode} ${t.name} ← ${r.name}: ${e.userMessage}`);
          row.refused = e.userMessage;
          continue;
        }
        row.image = res.image;
        row.meshLips = readLips(res.image, res.landmarks, LIPS_468, localFrame(res.landmarks));
        if (mode === "mimic") row.outside = changedOutsideRing(t.image, res.image, t.face.landmarks);
        if (mode === "mimic" && row.scorable) meshRatio(stillMesh, t, r, res.expression);
        const outReads = new Map<Judge["name"], JudgedFace | undefined>();
        for (const j of judges) {
          const out = await j.read(res.image);
          outReads.set(j.name, out);
          row.out.set(j.name, out?.measures);
          row.outLips.set(j.name, out?.lips);
          if (!out) unscored.push(`no face found by ${j.name} in the ${mode} result ${t.name} ← ${r.name}`);
          const tm = t.read.get(j.name), rm = r.read.get(j.name), nm = neutralRead(r, j);
          if (!row.scorable || !out || !tm || !rm || !nm) continue;
          row.ratios.set(j.name, transferRatios({ template: tm.measures, out: out.measures, reaction: rm.measures, neutral: nm.measures }, floors.get(j.name)!));
        }
        row.likeness = await likenessOfPicture(res.image, outReads, t, r);
        const shown = row.scorable ? judges.map((j) => `${j.name} ${fmtPartial(row.ratios.get(j.name))}`).join("; ") : `not scorable (cosine ${row.likeness.faceres.toTemplate.toFixed(3)})`;
        log(`${mode} ${t.name} <- ${r.name}: ${shown}`);
      }
    }
  }

  // Baselines, per judge (mode-free): the template itself as the result; the reaction's landmark change
  // applied to the template's mesh.
  const baselineRows = { unchanged: [] as StatsRow[], applied: [] as StatsRow[] };
  for (const j of judges) {
    const unchanged: Partial<Measures>[] = [], applied: Partial<Measures>[] = [];
    for (const t of templates) {
      for (const r of reactions) {
        const tm = t.read.get(j.name), rm = r.read.get(j.name), nm = neutralRead(r, j);
        if (!scorable(t, r) || !tm || !rm || !nm) continue;
        unchanged.push(transferRatios({ template: tm.measures, out: tm.measures, reaction: rm.measures, neutral: nm.measures }, floors.get(j.name)!));
        const moved = j.measure(applyLandmarkChange(tm.mesh, rm.mesh, nm.mesh, j.frame));
        applied.push(transferRatios({ template: tm.measures, out: moved, reaction: rm.measures, neutral: nm.measures }, floors.get(j.name)!));
      }
    }
    baselineRows.unchanged.push({ label: `template unchanged · ${j.name}`, stats: summarizeRatios(unchanged) });
    baselineRows.applied.push({ label: `landmark change applied · ${j.name}`, stats: summarizeRatios(applied) });
  }

  // The scorable pairs whose template, reaction and neutral photo the engine's analyzer read: the pictures made
  // for the reference and animated rows below need all three faces.
  const analysedScorable = templates.flatMap((t) =>
    reactions.flatMap((r) => {
      const n = neutralPhoto(r);
      return scorable(t, r) && t.face && r.face && n?.face ? [{ t, r, n, tf: t.face, rf: r.face, nf: n.face }] : [];
    }),
  );

  // Each judge reads a picture made for a scorable pair; its ratios are kept per judge (the reference rows below).
  const perJudgeRatios = () => new Map<Judge["name"], Partial<Measures>[]>(judges.map((j) => [j.name, []]));
  const judgePicture = async (perJudge: Map<Judge["name"], Partial<Measures>[]>, t: Template, r: SetPicture, picture: RgbImage) => {
    const reads = new Map<Judge["name"], JudgedFace | undefined>();
    for (const j of judges) {
      const read = await j.read(picture), tm = t.read.get(j.name), rm = r.read.get(j.name), nm = neutralRead(r, j);
      reads.set(j.name, read);
      if (read && tm && rm && nm) perJudge.get(j.name)!.push(transferRatios({ template: tm.measures, out: read.measures, reaction: rm.measures, neutral: nm.measures }, floors.get(j.name)!));
    }
    return reads;
  };

  // Not a baseline the verdict checks: the template's pixels moved by a plain piecewise-affine warp onto the
  // applied-change mesh (no mouth interior, no lid drawing), read again by each judge. It shows how each judge
  // reads a purely geometric change of the picture, against which the engine's rendering can be compared.
  const warpRows: StatsRow[] = [];
  {
    const perJudge = perJudgeRatios();
    for (const { t, r, tf, rf, nf } of analysedScorable) {
      const moved = applyLandmarkChange(tf.landmarks, rf.landmarks, nf.landmarks);
      const mesh = faceMeshTriangles({ landmarks: [tf.landmarks, moved], width: t.image.width, height: t.image.height });
      const out: RgbImage = { ...t.image, data: t.image.data.slice() };
      warpTriangles(t.image, mesh.points[0]!, mesh.points[1]!, mesh.triangles, out);
      await judgePicture(perJudge, t, r, out);
    }
    for (const j of judges) warpRows.push({ label: `plain warp to the applied mesh · ${j.name}`, stats: summarizeRatios(perJudge.get(j.name)!) });
  }

  // Not in the verdict either: each scorable mimic pair sent as a two-frame animation, the reaction's person at
  // rest (their neutral photo) and then the reaction, scored on the second frame. An animation that shows its
  // person at rest gives the engine that person's own rest mouth (src/pipeline/animate/reaction.ts, restFrames).
  const animatedRows: StatsRow[] = [];
  const animatedIdentity: Evaluation["animatedIdentity"] = { still: [], animated: [] };
  // Whose lips the same pairs show, still and animated, where template and reaction are two people: an animation
  // that shows its person at rest also brings that person's change of lip colour (lip-colour.ts).
  const animatedLips = new Map(judges.map((j) => [j.name, { still: [] as LipPair[], animated: [] as LipPair[] }]));
  {
    const perJudge = perJudgeRatios();
    for (const { t, r, n, tf, rf, nf } of analysedScorable) {
      if (n.image.width !== r.image.width || n.image.height !== r.image.height) {
        unscored.push(`no animation of ${n.name} then ${r.name}: the two photos differ in size`);
        continue;
      }
      let frame: RgbImage;
      try {
        const anim = animateReaction({ template: t.image, templateFace: tf, frames: [n.image, r.image], delaysMs: [100, 100], faces: [nf, rf] });
        frame = anim.frames[1]!;
        meshRatio(animatedMesh, t, r, anim.expressions[1]!);
      } catch (e) {
        if (!(e instanceof MimicError)) throw e;
        unscored.push(`the engine refused the animation ${t.name} ← ${n.name}, ${r.name}: ${e.userMessage}`);
        continue;
      }
      const reads = await judgePicture(perJudge, t, r, frame);
      // Identity on the same pairs, animated and still: the animation also brings the expression's creases.
      const still = results.find((x) => x.mode === "mimic" && x.template === t && x.reaction === r && x.image);
      if (still) {
        animatedIdentity.animated.push(await likenessOfPicture(frame, reads, t, r));
        animatedIdentity.still.push(still.likeness);
        for (const j of judges) {
          const template = t.read.get(j.name)?.lips, reaction = r.read.get(j.name)?.lips, neutral = neutralRead(r, j)?.lips;
          const stillOut = still.outLips.get(j.name), animatedOut = reads.get(j.name)?.lips;
          if (t.source.person === r.source.person || !template || !reaction || !neutral || !stillOut || !animatedOut) continue;
          animatedLips.get(j.name)!.still.push({ template, reaction, neutral, out: stillOut });
          animatedLips.get(j.name)!.animated.push({ template, reaction, neutral, out: animatedOut });
        }
      }
    }
    for (const j of judges) animatedRows.push({ label: `mimic · ${j.name}`, stats: summarizeRatios(perJudge.get(j.name)!) });
  }
  const meshRows: StatsRow[] = meshJudge
    ? [
        { label: "mimic", stats: summarizeRatios(stillMesh) },
        { label: "animated, person at rest first: mimic", stats: summarizeRatios(animatedMesh) },
      ]
    : [];

  const ratioRows: StatsRow[] = [];
  for (const mode of MODES) {
    for (const j of judges) {
      const rows = results.filter((r) => r.mode === mode && r.scorable).map((r) => r.ratios.get(j.name) ?? {});
      ratioRows.push({ label: `${mode} · ${j.name}`, stats: summarizeRatios(rows) });
    }
  }
  const identity = MODES.map((mode) => ({
    mode: mode as keyof typeof IDENTITY_FLOOR,
    median: percentile(results.filter((r) => r.mode === mode).map((r) => r.likeness.faceres.toTemplate).filter(Number.isFinite), 50),
  }));
  // Lips, on the scorable pairs of two different people (one person's lips cannot tell whose a result shows)
  // that the judge read: the engine's result, and the reaction's picture as the result.
  const lipPairs = (j: Judge, outOf: (row: PairResult) => Lips | undefined, mode: TransferMode) =>
    results.flatMap((row): LipPair[] => {
      if (row.mode !== mode || !row.scorable || row.template.source.person === row.reaction.source.person) return [];
      const template = row.template.read.get(j.name)?.lips, reaction = row.reaction.read.get(j.name)?.lips, neutral = neutralRead(row.reaction, j)?.lips, out = outOf(row);
      return template && reaction && neutral && out ? [{ template, reaction, neutral, out }] : [];
    });
  const lipRows: Evaluation["lipRows"] = {
    engine: MODES.flatMap((mode) => judges.map((j) => ({ label: `${mode} · ${j.name}`, summary: summarizeLips(lipPairs(j, (row) => row.outLips.get(j.name), mode), lipFloorsOf.get(j.name)!) }))),
    // Not in the verdict: the result's pixels read where the engine put the lips, the photos by the analyzer.
    mesh: meshJudge
      ? MODES.map((mode) => ({ label: `engine's lip points · ${mode}`, summary: summarizeLips(lipPairs(meshJudge, (row) => row.meshLips, mode), lipFloorsOf.get(meshJudge.name)!) }))
      : [],
    animated: judges.flatMap((j) => [
      { label: `mimic, pairs also sent animated: still · ${j.name}`, summary: summarizeLips(animatedLips.get(j.name)!.still, lipFloorsOf.get(j.name)!) },
      { label: `mimic, the same pairs: animated, person at rest first · ${j.name}`, summary: summarizeLips(animatedLips.get(j.name)!.animated, lipFloorsOf.get(j.name)!) },
    ]),
    baseline: judges.map((j) => ({
      label: `baseline: the reaction's picture unchanged · ${j.name}`,
      summary: summarizeLips(lipPairs(j, (row) => row.reaction.read.get(j.name)?.lips, MODES[0]!), lipFloorsOf.get(j.name)!),
    })),
  };
  const reactionUnchanged = templates.flatMap((t) => reactions.map((r) => ({ template: t, reaction: r, likeness: likenessOf(r.embedding, descriptorOf(r.read), t, r) })));
  const outsideChanged = results.filter((r) => r.mode === "mimic" && r.image).map((r) => ({ pair: `mimic ${r.template.name} ← ${r.reaction.name}`, pixels: r.outside }));
  const verdict = evalVerdict({ ratios: ratioRows, baselines: baselineRows, unscored, outsideChanged, identity, lips: lipRows.engine });
  return {
    judges,
    floors,
    deltas,
    photos: [...photos.values()],
    templates,
    reactions,
    results,
    ratioRows,
    baselineRows,
    warpRows,
    animatedRows,
    meshRows,
    identity,
    lipRows,
    reactionUnchanged,
    animatedIdentity,
    unscored,
    verdict,
    refined: analyzer.refined,
  };
}

/** The face descriptor among a picture's readings (face-api's), if that judge ran and found a face. */
function descriptorOf(reads: Map<Judge["name"], JudgedFace | undefined>): Float32Array | undefined {
  for (const r of reads.values()) if (r?.descriptor) return r.descriptor;
  return undefined;
}

/** Pixels that differ from the template outside the polygon of the warp's anchor ring. */
export function changedOutsideRing(a: RgbImage, b: RgbImage, landmarks: Float32Array): number {
  const pts = faceMeshPoints(landmarks, { width: a.width, height: a.height, ringScale: RING_SCALE });
  const ring = pts.subarray(468 * 2);
  let n = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const o = (y * a.width + x) * 3;
      if (a.data[o] === b.data[o] && a.data[o + 1] === b.data[o + 1] && a.data[o + 2] === b.data[o + 2]) continue;
      if (!insidePolygon(ring, x, y)) n++;
    }
  }
  return n;
}

function fmtPartial(m: Partial<Measures> | undefined): string {
  if (!m) return "unread";
  return Object.entries(m).map(([k, v]) => `${k} ${v!.toFixed(2)}`).join(" ") || "(nothing counted)";
}

/** Share of a mode's transferred results in which the judge found a face again. */
export function refoundRate(results: readonly PairResult[], mode: TransferMode, judge: Judge["name"]): { found: number; of: number } {
  const done = results.filter((r) => r.mode === mode && r.image);
  return { found: done.filter((r) => r.out.get(judge) !== undefined).length, of: done.length };
}

/** Median |out − reaction| of the absolute mouth opening (identity-free at rest), over the given results. */
export function mouthCloseness(results: readonly PairResult[], judge: Judge["name"]): number {
  return percentile(
    results.filter((r) => r.out.get(judge) && r.reaction.read.get(judge)).map((r) => Math.abs(r.out.get(judge)!.mouthOpen - r.reaction.read.get(judge)!.measures.mouthOpen)),
    50,
  );
}
