/**
 * Fixed-point encoding in Z_(2^32): a trainer clips each coordinate of its sample-weighted delta
 * (numSamples × (local − global)) to [-range, range] and rounds v × 2^scaleBits to the nearest
 * integer (two's complement in a uint32). Sums mod 2^32 are exact as long as the true sum fits in
 * int32, which config.ts guarantees. Decoding the sum and dividing by the public total of numSamples
 * gives the FedAvg delta.
 */
import type { SecAggConfig } from "./config.ts";

export interface Quantized {
  values: Uint32Array;
  /** Coordinates that were clipped to ±range. */
  clipped: number;
}

export function quantize(weightedDelta: ArrayLike<number>, c: Pick<SecAggConfig, "range" | "scaleBits">): Quantized {
  const scale = 2 ** c.scaleBits;
  const values = new Uint32Array(weightedDelta.length);
  let clipped = 0;
  for (let i = 0; i < values.length; i++) {
    let v = weightedDelta[i];
    if (!Number.isFinite(v)) throw new RangeError(`weighted delta has a non-finite value at ${i}`);
    if (v > c.range) { v = c.range; clipped++; } else if (v < -c.range) { v = -c.range; clipped++; }
    values[i] = Math.round(v * scale) >>> 0;
  }
  return { values, clipped };
}

/** uint32 words (mod 2^32) -> signed integers. */
export function toSigned(sum: Uint32Array): Int32Array {
  return new Int32Array(sum.buffer.slice(sum.byteOffset, sum.byteOffset + sum.byteLength));
}

/**
 * The new global model from the unmasked sum: global + sum / (2^scaleBits × totalSamples), in
 * float64, rounded once to float32. Deterministic, so every aggregator and auditor gets the same bytes.
 */
export function applySum(global: Float32Array, sum: Uint32Array, totalSamples: number, scaleBits: number): Float32Array {
  if (sum.length !== global.length) throw new RangeError(`sum has ${sum.length} coordinates, the model ${global.length}`);
  if (!(totalSamples > 0)) throw new RangeError(`total samples must be > 0, got ${totalSamples}`);
  const signed = toSigned(sum);
  const div = 2 ** scaleBits * totalSamples;
  const out = new Float32Array(global.length);
  for (let i = 0; i < out.length; i++) out[i] = global[i] + signed[i] / div;
  return out;
}

/** The sample-weighted delta a trainer quantizes: numSamples × (local − global). */
export function weightedDelta(local: Float32Array, global: Float32Array, numSamples: number): Float64Array {
  const out = new Float64Array(local.length);
  for (let i = 0; i < out.length; i++) out[i] = numSamples * (local[i] - global[i]);
  return out;
}
