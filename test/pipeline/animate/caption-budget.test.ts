import { describe, expect, it } from "vitest";
import { captionFrames, renderFaceMorphGif } from "../../../src/pipeline/animate/index.ts";
import { resizeImage } from "../../../src/pipeline/image/index.ts";
import { prepareCaptions } from "../../../src/pipeline/render/index.ts";
import { useFixtureFaces } from "../../helpers/fixture-faces.ts";
import { decodeGifFrames, psnr } from "../gif/helpers.ts";

/**
 * A GIF over its byte budget is scaled down by the encoder's ladder. Its captions must then be laid out at the
 * size delivered (small-caption emoji and word gaps), not drawn at the animation's size and shrunk with it.
 */
const fx = useFixtureFaces();

describe("captions of an animation scaled to fit its byte budget", () => {
  it("are drawn at the delivered size: the first frame matches captions laid out there, not shrunk ones", async () => {
    const { captions } = prepareCaptions({ top: "КОГДА ДРУГ ПИШЕТ 😂😂", bottom: "ΑΥΤΟ ΕΙΝΑΙ 🔥 OK 👍" });
    const a = fx.images.get("grace_hopper_512x512.jpg")!;
    const { gif } = await renderFaceMorphGif({
      a,
      aFace: fx.faces.get("grace_hopper_512x512.jpg")!,
      b: fx.images.get("franck_02221.jpg")!,
      bFace: fx.faces.get("franck_02221.jpg")!,
      size: 384,
      captions,
      maxBytes: 40_000,
    });
    expect(gif.bytes.length).toBeLessThanOrEqual(40_000);
    expect(gif.reductions.some((r) => r.startsWith("scaled to "))).toBe(true);
    const { width, height } = gif;
    expect(width).toBeLessThan(384);
    // The morph's first frame is `a` itself at the animation's size.
    const first = resizeImage(a, 384, 384);
    const laidOut = (await captionFrames([resizeImage(first, width, height)], captions))[0];
    const shrunk = resizeImage((await captionFrames([first], captions))[0], width, height);
    const delivered = (await decodeGifFrames(gif.bytes)).frames[0];
    // The captions are what differs between the two references; the delivered frame is much nearer the first.
    expect(psnr(delivered, laidOut)).toBeGreaterThan(psnr(delivered, shrunk) + 3);
  }, 180_000);
});
