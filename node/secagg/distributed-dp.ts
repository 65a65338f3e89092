/**
 * Distributed DP in private rounds (docs/secure-aggregation.md, "Distributed DP"): what a trainer
 * does to its sample-weighted delta when the SecureAggregation config sets noise, and how the
 * private task's PrivacyLedger (distributed unit) must match that config.
 *
 * A trainer (1) clips its weighted delta to L2 norm C minus the rounding slack, (2) quantizes it
 * (per-coordinate range clip + rounding, node/secagg/quantize.ts), whose L2 norm is then <= C·2^s,
 * (3) adds Skellam noise Sk(λ) with λ = (σ·2^s)² / (2·n_min) to every coordinate in Z_(2^32)
 * (node/privacy/skellam.ts, CSPRNG), and only then masks it. The secure sum of >= n_min such
 * updates carries Sk of variance >= (σ·2^s)²: the full noise of the Skellam mechanism at
 * z = σ / C. Pure except for the CSPRNG.
 */
import { epsilonToMilli, type LedgerParams, distributedParams } from "../privacy/ledger.ts";
import { addSkellamNoise, distributedEpsilon, preRoundingClip, type DistributedDpParams } from "../privacy/skellam.ts";
import type { SecAggConfig } from "./config.ts";
import { quantize, type Quantized } from "./quantize.ts";

/** The Skellam parameters a config asks for; null when it has no noise. delta is the ledger's (NaN here). */
export function noiseParamsOf(c: SecAggConfig): Omit<DistributedDpParams, "delta"> | null {
  if (!(c.noiseStd > 0)) return null;
  const clip = c.clipL2 ?? 0;
  return { clipNorm: clip, noiseMultiplier: c.noiseStd / clip, noisePeers: c.noisePeers ?? 0, scaleBits: c.scaleBits };
}

/** Scales `v` in place so that its L2 norm is at most `bound`; returns the norm before. */
export function clipL2InPlace(v: Float64Array, bound: number): number {
  let sq = 0;
  for (let i = 0; i < v.length; i++) sq += v[i] * v[i];
  const norm = Math.sqrt(sq);
  if (norm > bound) {
    const f = bound / norm;
    for (let i = 0; i < v.length; i++) v[i] *= f;
  }
  return norm;
}

export interface PrivatizedForSum extends Quantized {
  /** L2 norm of the weighted delta before the clip. */
  normBefore: number;
  /** Whether the L2 clip scaled it down. */
  l2Clipped: boolean;
  /** λ of the Skellam noise added per coordinate (0 without noise). */
  lambda: number;
}

/**
 * The words a trainer masks: its weighted delta L2-clipped (when the config has a clip), quantized,
 * and noised with its Skellam share (when the config has noise). `weighted` is modified in place.
 */
export function privatizeForSum(weighted: Float64Array, c: SecAggConfig): PrivatizedForSum {
  const np = noiseParamsOf(c);
  const clip = c.clipL2 ?? 0;
  let normBefore = NaN, l2Clipped = false;
  if (clip > 0) {
    const bound = preRoundingClip({ clipNorm: clip, scaleBits: c.scaleBits }, weighted.length);
    normBefore = clipL2InPlace(weighted, bound);
    l2Clipped = normBefore > bound;
  }
  const q = quantize(weighted, c);
  let lambda = 0;
  if (np) {
    const sigma = np.noiseMultiplier * np.clipNorm * 2 ** np.scaleBits;
    lambda = (sigma * sigma) / (2 * np.noisePeers);
    addSkellamNoise(q.values, lambda);
  }
  return { ...q, normBefore, l2Clipped, lambda };
}

/**
 * Why the ledger's distributed-unit parameters do not describe this config's noise (null when they
 * do): same clip, same n_min, same scale, and at least the ledger's σ = z·C of noise (milli-unit
 * rounding tolerated). A private task with noise and a ledger of another unit is also a mismatch.
 */
export function ledgerMismatch(c: SecAggConfig, p: LedgerParams): string | null {
  const np = noiseParamsOf(c);
  if (p.unit !== "distributed") return np ? `the privacy ledger's unit is ${p.unit}, but the private task adds distributed noise (unit 3 expected)` : null;
  if (!np) return `the privacy ledger accounts distributed DP, but the SecureAggregation config has no noise`;
  const d = distributedParams(p);
  if (Math.abs(d.clipNorm - np.clipNorm) > 1e-9 * np.clipNorm) return `clip: ledger ${d.clipNorm}, secagg ${np.clipNorm}`;
  if (d.noisePeers !== np.noisePeers) return `noisePeers: ledger ${d.noisePeers}, secagg ${np.noisePeers}`;
  if (d.scaleBits !== np.scaleBits) return `scaleBits: ledger ${d.scaleBits}, secagg ${np.scaleBits}`;
  if (c.noiseStd < d.noiseMultiplier * d.clipNorm - 0.0005 - 1e-9 * c.noiseStd) return `noise: secagg sigma ${c.noiseStd} < ledger z·C = ${d.noiseMultiplier * d.clipNorm}`;
  return null;
}

/** A peer's cumulative epsilon (and milli-units) after its private rounds, given each round's committed count. */
export function distributedEpsilonAfter(p: LedgerParams, committedPerRound: readonly number[]): { epsilon: number; milli: number } {
  const epsilon = distributedEpsilon(distributedParams(p), committedPerRound);
  return { epsilon, milli: epsilonToMilli(epsilon) };
}
