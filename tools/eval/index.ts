/**
 * `npm run eval`: how much of a reaction's expression arrives on a neutral template (issue 14).
 *
 * Main figure, per expression measure and per judge: the identity-free transfer ratio
 * (out − template) / (reaction − reaction's neutral) (tools/eval/ratio.ts), counted where the reaction's change
 * exceeds that measure's landmark noise floor (tools/eval/noise.ts, measured in this run on the set's photos
 * shifted, rescaled, mirrored and re-encoded); median and 10th percentile. Two judges read every picture: the
 * project's analyzer and face-api's 68-point net (tools/eval/judges.ts). Two baselines prove the metric.
 * Secondary: absolute mouth-opening closeness, identity (faceres cosine of the result to the template),
 * pixels changed outside the face (mimic). Every template also runs as synthetic variants (tools/eval/set.ts).
 * Writes eval/REPORT.md and contact sheets; exits non-zero when a target is missed (tools/eval/verdict.ts).
 *
 *   npm run eval [-- --out eval]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { cosineSimilarity, getFaceAnalyzer } from "../../src/pipeline/face/index.ts";
import { cropImage, decodeImage, encodePng, resizeImage } from "../../src/pipeline/image/index.ts";
import { MimicError } from "../../src/errors.ts";
import { transferExpression, type TransferMode } from "../../src/pipeline/transfer/index.ts";
import type { AnalyzedFace, RgbImage } from "../../src/pipeline/types.ts";
import { faceMeshPoints, faceMeshTriangles, warpTriangles } from "../../src/pipeline/warp/index.ts";
import { RING_SCALE } from "../../src/pipeline/transfer/transfer.ts";
import { insidePolygon } from "../../src/pipeline/transfer/geometry.ts";
import { analyzerJudge, faceApiJudge, type Judge, type JudgedFace } from "./judges.ts";
import { difference, FLOOR_MULTIPLE, NOISE_VARIANTS, noiseFloors, noiseVariant, unmirror } from "./noise.ts";
import {
  RATIO_MEASURES,
  RATIO_TARGET,
  applyLandmarkChange,
  percentile,
  summarizeRatios,
  transferRatios,
  type Measures,
  type RatioMeasure,
  type RatioStats,
} from "./ratio.ts";
import { SET, TEMPLATE_VARIANTS, neutralOf, templateVariant, type SetImage, type TemplateVariant } from "./set.ts";
import { evalVerdict, IDENTITY_FLOOR, type StatsRow } from "./verdict.ts";

const MODES: TransferMode[] = ["mimic", "swap"];
/** Judges that disagree by more than this on a median are a finding to explain (eval/FINDINGS.md). */
const DISAGREEMENT = 0.15;
const outDir = process.argv.includes("--out") ? process.argv[process.argv.indexOf("--out") + 1]! : "eval";

interface Picture {
  name: string;
  image: RgbImage;
  /** The engine's reading (analyzer) of the face, its input. */
  face?: AnalyzedFace;
  /** Per judge, its reading. */
  read: Map<Judge["name"], JudgedFace | undefined>;
}

interface Template extends Picture {
  source: SetImage;
  variant: TemplateVariant;
  embedding?: Float32Array;
}

interface PairResult {
  mode: TransferMode;
  template: Template;
  reaction: Picture & { source: SetImage };
  image?: RgbImage;
  /** Per judge: ratios of the measures that counted, and the result's measures. */
  ratios: Map<Judge["name"], Partial<Measures>>;
  out: Map<Judge["name"], Measures | undefined>;
  cosine: number;
  outside: number;
  /** The engine's refusal (a typed error), when it would not transfer this pair. */
  refused?: string;
}

async function main(): Promise<void> {
  const analyzer = await getFaceAnalyzer();
  const judges: Judge[] = [analyzerJudge(analyzer), await faceApiJudge()];
  const readAll = async (name: string, image: RgbImage): Promise<Picture> => {
    const read = new Map<Judge["name"], JudgedFace | undefined>();
    for (const j of judges) read.set(j.name, await j.read(image));
    return { name, image, face: (await analyzer.analyze(image)).faces[0], read };
  };

  // Photos of the set, and each judge's noise floors measured on them.
  const photos = new Map<string, Picture & { source: SetImage }>();
  for (const s of SET) photos.set(s.file, { ...(await readAll(basename(s.file), await decodeImage(readFileSync(s.file)))), source: s });
  const deltas = new Map<Judge["name"], Measures[]>(judges.map((j) => [j.name, []]));
  for (const p of photos.values()) {
    for (const v of NOISE_VARIANTS) {
      const img = await noiseVariant(p.image, v);
      for (const j of judges) {
        const base = p.read.get(j.name), again = await j.read(img);
        if (!base || !again) continue;
        deltas.get(j.name)!.push(difference(v === "mirror" ? unmirror(again.measures) : again.measures, base.measures));
      }
    }
  }
  const floors = new Map(judges.map((j) => [j.name, noiseFloors(deltas.get(j.name)!)]));
  console.log("noise floors:", Object.fromEntries([...floors].map(([k, v]) => [k, fmtMeasures(v)])));

  // Templates (every neutral photo, with its synthetic variants) and scorable reactions.
  const unscored: string[] = [];
  const templates: Template[] = [];
  for (const p of photos.values()) {
    if (p.source.role !== "neutral") continue;
    for (const variant of TEMPLATE_VARIANTS) {
      const image = await templateVariant(p.image, p.face!.quality.faceSizePx, variant);
      const t: Template = { ...(await readAll(`${p.name} (${variant})`, image)), source: p.source, variant };
      if (t.face) t.embedding = await analyzer.embed(image, t.face);
      else unscored.push(`no face found by the engine's analyzer in template ${t.name}`);
      for (const j of judges) if (!t.read.get(j.name)) unscored.push(`no face found by ${j.name} in template ${t.name}`);
      templates.push(t);
    }
  }
  const reactions = [...photos.values()].filter((p) => p.source.role === "reaction" && neutralOf(p.source));
  const neutralRead = (r: Picture & { source: SetImage }, j: Judge) => photos.get(neutralOf(r.source)!.file)!.read.get(j.name);

  // The engine on every pair, both modes; each result read by both judges.
  const results: PairResult[] = [];
  for (const mode of MODES) {
    for (const t of templates) {
      for (const r of reactions) {
        const row: PairResult = { mode, template: t, reaction: r, ratios: new Map(), out: new Map(), cosine: NaN, outside: 0 };
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
        if (mode === "mimic") row.outside = changedOutsideRing(t.image, res.image, t.face.landmarks);
        for (const j of judges) {
          const o = await j.read(res.image);
          row.out.set(j.name, o?.measures);
          const tm = t.read.get(j.name), rm = r.read.get(j.name), nm = neutralRead(r, j);
          if (!o) unscored.push(`no face found by ${j.name} in the ${mode} result ${t.name} ← ${r.name}`);
          if (!o || !tm || !rm || !nm) continue;
          row.ratios.set(j.name, transferRatios({ template: tm.measures, out: o.measures, reaction: rm.measures, neutral: nm.measures }, floors.get(j.name)!));
        }
        const again = (await analyzer.analyze(res.image)).faces[0];
        if (again && t.embedding) row.cosine = cosineSimilarity(await analyzer.embed(res.image, again), t.embedding);
        console.log(`${mode} ${t.name} <- ${r.name}: ${judges.map((j) => `${j.name} ${fmtPartial(row.ratios.get(j.name))}`).join("; ")}`);
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
        if (!tm || !rm || !nm) continue;
        unchanged.push(transferRatios({ template: tm.measures, out: tm.measures, reaction: rm.measures, neutral: nm.measures }, floors.get(j.name)!));
        const moved = j.measure(applyLandmarkChange(tm.mesh, rm.mesh, nm.mesh, j.frame));
        applied.push(transferRatios({ template: tm.measures, out: moved, reaction: rm.measures, neutral: nm.measures }, floors.get(j.name)!));
      }
    }
    baselineRows.unchanged.push({ label: `template unchanged · ${j.name}`, stats: summarizeRatios(unchanged) });
    baselineRows.applied.push({ label: `landmark change applied · ${j.name}`, stats: summarizeRatios(applied) });
  }

  // Not a baseline the verdict checks: the template's pixels moved by a plain piecewise-affine warp onto the
  // applied-change mesh (no mouth interior, no lid drawing), read again by each judge. It shows how each judge
  // reads a purely geometric change of the picture, against which the engine's rendering can be compared.
  const warpRows: StatsRow[] = [];
  {
    const perJudge = new Map<Judge["name"], Partial<Measures>[]>(judges.map((j) => [j.name, []]));
    for (const t of templates) {
      for (const r of reactions) {
        const n = photos.get(neutralOf(r.source)!.file)!;
        if (!t.face || !r.face || !n.face) continue;
        const moved = applyLandmarkChange(t.face.landmarks, r.face.landmarks, n.face.landmarks);
        const mesh = faceMeshTriangles({ landmarks: [t.face.landmarks, moved], width: t.image.width, height: t.image.height });
        const out: RgbImage = { ...t.image, data: t.image.data.slice() };
        warpTriangles(t.image, mesh.points[0]!, mesh.points[1]!, mesh.triangles, out);
        for (const j of judges) {
          const o = await j.read(out), tm = t.read.get(j.name), rm = r.read.get(j.name), nm = neutralRead(r, j);
          if (o && tm && rm && nm) perJudge.get(j.name)!.push(transferRatios({ template: tm.measures, out: o.measures, reaction: rm.measures, neutral: nm.measures }, floors.get(j.name)!));
        }
      }
    }
    for (const j of judges) warpRows.push({ label: `plain warp to the applied mesh · ${j.name}`, stats: summarizeRatios(perJudge.get(j.name)!) });
  }

  const ratioRows: StatsRow[] = [];
  for (const mode of MODES) {
    for (const j of judges) {
      const rows = results.filter((r) => r.mode === mode).map((r) => r.ratios.get(j.name) ?? {});
      ratioRows.push({ label: `${mode} · ${j.name}`, stats: summarizeRatios(rows) });
    }
  }
  const identity = MODES.map((mode) => ({
    mode: mode as keyof typeof IDENTITY_FLOOR,
    median: percentile(results.filter((r) => r.mode === mode && Number.isFinite(r.cosine)).map((r) => r.cosine), 50),
  }));
  const outsideChanged = results.filter((r) => r.mode === "mimic" && r.image).map((r) => ({ pair: `mimic ${r.template.name} ← ${r.reaction.name}`, pixels: r.outside }));
  const verdict = evalVerdict({ ratios: ratioRows, baselines: baselineRows, unscored, outsideChanged, identity });

  mkdirSync(outDir, { recursive: true });
  for (const mode of MODES) writeFileSync(join(outDir, `contact-${mode}.png`), await encodePng(contactSheet(results.filter((r) => r.mode === mode))));
  writeFileSync(
    join(outDir, "REPORT.md"),
    report({ judges, floors, deltas, photos: [...photos.values()], templates, reactions, results, ratioRows, baselineRows, warpRows, identity, verdict, refined: analyzer.refined }),
  );
  console.log(`wrote ${join(outDir, "REPORT.md")} and contact sheets`);
  for (const f of verdict.failures) console.error(`FAIL ${f}`);
  for (const j of judges) await j.dispose();
  process.exitCode = verdict.ok ? 0 : 1;
}

/** Pixels that differ from the template outside the polygon of the warp's anchor ring. */
function changedOutsideRing(a: RgbImage, b: RgbImage, landmarks: Float32Array): number {
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

const CELL = 128;
/** Variants shown in the contact sheets (all variants are scored; the sheets stay small). */
const SHEET_VARIANTS: TemplateVariant[] = ["original", "face 100 px", "rotate 20"];

/** A square around the face (1.7× its box), clipped to the image. */
function faceCrop(img: RgbImage, face: AnalyzedFace | undefined): RgbImage {
  if (!face) return img;
  const side = Math.min(img.width, img.height, Math.round(Math.max(face.box.width, face.box.height) * 1.7));
  const cx = face.box.x + face.box.width / 2, cy = face.box.y + face.box.height / 2;
  const x = Math.min(img.width - side, Math.max(0, Math.round(cx - side / 2)));
  const y = Math.min(img.height - side, Math.max(0, Math.round(cy - side / 2)));
  return cropImage(img, { x, y, width: side, height: side });
}

/** One row per pair: template, reaction, result (mimic keeps the template's framing, swap the reaction's). */
function contactSheet(rows: PairResult[]): RgbImage {
  const shown = rows.filter((r) => SHEET_VARIANTS.includes(r.template.variant));
  const W = 3 * CELL, H = Math.max(1, shown.length) * CELL;
  const sheet: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3).fill(40) };
  const put = (img: RgbImage, col: number, row: number) => {
    const t = resizeImage(img, CELL - 4, CELL - 4);
    const ox = col * CELL + 2, oy = row * CELL + 2;
    for (let y = 0; y < t.height; y++) sheet.data.set(t.data.subarray(y * t.width * 3, (y + 1) * t.width * 3), ((oy + y) * W + ox) * 3);
  };
  shown.forEach((r, i) => {
    put(faceCrop(r.template.image, r.template.face), 0, i);
    put(faceCrop(r.reaction.image, r.reaction.face), 1, i);
    if (r.image) put(faceCrop(r.image, r.mode === "mimic" ? r.template.face : r.reaction.face), 2, i);
  });
  return sheet;
}

const f2 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(2));
const f3 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(3));
function fmtMeasures(m: Measures): string {
  return RATIO_MEASURES.map((k) => `${k} ${m[k].toFixed(3)}`).join(", ");
}
function fmtPartial(m: Partial<Measures> | undefined): string {
  if (!m) return "unread";
  return RATIO_MEASURES.filter((k) => m[k] !== undefined).map((k) => `${k} ${m[k]!.toFixed(2)}`).join(" ") || "(nothing counted)";
}

const HEAD = `| row | ${RATIO_MEASURES.join(" | ")} |`;
const RULE = `|---|${RATIO_MEASURES.map(() => "---").join("|")}|`;
const statCell = (s: RatioStats) => (s.n === 0 ? "n = 0" : `${f2(s.median)} / ${f2(s.p10)} (n ${s.n})`);

function report(o: {
  judges: Judge[];
  floors: Map<Judge["name"], Measures>;
  deltas: Map<Judge["name"], Measures[]>;
  photos: (Picture & { source: SetImage })[];
  templates: Template[];
  reactions: (Picture & { source: SetImage })[];
  results: PairResult[];
  ratioRows: StatsRow[];
  baselineRows: { unchanged: StatsRow[]; applied: StatsRow[] };
  warpRows: StatsRow[];
  identity: { mode: string; median: number }[];
  verdict: { ok: boolean; failures: string[] };
  refined: boolean;
}): string {
  const people = new Set(o.photos.map((p) => p.source.person));
  const byLabel = new Map(o.ratioRows.map((r) => [r.label, r.stats]));
  const disagreements: string[] = [];
  for (const mode of MODES) {
    const a = byLabel.get(`${mode} · analyzer`)!, b = byLabel.get(`${mode} · face-api`)!;
    for (const k of RATIO_MEASURES) {
      if (a[k].n > 0 && b[k].n > 0 && Math.abs(a[k].median - b[k].median) > DISAGREEMENT) {
        disagreements.push(`- ${mode} ${k}: analyzer ${f2(a[k].median)}, face-api ${f2(b[k].median)}`);
      }
    }
  }
  const absMouth = (mode: TransferMode, j: Judge["name"]) =>
    percentile(
      o.results.filter((r) => r.mode === mode && r.out.get(j) && r.reaction.read.get(j)).map((r) => Math.abs(r.out.get(j)!.mouthOpen - r.reaction.read.get(j)!.measures.mouthOpen)),
      50,
    );
  const variantRows: string[] = [];
  for (const mode of MODES) {
    for (const v of TEMPLATE_VARIANTS) {
      for (const j of o.judges) {
        const rows = o.results.filter((r) => r.mode === mode && r.template.variant === v).map((r) => r.ratios.get(j.name) ?? {});
        const s = summarizeRatios(rows);
        variantRows.push(`| ${mode} · ${v} · ${j.name} | ${RATIO_MEASURES.map((k) => (s[k].n === 0 ? "–" : f2(s[k].median))).join(" | ")} |`);
      }
    }
  }
  const lines = [
    "# Expression transfer evaluation",
    "",
    `Generated by \`npm run eval\` (tools/eval) on ${new Date().toISOString().slice(0, 10)}. ${o.verdict.ok ? "**All targets met.**" : `**${o.verdict.failures.length} targets missed** (the run exits 1; list at the end).`}`,
    "",
    "## What is measured",
    "",
    "The main figure is the identity-free transfer ratio per expression measure: on neutral templates, with reactions",
    "whose person also has a neutral photo, **(out − template) / (reaction − reaction's neutral)**. 1: the whole change",
    "arrived; 0: nothing moved. A measure counts only where the reaction's change exceeds its noise floor (below).",
    `Cells: **median / 10th percentile (n pairs counted)**. Targets: median in [${RATIO_TARGET.medianMin}, ${RATIO_TARGET.medianMax}], 10th percentile ≥ ${RATIO_TARGET.p10Min}, every measure, both judges.`,
    "",
    "Measures (inter-ocular units, pose removed; src/pipeline/transfer/measure.ts, tools/eval/measures68.ts): mouthOpen",
    "(inner-lip gap), cornerLift (mouth corners above the inner-lip centre: a smile), mouthWidth, eyeOpen (lid aperture",
    "/ eye width, subject's right and left), brow (eye centre to brow height).",
    "",
    "Judges: **analyzer**, the project's own face analysis" +
      (o.refined ? " (FaceMesh with eyelids and lips refined by the attention mesh)" : " (plain FaceMesh)") +
      "; **face-api**, the 68-point landmark net of `@vladmandic/face-api` with its own SSD-MobileNet detector",
    "(TensorFlow.js, wasm), which the engine never uses. Each judge reads every template, reaction, neutral and result itself.",
    "",
    "## The set",
    "",
    `${o.photos.length} photos of ${people.size} people (${[...people].join(", ")}); ${o.reactions.length} reactions with a neutral photo of`,
    `their person; ${o.templates.length / TEMPLATE_VARIANTS.length} neutral templates, each also as synthetic variants (${TEMPLATE_VARIANTS.slice(1).join(", ")}),`,
    `so ${o.templates.length} templates × ${o.reactions.length} reactions = ${o.templates.length * o.reactions.length} pairs per mode. Split: ${o.photos.filter((p) => p.source.split === "dev").length} dev (the engine may be tuned on them),`,
    `${o.photos.filter((p) => p.source.split === "test").length} held-out test. The set is far short of issue 14's 20 people / 60 reactions: see eval/set/PROVENANCE.md`,
    "for the sources searched and why.",
    "",
    "| photo | person | expression | role | split |",
    "|---|---|---|---|---|",
    ...o.photos.map((p) => `| ${p.name} | ${p.source.person} | ${p.source.expression} | ${p.source.role} | ${p.source.split} |`),
    "",
    "## Transfer ratio",
    "",
    HEAD,
    RULE,
    ...o.ratioRows.map((r) => `| ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`),
    ...o.baselineRows.unchanged.map((r) => `| baseline: ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`),
    ...o.baselineRows.applied.map((r) => `| baseline: ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`),
    ...o.warpRows.map((r) => `| reference: ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`),
    "",
    "Baselines: *template unchanged* scores the template itself as the result (must be 0); *landmark change applied* adds",
    "the reaction's landmark offset from its neutral (each in its own face frame) to the template's mesh and measures",
    "that mesh (about 1). They bound the scale: an engine that does nothing scores 0, a perfect geometric copy 1.",
    "*Reference, plain warp*: the template's pixels warped (piecewise affine, no mouth interior or lid drawing) onto",
    "that applied mesh and read again: how each judge reads a purely geometric change of the picture (not in the verdict).",
    "",
    `### Judges disagreeing by more than ${DISAGREEMENT} on a median`,
    "",
    ...(disagreements.length ? [...disagreements, "", "Explained in eval/FINDINGS.md."] : ["None."]),
    "",
    "### Median ratio per template variant",
    "",
    HEAD,
    RULE,
    ...variantRows,
    "",
    "## Noise floors",
    "",
    `Each set photo shifted (17, 11 px), rescaled (0.7×, 1.4×), mirrored (sides swapped back) and re-encoded (JPEG q40);`,
    `floor = ${FLOOR_MULTIPLE} × the 90th percentile of |variant − original| over all of them.`,
    "",
    HEAD,
    RULE,
    ...o.judges.map((j) => `| ${j.name} (${o.deltas.get(j.name)!.length} readings) | ${RATIO_MEASURES.map((k) => f3(o.floors.get(j.name)![k])).join(" | ")} |`),
    "",
    "## Secondary figures",
    "",
    "| mode | median \\|out − reaction\\| mouthOpen, analyzer | same, face-api | median identity cosine to template | floor | pixels outside the face changed |",
    "|---|---|---|---|---|---|",
    ...MODES.map((mode) => {
      const id = o.identity.find((i) => i.mode === mode)!;
      const outside = o.results.filter((r) => r.mode === mode).reduce((s, r) => s + r.outside, 0);
      return `| ${mode} | ${f3(absMouth(mode, "analyzer"))} | ${f3(absMouth(mode, "face-api"))} | ${f3(id.median)} | ${IDENTITY_FLOOR[mode as keyof typeof IDENTITY_FLOOR]} | ${mode === "mimic" ? outside : "n/a (the reaction's picture)"} |`;
    }),
    "",
    "Absolute mouth opening is identity-free at rest (a closed mouth is 0 for anyone), so closeness to the reaction's",
    "value is meaningful for it alone.",
    "",
    "## Per pair",
    "",
    "Ratios of the measures that counted (– : the reaction's change is within the noise floor; unread: no face found).",
    "",
    `| mode | template | reaction | judge | ${RATIO_MEASURES.join(" | ")} | cosine | outside px |`,
    `|---|---|---|---|${RATIO_MEASURES.map(() => "---").join("|")}|---|---|`,
    ...o.results.flatMap((r) =>
      o.judges.map((j) => {
        const m = r.ratios.get(j.name);
        if (r.refused) return `| ${r.mode} | ${r.template.name} | ${r.reaction.name} | ${j.name} | refused: ${r.refused} ${RATIO_MEASURES.slice(1).map(() => "| ").join("")}| – | – |`;
        return `| ${r.mode} | ${r.template.name} | ${r.reaction.name} | ${j.name} | ${RATIO_MEASURES.map((k) => (m ? f2(m[k as RatioMeasure]) : "unread")).join(" | ")} | ${f3(r.cosine)} | ${r.mode === "mimic" ? r.outside : "–"} |`;
      }),
    ),
    "",
    `Contact sheets: \`contact-mimic.png\`, \`contact-swap.png\` (rows: template, reaction, result; variants ${SHEET_VARIANTS.join(", ")}).`,
    "",
    "## Verdict",
    "",
    ...(o.verdict.ok ? ["All targets met."] : o.verdict.failures.map((f) => `- ${f}`)),
    "",
  ];
  return lines.join("\n");
}

await main();
