// Example-level DP-SGD (Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar & Zhang 2016, "Deep Learning
// with Differential Privacy"): the pure parts — parameters, Poisson sampling, the noise added to a
// sum of clipped per-example gradients, and the privacy accounting of a peer's local steps.
// No tfjs here; the per-example gradient step itself is in dpsgd-step.ts.
//
// Privacy unit: one training example of a peer's shard (add/remove one example). Each step samples
// every example independently with probability q = expectedBatchSize / N (Poisson sampling), sums
// the per-example gradients clipped to L2 norm C, adds N(0, (sigma C)^2) to every coordinate and
// divides by the EXPECTED batch size q N, not the realized one (the realized size depends on whether
// the example is in the batch, so dividing by it would change the sensitivity). Each step is then the
// Poisson-subsampled Gaussian mechanism of Mironov, Talwar & Zhang 2019, accounted by RdpAccountant.
import { randomFillSync } from "node:crypto";
import { RdpAccountant, noiseMultiplierFor, type NoiseSearchOptions, type RdpConversion } from "./accountant.ts";
import { PrivacyParameterError } from "./errors.ts";
import type { GaussianSource } from "./gaussian.ts";

/** What a trainer needs to run DP-SGD (the on-the-wire option; sources are added by the caller). */
export interface ExampleDpOptions {
  /** L2 bound C on each example's gradient (all trainable tensors together). */
  clipNorm: number;
  /** sigma: the noise std on the sum of clipped gradients is sigma * C. */
  noiseMultiplier: number;
  /** Expected examples per step, q N; the sum is divided by this (not by the realized batch size). */
  expectedBatchSize: number;
}

/** A generator of uniform floats in [0, 1). */
export type UniformSource = () => number;

/** Throws unless C > 0, sigma >= 0 and the expected batch is a positive number, all finite. */
export function assertExampleDpOptions(o: ExampleDpOptions): void {
  if (typeof o !== "object" || o === null) throw new PrivacyParameterError(`exampleDp must be an object, got ${String(o)}`);
  if (typeof o.clipNorm !== "number" || !Number.isFinite(o.clipNorm) || !(o.clipNorm > 0)) {
    throw new PrivacyParameterError(`exampleDp.clipNorm must be a finite number > 0, got ${o.clipNorm}`);
  }
  if (typeof o.noiseMultiplier !== "number" || !Number.isFinite(o.noiseMultiplier) || !(o.noiseMultiplier >= 0)) {
    throw new PrivacyParameterError(`exampleDp.noiseMultiplier must be a finite number >= 0, got ${o.noiseMultiplier}`);
  }
  if (typeof o.expectedBatchSize !== "number" || !Number.isFinite(o.expectedBatchSize) || !(o.expectedBatchSize > 0)) {
    throw new PrivacyParameterError(`exampleDp.expectedBatchSize must be a finite number > 0, got ${o.expectedBatchSize}`);
  }
}

/** The Poisson sampling rate q = expectedBatchSize / N; throws when the batch exceeds the data. */
export function dpSgdSampleRate(expectedBatchSize: number, datasetSize: number): number {
  if (!Number.isInteger(datasetSize) || datasetSize < 1) throw new PrivacyParameterError(`datasetSize must be an integer >= 1, got ${datasetSize}`);
  if (!(expectedBatchSize > 0) || expectedBatchSize > datasetSize) {
    throw new PrivacyParameterError(`expectedBatchSize must be in (0, ${datasetSize}] for ${datasetSize} examples, got ${expectedBatchSize}`);
  }
  return expectedBatchSize / datasetSize;
}

/** Steps in one epoch: round(1 / q), at least 1 (each example is then used once per epoch in expectation). */
export function dpSgdStepsPerEpoch(expectedBatchSize: number, datasetSize: number): number {
  return Math.max(1, Math.round(1 / dpSgdSampleRate(expectedBatchSize, datasetSize)));
}

/**
 * Poisson sampling: the indices i in 0..n-1 for which an independent uniform draw is < q. The batch
 * size is Binomial(n, q) and may be 0; the step must still be taken (and noised) then.
 */
export function poissonSample(n: number, q: number, uniform: UniformSource): number[] {
  if (!(q >= 0 && q <= 1)) throw new PrivacyParameterError(`sample rate must be in [0, 1], got ${q}`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (uniform() < q) out.push(i);
  return out;
}

/**
 * Uniforms from node:crypto's CSPRNG (53-bit, 8192 per refill). Which examples a step samples must
 * stay secret for the amplification by subsampling to hold, so deployments use this source.
 */
export function secureUniformSource(): UniformSource {
  const words = new Uint32Array(2 * 8192);
  let next = words.length;
  return () => {
    if (next >= words.length) {
      randomFillSync(words);
      next = 0;
    }
    const a = words[next++] >>> 5;
    const b = words[next++] >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  };
}

/** Per-example clip factors min(1, C / ||g_i||) from squared norms (a zero gradient keeps factor 1). */
export function clipFactors(squaredNorms: Float32Array | Float64Array | readonly number[], clipNorm: number): Float32Array {
  const out = new Float32Array(squaredNorms.length);
  for (let i = 0; i < squaredNorms.length; i++) {
    const norm = Math.sqrt(squaredNorms[i]);
    if (!Number.isFinite(norm)) throw new PrivacyParameterError(`per-example gradient norm ${i} is not finite (${norm})`);
    out[i] = norm > clipNorm ? clipNorm / norm : 1;
  }
  return out;
}

/**
 * Noises and normalizes one tensor's sum of clipped per-example gradients in place:
 * g <- (g + N(0, (sigma C)^2)) / expectedBatchSize. Noise is drawn in float64 from `noise`.
 */
export function noiseClippedSum(sum: Float32Array, o: ExampleDpOptions, noise: GaussianSource, scratch?: Float64Array): void {
  const std = o.noiseMultiplier * o.clipNorm;
  const inv = 1 / o.expectedBatchSize;
  if (std === 0) {
    for (let k = 0; k < sum.length; k++) sum[k] *= inv;
    return;
  }
  const z = scratch && scratch.length >= sum.length ? scratch.subarray(0, sum.length) : new Float64Array(sum.length);
  noise.fillStandardNormal(z);
  for (let k = 0; k < sum.length; k++) sum[k] = (sum[k] + std * z[k]) * inv;
}

/** Epsilon at `delta` after `steps` DP-SGD steps at sample rate q and noise multiplier sigma. */
export function dpSgdEpsilon(
  o: { noiseMultiplier: number; sampleRate: number; steps: number; delta: number; conversion?: RdpConversion; orders?: readonly number[] },
): number {
  return RdpAccountant.epsilonAfter(o.steps, o.noiseMultiplier, o.sampleRate, o.delta, { conversion: o.conversion, orders: o.orders });
}

/** How many DP-SGD steps a peer takes over a whole task: rounds × local epochs × steps per epoch. */
export function dpSgdTotalSteps(o: { rounds: number; epochs: number; expectedBatchSize: number; datasetSize: number }): number {
  if (!Number.isInteger(o.rounds) || o.rounds < 0) throw new PrivacyParameterError(`rounds must be an integer >= 0, got ${o.rounds}`);
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new PrivacyParameterError(`epochs must be an integer >= 1, got ${o.epochs}`);
  return o.rounds * o.epochs * dpSgdStepsPerEpoch(o.expectedBatchSize, o.datasetSize);
}

/**
 * Calibration: the smallest noise multiplier for which a peer with `datasetSize` examples, running
 * `epochs` local epochs of DP-SGD at `expectedBatchSize` in each of `rounds` rounds, stays within
 * (targetEpsilon, delta) example-level DP over the whole task.
 */
export function dpSgdNoiseMultiplierFor(
  targetEpsilon: number,
  delta: number,
  o: { rounds: number; epochs: number; expectedBatchSize: number; datasetSize: number },
  search: NoiseSearchOptions = {},
): number {
  const steps = dpSgdTotalSteps(o);
  return noiseMultiplierFor(targetEpsilon, delta, steps, dpSgdSampleRate(o.expectedBatchSize, o.datasetSize), search);
}
