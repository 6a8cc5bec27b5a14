/**
 * The evaluation's report: eval/REPORT.md for the dev set, the same layout for a held-out set, and contact sheets
 * (template, reaction, result per row).
 */
import { cropImage, resizeImage } from "../../src/pipeline/image/index.ts";
import type { TransferMode } from "../../src/pipeline/transfer/index.ts";
import type { AnalyzedFace, RgbImage } from "../../src/pipeline/types.ts";
import type { Judge } from "./judges.ts";
import { FLOOR_MULTIPLE } from "./noise.ts";
import { RATIO_MEASURES, RATIO_TARGET, summarizeRatios, type RatioMeasure, type RatioStats } from "./ratio.ts";
import { TEMPLATE_VARIANTS, neutralOf, type TemplateVariant } from "./set.ts";
import { IDENTITY_FLOOR } from "./verdict.ts";
import { animatedIdentityRows, IDENTITY_NOTE, identityTable, summarizeLikeness } from "./identity.ts";
import { LIPS_NOTE, lipsTable } from "./lips.ts";
import { MODES, mouthCloseness, refoundRate, type Evaluation, type PairResult } from "./evaluate.ts";

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
export function contactSheet(rows: PairResult[]): RgbImage {
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

export const f2 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(2));
export const f3 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(3));
export const HEAD = `| row | ${RATIO_MEASURES.join(" | ")} |`;
export const RULE = `|---|${RATIO_MEASURES.map(() => "---").join("|")}|`;
export const statCell = (s: RatioStats) => (s.n === 0 ? "n = 0" : `${f2(s.median)} / ${f2(s.p10)} (n ${s.n})`);

export interface ReportOptions {
  /** First heading and the line saying what generated the report. */
  title: string;
  generatedBy: string;
  /** Lines about the set (where it comes from, how far it is from issue 14's aim). */
  setNote: string[];
}

/** Judges that disagree by more than this on a median are a finding to explain (eval/FINDINGS.md). */
export const DISAGREEMENT = 0.15;

export function report(o: Evaluation, opt: ReportOptions): string {
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
  const absMouth = (mode: TransferMode, j: Judge["name"]) => mouthCloseness(o.results.filter((r) => r.mode === mode), j);
  const refound = (mode: TransferMode) =>
    o.judges.map((j) => refoundRate(o.results, mode, j.name)).map((r) => `${r.found}/${r.of}`).join(" / ");
  const variantRows: string[] = [];
  for (const mode of MODES) {
    for (const v of TEMPLATE_VARIANTS.filter((x) => o.templates.some((t) => t.variant === x))) {
      for (const j of o.judges) {
        const rows = o.results.filter((r) => r.mode === mode && r.scorable && r.template.variant === v).map((r) => r.ratios.get(j.name) ?? {});
        const s = summarizeRatios(rows);
        variantRows.push(`| ${mode} · ${v} · ${j.name} | ${RATIO_MEASURES.map((k) => (s[k].n === 0 ? "–" : f2(s[k].median))).join(" | ")} |`);
      }
    }
  }
  const variants = TEMPLATE_VARIANTS.filter((v) => o.templates.some((t) => t.variant === v));
  const neutrals = o.photos.filter((p) => p.source.role === "neutral").length;
  const posed = o.photos.filter((p) => p.source.role === "posed").length;
  const scorableReactions = o.reactions.filter((r) => neutralOf(r.source, o.photos.map((p) => p.source))).length;
  const scorablePairs = o.results.filter((r) => r.mode === MODES[0] && r.scorable).length;
  const withSource = o.photos.some((p) => p.source.source);
  const lines = [
    `# ${opt.title}`,
    "",
    `${opt.generatedBy} on ${new Date().toISOString().slice(0, 10)}. ${o.verdict.ok ? "**All targets met.**" : `**${o.verdict.failures.length} targets missed** (the run exits 1; list at the end).`}`,
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
    `${o.photos.length} photos of ${people.size} people (${[...people].join(", ")}); ${o.reactions.length} reactions, ${scorableReactions} with a neutral photo of`,
    `their person; ${neutrals} neutral templates${posed ? ` and ${posed} posed ones (not neutral: no transfer ratio, only the figures that need no neutral)` : ""}, ${variants.length > 1 ? `each also as synthetic variants (${variants.slice(1).join(", ")})` : "originals only (no synthetic variants)"},`,
    `so ${o.templates.length} templates × ${o.reactions.length} reactions = ${o.templates.length * o.reactions.length} pairs per mode, ${scorablePairs} with a transfer ratio. Split: ${o.photos.filter((p) => p.source.split === "dev").length} dev (the engine may be tuned on them),`,
    `${o.photos.filter((p) => p.source.split === "test").length} held-out test.`,
    ...opt.setNote,
    "",
    `| photo | person | expression | role | split |${withSource ? " source |" : ""}`,
    `|---|---|---|---|---|${withSource ? "---|" : ""}`,
    ...o.photos.map((p) => `| ${p.name} | ${p.source.person} | ${p.source.expression} | ${p.source.role} | ${p.source.split} |${withSource ? ` ${p.source.source ?? ""} |` : ""}`),
    "",
    "## Transfer ratio",
    "",
    HEAD,
    RULE,
    ...o.ratioRows.map((r) => `| ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`),
    ...o.baselineRows.unchanged.map((r) => `| baseline: ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`),
    ...o.baselineRows.applied.map((r) => `| baseline: ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`),
    ...o.warpRows.map((r) => `| reference: ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`),
    ...o.animatedRows.map((r) => `| animated, person at rest first: ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`),
    ...o.meshRows.map((r) => `| engine's mesh: ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`),
    "",
    "Baselines: *template unchanged* scores the template itself as the result (must be 0); *landmark change applied* adds",
    "the reaction's landmark offset from its neutral (each in its own face frame) to the template's mesh and measures",
    "that mesh (about 1). They bound the scale: an engine that does nothing scores 0, a perfect geometric copy 1.",
    "*Reference, plain warp*: the template's pixels warped (piecewise affine, no mouth interior or lid drawing) onto",
    "that applied mesh and read again: how each judge reads a purely geometric change of the picture (not in the verdict).",
    "*Animated, person at rest first*: each mimic pair sent as a two-frame animation, the reaction's neutral photo and",
    "then the reaction, scored on the second frame; the engine reads its rest from the first (not in the verdict).",
    "*Engine's mesh*: the expression mesh the engine draws towards (before LID_GAIN and drawing), measured as the analyzer",
    "measures a face, against the analyzer's readings of the photos: what the engine asks for, no picture re-read (not in the verdict).",
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
    `| mode | face re-found in the result (${o.judges.map((j) => j.name).join(" / ")}) | median \\|out − reaction\\| mouthOpen, analyzer | same, face-api | median identity cosine to template | floor | pixels outside the face changed |`,
    "|---|---|---|---|---|---|---|",
    ...MODES.map((mode) => {
      const id = o.identity.find((i) => i.mode === mode)!;
      const outside = o.results.filter((r) => r.mode === mode).reduce((s, r) => s + r.outside, 0);
      return `| ${mode} | ${refound(mode)} | ${f3(absMouth(mode, "analyzer"))} | ${f3(absMouth(mode, "face-api"))} | ${f3(id.median)} | ${IDENTITY_FLOOR[mode as keyof typeof IDENTITY_FLOOR]} | ${mode === "mimic" ? outside : "n/a (the reaction's picture)"} |`;
    }),
    "",
    "Absolute mouth opening is identity-free at rest (a closed mouth is 0 for anyone), so closeness to the reaction's",
    "value is meaningful for it alone.",
    "",
    "### Identity, two judges",
    "",
    ...IDENTITY_NOTE,
    "",
    ...identityTable([
      ...MODES.map((mode) => ({ label: mode, summary: summarizeLikeness(o.results.filter((r) => r.mode === mode).map((r) => r.likeness)) })),
      { label: "baseline: the reaction's picture unchanged", summary: summarizeLikeness(o.reactionUnchanged.map((u) => u.likeness)) },
      ...animatedIdentityRows(o.animatedIdentity),
    ]),
    "",
    "### Lips, two judges",
    "",
    ...LIPS_NOTE,
    "",
    ...lipsTable([...o.lipRows.engine, ...o.lipRows.mesh, ...o.lipRows.animated, ...o.lipRows.baseline]),
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
        if (!r.scorable) return `| ${r.mode} | ${r.template.name} | ${r.reaction.name} | ${j.name} | not scored (${r.template.source.role === "posed" ? "posed template" : "no neutral of the reaction's person"}) ${RATIO_MEASURES.slice(1).map(() => "| ").join("")}| ${f3(r.likeness.faceres.toTemplate)} | ${r.mode === "mimic" ? r.outside : "–"} |`;
        return `| ${r.mode} | ${r.template.name} | ${r.reaction.name} | ${j.name} | ${RATIO_MEASURES.map((k) => (m ? f2(m[k as RatioMeasure]) : "unread")).join(" | ")} | ${f3(r.likeness.faceres.toTemplate)} | ${r.mode === "mimic" ? r.outside : "–"} |`;
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

