// The privacy ledger's rules in plain TypeScript (contracts/PrivacyLedger.sol holds the record):
// decoding the task's DP unit and parameters, each trainer's example-level epsilon from its own
// commits, the budget test a trainer runs before a round, and the audit of reported epsilons.
// Pure (no chain, no tfjs): the trainer, the explorer and `peerfl audit` all call these, so a
// report is recomputed exactly as it was made.
//
// Example-level accounting: in a round where a peer commits numSamples = N, it ran `localEpochs`
// epochs of max(1, round(N / B)) Poisson-sampled DP-SGD steps at q = B / N and noise multiplier
// sigma. Steps compose in RDP (per order, RDP adds up), with different q in different rounds when
// N changes; epsilon at delta is then the Balle et al. 2020 conversion, minimised over orders.
//
// Distributed accounting (unit 3, private tasks): each round a peer committed in is one Skellam
// mechanism on the secure sum, with min(committed peers of that round, noisePeers) noise shares
// (node/privacy/skellam.ts); rounds compose in RDP over the integer orders, same conversion.
import { DEFAULT_ORDERS, computeRdp, rdpToEpsilon } from "./accountant.ts";
import { distributedEpsilon, type DistributedDpParams } from "./skellam.ts";
import { dpSgdSampleRate, dpSgdStepsPerEpoch } from "./dpsgd.ts";
import { PrivacyParameterError } from "./errors.ts";

export const UNIT_PEER = 1;
export const UNIT_EXAMPLE = 2;
export const UNIT_DISTRIBUTED = 3;
export type PrivacyUnit = "peer" | "example" | "distributed";
/** The mechanism each unit's noise comes from (named on the explorer and in the audit). */
export const MECHANISM: Record<PrivacyUnit, string> = {
  peer: "Gaussian on each update (DP-FedAvg)",
  example: "subsampled Gaussian (DP-SGD)",
  distributed: "Skellam shares summed under secure aggregation",
};

/** The ledger's Params as ethers returns them (bigint or number fields). */
export interface RawLedgerParams {
  unit: number | bigint;
  clipNormMilli: number | bigint;
  noiseMultiplierMilli: number | bigint;
  expectedBatchSize: number | bigint;
  localEpochs: number | bigint;
  deltaExponent: number | bigint;
  epsilonBudgetMilli: number | bigint;
  noisePeers?: number | bigint;
  scaleBits?: number | bigint;
}

/** The task's privacy parameters in natural units. */
export interface LedgerParams {
  unit: PrivacyUnit;
  /** Clip norm C; null when the task leaves it to each peer (example unit: C does not enter epsilon). */
  clipNorm: number | null;
  noiseMultiplier: number;
  /** Example unit: expected batch size B (q = B / N). 0 for the peer unit. */
  expectedBatchSize: number;
  /** Example unit: local epochs per round. 0 for the peer unit. */
  localEpochs: number;
  delta: number;
  /** Per-peer epsilon budget over the task; Infinity when none. */
  epsilonBudget: number;
  /** Distributed unit: n_min, the committed peers whose Skellam shares make the full noise (0 otherwise). */
  noisePeers?: number;
  /** Distributed unit: fixed-point bits of the secure sum (0 otherwise). */
  scaleBits?: number;
}

/** Decodes the ledger's params; null when the ledger is not configured (unit 0). */
export function decodeLedgerParams(raw: RawLedgerParams): LedgerParams | null {
  const n = (k: keyof RawLedgerParams): number => Number(raw[k] ?? 0);
  if (n("unit") === 0) return null;
  if (n("unit") !== UNIT_PEER && n("unit") !== UNIT_EXAMPLE && n("unit") !== UNIT_DISTRIBUTED) throw new PrivacyParameterError(`unknown privacy unit ${n("unit")}`);
  return {
    unit: n("unit") === UNIT_PEER ? "peer" : n("unit") === UNIT_EXAMPLE ? "example" : "distributed",
    ...(n("unit") === UNIT_DISTRIBUTED ? { noisePeers: n("noisePeers"), scaleBits: n("scaleBits") } : {}),
    clipNorm: n("clipNormMilli") === 0 ? null : n("clipNormMilli") / 1000,
    noiseMultiplier: n("noiseMultiplierMilli") / 1000,
    expectedBatchSize: n("expectedBatchSize"),
    localEpochs: n("localEpochs"),
    delta: Number(`1e-${n("deltaExponent")}`),
    epsilonBudget: n("epsilonBudgetMilli") === 0 ? Infinity : n("epsilonBudgetMilli") / 1000,
  };
}

/** Encodes natural-unit parameters into the ledger's Params (milli-units; throws what the contract would refuse). */
export function encodeLedgerParams(p: LedgerParams): RawLedgerParams & Record<string, number> {
  const exp = Math.round(-Math.log10(p.delta));
  if (!(exp >= 1 && exp <= 30) || Math.abs(Number(`1e-${exp}`) - p.delta) > 1e-9 * p.delta) {
    throw new PrivacyParameterError(`delta must be 10^-k for an integer k in 1..30, got ${p.delta}`);
  }
  if (!(p.noiseMultiplier > 0) || !Number.isFinite(p.noiseMultiplier)) throw new PrivacyParameterError(`noiseMultiplier must be > 0, got ${p.noiseMultiplier}`);
  if (p.unit === "example" && (!Number.isInteger(p.expectedBatchSize) || p.expectedBatchSize < 1)) throw new PrivacyParameterError(`expectedBatchSize must be an integer >= 1, got ${p.expectedBatchSize}`);
  if (p.unit === "example" && (!Number.isInteger(p.localEpochs) || p.localEpochs < 1 || p.localEpochs > 65535)) throw new PrivacyParameterError(`localEpochs must be an integer in 1..65535, got ${p.localEpochs}`);
  if (!(p.epsilonBudget > 0)) throw new PrivacyParameterError(`epsilonBudget must be > 0 or Infinity, got ${p.epsilonBudget}`);
  const budgetMilli = p.epsilonBudget === Infinity ? 0 : Math.floor(p.epsilonBudget * 1000);
  if (p.epsilonBudget !== Infinity && budgetMilli === 0) throw new PrivacyParameterError(`epsilonBudget ${p.epsilonBudget} rounds to 0 milli-units (0 means "no budget")`);
  if (p.unit === "distributed") distributedParams(p);
  return {
    unit: p.unit === "peer" ? UNIT_PEER : p.unit === "example" ? UNIT_EXAMPLE : UNIT_DISTRIBUTED,
    noisePeers: p.unit === "distributed" ? p.noisePeers! : 0,
    scaleBits: p.unit === "distributed" ? p.scaleBits! : 0,
    clipNormMilli: p.clipNorm === null ? 0 : Math.round(p.clipNorm * 1000),
    noiseMultiplierMilli: Math.round(p.noiseMultiplier * 1000),
    expectedBatchSize: p.unit === "example" ? p.expectedBatchSize : 0,
    localEpochs: p.unit === "example" ? p.localEpochs : 0,
    deltaExponent: exp,
    epsilonBudgetMilli: budgetMilli,
  };
}

/** The Skellam accounting parameters of a distributed-unit ledger (throws when they are incomplete). */
export function distributedParams(p: LedgerParams): DistributedDpParams {
  if (p.unit !== "distributed") throw new PrivacyParameterError(`distributed accounting needs the distributed unit, got ${p.unit}`);
  if (!(p.clipNorm !== null && p.clipNorm > 0)) throw new PrivacyParameterError(`the distributed unit needs an L2 clip norm > 0`);
  if (!(Number.isInteger(p.noisePeers) && p.noisePeers! >= 1 && p.noisePeers! <= 256)) throw new PrivacyParameterError(`noisePeers must be an integer in 1..256, got ${p.noisePeers}`);
  if (!(Number.isInteger(p.scaleBits) && p.scaleBits! >= 0 && p.scaleBits! <= 24)) throw new PrivacyParameterError(`scaleBits must be an integer in 0..24, got ${p.scaleBits}`);
  return { clipNorm: p.clipNorm, noiseMultiplier: p.noiseMultiplier, noisePeers: p.noisePeers!, scaleBits: p.scaleBits!, delta: p.delta };
}

/** DP-SGD steps a peer with `numSamples` training examples takes in one round. */
export function exampleStepsPerRound(p: LedgerParams, numSamples: number): number {
  return p.localEpochs * dpSgdStepsPerEpoch(p.expectedBatchSize, numSamples);
}

/**
 * Example-level epsilon of a peer after the rounds it committed in, given each commit's numSamples
 * (in any order: composition commutes). Throws PrivacyParameterError when a commit's numSamples is
 * below the batch size (q > 1: no DP-SGD run matches it).
 */
export function exampleEpsilon(p: LedgerParams, committedSamples: readonly number[]): number {
  if (p.unit !== "example") throw new PrivacyParameterError(`exampleEpsilon needs the example unit, got ${p.unit}`);
  if (committedSamples.length === 0) return 0;
  const total = new Array<number>(DEFAULT_ORDERS.length).fill(0);
  // Rounds with the same N share one RDP curve.
  const counts = new Map<number, number>();
  for (const n of committedSamples) counts.set(n, (counts.get(n) ?? 0) + 1);
  for (const [n, rounds] of counts) {
    const rdp = computeRdp(dpSgdSampleRate(p.expectedBatchSize, n), p.noiseMultiplier, rounds * exampleStepsPerRound(p, n), DEFAULT_ORDERS);
    for (let i = 0; i < total.length; i++) total[i] += rdp[i];
  }
  return rdpToEpsilon(DEFAULT_ORDERS, total, p.delta).epsilon;
}

/** Epsilon in the ledger's milli-units, rounded up (never below the true value), at least 1. */
export function epsilonToMilli(epsilon: number): number {
  if (!(epsilon >= 0)) throw new PrivacyParameterError(`epsilon must be >= 0, got ${epsilon}`);
  if (!Number.isFinite(epsilon)) return 4294967295;
  return Math.min(4294967295, Math.max(1, Math.ceil(epsilon * 1000 - 1e-9)));
}

/** What a trainer decides before training a round: its epsilon after it, and whether that fits the budget. */
export interface NextRoundPlan {
  /** Cumulative epsilon after committing this round (exact, and in milli-units as it would report it). */
  epsilonAfter: number;
  epsilonAfterMilli: number;
  withinBudget: boolean;
  budget: number;
}

/** The budget test a trainer runs BEFORE training: its previous commits' numSamples plus this round's. */
export function planNextRound(p: LedgerParams, previousSamples: readonly number[], numSamples: number): NextRoundPlan {
  const epsilonAfter = exampleEpsilon(p, [...previousSamples, numSamples]);
  const epsilonAfterMilli = epsilonToMilli(epsilonAfter);
  const budgetMilli = p.epsilonBudget === Infinity ? Infinity : Math.floor(p.epsilonBudget * 1000);
  return { epsilonAfter, epsilonAfterMilli, withinBudget: epsilonAfterMilli <= budgetMilli, budget: p.epsilonBudget };
}

/** One of a peer's commits and what it reported for that round. */
export interface PeerRoundRecord {
  round: number;
  numSamples: number;
  /** Distributed unit: how many peers committed in that round (their noise shares are in the sum). */
  roundCommits?: number;
  /** Reported epsilon * 1000, or null when the peer did not report for this round. */
  reportedMilli: number | null;
}

export type EpsilonCheck = "ok" | "missing" | "under-reported" | "over-budget" | "invalid-samples";

export interface EpsilonAuditRow extends PeerRoundRecord {
  /** What the task parameters and the peer's commits up to this round give (milli, rounded up); null when not computable. */
  expectedMilli: number | null;
  status: EpsilonCheck;
}

/**
 * Audits one peer's reports: for each round it committed in (ascending), the epsilon the task's
 * parameters give for its commits so far, against what it reported. A report may be higher than
 * expected (a peer may account more conservatively, e.g. a larger N it did not claim), never lower:
 * "under-reported" means the peer claimed less privacy loss than the task's sigma allows (a smaller
 * sigma, fewer steps, or a wrong N). "missing" means it committed and did not report; "over-budget"
 * that the expected epsilon exceeds the budget (it should have stopped committing).
 */
export function auditPeerEpsilon(p: LedgerParams, records: readonly PeerRoundRecord[]): EpsilonAuditRow[] {
  const sorted = [...records].sort((a, b) => a.round - b.round);
  const samples: number[] = [];
  const budgetMilli = p.epsilonBudget === Infinity ? Infinity : Math.floor(p.epsilonBudget * 1000);
  if (p.unit === "distributed") {
    const dp = distributedParams(p);
    const commits: number[] = [];
    return sorted.map((r) => {
      if (!(Number.isInteger(r.roundCommits) && r.roundCommits! >= 1)) return { ...r, expectedMilli: null, status: "invalid-samples" as const };
      commits.push(r.roundCommits!);
      const expectedMilli = epsilonToMilli(distributedEpsilon(dp, commits));
      let status: EpsilonCheck = "ok";
      if (expectedMilli > budgetMilli) status = "over-budget";
      else if (r.reportedMilli === null) status = "missing";
      else if (r.reportedMilli < expectedMilli) status = "under-reported";
      return { ...r, expectedMilli, status };
    });
  }
  return sorted.map((r) => {
    if (!Number.isInteger(r.numSamples) || r.numSamples < p.expectedBatchSize) {
      return { ...r, expectedMilli: null, status: "invalid-samples" as const };
    }
    samples.push(r.numSamples);
    const expectedMilli = epsilonToMilli(exampleEpsilon(p, samples));
    let status: EpsilonCheck = "ok";
    if (expectedMilli > budgetMilli) status = "over-budget";
    else if (r.reportedMilli === null) status = "missing";
    else if (r.reportedMilli < expectedMilli) status = "under-reported";
    return { ...r, expectedMilli, status };
  });
}
