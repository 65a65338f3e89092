// Krum and Multi-Krum (Blanchard, El Mhamdi, Guerraoui & Stainer 2017, NeurIPS).
import { AggregationParameterError } from "./errors.ts";
import { distancesFromGram } from "./gram.ts";
import { commonLength } from "./vectors.ts";

export interface KrumResult {
  /** Krum score of each update: sum of squared distances to its n - f - 2 nearest other updates. */
  scores: number[];
  /** Indices of the m best-scored updates (ties by lower index), in ascending index order. */
  selected: number[];
}

/** Throws unless Krum's precondition n > 2f + 2 holds and f is a non-negative integer. */
export function assertKrumParameters(n: number, f: number): void {
  if (!Number.isInteger(f) || f < 0) {
    throw new AggregationParameterError(`Krum: f must be an integer >= 0, got ${f}`);
  }
  if (!(n > 2 * f + 2)) {
    throw new AggregationParameterError(`Krum needs n > 2f + 2, got n = ${n} and f = ${f} (need n >= ${2 * f + 3})`);
  }
}

/**
 * Pairwise squared distances ||a||² + ||b||² - 2 a·b through one Gram matrix (gram.ts): float64
 * accumulation in a fixed block/lane order, a WebAssembly SIMD kernel when available (bit-identical
 * JS fallback otherwise), near-identical pairs recomputed directly to avoid cancellation, clamped at 0.
 */
export function pairwiseSquaredDistances(updates: readonly Float32Array[]): Float64Array {
  commonLength(updates, "pairwiseSquaredDistances");
  return distancesFromGram(updates);
}

/**
 * Krum score of each row of an n x n distance matrix: the sum, in ascending order, of the `closest`
 * smallest off-diagonal entries. The row is sorted in a Float64Array (n <= a few hundred: this is
 * well under a millisecond at n = 100, against ~10^9 flops for the distances).
 */
export function krumScores(dist: Float64Array, n: number, closest: number): number[] {
  const scores: number[] = new Array(n);
  const row = new Float64Array(n - 1);
  for (let i = 0; i < n; i++) {
    let c = 0;
    for (let j = 0; j < n; j++) if (j !== i) row[c++] = dist[i * n + j];
    row.sort();
    let s = 0;
    for (let t = 0; t < closest; t++) s += row[t];
    scores[i] = s;
  }
  return scores;
}

/** Indices sorted by ascending value, ties by lower index. */
export function rankByValue(values: readonly number[]): number[] {
  return values.map((_, i) => i).sort((a, b) => values[a] - values[b] || a - b);
}

/**
 * Krum scores and the m best-scored updates (m = 1: Krum; m > 1: Multi-Krum). Requires
 * n > 2f + 2 and 1 <= m <= n - f. Deterministic: ties are broken by index.
 */
export function krum(updates: readonly Float32Array[], f: number, m = 1): KrumResult {
  const n = updates.length;
  assertKrumParameters(n, f);
  if (!Number.isInteger(m) || m < 1 || m > n - f) {
    throw new AggregationParameterError(`Multi-Krum: m must be an integer in [1, n - f] = [1, ${n - f}], got ${m}`);
  }
  const dist = pairwiseSquaredDistances(updates);
  const scores = krumScores(dist, n, n - f - 2);
  const selected = rankByValue(scores).slice(0, m).sort((a, b) => a - b);
  return { scores, selected };
}
