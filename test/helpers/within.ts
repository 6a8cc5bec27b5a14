/** Rejects if `p` has not settled within `ms`: a hang bound, it measures nothing. */
export function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}
