import type { Box, Point } from "../types.ts";

/** A face candidate from the detector, in source-image pixels. */
export interface Detection {
  box: Box;
  score: number;
  keypoints: Point[];
}

export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Non-maximum suppression. Plain: keep the best of each overlapping cluster. Weighted (MediaPipe's
 * "weighted NMS"): replace the best by the score-weighted mean of its cluster, which steadies boxes and
 * keypoints when many anchors (or several tiles) fire on one face. Result sorted by score.
 */
export function nonMaxSuppression(dets: readonly Detection[], iouThreshold: number, weighted: boolean): Detection[] {
  const order = [...dets].sort((a, b) => b.score - a.score);
  const used = new Uint8Array(order.length);
  const out: Detection[] = [];
  for (let i = 0; i < order.length; i++) {
    if (used[i]) continue;
    const best = order[i];
    used[i] = 1;
    if (!weighted) {
      for (let j = i + 1; j < order.length; j++) if (!used[j] && iou(best.box, order[j].box) > iouThreshold) used[j] = 1;
      out.push(best);
      continue;
    }
    let wsum = best.score;
    let bx = best.box.x * wsum;
    let by = best.box.y * wsum;
    let bw = best.box.width * wsum;
    let bh = best.box.height * wsum;
    const kps = best.keypoints.map((p) => ({ x: p.x * wsum, y: p.y * wsum }));
    for (let j = i + 1; j < order.length; j++) {
      if (used[j]) continue;
      const d = order[j];
      if (iou(best.box, d.box) <= iouThreshold) continue;
      used[j] = 1;
      const s = d.score;
      wsum += s;
      bx += d.box.x * s;
      by += d.box.y * s;
      bw += d.box.width * s;
      bh += d.box.height * s;
      for (let k = 0; k < kps.length; k++) {
        kps[k].x += d.keypoints[k].x * s;
        kps[k].y += d.keypoints[k].y * s;
      }
    }
    out.push({
      box: { x: bx / wsum, y: by / wsum, width: bw / wsum, height: bh / wsum },
      score: best.score,
      keypoints: kps.map((p) => ({ x: p.x / wsum, y: p.y / wsum })),
    });
  }
  return out;
}
