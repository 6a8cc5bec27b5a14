import { describe, expect, it } from "vitest";
import {
  LM,
  blazeFaceAnchors,
  cosineSimilarity,
  decodeDetections,
  eyeOpennessLeft,
  eyeOpennessRight,
  headPose,
  iou,
  laplacianVariance,
  letterboxView,
  mouthOpenness,
  nonMaxSuppression,
  planDetectorViews,
  roiFromDetection,
  rotatedView,
  roiFromLandmarks,
  type Detection,
} from "../../../src/pipeline/face/index.ts";
import { fillDetectorInput, quickDetectorView } from "../../../src/pipeline/face/detect.ts";

describe("BlazeFace anchors", () => {
  it("has 896 anchors: 16×16×2 at stride 16, then 8×8×6 at stride 32", () => {
    const a = blazeFaceAnchors(256);
    expect(a.length).toBe(896 * 2);
    expect([a[0], a[1], a[2], a[3]]).toEqual([8, 8, 8, 8]); // two anchors share the first cell
    expect([a[4], a[5]]).toEqual([24, 8]);
    expect([a[2 * 511], a[2 * 511 + 1]]).toEqual([248, 248]);
    expect([a[2 * 512], a[2 * 512 + 1]]).toEqual([16, 16]);
    expect([a[2 * 895], a[2 * 895 + 1]]).toEqual([240, 240]);
  });
});

describe("detector decoding", () => {
  const anchors = blazeFaceAnchors(256);

  it("maps one confident anchor back through the letterbox of a wide image", () => {
    const logits = new Float32Array(896).fill(-10);
    const raw = new Float32Array(896 * 16);
    const i = 600; // second head: cell (gx, gy) = (((600-512)/6|0) % 8, ((600-512)/6|0) / 8 | 0) = (6, 1)
    const [ax, ay] = [anchors[2 * i], anchors[2 * i + 1]];
    expect([ax, ay]).toEqual([208, 48]);
    logits[i] = 2; // sigmoid 0.88
    raw.set([4, -2, 40, 50], i * 16); // centre offset, size (input px)
    raw.set([-10, -8], i * 16 + 4); // first keypoint offset
    // 1024×512 image: scale 4 image px per input px, padded 256 px above (letterbox centred).
    const view = letterboxView(1024, 512);
    const dets = decodeDetections(logits, raw, anchors, view, 1024, 512, 0.5);
    expect(dets).toHaveLength(1);
    const d = dets[0];
    expect(d.score).toBeCloseTo(1 / (1 + Math.exp(-2)), 6);
    expect(d.box.width).toBeCloseTo(160, 6);
    expect(d.box.height).toBeCloseTo(200, 6);
    expect(d.box.x + d.box.width / 2).toBeCloseTo((208 + 4) * 4, 6);
    expect(d.box.y + d.box.height / 2).toBeCloseTo((48 - 2) * 4 - 256, 6);
    expect(d.keypoints[0].x).toBeCloseTo((208 - 10) * 4, 6);
    expect(d.keypoints[0].y).toBeCloseTo((48 - 8) * 4 - 256, 6);
    expect(d.keypoints).toHaveLength(6);
    // Below the threshold nothing comes back.
    expect(decodeDetections(logits, raw, anchors, view, 1024, 512, 0.9)).toHaveLength(0);
  });

  it("maps detections from a quarter-turned view back into the upright image", () => {
    const logits = new Float32Array(896).fill(-10);
    const raw = new Float32Array(896 * 16);
    const i = 0; // anchor (8, 8)
    logits[i] = 3;
    raw.set([120, 20, 40, 60, 0, 0], 0); // box centre (128, 28) in the input, 40 wide, 60 tall; keypoint at the anchor
    const view = rotatedView(256, 256, Math.PI / 2); // the input shows the image turned a quarter turn back
    const [d] = decodeDetections(logits, raw, anchors, view, 256, 256, 0.5);
    // Input (128, 28) is image (228, 128) (input x runs down the image, input y runs right to left).
    expect(d.box.x + d.box.width / 2).toBeCloseTo(228, 6);
    expect(d.box.y + d.box.height / 2).toBeCloseTo(128, 6);
    expect(d.box.width).toBeCloseTo(60, 6);
    expect(d.box.height).toBeCloseTo(40, 6);
    expect(d.keypoints[0].x).toBeCloseTo(248, 6);
    expect(d.keypoints[0].y).toBeCloseTo(8, 6);
  });

  it("leaves big faces and faces cut by an inner tile edge to other views", () => {
    const tile = planDetectorViews(2048, 2048).find((v) => v.isTile && v.region.x > 0 && v.region.y > 0)!;
    const logits = new Float32Array(896).fill(-10);
    const raw = new Float32Array(896 * 16);
    const at = (i: number, cx: number, cy: number, size: number) => {
      logits[i] = 3;
      raw.set([cx - anchors[2 * i], cy - anchors[2 * i + 1], size, size], i * 16);
    };
    at(100, 128, 128, 60); // small, central: kept
    at(200, 128, 128, 160); // over half the tile: dropped
    at(300, 10, 128, 40); // sticks out of the tile's left edge (inside the image): dropped
    const dets = decodeDetections(logits, raw, anchors, tile, 2048, 2048, 0.5);
    expect(dets).toHaveLength(1);
    const side = tile.region.width;
    expect(dets[0].box.width).toBeCloseTo((60 * side) / 256, 6);
  });

  it("ignores non-finite and degenerate outputs", () => {
    const logits = new Float32Array(896).fill(Number.NaN);
    logits[3] = 5;
    const raw = new Float32Array(896 * 16); // zero-size box
    expect(decodeDetections(logits, raw, anchors, letterboxView(256, 256), 256, 256, 0.5)).toHaveLength(0);
  });
});

describe("quick first look (128-px detector)", () => {
  it("is planned only for photos that need no tiles", () => {
    expect(quickDetectorView(720, 576)?.inputSize).toBe(128);
    expect(quickDetectorView(2400, 1300)).toBeUndefined();
    expect(quickDetectorView(2400, 1300, { tileAbove: Infinity })?.inputSize).toBe(128);
  });

  it("fills its input with 4×4 block means of a 512² photo, and the letterbox border with black (-1)", () => {
    const w = 512;
    const h = 256;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 256; // busy, non-periodic pattern
    const out = new Float32Array(128 * 128 * 3);
    fillDetectorInput({ data, width: w, height: h }, quickDetectorView(w, h)!, out, 0, new Map());
    // The 512×256 photo sits in rows 32..95 of the 128² input; input (u, v) covers photo x 4u..4u+3, y 4(v-32)..
    for (const [u, v, c] of [
      [0, 32, 0],
      [57, 60, 1],
      [127, 95, 2],
    ]) {
      let sum = 0;
      for (let y = 4 * (v - 32); y < 4 * (v - 32) + 4; y++) for (let x = 4 * u; x < 4 * u + 4; x++) sum += data[(y * w + x) * 3 + c];
      expect(out[(v * 128 + u) * 3 + c]).toBeCloseTo((sum / 16) * (2 / 255) - 1, 5);
    }
    expect(out[(10 * 128 + 5) * 3]).toBe(-1);
    expect(out[(120 * 128 + 100) * 3 + 2]).toBe(-1);
  });
});

describe("tiling", () => {
  it("uses only the letterboxed view for small images", () => {
    expect(planDetectorViews(512, 512)).toHaveLength(1);
    expect(planDetectorViews(720, 576)).toHaveLength(1);
  });

  it("covers a large image with overlapping tiles, at most 4×4", () => {
    for (const [w, h] of [
      [2400, 1300],
      [4000, 3000],
      [12000, 800],
      [1024, 1024],
    ]) {
      const views = planDetectorViews(w, h);
      const tiles = views.filter((v) => v.isTile);
      expect(views[0].isTile).toBe(false);
      expect(tiles.length).toBeGreaterThan(1);
      expect(tiles.length).toBeLessThanOrEqual(16);
      // Every pixel lies in some tile, and adjacent tiles overlap.
      for (const [x, y] of [
        [0, 0],
        [w - 1, h - 1],
        [w / 2, h / 2],
        [w / 3, (2 * h) / 3],
      ]) {
        expect(tiles.some((t) => x >= t.region.x && x < t.region.x + t.region.width && y >= t.region.y && y < t.region.y + t.region.height)).toBe(true);
      }
      const row = tiles.filter((t) => t.region.y === 0).sort((a, b) => a.region.x - b.region.x);
      for (let i = 1; i < row.length; i++) expect(row[i].region.x).toBeLessThan(row[i - 1].region.x + row[i - 1].region.width);
    }
  });
});

const det = (x: number, y: number, s: number, score: number): Detection => ({
  box: { x, y, width: s, height: s },
  score,
  keypoints: [{ x: x + s / 3, y: y + s / 3 }],
});

describe("non-maximum suppression", () => {
  it("computes IoU", () => {
    expect(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 })).toBeCloseTo(50 / 150, 9);
    expect(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 20, y: 0, width: 10, height: 10 })).toBe(0);
  });

  it("plain NMS keeps the best of each cluster", () => {
    const out = nonMaxSuppression([det(0, 0, 100, 0.6), det(5, 5, 100, 0.9), det(500, 0, 50, 0.7)], 0.3, false);
    expect(out.map((d) => d.score)).toEqual([0.9, 0.7]);
    expect(out[0].box.x).toBe(5);
  });

  it("weighted NMS blends a cluster by score", () => {
    const out = nonMaxSuppression([det(0, 0, 100, 0.5), det(10, 10, 100, 0.5), det(500, 0, 50, 0.7)], 0.3, true);
    expect(out).toHaveLength(2);
    const merged = out.find((d) => d.box.x < 100)!;
    expect(merged.box.x).toBeCloseTo(5, 9);
    expect(merged.keypoints[0].x).toBeCloseTo(5 + 100 / 3, 9);
    expect(merged.score).toBe(0.5);
  });
});

/**
 * A synthetic "mesh": the points the geometry uses, placed on a frontal face 100 px wide, then rotated in
 * 3-D. Every other point sits at the face centre.
 */
function syntheticMesh(opts: { yaw?: number; pitch?: number; roll?: number; eyeGap?: number; mouthGap?: number } = {}): Float32Array {
  const lm = new Float32Array(468 * 3);
  const put = (i: number, x: number, y: number, z = 0) => lm.set([x, y, z], 3 * i);
  const eyeGap = opts.eyeGap ?? 6;
  // Subject's right eye on the image's left (x < 0). Eyes 20 px wide.
  put(LM.rightEyeOuter, -40, -20);
  put(LM.rightEyeInner, -20, -20);
  put(LM.leftEyeInner, 20, -20);
  put(LM.leftEyeOuter, 40, -20);
  for (const [[u, l], x] of LM.rightEyeLids.map((p, k) => [p, -35 + 5 * k] as const)) {
    put(u, x, -20 - eyeGap / 2);
    put(l, x, -20 + eyeGap / 2);
  }
  for (const [[u, l], x] of LM.leftEyeLids.map((p, k) => [p, 35 - 5 * k] as const)) {
    put(u, x, -20 - eyeGap / 2);
    put(l, x, -20 + eyeGap / 2);
  }
  put(LM.mouthRightCorner, -25, 40);
  put(LM.mouthLeftCorner, 25, 40);
  put(LM.upperInnerLip, 0, 40 - (opts.mouthGap ?? 0) / 2, -5);
  put(LM.lowerInnerLip, 0, 40 + (opts.mouthGap ?? 0) / 2, -5);
  put(LM.foreheadTop, 0, -70, -10);
  put(LM.chin, 0, 80, -10);
  const r = (d = 0) => (d * Math.PI) / 180;
  // Rotate: pitch about x (look up = top away from camera), yaw about y, roll about z, then shift.
  const [cy, sy] = [Math.cos(r(opts.yaw)), Math.sin(r(opts.yaw))];
  const [cp, sp] = [Math.cos(r(opts.pitch)), Math.sin(r(opts.pitch))];
  const [cr, sr] = [Math.cos(r(opts.roll)), Math.sin(r(opts.roll))];
  for (let i = 0; i < 468; i++) {
    let [x, y, z] = [lm[3 * i], lm[3 * i + 1], lm[3 * i + 2]];
    // pitch > 0 (looking up): the face's forward vector (0, 0, -1) gains -y (up on screen).
    [y, z] = [cp * y + sp * z, -sp * y + cp * z];
    // yaw > 0 (facing the image's right): forward gains +x.
    [x, z] = [cy * x - sy * z, sy * x + cy * z];
    [x, y] = [cr * x - sr * y, sr * x + cr * y];
    lm.set([x + 300, y + 200, z], 3 * i);
  }
  return lm;
}

describe("head pose", () => {
  it("is zero for a frontal face", () => {
    const p = headPose(syntheticMesh());
    expect(Math.abs(p.yaw)).toBeLessThan(1e-6);
    expect(Math.abs(p.roll)).toBeLessThan(1e-6);
  });

  it.each([
    { yaw: 25 },
    { yaw: -30 },
    { pitch: 20 },
    { pitch: -15 },
    { roll: 30 },
    { roll: -12 },
  ])("recovers %o", (angles) => {
    const base = headPose(syntheticMesh());
    const p = headPose(syntheticMesh(angles));
    expect(p.yaw).toBeCloseTo(angles.yaw ?? 0, 0);
    expect(p.pitch - base.pitch).toBeCloseTo(angles.pitch ?? 0, 0);
    expect(p.roll).toBeCloseTo(angles.roll ?? 0, 0);
  });

  it("keeps yaw and roll apart when both are present", () => {
    // Yaw/pitch are the facing direction, roll the on-screen eye-line angle: with both, the facing
    // direction itself is rolled, so pitch picks up a few degrees; yaw and roll stay within a degree.
    const p = headPose(syntheticMesh({ yaw: 20, roll: 10 }));
    expect(Math.abs(p.yaw - 20)).toBeLessThan(1);
    expect(Math.abs(p.roll - 10)).toBeLessThan(1);
    expect(Math.abs(p.pitch)).toBeLessThan(4);
  });
});

describe("openness measures", () => {
  it("eye openness is lid gap over eye width, per eye", () => {
    const lm = syntheticMesh({ eyeGap: 6 });
    expect(eyeOpennessLeft(lm)).toBeCloseTo(0.3, 6);
    expect(eyeOpennessRight(lm)).toBeCloseTo(0.3, 6);
    expect(eyeOpennessLeft(syntheticMesh({ eyeGap: 0 }))).toBeCloseTo(0, 6);
  });

  it("mouth openness is inner-lip gap over mouth width, and survives a head turn", () => {
    expect(mouthOpenness(syntheticMesh({ mouthGap: 0 }))).toBeCloseTo(0, 6);
    expect(mouthOpenness(syntheticMesh({ mouthGap: 20 }))).toBeCloseTo(0.4, 6);
    expect(mouthOpenness(syntheticMesh({ mouthGap: 20, yaw: 30 }))).toBeCloseTo(0.4, 6);
  });
});

describe("regions of interest", () => {
  it("detector ROI takes roll from the eye keypoints", () => {
    const roi = roiFromDetection(
      { box: { x: 100, y: 100, width: 80, height: 100 }, score: 1, keypoints: [{ x: 120, y: 130 }, { x: 160, y: 170 }] },
      1.5,
    );
    expect(roi.angle).toBeCloseTo(Math.PI / 4, 9);
    expect([roi.cx, roi.cy, roi.side]).toEqual([140, 150, 150]);
  });

  it("landmark ROI is centred on the face and rolled with it", () => {
    const roi = roiFromLandmarks(syntheticMesh({ roll: 20 }), 1);
    expect((roi.angle * 180) / Math.PI).toBeCloseTo(20, 6);
    expect(roi.side).toBeCloseTo(150, 4); // forehead (-70) to chin (80)
    expect(roi.cx).toBeCloseTo(300 - Math.sin((20 * Math.PI) / 180) * 5, 3);
  });
});

describe("sharpness", () => {
  it("is 0 on a flat crop and large on a checkerboard", () => {
    const size = 32;
    const flat = new Float32Array(size * size * 3).fill(0.5);
    expect(laplacianVariance(flat, 0, size, 255)).toBeCloseTo(0, 6);
    const checker = new Float32Array(size * size * 3);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) checker.fill((x + y) & 1, (y * size + x) * 3, (y * size + x) * 3 + 3);
    expect(laplacianVariance(checker, 0, size, 255)).toBeCloseTo((4 * 255) ** 2, -2);
  });

  it("reads exactly the central window and its 1-px rim: one bright pixel's share depends on where it lies", () => {
    // size 20, fraction 0.6: the Laplacian is taken at the 12×12 pixels [4, 16)², and reads [3, 17)².
    const size = 20;
    const n = 12 * 12;
    const v = 255;
    const at = (x: number, y: number, offset = 0) => {
      const crop = new Float32Array(offset + size * size * 3);
      crop.fill(1, offset + (y * size + x) * 3, offset + (y * size + x) * 3 + 3);
      return laplacianVariance(crop, offset, size, 255);
    };
    // Inside: −4v at the pixel and +v at its four neighbours, summing to 0.
    expect(at(9, 8)).toBeCloseTo((20 * v * v) / n, 3);
    // On the rim (left, right, top, bottom): only the neighbour inside sees it, once.
    for (const [x, y] of [[3, 8], [16, 8], [8, 3], [8, 16]]) expect(at(x, y)).toBeCloseTo((v * v) / n - (v / n) ** 2, 3);
    // Past the rim: not read at all.
    for (const [x, y] of [[2, 8], [17, 8], [8, 2], [8, 17]]) expect(at(x, y)).toBe(0);
    // A crop further along a batch (offset) reads the same.
    expect(at(16, 8, 7 * size * size * 3)).toBeCloseTo((v * v) / n - (v / n) ** 2, 3);
  });
});

describe("cosineSimilarity", () => {
  it("is 1 for parallel, 0 for orthogonal, -1 for opposite vectors", () => {
    expect(cosineSimilarity([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 9);
    expect(cosineSimilarity([1, 0], [0, 5])).toBe(0);
    expect(cosineSimilarity([1, 1], [-1, -1])).toBeCloseTo(-1, 9);
    expect(() => cosineSimilarity([1], [1, 2])).toThrow(RangeError);
  });
});
