/**
 * `npm run eval`: expression-transfer quality on every ordered pair of fixture faces.
 *
 * For each (template, reaction) pair the engine runs in mimic mode; the result is analysed again and
 *  - its expression measures (mouth opening and width, eye openness, brow height, all in inter-ocular units)
 *    must match the reaction's within 15 % (see TOLERANCE_FLOOR for measures near zero),
 *  - its identity embedding must stay closer to the template than to the reaction,
 *  - no pixel outside the face ring may change.
 * Swap mode runs on the same pairs: identity is checked, its expression measures are reported beside mimic's.
 * Writes eval/REPORT.md and contact sheets.
 * Exits non-zero when an invariant breaks, when a result has no face to re-find, or on more expression
 * misses than the mode's budget (tools/eval/verdict.ts); misses are reported with the engine's own intent.
 *
 *   npm run eval [-- --out eval]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cosineSimilarity, createFaceAnalyzer, getFaceAnalyzer } from "../../src/pipeline/face/index.ts";
import { cropImage, decodeImage, encodePng, resizeImage } from "../../src/pipeline/image/index.ts";
import { measureExpression, transferExpression, type ExpressionMeasures, type TransferMode } from "../../src/pipeline/transfer/index.ts";
import type { AnalyzedFace, RgbImage } from "../../src/pipeline/types.ts";
import { faceMeshPoints } from "../../src/pipeline/warp/index.ts";
import { LEFT_EYE_UPPER, RIGHT_EYE_UPPER } from "../../src/pipeline/warp/landmarks.ts";
import { RING_SCALE } from "../../src/pipeline/transfer/transfer.ts";
import { LID_GAIN } from "../../src/pipeline/transfer/eyes.ts";
import { insidePolygon } from "../../src/pipeline/transfer/geometry.ts";
import { evalVerdict } from "./verdict.ts";

const FIXTURES = "test/fixtures/faces";
const FILES = ["grace_hopper_512x512.jpg", "astronaut.png", "franck_01829.jpg", "franck_02221.jpg", "franck_04117.jpg"];
/** Same person in several files: identity is only judged between different people. */
const PERSON: Record<string, string> = { "franck_01829.jpg": "franck", "franck_02221.jpg": "franck", "franck_04117.jpg": "franck" };
const MEASURES: (keyof ExpressionMeasures)[] = ["mouthOpen", "mouthWidth", "eyeOpenRight", "eyeOpenLeft", "browRight", "browLeft"];
const TOLERANCE = 0.15;
/** 15 % of a value near zero (a closed mouth) is below what the landmarks can resolve: relative to at least this. */
const TOLERANCE_FLOOR: Partial<Record<keyof ExpressionMeasures, number>> = { mouthOpen: 0.1 };

interface Loaded {
  name: string;
  image: RgbImage;
  face: AnalyzedFace;
  embedding: Float32Array;
  measures: ExpressionMeasures;
}

interface Row {
  template: string;
  reaction: string;
  mode: TransferMode;
  measures?: ExpressionMeasures;
  errors: Partial<Record<keyof ExpressionMeasures, number>>;
  expressionOk: boolean;
  /** A face was found in the result. */
  refound: boolean;
  /** The same check on the mesh the engine produced (its intent), before any re-analysis. */
  targetMaxError: number;
  cosTemplate: number;
  cosReaction: number;
  identityOk: boolean | null;
  outsideChanged: number;
  ms: number;
  image: RgbImage;
}

const outDir = process.argv.includes("--out") ? process.argv[process.argv.indexOf("--out") + 1]! : "eval";

async function main(): Promise<void> {
  const analyzer = await getFaceAnalyzer();
  const loaded: Loaded[] = [];
  for (const name of FILES) {
    const image = await decodeImage(readFileSync(join(FIXTURES, name)));
    const face = (await analyzer.analyze(image)).faces[0];
    if (!face) throw new Error(`no face in fixture ${name}`);
    loaded.push({ name, image, face, embedding: await analyzer.embed(image, face), measures: measureExpression(face.landmarks) });
  }
  const rows: Row[] = [];
  for (const mode of ["mimic", "swap"] as const) {
    for (const t of loaded) {
      for (const r of loaded) {
        if (t === r) continue;
        const res = transferExpression({ template: t.image, templateFace: t.face, reaction: r.image, reactionFace: r.face, mode });
        const analysed = (await analyzer.analyze(res.image)).faces[0];
        const row: Row = {
          template: t.name,
          reaction: r.name,
          mode,
          errors: {},
          expressionOk: false,
          refound: analysed !== undefined,
          targetMaxError: maxError(measureExpression(res.expression), r.measures),
          cosTemplate: NaN,
          cosReaction: NaN,
          identityOk: null,
          outsideChanged: mode === "mimic" ? changedOutsideRing(t.image, res.image, t.face.landmarks) : 0,
          ms: res.timingsMs.total ?? NaN,
          image: res.image,
        };
        if (analysed) {
          row.measures = measureExpression(analysed.landmarks);
          row.expressionOk = true;
          for (const k of MEASURES) {
            const want = r.measures[k];
            const err = Math.abs(row.measures[k] - want) / Math.max(Math.abs(want), TOLERANCE_FLOOR[k] ?? 0);
            row.errors[k] = err;
            if (err > TOLERANCE) row.expressionOk = false;
          }
          const e = await analyzer.embed(res.image, analysed);
          row.cosTemplate = cosineSimilarity(e, t.embedding);
          row.cosReaction = cosineSimilarity(e, r.embedding);
          const samePerson = PERSON[t.name] !== undefined && PERSON[t.name] === PERSON[r.name];
          row.identityOk = samePerson ? null : row.cosTemplate > row.cosReaction;
        }
        rows.push(row);
        console.log(
          `${mode} ${t.name} <- ${r.name}: expression ${row.expressionOk ? "ok" : "MISS"} ` +
            `cos(template) ${row.cosTemplate.toFixed(3)} cos(reaction) ${row.cosReaction.toFixed(3)} outside ${row.outsideChanged} ` +
            `${row.ms.toFixed(1)} ms`,
        );
      }
    }
  }
  mkdirSync(outDir, { recursive: true });
  for (const mode of ["mimic", "swap"] as const) {
    writeFileSync(join(outDir, `contact-${mode}.png`), await encodePng(contactSheet(loaded, rows.filter((r) => r.mode === mode))));
  }
  // The same lid test seen by the plain mesh too, to show what the attention refinement adds.
  const plain = await createFaceAnalyzer({ refine: false });
  const sensitivity = await lidSensitivity(analyzer, loaded, plain);
  await plain.dispose();
  const coupling = await eyeMouthCoupling(analyzer, loaded);
  writeFileSync(join(outDir, "REPORT.md"), report(loaded, rows, [...sensitivity, "", ...coupling], analyzer.refined));
  console.log(`wrote ${join(outDir, "REPORT.md")} and contact sheets`);
  const misses = (mode: TransferMode) => `${rows.filter((r) => r.mode === mode && !r.expressionOk).length}/${rows.filter((r) => r.mode === mode).length}`;
  console.log(`expression misses: mimic ${misses("mimic")}, swap ${misses("swap")}`);
  const verdict = evalVerdict(rows);
  for (const f of verdict.failures) console.error(`FAIL ${f}`);
  process.exitCode = verdict.ok ? 0 : 1;
}

function maxError(got: ExpressionMeasures, want: ExpressionMeasures): number {
  return Math.max(...MEASURES.map((k) => Math.abs(got[k] - want[k]) / Math.max(Math.abs(want[k]), TOLERANCE_FLOOR[k] ?? 0)));
}

/**
 * How the analyser itself sees lid motion, which sets LID_GAIN: a face's upper lids are moved by k px in
 * its own mesh (down: closing, up: opening), the engine draws that (regions upper), and the result is
 * analysed again. "follows" is the re-read change over the drawn change; the engine draws lids LID_GAIN×
 * as far as it reads them, so "re-read / intended" near 1 means the calibration holds.
 */
async function lidSensitivity(analyzer: Awaited<ReturnType<typeof getFaceAnalyzer>>, loaded: Loaded[], plain: Awaited<ReturnType<typeof getFaceAnalyzer>>): Promise<string[]> {
  const openness = (m: ExpressionMeasures | undefined) => (m ? (m.eyeOpenRight + m.eyeOpenLeft) / 2 : NaN);
  const seenBy = async (a: Awaited<ReturnType<typeof getFaceAnalyzer>>, img: RgbImage) => {
    const f = (await a.analyze(img)).faces[0];
    return f ? measureExpression(f.landmarks) : undefined;
  };
  const rows: string[] = [];
  const follows: number[] = [];
  for (const name of ["franck_01829.jpg", "franck_04117.jpg", "grace_hopper_512x512.jpg"]) {
    const l = loaded.find((x) => x.name === name)!;
    const own = openness(l.measures);
    for (const px of [-6, -3, 3, 6, 9]) {
      const lm = Float32Array.from(l.face.landmarks);
      for (const upper of [RIGHT_EYE_UPPER, LEFT_EYE_UPPER]) for (let j = 1; j < 8; j++) lm[3 * upper[j]! + 1]! += px * Math.sin((j * Math.PI) / 8);
      // The reaction's mesh alone is changed: in its own frame its lids are what the engine transfers.
      const res = transferExpression({ template: l.image, templateFace: l.face, reaction: l.image, reactionFace: { ...l.face, landmarks: lm }, regions: "upper" });
      const intended = openness(measureExpression(res.expression));
      const drawn = openness(measureExpression(res.landmarks));
      const seen = openness(await seenBy(analyzer, res.image));
      const follow = (seen - own) / (drawn - own);
      if (Number.isFinite(follow)) follows.push(follow);
      const f = (v: number) => (Number.isNaN(v) ? "no face" : v.toFixed(3));
      rows.push(`| ${name} | ${px} | ${f(intended)} | ${f(drawn)} | ${f(seen)} | ${follow.toFixed(2)} | ${(seen / intended).toFixed(2)} | ${f(openness(await seenBy(plain, res.image)))} |`);
    }
  }
  follows.sort((a, b) => a - b);
  rows.push("", `Median share of the drawn lid motion that the analyser follows: ${follows[follows.length >> 1]!.toFixed(2)} (LID_GAIN = ${LID_GAIN}).`);
  return rows;
}

/**
 * How the analyser's eye openness depends on the mouth: each template wears each reaction's mouth only
 * (regions lower: the eyes' pixels are not touched), and the result's eyes are analysed again. A change here
 * is the analyser reading eyes from their surroundings, which no eyelid rendering can correct.
 */
async function eyeMouthCoupling(analyzer: Awaited<ReturnType<typeof getFaceAnalyzer>>, loaded: Loaded[]): Promise<string[]> {
  const rows = [
    "### Eyes seen through the mouth",
    "",
    "Each template wearing only the reaction's mouth (regions lower; eye pixels unchanged), eye openness analysed again (right / left):",
    "",
    `| template | own eyes | ${loaded.map((l) => l.name).join(" | ")} |`,
    `|---|---|${loaded.map(() => "---").join("|")}|`,
  ];
  const eyes = (m: ExpressionMeasures | undefined) => (m ? `${m.eyeOpenRight.toFixed(3)} / ${m.eyeOpenLeft.toFixed(3)}` : "no face");
  for (const t of loaded) {
    const cells: string[] = [];
    for (const r of loaded) {
      if (t === r) {
        cells.push("–");
        continue;
      }
      const res = transferExpression({ template: t.image, templateFace: t.face, reaction: r.image, reactionFace: r.face, regions: "lower" });
      const f = (await analyzer.analyze(res.image)).faces[0];
      cells.push(eyes(f ? measureExpression(f.landmarks) : undefined));
    }
    rows.push(`| ${t.name} | ${eyes(t.measures)} | ${cells.join(" | ")} |`);
  }
  return rows;
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

const CELL = 224;

/** A square around the face (1.7× its box), clipped to the image: the sheet shows faces, not backgrounds. */
function faceCrop(img: RgbImage, face: AnalyzedFace): RgbImage {
  const side = Math.min(img.width, img.height, Math.round(Math.max(face.box.width, face.box.height) * 1.7));
  const cx = face.box.x + face.box.width / 2, cy = face.box.y + face.box.height / 2;
  const x = Math.min(img.width - side, Math.max(0, Math.round(cx - side / 2)));
  const y = Math.min(img.height - side, Math.max(0, Math.round(cy - side / 2)));
  return cropImage(img, { x, y, width: side, height: side });
}

/** Rows: templates; columns: reactions; first row and column: the inputs (face crops). */
function contactSheet(loaded: Loaded[], rows: Row[]): RgbImage {
  const n = loaded.length;
  const W = (n + 1) * CELL, H = (n + 1) * CELL;
  const sheet: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3).fill(40) };
  const put = (img: RgbImage, col: number, row: number) => {
    const t = resizeImage(img, CELL - 4, CELL - 4);
    const ox = col * CELL + 2, oy = row * CELL + 2;
    for (let y = 0; y < t.height; y++) sheet.data.set(t.data.subarray(y * t.width * 3, (y + 1) * t.width * 3), ((oy + y) * W + ox) * 3);
  };
  loaded.forEach((l, i) => {
    put(faceCrop(l.image, l.face), i + 1, 0);
    put(faceCrop(l.image, l.face), 0, i + 1);
  });
  const byName = new Map(loaded.map((l) => [l.name, l]));
  for (const r of rows) {
    // mimic keeps the template's framing, swap the reaction's.
    const frame = byName.get(r.mode === "mimic" ? r.template : r.reaction)!;
    put(faceCrop(r.image, frame.face), FILES.indexOf(r.reaction) + 1, FILES.indexOf(r.template) + 1);
  }
  return sheet;
}

function report(loaded: Loaded[], rows: Row[], sensitivity: string[], refined: boolean): string {
  const f = (v: number | undefined, d = 3) => (v === undefined || Number.isNaN(v) ? "–" : v.toFixed(d));
  const pct = (v: number | undefined) => (v === undefined ? "–" : `${Math.round(v * 100)}%`);
  const mimic = rows.filter((r) => r.mode === "mimic");
  const swap = rows.filter((r) => r.mode === "swap");
  const lines = [
    "# Expression transfer evaluation",
    "",
    `Generated by \`npm run eval\` (tools/eval) on ${new Date().toISOString().slice(0, 10)}. Fixtures: test/fixtures/faces.`,
    "",
    "Measures are taken by running face analysis again on the result (tools: src/pipeline/transfer/measure.ts):",
    "mouth opening (inner-lip gap) and mouth width in inter-ocular units, eye openness (aperture / eye width),",
    `brow height (inter-ocular units). A measure passes within ${TOLERANCE * 100} % of the reaction's value; for the`,
    `mouth opening, 15 % of max(value, ${TOLERANCE_FLOOR.mouthOpen}) (a closed mouth measures ~0.01 ± landmark noise).`,
    `Face analysis: ${refined ? "plain FaceMesh with eyelids and lips refined by the attention mesh (src/pipeline/face/refine.ts)" : "plain FaceMesh (refinement off)"}.`,
    "Identity: cosine similarity of faceres embeddings of the result to the template and to the reaction (judged only",
    "between different people). Outside: pixels changed outside the warp's anchor ring (must be 0).",
    "",
    `Summary (mimic): expression within tolerance ${mimic.filter((r) => r.expressionOk).length}/${mimic.length}, ` +
      `identity closer to template ${mimic.filter((r) => r.identityOk).length}/${mimic.filter((r) => r.identityOk !== null).length}, ` +
      `pixels changed outside the face ${mimic.reduce((s, r) => s + r.outsideChanged, 0)}; ` +
      `the engine's own output mesh within tolerance ${mimic.filter((r) => r.targetMaxError <= TOLERANCE).length}/${mimic.length}.`,
    `Per measure (mimic, re-analysed, within ${TOLERANCE * 100} %): ` +
      MEASURES.map((k) => `${k} ${mimic.filter((r) => (r.errors[k] ?? Infinity) <= TOLERANCE).length}/${mimic.length}`).join(", ") + ".",
    `Summary (swap): expression within tolerance ${swap.filter((r) => r.expressionOk).length}/${swap.length}, ` +
      `identity closer to template ${swap.filter((r) => r.identityOk).length}/${swap.filter((r) => r.identityOk !== null).length}.`,
    `Per measure (swap, re-analysed, within ${TOLERANCE * 100} %): ` +
      MEASURES.map((k) => `${k} ${swap.filter((r) => (r.errors[k] ?? Infinity) <= TOLERANCE).length}/${swap.length}`).join(", ") + ".",
    "",
    "## Inputs",
    "",
    "| face | mouthOpen | mouthWidth | eyeOpenR | eyeOpenL | browR | browL |",
    "|---|---|---|---|---|---|---|",
    ...loaded.map((l) => `| ${l.name} | ${MEASURES.map((k) => f(l.measures[k])).join(" | ")} |`),
    "",
    "## Mimic (template ← reaction): relative error per measure",
    "",
    "`target` is the largest relative error of the engine's own output mesh (its intent) against the reaction.",
    "",
    "| template | reaction | mouthOpen | mouthWidth | eyeOpenR | eyeOpenL | browR | browL | expr | target | cos(tpl) | cos(react) | identity | outside px | ms |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...mimic.map(
      (r) =>
        `| ${r.template} | ${r.reaction} | ${MEASURES.map((k) => pct(r.errors[k])).join(" | ")} | ${r.expressionOk ? "ok" : "MISS"} | ${pct(r.targetMaxError)} | ` +
        `${f(r.cosTemplate)} | ${f(r.cosReaction)} | ${r.identityOk === null ? "same person" : r.identityOk ? "ok" : "MISS"} | ${r.outsideChanged} | ${f(r.ms, 1)} |`,
    ),
    "",
    "## Swap (template's face into the reaction image): relative error per measure",
    "",
    "The swapped face wears the reaction's expression, so it is measured against the reaction like mimic. Eyes are the",
    "user's own, drawn with the reaction's lid positions (the same eyelid limits as mimic apply).",
    "",
    "| template | reaction | mouthOpen | mouthWidth | eyeOpenR | eyeOpenL | browR | browL | expr | target | cos(tpl) | cos(react) | identity | ms |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...swap.map(
      (r) =>
        `| ${r.template} | ${r.reaction} | ${MEASURES.map((k) => pct(r.errors[k])).join(" | ")} | ${r.expressionOk ? "ok" : "MISS"} | ${pct(r.targetMaxError)} | ` +
        `${f(r.cosTemplate)} | ${f(r.cosReaction)} | ${r.identityOk === null ? "same person" : r.identityOk ? "ok" : "MISS"} | ${f(r.ms, 1)} |`,
    ),
    "",
    "## How the analyser sees eyelids",
    "",
    "Each face's upper lids moved by k px in its mesh (positive: down), transferred onto itself (regions upper) and",
    `analysed again. The engine draws lids LID_GAIN (${LID_GAIN})× as far as it reads them move (src/pipeline/transfer/eyes.ts);`,
    "`follows` is the re-analysed change over the drawn change, `seen / intended` should be near 1. Mean eye openness:",
    "",
    "| face | k px | intended | drawn | re-analysed | follows | seen / intended | re-analysed, plain mesh (no refinement) |",
    "|---|---|---|---|---|---|---|---|",
    ...sensitivity,
    "",
    "Contact sheets: `contact-mimic.png`, `contact-swap.png` (rows: templates, columns: reactions, first row/column: inputs).",
    "",
  ];
  return lines.join("\n");
}

await main();
