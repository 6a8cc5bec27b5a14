/** Float vectors ↔ database bytes (little-endian Float32, the same on every provider). */

export function float32ToBytes(v: Float32Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(v.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) view.setFloat32(i * 4, v[i], true);
  return out;
}

export function bytesToFloat32(b: Uint8Array): Float32Array {
  if (b.byteLength % 4 !== 0) throw new Error(`float32 column has ${b.byteLength} bytes (not a multiple of 4)`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Float32Array(b.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

const DAY_MS = 86_400_000;

/** UTC day number (days since 1970-01-01): daily quotas reset at 00:00 UTC. */
export function utcDay(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

export function secondsUntilNextUtcDay(ms: number): number {
  return Math.max(1, Math.ceil(((utcDay(ms) + 1) * DAY_MS - ms) / 1000));
}
