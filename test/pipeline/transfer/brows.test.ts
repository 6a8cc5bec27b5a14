import { describe, expect, it } from "vitest";
import { useFixtureFaces, type FixtureFace } from "../../helpers/fixture-faces.ts";
import { browEnds, withBrows, type BrowMove } from "../../helpers/brow-shapes.ts";
import { retargetExpression, transferExpression } from "../../../src/pipeline/transfer/index.ts";
import { localFrame } from "../../../src/pipeline/transfer/geometry.ts";
import { LEFT_BROW, RIGHT_BROW } from "../../../src/pipeline/warp/landmarks.ts";
import type { RgbImage } from "../../../src/pipeline/types.ts";

/**
 * Brows follow the reaction (issue 14): raised, frowning (inner ends down and drawn together), worried (inner
 * ends up), one brow alone. The dev set has no brow reaction, so these are franck_01829's own mesh with its
 * brows moved (test/helpers/brow-shapes.ts). Neither judge's brow landmarks follow a brow that was moved by
 * warping (eval/FINDINGS.md, "Brows"), so the painted result is checked by where its pixels went.
 */
const fx = useFixtureFaces();
const TEMPLATES = ["grace_hopper_512x512.jpg", "franck_01829.jpg", "astronaut.png"] as const satisfies readonly FixtureFace[];
const FROWN: Partial<BrowMove> = { innerUp: -0.04, innerIn: 0.03 };
const WORRIED: Partial<BrowMove> = { innerUp: 0.04 };
const RAISED: Partial<BrowMove> = { innerUp: 0.05, outerUp: 0.05 };

/** Each brow end's motion from the template to the retargeted mesh, inter-ocular units: up, and towards the midline. */
function endMotion(t: FixtureFace, reaction: Float32Array) {
  const tpl = fx.faces.get(t)!.landmarks;
  const a = browEnds(tpl), b = browEnds(retargetExpression(tpl, reaction, { intensity: 1, regions: "all" }), tpl);
  const motion = (side: "right" | "left", end: "inner" | "outer") => ({
    up: a[side][end][1] - b[side][end][1],
    in: (side === "right" ? 1 : -1) * (b[side][end][0] - a[side][end][0]),
  });
  return { right: { inner: motion("right", "inner"), outer: motion("right", "outer") }, left: { inner: motion("left", "inner"), outer: motion("left", "outer") } };
}

describe("brows in the retargeted mesh", () => {
  const reaction = (m: Partial<BrowMove>, left: Partial<BrowMove> = m) => withBrows(fx.faces.get("franck_01829.jpg")!.landmarks, m, left);

  // Before the brows' shape was part of the expression, a frown lowered both ends evenly by 0.011–0.024 and
  // drew nothing in; a worried face lifted both ends by 0.009–0.024.
  it.each(TEMPLATES)("%s frowns: inner ends down and drawn together, outer ends stay", (t) => {
    const m = endMotion(t, reaction(FROWN));
    for (const side of [m.right, m.left]) {
      expect(side.inner.up).toBeLessThan(-0.03);
      expect(side.inner.up).toBeGreaterThan(-0.06);
      expect(side.inner.in).toBeGreaterThan(0.0225);
      expect(side.inner.in).toBeLessThan(0.05);
      expect(Math.abs(side.outer.up)).toBeLessThan(0.015);
    }
  });

  it.each(TEMPLATES)("%s looks worried: inner ends up, outer ends stay", (t) => {
    const m = endMotion(t, reaction(WORRIED));
    for (const side of [m.right, m.left]) {
      expect(side.inner.up).toBeGreaterThan(0.03);
      expect(side.inner.up).toBeLessThan(0.06);
      expect(Math.abs(side.inner.in)).toBeLessThan(0.015);
      expect(Math.abs(side.outer.up)).toBeLessThan(0.015);
    }
  });

  // The brow's height is still read in the template's proportions (eval/FINDINGS.md, "Brows"): on the
  // astronaut the raised brow's outer end comes out at 0.034 of 0.05.
  it.each(TEMPLATES)("%s raises one brow: that brow rises whole, the other stays", (t) => {
    const m = endMotion(t, reaction(RAISED, {}));
    expect(m.right.inner.up).toBeGreaterThan(0.03);
    expect(m.right.outer.up).toBeGreaterThan(0.03);
    expect(Math.abs(m.left.inner.up)).toBeLessThan(0.015);
    expect(Math.abs(m.left.outer.up)).toBeLessThan(0.015);
  });

  // A bad mesh must not fling the brows: an inner end read on its outer end (before the shape was bounded the
  // template's inner ends jumped 0.46), or one read past the midline (one brow slid outwards as the other came in).
  it.each([
    ["inner ends on the outer ends", { innerIn: 0.5 }],
    ["the right inner end past the midline", null],
  ] as const)("a degenerate reaction brow (%s) moves the brows by a bounded amount, both sides alike", (_, m) => {
    const lm = fx.faces.get("franck_01829.jpg")!.landmarks;
    const bad = m ? withBrows(lm, m) : withBrows(lm, { innerIn: 0.185 }, {});
    for (const t of TEMPLATES) {
      const got = endMotion(t, bad);
      for (const end of [got.right.inner, got.right.outer, got.left.inner, got.left.outer]) {
        expect(Math.abs(end.up), t).toBeLessThan(0.12);
        expect(Math.abs(end.in), t).toBeLessThan(0.12);
      }
      // Not one brow in and the other out (a product of two motions of 0.003 or more in opposite directions).
      expect(got.right.inner.in * got.left.inner.in, t).toBeGreaterThan(-1e-5);
    }
  });

  it("a neutral reaction's own brow shape barely moves another person's brows (the rest point's cost)", () => {
    const neutral = ["grace_hopper_512x512.jpg", "franck_01829.jpg", "astronaut.png"] as const;
    for (const r of neutral) {
      for (const t of TEMPLATES) {
        const m = endMotion(t, fx.faces.get(r)!.landmarks);
        for (const end of [m.right.inner, m.right.outer, m.left.inner, m.left.outer]) {
          expect(Math.abs(end.up), `${t} ← ${r}`).toBeLessThan(0.025);
          expect(Math.abs(end.in), `${t} ← ${r}`).toBeLessThan(0.015);
        }
      }
    }
  });
});

describe("brows in the painted result", () => {
  const lum = (im: RgbImage, x: number, y: number) => {
    const x0 = Math.floor(x), y0 = Math.floor(y), fx_ = x - x0, fy = y - y0;
    const at = (xx: number, yy: number) => {
      const p = (yy * im.width + xx) * 3;
      return 0.299 * im.data[p]! + 0.587 * im.data[p + 1]! + 0.114 * im.data[p + 2]!;
    };
    return (at(x0, y0) * (1 - fx_) + at(x0 + 1, y0) * fx_) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx_) + at(x0 + 1, y0 + 1) * fx_) * fy;
  };
  /**
   * Where the picture around landmark i went between the template and the result, in the template's face frame
   * (inter-ocular units, x towards the subject's left, y down): the shift that best matches a patch of 0.16
   * inter-ocular around it (least squares over a grid of shifts 0.005 apart). The frown's outer-end bound is a grid step
   * wider than the mesh's motion there (up to 0.012).
   */
  const shiftAt = (before: RgbImage, after: RgbImage, lm: Float32Array, i: number): [number, number] => {
    const { axes: ax, unit: u } = localFrame(lm);
    const cx = lm[3 * i]!, cy = lm[3 * i + 1]!, half = 0.08 * u, step = Math.max(0.5, half / 12);
    let best: [number, number] = [0, 0], bestErr = Infinity;
    for (let iy = -14; iy <= 14; iy++) {
      for (let ix = -14; ix <= 14; ix++) {
        const sx = ix * 0.005, sy = iy * 0.005;
        let err = 0;
        for (let a = -half; a <= half; a += step) {
          for (let b = -half; b <= half; b += step) {
            const x = cx + ax[0]! * a + ax[3]! * b, y = cy + ax[1]! * a + ax[4]! * b;
            err += (lum(after, x + (ax[0]! * sx + ax[3]! * sy) * u, y + (ax[1]! * sx + ax[4]! * sy) * u) - lum(before, x, y)) ** 2;
          }
        }
        if (err < bestErr) [bestErr, best] = [err, [sx, sy]];
      }
    }
    return best;
  };
  const paint = (t: FixtureFace, m: Partial<BrowMove>) => {
    const reaction = fx.faces.get("franck_01829.jpg")!;
    const img = fx.images.get(t)!, face = fx.faces.get(t)!;
    const res = transferExpression({ template: img, templateFace: face, reaction: fx.images.get("franck_01829.jpg")!, reactionFace: { ...reaction, landmarks: withBrows(reaction.landmarks, m) } });
    const at = (i: number) => shiftAt(img, res.image, face.landmarks, i);
    // up, and towards the midline (the subject's right brow is at negative x)
    const end = (i: number, side: 1 | -1) => {
      const [x, y] = at(i);
      return { up: -y, in: side * x };
    };
    return { right: { inner: end(RIGHT_BROW[4], 1), outer: end(RIGHT_BROW[0], 1) }, left: { inner: end(LEFT_BROW[4], -1), outer: end(LEFT_BROW[0], -1) } };
  };

  it.each(TEMPLATES)("%s frowns: the skin at the inner brow ends moves down and in, at the outer ends it stays", (t) => {
    const m = paint(t, FROWN);
    for (const side of [m.right, m.left]) {
      expect(side.inner.up).toBeLessThanOrEqual(-0.02);
      expect(side.inner.up).toBeGreaterThanOrEqual(-0.06);
      expect(side.inner.in).toBeGreaterThanOrEqual(0.02);
      expect(side.inner.in).toBeLessThanOrEqual(0.05);
      expect(Math.abs(side.outer.up)).toBeLessThanOrEqual(0.02);
    }
  });

  it.each(TEMPLATES)("%s looks worried: the skin at the inner brow ends moves up", (t) => {
    const m = paint(t, WORRIED);
    for (const side of [m.right, m.left]) {
      expect(side.inner.up).toBeGreaterThanOrEqual(0.02);
      expect(side.inner.up).toBeLessThanOrEqual(0.06);
      expect(Math.abs(side.inner.in)).toBeLessThanOrEqual(0.015);
      expect(Math.abs(side.outer.up)).toBeLessThanOrEqual(0.015);
    }
  });
});
