/**
 * Who a result shows, by two identity judges: the engine's own faceres embedding (cosine, 1 = same direction)
 * and face-api's recognition descriptor (Euclidean distance; under SAME_PERSON_DISTANCE face-api takes two
 * faces for one person), each against the template's photo and the reaction's. The baseline is the reaction's
 * picture handed back unchanged: what a swap that did nothing would score.
 */
import { percentile } from "./ratio.ts";
import { SAME_PERSON_DISTANCE } from "./judges.ts";

/** A picture's likeness to the template's photo and to the reaction's, in one judge's unit; NaN where unread. */
export interface Likeness {
  toTemplate: number;
  toReaction: number;
}

export interface PairLikeness {
  /** faceres cosine (higher: more alike). */
  faceres: Likeness;
  /** face-api descriptor distance (lower: more alike). */
  faceApi: Likeness;
}

export const UNREAD: PairLikeness = { faceres: { toTemplate: NaN, toReaction: NaN }, faceApi: { toTemplate: NaN, toReaction: NaN } };

export interface IdentitySummary {
  pairs: number;
  faceres: { n: number; median: number; p10: number; closer: number };
  faceApi: { n: number; median: number; p90: number; same: number; closer: number };
}

const read = (l: Likeness) => Number.isFinite(l.toTemplate) && Number.isFinite(l.toReaction);
const share = (xs: boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : NaN);

/** Medians and shares over the pairs each judge read: `closer` = nearer the template's photo than the reaction's. */
export function summarizeLikeness(pairs: readonly PairLikeness[]): IdentitySummary {
  const fr = pairs.map((p) => p.faceres).filter(read);
  const fa = pairs.map((p) => p.faceApi).filter(read);
  return {
    pairs: pairs.length,
    faceres: {
      n: fr.length,
      median: percentile(fr.map((l) => l.toTemplate), 50),
      p10: percentile(fr.map((l) => l.toTemplate), 10),
      closer: share(fr.map((l) => l.toTemplate > l.toReaction)),
    },
    faceApi: {
      n: fa.length,
      median: percentile(fa.map((l) => l.toTemplate), 50),
      p90: percentile(fa.map((l) => l.toTemplate), 90),
      same: share(fa.map((l) => l.toTemplate < SAME_PERSON_DISTANCE)),
      closer: share(fa.map((l) => l.toTemplate < l.toReaction)),
    },
  };
}

/** What the identity table shows, for both REPORT.md sections. */
export const IDENTITY_NOTE = [
  "Who each result shows, by the engine's own identity model (faceres: cosine to the template's photo, which the",
  "verdict's identity floor reads) and by face-api's recognition net, which the engine never uses (descriptor",
  `distance; face-api's own rule takes two faces under ${SAME_PERSON_DISTANCE} for one person). *Nearer the template than the reaction*:`,
  "the result is more like the user's photo than the reaction's. *Baseline*: the reaction's picture handed back",
  "unchanged, what a swap that did nothing would score (mimic's no-op, the template itself, is a perfect 1 / 0).",
  "*Animated*: mimic's scorable pairs also sent as a two-frame animation, the reaction's person at rest first, and",
  "the same pairs' still results: the animation's frame also carries the expression's creases (creases.ts).",
];

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "–");
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(100 * x)} %` : "–");

/** The identity rows of mimic's pairs also sent as two-frame animations (person at rest first), still and animated. */
export function animatedIdentityRows(a: { still: readonly PairLikeness[]; animated: readonly PairLikeness[] }): { label: string; summary: IdentitySummary }[] {
  return [
    { label: "mimic, pairs also sent animated: still", summary: summarizeLikeness(a.still) },
    { label: "mimic, the same pairs: animated, person at rest first", summary: summarizeLikeness(a.animated) },
  ];
}

/** A markdown table, one row per labelled summary. */
export function identityTable(rows: readonly { label: string; summary: IdentitySummary }[]): string[] {
  return [
    `| row | pairs | faceres cosine to the template: median / 10th pct (n) | faceres: nearer the template than the reaction | face-api distance to the template: median / 90th pct (n) | face-api takes it for the template's person (< ${SAME_PERSON_DISTANCE}) | face-api: nearer the template than the reaction |`,
    "|---|---|---|---|---|---|---|",
    ...rows.map(({ label, summary: s }) =>
      `| ${label} | ${s.pairs} | ${f3(s.faceres.median)} / ${f3(s.faceres.p10)} (${s.faceres.n}) | ${pct(s.faceres.closer)} | ${f3(s.faceApi.median)} / ${f3(s.faceApi.p90)} (${s.faceApi.n}) | ${pct(s.faceApi.same)} | ${pct(s.faceApi.closer)} |`,
    ),
  ];
}
