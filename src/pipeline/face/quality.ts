/**
 * Variance of the Laplacian (4-neighbour kernel) over the grey version of a float NHWC crop, on the
 * central `fraction` of it (the face, not the background margin). Values are on the 0..255 grey scale,
 * so a crisp face crop reads in the hundreds and a blurred one in the tens or below.
 */
export function laplacianVariance(
  crop: Float32Array,
  offset: number,
  size: number,
  valueScale: number,
  fraction = 0.6,
): number {
  const margin = Math.max(1, Math.round((size * (1 - fraction)) / 2));
  const lo = margin;
  const hi = size - margin; // exclusive
  if (hi <= lo) return 0;
  // Grey once per pixel of the region and its 1-px rim (the Laplacian reads each pixel five times).
  const g0 = lo - 1;
  const gw = hi - lo + 2;
  const grey = new Float64Array(gw * gw);
  for (let y = 0; y < gw; y++) {
    let o = offset + ((g0 + y) * size + g0) * 3;
    for (let x = 0; x < gw; x++, o += 3) grey[y * gw + x] = (0.299 * crop[o] + 0.587 * crop[o + 1] + 0.114 * crop[o + 2]) * valueScale;
  }
  let sum = 0;
  let sumSq = 0;
  for (let y = 1; y < gw - 1; y++) {
    for (let x = 1, i = y * gw + 1; x < gw - 1; x++, i++) {
      const l = grey[i - 1] + grey[i + 1] + grey[i - gw] + grey[i + gw] - 4 * grey[i];
      sum += l;
      sumSq += l * l;
    }
  }
  const n = (gw - 2) * (gw - 2);
  const mean = sum / n;
  return sumSq / n - mean * mean;
}
