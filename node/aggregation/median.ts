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

/**
 * For each update i, its dot product with the coordinate-wise median of the OTHER updates (float64).
 * Used as a direction test that a peer's own vector cannot sway: with a median of all updates, a
 * noisy update partly agrees with itself. One pass, sorting indices per coordinate.
 */
export function leaveOneOutMedianDots(updates: readonly Float32Array[]): Float64Array {
  const d = commonLength(updates, "leaveOneOutMedianDots");
  const n = updates.length;
  const dots = new Float64Array(n);
  if (n < 2) return dots.fill(1);
  const order = new Int32Array(n);
  const vals = new Float64Array(n);
  const m = n - 1;
  const lo = (m - 1) >> 1; // median position(s) among the m others: lo and hi
  const hi = m >> 1;
  for (let k = 0; k < d; k++) {
    for (let i = 0; i < n; i++) { vals[i] = updates[i][k]; order[i] = i; }
    for (let a = 1; a < n; a++) {
      const o = order[a];
      const v = vals[o];
      let b = a - 1;
      while (b >= 0 && (vals[order[b]] > v || (vals[order[b]] === v && order[b] > o))) { order[b + 1] = order[b]; b--; }
      order[b + 1] = o;
    }
    for (let r = 0; r < n; r++) {
      const i = order[r];
      // position p among the others is sorted position p (p < r) or p + 1 (p >= r)
      const vlo = vals[order[lo < r ? lo : lo + 1]];
      const vhi = vals[order[hi < r ? hi : hi + 1]];
      dots[i] += vals[i] * ((vlo + vhi) / 2);
    }
  }
  return dots;
}
