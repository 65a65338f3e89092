// Coordinate-wise median (Yin, Chen, Ramchandran & Bartlett 2018, ICML).
import { commonLength } from "./vectors.ts";

/** Sorts the first `n` entries of `buf` ascending in place (insertion sort: n is the peer count). */
export function sortPrefix(buf: Float64Array, n: number): void {
  for (let a = 1; a < n; a++) {
    const v = buf[a];
    let b = a - 1;
    while (b >= 0 && buf[b] > v) { buf[b + 1] = buf[b]; b--; }
    buf[b + 1] = v;
  }
}

/**
 * Per-coordinate median of `updates` (mean of the two middle values when n is even, computed in
 * float64 and rounded once to float32). Sample counts are ignored by design: the median is robust
 * precisely because no single peer's claim can move it.
 */
export function coordinateMedian(updates: readonly Float32Array[]): Float32Array {
  const d = commonLength(updates, "coordinateMedian");
  const n = updates.length;
  const out = new Float32Array(d);
  const col = new Float64Array(n);
  const h = n >> 1;
  for (let k = 0; k < d; k++) {
    for (let i = 0; i < n; i++) col[i] = updates[i][k];
    sortPrefix(col, n);
    out[k] = n % 2 === 1 ? col[h] : (col[h - 1] + col[h]) / 2;
  }
  return out;
}
