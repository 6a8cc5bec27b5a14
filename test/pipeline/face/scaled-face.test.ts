import { describe, expect, it } from "vitest";
import { scaledFace } from "../../../src/pipeline/face/index.ts";
import { resizeImage } from "../../../src/pipeline/image/index.ts";
import { useFixtureFaces } from "../../helpers/fixture-faces.ts";

const fx = useFixtureFaces();

describe("scaledFace", () => {
  it("is the face of the resized picture: box, size and keypoints scale, the pose does not", async () => {
    const face = fx.faces.get("franck_04117.jpg")!;
    const half = scaledFace(face, 0.5);
    expect(half.box.width).toBeCloseTo(face.box.width / 2, 4);
    expect(half.quality.faceSizePx).toBeCloseTo(face.quality.faceSizePx / 2, 4);
    expect(half.keypoints[0]!.x).toBeCloseTo(face.keypoints[0]!.x / 2, 4);
    expect(half.pose.yaw).toBeCloseTo(face.pose.yaw, 4);
    expect(half.quality.mouthOpenness).toBeCloseTo(face.quality.mouthOpenness, 4);
    expect(half.irises![2]).toBeCloseTo(face.irises![2]! / 2, 4);
    // Against the analyzer's own reading of the half-size picture: the same face within a couple of pixels.
    const img = fx.images.get("franck_04117.jpg")!;
    const again = (await fx.analyzer.analyze(resizeImage(img, img.width / 2, img.height / 2))).faces[0]!;
    let far = 0;
    for (let i = 0; i < 468; i++) far = Math.max(far, Math.hypot(again.landmarks[3 * i]! - half.landmarks[3 * i]!, again.landmarks[3 * i + 1]! - half.landmarks[3 * i + 1]!));
    expect(far).toBeLessThan(4);
  });
});
