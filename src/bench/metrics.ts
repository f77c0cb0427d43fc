// How two paths' outputs are compared: relative L2 error and top-k classes. One definition for
// `verify`, `bench` and their reports, so a figure means the same wherever it is printed.

/** ||a - b|| / ||b||; NaN or Inf outputs count as Number.MAX_VALUE (as far off as can be, and JSON-safe). */
export function relL2Error(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  const e = Math.sqrt(num / Math.max(den, 1e-300));
  return Number.isFinite(e) ? e : Number.MAX_VALUE;
}

/** Indices of the k largest scores, largest first (ties: lower index first). */
export function topClasses(v: Float32Array, k: number): number[] {
  return [...v.keys()].sort((a, b) => v[b]! - v[a]! || a - b).slice(0, k);
}
