// FedAvg: sample-weighted mean of client models (McMahan et al. 2017, AISTATS).
import { AggregationInputError } from "./errors.ts";
import { commonLength } from "./vectors.ts";

/**
 * Weighted mean of `updates` by `numSamples`. Inputs are consumed in index order (callers sort by
 * commit index), accumulated in float64 and rounded to float32 once at the end, so the result is
 * bit-identical on every machine that runs this code on the same inputs.
 */
export function fedAvg(updates: readonly Float32Array[], numSamples: readonly number[]): Float32Array {
  const d = commonLength(updates, "fedAvg");
  if (numSamples.length !== updates.length) {
    throw new AggregationInputError(
      `fedAvg: ${updates.length} updates but ${numSamples.length} sample counts`,
    );
  }
  let total = 0;
  for (let i = 0; i < numSamples.length; i++) {
    const n = numSamples[i];
    if (!Number.isFinite(n) || n < 0) {
      throw new AggregationInputError(`fedAvg: sample count ${i} is ${n}; must be a finite number >= 0`);
    }
    total += n;
  }
  if (!(total > 0)) throw new AggregationInputError(`fedAvg: total sample count is ${total}; must be > 0`);

  const acc = new Float64Array(d);
  for (let i = 0; i < updates.length; i++) {
    const n = numSamples[i];
    if (n === 0) continue;
    const u = updates[i];
    for (let k = 0; k < d; k++) acc[k] += n * u[k];
  }
  const out = new Float32Array(d);
  for (let k = 0; k < d; k++) out[k] = acc[k] / total;
  return out;
}
