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
  const row = size * 3;
  const grey = (x: number, y: number) => {
    const o = offset + y * row + x * 3;
    return (0.299 * crop[o] + 0.587 * crop[o + 1] + 0.114 * crop[o + 2]) * valueScale;
  };
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = lo; y < hi; y++) {
    for (let x = lo; x < hi; x++) {
      const l = grey(x - 1, y) + grey(x + 1, y) + grey(x, y - 1) + grey(x, y + 1) - 4 * grey(x, y);
      sum += l;
      sumSq += l * l;
      n++;
    }
  }
  if (n === 0) return 0;
  const mean = sum / n;
  return sumSq / n - mean * mean;
}
