/**
 * BlazeFace anchor grid (the SSD anchors MediaPipe's face detector was trained with): for a 256-px input,
 * a 16×16 grid with 2 anchors per cell (stride 16) followed by an 8×8 grid with 6 per cell (stride 32),
 * 896 in all. Each anchor is a cell centre in input pixels, stored as interleaved x, y.
 */
export function blazeFaceAnchors(inputSize = 256): Float32Array {
  const layers = [
    { stride: inputSize / 16, perCell: 2 },
    { stride: inputSize / 8, perCell: 6 },
  ];
  let count = 0;
  for (const l of layers) count += Math.ceil(inputSize / l.stride) ** 2 * l.perCell;
  const out = new Float32Array(count * 2);
  let i = 0;
  for (const { stride, perCell } of layers) {
    const cells = Math.ceil(inputSize / stride);
    for (let gy = 0; gy < cells; gy++) {
      for (let gx = 0; gx < cells; gx++) {
        for (let n = 0; n < perCell; n++) {
          out[i++] = stride * (gx + 0.5);
          out[i++] = stride * (gy + 0.5);
        }
      }
    }
  }
  return out;
}
