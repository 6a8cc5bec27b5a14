/**
 * Whose lips a result shows (issue 14: "the lips keep the template's colour and thickness"). Each judge reads,
 * from its own landmarks, the lips' thickness (the upper and the lower lip's heights at the middle columns, in
 * the face's inter-ocular units) and their tint (the chromaticity of the lips' middle band less the cheeks': a
 * light's gain and shading cancel, so a photo's lighting does not count as lip colour). A result keeps the
 * template's lips when it is nearer what the template's lips should become than the reaction's lips: the
 * template's, changed as the reaction's person's changed from their own neutral photo (a wide smile thins and
 * pales the lips). The baseline is the reaction's picture itself.
 */
import { LIPS_INNER_LOWER, LIPS_INNER_UPPER, LIPS_OUTER_LOWER, LIPS_OUTER_UPPER } from "../../src/pipeline/warp/landmarks.ts";
import { insidePolygon, type LocalFrame, toLocal } from "../../src/pipeline/transfer/geometry.ts";
import type { RgbImage } from "../../src/pipeline/types.ts";
import { percentile } from "./ratio.ts";

/** Where a judge's layout keeps the lips and the cheeks (indices into its landmark list). */
export interface LipLayout {
  /** [outer edge, inner edge] of the upper lip, column by column from corner to corner; likewise the lower lip. */
  upper: readonly (readonly [number, number])[];
  lower: readonly (readonly [number, number])[];
  /** Two cheek quads (each: under the eye, beside the nose wing, at the mouth corner, at the jaw). */
  cheeks: readonly (readonly [number, number, number, number])[];
}

export interface Lips {
  /** Vermilion heights, inter-ocular units. */
  upper: number;
  lower: number;
  /** The lips' chromaticity, ln(R/G) and ln(B/G), less the cheeks'; undefined where a region has too few pixels. */
  tint?: [number, number];
}

/** Below this many pixels a region's median colour is not read. */
const MIN_PIXELS = 12;
/** The lip colour is read on the middle of each lip (this share of its height), clear of teeth and skin. */
const LIP_CORE = 0.5;
/** The cheek quad is shrunk towards its centre by this much, to keep off the lid, the nose wing and the jaw line. */
const CHEEK_CORE = 0.5;

export function readLips(img: RgbImage, mesh: Float32Array, layout: LipLayout, frame: LocalFrame): Lips {
  const loc = toLocal(frame, mesh);
  const height = (cols: LipLayout["upper"]) => {
    const mid = cols.slice((cols.length >> 1) - 1, (cols.length >> 1) + 2);
    let s = 0;
    for (const [a, b] of mid) s += Math.hypot(loc[3 * a]! - loc[3 * b]!, loc[3 * a + 1]! - loc[3 * b + 1]!);
    return s / mid.length;
  };
  const { lips, cheeks } = lipRegions(mesh, layout);
  const chroma = (c: [number, number, number] | undefined) => c && [Math.log((c[0] + 1) / (c[1] + 1)), Math.log((c[2] + 1) / (c[1] + 1))];
  const lip = chroma(medianColour(img, lips)), cheek = chroma(medianColour(img, cheeks));
  return { upper: height(layout.upper), lower: height(layout.lower), tint: lip && cheek ? [lip[0]! - cheek[0]!, lip[1]! - cheek[1]!] : undefined };
}

/** The polygons (x,y pairs, image pixels) readLips samples: the middle band of each lip, and the cheek cores. */
export function lipRegions(mesh: Float32Array, layout: LipLayout): { lips: Float32Array[]; cheeks: Float32Array[] } {
  const at = (i: number, k: 0 | 1) => mesh[3 * i + k]!;
  const band = (cols: LipLayout["upper"]) => {
    const poly = new Float32Array(cols.length * 4);
    const lo = (1 - LIP_CORE) / 2, hi = 1 - lo;
    cols.forEach(([o, i], k) => {
      const back = 2 * (2 * cols.length - 1 - k);
      for (const c of [0, 1] as const) {
        poly[2 * k + c] = at(o, c) + (at(i, c) - at(o, c)) * lo;
        poly[back + c] = at(o, c) + (at(i, c) - at(o, c)) * hi;
      }
    });
    return poly;
  };
  const quad = (idx: readonly number[]) => {
    let cx = 0, cy = 0;
    for (const i of idx) (cx += at(i, 0)), (cy += at(i, 1));
    (cx /= idx.length), (cy /= idx.length);
    const poly = new Float32Array(idx.length * 2);
    idx.forEach((i, k) => {
      poly[2 * k] = cx + (at(i, 0) - cx) * (1 - CHEEK_CORE);
      poly[2 * k + 1] = cy + (at(i, 1) - cy) * (1 - CHEEK_CORE);
    });
    return poly;
  };
  return { lips: [band(layout.upper), band(layout.lower)], cheeks: layout.cheeks.map(quad) };
}

/** Per-channel median of the pixels inside any of the polygons (and passing `keep`); undefined if too few. */
function medianColour(img: RgbImage, polys: Float32Array[]): [number, number, number] | undefined {
  const hist = [new Uint32Array(256), new Uint32Array(256), new Uint32Array(256)];
  let n = 0;
  for (const poly of polys) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let k = 0; k < poly.length; k += 2) {
      (x0 = Math.min(x0, poly[k]!)), (x1 = Math.max(x1, poly[k]!));
      (y0 = Math.min(y0, poly[k + 1]!)), (y1 = Math.max(y1, poly[k + 1]!));
    }
    for (let y = Math.max(0, Math.ceil(y0)); y <= Math.min(img.height - 1, Math.floor(y1)); y++) {
      for (let x = Math.max(0, Math.ceil(x0)); x <= Math.min(img.width - 1, Math.floor(x1)); x++) {
        if (!insidePolygon(poly, x, y)) continue;
        const o = (y * img.width + x) * 3;
        for (let c = 0; c < 3; c++) hist[c]![img.data[o + c]!]!++;
        n++;
      }
    }
  }
  if (n < MIN_PIXELS) return undefined;
  return hist.map((h) => {
    let seen = 0;
    for (let v = 0; v < 256; v++) if ((seen += h[v]!) * 2 >= n) return v;
    return 255;
  }) as [number, number, number];
}

/** The lips of a scorable pair's pictures (neutral template, reaction with a neutral photo) as one judge read them. */
export interface LipPair {
  template: Lips;
  reaction: Lips;
  neutral: Lips;
  out: Lips;
}

/** How far a judge's lip readings move when only the picture around the face changes (tools/eval/noise.ts). */
export interface LipFloors {
  tint: number;
  /** Of ln(thickness), upper and lower lip together. */
  thickness: number;
}

/**
 * Each reading as a point (tint; ln thickness of the upper and the lower lip), and where the template's lips
 * should land: the template's, changed as the reaction's person's changed from their neutral photo (a wide
 * smile thins and pales the lips).
 */
const tintOf = (l: Lips) => l.tint!;
const thicknessOf = (l: Lips) => [Math.log(l.upper), Math.log(l.lower)];
const expected = (p: LipPair, of: (l: Lips) => number[]) => of(p.template).map((v, k) => v + of(p.reaction)[k]! - of(p.neutral)[k]!);
const dist = (a: readonly number[], b: readonly number[]) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!);

export interface LipFigure {
  /** Pairs read, median and 90th percentile of |out − expected|. */
  n: number;
  median: number;
  p90: number;
  /** Pairs whose expected lips and the reaction's differ beyond the floor, and the share where the result is nearer the expected. */
  counted: number;
  nearer: number;
}

export interface LipSummary {
  pairs: number;
  tint: LipFigure;
  thickness: LipFigure;
}

/** One labelled row of the lips table (a mode and judge, the engine's lip points, or a baseline). */
export interface LipRow {
  label: string;
  summary: LipSummary;
}

const share = (xs: boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : NaN);

function figure(pairs: readonly LipPair[], of: (l: Lips) => number[], floor: number): LipFigure {
  const err = pairs.map((p) => dist(of(p.out), expected(p, of)));
  const counted = pairs.filter((p) => dist(of(p.reaction), expected(p, of)) > floor);
  return {
    n: pairs.length,
    median: percentile(err, 50),
    p90: percentile(err, 90),
    counted: counted.length,
    nearer: share(counted.map((p) => dist(of(p.out), expected(p, of)) < dist(of(p.out), of(p.reaction)))),
  };
}

export function summarizeLips(pairs: readonly LipPair[], floors: LipFloors): LipSummary {
  const all = [(p: LipPair) => p.template, (p: LipPair) => p.reaction, (p: LipPair) => p.neutral, (p: LipPair) => p.out];
  return {
    pairs: pairs.length,
    tint: figure(pairs.filter((p) => all.every((f) => f(p).tint)), tintOf, floors.tint),
    thickness: figure(pairs.filter((p) => all.every((f) => f(p).upper > 0 && f(p).lower > 0)), thicknessOf, floors.thickness),
  };
}

/** Floors from the re-readings of the same photos: FLOOR_MULTIPLE × the 90th percentile of the changes. */
export function lipFloors(pairs: readonly { original: Lips; again: Lips }[], multiple: number): LipFloors {
  const tints = pairs.filter((p) => p.original.tint && p.again.tint).map((p) => dist(p.again.tint!, p.original.tint!));
  const thick = pairs.filter((p) => [p.original, p.again].every((l) => l.upper > 0 && l.lower > 0)).map((p) => dist(thicknessOf(p.again), thicknessOf(p.original)));
  return { tint: multiple * percentile(tints, 90), thickness: multiple * percentile(thick, 90) };
}

/** Both REPORT.md sections' note above the lips table. */
export const LIPS_NOTE = [
  "Whose lips each result shows, each judge reading them from its own landmarks, on the pairs with a transfer ratio",
  "whose template and reaction show two different people.",
  "*Tint*: the chromaticity (ln R/G, ln B/G) of the lips' middle band less the cheeks' (a light's gain cancels; 0.1",
  "is about a 10 % difference in hue). *Thickness*: the upper and the lower lip's heights at the middle, as",
  "logarithms. *Error*: the result's distance from the template's lips changed as the reaction's person's changed",
  "from their own neutral photo (a wide smile thins and pales lips). *Nearer the template's*: among the pairs whose",
  "template's lips so changed and the reaction's differ beyond the judge's noise floor (2 × the 90th percentile",
  "over the same photos shifted, rescaled, mirrored, re-encoded), the share whose result is nearer the template's.",
  "*Engine's lip points* (not in the verdict): the result's pixels read where the engine put the lips, the photos",
  "by the analyzer: the result's lips without a judge's landmark placement on drawn lips. *Animated* (not in the",
  "verdict): mimic's pairs also sent as a two-frame animation, the reaction's person at rest first, beside the same",
  "pairs' stills: the animation's frame also takes on the lips' change of colour from that rest picture",
  "(lip-colour.ts). *Baseline*: the reaction's picture handed back unchanged, which must score 0 %.",
];

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "–");
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(100 * x)} %` : "–");

const cells = (f: LipFigure) => `${f3(f.median)} / ${f3(f.p90)} (${f.n}) | ${pct(f.nearer)} (${f.counted})`;

export function lipsTable(rows: readonly LipRow[]): string[] {
  return [
    "| row | pairs | tint error: median / 90th pct (n) | nearer the template's tint (pairs counted) | thickness error: median / 90th pct (n) | nearer the template's thickness (pairs counted) |",
    "|---|---|---|---|---|---|",
    ...rows.map(({ label, summary: s }) => `| ${label} | ${s.pairs} | ${cells(s.tint)} | ${cells(s.thickness)} |`),
  ];
}

/** The project analyzer's 468-point layout. */
export const LIPS_468: LipLayout = {
  upper: LIPS_OUTER_UPPER.map((o, k) => [o, LIPS_INNER_UPPER[k]!] as const),
  lower: LIPS_OUTER_LOWER.map((o, k) => [o, LIPS_INNER_LOWER[k]!] as const),
  cheeks: [
    [145, 98, 61, 132],
    [374, 327, 291, 361],
  ],
};

/** face-api's 68-point layout (outer lips 48–59, inner 60–67; 0-based), columns matched corner to corner. */
export const LIPS_68: LipLayout = {
  upper: [[48, 60], [49, 61], [50, 61], [51, 62], [52, 63], [53, 63], [54, 64]],
  lower: [[48, 60], [59, 67], [58, 67], [57, 66], [56, 65], [55, 65], [54, 64]],
  cheeks: [
    [41, 31, 48, 2],
    [46, 35, 54, 14],
  ],
};
