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

  // acc[k] = ((0 + n_0 u_0[k]) + n_1 u_1[k]) + ... over the updates with n_i > 0, in index order:
  // the same float64 operations as a plain update-by-update loop (so the same bits), but done a
  // block of coordinates at a time, four updates per pass, to keep acc in cache and in registers.
  const live: number[] = [];
  for (let i = 0; i < updates.length; i++) if (numSamples[i] !== 0) live.push(i);
  const acc = new Float64Array(d);
  const BLOCK = 4096;
  for (let start = 0; start < d; start += BLOCK) {
    const end = Math.min(d, start + BLOCK);
    let t = 0;
    for (; t + 4 <= live.length; t += 4) {
      const a = updates[live[t]], b = updates[live[t + 1]], c = updates[live[t + 2]], e = updates[live[t + 3]];
      const na = numSamples[live[t]], nb = numSamples[live[t + 1]], nc = numSamples[live[t + 2]], ne = numSamples[live[t + 3]];
      for (let k = start; k < end; k++) acc[k] = acc[k] + na * a[k] + nb * b[k] + nc * c[k] + ne * e[k];
    }
    for (; t < live.length; t++) {
      const a = updates[live[t]], na = numSamples[live[t]];
      for (let k = start; k < end; k++) acc[k] += na * a[k];
    }
  }
  const out = new Float32Array(d);
  for (let k = 0; k < d; k++) out[k] = acc[k] / total;
  return out;
}
