// Krum and Multi-Krum (Blanchard, El Mhamdi, Guerraoui & Stainer 2017, NeurIPS).
import { AggregationParameterError } from "./errors.ts";
import { commonLength, squaredNorm } from "./vectors.ts";

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
 * Pairwise squared distances ||a||² + ||b||² - 2 a·b, all in float64 (products of two float32 values
 * are exact in float64). The dot products walk the vectors in cache-sized blocks with a 2 x 4
 * register tile (two rows against four columns), so each loaded element is used several times:
 * n = 100 vectors of 101,770 floats take about 0.2 s on one core.
 */
export function pairwiseSquaredDistances(updates: readonly Float32Array[]): Float64Array {
  const n = updates.length;
  const d = commonLength(updates, "pairwiseSquaredDistances");
  const norms = updates.map(squaredNorm);
  const dots = new Float64Array(n * n);
  const zero = new Float32Array(d);
  const row = (t: number): Float32Array => (t < n ? updates[t] : zero);
  const BLOCK = 2048;
  for (let start = 0; start < d; start += BLOCK) {
    const end = Math.min(d, start + BLOCK);
    for (let i = 0; i < n; i += 2) {
      const a0 = row(i), a1 = row(i + 1);
      for (let j = i; j < n; j += 4) {
        const b0 = row(j), b1 = row(j + 1), b2 = row(j + 2), b3 = row(j + 3);
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        for (let k = start; k < end; k++) {
          const x = a0[k], y = a1[k], p = b0[k], q = b1[k], r = b2[k], s = b3[k];
          s00 += x * p; s01 += x * q; s02 += x * r; s03 += x * s;
          s10 += y * p; s11 += y * q; s12 += y * r; s13 += y * s;
        }
        const tile = [s00, s01, s02, s03, s10, s11, s12, s13];
        for (let u = 0; u < 2; u++) {
          for (let v = 0; v < 4; v++) {
            const I = i + u, J = j + v;
            if (I < J && J < n) dots[I * n + J] += tile[u * 4 + v];
          }
        }
      }
    }
  }
  const dist = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      // Cancellation can make the identity slightly negative for (near-)equal vectors.
      const v = Math.max(0, norms[i] + norms[j] - 2 * dots[i * n + j]);
      dist[i * n + j] = v;
      dist[j * n + i] = v;
    }
  }
  return dist;
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
  const closest = n - f - 2;
  const scores: number[] = new Array(n);
  const row: number[] = new Array(n - 1);
  for (let i = 0; i < n; i++) {
    let c = 0;
    for (let j = 0; j < n; j++) if (j !== i) row[c++] = dist[i * n + j];
    row.sort((a, b) => a - b);
    let s = 0;
    for (let t = 0; t < closest; t++) s += row[t];
    scores[i] = s;
  }
  const selected = rankByValue(scores).slice(0, m).sort((a, b) => a - b);
  return { scores, selected };
}
