// Bridges the on-chain DP fields of TaskConfig (contracts/interfaces/IFederatedTask.sol) and the
// accountant. Each peer commits at most once per round, so "epsilon after r rounds at q = 1" bounds
// every peer's loss after round r; that is what aggregators record as cumulativeEpsilonMilli.
import { RdpAccountant, roundsWithinBudget } from "./accountant.ts";
import { PrivacyParameterError } from "./errors.ts";
import { assertDpParameters } from "./gaussian.ts";

/** The four DP fields of TaskConfig as they come from the chain (ethers returns bigint). */
export interface OnChainDpFields {
  dpClipNormMilli: number | bigint;
  dpNoiseMultiplierMilli: number | bigint;
  dpDeltaExponent: number | bigint;
  dpEpsilonBudgetMilli: number | bigint;
}

/** DP configuration in plain units. */
export interface DpConfig {
  /** L2 clip norm C of each update. */
  clipNorm: number;
  /** Noise standard deviation / C (sigma). 0 = clipping only, no privacy guarantee. */
  noiseMultiplier: number;
  /** delta of the (epsilon, delta) guarantee. */
  delta: number;
  /** Total epsilon a peer may spend; Infinity when the task sets no budget. */
  epsilonBudget: number;
}

const UINT32_MAX = 4294967295;

function toUint32(name: string, v: number | bigint): number {
  const n = typeof v === "bigint" ? Number(v) : v;
  if (!Number.isInteger(n) || n < 0 || n > UINT32_MAX) {
    throw new PrivacyParameterError(`${name} must be a uint32, got ${String(v)}`);
  }
  return n;
}

/** Decodes TaskConfig's DP fields; `null` when DP is off (dpClipNormMilli == 0). */
export function dpConfigFromTask(fields: OnChainDpFields): DpConfig | null {
  const clipMilli = toUint32("dpClipNormMilli", fields.dpClipNormMilli);
  if (clipMilli === 0) return null;
  const noiseMilli = toUint32("dpNoiseMultiplierMilli", fields.dpNoiseMultiplierMilli);
  const deltaExp = toUint32("dpDeltaExponent", fields.dpDeltaExponent);
  const budgetMilli = toUint32("dpEpsilonBudgetMilli", fields.dpEpsilonBudgetMilli);
  if (deltaExp < 1 || deltaExp > 300) {
    throw new PrivacyParameterError(`dpDeltaExponent must be in 1..300 when DP is on (delta = 10^-exp), got ${deltaExp}`);
  }
  return {
    clipNorm: clipMilli / 1000,
    noiseMultiplier: noiseMilli / 1000,
    delta: Number(`1e-${deltaExp}`), // parsed, so 1e-5 is exactly the literal 1e-5
    epsilonBudget: budgetMilli === 0 ? Infinity : budgetMilli / 1000,
  };
}

/** Encodes a DP configuration into TaskConfig's fields (rounds C and sigma to milli-units, budget down). */
export function dpFieldsFromConfig(config: DpConfig): {
  dpClipNormMilli: number;
  dpNoiseMultiplierMilli: number;
  dpDeltaExponent: number;
  dpEpsilonBudgetMilli: number;
} {
  assertDpParameters(config.clipNorm, config.noiseMultiplier);
  const exp = Math.round(-Math.log10(config.delta));
  if (!(exp >= 1 && exp <= 300) || Math.abs(Number(`1e-${exp}`) - config.delta) > 1e-9 * config.delta) {
    throw new PrivacyParameterError(`delta must be 10^-k for an integer k >= 1 to fit on chain, got ${config.delta}`);
  }
  const budget = config.epsilonBudget;
  if (!(budget > 0)) throw new PrivacyParameterError(`epsilonBudget must be > 0 or Infinity, got ${budget}`);
  const fields = {
    dpClipNormMilli: Math.round(config.clipNorm * 1000),
    dpNoiseMultiplierMilli: Math.round(config.noiseMultiplier * 1000),
    dpDeltaExponent: exp,
    dpEpsilonBudgetMilli: budget === Infinity ? 0 : Math.floor(budget * 1000),
  };
  for (const [k, v] of Object.entries(fields)) toUint32(k, v);
  if (fields.dpClipNormMilli === 0) throw new PrivacyParameterError(`clipNorm ${config.clipNorm} rounds to 0 milli-units`);
  if (budget !== Infinity && fields.dpEpsilonBudgetMilli === 0) {
    throw new PrivacyParameterError(`epsilonBudget ${budget} rounds to 0 milli-units (0 means "no budget" on chain)`);
  }
  return fields;
}

/**
 * Epsilon after `rounds` rounds (every peer at most one commit per round), in milli-units rounded up,
 * saturating at uint32 max (also the encoding of "unbounded", e.g. sigma = 0). Pure float64 math
 * on V8's fdlibm-derived Math, so every aggregator computes the same value.
 */
export function cumulativeEpsilonMilli(rounds: number, config: DpConfig): number {
  if (!Number.isInteger(rounds) || rounds < 0) throw new PrivacyParameterError(`rounds must be an integer >= 0, got ${rounds}`);
  if (rounds === 0) return 0;
  const eps = RdpAccountant.epsilonAfter(rounds, config.noiseMultiplier, 1, config.delta);
  if (!Number.isFinite(eps)) return UINT32_MAX;
  return Math.min(UINT32_MAX, Math.ceil(eps * 1000 - 1e-9));
}

/** How many rounds a peer may commit in before the task's epsilon budget would be exceeded. */
export function maxCommitsWithinBudget(config: DpConfig): number {
  return roundsWithinBudget(config.epsilonBudget, config.delta, config.noiseMultiplier, 1);
}
