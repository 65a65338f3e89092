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
 * Rearranges buf[lo..hi] (inclusive) so that buf[k] holds the value a full ascending sort would put
 * there, everything left of k is <= it and everything right of it is >= it (Hoare quickselect,
 * median-of-three pivot; deterministic). NaN-free input only.
 */
export function selectInPlace(buf: Float64Array, lo: number, hi: number, k: number): number {
  while (hi - lo > 8) {
    const mid = (lo + hi) >> 1;
    // median of three to buf[mid]
    let a = buf[lo], b = buf[mid], c = buf[hi];
    if (b < a) { const t = a; a = b; b = t; }
    if (c < b) { b = c; if (b < a) b = a; }
    const pivot = b;
    let i = lo, j = hi;
    while (i <= j) {
      while (buf[i] < pivot) i++;
      while (buf[j] > pivot) j--;
      if (i <= j) {
        const t = buf[i]; buf[i] = buf[j]; buf[j] = t;
        i++; j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return buf[k];
  }
  for (let x = lo + 1; x <= hi; x++) {
    const v = buf[x];
    let y = x - 1;
    while (y >= lo && buf[y] > v) { buf[y + 1] = buf[y]; y--; }
    buf[y + 1] = v;
  }
  return buf[k];
}

/** Sorts buf[0..n) ascending (quicksort, insertion sort below 16; NaN-free input only). */
export function sortValues(buf: Float64Array, n: number): void {
  quicksort(buf, 0, n - 1);
}

function quicksort(buf: Float64Array, lo: number, hi: number): void {
  while (hi - lo > 16) {
    const mid = (lo + hi) >> 1;
    let a = buf[lo], b = buf[mid], c = buf[hi];
    if (b < a) { const t = a; a = b; b = t; }
    if (c < b) { b = c; if (b < a) b = a; }
    const pivot = b;
    let i = lo, j = hi;
    while (i <= j) {
      while (buf[i] < pivot) i++;
      while (buf[j] > pivot) j--;
      if (i <= j) {
        const t = buf[i]; buf[i] = buf[j]; buf[j] = t;
        i++; j--;
      }
    }
    // recurse into the smaller side, loop on the larger
    if (j - lo < hi - i) { quicksort(buf, lo, j); lo = i; } else { quicksort(buf, i, hi); hi = j; }
  }
  for (let x = lo + 1; x <= hi; x++) {
    const v = buf[x];
    let y = x - 1;
    while (y >= lo && buf[y] > v) { buf[y + 1] = buf[y]; y--; }
    buf[y + 1] = v;
  }
}

/**
 * Order statistic `pos` of column k exactly as the stable sort of `sortPrefix` places it, given its
 * value `v`: only a zero needs care, since -0 and +0 compare equal and the stable sort keeps them in
 * index order. Returns the zero of the right sign.
 */
function stableZero(updates: readonly Float32Array[], k: number, pos: number, v: number): number {
  if (v !== 0) return v;
  const n = updates.length;
  let below = 0;
  for (let i = 0; i < n; i++) if (updates[i][k] < 0) below++;
  let z = pos - below; // which zero, in index order
  for (let i = 0; i < n; i++) {
    const x = updates[i][k];
    if (x === 0 && z-- === 0) return x;
  }
  return v;
}

/** Up to this many values per coordinate, insertion sort beats quickselect (same bits either way). */
const SMALL_MEDIAN_N = 12;

/**
 * Per-coordinate median of `updates` (mean of the two middle values when n is even, computed in
 * float64 and rounded once to float32). Sample counts are ignored by design: the median is robust
 * precisely because no single peer's claim can move it.
 *
 * Quickselect per coordinate (O(n) instead of an O(n²) insertion sort); the result is the same bits
 * as sorting: order statistics are values, a zero gets the sign the stable sort would give it, and a
 * coordinate holding a NaN (or n <= 12) takes the sorting path.
 */
export function coordinateMedian(updates: readonly Float32Array[]): Float32Array {
  const d = commonLength(updates, "coordinateMedian");
  const n = updates.length;
  const out = new Float32Array(d);
  const col = new Float64Array(n);
  const h = n >> 1;
  for (let k = 0; k < d; k++) {
    let nan = false;
    for (let i = 0; i < n; i++) {
      const x = updates[i][k];
      col[i] = x;
      if (x !== x) nan = true;
    }
    if (nan || n <= SMALL_MEDIAN_N) {
      sortPrefix(col, n);
      out[k] = n % 2 === 1 ? col[h] : (col[h - 1] + col[h]) / 2;
      continue;
    }
    const hi = stableZero(updates, k, h, selectInPlace(col, 0, n - 1, h));
    if (n % 2 === 1) {
      out[k] = hi;
    } else {
      let lo = col[0];
      for (let i = 1; i < h; i++) if (col[i] > lo) lo = col[i];
      out[k] = (stableZero(updates, k, h - 1, lo) + hi) / 2;
    }
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
