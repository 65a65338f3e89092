// Coordinate-wise trimmed mean (Yin, Chen, Ramchandran & Bartlett 2018, ICML).
import { AggregationParameterError } from "./errors.ts";
import { selectInPlace, sortPrefix, sortValues } from "./median.ts";
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

/** Up to this many values per coordinate the old insertion sort is faster (same bits either way). */
const SMALL_TRIM_N = 40;

/**
 * Per coordinate: drop the `beta` largest and `beta` smallest values, average the remaining
 * n - 2 beta in float64 (summed in ascending order), round once to float32.
 *
 * Per coordinate, two quickselects split off the trimmed values and only the kept middle is sorted
 * (quicksort), instead of an insertion sort of all n values. The bits are the same as sorting
 * everything: the kept values and their ascending order are determined by the values (equal values
 * are interchangeable, and a running sum that starts at +0 never becomes -0, so the order of -0 and
 * +0 does not matter either); a coordinate holding a NaN, or n <= 40, takes the insertion-sort path.
 */
export function trimmedMean(updates: readonly Float32Array[], beta: number): Float32Array {
  const d = commonLength(updates, "trimmedMean");
  const n = updates.length;
  assertTrimParameters(n, beta);
  const out = new Float32Array(d);
  const col = new Float64Array(n);
  const mid = new Float64Array(n);
  const keep = n - 2 * beta;
  for (let k = 0; k < d; k++) {
    let nan = false;
    for (let i = 0; i < n; i++) {
      const x = updates[i][k];
      col[i] = x;
      if (x !== x) nan = true;
    }
    let s = 0;
    if (nan || n <= SMALL_TRIM_N) {
      sortPrefix(col, n);
      for (let i = beta; i < n - beta; i++) s += col[i];
    } else {
      if (beta > 0) {
        selectInPlace(col, 0, n - 1, beta);
        selectInPlace(col, beta, n - 1, n - beta - 1);
      }
      for (let i = 0; i < keep; i++) mid[i] = col[beta + i];
      sortValues(mid, keep);
      for (let i = 0; i < keep; i++) s += mid[i];
    }
    out[k] = s / keep;
  }
  return out;
}
