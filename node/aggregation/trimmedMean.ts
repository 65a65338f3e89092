// Coordinate-wise trimmed mean (Yin, Chen, Ramchandran & Bartlett 2018, ICML).
import { AggregationParameterError } from "./errors.ts";
import { sortPrefix } from "./median.ts";
import { commonLength } from "./vectors.ts";

/** Throws unless beta is an integer with 0 <= beta and n > 2 beta. */
export function assertTrimParameters(n: number, beta: number): void {
  if (!Number.isInteger(beta) || beta < 0) {
    throw new AggregationParameterError(`trimmed mean: beta (values trimmed per side) must be an integer >= 0, got ${beta}`);
  }
  if (!(n > 2 * beta)) {
    throw new AggregationParameterError(`trimmed mean needs n > 2 beta, got n = ${n} and beta = ${beta}`);
  }
}

/**
 * Per coordinate: drop the `beta` largest and `beta` smallest values, average the remaining
 * n - 2 beta in float64, round once to float32.
 */
export function trimmedMean(updates: readonly Float32Array[], beta: number): Float32Array {
  const d = commonLength(updates, "trimmedMean");
  const n = updates.length;
  assertTrimParameters(n, beta);
  const out = new Float32Array(d);
  const col = new Float64Array(n);
  const keep = n - 2 * beta;
  for (let k = 0; k < d; k++) {
    for (let i = 0; i < n; i++) col[i] = updates[i][k];
    sortPrefix(col, n);
    let s = 0;
    for (let i = beta; i < n - beta; i++) s += col[i];
    out[k] = s / keep;
  }
  return out;
}
