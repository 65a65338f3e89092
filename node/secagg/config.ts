/**
 * The private-mode parameters of a task, as the SecureAggregation side contract stores them, in
 * natural units, plus the checks that make the integer arithmetic correct: the sum of all peers'
 * clipped, quantized updates (and their noise) must fit in a signed 32-bit integer, so that the
 * sum mod 2^32 decodes to the true sum.
 */
import { SecAggConfigError } from "./errors.ts";

/** Most trainers a round can have (the task's commit bitmap is 256 bits). */
export const MAX_PARTICIPANTS = 256;

export interface SecAggConfig {
  /** Each coordinate of the sample-weighted delta (numSamples × delta) is clipped to [-range, range]. */
  range: number;
  /** Fixed point: a value v is encoded as round(v × 2^scaleBits). */
  scaleBits: number;
  /** SecAgg+ neighbourhood size k (even): a ring with k/2 neighbours each side; complete graph when n-1 <= k. */
  neighbours: number;
  /** Shamir threshold t: any t of a peer's neighbours reconstruct its secrets, t-1 learn nothing. */
  threshold: number;
  /**
   * Distributed DP: standard deviation of the total noise on the SUM of weighted deltas, in the
   * same units as `range` (0 = no noise). Each peer adds a 1/noisePeers share of the variance as
   * Skellam noise (node/privacy/skellam.ts), so noisePeers committed updates carry the full noise.
   */
  noiseStd: number;
  /** Distributed DP: L2 clip of each peer's sample-weighted delta (0 = none; required with noise). */
  clipL2?: number;
  /** Distributed DP: n_min, the committed peers whose shares make the full noise (1..256 with noise, else 0). */
  noisePeers?: number;
}

/** On-chain representation (SecureAggregation.Config): integers only. */
export interface RawSecAggConfig {
  rangeMilli: bigint | number;
  scaleBits: bigint | number;
  neighbours: bigint | number;
  threshold: bigint | number;
  noiseStdMilli: bigint | number;
  clipL2Milli?: bigint | number;
  noisePeers?: bigint | number;
}

export function decodeSecAggConfig(raw: RawSecAggConfig): SecAggConfig {
  return validateSecAggConfig({
    range: Number(raw.rangeMilli) / 1000,
    scaleBits: Number(raw.scaleBits),
    neighbours: Number(raw.neighbours),
    threshold: Number(raw.threshold),
    noiseStd: Number(raw.noiseStdMilli) / 1000,
    clipL2: Number(raw.clipL2Milli ?? 0) / 1000,
    noisePeers: Number(raw.noisePeers ?? 0),
  });
}

export function encodeSecAggConfig(c: SecAggConfig): { rangeMilli: number; scaleBits: number; neighbours: number; threshold: number; noiseStdMilli: number; clipL2Milli: number; noisePeers: number } {
  validateSecAggConfig(c);
  return {
    rangeMilli: Math.round(c.range * 1000), scaleBits: c.scaleBits, neighbours: c.neighbours, threshold: c.threshold, noiseStdMilli: Math.round(c.noiseStd * 1000),
    clipL2Milli: Math.round((c.clipL2 ?? 0) * 1000), noisePeers: c.noisePeers ?? 0,
  };
}

/** Whether the config asks for distributed DP noise. */
export const hasDistributedNoise = (c: SecAggConfig): boolean => c.noiseStd > 0;

/**
 * Worst-case magnitude of one coordinate of the sum, in quantized units: every participant at
 * ±range, plus 8 standard deviations of the noise of `participants` peers each adding 1/noisePeers
 * of the variance. Must stay below 2^31.
 */
export function worstCaseSum(c: SecAggConfig, participants = MAX_PARTICIPANTS): number {
  const noise = c.noiseStd > 0 ? 8 * c.noiseStd * Math.sqrt(participants / Math.max(1, c.noisePeers ?? 1)) : 0;
  return (participants * c.range + noise) * 2 ** c.scaleBits + participants;
}

export function validateSecAggConfig(c: SecAggConfig): SecAggConfig {
  if (!(Number.isFinite(c.range) && c.range > 0)) throw new SecAggConfigError(`range must be > 0, got ${c.range}`);
  if (!(Number.isInteger(c.scaleBits) && c.scaleBits >= 0 && c.scaleBits <= 24)) throw new SecAggConfigError(`scaleBits must be an integer in [0, 24], got ${c.scaleBits}`);
  if (!(Number.isInteger(c.neighbours) && c.neighbours >= 2 && c.neighbours % 2 === 0)) throw new SecAggConfigError(`neighbours (k) must be an even integer >= 2, got ${c.neighbours}`);
  if (!(Number.isInteger(c.threshold) && c.threshold >= 1 && c.threshold <= c.neighbours)) throw new SecAggConfigError(`threshold (t) must be an integer in [1, k=${c.neighbours}], got ${c.threshold}`);
  if (!(Number.isFinite(c.noiseStd) && c.noiseStd >= 0)) throw new SecAggConfigError(`noiseStd must be >= 0, got ${c.noiseStd}`);
  const clip = c.clipL2 ?? 0, np = c.noisePeers ?? 0;
  if (!(Number.isFinite(clip) && clip >= 0)) throw new SecAggConfigError(`clipL2 must be >= 0, got ${clip}`);
  if (c.noiseStd > 0 && !(clip > 0)) throw new SecAggConfigError(`distributed DP noise needs an L2 clip (clipL2 > 0): the clip is the sensitivity the noise is calibrated to`);
  if (c.noiseStd > 0 ? !(Number.isInteger(np) && np >= 1 && np <= MAX_PARTICIPANTS) : np !== 0) {
    throw new SecAggConfigError(`noisePeers must be an integer in 1..${MAX_PARTICIPANTS} with noise on, 0 without; got ${np}`);
  }
  const worst = worstCaseSum(c);
  if (worst >= 2 ** 31) {
    throw new SecAggConfigError(`range ${c.range} × 2^${c.scaleBits} × ${MAX_PARTICIPANTS} peers (+ noise) = ${worst.toExponential(3)} overflows a signed 32-bit sum: lower scaleBits or range`);
  }
  return c;
}
