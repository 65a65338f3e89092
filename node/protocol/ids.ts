/**
 * The names of a round: roles, phases, robust rules, attacks, failure reasons. Ids appear on chain
 * only; everything above the chain boundary (CLIs, logs, the explorer) speaks names.
 */

import type { RuleUnitName } from "../aggregation/rules/index.ts";

/** Role bits a peer registers with (IFederatedTask: bit 0 trainer, bit 1 verifier, bit 2 aggregator). */
export const ROLE_BITS = { trainer: 1, verifier: 2, aggregator: 4 } as const;
export type RoleName = keyof typeof ROLE_BITS;
export const ROLE_NAMES = Object.keys(ROLE_BITS) as RoleName[];

export function roleBitsOf(roles: readonly RoleName[]): number {
  return roles.reduce((bits, r) => bits | ROLE_BITS[r], 0);
}

export function roleNamesOf(bits: number): RoleName[] {
  return ROLE_NAMES.filter((r) => (bits & ROLE_BITS[r]) !== 0);
}

/** IFederatedTask.Phase: each verdict and aggregate is committed, then revealed (docs/protocol.md). */
export const Phase = {
  None: 0, Training: 1, VerifyCommit: 2, VerifyReveal: 3, AggregateCommit: 4, AggregateReveal: 5, Finalized: 6, Failed: 7,
} as const;
export type PhaseValue = (typeof Phase)[keyof typeof Phase];

export function phaseName(p: number): string {
  return Object.keys(Phase).find((k) => Phase[k as keyof typeof Phase] === p) ?? `phase${p}`;
}

/** The robust rules a task may name (the rule units of node/aggregation/rules); the id is what TaskConfig.robustRule stores. */
export const RULE_ID_BY_NAME = {
  fedavg: 0,
  krum: 1,
  "multi-krum": 2,
  median: 3,
  "trimmed-mean": 4,
  "centered-clipping": 5,
  flame: 6,
  "validation-vote": 7,
  // FederatedTask accepts ids up to 8 (TaskSettings.MAX_ROBUST_RULE).
  "root-validation": 8,
} as const satisfies Record<RuleUnitName, number>;
export type RuleName = keyof typeof RULE_ID_BY_NAME;
export type RuleId = (typeof RULE_ID_BY_NAME)[RuleName];
export const RULE_NAMES = Object.keys(RULE_ID_BY_NAME) as RuleName[];

/** What the rule's on-chain uint16 parameter means, for help texts and the explorer. */
export const RULE_PARAM_MEANING: Record<RuleName, string> = {
  fedavg: "unused",
  krum: "f, the number of Byzantine updates tolerated",
  "multi-krum": "f, the number of Byzantine updates tolerated",
  median: "unused",
  "trimmed-mean": "beta, updates trimmed at each end per coordinate",
  "centered-clipping": "radius tau in milli-units (0 = automatic)",
  flame: "noise lambda in thousandths of the median norm (0 = no noise)",
  "validation-vote": "vote threshold rho in thousandths of the verifier's validation loss (0 = 20)",
  "root-validation": "threshold rho in thousandths of the loss on the task's public root set (0 = 10)",
};

export class UnknownNameError extends Error {
  override name = "UnknownNameError";
  constructor(readonly kind: string, readonly value: string | number, known: readonly string[]) {
    super(`unknown ${kind} ${JSON.stringify(value)}; known: ${known.join(", ")}`);
  }
}

const RULE_ALIASES: Record<string, RuleName> = {
  none: "fedavg", multikrum: "multi-krum", trimmedmean: "trimmed-mean", centeredclipping: "centered-clipping", cc: "centered-clipping",
  validationvote: "validation-vote", vote: "validation-vote", rootvalidation: "root-validation", root: "root-validation",
};

/** A rule name from user input (case-insensitive; a few aliases such as "cc" accepted). */
export function parseRuleName(input: string): RuleName {
  const s = input.trim().toLowerCase();
  if (s in RULE_ID_BY_NAME) return s as RuleName;
  if (s in RULE_ALIASES) return RULE_ALIASES[s];
  throw new UnknownNameError("robust rule", input, RULE_NAMES);
}

export function ruleIdOf(name: RuleName): RuleId {
  return RULE_ID_BY_NAME[name];
}

/** The rule an on-chain id names; throws UnknownNameError for ids no rule has. */
export function ruleNameOf(id: number): RuleName {
  const hit = RULE_NAMES.find((n) => RULE_ID_BY_NAME[n] === id);
  if (!hit) throw new UnknownNameError("robust rule id", id, RULE_NAMES.map((n) => `${RULE_ID_BY_NAME[n]} ${n}`));
  return hit;
}

/** Why a round failed, as the agents and the explorer report it. */
export const FAILURE_REASONS = {
  tooFewTrainers: "fewer commits than minTrainers when training closed",
  nothingAccepted: "no verdict was committed, or the verifier committee's majority accepted no update",
  noQuorum: "no aggregate CID reached the aggregator committee's quorum before the deadline",
  acceptedUpdateUnavailable: "an accepted update could not be fetched from any provider before the deadline",
} as const;
export type FailureReason = keyof typeof FAILURE_REASONS;

/** The contract's RoundFailed reason codes (FederatedTask FAIL_*). */
export const FAILURE_REASON_BY_CODE: Record<number, FailureReason> = { 1: "tooFewTrainers", 2: "nothingAccepted", 3: "noQuorum" };

export function failureReasonText(code: number): string {
  const reason = FAILURE_REASON_BY_CODE[code];
  return reason ? FAILURE_REASONS[reason] : `reason ${code}`;
}

/** Why a peer's reputation changed (ReputationChanged.reason). */
export const REPUTATION_REASONS = [
  "update accepted", "update rejected", "verdict agreed with the final mask", "verdict disagreed with the final mask",
  "verdict not revealed", "aggregate was the finalized one", "aggregate differed from the finalized one",
  "aggregate not revealed", "challenge upheld against its aggregate",
] as const;

export function reputationReasonText(code: number): string {
  return REPUTATION_REASONS[code] ?? `reason ${code}`;
}

/** PeerBanned.reason */
export const BAN_REASONS = ["banned by the initiator", "reputation below the threshold", "challenge upheld"] as const;

/** TaskConfig.admissionMode */
export const ADMISSION_MODES = ["allow-list", "bond"] as const;
export type AdmissionMode = (typeof ADMISSION_MODES)[number];

/** Why a verifier rejects one update; `rejected-by-rule` covers the robust rule's own verdict. */
export type RejectionCode =
  | "unavailable" | "bad-encoding" | "wrong-length" | "non-finite" | "norm-too-large" | "norm-too-small" | "near-copy" | "rejected-by-rule";
