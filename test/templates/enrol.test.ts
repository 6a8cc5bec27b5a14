import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MimicError } from "../../src/errors.ts";
import { cosineSimilarity } from "../../src/pipeline/face/index.ts";
import type { AnalyzedFace } from "../../src/pipeline/types.ts";
import {
  assessEnrolment,
  DEFAULT_ENROLMENT_RULES,
  enrolFace,
  openStore,
  prepareEnrolment,
  TEMPLATE_MAX_SIDE,
  type Store,
} from "../../src/templates/index.ts";
import { TURNED_UPRIGHT_NOTE } from "../../src/templates/enrol.ts";
import { createTestDb, type TestDb } from "./helpers.ts";

const fixture = (name: string) => new Uint8Array(readFileSync(join(import.meta.dirname, "..", "fixtures", "faces", name)));

function face(overrides: { size?: number; yaw?: number; pitch?: number; roll?: number; eyes?: number; mouth?: number; sharpness?: number } = {}): AnalyzedFace {
  const size = overrides.size ?? 300;
  return {
    box: { x: 10, y: 10, width: size, height: size },
    score: 0.9,
    keypoints: [],
    landmarks: new Float32Array(468 * 3),
    meshScore: 1,
    pose: { yaw: overrides.yaw ?? 2, pitch: overrides.pitch ?? -3, roll: overrides.roll ?? 1 },
    quality: {
      faceSizePx: size,
      eyeOpennessLeft: overrides.eyes ?? 0.28,
      eyeOpennessRight: overrides.eyes ?? 0.27,
      mouthOpenness: overrides.mouth ?? 0.03,
      sharpness: overrides.sharpness ?? 250,
    },
  };
}

function refusalOf(faces: AnalyzedFace[]): MimicError {
  const v = assessEnrolment({ faces });
  if (v.ok) throw new Error("expected a refusal");
  return v.refusal;
}

describe("assessEnrolment (the pure decision)", () => {
  it("accepts one good, frontal, sharp, open-eyed face without warnings", () => {
    const v = assessEnrolment({ faces: [face()] });
    expect(v).toMatchObject({ ok: true, warnings: [], otherFaces: 0, faceIndex: 0 });
  });

  it("refuses with a message that says what to fix", () => {
    expect(refusalOf([])).toMatchObject({ code: "NO_FACE", userMessage: expect.stringMatching(/couldn't find a face/) });
    expect(refusalOf([face({ size: 50 })]).userMessage).toMatch(/^Not saved: the face is too small \(50 px across, at least 64 px needed\)\. Send a closer/);
    expect(refusalOf([face({ yaw: -38 })]).userMessage).toMatch(/^Not saved: your head is turned 38° to the side \(at most \d+°\)\. Use a photo where you face the camera\.$/);
    expect(refusalOf([face({ pitch: 31 })]).userMessage).toMatch(/tilted 31° up/);
    expect(refusalOf([face({ pitch: -31 })]).userMessage).toMatch(/tilted 31° down/);
    expect(refusalOf([face({ roll: 60 })]).userMessage).toMatch(/hold your head upright/);
    expect(refusalOf([face({ eyes: 0.05 })]).userMessage).toMatch(/eyes look closed/);
    expect(refusalOf([face({ sharpness: 12 })]).userMessage).toMatch(/too blurry/);
    for (const e of [refusalOf([face({ size: 50 })]), refusalOf([face({ yaw: 40 })])]) expect(e.code).toBe("FACE_UNUSABLE");
  });

  // Shown as they are by the bots and the playground: each says the face was not saved, in whole sentences.
  it.each([
    ["small", { size: 50 }],
    ["turned", { yaw: 40 }],
    ["tilted up", { pitch: 31 }],
    ["tilted sideways", { roll: 60 }],
    ["eyes shut", { eyes: 0.05 }],
    ["blurry", { sharpness: 12 }],
  ] as const)("a refusal for a %s face reads as a reply on its own", (_, f) => {
    const message = refusalOf([face(f)]).userMessage;
    expect(message).toMatch(/^Not saved: [a-z].*\. [A-Z][^.]*\.$/);
  });

  it("accepts the limits themselves (boundaries are inclusive)", () => {
    const r = DEFAULT_ENROLMENT_RULES;
    expect(assessEnrolment({ faces: [face({ size: r.minFaceSizePx, yaw: r.maxYawDeg, pitch: -r.maxPitchDeg, eyes: r.minEyeOpenness, sharpness: r.minSharpness })] }).ok).toBe(true);
  });

  it("a face from 64 px up is accepted; under 128 px with a note that a bigger photo is sharper", () => {
    expect(assessEnrolment({ faces: [face({ size: 64 })] })).toMatchObject({ ok: true, warnings: [expect.stringMatching(/small in this photo \(64 px\)/)] });
    expect(assessEnrolment({ faces: [face({ size: 127 })] }).warnings).toHaveLength(1);
    expect(assessEnrolment({ faces: [face({ size: 128 })] }).warnings).toEqual([]);
    expect(refusalOf([face({ size: 63 })]).userMessage).toMatch(/too small \(63 px across, at least 64 px needed\)/);
  });

  it("an open mouth is a warning, not a refusal", () => {
    const v = assessEnrolment({ faces: [face({ mouth: 0.3 })] });
    expect(v.ok).toBe(true);
    expect(v.warnings).toEqual([expect.stringMatching(/closed mouth gives the most natural results/)]);
  });

  it("takes the clearly largest of several faces and reports the others; refuses similar-sized ones", () => {
    const v = assessEnrolment({ faces: [face({ size: 150 }), face({ size: 400 }), face({ size: 140 })] });
    expect(v.ok).toBe(true);
    if (v.ok) {
      expect(v.faceIndex).toBe(1);
      expect(v.face.quality.faceSizePx).toBe(400);
    }
    expect(v.otherFaces).toBe(2);
    expect(v.warnings[0]).toMatch(/2 smaller faces were ignored/);
    expect(refusalOf([face({ size: 300 }), face({ size: 280 })]).userMessage).toMatch(/2 faces of about the same size/);
  });

  it("judges only the chosen face: a bad small face beside a good large one does not matter", () => {
    expect(assessEnrolment({ faces: [face({ size: 400 }), face({ size: 60, yaw: 80, eyes: 0 })] }).ok).toBe(true);
  });
});

describe("enrolment from real photos (face analysis stage)", () => {
  let db: TestDb;
  let store: Store;
  beforeAll(async () => {
    db = await createTestDb("sqlite", "enrol");
    store = await openStore(db.url);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it("saves a portrait frame (head and shoulders, long side ≤ 1024, orientation applied, EXIF/GPS gone), its landmarks, analysis and embedding", async () => {
    // Grace enlarged 3× on a wide canvas, stored sideways with EXIF orientation 6 and a GPS position.
    const W = 2400;
    const H = 2000;
    const big = await sharp(fixture("grace_hopper_512x512.jpg")).resize(1536, 1536).toBuffer();
    const upright = await sharp({ create: { width: W, height: H, channels: 3, background: "#506070" } }).composite([{ input: big, left: 400, top: 300 }]).png().toBuffer();
    const photo = new Uint8Array(
      await sharp(await sharp(upright).rotate(-90).toBuffer())
        .withExif({ IFD0: { Make: "TestCam" }, IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 24/1" } })
        .withMetadata({ orientation: 6 })
        .jpeg({ quality: 92 })
        .toBuffer(),
    );
    const sent = await sharp(photo).metadata();
    expect([sent.orientation, sent.width, sent.height]).toEqual([6, H, W]);
    expect(sent.exif?.toString("latin1")).toMatch(/TestCam[\s\S]*N/);
    const owner = { platform: "playground", userId: "local" };
    const { template, warnings } = await enrolFace(store.templates, owner, "Grace", photo);
    expect(warnings).toEqual([]);
    const stored = await store.templates.get(owner);
    const meta = await sharp(stored.cropPng).metadata();
    expect(meta.format).toBe("png");
    expect(meta.exif).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    expect(Math.max(meta.width!, meta.height!)).toBe(TEMPLATE_MAX_SIDE);
    expect(template).toMatchObject({ name: "grace", isDefault: true, cropSize: TEMPLATE_MAX_SIDE });
    // A frame around the face, not the whole canvas: the canvas is 1.2:1 landscape, a head-and-shoulders frame is near square.
    expect(meta.width! / meta.height!).toBeLessThan(1.1);
    expect(stored.analysis).toMatchObject({ version: 2, framing: "portrait", frame: { width: meta.width, height: meta.height }, source: { width: W, height: H } });
    expect(Math.abs((stored.analysis as { pose: { roll: number } }).pose.roll)).toBeLessThan(10); // upright: orientation was applied
    expect(Buffer.from(stored.cropPng).equals(Buffer.from(photo))).toBe(false);
    expect(stored.embedding.length).toBe(1024);
    expect(stored.landmarks.length).toBe(468 * 3);
    // Landmarks are in frame pixels: the face is centred, with room above it and shoulders below.
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let i = 0; i < stored.landmarks.length; i += 3) {
      minX = Math.min(minX, stored.landmarks[i]);
      maxX = Math.max(maxX, stored.landmarks[i]);
      minY = Math.min(minY, stored.landmarks[i + 1]);
      maxY = Math.max(maxY, stored.landmarks[i + 1]);
    }
    expect(Math.abs((minX + maxX) / 2 - meta.width! / 2)).toBeLessThan(meta.width! * 0.1);
    expect(minY).toBeGreaterThan(meta.height! * 0.1);
    expect(maxY).toBeLessThan(meta.height! * 0.75);
    expect(maxX - minX).toBeGreaterThan(meta.width! * 0.2);
    // The frame's pixels are the photo's: the face region of the frame matches the upright source there.
    const t = (stored.analysis as { cropTransform: number[] }).cropTransform;
    const srcX = (meta.width! / 2 - t[2]) / t[0];
    const srcY = (meta.height! / 2 - t[5]) / t[4];
    expect(srcX).toBeGreaterThan(400);
    expect(srcX).toBeLessThan(400 + 1536);
    expect(srcY).toBeGreaterThan(300);
  });

  it("a photo lying on its side or upside down without an EXIF turn is turned upright, saved and said; a head tilted 50° is still refused", async () => {
    for (const deg of [90, 180, 270]) {
      const turned = new Uint8Array(await sharp(fixture("grace_hopper_512x512.jpg")).rotate(deg).jpeg().toBuffer());
      expect((await sharp(turned).metadata()).orientation).toBeUndefined();
      const r = await prepareEnrolment(turned);
      expect(r.warnings, `${deg}°`).toEqual([TURNED_UPRIGHT_NOTE]);
      expect(Math.abs((r.template.analysis as { pose: { roll: number } }).pose.roll), `${deg}°`).toBeLessThan(10);
    }
    // A real tilt stays the user's to fix (and is not turned a quarter round).
    const tilted = new Uint8Array(await sharp(fixture("grace_hopper_512x512.jpg")).rotate(50, { background: "#506070" }).jpeg().toBuffer());
    await expect(prepareEnrolment(tilted)).rejects.toMatchObject({ code: "FACE_UNUSABLE", userMessage: expect.stringMatching(/tilted \d+° sideways/) });
  });

  it("accepts a 104 px face, works on it enlarged to 128 px and says a bigger photo is sharper", async () => {
    const r = await prepareEnrolment(fixture("astronaut.png"));
    expect(r.warnings).toEqual([expect.stringMatching(/small in this photo \(10\d px\).*bigger photo gives a sharper result/)]);
    const lm = r.template.landmarks;
    const src = (r.template.analysis as { quality: { faceSizePx: number } }).quality.faceSizePx;
    const k = (r.template.analysis as { cropTransform: number[] }).cropTransform[0];
    expect(src * k).toBeCloseTo(DEFAULT_ENROLMENT_RULES.smallFaceSizePx, 0);
    let minX = Infinity, maxX = -Infinity;
    for (let i = 0; i < lm.length; i += 3) {
      minX = Math.min(minX, lm[i]);
      maxX = Math.max(maxX, lm[i]);
    }
    expect(maxX - minX).toBeGreaterThan(100); // the mesh is as wide as a 128 px face's, not a 104 px one's
  });

  it("refuses a taken name, a full account or a non-image before analysing, and saves nothing", async () => {
    const owner = { platform: "discord", userId: "fastfail" };
    const photo = fixture("franck_01829.jpg");
    await enrolFace(store.templates, owner, "me", photo);
    const fail = (p: Promise<unknown>) => p.then(() => new MimicError("INTERNAL", "expected a refusal"), (e: unknown) => e as MimicError);
    const taken = await fail(enrolFace(store.templates, owner, "ME", photo));
    expect(taken.userMessage).toMatch(/already have a face named “me”/);
    const full = await fail(enrolFace(store.templates, owner, "two", photo, { maxTemplates: 1 }));
    expect(full.code).toBe("LIMIT_REACHED");
    const junk = await fail(enrolFace(store.templates, owner, "junk", new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])));
    expect(junk).toBeInstanceOf(MimicError);
    expect(["NOT_AN_IMAGE", "BAD_INPUT"]).toContain(junk.code);
    expect((await store.templates.list(owner)).map((t) => t.name)).toEqual(["me"]);
  });

  it("the stored embedding identifies the person", async () => {
    const a = await prepareEnrolment(fixture("franck_01829.jpg"));
    const b = await prepareEnrolment(fixture("franck_02221.jpg"));
    const other = await prepareEnrolment(fixture("grace_hopper_512x512.jpg"));
    expect(cosineSimilarity(a.template.embedding, b.template.embedding)).toBeGreaterThan(cosineSimilarity(a.template.embedding, other.template.embedding) + 0.2);
  });

  it("warns about an open mouth but saves", async () => {
    const r = await prepareEnrolment(fixture("franck_04117.jpg"));
    expect(r.warnings).toEqual([expect.stringMatching(/mouth is open/)]);
  });

  it("refuses a face that is too small, a blurry photo and a photo without a face, saying what to fix", async () => {
    // Through enrolFace, which saves what passes: a refusal must leave this owner with nothing saved.
    const owner = { platform: "playground", userId: "refused" };
    const refusal = (img: Uint8Array, name: string) => enrolFace(store.templates, owner, name, img).then(() => undefined, (e: unknown) => e as MimicError);
    const tiny = new Uint8Array(await sharp(fixture("grace_hopper_512x512.jpg")).resize(128, 128).png().toBuffer());
    const small = await refusal(tiny, "tiny");
    expect(small?.userMessage, String(small)).toMatch(/^Not saved: the face is too small \(\d+ px across, at least 64 px needed\)/);
    const blurred = new Uint8Array(await sharp(fixture("franck_01829.jpg")).blur(3).jpeg().toBuffer());
    expect((await refusal(blurred, "blurry"))?.userMessage).toMatch(/too blurry/);
    const blank = new Uint8Array(await sharp({ create: { width: 400, height: 300, channels: 3, background: "#808080" } }).png().toBuffer());
    expect((await refusal(blank, "blank"))?.code).toBe("NO_FACE");
    expect(await store.templates.list(owner)).toEqual([]);
    // The same owner can save a good photo afterwards (the list above was not empty by accident).
    await enrolFace(store.templates, owner, "good", fixture("franck_01829.jpg"));
    expect((await store.templates.list(owner)).map((t) => t.name)).toEqual(["good"]);
  });

  it("with two people, saves the clearly larger face and says the other was ignored", async () => {
    const big = await sharp(fixture("franck_01829.jpg")).toBuffer();
    const smallGrace = await sharp(fixture("grace_hopper_512x512.jpg")).resize(200, 200).toBuffer();
    const group = new Uint8Array(
      await sharp({ create: { width: 1000, height: 576, channels: 3, background: "#404040" } })
        .composite([
          { input: big, left: 0, top: 0 },
          { input: smallGrace, left: 760, top: 300 },
        ])
        .jpeg()
        .toBuffer(),
    );
    const r = await prepareEnrolment(group);
    expect(r.otherFaces).toBe(1);
    expect(r.warnings[0]).toMatch(/1 smaller face was ignored/);
    const alone = await prepareEnrolment(fixture("franck_01829.jpg"));
    expect(cosineSimilarity(r.template.embedding, alone.template.embedding)).toBeGreaterThan(0.9);
  });
});
